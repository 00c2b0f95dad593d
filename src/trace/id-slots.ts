import {
  OP_CACHE_ALLOC, OP_CACHE_FREE, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_REALLOC, PAGE_PIECE,
} from './ops.js';
import type { IdSlots, Trace } from './trace.js';

/**
 * The replay's numbering of a trace's object and block ids (issue 17): ids recycled, so the replay's
 * per-id arrays (replay-ids.ts: 4 bytes of reference and 16 of address and size an id) are as long
 * as the peak number of ids live at once, not the number of ids the trace names.
 *
 * Why: a loader gives every pointer or block it meets an id of its own (a CSV names each allocation
 * once, the native reference traces do), so a 1 M-event trace has ~580 k ids and a free looks up one
 * of them at random: 2.3 MB of references for a page trace, 11 MB of references, addresses and sizes
 * for an object trace, and the free waited on that load (perf: a third of buddy's replay loop, the
 * instruction after the load). Given to the next allocation as soon as its block is freed, ids come
 * out of a set the size of the live blocks (175 k on the native page trace), which the cache holds,
 * and the id freed last is the next one taken (LIFO), whose reference is still in the cache.
 *
 * Only the replay sees these numbers: the trace (and so convert, inspect, the thread and attribution
 * metrics) keeps its own. The results are those of the trace's own ids, because an id changes hands
 * only where no event could tell: after its last event, when that leaves it freed (see below), and
 * to an id whose first event is an allocation, which treats a freed id as one never used.
 */
// an id's state as far as the trace alone tells it: what the replay's reference (replay-ids.ts S_*)
// is after its events, in the cases where that does not depend on the machine
const NONE = 0; //     never allocated, or freed: the replay's S_NONE, S_FREED or S_FAILED
const PAGE = 1; //     allocated by page_alloc (live, or S_FAILED / S_RECLAIMED: a page free frees all of these)
const OBJECT = 2; //   allocated by kmalloc, cache_alloc, malloc or realloc (live or S_FAILED)
const KEEP = 3; //     anything else (a free of the other layer's kind, a piece of a block): never handed on

const cache = new WeakMap<Trace, IdSlots>();

/**
 * The slots of a trace's ids: its own (shareTrace computes them once for a run's workers), else
 * computed once per trace object and thread (~10 ns an event). An id's slot is handed to the next
 * id only when, after its last event, the replay's reference is surely not live whatever the
 * machine did:
 *   - a page block freed by page_free (whole, not a piece): S_FREED after a live, failed or reclaimed block;
 *   - an object freed by kfree, kmem_cache_free or free: S_FREED after a live or failed object;
 *   - a double or unknown free leaves the state as it was (not live).
 * An id whose events mix the layers (a kfree of a page block, a page_free of an object, a realloc of
 * a page block) or free part of a block keeps its slot. A slot is taken from the freed ones only by
 * an id whose first event is page_alloc, kmalloc, kmem_cache_alloc or malloc: the replay's allocation
 * takes a freed reference as a new one (a realloc or a free as first event does not: S_FAILED and
 * S_FREED count differently there, so those ids get slots never used).
 */
export function idSlots(t: Trace): IdSlots {
  if (t.slots !== undefined && t.slots.from === t.id) return t.slots;
  let s = cache.get(t);
  if (s === undefined) cache.set(t, s = computeSlots(t));
  return s;
}

function computeSlots(t: Trace): IdSlots {
  const n = t.length, op = t.op, id = t.id, lo = t.lo;
  // the last event of each id (-1: none)
  const last = new Int32Array(t.idCount).fill(-1);
  for (let e = 0; e < n; e++) if (carriesId(op[e]!)) last[id[e]!] = e; // (an id out of range: no store)
  const slotOf = new Int32Array(t.idCount).fill(-1);
  const state = new Uint8Array(t.idCount);
  const freed = new Int32Array(t.idCount);
  let nFreed = 0, count = 0;
  const out = new Int32Array(id);
  for (let e = 0; e < n; e++) {
    const o = op[e]!;
    if (!carriesId(o)) continue;
    const i = id[e]!;
    if (!(i >= 0 && i < t.idCount)) continue; // not an id of this trace (invariants.ts refuses it): left as it is
    let slot = slotOf[i]!;
    if (slot < 0) {
      const alloc = o === OP_PAGE_ALLOC || o === OP_KMALLOC || o === OP_CACHE_ALLOC || o === OP_MALLOC;
      slot = slotOf[i] = alloc && nFreed > 0 ? freed[--nFreed]! : count++;
    }
    out[e] = slot;
    const st = state[i]!;
    if (st !== KEEP) state[i] = next(st, o, o === OP_PAGE_FREE && lo[e]! >= PAGE_PIECE);
    if (last[i] === e && state[i] === NONE) freed[nFreed++] = slot;
  }
  return { id: out, count, from: id };
}

/** Whether op o's id is an object or block id (the other ops' ids are pids and cache indexes). */
function carriesId(o: number): boolean {
  return o === OP_PAGE_ALLOC || o === OP_PAGE_FREE || o === OP_KMALLOC || o === OP_KFREE || o === OP_CACHE_ALLOC
    || o === OP_CACHE_FREE || o === OP_MALLOC || o === OP_FREE || o === OP_REALLOC;
}

/** An id's state after op o (run/page-events.ts and run/object-events.ts, case by case). */
function next(st: number, o: number, piece: boolean): number {
  switch (o) {
    case OP_PAGE_ALLOC: return st === NONE || st === PAGE ? PAGE : KEEP; // a second alloc of a live id: counted, no change
    case OP_PAGE_FREE: return piece ? KEEP : st === PAGE || st === NONE ? NONE : KEEP;
    case OP_KMALLOC: case OP_CACHE_ALLOC: case OP_MALLOC: return st === NONE || st === OBJECT ? OBJECT : KEEP;
    case OP_REALLOC: return st === NONE || st === OBJECT ? OBJECT : KEEP; // of a freed id: served as malloc
    default: return st === OBJECT || st === NONE ? NONE : KEEP; // kfree, kmem_cache_free, free
  }
}
