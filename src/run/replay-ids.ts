import type { EventChunk } from '../trace/stream.js';

// Per id, one Int32 in ReplayIds.ref: its state, and for a live page block or object its payload.
// The frees of a trace reach back to ids allocated long before, at random: with 4 bytes an id (what
// the native reference replayer keeps) the window of ids still live is half what it was with a state
// and a payload side by side, so a free finds its reference in the L2 cache far more often (buddy on
// the 1 M-event page trace: about a third of the replay was waiting on that load). The ids are the
// replay's slots (id-slots.ts), recycled as blocks die, so these arrays are as long as the peak live
// set and the ids freed last are the next taken. A live object's
// address and requested bytes sit beside it by id (ReplayIds.obj), so an object free's two loads do
// not wait for each other; the owner of a cache or user-heap object is in a record slot reused as
// objects die (object-events.ts), so the live records stay compact.
export const S_NONE = 0; //   never allocated
export const S_FREED = 1; //  freed
export const S_FAILED = 2; // its allocation failed (out of memory): a later free is silently dropped
export const S_RECLAIMED = 3; // a page-cache block reclaimed under memory pressure: a later free is silently dropped
/**
 * A live object: S_OBJECT + (record slot << 2 | kind), positive (object-events.ts). A live page
 * block: negative, -(2 pfn + 2^order) (page-ref.ts): blocks are naturally aligned (the PageStrategy
 * contract), so the lowest set bit of 2 pfn + 2^order is the order, and every pfn of a machine
 * (below 2^30, 4 TiB) fits. Every live reference is < 0 or ≥ S_OBJECT.
 */
export const S_OBJECT = 4;

/**
 * What every event family of a replay shares (page-events.ts, object-events.ts, process-events.ts):
 * the current chunk's columns, each id's reference, a live object's address and requested bytes,
 * and the trace errors, which any family may find.
 */
export class ReplayIds {
  /** the current chunk's columns (the families index them by the event's row in the chunk) */
  id: Int32Array = new Int32Array(0);
  lo: Uint32Array = new Uint32Array(0);
  hi: Uint16Array = new Uint16Array(0);
  aux: Int32Array = new Int32Array(0);
  /** the trace's event index of the current chunk's row 0 */
  base = 0;
  /** per id: its state, with a live page block's global pfn and order or a live object's record slot and kind (S_*) */
  readonly ref: Int32Array;
  /** ref is a view of this (kept from an earlier replay, maybe longer) */
  readonly refAll: Int32Array;
  /**
   * per id i, a live object's address at 2i and its requested bytes at 2i + 1: read by id, as the
   * reference is, so a free's two cache misses (its reference, its address) are fetched at once
   * instead of one after the other through a record slot (written before read: never cleared)
   */
  readonly obj: Float64Array;

  // trace errors (counted, never thrown)
  /** an allocation of an id that is live */
  allocLive = 0;
  /** a free of an id never allocated, or of the other layer's kind */
  unknownFree = 0;
  doubleFree = 0;
  /** a realloc of an id that is not a live object */
  reallocUnknown = 0;

  /** `ids` ids; the arrays of an earlier replay in this thread are reused when long enough */
  constructor(ids: number, kept: { ref: Int32Array; obj: Float64Array } | null) {
    // payloads are written before they are read (the state says when); clearing the states is one memset
    this.refAll = kept !== null && kept.ref.length >= ids ? kept.ref : new Int32Array(ids);
    this.ref = this.refAll.subarray(0, ids).fill(S_NONE);
    this.obj = kept !== null && kept.obj.length >= 2 * ids ? kept.obj : new Float64Array(2 * ids);
  }

  /** The chunk the next events come from. */
  setChunk(c: EventChunk): void {
    this.base = c.start; this.id = c.id; this.lo = c.lo; this.hi = c.hi; this.aux = c.aux;
  }

  /** lo + hi · 2^32 of event e: a malloc's, kmalloc's or realloc's bytes, a process event's address */
  wide(e: number): number {
    return this.lo[e]! + this.hi[e]! * 4294967296;
  }

  traceErrors(): number {
    return this.unknownFree + this.doubleFree + this.reallocUnknown + this.allocLive;
  }
}
