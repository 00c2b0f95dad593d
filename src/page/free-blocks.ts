import { InvariantError } from '../errors.js';
import * as gfpModule from '../machine/gfp.js';
import * as geometry from './strategy.js';
import * as bitset from './bitset.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { MIGRATE_UNMOVABLE } = gfpModule;
const { NR_ORDERS } = geometry;
const { GROUP_MASK, checkFreeBlocks, freeOrderAround } = bitset;

/**
 * The free blocks per order of a one-bit-per-page bitmap (32 pages a word, 1 = free) as a buddy
 * allocator would hold them (the maximal naturally aligned free blocks of at most MAX_ORDER, what
 * bitset.ts addFreeRuns finds), kept up to date as the bitmap changes, so a time-series sample,
 * fraginfo or an index costs O(orders) instead of a scan. Simulator bookkeeping for the metrics, not
 * part of the modelled allocator: it counts no steps and is not in metadataBytes. Used by bitmap.ts
 * and bitmap2.ts; freelist.ts keeps bitset.ts updateFreeBlocks' walk.
 *
 * A block that turns used or free changes only the counts of its largest free ancestor: freeing
 * makes that ancestor one block where the free buddies on the way up were separate blocks,
 * allocating splits it back. The ancestor is the largest aligned all-free block around the block:
 * inside the word below order 5 (bitset.ts freeOrderAround, branch-free), and above it in `full`, one
 * bit a word set while the word is all free: a summary word covers 1024 pages, a MAX_ORDER block, so
 * either side is one word read. The counts are kept as differences, counts[o] = diff[0] + ... +
 * diff[o]: the change (ancestor +1, each order on the way -1, or the reverse) is three stores.
 */
export class FreeBlocks {
  private readonly full: Int32Array;
  private readonly diff = new Int32Array(NR_ORDERS + 1);

  constructor(nwords: number) {
    this.full = new Int32Array((nwords + 31) >>> 5);
  }

  /** Word w of the bitmap now holds v (an int32: -1 is all free). */
  word(w: number, v: number): void {
    const i = w >>> 5;
    this.full[i] = v === -1 ? this.full[i]! | (1 << (w & 31)) : this.full[i]! & ~(1 << (w & 31));
  }

  /** The 2^k whole words from w (aligned, k ≤ 5) are now all free or all used. */
  words(w: number, k: number, free: boolean): void {
    const i = w >>> 5;
    const bits = GROUP_MASK[k]! << (w & 31);
    this.full[i] = free ? this.full[i]! | bits : this.full[i]! & ~bits;
  }

  /**
   * The aligned block [pfn, pfn + 2^order) turned used (sign -1) or free (+1), the bitmap and word()
   * / words() already told; u is the block's word with the block free (any value for order > 5).
   */
  changed(u: number, pfn: number, order: number, sign: number): void {
    let a = order > 5 ? 5 : freeOrderAround(u, pfn & 31);
    if (a === 5) {
      const w = pfn >>> 5;
      // the block's own words counted free: after an allocation they no longer are
      const block = order > 5 ? GROUP_MASK[order - 5]! << (w & 31) : 1 << (w & 31);
      a = 5 + freeOrderAround(this.full[w >>> 5]! | block, w & 31);
    }
    const d = this.diff;
    d[order] = d[order]! - sign;
    d[a] = d[a]! + 2 * sign;
    d[a + 1] = d[a + 1]! - sign;
  }

  /** Adds the counts to an unmovable free_area row (PageStrategy.freeArea). */
  addTo(out: Float64Array): void {
    let c = 0;
    for (let o = 0; o < NR_ORDERS; o++) out[MIGRATE_UNMOVABLE * NR_ORDERS + o]! += c += this.diff[o]!;
  }

  /** The counts and the whole-free-word summary against a scan of the bitmap. */
  check(name: string, bitmap: Int32Array): void {
    const counts = new Float64Array(NR_ORDERS);
    let c = 0;
    for (let o = 0; o < NR_ORDERS; o++) counts[o] = c += this.diff[o]!;
    checkFreeBlocks(name, bitmap, counts);
    for (let w = 0; w < bitmap.length; w++) {
      if (((this.full[w >>> 5]! >>> (w & 31)) & 1) !== (bitmap[w] === -1 ? 1 : 0)) {
        throw new InvariantError(`${name}: the whole-free-word summary is wrong at word ${w}`);
      }
    }
  }
}
