import fc from 'fast-check';
import yargs, { type Argv } from 'yargs';
import { describe, expect, it } from 'vitest';
import { AllocbenchError } from '../src/errors.js';
import { matrixOptions } from '../src/cli/run.js';
import { MAX_CELL_TIMEOUT_S, MAX_SHARDS, maxWorkers } from '../src/cli/validate.js';
import { genCommand } from '../src/cli/gen.js';
import { microCommand } from '../src/cli/micro.js';
import { slabinfoCommand } from '../src/cli/slabinfo.js';

/**
 * Issue 18 item 5: generated command-line values for every numeric option, parsed by yargs with
 * the options as the commands declare them. Each value is either refused with a user error naming
 * the option (exit 2 through the top-level handler) or accepted as an integer (a number where
 * seconds are meant) inside the range --help states. Never NaN, never a fraction of a worker.
 */
type Range = { name: string; key: string; lo: number; hi: number; int: boolean };
const RANGES: Range[] = [
  { name: '--workers', key: 'workers', lo: 0, hi: maxWorkers(), int: true },
  { name: '--cell-timeout', key: 'cellTimeout', lo: 0, hi: MAX_CELL_TIMEOUT_S, int: false },
  { name: '--sample-every', key: 'sampleEvery', lo: 0, hi: 2 ** 31 - 1, int: true },
];

/** Text a user might type for a number: digits, signs, fractions, exponents, hex, huge, junk. */
const numberText = fc.oneof(
  fc.integer({ min: -10, max: 10 }).map(String),
  fc.integer().map(String),
  fc.double({ noNaN: false }).map(String),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
  fc.constantFrom('', ' ', 'abc', '1.5', '-0', '0x10', '1e3', '1e400', 'Infinity', 'NaN', '１', '٣', '2147483648', '9007199254740993', '+1', '07', '1_000'),
  fc.string({ maxLength: 8 }),
);

async function parse(builder: (y: Argv) => Argv, argv: string[]): Promise<{ ok: Record<string, unknown> } | { err: Error }> {
  try {
    const a = await builder(yargs(argv).strict().exitProcess(false).fail((msg, err) => { throw err ?? new AllocbenchError(msg); })).parseAsync();
    return { ok: a as Record<string, unknown> };
  } catch (e) {
    return { err: e as Error };
  }
}

const userError = (e: Error): boolean => e instanceof AllocbenchError || e.name === 'YError';

describe('fuzzing the numeric options', () => {
  it.each(RANGES)('$name: accepted values are in range, the rest refused naming the option', async (r) => {
    await fc.assert(fc.asyncProperty(numberText, async (text) => {
      const res = await parse((y) => matrixOptions(y), [`${r.name}=${text}`]);
      if ('err' in res) {
        expect(userError(res.err), String(res.err)).toBe(true);
        expect(res.err.message).toContain(r.name);
        return;
      }
      const v = res.ok[r.key] as number;
      expect(typeof v).toBe('number');
      expect(v >= r.lo && v <= r.hi).toBe(true);
      if (r.int) expect(Number.isInteger(v)).toBe(true);
      expect(v).toBe(Number(text.trim()));
    }), { numRuns: 150 });
  });

  it('--shard K/N: accepted only with 1 <= K <= N <= 1e6', async () => {
    const part = fc.oneof(fc.integer({ min: -3, max: 12 }).map(String), numberText);
    await fc.assert(fc.asyncProperty(part, part, async (k, n) => {
      const res = await parse((y) => matrixOptions(y), [`--shard=${k}/${n}`]);
      if ('err' in res) { expect(userError(res.err)).toBe(true); expect(res.err.message).toContain('--shard'); return; }
      const s = res.ok.shard as { k: number; n: number };
      expect(Number.isInteger(s.k) && Number.isInteger(s.n) && s.k >= 1 && s.k <= s.n && s.n <= MAX_SHARDS).toBe(true);
    }), { numRuns: 150 });
  });

  it('gen --events/--seed, micro --time, slabinfo --cpus: the same contract', async () => {
    const cases: [(y: Argv) => Argv, string, string, number, number, string[]][] = [
      [genCommand.builder as (y: Argv) => Argv, '--events', 'events', 0, 2 ** 31 - 1, ['page-mix', '--out', 'x.csv']],
      [genCommand.builder as (y: Argv) => Argv, '--seed', 'seed', 0, Number.MAX_SAFE_INTEGER, ['page-mix', '--out', 'x.csv']],
      [microCommand.builder as (y: Argv) => Argv, '--time', 'time', 1, 3_600_000, []],
      [slabinfoCommand.builder as (y: Argv) => Argv, '--cpus', 'cpus', 1, 8192, []],
    ];
    for (const [builder, name, key, lo, hi, rest] of cases) {
      await fc.assert(fc.asyncProperty(numberText, async (text) => {
        const res = await parse((y) => builder(y.command('$0 [generator]', '', (c) => c)), [...rest, `${name}=${text}`]);
        if ('err' in res) { expect(userError(res.err), `${name} ${text}: ${String(res.err)}`).toBe(true); return; }
        const v = res.ok[key] as number;
        expect(Number.isSafeInteger(v) && v >= lo && v <= hi, `${name}=${text} gave ${v}`).toBe(true);
      }), { numRuns: 60 });
    }
  });
});
