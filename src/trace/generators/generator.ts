/**
 * The shared interface of the seeded synthetic workload generators, and the small pieces they all
 * use: a seeded random source (pure-rand's xoroshiro128+), a live-id pool in typed arrays, parameter
 * resolution and the trace name/source of a spec. Same params + same seed → byte-identical Trace.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { AllocbenchError } from '../../errors.js';
import { TraceBuilder, type Trace } from '../trace.js';
import { BYTES_PER_EVENT, requireMemory } from '../../memory-budget.js';

export interface GeneratorParam {
  default: number | string;
  doc: string;
  /** the accepted values of a string parameter */
  choices?: readonly string[];
}

export interface Generator {
  name: string;
  description: string;
  /** always includes `events` where it makes sense */
  params: Record<string, GeneratorParam>;
  /** missing params take their defaults */
  generate(params: Record<string, number | string>, seed: number): Trace;
  /**
   * Writes the same trace to an .abt file chunk by chunk, in memory bounded whatever the event
   * count (only generators whose state between chunks is bounded: page-churn)
   */
  write?(path: string, params: Record<string, number | string>, seed: number): { events: number };
}

// mmap prot and flags as in include/uapi/asm-generic/mman-common.h and mman.h (x86-64 values).
// OP_MMAP stores them in its extra row as prot | flags << 8.
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;

export const PAGE_BYTES = 4096;

const TWO_NEG_32 = 1 / 4294967296;

/**
 * A seeded random source over pure-rand's xoroshiro128+ (mutated in place: no object per draw).
 * The seed is folded to 32 bits, as pure-rand does.
 */
export class Rng {
  private readonly g: RandomGenerator;
  constructor(seed: number) {
    // Seeds above 2^32 would alias after `| 0`: fold the high part in so every safe integer differs.
    this.g = xoroshiro128plus((seed ^ Math.floor(seed / 4294967296)) | 0);
  }

  /** uniform integer in [0, n) */
  int(n: number): number {
    return n <= 1 ? 0 : uniformInt(this.g, 0, n - 1);
  }

  /** uniform integer in [lo, hi] */
  range(lo: number, hi: number): number {
    return hi <= lo ? lo : uniformInt(this.g, lo, hi);
  }

  /** uniform in the open interval (0, 1): never 0 or 1, so logs of it are finite */
  float(): number {
    return ((this.g.next() >>> 0) + 0.5) * TWO_NEG_32;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  /** exponential with the given mean (inverse CDF) */
  exp(mean: number): number {
    return -mean * Math.log(this.float());
  }

  /** standard normal (Box-Muller; one of the pair is dropped to keep no state between calls) */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.float())) * Math.cos(2 * Math.PI * this.float());
  }

  /** index into `cum`, a cumulative weight table whose last entry is the total */
  pick(cum: Float64Array): number {
    const x = this.float() * cum[cum.length - 1]!;
    let i = 0;
    while (i < cum.length - 1 && x >= cum[i]!) i++;
    return i;
  }
}

/** Cumulative table of weights for Rng.pick. */
export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) out[i] = s += weights[i]!;
  if (!(s > 0)) throw new AllocbenchError('weights must have a positive sum');
  return out;
}

/**
 * A set of live ids with one integer tag each (order, pages, size...), in typed arrays that double
 * when full. removeAt() swap-removes, so picking and freeing a random live id is O(1).
 */
export class IdPool {
  ids: Int32Array;
  tags: Int32Array;
  size = 0;
  constructor(capacity = 1024) {
    this.ids = new Int32Array(capacity);
    this.tags = new Int32Array(capacity);
  }

  push(id: number, tag: number): void {
    if (this.size === this.ids.length) {
      const ids = new Int32Array(this.ids.length * 2); ids.set(this.ids); this.ids = ids;
      const tags = new Int32Array(this.tags.length * 2); tags.set(this.tags); this.tags = tags;
    }
    this.ids[this.size] = id;
    this.tags[this.size] = tag;
    this.size++;
  }

  /** Removes entry i (the last entry moves into its place). */
  removeAt(i: number): void {
    const last = --this.size;
    this.ids[i] = this.ids[last]!;
    this.tags[i] = this.tags[last]!;
  }

  clear(): void {
    this.size = 0;
  }
}

const SUFFIX: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A number as a spec writes it: `1000000`, `0.5`, `1e6`, or a size with a binary suffix
 * (`4G` = 4 × 2^30, `64K`, `2MiB`, `512KB`). NaN when it is not one.
 */
export function parseNumber(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?)\s*(?:([KMGT])(?:i?B)?)?$/i.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * SUFFIX[(m[2] ?? '').toUpperCase()]!;
}

/**
 * Fills defaults, rejects unknown params and values of the wrong kind. Numeric params given as
 * strings (a programmatic caller) are parsed like a spec's values.
 */
export function resolveParams(gen: Generator, params: Record<string, number | string>): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const key of Object.keys(params)) {
    if (!(key in gen.params)) {
      throw new AllocbenchError(`generator "${gen.name}" has no parameter "${key}" (valid: ${Object.keys(gen.params).join(', ')})`);
    }
  }
  for (const [key, p] of Object.entries(gen.params)) {
    const given = params[key];
    if (given === undefined) { out[key] = p.default; continue; }
    if (typeof p.default === 'number') {
      const v = typeof given === 'number' ? given : parseNumber(given);
      if (!Number.isFinite(v)) throw new AllocbenchError(`generator "${gen.name}": ${key}=${given} is not a number`);
      out[key] = v;
    } else {
      const v = String(given);
      if (p.choices && !p.choices.includes(v)) {
        throw new AllocbenchError(`generator "${gen.name}": ${key}=${v} is not one of ${p.choices.join(', ')}`);
      }
      out[key] = v;
    }
  }
  return out;
}

/** A resolved numeric param, checked to lie in [lo, hi] (and to be an integer when `int`). */
export function num(gen: Generator, p: Record<string, number | string>, key: string, lo: number, hi: number, int = false): number {
  const v = p[key] as number;
  if (!(v >= lo && v <= hi) || (int && !Number.isInteger(v))) {
    throw new AllocbenchError(`generator "${gen.name}": ${key}=${v} must be ${int ? 'an integer ' : ''}in [${lo}, ${hi}]`);
  }
  return v;
}

/** A param value as a spec writes it: whole multiples of 1024 with their K/M/G/T suffix (4G, 64K). */
export function formatValue(v: number | string): string {
  if (typeof v === 'string' || !Number.isInteger(v) || v < 1024) return String(v);
  let k = 0;
  while (k < 4 && v % 1024 ** (k + 1) === 0) k++;
  return k === 0 ? String(v) : `${v / 1024 ** k}${'KMGT'[k - 1]}`;
}

/**
 * The builder of a generated trace. name = the spec in a file-name-safe form (`page-mix`,
 * `page-mix_events=1000000`), source = `gen:<spec>#<seed>`; only the params the caller gave appear.
 */
export function builderFor(gen: Generator, given: Record<string, number | string>, seed: number, capacity: number): TraceBuilder {
  const keys = Object.keys(gen.params).filter((k) => given[k] !== undefined);
  const spec = keys.length === 0 ? gen.name : `${gen.name}:${keys.map((k) => `${k}=${formatValue(given[k]!)}`).join(',')}`;
  const name = spec.replace(/[:,]/g, '_').replace(/[^A-Za-z0-9._=+-]/g, '_');
  // `capacity` is the generator's own estimate of its events: refuse before the columns grow past the host
  requireMemory(`generator ${spec} (~${capacity} events)`, capacity * BYTES_PER_EVENT);
  return new TraceBuilder(name, `gen:${spec}#${seed}`, Math.max(16, Math.min(capacity, 1 << 26)));
}
