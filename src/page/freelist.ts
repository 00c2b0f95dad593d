import { STEP_CALL, STEP_LIST, type Steps } from '../machine/steps.js';
import { AllocbenchError, InvariantError } from '../errors.js';
import { MIGRATE_UNMOVABLE } from '../machine/gfp.js';
import { MAX_ORDER, NR_ORDERS, type PageStrategy, type PageStrategyOptions } from './strategy.js';
import { countAlignedBlocks } from './decompose.js';
import { addPageblocksUnmovable, ctz32, popcount32 } from './bitset.js';

const FIRST = 0;
const BEST = 1;
const NEXT = 2;
const VARIANTS: Record<string, number> = { first: FIRST, best: BEST, next: NEXT };

/** Largest order of a naturally aligned block inside the extent [s, s+len) (≤ MAX_ORDER). */
export function extentCapacity(s: number, len: number): number {
  let k = 31 - Math.clz32(len);
  if (k > MAX_ORDER) k = MAX_ORDER;
  for (; k > 0; k--) {
    const z = 1 << k;
    if (((s + z - 1) & -z) + z <= s + len) return k;
  }
  return 0;
}

/**
 * A free list of extents kept in address order, coalesced on free (the classic first-fit allocator
 * of Knuth TAOCP §2.5 and K&R malloc; best fit and next fit after Knuth's exercises and Wilson et
 * al., "Dynamic Storage Allocation: A Survey", 1995), serving naturally aligned blocks: an extent
 * that is large enough but misaligned yields its first aligned sub-block, the head and tail stay free.
 *
 * Representation (all typed arrays, keyed by pfn, nothing allocated per event):
 *  - edge[start] = len, edge[end-1] = -len (len > 1): boundary tags, so free() finds a left or right
 *    neighbour in O(1) (Knuth's boundary-tag method);
 *  - the address order of the list: one start bit per pfn (a 32-page chunk per word), ecap[start] =
 *    the largest aligned order the extent can serve, and a tournament tree over chunks (max capacity,
 *    extent count) that stays cache-resident (4 GiB zone: 32 Ki chunks). "The first extent at or
 *    after p that fits order k" is a chunk-word scan plus one tree descent, and rank() tells how
 *    many list nodes a linear walk would have visited.
 * The index only makes the simulation fast; the step counts charged are those of the modelled list:
 * STEP_LIST per extent a linear address-ordered walk visits (first fit: from the head; next fit:
 * from the rover; best fit: the whole list, or up to the first exact fit), plus one per extent
 * inserted or removed. Free locates its neighbours through the boundary tags (no walk).
 */
export class FreelistStrategy implements PageStrategy {
  readonly name: string;
  readonly pages: number;
  private readonly steps: Steps;
  private readonly policy: number;
  private readonly edge: Int32Array;
  /** capacity of the extent starting at a pfn (-1 elsewhere) */
  private readonly ecap: Int8Array;
  /** one bit per pfn: an extent starts here */
  private readonly starts: Uint32Array;
  /** leaves of the chunk tree (a power of two ≥ the number of 32-page chunks) */
  private readonly size: number;
  private readonly cap: Int8Array;
  private readonly cnt: Int32Array;
  private nfree = 0;
  /** next fit: the pfn after the last allocation */
  private rover = 0;
  /** explicit DFS stack for best fit (≤ 2 entries per tree level) */
  private readonly stack = new Int32Array(64);

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
    this.edge = new Int32Array(opts.pages);
    this.ecap = new Int8Array(opts.pages).fill(-1);
    const chunks = (opts.pages + 31) >>> 5;
    this.starts = new Uint32Array(chunks);
    let size = 2;
    while (size < chunks) size *= 2;
    this.size = size;
    this.cap = new Int8Array(2 * size).fill(-1);
    this.cnt = new Int32Array(2 * size);
  }

  // ---- address index: start bits per 32-page chunk, tournament tree over chunks ----

  /**
   * Records that the extent starting at pos now has capacity c (-1: pos no longer starts an
   * extent) and that the extent count changed by dcnt, then refreshes the chunk's tree leaf.
   */
  private setLeaf(pos: number, c: number, dcnt: number): void {
    const ch = pos >>> 5;
    this.ecap[pos] = c;
    if (c < 0) this.starts[ch] = this.starts[ch]! & ~(1 << (pos & 31));
    else if (dcnt > 0) this.starts[ch] = this.starts[ch]! | (1 << (pos & 31));
    // the chunk's leaf is the max capacity over its (at most 16) extent starts
    const ecap = this.ecap;
    const base = ch << 5;
    let m = -1;
    for (let bits = this.starts[ch]!; bits !== 0; bits &= bits - 1) {
      const v = ecap[base + ctz32(bits)]!;
      if (v > m) m = v;
    }
    const cap = this.cap, cnt = this.cnt;
    let i = ch + this.size;
    cap[i] = m;
    cnt[i] = cnt[i]! + dcnt;
    i >>>= 1;
    while (i >= 1) {
      const l = cap[2 * i]!, r = cap[2 * i + 1]!;
      const mm = l > r ? l : r;
      if (dcnt === 0 && cap[i] === mm) return;
      cap[i] = mm;
      cnt[i] = cnt[i]! + dcnt;
      i >>>= 1;
    }
  }

  /** Lowest start ≥ bit-position of `bits` in chunk ch whose capacity ≥ k, or -1. */
  private scanChunk(ch: number, bits: number, k: number): number {
    const ecap = this.ecap;
    const base = ch << 5;
    for (; bits !== 0; bits &= bits - 1) {
      const p = base + ctz32(bits);
      if (ecap[p]! >= k) return p;
    }
    return -1;
  }

  /** Leftmost chunk ≥ from whose tree leaf is ≥ k, or -1. */
  private treeFirst(from: number, k: number): number {
    const cap = this.cap, size = this.size;
    if (from >= size) return -1;
    let i = from + size;
    if (cap[i]! >= k) return from;
    for (;;) {
      if ((i & 1) === 0 && cap[i + 1]! >= k) {
        i++;
        break;
      }
      i >>>= 1;
      if (i <= 1) return -1;
    }
    while (i < size) i = cap[2 * i]! >= k ? 2 * i : 2 * i + 1;
    return i - size;
  }

  /** Rightmost chunk ≤ from holding any extent, or -1. */
  private treeLast(from: number): number {
    const cap = this.cap, size = this.size;
    if (from < 0) return -1;
    let i = from + size;
    if (cap[i]! >= 0) return from;
    for (;;) {
      if ((i & 1) === 1 && cap[i - 1]! >= 0) {
        i--;
        break;
      }
      i >>>= 1;
      if (i <= 1) return -1;
    }
    while (i < size) i = cap[2 * i + 1]! >= 0 ? 2 * i + 1 : 2 * i;
    return i - size;
  }

  /** Lowest extent start ≥ from whose capacity ≥ k, or -1. */
  private findFirst(from: number, k: number): number {
    if (from >= this.pages) return -1;
    const ch = from >>> 5;
    const p = this.scanChunk(ch, this.starts[ch]! & (-1 << (from & 31)), k);
    if (p >= 0) return p;
    const c = this.treeFirst(ch + 1, k);
    return c < 0 ? -1 : this.scanChunk(c, this.starts[c]!, k);
  }

  /** Highest extent start < pos, or -1 (pos ≥ 1). */
  private findLastBelow(pos: number): number {
    const q = pos - 1;
    const ch = q >>> 5;
    const sh = q & 31;
    let bits = this.starts[ch]! & (sh === 31 ? -1 : (1 << (sh + 1)) - 1);
    let c = ch;
    if (bits === 0) {
      c = this.treeLast(ch - 1);
      if (c < 0) return -1;
      bits = this.starts[c]!;
    }
    return (c << 5) + 31 - Math.clz32(bits);
  }

  /** Number of extents starting below pos: the list nodes before it. */
  private rank(pos: number): number {
    const cnt = this.cnt;
    if (pos >= this.pages) return cnt[1]!;
    const ch = pos >>> 5;
    let r = popcount32(this.starts[ch]! & ((1 << (pos & 31)) - 1));
    let i = ch + this.size;
    while (i > 1) {
      if (i & 1) r += cnt[i - 1]!;
      i >>>= 1;
    }
    return r;
  }

  private get extents(): number {
    return this.cnt[1]!;
  }

  /** Best fit: the shortest extent of capacity ≥ k (lowest address on ties), stopping at an exact fit. */
  private findBest(k: number): number {
    const cap = this.cap, size = this.size, edge = this.edge, ecap = this.ecap, stack = this.stack;
    const exact = 1 << k;
    let best = -1, bestLen = 0x7fffffff;
    let sp = 0;
    if (cap[1]! < k) return -1;
    stack[sp++] = 1;
    while (sp > 0) {
      const i = stack[--sp]!;
      if (i >= size) {
        const base = (i - size) << 5;
        for (let bits = this.starts[i - size]!; bits !== 0; bits &= bits - 1) {
          const s = base + ctz32(bits);
          if (ecap[s]! < k) continue;
          const len = edge[s]!;
          if (len < bestLen) {
            best = s;
            bestLen = len;
            if (len === exact) return s;
          }
        }
        continue;
      }
      // push right first so the left (lower addresses) is visited first
      if (cap[2 * i + 1]! >= k) stack[sp++] = 2 * i + 1;
      if (cap[2 * i]! >= k) stack[sp++] = 2 * i;
    }
    return best;
  }

  // ---- extents ----

  private addExtent(s: number, len: number): void {
    this.edge[s] = len;
    if (len > 1) this.edge[s + len - 1] = -len;
    this.setLeaf(s, extentCapacity(s, len), 1);
  }

  alloc(order: number, _migratetype: number): number {
    const st = this.steps;
    st[STEP_CALL]!++;
    const z = 1 << order;
    if (this.nfree < z) return -1;
    const edge = this.edge;
    let s: number;
    let a = -1;
    let visited: number;
    if (this.policy === FIRST) {
      s = this.findFirst(0, order);
      visited = s < 0 ? this.extents : this.rank(s) + 1;
    } else if (this.policy === NEXT) {
      // the rover may sit inside an extent (the tail of the last carve, grown by later frees):
      // the walk starts at that extent, and only its part at or after the rover counts before wrapping
      const r = this.rover;
      const base = this.rank(r);
      let from = base;
      s = -1;
      const p = r > 0 ? this.findLastBelow(r) : -1;
      if (p >= 0 && p + edge[p]! > r) {
        from = base - 1;
        const ar = (r + z - 1) & -z;
        if (ar + z <= p + edge[p]!) {
          s = p;
          a = ar;
        }
      }
      if (s < 0) s = this.findFirst(r, order);
      if (s >= 0) {
        visited = this.rank(s) - from + 1;
      } else {
        s = this.findFirst(0, order);
        visited = s < 0 ? this.extents : this.extents - from + this.rank(s) + 1;
      }
    } else {
      s = this.findBest(order);
      const len = s < 0 ? 0 : this.edge[s]!;
      visited = len === z ? this.rank(s) + 1 : this.extents;
    }
    st[STEP_LIST]! += visited;
    if (s < 0) return -1;

    // carve the aligned 2^order block at a (by default the extent's first) out of [s, s+len)
    const len = edge[s]!;
    if (a < 0) a = (s + z - 1) & -z;
    const head = a - s;
    const tailStart = a + z;
    const tail = s + len - tailStart;
    edge[s] = 0;
    if (len > 1) edge[s + len - 1] = 0;
    if (head > 0) {
      edge[s] = head;
      if (head > 1) edge[a - 1] = -head;
      this.setLeaf(s, extentCapacity(s, head), 0);
    } else {
      this.setLeaf(s, -1, -1);
      st[STEP_LIST]!++; // unlinked
    }
    if (tail > 0) {
      this.addExtent(tailStart, tail);
      st[STEP_LIST]!++; // linked after the head
    }
    this.nfree -= z;
    if (this.policy === NEXT) this.rover = tailStart >= this.pages ? 0 : tailStart;
    return a;
  }

  free(pfn: number, order: number): void {
    const st = this.steps;
    st[STEP_CALL]!++;
    const edge = this.edge;
    const z = 1 << order;
    let ms = pfn;
    let me = pfn + z;
    let hasLeft = false;
    if (pfn > 0) {
      const x = edge[pfn - 1]!;
      if (x < 0) {
        ms = pfn + x; // left extent [pfn-1+x+1, pfn) of length -x
        hasLeft = true;
        edge[pfn - 1] = 0;
      } else if (x === 1) {
        ms = pfn - 1;
        hasLeft = true;
      }
    }
    if (me < this.pages) {
      const y = edge[me]!;
      if (y > 0) {
        edge[me] = 0;
        if (y > 1) edge[me + y - 1] = 0;
        this.setLeaf(me, -1, -1);
        st[STEP_LIST]!++; // right neighbour unlinked
        me += y;
      }
    }
    const len = me - ms;
    edge[ms] = len;
    if (len > 1) edge[me - 1] = -len;
    if (hasLeft) {
      this.setLeaf(ms, extentCapacity(ms, len), 0); // the left extent grows in place
    } else {
      this.setLeaf(ms, extentCapacity(ms, len), 1);
      st[STEP_LIST]!++; // linked
    }
    this.nfree += z;
  }

  freePages(): number {
    return this.nfree;
  }

  /** Calls fn(start, len) for every extent in address order. */
  forEachExtent(fn: (start: number, len: number) => void): void {
    let s = this.findFirst(0, 0);
    while (s >= 0) {
      const len = this.edge[s]!;
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
    const base = MIGRATE_UNMOVABLE * NR_ORDERS;
    this.forEachExtent((s, len) => countAlignedBlocks(s, s + len, out, base));
  }

  pageblockTypes(out: Float64Array): void {
    addPageblocksUnmovable(this.pages, out);
  }

  counters(): Record<string, number> {
    return {};
  }

  check(): void {
    const edge = this.edge, ecap = this.ecap, cap = this.cap, cnt = this.cnt, size = this.size;
    const fail = (m: string): never => {
      throw new InvariantError(`${this.name}: ${m}`);
    };
    let total = 0, n = 0, prevEnd = -1, tags = 0, caps = 0, expectTags = 0;
    for (let p = 0; p < this.pages; p++) {
      if (edge[p] !== 0) tags++;
      if (ecap[p] !== -1) caps++;
    }
    for (let ch = 0; ch < this.starts.length; ch++) {
      let m = -1, c = 0;
      for (let bits = this.starts[ch]!; bits !== 0; bits &= bits - 1) {
        const s = (ch << 5) + ctz32(bits);
        const len = edge[s]!;
        if (s >= this.pages || len <= 0 || s + len > this.pages) fail(`extent at ${s} has bad length ${len}`);
        if (len > 1 && edge[s + len - 1] !== -len) fail(`extent [${s}, ${s + len}) lacks its end tag`);
        if (ecap[s] !== extentCapacity(s, len)) fail(`extent [${s}, ${s + len}) capacity ${ecap[s]}, expected ${extentCapacity(s, len)}`);
        if (s <= prevEnd) fail(`extent at ${s} overlaps or touches the previous one ending at ${prevEnd} (not coalesced)`);
        prevEnd = s + len;
        total += len;
        expectTags += len > 1 ? 2 : 1;
        m = Math.max(m, ecap[s]!);
        c++;
        n++;
      }
      if (cap[size + ch] !== m || cnt[size + ch] !== c) fail(`chunk ${ch} leaf ${cap[size + ch]}/${cnt[size + ch]}, starts say ${m}/${c}`);
    }
    for (let i = size - 1; i >= 1; i--) {
      const m = Math.max(cap[2 * i]!, cap[2 * i + 1]!);
      if (cap[i] !== m) fail(`tree node ${i} max ${cap[i]}, children say ${m}`);
      if (cnt[i] !== cnt[2 * i]! + cnt[2 * i + 1]!) fail(`tree node ${i} counts ${cnt[i]}, children ${cnt[2 * i]! + cnt[2 * i + 1]!}`);
    }
    if (total !== this.nfree) fail(`extents hold ${total} pages, freePages() says ${this.nfree}`);
    if (cnt[1] !== n) fail(`${n} extents, root counts ${cnt[1]}`);
    if (tags !== expectTags) fail(`${tags} boundary tags set, ${expectTags} expected (a stale tag)`);
    if (caps !== n) fail(`${caps} capacities set for ${n} extents (a stale capacity)`);
    if (this.rover < 0 || (this.rover >= this.pages && this.pages > 0)) fail(`rover ${this.rover} out of range`);
  }

  metadataBytes(): number {
    return this.edge.byteLength + this.ecap.byteLength + this.starts.byteLength + this.cap.byteLength + this.cnt.byteLength;
  }
}

export function createFreelist(opts: PageStrategyOptions): PageStrategy {
  return new FreelistStrategy(opts);
}
