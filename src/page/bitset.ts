import * as decompose from '../machine/decompose.js';
import * as geometry from './strategy.js';
import * as gfpModule from '../machine/gfp.js';
import { AllocbenchError, InvariantError } from '../errors.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { countAlignedBlocks } = decompose;
const { MAX_ORDER, PAGEBLOCK_PAGES } = geometry;
const { MIGRATE_UNMOVABLE } = gfpModule;

/**
 * Word-level helpers shared by the bitmap strategies (bitmap.ts, bitmap2.ts). Convention: one bit
 * per page, bit (pfn & 31) of word (pfn >>> 5), 1 = free. Bits past the zone's last page are never
 * set, so a word-at-a-time scan needs no bounds check on the tail word.
 */

/** For order ≤ 5, the bit positions (Int32 arrays, as the words: loads stay small integers) where a naturally aligned group of 2^order pages may start. */
export const ALIGN_MASK = new Int32Array([0xffffffff, 0x55555555, 0x11111111, 0x01010101, 0x00010001, 0x00000001]);
/** For order ≤ 5, 2^order low bits set (the group at bit 0). */
export const GROUP_MASK = new Int32Array([0x1, 0x3, 0xf, 0xff, 0xffff, 0xffffffff]);

/**
 * The aligned start bits of the fully free groups of 2^order pages inside word v (order ≤ 5).
 * After folding with shifts 1, 2, 4, ... bit i survives iff bits i..i+2^order-1 are all set;
 * masking with ALIGN_MASK keeps only the naturally aligned starts. (An int32: test it against 0.)
 * A loop of `order` folds: a third of the bytecode of five unconditional ones, which counts against
 * V8's inlining budget of the replay's allocation path (issue 17), and none for order 0.
 */
export function alignedFreeMask(v: number, order: number): number {
  let m = v;
  for (let s = 1; s < 1 << order; s <<= 1) m &= m >>> s;
  return m & ALIGN_MASK[order]!;
}

/**
 * Index of the lowest set bit of a non-zero 32-bit value. Math.imul(x, -1) is -x wrapped to 32 bits:
 * -x of x = -2^31 (only the top bit set) is 2^31, a heap number, and once seen it turned the
 * negation of every later call into floating point with a check on the way back (issue 17).
 */
export function ctz32(x: number): number {
  return 31 - Math.clz32(x & Math.imul(x, -1));
}

/**
 * AROUND8[(byte << 3) | i]: how many of the aligned blocks of 2, 4 and 8 bits around bit i of a byte
 * are all ones (0..3; nested blocks, so the count is also the order of the largest of them).
 */
export const AROUND8 = (() => {
  const t = new Uint8Array(256 * 8);
  for (let x = 0; x < 256; x++) {
    for (let i = 0; i < 8; i++) {
      let k = 0;
      while (k < 3) {
        const size = 2 << k;
        const mask = ((1 << size) - 1) << (i & -size);
        if ((x & mask) !== mask) break;
        k++;
      }
      t[(x << 3) | i] = k;
    }
  }
  return t;
})();

/**
 * The order (0..5) of the largest naturally aligned all-ones block of word u that holds bit b (bit b
 * set); 5 when u is all ones. The blocks around b are nested, so that order is the number of orders
 * 1..5 whose block is all ones: orders 1..3 from a table of the byte holding b (AROUND8), orders 4
 * and 5 by testing the 16-bit half and the word, summed without a branch (a walk up has a mispredicted
 * exit a call; five shift-and-mask tests cost twice the instructions, issue 17). (x - 1) >>> 31 is 1
 * iff x = 0 for 0 ≤ x < 2^31.
 */
export function freeOrderAround(u: number, b: number): number {
  const z = ~u; // 1 = used
  return AROUND8[(((u >>> (b & 24)) & 0xff) << 3) | (b & 7)]!
    + ((((z >>> (b & 16)) & 0xffff) - 1) >>> 31)
    + ((((z >>> 1) | (z & 1)) - 1) >>> 31);
}

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Number of fully free aligned bytes (order-3 groups) in word v: each byte's AND-fold lands on its bit 0. */
export function fullBytes(v: number): number {
  let m = v & (v >>> 1);
  m &= m >>> 2;
  m &= m >>> 4;
  m &= 0x01010101;
  return Math.imul(m, 0x01010101) >>> 24;
}

/**
 * Adds the maximal free runs of the bitmap, decomposed into aligned blocks as the buddy allocator
 * would hold them, to out[base + order]. Whole free or whole used words are skipped in one test.
 */
export function addFreeRuns(words: Uint32Array | Int32Array, out: Float64Array, base: number): void {
  const n = words.length;
  let runStart = -1;
  for (let w = 0; w < n; w++) {
    const v = words[w]!;
    if (runStart < 0 ? v === 0 : ~v === 0) continue; // ~v: Int32 words hold -1
    let bit = 0;
    while (bit < 32) {
      if (runStart < 0) {
        const rest = v >>> bit;
        if (rest === 0) break;
        bit += ctz32(rest);
        runStart = (w << 5) + bit;
      } else {
        const rest = ~v >>> bit;
        if (rest === 0) break;
        bit += ctz32(rest);
        countAlignedBlocks(runStart, (w << 5) + bit, out, base);
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) countAlignedBlocks(runStart, n << 5, out, base);
}

/** Is the aligned block [pfn, pfn + 2^order) all free? (words: 32 bits a word, 1 = free; Uint32 or Int32) */
function blockFree(words: Uint32Array | Int32Array, pfn: number, order: number): boolean {
  if (order <= 5) return (~words[pfn >>> 5]! & (GROUP_MASK[order]! << (pfn & 31))) === 0;
  for (let w = pfn >>> 5, e = w + (1 << (order - 5)); w < e; w++) if (~words[w]! !== 0) return false;
  return true;
}

/**
 * Keeps counts[order] — the free blocks per order as a buddy allocator would hold them, i.e. what
 * addFreeRuns finds (the maximal naturally aligned free blocks of at most MAX_ORDER) — up to date
 * after the aligned block [pfn, pfn + 2^order) turned from all used to all free (sign +1) or back
 * (sign -1); the bitmap already holds the change. Only the block's ancestors change: walking up
 * while the buddy at each order is free finds the largest free ancestor A (order a). Freeing makes A
 * one block where the free buddies on the way (orders order..a-1) were separate blocks; allocating
 * splits it back. A sample, fraginfo or an index then costs O(orders) instead of a scan of the
 * bitmap. Bookkeeping for the metrics, not a step of the modelled allocator: no steps are counted.
 */
export function updateFreeBlocks(words: Uint32Array | Int32Array, pages: number, counts: Float64Array, pfn: number, order: number, sign: number): void {
  let a = order;
  while (a < MAX_ORDER) {
    const buddy = pfn ^ (1 << a);
    if (buddy + (1 << a) > pages || !blockFree(words, buddy, a)) break;
    pfn &= ~(1 << a);
    a++;
  }
  counts[a] = counts[a]! + sign;
  for (let j = order; j < a; j++) counts[j] = counts[j]! - sign;
}

/** The kept per-order counts against a scan of the bitmap (addFreeRuns). */
export function checkFreeBlocks(name: string, words: Uint32Array | Int32Array, counts: Float64Array): void {
  const scan = new Float64Array(counts.length);
  addFreeRuns(words, scan, 0);
  for (let o = 0; o < counts.length; o++) {
    if (scan[o] !== counts[o]) throw new InvariantError(`${name}: ${counts[o]} free blocks of order ${o} kept, ${scan[o]} in the bitmap`);
  }
}

/** Recounts the free bits and checks that no bit past the zone's end is set. */
export function checkBitmap(name: string, words: Uint32Array | Int32Array, pages: number, free: number): void {
  let count = 0;
  for (let w = 0; w < words.length; w++) count += popcount32(words[w]!);
  if (count !== free) throw new InvariantError(`${name}: ${count} free bits but freePages() says ${free}`);
  const tail = pages & 31;
  if (tail !== 0 && words.length > 0 && words[words.length - 1]! >>> tail !== 0) {
    throw new InvariantError(`${name}: bits past the zone end (${pages} pages) are marked free`);
  }
}

/** Grouping disabled: every pageblock of the zone span counts as Unmovable (set_pageblock_migratetype). */
export function addPageblocksUnmovable(pages: number, out: Float64Array): void {
  out[MIGRATE_UNMOVABLE]! += Math.ceil(pages / PAGEBLOCK_PAGES);
}

/** The bitmap strategies have no variants; a typo in `bitmap:xyz` is a usage error, not silently ignored. */
export function rejectVariant(name: string, variant: string | undefined): void {
  if (variant !== undefined) throw new AllocbenchError(`page strategy "${name}" has no variants (got "${name}:${variant}")`);
}

/** One byte per page, 1 = free: a plain view of the bitmap for tests and debugging (not hot). */
export function bitmapFreeMap(words: Uint32Array | Int32Array, pages: number): Uint8Array {
  const out = new Uint8Array(pages);
  for (let p = 0; p < pages; p++) out[p] = (words[p >>> 5]! >>> (p & 31)) & 1;
  return out;
}
