import { OP_CACHE_ALLOC, OP_CACHE_FREE, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_REALLOC } from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';

/** Per-thread figures of a trace with a tid column (one entry of the results line's metrics.threads). */
export interface ThreadFigure {
  /** the thread id as recorded (kernel tid, or a loader's dense thread number: logalloc) */
  tid: number;
  /** allocations made by the thread (malloc, kmalloc, cache_alloc; a realloc counts as one) */
  allocations: number;
  frees: number;
  /** peak of the requested bytes live that the thread allocated (a block belongs to the thread that last (re)allocated it) */
  peak_live_bytes: number;
}

/** At most this many threads are listed (by allocations, then tid); the rest are summed into `others`. */
export const MAX_THREADS_LISTED = 32;

export interface ThreadMetrics {
  threads: number;
  listed: ThreadFigure[];
  /** the threads not listed, summed (peak_live_bytes: the largest of theirs) */
  others?: Omit<ThreadFigure, 'tid'> & { threads: number };
}

/**
 * Per-thread allocation figures, from the trace alone (what the program asked for, the same for
 * every strategy): undefined for a trace without threads. Frees are charged to the thread that
 * owns the block (its live bytes drop), whoever frees it.
 */
export function threadMetrics(trace: Trace): ThreadMetrics | undefined {
  const tid = trace.tid;
  if (tid === undefined) return undefined;
  const index = new Map<number, number>();
  const tids: number[] = [];
  let allocs: Float64Array = new Float64Array(16), frees: Float64Array = new Float64Array(16), live: Float64Array = new Float64Array(16), peak: Float64Array = new Float64Array(16);
  const owner = new Int32Array(trace.idCount).fill(-1);
  const bytes = new Float64Array(trace.idCount);
  const caches = trace.caches;
  const grow = (a: Float64Array): Float64Array => { const b = new Float64Array(a.length * 2); b.set(a); return b; };
  let last = -2, t = -1;
  for (let e = 0; e < trace.length; e++) {
    const o = trace.op[e]!;
    if (o !== OP_MALLOC && o !== OP_KMALLOC && o !== OP_CACHE_ALLOC && o !== OP_REALLOC && o !== OP_FREE && o !== OP_KFREE && o !== OP_CACHE_FREE) continue;
    const x = tid[e]!;
    if (x < 0) continue;
    if (x !== last) {
      last = x;
      let k = index.get(x);
      if (k === undefined) {
        k = tids.length;
        index.set(x, k);
        tids.push(x);
        if (k === allocs.length) { allocs = grow(allocs); frees = grow(frees); live = grow(live); peak = grow(peak); }
      }
      t = k;
    }
    const id = trace.id[e]!;
    if (o === OP_FREE || o === OP_KFREE || o === OP_CACHE_FREE) {
      frees[t]!++;
      const w = owner[id]!;
      if (w >= 0) { live[w] = live[w]! - bytes[id]!; owner[id] = -1; }
      continue;
    }
    allocs[t]!++;
    const prev = owner[id]!;
    if (prev >= 0) live[prev] = live[prev]! - bytes[id]!; // realloc: the block moves to this thread
    const size = o === OP_CACHE_ALLOC ? caches[trace.aux[e]!]?.size ?? 0 : trace.lo[e]! + trace.hi[e]! * 4294967296;
    owner[id] = t;
    bytes[id] = size;
    live[t] = live[t]! + size;
    if (live[t]! > peak[t]!) peak[t] = live[t]!;
  }
  const all: ThreadFigure[] = tids.map((x, k) => ({ tid: x, allocations: allocs[k]!, frees: frees[k]!, peak_live_bytes: peak[k]! }));
  all.sort((a, b) => b.allocations - a.allocations || a.tid - b.tid);
  const listed = all.slice(0, MAX_THREADS_LISTED);
  const rest = all.slice(MAX_THREADS_LISTED);
  return {
    threads: all.length,
    listed,
    ...(rest.length > 0 ? {
      others: {
        threads: rest.length,
        allocations: rest.reduce((s, f) => s + f.allocations, 0),
        frees: rest.reduce((s, f) => s + f.frees, 0),
        peak_live_bytes: rest.reduce((s, f) => Math.max(s, f.peak_live_bytes), 0),
      },
    } : {}),
  };
}
