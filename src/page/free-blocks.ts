import { InvariantError } from '../errors.js';
import * as gfpModule from '../machine/gfp.js';
import * as geometry from './strategy.js';
import * as bitset from './bitset.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { MIGRATE_UNMOVABLE } = gfpModule;
const { MAX_ORDER, NR_ORDERS } = geometry;
const { GROUP_MASK, checkFreeBlocks, freeOrderAround } = bitset;

/**
 * The free blocks per order of a one-bit-per-page bitmap (32 pages a word, 1 = free) as a buddy
 * allocator would hold them (the maximal naturally aligned free blocks of at most MAX_ORDER, what
 * bitset.ts addFreeRuns finds), kept up to date as the bitmap changes, so a time-series sample,
 * fraginfo or an index costs O(orders²) instead of a scan. Simulator bookkeeping for the metrics,
 * not part of the modelled allocator: it counts no steps and is not in metadataBytes. Used by
 * bitmap.ts and bitmap2.ts; freelist.ts keeps bitset.ts updateFreeBlocks' walk.
 *
 * A block of order k that turns used or free changes only the counts of its largest free ancestor
 * (order a ≥ k): allocating splits that ancestor, counts[a] - 1 and counts[k..a-1] + 1 (its free
 * buddies on the way down become separate blocks); freeing merges it back, the reverse. The ancestor
 * is the largest aligned all-free block around the block: inside the word below order 5 (bitset.ts
 * freeOrderAround, branch-free), and above it in a summary of one bit a word set while the word is
 * all free: a summary word covers 1024 pages, a MAX_ORDER block, so either side is one word read.
 *
 * The change is fully described by (k, a), so an operation only adds ±1 to a net count of its pair
 * (frees minus allocations), one read-modify-write; freeCounts() applies the pairs' net counts to the
 * orders when a sample asks (issue 17: three updates of per-order differences an operation were a
 * sixth of the bitmap strategy's instructions). The net counts wrap as int32, and so does the sum
 * taken from them: the true counts are below 2^31, so they come out exact even after more than 2^31
 * operations on one pair.
 *
 * The state lives in an area of an Int32Array the caller owns (bitmap.ts puts it behind its bitmap
 * words, so one array and one bounds-checked base serve an allocation): FREE_BLOCKS_NET net counts,
 * slot (k << 4) | a, then the summary, (nwords + 31) >>> 5 words. The functions take the array and
 * the area's start; all zero is the state of an all-used bitmap.
 */

/** Net-count slots: (k << 4) | a for k ≤ a ≤ MAX_ORDER. */
const NET = (MAX_ORDER << 4) + MAX_ORDER + 1;

/** Int32 slots of the area for a bitmap of nwords words. */
export function freeBlocksSlots(nwords: number): number {
  return NET + ((nwords + 31) >>> 5);
}

/**
 * Order ≤ 5: the block at pfn turned used; u is its word as it was (the block free in it). bitmap.ts
 * writes this out in its alloc() (see there); bitmap2.ts calls it.
 */
export function blockTaken(mem: Int32Array, at: number, u: number, pfn: number, order: number): void {
  if (u !== -1) mem[at + netSlot(order, freeOrderAround(u, pfn & 31))]!--;
  else wordTaken(mem, at, pfn >>> 5, order);
}

/** Order ≤ 5: the block at pfn turned free; v is its word now (as blockTaken). */
export function blockFreed(mem: Int32Array, at: number, v: number, pfn: number, order: number): void {
  if (v !== -1) mem[at + netSlot(order, freeOrderAround(v, pfn & 31))]!++;
  else wordFreed(mem, at, pfn >>> 5, order);
}

/**
 * The net-count slot (from the area's start) of a block of order k whose largest free ancestor has
 * order a: small enough that V8 always inlines it.
 */
export function netSlot(k: number, a: number): number {
  return (k << 4) | a;
}

/**
 * A block of order ≤ 5 in word w turned used, and the word was all free: its summary bit goes, and
 * the block's largest free ancestor is found among the words (blockTaken's rare case).
 */
export function wordTaken(mem: Int32Array, at: number, w: number, order: number): void {
  const i = at + NET + (w >>> 5);
  const f = mem[i]!;
  mem[i] = f & ~(1 << (w & 31));
  mem[at + netSlot(order, 5 + freeOrderAround(f, w & 31))]!--;
}

/** A block of order ≤ 5 in word w turned free, and the word is all free now (blockFreed's rare case). */
export function wordFreed(mem: Int32Array, at: number, w: number, order: number): void {
  const i = at + NET + (w >>> 5);
  const f = mem[i]! | (1 << (w & 31));
  mem[i] = f;
  mem[at + netSlot(order, 5 + freeOrderAround(f, w & 31))]!++;
}

/** Order > 5: the block at pfn, 2^(order-5) whole words (aligned, ≤ 32), turned used. */
export function wordsTaken(mem: Int32Array, at: number, pfn: number, order: number): void {
  const w = pfn >>> 5, i = at + NET + (w >>> 5);
  const f = mem[i]!;
  mem[i] = f & ~(GROUP_MASK[order - 5]! << (w & 31));
  mem[at + netSlot(order, 5 + freeOrderAround(f, w & 31))]!--;
}

/** Order > 5: the block at pfn, 2^(order-5) whole words, turned free. */
export function wordsFreed(mem: Int32Array, at: number, pfn: number, order: number): void {
  const w = pfn >>> 5, i = at + NET + (w >>> 5);
  const f = mem[i]! | (GROUP_MASK[order - 5]! << (w & 31));
  mem[i] = f;
  mem[at + netSlot(order, 5 + freeOrderAround(f, w & 31))]!++;
}

/** The free blocks per order (NR_ORDERS counts) from the net counts of the area at `at`. */
export function freeCounts(mem: Int32Array, at: number): Int32Array {
  const counts = new Int32Array(NR_ORDERS);
  for (let k = 0; k <= MAX_ORDER; k++) {
    for (let a = k; a <= MAX_ORDER; a++) {
      const c = mem[at + netSlot(k, a)]!;
      if (c === 0) continue;
      counts[a] = counts[a]! + c; // Int32Array: the wrap of the net counts cancels (above)
      for (let j = k; j < a; j++) counts[j] = counts[j]! - c;
    }
  }
  return counts;
}

/** Adds the counts to an unmovable free_area row (PageStrategy.freeArea). */
export function addFreeBlocks(mem: Int32Array, at: number, out: Float64Array): void {
  const counts = freeCounts(mem, at);
  for (let o = 0; o < NR_ORDERS; o++) out[MIGRATE_UNMOVABLE * NR_ORDERS + o]! += counts[o]!;
}

/** The counts and the whole-free-word summary against a scan of the bitmap (its nwords words). */
export function checkFreeBlocksArea(name: string, bitmap: Int32Array, mem: Int32Array, at: number): void {
  checkFreeBlocks(name, bitmap, Float64Array.from(freeCounts(mem, at)));
  for (let w = 0; w < bitmap.length; w++) {
    if (((mem[at + NET + (w >>> 5)]! >>> (w & 31)) & 1) !== (bitmap[w] === -1 ? 1 : 0)) {
      throw new InvariantError(`${name}: the whole-free-word summary is wrong at word ${w}`);
    }
  }
}
