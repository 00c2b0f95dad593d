import { mutation } from '../mutation.js';
import { keptArray } from '../machine/kept-arrays.js';
import { STEP_CALL, STEP_WORD, type Steps, tick, ticks } from '../machine/steps.js';
import { InvariantError } from '../errors.js';
import { MIGRATE_UNMOVABLE } from '../machine/gfp.js';
import { NR_ORDERS, type PageStrategy, type PageStrategyOptions } from './strategy.js';
import {
  GROUP_MASK, alignedFreeMask, addPageblocksUnmovable, bitmapFreeMap, checkBitmap, checkFreeBlocks, ctz32, rejectVariant, updateFreeBlocks,
} from './bitset.js';

/**
 * The classic one-bit-per-page allocator (as in early Unix core maps and the boot-time bitmap
 * allocator Linux used before memblock, mm/bootmem.c): 1 = free. A request for 2^order pages looks
 * for a naturally aligned run of free bits, one 32-bit word at a time, starting from a next-fit
 * hint (the word holding the page after the last allocation, as bootmem's `last_end_off`) and
 * wrapping around once.
 *
 * Order ≤ 5: every aligned group lies inside one word, so a word is tested with a fold-and-mask
 * (bitset.ts alignedFreeMask). Order > 5: a group is 2^(order-5) whole words that must all be
 * 0xffffffff; groups are visited from the one holding the hint.
 */
export class BitmapStrategy implements PageStrategy {
  readonly name = 'bitmap';
  readonly pages: number;
  private readonly words: Uint32Array;
  private readonly nwords: number;
  private readonly steps: Steps;
  private nfree = 0;
  /** next-fit hint: a word index */
  private hint = 0;
  /** false under the test-only mutation bitmap-hint-frozen (src/mutation.ts) */
  private readonly advanceHint = !mutation('bitmap-hint-frozen');
  /** free blocks per order as a buddy allocator would hold them (bitset.ts updateFreeBlocks) */
  private readonly nrFree = new Float64Array(NR_ORDERS);

  constructor(opts: PageStrategyOptions) {
    rejectVariant('bitmap', opts.variant);
    this.pages = opts.pages;
    this.steps = opts.steps;
    this.nwords = (opts.pages + 31) >>> 5;
    this.words = keptArray(Uint32Array, this.nwords); // all 0: nothing is free until the hand-over
  }

  alloc(order: number, _migratetype: number): number {
    const st = this.steps;
    tick(st, STEP_CALL);
    const size = 1 << order;
    if (this.nfree < size) return -1;
    const words = this.words;
    const n = this.nwords;
    let reads = 0;
    if (order <= 5) {
      let w = this.hint;
      for (let i = 0; i < n; i++) {
        const v = words[w]!;
        reads++;
        if (v !== 0) {
          const m = alignedFreeMask(v, order);
          if (m !== 0) {
            const b = ctz32(m);
            words[w] = v & ~(GROUP_MASK[order]! << b);
            ticks(st, STEP_WORD, reads);
            return this.took((w << 5) + b, order);
          }
        }
        if (++w === n) w = 0;
      }
    } else {
      const nw = 1 << (order - 5);
      const groups = Math.floor(n / nw);
      let g = Math.floor(this.hint / nw);
      if (g >= groups) g = 0;
      for (let i = 0; i < groups; i++) {
        const base = g * nw;
        let j = 0;
        while (j < nw) {
          reads++;
          if (words[base + j]! !== 0xffffffff) break;
          j++;
        }
        if (j === nw) {
          words.fill(0, base, base + nw);
          ticks(st, STEP_WORD, reads);
          return this.took(base << 5, order);
        }
        if (++g === groups) g = 0;
      }
    }
    ticks(st, STEP_WORD, reads);
    return -1;
  }

  private took(pfn: number, order: number): number {
    const size = 1 << order;
    this.nfree -= size;
    updateFreeBlocks(this.words, this.pages, this.nrFree, pfn, order, -1);
    const h = this.advanceHint ? (pfn + size) >>> 5 : 0;
    this.hint = h >= this.nwords ? 0 : h;
    return pfn;
  }

  free(pfn: number, order: number): void {
    const st = this.steps;
    tick(st, STEP_CALL);
    const size = 1 << order;
    if (order <= 5) {
      const w = pfn >>> 5;
      this.words[w] = this.words[w]! | (GROUP_MASK[order]! << (pfn & 31));
      tick(st, STEP_WORD);
    } else {
      const w = pfn >>> 5;
      const nw = 1 << (order - 5);
      this.words.fill(0xffffffff, w, w + nw);
      ticks(st, STEP_WORD, nw);
    }
    this.nfree += size;
    updateFreeBlocks(this.words, this.pages, this.nrFree, pfn, order, 1);
  }

  freePages(): number {
    return this.nfree;
  }

  freeArea(out: Float64Array): void {
    for (let o = 0; o < NR_ORDERS; o++) out[MIGRATE_UNMOVABLE * NR_ORDERS + o]! += this.nrFree[o]!;
  }

  pageblockTypes(out: Float64Array): void {
    addPageblocksUnmovable(this.pages, out);
  }

  counters(): Record<string, number> {
    return {};
  }

  check(): void {
    checkBitmap(this.name, this.words, this.pages, this.nfree);
    checkFreeBlocks(this.name, this.words, this.nrFree);
    if (this.hint < 0 || (this.hint >= this.nwords && this.nwords > 0)) {
      throw new InvariantError(`bitmap: next-fit hint ${this.hint} outside 0..${this.nwords - 1}`);
    }
  }

  metadataBytes(): number {
    return this.words.byteLength;
  }

  /** The next-fit hint (word index), for tests. */
  /** One byte per page, 1 = free (tests). */
  freeMap(): Uint8Array {
    return bitmapFreeMap(this.words, this.pages);
  }

  get hintWord(): number {
    return this.hint;
  }
}

export function createBitmap(opts: PageStrategyOptions): PageStrategy {
  return new BitmapStrategy(opts);
}
