import { mutation } from '../mutation.js';
import { keptArray } from '../machine/kept-arrays.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import { InvariantError } from '../errors.js';
import type { PageStrategy, PageStrategyOptions } from './strategy.js';
import { FreeBlocks } from './free-blocks.js';
import * as bitset from './bitset.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { STEP_CALL, STEP_WORD, tick, ticks } = stepsModule;
const { GROUP_MASK, alignedFreeMask, addPageblocksUnmovable, bitmapFreeMap, checkBitmap, ctz32, rejectVariant } = bitset;

/**
 * The classic one-bit-per-page allocator (as in early Unix core maps and the boot-time bitmap
 * allocator Linux used before memblock, mm/bootmem.c): 1 = free. A request for 2^order pages looks
 * for a naturally aligned run of free bits, one 32-bit word at a time, starting from a next-fit
 * hint (the word holding the page after the last allocation, as bootmem's `last_end_off`) and
 * wrapping around once.
 *
 * Order ≤ 5: every aligned group lies inside one word, so a word is tested with a fold-and-mask
 * (bitset.ts alignedFreeMask). Order > 5: a group is 2^(order-5) whole words that must all be
 * all free (-1); groups are visited from the one holding the hint.
 */
export class BitmapStrategy implements PageStrategy {
  readonly name = 'bitmap';
  readonly pages: number;
  /** Int32: an all-free word is -1, and a word value stays a small integer wherever it is passed */
  private readonly words: Int32Array;
  private readonly nwords: number;
  private readonly steps: Steps;
  private nfree = 0;
  /** next-fit hint: a word index */
  private hint = 0;
  /** false under the test-only mutation bitmap-hint-frozen (src/mutation.ts) */
  private readonly advanceHint = !mutation('bitmap-hint-frozen');
  /** the free blocks per order, kept as the bitmap changes (free-blocks.ts) */
  private readonly blocks: FreeBlocks;

  constructor(opts: PageStrategyOptions) {
    rejectVariant('bitmap', opts.variant);
    this.pages = opts.pages;
    this.steps = opts.steps;
    this.nwords = (opts.pages + 31) >>> 5;
    this.words = keptArray(Int32Array, this.nwords); // all 0: nothing is free until the hand-over
    this.blocks = new FreeBlocks(this.nwords);
  }

  alloc(order: number, _migratetype: number): number {
    const st = this.steps;
    tick(st, STEP_CALL);
    if (this.nfree < 1 << order) return -1;
    if (order > 5) return this.searchGroups(order);
    // The hint's word first, inline: a next-fit search mostly ends there (1.01 words an allocation
    // on the native 1 M-event page trace); the rest of the scan is nextWord().
    const words = this.words;
    const h = this.hint;
    let w = h;
    let v = words[w]!;
    let m = alignedFreeMask(v, order);
    let reads = 1;
    if (m === 0) {
      w = this.nextWord(order);
      if (w < 0) return -1;
      v = words[w]!;
      m = alignedFreeMask(v, order);
      reads = w > h ? w - h + 1 : this.nwords - h + w + 1;
    }
    const b = ctz32(m);
    words[w] = v & ~(GROUP_MASK[order]! << b);
    if (v === -1) this.blocks.word(w, 0);
    ticks(st, STEP_WORD, reads);
    const pfn = (w << 5) + b;
    const size = 1 << order;
    this.nfree -= size;
    this.blocks.changed(v, pfn, order, -1);
    const nh = this.advanceHint ? (pfn + size) >>> 5 : 0;
    this.hint = nh >= this.nwords ? 0 : nh;
    return pfn;
  }

  /**
   * Order ≤ 5, the hint's word has no fit: the first word after it with an aligned fit, wrapping
   * once (the hint's word is not read again); -1, with the n words read counted, when there is none.
   */
  private nextWord(order: number): number {
    const words = this.words;
    const n = this.nwords;
    const h = this.hint;
    for (let w = h + 1; w < n; w++) {
      const v = words[w]!;
      if (v !== 0 && alignedFreeMask(v, order) !== 0) return w;
    }
    for (let w = 0; w < h; w++) {
      const v = words[w]!;
      if (v !== 0 && alignedFreeMask(v, order) !== 0) return w;
    }
    ticks(this.steps, STEP_WORD, n);
    return -1;
  }

  /**
   * Order > 5: a group is 2^(order-5) whole words that must all be free (-1); groups are visited
   * from the one holding the hint, wrapping once. A failing group costs the words read up to its
   * first one that is not all free.
   */
  private searchGroups(order: number): number {
    const words = this.words;
    const n = this.nwords;
    const nw = 1 << (order - 5);
    const groups = Math.floor(n / nw);
    let g = Math.floor(this.hint / nw);
    if (g >= groups) g = 0;
    let reads = 0;
    for (let i = 0; i < groups; i++) {
      const base = g * nw;
      let j = 0;
      while (j < nw) {
        reads++;
        if (words[base + j]! !== -1) break;
        j++;
      }
      if (j === nw) {
        words.fill(0, base, base + nw);
        this.blocks.words(base, order - 5, false);
        ticks(this.steps, STEP_WORD, reads);
        const pfn = base << 5;
        const size = 1 << order;
        this.nfree -= size;
        this.blocks.changed(-1, pfn, order, -1);
        const h = this.advanceHint ? (pfn + size) >>> 5 : 0;
        this.hint = h >= n ? 0 : h;
        return pfn;
      }
      if (++g === groups) g = 0;
    }
    ticks(this.steps, STEP_WORD, reads);
    return -1;
  }

  free(pfn: number, order: number): void {
    const st = this.steps;
    tick(st, STEP_CALL);
    const w = pfn >>> 5;
    let v: number;
    if (order <= 5) {
      v = this.words[w]! | (GROUP_MASK[order]! << (pfn & 31));
      this.words[w] = v;
      if (v === -1) this.blocks.word(w, v);
      tick(st, STEP_WORD);
    } else {
      const nw = 1 << (order - 5);
      this.words.fill(-1, w, w + nw);
      this.blocks.words(w, order - 5, true);
      ticks(st, STEP_WORD, nw);
      v = -1;
    }
    this.nfree += 1 << order;
    this.blocks.changed(v, pfn, order, 1);
  }

  freePages(): number {
    return this.nfree;
  }

  freeArea(out: Float64Array): void {
    this.blocks.addTo(out);
  }

  pageblockTypes(out: Float64Array): void {
    addPageblocksUnmovable(this.pages, out);
  }

  counters(): Record<string, number> {
    return {};
  }

  check(): void {
    checkBitmap(this.name, this.words, this.pages, this.nfree);
    this.blocks.check(this.name, this.words);
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
