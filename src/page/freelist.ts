import { mutation } from '../mutation.js';
import { keptArray } from '../machine/kept-arrays.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import { AllocbenchError, InvariantError } from '../errors.js';
import * as gfpModule from '../machine/gfp.js';
import * as geometry from './strategy.js';
import type { PageStrategy, PageStrategyOptions } from './strategy.js';
import * as decompose from '../machine/decompose.js';
import * as bitset from './bitset.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { STEP_CALL, STEP_LIST, tick, ticks } = stepsModule;
const { MIGRATE_UNMOVABLE } = gfpModule;
const { MAX_ORDER, NR_ORDERS } = geometry;
const { countAlignedBlocks } = decompose;
const { addPageblocksUnmovable, ctz32, popcount32, updateFreeBlocks } = bitset;

const FIRST = 0;
const BEST = 1;
const NEXT = 2;
const VARIANTS: Record<string, number> = { first: FIRST, best: BEST, next: NEXT };
/** start tags hold len << 4 | capacity in an int32 */
const MAX_PAGES = 1 << 27;

/** Largest order of a naturally aligned block inside the extent [s, s+len) (≤ MAX_ORDER). */
export function extentCapacity(s: number, len: number): number {
  // with 2^K ≤ len, an aligned 2^(K-1) block always fits: the answer is K or K-1
  const k = 31 - Math.clz32(len);
  if (k <= 0) return 0;
  if (k > MAX_ORDER) return MAX_ORDER;
  const z = 1 << k;
  return ((s + z - 1) & -z) + z <= s + len ? k : k - 1;
}

/**
 * A free list of extents kept in address order, coalesced on free (the classic first-fit allocator
 * of Knuth TAOCP §2.5 and K&R malloc; best fit and next fit after Knuth's exercises and Wilson et
 * al., "Dynamic Storage Allocation: A Survey", 1995), serving naturally aligned blocks: an extent
 * that is large enough but misaligned yields its first aligned sub-block, the head and tail stay free.
 *
 * Representation (all typed arrays, keyed by pfn, nothing allocated per event):
 *  - edge[start] = len << 4 | cap, edge[end-1] = -len (len > 1): boundary tags (Knuth's method);
 *    cap is the largest aligned order the extent can serve, kept in the start tag so the chunk
 *    scans read one array (zones below 2^27 pages);
 *  - a free-page bitmap (one bit per pfn): a maximal free run is exactly one extent, so free()
 *    finds its neighbours there (cache-resident) and reads a tag only when a run leaves the word;
 *  - the address order of the list: one start bit per pfn (a 32-page chunk per word), cmax[chunk] =
 *    the chunk's largest capacity, and for every order k a hierarchical bitset of the chunks with
 *    cmax ≥ k (32-bit words, a summary bit per word, up to one top word), so "the first extent at
 *    or after p that fits order k" is a chunk-word scan plus a find-next-set-bit over a few words.
 *    A Fenwick tree of extent counts per chunk gives rank(): how many list nodes a linear walk
 *    would visit. Best fit also keeps, per chunk, the lengths 2^k of its aligned exact-fit extents,
 *    and bitsets of those chunks per k, so it finds the first exact fit without walking.
 * The index only makes the simulation fast; the step counts charged are those of the modelled list:
 * STEP_LIST per extent a linear address-ordered walk visits (first fit: from the head; next fit:
 * from the rover; best fit: the whole list, or up to the first exact fit), plus one per extent
 * inserted or removed. Free locates its neighbours without a walk.
 */
export class FreelistStrategy implements PageStrategy {
  readonly name: string;
  readonly pages: number;
  private readonly steps: Steps;
  private readonly policy: number;
  private readonly edge: Int32Array;
  /** one bit per pfn: an extent starts here */
  private readonly starts: Uint32Array;
  /** one bit per pfn: the page is free (in some extent) */
  private readonly fbits: Int32Array;
  private readonly chunks: number;
  /** per chunk: the largest capacity of an extent starting in it (-1: none) */
  private readonly cmax: Int8Array;
  /** Fenwick tree over chunks (1-based) of the number of extents starting in each */
  private readonly fen: Int32Array;
  /** words per level of one hierarchical bitset (level 0 = one bit per chunk) and their offsets */
  private readonly lofs: Int32Array;
  private readonly top: number;
  /** words of one hierarchical bitset */
  private readonly stride: number;
  /** bitset k (chunks with cmax ≥ k) at offset k * stride */
  private readonly fits: Int32Array;
  /** best fit only: per chunk the OR of the lengths 2^k of its aligned extents of exactly 2^k pages */
  private readonly cex: Uint16Array;
  /** best fit only: bitset k (chunks holding an exact fit for order k) at offset k * stride */
  private readonly exact: Int32Array;
  private nfree = 0;
  private nextents = 0;
  /** free blocks per order as a buddy allocator would hold them (bitset.ts updateFreeBlocks on fbits) */
  private readonly nrFree = new Float64Array(NR_ORDERS);
  /** next fit: the pfn after the last allocation */
  private rover = 0;
  /** false under the test-only mutation freelist-no-coalesce (src/mutation.ts) */
  private readonly coalesce = !mutation('freelist-no-coalesce');

  constructor(opts: PageStrategyOptions) {
    const v = opts.variant ?? 'first';
    const p = VARIANTS[v];
    if (p === undefined) {
      throw new AllocbenchError(`unknown freelist variant "${v}" (valid: freelist:first, freelist:best, freelist:next)`);
    }
    this.policy = p;
    this.name = opts.variant === undefined ? 'freelist' : `freelist:${v}`;
    this.pages = opts.pages;
    this.steps = opts.steps;
    if (opts.pages >= MAX_PAGES) throw new AllocbenchError(`freelist: a zone of ${opts.pages} pages is too large (the start tag packs the length into 27 bits)`);
    this.edge = keptArray(Int32Array, opts.pages);
    const chunks = Math.max(1, (opts.pages + 31) >>> 5);
    this.chunks = chunks;
    this.starts = keptArray(Uint32Array, chunks);
    this.fbits = keptArray(Int32Array, chunks);
    this.cmax = new Int8Array(chunks).fill(-1);
    this.fen = new Int32Array(chunks + 1);
    const lens: number[] = [];
    for (let n = chunks; ; ) {
      n = (n + 31) >>> 5;
      lens.push(n);
      if (n === 1) break;
    }
    this.top = lens.length - 1;
    this.lofs = new Int32Array(lens.length + 1);
    for (let l = 0; l < lens.length; l++) this.lofs[l + 1] = this.lofs[l]! + lens[l]!;
    this.stride = this.lofs[lens.length]!;
    this.fits = new Int32Array(NR_ORDERS * this.stride);
    const best = p === BEST;
    this.cex = new Uint16Array(best ? chunks : 0);
    this.exact = new Int32Array(best ? NR_ORDERS * this.stride : 0);
  }

  // ---- hierarchical bitsets over chunks (one per order, at offset base of arr) ----

  private static bsSet(arr: Int32Array, base: number, lofs: Int32Array, top: number, i: number): void {
    for (let l = 0; ; l++) {
      const p = base + lofs[l]! + (i >>> 5);
      const old = arr[p]!;
      arr[p] = old | (1 << (i & 31));
      if (old !== 0 || l === top) return;
      i >>>= 5;
    }
  }

  private static bsClear(arr: Int32Array, base: number, lofs: Int32Array, top: number, i: number): void {
    for (let l = 0; ; l++) {
      const p = base + lofs[l]! + (i >>> 5);
      const w = arr[p]! & ~(1 << (i & 31));
      arr[p] = w;
      if (w !== 0 || l === top) return;
      i >>>= 5;
    }
  }

  /** Lowest member ≥ i of the bitset at base, or -1. */
  private bsNext(arr: Int32Array, base: number, i: number): number {
    const lofs = this.lofs, top = this.top;
    let l = 0;
    for (;;) {
      const w = i >>> 5;
      if (base + lofs[l]! + w >= base + lofs[l + 1]!) return -1;
      const bits = arr[base + lofs[l]! + w]! & (-1 << (i & 31));
      if (bits !== 0) {
        i = (w << 5) + ctz32(bits);
        break;
      }
      if (l === top) return -1;
      l++;
      i = w + 1;
    }
    while (l > 0) {
      l--;
      i = (i << 5) + ctz32(arr[base + lofs[l]! + i]!);
    }
    return i;
  }

  /** Highest member ≤ i of the bitset at base, or -1. */
  private bsPrev(arr: Int32Array, base: number, i: number): number {
    if (i < 0) return -1;
    const lofs = this.lofs, top = this.top;
    let l = 0;
    for (;;) {
      const w = i >>> 5;
      // (2 << 31) is 0 in JS, so the mask is all ones for bit 31
      const bits = arr[base + lofs[l]! + w]! & ((2 << (i & 31)) - 1);
      if (bits !== 0) {
        i = (w << 5) + 31 - Math.clz32(bits);
        break;
      }
      if (w === 0 || l === top) return -1;
      l++;
      i = w - 1;
    }
    while (l > 0) {
      l--;
      i = (i << 5) + 31 - Math.clz32(arr[base + lofs[l]! + i]!);
    }
    return i;
  }

  // ---- address index ----

  /** Adds d to the extent count of chunk ch. */
  private fenAdd(ch: number, d: number): void {
    const fen = this.fen, n = this.chunks;
    for (let i = ch + 1; i <= n; i += i & -i) fen[i] = fen[i]! + d;
  }

  /**
   * Records that the extent starting at pos changed capacity from old to c (-1: no extent; dcnt > 0:
   * pos starts a new one, dcnt < 0: it starts none any more) and refreshes the chunk's max and the
   * bitsets. edge[pos] must already hold the new start tag. The caller updates the Fenwick counts
   * (two changes in one chunk often cancel).
   */
  private setLeaf(pos: number, old: number, c: number, dcnt: number): void {
    const ch = pos >>> 5;
    if (dcnt < 0) this.starts[ch] = this.starts[ch]! & ~(1 << (pos & 31));
    else if (dcnt > 0) this.starts[ch] = this.starts[ch]! | (1 << (pos & 31));
    const m0 = this.cmax[ch]!;
    let m = m0;
    if (c > m0) m = c;
    else if (c < old && old === m0) {
      // the chunk's max may have dropped: recompute over its (at most 16) extent starts
      const edge = this.edge;
      const base = ch << 5;
      m = -1;
      for (let bits = this.starts[ch]!; bits !== 0; bits &= bits - 1) {
        const v = edge[base + ctz32(bits)]! & 15;
        if (v > m) m = v;
      }
    }
    if (m !== m0) {
      this.cmax[ch] = m;
      const fits = this.fits, stride = this.stride, lofs = this.lofs, top = this.top;
      if (m > m0) for (let k = m0 + 1; k <= m; k++) FreelistStrategy.bsSet(fits, k * stride, lofs, top, ch);
      else for (let k = m + 1; k <= m0; k++) FreelistStrategy.bsClear(fits, k * stride, lofs, top, ch);
    }
    if (this.policy === BEST) this.refreshExact(ch);
  }

  /** Best fit: recomputes the chunk's exact-fit lengths and the exact bitsets. */
  private refreshExact(ch: number): void {
    const edge = this.edge;
    const base = ch << 5;
    let x = 0;
    for (let bits = this.starts[ch]!; bits !== 0; bits &= bits - 1) {
      const v = edge[base + ctz32(bits)]!;
      // an extent of exactly 2^k pages (k ≤ MAX_ORDER) that can serve order k is 2^k-aligned
      const len = v >> 4;
      if (len === 1 << (v & 15)) x |= len;
    }
    const x0 = this.cex[ch]!;
    if (x === x0) return;
    this.cex[ch] = x;
    const exact = this.exact, stride = this.stride, lofs = this.lofs, top = this.top;
    for (let d = x ^ x0; d !== 0; d &= d - 1) {
      const k = ctz32(d);
      if (x & (1 << k)) FreelistStrategy.bsSet(exact, k * stride, lofs, top, ch);
      else FreelistStrategy.bsClear(exact, k * stride, lofs, top, ch);
    }
  }

  /** Lowest start ≥ bit-position of `bits` in chunk ch whose capacity ≥ k, or -1. */
  private scanChunk(ch: number, bits: number, k: number): number {
    const edge = this.edge;
    const base = ch << 5;
    for (; bits !== 0; bits &= bits - 1) {
      const p = base + ctz32(bits);
      if ((edge[p]! & 15) >= k) return p;
    }
    return -1;
  }

  /** Lowest extent start ≥ from whose capacity ≥ k, or -1. */
  private findFirst(from: number, k: number): number {
    if (from >= this.pages) return -1;
    const ch = from >>> 5;
    const p = this.scanChunk(ch, this.starts[ch]! & (-1 << (from & 31)), k);
    if (p >= 0) return p;
    const c = this.bsNext(this.fits, k * this.stride, ch + 1);
    return c < 0 ? -1 : this.scanChunk(c, this.starts[c]!, k);
  }

  /** Highest extent start < pos, or -1 (pos ≥ 1). */
  private findLastBelow(pos: number): number {
    const q = pos - 1;
    const ch = q >>> 5;
    let bits = this.starts[ch]! & ((2 << (q & 31)) - 1);
    let c = ch;
    if (bits === 0) {
      c = this.bsPrev(this.fits, 0, ch - 1);
      if (c < 0) return -1;
      bits = this.starts[c]!;
    }
    return (c << 5) + 31 - Math.clz32(bits);
  }

  /** Number of extents starting below pos: the list nodes before it. */
  private rank(pos: number): number {
    if (pos >= this.pages) return this.nextents;
    const ch = pos >>> 5;
    let r = popcount32(this.starts[ch]! & ((1 << (pos & 31)) - 1));
    const fen = this.fen;
    for (let i = ch; i > 0; i &= i - 1) r += fen[i]!;
    return r;
  }

  /** Number of extents starting in [a, b) (a ≤ b < pages): counted directly when the two are close. */
  private between(a: number, b: number): number {
    const ca = a >>> 5, cb = b >>> 5;
    if (cb - ca > 8) return this.rank(b) - this.rank(a);
    const starts = this.starts;
    if (ca === cb) return popcount32(starts[ca]! & ((1 << (b & 31)) - 1) & (-1 << (a & 31)));
    let r = popcount32(starts[ca]! & (-1 << (a & 31))) + popcount32(starts[cb]! & ((1 << (b & 31)) - 1));
    for (let c = ca + 1; c < cb; c++) r += popcount32(starts[c]!);
    return r;
  }

  private get extents(): number {
    return this.nextents;
  }

  /** Best fit: the shortest extent of capacity ≥ k (lowest address on ties), stopping at an exact fit. */
  private findBest(k: number): number {
    // the walk stops at the first exact fit in address order, and nothing is shorter than one
    const stride = this.stride;
    const c = this.bsNext(this.exact, k * stride, 0);
    const edge = this.edge;
    const tag = ((1 << k) << 4) | k;
    if (c >= 0) {
      const base = c << 5;
      for (let bits = this.starts[c]!; bits !== 0; bits &= bits - 1) {
        const s = base + ctz32(bits);
        if (edge[s] === tag) return s;
      }
      throw new InvariantError(`${this.name}: chunk ${c} marked with an exact fit for order ${k} holds none`);
    }
    // no exact fit: the whole list is walked, keep the shortest (the lowest on ties)
    const fits = this.fits, base = k * stride;
    let best = -1, bestLen = 0x7fffffff;
    for (let ch = this.bsNext(fits, base, 0); ch >= 0; ch = this.bsNext(fits, base, ch + 1)) {
      const b = ch << 5;
      for (let bits = this.starts[ch]!; bits !== 0; bits &= bits - 1) {
        const s = b + ctz32(bits);
        const v = edge[s]!;
        if ((v & 15) < k) continue;
        const len = v >> 4;
        if (len < bestLen) {
          best = s;
          bestLen = len;
        }
      }
    }
    return best;
  }

  // ---- extents ----

  alloc(order: number, _migratetype: number): number {
    const st = this.steps;
    tick(st, STEP_CALL);
    const z = 1 << order;
    if (this.nfree < z) return -1;
    const edge = this.edge;
    let s: number;
    let a = -1;
    let visited: number;
    if (this.policy === FIRST) {
      s = this.findFirst(0, order);
      visited = s < 0 ? this.nextents : this.rank(s) + 1;
    } else if (this.policy === NEXT) {
      // the rover may sit inside an extent (the tail of the last carve, grown by later frees):
      // the walk starts at that extent, and only its part at or after the rover counts before wrapping
      const r = this.rover;
      let inside = 0;
      s = -1;
      const p = r > 0 ? this.findLastBelow(r) : -1;
      const pe = p >= 0 ? p + (edge[p]! >> 4) : -1;
      if (pe > r) {
        inside = 1;
        const ar = (r + z - 1) & -z;
        if (ar + z <= pe) {
          s = p;
          a = ar;
        }
      }
      if (s >= 0) {
        visited = 1; // the extent holding the rover
      } else {
        s = this.findFirst(r, order);
        if (s >= 0) {
          visited = inside + this.between(r, s) + 1;
        } else {
          s = this.findFirst(0, order); // wrapped: s < r
          visited = s < 0 ? this.nextents : this.nextents + inside - this.between(s, r) + 1;
        }
      }
    } else {
      s = this.findBest(order);
      const len = s < 0 ? 0 : this.edge[s]! >> 4;
      visited = len === z ? this.rank(s) + 1 : this.nextents;
    }
    ticks(st, STEP_LIST, visited);
    if (s < 0) return -1;

    // carve the aligned 2^order block at a (by default the extent's first) out of [s, s+len)
    const v = edge[s]!;
    const len = v >> 4;
    if (a < 0) a = (s + z - 1) & -z;
    const head = a - s;
    const tailStart = a + z;
    const tail = s + len - tailStart;
    if (len > 1) edge[s + len - 1] = 0;
    if (head > 0) {
      const c = extentCapacity(s, head);
      edge[s] = (head << 4) | c;
      if (head > 1) edge[a - 1] = -head;
      this.setLeaf(s, v & 15, c, 0);
    } else {
      edge[s] = 0;
      this.setLeaf(s, v & 15, -1, -1);
      tick(st, STEP_LIST); // unlinked
    }
    if (tail > 0) {
      const c = extentCapacity(tailStart, tail);
      edge[tailStart] = (tail << 4) | c;
      if (tail > 1) edge[tailStart + tail - 1] = -tail;
      this.setLeaf(tailStart, -1, c, 1);
      tick(st, STEP_LIST); // linked after the head
    }
    this.recount(head === 0 ? s : -1, tail > 0 ? tailStart : -1);
    this.clearFree(a, z);
    updateFreeBlocks(this.fbits, this.pages, this.nrFree, a, order, -1);
    this.nfree -= z;
    if (this.policy === NEXT) this.rover = tailStart >= this.pages ? 0 : tailStart;
    return a;
  }

  free(pfn: number, order: number): void {
    const st = this.steps;
    tick(st, STEP_CALL);
    const edge = this.edge;
    const z = 1 << order;
    let ms = pfn;
    let me = pfn + z;
    const right = me;
    let hasLeft = false;
    let hasRight = false;
    let oldLeft = -1, oldRight = -1;
    // The neighbours come from the free-page bitmap (a free run is exactly one extent, as extents
    // are coalesced), which stays in cache where the tags at a random pfn mostly do not; the tags
    // are only read when a run reaches past the bitmap word. The tags are then only written.
    const fbits = this.fbits;
    if (pfn > 0 && this.coalesce) {
      const q = pfn - 1;
      const b = q & 31;
      const w = fbits[q >>> 5]! << (31 - b); // page q at bit 31
      if (w < 0) {
        const run = Math.clz32(~w);
        if (run <= b) ms = pfn - run;
        else {
          const x = edge[q]!;
          ms = x < 0 ? pfn + x : q; // an end tag -len, or a one-page extent's start tag
        }
        hasLeft = true;
        if (pfn - ms > 1) edge[q] = 0;
        oldLeft = extentCapacity(ms, pfn - ms);
      }
    }
    if (me < this.pages && this.coalesce) {
      const b = me & 31;
      const w = fbits[me >>> 5]! >>> b; // page me at bit 0
      if ((w & 1) !== 0) {
        const nw = ~w;
        let ylen = nw === 0 ? 32 : ctz32(nw);
        if (ylen >= 32 - b) ylen = edge[me]! >> 4;
        edge[me] = 0;
        if (ylen > 1) edge[me + ylen - 1] = 0;
        hasRight = true;
        oldRight = extentCapacity(me, ylen);
        me += ylen;
      }
    }
    this.setFree(pfn, z);
    const len = me - ms;
    const c = extentCapacity(ms, len);
    edge[ms] = (len << 4) | c;
    if (len > 1) edge[me - 1] = -len;
    // the merged extent first: its capacity covers the right neighbour's, so unlinking that one
    // afterwards never lowers the max of a chunk the two share
    this.setLeaf(ms, oldLeft, c, hasLeft ? 0 : 1);
    if (!hasLeft) tick(st, STEP_LIST); // linked
    if (hasRight) {
      this.setLeaf(right, ms >>> 5 === right >>> 5 ? -1 : oldRight, -1, -1);
      tick(st, STEP_LIST); // right neighbour unlinked
    }
    this.recount(hasRight ? right : -1, hasLeft ? -1 : ms);
    updateFreeBlocks(this.fbits, this.pages, this.nrFree, pfn, order, 1);
    this.nfree += z;
  }

  /**
   * Extent counts after the extent starting at `gone` left the list and one starting at `added`
   * joined it (-1: none). A pair in the same chunk cancels out.
   */
  private recount(gone: number, added: number): void {
    if (gone >= 0 && added >= 0 && gone >>> 5 === added >>> 5) return;
    if (gone >= 0) { this.fenAdd(gone >>> 5, -1); this.nextents--; }
    if (added >= 0) { this.fenAdd(added >>> 5, 1); this.nextents++; }
  }

  /** Marks the aligned block [a, a+z) free in the page bitmap. */
  private setFree(a: number, z: number): void {
    const fbits = this.fbits;
    if (z < 32) fbits[a >>> 5] = fbits[a >>> 5]! | (((1 << z) - 1) << (a & 31));
    else for (let w = a >>> 5, e = (a + z) >>> 5; w < e; w++) fbits[w] = -1;
  }

  /** Marks the aligned block [a, a+z) allocated in the page bitmap. */
  private clearFree(a: number, z: number): void {
    const fbits = this.fbits;
    if (z < 32) fbits[a >>> 5] = fbits[a >>> 5]! & ~(((1 << z) - 1) << (a & 31));
    else for (let w = a >>> 5, e = (a + z) >>> 5; w < e; w++) fbits[w] = 0;
  }

  freePages(): number {
    return this.nfree;
  }

  /** Calls fn(start, len) for every extent in address order. */
  forEachExtent(fn: (start: number, len: number) => void): void {
    let s = this.findFirst(0, 0);
    while (s >= 0) {
      const len = this.edge[s]! >> 4;
      fn(s, len);
      s = this.findFirst(s + len, 0);
    }
  }

  /** One byte per page, 1 = free (tests). */
  freeMap(): Uint8Array {
    const out = new Uint8Array(this.pages);
    this.forEachExtent((s, len) => out.fill(1, s, s + len));
    return out;
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
    const edge = this.edge, chunks = this.chunks;
    const fail = (m: string): never => {
      throw new InvariantError(`${this.name}: ${m}`);
    };
    let total = 0, n = 0, prevEnd = -1, tags = 0, expectTags = 0;
    for (let p = 0; p < this.pages; p++) if (edge[p] !== 0) tags++;
    const counts = new Int32Array(chunks);
    const fb = new Int32Array(chunks);
    const fits = new Int32Array(this.fits.length);
    const exact = new Int32Array(this.exact.length);
    const lofs = this.lofs, top = this.top, stride = this.stride;
    for (let ch = 0; ch < chunks; ch++) {
      let m = -1, c = 0, x = 0;
      for (let bits = this.starts[ch]!; bits !== 0; bits &= bits - 1) {
        const s = (ch << 5) + ctz32(bits);
        const len = edge[s]! >> 4, cap = edge[s]! & 15;
        if (s >= this.pages || len <= 0 || s + len > this.pages) fail(`extent at ${s} has bad length ${len}`);
        if (len > 1 && edge[s + len - 1] !== -len) fail(`extent [${s}, ${s + len}) lacks its end tag`);
        if (cap !== extentCapacity(s, len)) fail(`extent [${s}, ${s + len}) capacity ${cap}, expected ${extentCapacity(s, len)}`);
        if (s <= prevEnd) fail(`extent at ${s} overlaps or touches the previous one ending at ${prevEnd} (not coalesced)`);
        prevEnd = s + len;
        total += len;
        for (let q = s; q < s + len; q++) fb[q >>> 5] = fb[q >>> 5]! | (1 << (q & 31));
        expectTags += len > 1 ? 2 : 1;
        m = Math.max(m, cap);
        if ((len & (len - 1)) === 0 && s % len === 0 && len <= 1 << MAX_ORDER) x |= len;
        c++;
        n++;
      }
      if (this.cmax[ch] !== m) fail(`chunk ${ch} max capacity ${this.cmax[ch]}, starts say ${m}`);
      counts[ch] = c;
      for (let k = 0; k <= m; k++) FreelistStrategy.bsSet(fits, k * stride, lofs, top, ch);
      if (this.policy === BEST) {
        if (this.cex[ch] !== x) fail(`chunk ${ch} exact-fit lengths ${this.cex[ch]}, starts say ${x}`);
        for (let k = 0; k <= MAX_ORDER; k++) if (x & (1 << k)) FreelistStrategy.bsSet(exact, k * stride, lofs, top, ch);
      }
    }
    for (let i = 0; i < chunks; i++) if (fb[i] !== this.fbits[i]) fail(`free-page bitmap word ${i} is ${this.fbits[i]}, extents say ${fb[i]}`);
    const blocks = new Float64Array(NR_ORDERS);
    this.forEachExtent((s, len) => countAlignedBlocks(s, s + len, blocks, 0));
    for (let o = 0; o < NR_ORDERS; o++) if (blocks[o] !== this.nrFree[o]) fail(`${this.nrFree[o]} free blocks of order ${o} kept, the extents decompose into ${blocks[o]}`);
    for (let i = 0; i < fits.length; i++) if (fits[i] !== this.fits[i]) fail(`capacity bitset word ${i} is ${this.fits[i]}, chunks say ${fits[i]}`);
    for (let i = 0; i < exact.length; i++) if (exact[i] !== this.exact[i]) fail(`exact-fit bitset word ${i} is ${this.exact[i]}, chunks say ${exact[i]}`);
    // Fenwick node i holds the counts of chunks (i - lowbit(i), i]
    for (let i = 1; i <= chunks; i++) {
      let sum = 0;
      for (let c = i - (i & -i); c < i; c++) sum += counts[c]!;
      if (this.fen[i] !== sum) fail(`Fenwick node ${i} counts ${this.fen[i]}, chunks say ${sum}`);
    }
    if (total !== this.nfree) fail(`extents hold ${total} pages, freePages() says ${this.nfree}`);
    if (this.nextents !== n) fail(`${n} extents, the count says ${this.nextents}`);
    if (tags !== expectTags) fail(`${tags} boundary tags set, ${expectTags} expected (a stale tag)`);
    if (this.rover < 0 || (this.rover >= this.pages && this.pages > 0)) fail(`rover ${this.rover} out of range`);
  }

  metadataBytes(): number {
    return (
      this.edge.byteLength + this.starts.byteLength + this.fbits.byteLength + this.cmax.byteLength + this.fen.byteLength +
      this.lofs.byteLength + this.fits.byteLength + this.cex.byteLength + this.exact.byteLength
    );
  }
}

export function createFreelist(opts: PageStrategyOptions): PageStrategy {
  return new FreelistStrategy(opts);
}
