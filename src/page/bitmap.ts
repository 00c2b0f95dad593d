import { mutation } from '../mutation.js';
import { keptArray } from '../machine/kept-arrays.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import { InvariantError } from '../errors.js';
import type { PageStrategy, PageStrategyOptions } from './strategy.js';
import * as freeBlocks from './free-blocks.js';
import * as bitset from './bitset.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { STEP_CALL, STEP_NS, STEP_PRICE, STEP_WORD, tick } = stepsModule;
const { ALIGN_MASK, AROUND8, addPageblocksUnmovable, bitmapFreeMap, checkBitmap, rejectVariant } = bitset;
const { addFreeBlocks, checkFreeBlocksArea, freeBlocksSlots, netSlot, wordFreed, wordTaken, wordsFreed, wordsTaken } = freeBlocks;
/** steps.ts' slots as private constants (folded into the code, as steps.ts does for tick()) */
const CALL = STEP_CALL, WORD = STEP_WORD, NS = STEP_NS, PRICE_CALL = STEP_PRICE + STEP_CALL, PRICE_WORD = STEP_PRICE + STEP_WORD;

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
  /**
   * The bitmap, words [0, nwords) (Int32: an all-free word is -1, and a word value stays a small
   * integer wherever it is passed), then from `blocksAt` the free blocks per order kept as it changes
   * (free-blocks.ts): one array, so an operation loads and checks one typed array (issue 17).
   */
  private readonly mem: Int32Array;
  private readonly nwords: number;
  private readonly blocksAt: number;
  private readonly steps: Steps;
  private nfree = 0;
  /** next-fit hint: a word index */
  private hint = 0;
  /**
   * -1, or 0 under the test-only mutation bitmap-hint-frozen (src/mutation.ts): the next hint is
   * masked with it (a number: a boolean field cost V8 a generic truth test an allocation)
   */
  private readonly hintMask = mutation('bitmap-hint-frozen') ? 0 : -1;

  constructor(opts: PageStrategyOptions) {
    rejectVariant('bitmap', opts.variant);
    this.pages = opts.pages;
    this.steps = opts.steps;
    this.nwords = (opts.pages + 31) >>> 5;
    this.blocksAt = this.nwords;
    // all 0: nothing is free until the hand-over, and no free block is counted
    this.mem = keptArray(Int32Array, this.nwords + freeBlocksSlots(this.nwords));
  }

  /**
   * A call that read n bitmap words: tick(STEP_CALL) and ticks(STEP_WORD, n) in one update of the
   * shared counters (issue 17: a tick is two read-modify-writes of a Float64Array; buddy.ts counts
   * once per operation too). The priced total gets the same sum: prices and counts are whole
   * numbers, so the float additions are exact in any grouping.
   */
  private countCall(n: number): void {
    const s = this.steps;
    s[CALL]!++;
    s[WORD]! += n;
    s[NS]! += s[PRICE_CALL]! + n * s[PRICE_WORD]!;
  }

  /**
   * The hot path is written out in one function, the helpers it stands for named where they are used
   * (bitset.ts alignedFreeMask, ctz32, freeOrderAround; free-blocks.ts blockTaken; countCall), and
   * its calls are on rare paths that return (issue 17). V8 inlines the replay's allocation path into
   * one function under a budget of bytecode: a helper past the budget became a call with its
   * arguments boxed; and a call on a path that joins the hot one again makes V8 check the maps of
   * this and of the arrays afresh after the join. So alloc() is inlined whole or called whole.
   */
  alloc(order: number, _migratetype: number): number {
    if (this.nfree < 1 << order || order > 5) return this.allocOther(order);
    const mem = this.mem;
    // The hint's word first: a next-fit search mostly ends there (1.01 words an allocation on the
    // native 1 M-event page trace).
    let w = this.hint;
    let v = mem[w]!;
    // alignedFreeMask(v, order)
    let m = v;
    for (let s = 1; s < 1 << order; s <<= 1) m &= m >>> s;
    m &= ALIGN_MASK[order]!;
    let reads = 1;
    if (m === 0) {
      // The words after it, wrapping once (the hint's word is not read again); when none fits, the
      // call has read all n words.
      const n = this.nwords;
      do {
        if (reads === n) {
          this.countCall(n);
          return -1;
        }
        reads++;
        if (++w === n) w = 0;
        v = mem[w]!;
        if (v === 0) continue;
        m = v;
        for (let s = 1; s < 1 << order; s <<= 1) m &= m >>> s;
        m &= ALIGN_MASK[order]!;
      } while (m === 0);
    }
    // the lowest fit: ctz32(m)
    const b = 31 - Math.clz32(m & Math.imul(m, -1));
    const size = 1 << order;
    mem[w] = v & ~(((2 << (size - 1)) - 1) << b); // 2^order low bits (2 << 31 is 0: -1 for order 5)
    // countCall(reads)
    const st = this.steps;
    st[CALL]!++;
    st[WORD]! += reads;
    st[NS]! += st[PRICE_CALL]! + reads * st[PRICE_WORD]!;
    const pfn = (w << 5) + b;
    this.nfree -= size;
    const nh = ((pfn + size) >>> 5) & this.hintMask;
    this.hint = nh >= this.nwords ? 0 : nh;
    // blockTaken(mem, blocksAt, v, pfn, order): below a whole free word, freeOrderAround(v, b) is the
    // byte's orders and the 16-bit half's (the word is not all free, so not its order 5)
    if (v !== -1) {
      const a = AROUND8[(((v >>> (b & 24)) & 0xff) << 3) | (b & 7)]! + ((((~v >>> (b & 16)) & 0xffff) - 1) >>> 31);
      mem[this.blocksAt + netSlot(order, a)]!--;
    } else wordTaken(mem, this.blocksAt, w, order);
    return pfn;
  }

  /** Not enough free pages (a call that reads nothing), or order > 5. */
  private allocOther(order: number): number {
    if (this.nfree < 1 << order) {
      tick(this.steps, STEP_CALL);
      return -1;
    }
    return this.searchGroups(order);
  }

  /**
   * Order > 5: a group is 2^(order-5) whole words that must all be free (-1); groups are visited
   * from the one holding the hint, wrapping once. A failing group costs the words read up to its
   * first one that is not all free.
   */
  private searchGroups(order: number): number {
    const mem = this.mem;
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
        if (mem[base + j]! !== -1) break;
        j++;
      }
      if (j === nw) {
        mem.fill(0, base, base + nw);
        this.countCall(reads);
        const pfn = base << 5;
        const size = 1 << order;
        this.nfree -= size;
        wordsTaken(mem, this.blocksAt, pfn, order);
        const h = ((pfn + size) >>> 5) & this.hintMask;
        this.hint = h >= n ? 0 : h;
        return pfn;
      }
      if (++g === groups) g = 0;
    }
    this.countCall(reads);
    return -1;
  }

  /** Written out as alloc() is (see there). */
  free(pfn: number, order: number): void {
    if (order > 5) return this.freeWords(pfn, order);
    const mem = this.mem;
    const w = pfn >>> 5;
    const b = pfn & 31;
    const size = 1 << order;
    const v = mem[w]! | (((2 << (size - 1)) - 1) << b);
    mem[w] = v;
    // countCall(1)
    const st = this.steps;
    st[CALL]!++;
    st[WORD]!++;
    st[NS]! += st[PRICE_CALL]! + st[PRICE_WORD]!;
    this.nfree += size;
    // blockFreed(mem, blocksAt, v, pfn, order), as in alloc()
    if (v !== -1) {
      const a = AROUND8[(((v >>> (b & 24)) & 0xff) << 3) | (b & 7)]! + ((((~v >>> (b & 16)) & 0xffff) - 1) >>> 31);
      mem[this.blocksAt + netSlot(order, a)]!++;
    } else wordFreed(mem, this.blocksAt, w, order);
  }

  /** Order > 5: 2^(order-5) whole words. */
  private freeWords(pfn: number, order: number): void {
    const w = pfn >>> 5;
    const nw = 1 << (order - 5);
    this.nfree += 1 << order;
    this.mem.fill(-1, w, w + nw);
    this.countCall(nw);
    wordsFreed(this.mem, this.blocksAt, pfn, order);
  }

  freePages(): number {
    return this.nfree;
  }

  freeArea(out: Float64Array): void {
    addFreeBlocks(this.mem, this.blocksAt, out);
  }

  pageblockTypes(out: Float64Array): void {
    addPageblocksUnmovable(this.pages, out);
  }

  counters(): Record<string, number> {
    return {};
  }

  check(): void {
    const words = this.mem.subarray(0, this.nwords);
    checkBitmap(this.name, words, this.pages, this.nfree);
    checkFreeBlocksArea(this.name, words, this.mem, this.blocksAt);
    if (this.hint < 0 || (this.hint >= this.nwords && this.nwords > 0)) {
      throw new InvariantError(`bitmap: next-fit hint ${this.hint} outside 0..${this.nwords - 1}`);
    }
  }

  /** The bitmap (the free-block counts are the simulator's bookkeeping, free-blocks.ts). */
  metadataBytes(): number {
    return this.nwords * Int32Array.BYTES_PER_ELEMENT;
  }

  /** One byte per page, 1 = free (tests). */
  freeMap(): Uint8Array {
    return bitmapFreeMap(this.mem.subarray(0, this.nwords), this.pages);
  }

  /** The next-fit hint (word index), for tests. */
  get hintWord(): number {
    return this.hint;
  }
}

export function createBitmap(opts: PageStrategyOptions): PageStrategy {
  return new BitmapStrategy(opts);
}
