import { availableParallelism } from 'node:os';
import { AllocbenchError } from '../errors.js';

/**
 * Numeric command-line options, checked once where they enter (yargs `coerce`), so the code below
 * never sees NaN, 1.5 workers or a timer that overflows. Options are read as strings: yargs'
 * `type: 'number'` turns "abc" into NaN and "1e400" into Infinity before anyone can say which
 * text was wrong. Each range is stated in the option's --help text.
 */

/** Node's timers hold a signed 32-bit millisecond count; longer delays fire at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** --cell-timeout in seconds: at most Node's timer limit. */
export const MAX_CELL_TIMEOUT_S = Math.floor(MAX_TIMER_MS / 1000);
/** Worker threads beyond a few per core only add memory (each holds a machine) and contention. */
export const WORKERS_PER_CORE = 4;
export const maxWorkers = (): number => WORKERS_PER_CORE * availableParallelism();

function single(v: unknown, name: string): unknown {
  if (Array.isArray(v)) {
    if (v.length === 1) return v[0];
    throw new AllocbenchError(`${name} given ${v.length} times: give it once`);
  }
  return v;
}

/** An integer in [lo, hi] from an option's text (decimal digits, optional leading minus for a clearer message). */
export function parseIntIn(value: unknown, name: string, lo: number, hi: number): number {
  const v = single(value, name);
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < lo || n > hi) {
    throw new AllocbenchError(`${name} ${JSON.stringify(typeof v === 'string' ? v : String(v))}: expected an integer from ${lo} to ${hi}`);
  }
  return n;
}

/** A decimal number in [lo, hi] (e.g. seconds). */
export function parseNumberIn(value: unknown, name: string, lo: number, hi: number): number {
  const v = single(value, name);
  const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  const n = /^-?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < lo || n > hi) {
    throw new AllocbenchError(`${name} ${JSON.stringify(typeof v === 'string' ? v : String(v))}: expected a number from ${lo} to ${hi}`);
  }
  return n;
}

/** A yargs `coerce` for an integer option (undefined stays undefined: the option was not given). */
export function intOption(name: string, lo: number, hi: number | (() => number)) {
  return (v: unknown): number => parseIntIn(v, name, lo, typeof hi === 'function' ? hi() : hi);
}

export function numberOption(name: string, lo: number, hi: number) {
  return (v: unknown): number => parseNumberIn(v, name, lo, hi);
}

/** `--shard K/N`: 1 <= K <= N <= 1,000,000 (more shards than that is a typo; the runner refuses an empty shard). */
export const MAX_SHARDS = 1_000_000;
export function parseShard(s: unknown): { k: number; n: number } {
  const v = String(single(s, '--shard'));
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v);
  const k = Number(m?.[1]), n = Number(m?.[2]);
  if (!m || !(n >= 1 && n <= MAX_SHARDS) || k < 1 || k > n) throw new AllocbenchError(`--shard ${v}: expected K/N with 1 <= K <= N <= ${MAX_SHARDS}, e.g. 1/2`);
  return { k, n };
}
