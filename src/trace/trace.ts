import { OP_COUNT } from './ops.js';

/** A cache defined by a cache_create event (kmem_cache_create). */
export interface CacheDef {
  name: string;
  /** object size in bytes */
  size: number;
  /** requested alignment in bytes (0 = default) */
  align: number;
  /** CACHE_* flags from ops.ts */
  flags: number;
}

/**
 * A workload in columnar form: one row per event, no per-event objects. 15 bytes per event:
 *   op  Uint8    the op code (ops.ts)
 *   id  Int32    dense id: object / block id, or the pid for address-space events
 *   lo  Uint32   low 32 bits of the value column (size, order, address)
 *   hi  Uint16   bits 32..47 of the value column (addresses up to 2^48, sizes up to 256 TiB)
 *   aux Int32    gfp flags, pid, cache index, string index, ... (ops.ts says which)
 * Two optional per-event columns, present only when the source records them (undefined otherwise;
 * -1 in a row means "not recorded for this event"):
 *   cpu Int32    the CPU the event ran on (kernel traces: ftrace / perf's `[001]` column)
 *   tid Int32    the thread that made the call (user traces; kernel traces: the task's pid/tid)
 * Ids are dense (0..idCount-1) so replays index typed arrays, never hash maps. Loaders map
 * recorded pointers and pfns to ids; a free of a pointer the loader never saw gets a fresh id,
 * which the replay then counts as a trace error.
 * The columns may sit on SharedArrayBuffers so workers read them without copying.
 */
export interface Trace extends EventColumns {
  /** short name used in results (file name without directories and extensions) */
  name: string;
  /** where it came from: a path or a generator spec */
  source: string;
  length: number;
  /** number of distinct ids used (arrays indexed by id have this length) */
  idCount: number;
  /** highest pid + 1 (0 when the trace has no process events) */
  pidCount: number;
  caches: CacheDef[];
  strings: string[];
  /** side table for mmap/munmap: rows of 2 numbers [len, prot | flags << 8] */
  extra: Float64Array;
  /** optional loader side counts (e.g. skipped_unknown_events, recorded_failed_allocs); not replayed */
  stats?: Record<string, number>;
  /**
   * The replay's numbering of the ids, recycled (id-slots.ts), when computed once for the trace's
   * replays (shareTrace); valid only while `slots.from` is this trace's id column.
   */
  slots?: IdSlots;
}

/** A trace's per-event columns (all of them, or a chunk's rows: stream.ts). */
export interface EventColumns {
  op: Uint8Array;
  id: Int32Array;
  lo: Uint32Array;
  hi: Uint16Array;
  aux: Int32Array;
  /** optional: the CPU of each event, -1 where unknown (undefined when the source has no CPUs) */
  cpu?: Int32Array;
  /** optional: the thread id of each event, -1 where unknown (undefined when the source has no threads) */
  tid?: Int32Array;
}

/**
 * A trace's object and block ids as a replay numbers them: recycled, so the replay's per-id arrays
 * are as long as the peak live set (id-slots.ts says how and why).
 */
export interface IdSlots {
  /** the trace's id column with object and block ids replaced by their slots (other ops' ids, pids and cache indexes, as they were) */
  id: Int32Array;
  /** slots used: the length the replay's per-id arrays need */
  count: number;
  /**
   * the id column these slots number: a trace derived from another with new columns ({ ...t, id })
   * keeps the field but not the column, so its slots are made anew (a worker's message keeps the
   * identity: structured cloning sends an object met twice once)
   */
  from: Int32Array;
}

const TWO32 = 4294967296;
export const MAX_VALUE = 2 ** 48 - 1;

/** The value column of row i. */
export function valueAt(t: Trace, i: number): number {
  return t.lo[i]! + t.hi[i]! * TWO32;
}

/**
 * Appends events to growable typed arrays. Loaders and generators use this; nothing else writes
 * a Trace. `finish()` trims the arrays (optionally onto SharedArrayBuffers).
 */
export class TraceBuilder {
  private cap: number;
  length = 0;
  op: Uint8Array;
  id: Int32Array;
  lo: Uint32Array;
  hi: Uint16Array;
  aux: Int32Array;
  /** the optional columns, made by useCpu / useTid (events pushed before get -1) */
  cpu: Int32Array | undefined;
  tid: Int32Array | undefined;
  /** cpu and tid that push writes into those columns (set by the loader per line) */
  curCpu = -1;
  curTid = -1;
  idCount = 0;
  pidCount = 0;
  readonly caches: CacheDef[] = [];
  readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();
  private extra: Float64Array = new Float64Array(64);
  private extraLen = 0;
  /** loader side counts copied onto the finished Trace (left off when undefined) */
  stats: Record<string, number> | undefined;

  constructor(readonly name: string, readonly source: string, capacity = 1 << 16) {
    this.cap = Math.max(16, capacity);
    this.op = new Uint8Array(this.cap);
    this.id = new Int32Array(this.cap);
    this.lo = new Uint32Array(this.cap);
    this.hi = new Uint16Array(this.cap);
    this.aux = new Int32Array(this.cap);
  }

  private grow(): void {
    const cap = this.cap * 2;
    const op = new Uint8Array(cap); op.set(this.op); this.op = op;
    const id = new Int32Array(cap); id.set(this.id); this.id = id;
    const lo = new Uint32Array(cap); lo.set(this.lo); this.lo = lo;
    const hi = new Uint16Array(cap); hi.set(this.hi); this.hi = hi;
    const aux = new Int32Array(cap); aux.set(this.aux); this.aux = aux;
    if (this.cpu) { const c = new Int32Array(cap); c.set(this.cpu); this.cpu = c; }
    if (this.tid) { const c = new Int32Array(cap); c.set(this.tid); this.tid = c; }
    this.cap = cap;
  }

  /** Gives the trace a cpu column (idempotent); push then writes curCpu into it. */
  useCpu(): void {
    if (!this.cpu) this.cpu = new Int32Array(this.cap).fill(-1, 0, this.length);
  }

  /** Gives the trace a tid column (idempotent); push then writes curTid into it. */
  useTid(): void {
    if (!this.tid) this.tid = new Int32Array(this.cap).fill(-1, 0, this.length);
  }

  /** A fresh dense id. */
  newId(): number {
    return this.idCount++;
  }

  /**
   * Appends one event. `value` must be an integer in [0, 2^48); callers that parse text check the
   * range first so they can report the line (see checkValue).
   */
  push(op: number, id: number, value: number, aux: number): void {
    if (this.length === this.cap) this.grow();
    const i = this.length++;
    this.op[i] = op;
    this.id[i] = id;
    this.lo[i] = value % TWO32;
    this.hi[i] = Math.floor(value / TWO32);
    this.aux[i] = aux;
    if (this.cpu !== undefined) this.cpu[i] = this.curCpu;
    if (this.tid !== undefined) this.tid[i] = this.curTid;
  }

  /** Records that a pid occurs (for process events). */
  notePid(pid: number): void {
    if (pid + 1 > this.pidCount) this.pidCount = pid + 1;
  }

  /** Interns a string (cache names, mark labels) and returns its index. */
  intern(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  /** Adds a cache definition and returns its index (the id of its cache_create event). */
  addCache(def: CacheDef): number {
    this.caches.push(def);
    return this.caches.length - 1;
  }

  /** Adds a side-table row for mmap/munmap and returns its index. */
  addExtra(len: number, protFlags: number): number {
    if ((this.extraLen + 1) * 2 > this.extra.length) {
      const e = new Float64Array(this.extra.length * 2); e.set(this.extra); this.extra = e;
    }
    this.extra[this.extraLen * 2] = len;
    this.extra[this.extraLen * 2 + 1] = protFlags;
    return this.extraLen++;
  }

  finish(shared = false): Trace {
    const n = this.length;
    const copy = <T extends Uint8Array | Int32Array | Uint32Array | Uint16Array | Float64Array>(
      src: T, ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, len: number,
    ): T => {
      // Nearly full columns are handed over as views, not copied: for a large trace the copy
      // doubles the peak memory of a load and provokes full garbage collections.
      if (!shared && len >= src.length - (src.length >> 3)) return src.subarray(0, len) as T;
      const buf = shared ? new SharedArrayBuffer(len * ctor.BYTES_PER_ELEMENT) : new ArrayBuffer(len * ctor.BYTES_PER_ELEMENT);
      const out = new ctor(buf);
      out.set(src.subarray(0, len) as never);
      return out;
    };
    return {
      name: this.name,
      source: this.source,
      length: n,
      op: copy(this.op, Uint8Array, n),
      id: copy(this.id, Int32Array, n),
      lo: copy(this.lo, Uint32Array, n),
      hi: copy(this.hi, Uint16Array, n),
      aux: copy(this.aux, Int32Array, n),
      idCount: this.idCount,
      pidCount: this.pidCount,
      caches: this.caches.slice(),
      strings: this.strings.slice(),
      extra: copy(this.extra, Float64Array, this.extraLen * 2),
      ...(this.cpu ? { cpu: copy(this.cpu, Int32Array, n) } : {}),
      ...(this.tid ? { tid: copy(this.tid, Int32Array, n) } : {}),
      ...(this.stats ? { stats: { ...this.stats } } : {}),
    };
  }
}

/** Whether `v` is an integer the value column can hold. Loaders check it so they can name the line. */
export function isStorableValue(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= MAX_VALUE;
}

/** Count of events per op code, for summaries and tests (a streamed trace's come with its header). */
export function opCounts(t: Trace | { opCounts: readonly number[] }): number[] {
  if ('opCounts' in t) return [...t.opCounts];
  const c = new Array<number>(OP_COUNT).fill(0);
  for (let i = 0; i < t.length; i++) c[t.op[i]!]!++;
  return c;
}
