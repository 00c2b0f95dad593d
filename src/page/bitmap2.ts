import { mutation } from '../mutation.js';
import { keptArray } from '../machine/kept-arrays.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import { InvariantError } from '../errors.js';
import * as geometry from './strategy.js';
import type { PageStrategy, PageStrategyOptions } from './strategy.js';
import * as freeBlocks from './free-blocks.js';
import * as bitset from './bitset.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { STEP_CALL, STEP_WORD, tick, ticks } = stepsModule;
const { PAGEBLOCK_PAGES } = geometry;
const {
  GROUP_MASK, alignedFreeMask, addPageblocksUnmovable, bitmapFreeMap, checkBitmap, ctz32, fullBytes, rejectVariant,
} = bitset;
const { addFreeBlocks, blockFreed, blockTaken, checkFreeBlocksArea, freeBlocksSlots, wordsFreed, wordsTaken } = freeBlocks;

/** 16 words = 512 pages = one pageblock: LLFree's "area" (Wrenger et al., USENIX ATC '23). */
const BLOCK_WORDS_SHIFT = 4;
const BLOCK_WORDS = 1 << BLOCK_WORDS_SHIFT;
/** 64 blocks = 32768 pages (128 MiB): LLFree's "tree" level above the areas. */
const SUPER_BLOCKS_SHIFT = 6;
const SUPER_WORDS_SHIFT = BLOCK_WORDS_SHIFT + SUPER_BLOCKS_SHIFT;

/**
 * The multilevel bitmap: the same bitmap as bitmap.ts (1 = free, next-fit hint, identical placement)
 * plus two summary levels, in the spirit of LLFree's per-area free counters:
 *   level 1, per 512-page block: free page count and free aligned order-3 groups (0..64);
 *   level 2, per 64 blocks: the sums of both.
 * A search skips a region whose summary proves no block of the order can be there: for order ≤ 2 the
 * free count must reach 2^order, for order 3..8 the order-3 group count must reach 2^(order-3) (an
 * aligned 2^order block is 2^(order-3) aligned free bytes), and order ≥ 9 needs whole free blocks
 * (count = 512), which no word read has to confirm. Order 0 and order 3 tests are exact, so a block
 * that passes holds an answer. Because the summaries only skip regions with no answer, the visiting
 * order, and so every placement, equals bitmap's: a property test pins that.
 */
export class Bitmap2Strategy implements PageStrategy {
  readonly name = 'bitmap2';
  readonly pages: number;
  /** Int32 as bitmap.ts: an all-free word is -1 */
  private readonly words: Int32Array;
  private readonly nwords: number;
  /** per block b: bsum[2b] = free pages, bsum[2b+1] = free aligned order-3 groups (one array: monomorphic loads) */
  private readonly bsum: Int32Array;
  /** per super-block s: ssum[2s], ssum[2s+1], the sums of its blocks */
  private readonly ssum: Int32Array;
  private readonly steps: Steps;
  private nfree = 0;
  private hint = 0;
  /** false under the test-only mutation bitmap-hint-frozen (src/mutation.ts) */
  private readonly advanceHint = !mutation('bitmap-hint-frozen');
  /** steps of the current search, flushed once into STEP_WORD */
  private reads = 0;
  /** the free blocks per order, kept as the bitmap changes (free-blocks.ts; the area at 0) */
  private readonly blocks: Int32Array;

  constructor(opts: PageStrategyOptions) {
    rejectVariant('bitmap2', opts.variant);
    this.pages = opts.pages;
    this.steps = opts.steps;
    this.nwords = (opts.pages + 31) >>> 5;
    this.words = keptArray(Int32Array, this.nwords);
    this.blocks = new Int32Array(freeBlocksSlots(this.nwords));
    const nblocks = (this.nwords + BLOCK_WORDS - 1) >>> BLOCK_WORDS_SHIFT;
    const nsuper = (nblocks + (1 << SUPER_BLOCKS_SHIFT) - 1) >>> SUPER_BLOCKS_SHIFT;
    this.bsum = new Int32Array(2 * nblocks);
    this.ssum = new Int32Array(2 * nsuper);
  }

  alloc(order: number, _migratetype: number): number {
    const st = this.steps;
    tick(st, STEP_CALL);
    const size = 1 << order;
    if (this.nfree < size) return -1;
    this.reads = 0;
    const n = this.nwords;
    const h = this.hint;
    let pfn: number;
    if (order <= 5) {
      pfn = this.scanWords(order, h, n);
      if (pfn < 0) pfn = this.scanWords(order, 0, h);
    } else {
      const nw = 1 << (order - 5);
      const groups = Math.floor(n / nw);
      let g = Math.floor(h / nw);
      if (g >= groups) g = 0;
      pfn = this.scanGroups(order, g, groups);
      if (pfn < 0) pfn = this.scanGroups(order, 0, g);
    }
    ticks(st, STEP_WORD, this.reads);
    if (pfn < 0) return -1;
    this.nfree -= size;
    if (order <= 5) {
      // the taken block's word as it was (take() wrote it)
      const w = pfn >>> 5;
      const u = this.words[w]! | (GROUP_MASK[order]! << (pfn & 31));
      blockTaken(this.blocks, 0, u, pfn, order);
    } else {
      wordsTaken(this.blocks, 0, pfn, order);
    }
    const nh = this.advanceHint ? (pfn + size) >>> 5 : 0;
    this.hint = nh >= n ? 0 : nh;
    return pfn;
  }

  /** Words [from, to) in order, skipping super-blocks and blocks whose summary rules the order out. */
  private scanWords(order: number, from: number, to: number): number {
    const words = this.words;
    const size = 1 << order;
    // order ≤ 2 tests free counts; 3..5 tests order-3 groups
    const sel = order >= 3 ? 1 : 0;
    const need = sel === 1 ? size >>> 3 : size;
    const bsum = this.bsum;
    const ssum = this.ssum;
    let reads = 0;
    let w = from;
    // The hint's own word first, with no summary read: a next-fit search mostly ends in it (at 95%
    // fill a word still has ~1.6 free pages), and bitmap.ts reads just that word too.
    if (w < to) {
      const v = words[w]!;
      const m = alignedFreeMask(v, order);
      if (m !== 0) {
        this.reads += 1;
        return this.take(w, v, ctz32(m), order);
      }
      reads++;
      w++;
    }
    let lastSuper = -1;
    while (w < to) {
      const s = w >>> SUPER_WORDS_SHIFT;
      if (s !== lastSuper) {
        lastSuper = s;
        reads++;
        if (ssum[2 * s + sel]! < need) {
          w = (s + 1) << SUPER_WORDS_SHIFT;
          continue;
        }
      }
      const b = w >>> BLOCK_WORDS_SHIFT;
      reads++;
      let end = (b + 1) << BLOCK_WORDS_SHIFT;
      if (bsum[2 * b + sel]! < need) {
        w = end;
        continue;
      }
      if (end > to) end = to;
      for (; w < end; w++) {
        const v = words[w]!;
        reads++;
        if (v === 0) continue;
        const m = alignedFreeMask(v, order);
        if (m !== 0) {
          this.reads += reads;
          return this.take(w, v, ctz32(m), order);
        }
      }
    }
    this.reads += reads;
    return -1;
  }

  /** Takes the 2^order pages at `bit` of word w (value v) and updates the summaries; returns the pfn. */
  private take(w: number, v: number, bit: number, order: number): number {
    const nv = v & ~(GROUP_MASK[order]! << bit);
    this.words[w] = nv;
    this.account(w >>> BLOCK_WORDS_SHIFT, -(1 << order), fullBytes(nv) - fullBytes(v));
    return (w << 5) + bit;
  }

  /** Groups of 2^(order-5) words [from, to) in order (order 6..10). */
  private scanGroups(order: number, from: number, to: number): number {
    const words = this.words;
    const nw = 1 << (order - 5);
    const bsum = this.bsum;
    let reads = 0;
    let g = from;
    let lastSuper = -1;
    while (g < to) {
      const base = g * nw;
      const s = base >>> SUPER_WORDS_SHIFT;
      if (s !== lastSuper) {
        lastSuper = s;
        reads++;
        // any aligned block of order ≥ 3 is 2^(order-3) free aligned bytes
        if (this.ssum[2 * s + 1]! < 1 << (order - 3)) {
          g = Math.ceil(((s + 1) << SUPER_WORDS_SHIFT) / nw);
          continue;
        }
      }
      const b = base >>> BLOCK_WORDS_SHIFT;
      if (order >= 9) {
        // whole blocks: the free counts alone decide, no bitmap word is read
        const nb = nw >>> BLOCK_WORDS_SHIFT;
        let j = 0;
        while (j < nb) {
          reads++;
          if (bsum[2 * (b + j)]! !== PAGEBLOCK_PAGES) break;
          j++;
        }
        if (j < nb) {
          g++;
          continue;
        }
        words.fill(0, base, base + nw);
        for (j = 0; j < nb; j++) this.account(b + j, -PAGEBLOCK_PAGES, -(PAGEBLOCK_PAGES >>> 3));
        this.reads += reads;
        return base << 5;
      }
      reads++;
      if (bsum[2 * b + 1]! < 1 << (order - 3)) {
        g = ((b + 1) << BLOCK_WORDS_SHIFT) / nw; // groups never straddle a block below order 9
        continue;
      }
      let j = 0;
      while (j < nw) {
        reads++;
        if (words[base + j]! !== -1) break;
        j++;
      }
      if (j === nw) {
        words.fill(0, base, base + nw);
        this.account(b, -(nw << 5), -(nw << 2));
        this.reads += reads;
        return base << 5;
      }
      g++;
    }
    this.reads += reads;
    return -1;
  }

  private account(b: number, dfree: number, do3: number): void {
    const bsum = this.bsum, ssum = this.ssum;
    bsum[2 * b] = bsum[2 * b]! + dfree;
    bsum[2 * b + 1] = bsum[2 * b + 1]! + do3;
    const s = 2 * (b >>> SUPER_BLOCKS_SHIFT);
    ssum[s] = ssum[s]! + dfree;
    ssum[s + 1] = ssum[s + 1]! + do3;
  }

  free(pfn: number, order: number): void {
    const st = this.steps;
    tick(st, STEP_CALL);
    const size = 1 << order;
    const w = pfn >>> 5;
    if (order <= 5) {
      const v = this.words[w]!;
      const nv = v | (GROUP_MASK[order]! << (pfn & 31));
      this.words[w] = nv;
      blockFreed(this.blocks, 0, nv, pfn, order);
      this.account(w >>> BLOCK_WORDS_SHIFT, size, fullBytes(nv) - fullBytes(v));
      ticks(st, STEP_WORD, 3); // bitmap word, block and super-block summaries
    } else {
      const nw = 1 << (order - 5);
      this.words.fill(-1, w, w + nw);
      wordsFreed(this.blocks, 0, pfn, order);
      if (nw <= BLOCK_WORDS) {
        this.account(w >>> BLOCK_WORDS_SHIFT, size, nw << 2);
        ticks(st, STEP_WORD, nw + 2);
      } else {
        const nb = nw >>> BLOCK_WORDS_SHIFT;
        for (let j = 0; j < nb; j++) this.account((w >>> BLOCK_WORDS_SHIFT) + j, PAGEBLOCK_PAGES, PAGEBLOCK_PAGES >>> 3);
        ticks(st, STEP_WORD, nw + 2 * nb);
      }
    }
    this.nfree += size;
  }

  freePages(): number {
    return this.nfree;
  }

  freeArea(out: Float64Array): void {
    addFreeBlocks(this.blocks, 0, out);
  }

  pageblockTypes(out: Float64Array): void {
    addPageblocksUnmovable(this.pages, out);
  }

  counters(): Record<string, number> {
    return {};
  }

  check(): void {
    checkBitmap(this.name, this.words, this.pages, this.nfree);
    checkFreeBlocksArea(this.name, this.words, this.blocks, 0);
    if (this.hint < 0 || (this.hint >= this.nwords && this.nwords > 0)) {
      throw new InvariantError(`bitmap2: next-fit hint ${this.hint} outside 0..${this.nwords - 1}`);
    }
    const nb = this.bsum.length >>> 1;
    const sf = new Int32Array(this.ssum.length >>> 1);
    const s3 = new Int32Array(this.ssum.length >>> 1);
    for (let b = 0; b < nb; b++) {
      let f = 0, o3 = 0;
      const end = Math.min(this.nwords, (b + 1) << BLOCK_WORDS_SHIFT);
      for (let w = b << BLOCK_WORDS_SHIFT; w < end; w++) {
        const v = this.words[w]!;
        for (let x = v; x !== 0; x &= x - 1) f++;
        o3 += fullBytes(v);
      }
      if (f !== this.bsum[2 * b] || o3 !== this.bsum[2 * b + 1]) {
        throw new InvariantError(`bitmap2: block ${b} summary says ${this.bsum[2 * b]} free / ${this.bsum[2 * b + 1]} order-3 groups, bitmap has ${f} / ${o3}`);
      }
      sf[b >>> SUPER_BLOCKS_SHIFT]! += f;
      s3[b >>> SUPER_BLOCKS_SHIFT]! += o3;
    }
    for (let s = 0; s < sf.length; s++) {
      if (sf[s] !== this.ssum[2 * s] || s3[s] !== this.ssum[2 * s + 1]) {
        throw new InvariantError(`bitmap2: super-block ${s} summary says ${this.ssum[2 * s]} / ${this.ssum[2 * s + 1]}, blocks sum to ${sf[s]} / ${s3[s]}`);
      }
    }
  }

  metadataBytes(): number {
    return this.words.byteLength + this.bsum.byteLength + this.ssum.byteLength;
  }

  /** One byte per page, 1 = free (tests). */
  freeMap(): Uint8Array {
    return bitmapFreeMap(this.words, this.pages);
  }

  get hintWord(): number {
    return this.hint;
  }
}

export function createBitmap2(opts: PageStrategyOptions): PageStrategy {
  return new Bitmap2Strategy(opts);
}
