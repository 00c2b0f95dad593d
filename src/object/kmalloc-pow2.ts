/**
 * The classic McKusick–Karels kernel malloc (4.4BSD sys/kern/kern_malloc.c, "Design of a General
 * Purpose Memory Allocator for the 4.3BSD UNIX Kernel", USENIX 1988), on the machine's pages.
 *
 * - Every request is rounded up to a power of two, at least 1 << MINBUCKET = 16 bytes (4.4BSD's
 *   MINBUCKET 4: the smallest block must hold struct freelist). Named-cache requests are plain
 *   malloc(size) calls: there are no per-type caches (kmem_cache_create did not exist), only the
 *   shared buckets; a cache's alignment above its size rounds the request up to the alignment.
 * - A bucket ≤ MAXALLOCSAVE (2 * CLBYTES = 8 KiB) refills from one chunk of
 *   clrnd(btoc(allocsize)) pages: one page for buckets up to 4 KiB, two (an order-1 block) for 8 KiB,
 *   carved into the bucket's free list from the highest address down (kb_next = va + npg*NBPG -
 *   allocsize). malloc takes the head of the list; free appends at the tail (kb_last), as 4.4BSD
 *   does (FreeBSD later switched to LIFO).
 * - Larger requests take roundup(size, CLBYTES) pages from kmem_malloc and give them back on free.
 *   The page allocator here hands out 2^order blocks, so they take get_order(size) (order rounding).
 * - 4.4BSD never returns bucket pages: ku_freecnt only feeds the kb_couldfree statistic. The
 *   default models that (pages held only grow). Variant `kmalloc-pow2:return` gives a chunk back to
 *   the page allocator as soon as all of its blocks are free.
 * - Bucket pages are unmovable (the caller's gfp without mobility or zone bits: one bucket serves
 *   every caller); large blocks take the caller's gfp | __GFP_COMP, as kmalloc_large does.
 * - kmalloc(0) is served as a 16-byte block.
 */
import { AllocbenchError, InvariantError } from '../errors.js';
import * as gfpModule from '../machine/gfp.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import type { CacheDef } from '../trace/trace.js';
import * as slabGeometry from './slab-geometry.js';
import type { CacheStat, ObjectStrategy, ObjectStrategyFactory, ObjectStrategyOptions, ObjectUsage } from './strategy.js';
import type { PageSource } from '../machine/page-source.js';
import * as reallocModule from './realloc.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { __GFP_COMP, __GFP_DMA, __GFP_DMA32, __GFP_HIGHMEM, __GFP_MOVABLE, __GFP_RECLAIMABLE } = gfpModule;
const { STEP_CALL, STEP_LIST, STEP_OBJ_FAST, STEP_OBJ_SLOW, tick, ticks } = stepsModule;
const { getOrder, PAGE_SIZE } = slabGeometry;
const { reallocInSizeClass } = reallocModule;

export const MINBUCKET = 4;
/** MAXALLOCSAVE = 2 * CLBYTES (CLBYTES = one 4 KiB page on i386/x86) */
export const MAXALLOCSAVE = 8192;
const MAXBUCKET = 13; // log2(MAXALLOCSAVE)
const NBUCKETS = MAXBUCKET + 1;
const BUCKET_PAGE_GFP_STRIP = __GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM | __GFP_MOVABLE | __GFP_RECLAIMABLE;

/** BUCKETINDX(size): the smallest indx with 1 << indx >= size, at least MINBUCKET */
export function bucketIndex(size: number): number {
  if (size <= 1 << MINBUCKET) return MINBUCKET;
  return 32 - Math.clz32(size - 1);
}

class KmallocPow2 implements ObjectStrategy {
  readonly name: string;
  private readonly pages: PageSource;
  private readonly steps: Steps;
  private readonly giveBack: boolean;
  /** pfn → chunk + 1 for bucket pages, -(order + 1) on the head page of a large block, else 0 */
  private readonly pageChunk: Int32Array;

  // per bucket: free list head/tail (node ids), elements per chunk, chunk order, live count, chunks
  private readonly head = new Int32Array(NBUCKETS).fill(-1);
  private readonly tail = new Int32Array(NBUCKETS).fill(-1);
  private readonly elm = new Int32Array(NBUCKETS);
  private readonly chunkOrderOf = new Int32Array(NBUCKETS);
  private readonly live = new Float64Array(NBUCKETS);
  private readonly chunksOf = new Int32Array(NBUCKETS);
  /** stack of spare chunk records per bucket (they keep their node area) */
  private readonly spare = new Int32Array(NBUCKETS).fill(-1);

  // chunk records
  private nChunks = 0;
  private chunkPfn: Int32Array = new Int32Array(0);
  private chunkBucket: Uint8Array = new Uint8Array(0);
  private chunkFree: Int32Array = new Int32Array(0);
  private chunkBase: Int32Array = new Int32Array(0);
  /** 1 when backed by pages, 0 when a spare record; also links spares */
  private chunkLive: Uint8Array = new Uint8Array(0);
  private chunkSpareNext: Int32Array = new Int32Array(0);

  // free-list nodes, one per block: doubly linked so the `return` variant can unlink a chunk
  private nNodes = 0;
  private nodeNext: Int32Array = new Int32Array(0);
  private nodePrev: Int32Array = new Int32Array(0);
  private nodeChunk: Int32Array = new Int32Array(0);

  private bytesReserved = 0;
  private pagesHeld = 0;
  private largePages = 0;
  private readonly cacheSize: number[] = [];
  private readonly ctr = {
    allocs: 0, frees: 0, refills: 0, chunks_returned: 0, large_allocs: 0, large_frees: 0, oom: 0,
    unknown_free: 0, unknown_cache: 0, realloc_in_place: 0, realloc_moved: 0,
  };

  constructor(opts: ObjectStrategyOptions) {
    if (opts.variant !== undefined && opts.variant !== 'return') throw new AllocbenchError(`kmalloc-pow2: unknown variant "${opts.variant}" (known: return)`);
    this.giveBack = opts.variant === 'return';
    this.name = this.giveBack ? 'kmalloc-pow2:return' : 'kmalloc-pow2';
    this.pages = opts.pages;
    this.steps = opts.steps;
    this.pageChunk = new Int32Array(opts.pages.totalPfns);
    for (let b = MINBUCKET; b <= MAXBUCKET; b++) {
      const npg = Math.max(1, (1 << b) / PAGE_SIZE);
      this.chunkOrderOf[b] = npg === 1 ? 0 : 31 - Math.clz32(npg);
      this.elm[b] = (npg * PAGE_SIZE) >> b;
    }
  }

  private growChunks(): void {
    const n = Math.max(64, this.chunkPfn.length * 2);
    const g32 = (a: Int32Array): Int32Array => { const x = new Int32Array(n); x.set(a); return x; };
    const g8 = (a: Uint8Array): Uint8Array => { const x = new Uint8Array(n); x.set(a); return x; };
    this.chunkPfn = g32(this.chunkPfn);
    this.chunkBucket = g8(this.chunkBucket);
    this.chunkFree = g32(this.chunkFree);
    this.chunkBase = g32(this.chunkBase);
    this.chunkLive = g8(this.chunkLive);
    this.chunkSpareNext = g32(this.chunkSpareNext);
  }

  private growNodes(need: number): void {
    const n = Math.max(need, this.nodeNext.length * 2, 1024);
    const g32 = (a: Int32Array): Int32Array => { const x = new Int32Array(n); x.set(a); return x; };
    this.nodeNext = g32(this.nodeNext);
    this.nodePrev = g32(this.nodePrev);
    this.nodeChunk = g32(this.nodeChunk);
  }

  /** malloc()'s refill: a chunk of pages carved into the bucket's free list, highest block first. */
  private refill(b: number, gfp: number): boolean {
    const order = this.chunkOrderOf[b]!;
    const pfn = this.pages.allocPages(order, (gfp & ~BUCKET_PAGE_GFP_STRIP) | (order > 0 ? __GFP_COMP : 0));
    if (pfn < 0) return false;
    const elm = this.elm[b]!;
    let c = this.spare[b]!;
    if (c >= 0) {
      this.spare[b] = this.chunkSpareNext[c]!;
    } else {
      if (this.nChunks === this.chunkPfn.length) this.growChunks();
      c = this.nChunks++;
      if (this.nNodes + elm > this.nodeNext.length) this.growNodes(this.nNodes + elm);
      this.chunkBase[c] = this.nNodes;
      for (let i = 0; i < elm; i++) this.nodeChunk[this.nNodes + i] = c;
      this.nNodes += elm;
      this.chunkBucket[c] = b;
    }
    this.chunkPfn[c] = pfn;
    this.chunkFree[c] = elm;
    this.chunkLive[c] = 1;
    const npg = 1 << order;
    for (let i = 0; i < npg; i++) this.pageChunk[pfn + i] = c + 1;
    this.pagesHeld += npg;
    this.chunksOf[b] = this.chunksOf[b]! + 1;
    // list = base+elm-1, ..., base+0, then whatever was on the list (empty: refill runs only then)
    const base = this.chunkBase[c]!;
    const nx = this.nodeNext;
    const pv = this.nodePrev;
    const oldHead = this.head[b]!;
    for (let i = elm - 1; i >= 0; i--) {
      nx[base + i] = i > 0 ? base + i - 1 : oldHead;
      pv[base + i] = i < elm - 1 ? base + i + 1 : -1;
    }
    if (oldHead >= 0) pv[oldHead] = base;
    else this.tail[b] = base;
    this.head[b] = base + elm - 1;
    this.ctr.refills++;
    return true;
  }

  private bucketAlloc(b: number, gfp: number): number {
    if (this.head[b]! < 0) {
      tick(this.steps, STEP_OBJ_SLOW);
      if (!this.refill(b, gfp)) {
        this.ctr.oom++;
        return -1;
      }
    } else {
      tick(this.steps, STEP_OBJ_FAST);
    }
    const n = this.head[b]!;
    const next = this.nodeNext[n]!;
    this.head[b] = next;
    if (next >= 0) this.nodePrev[next] = -1;
    else this.tail[b] = -1;
    const c = this.nodeChunk[n]!;
    this.chunkFree[c] = this.chunkFree[c]! - 1;
    this.live[b] = this.live[b]! + 1;
    this.bytesReserved += 1 << b;
    this.ctr.allocs++;
    return this.chunkPfn[c]! * PAGE_SIZE + ((n - this.chunkBase[c]!) << b);
  }

  private largeAlloc(bytes: number, gfp: number): number {
    const order = getOrder(bytes);
    const pfn = this.pages.allocPages(order, gfp | __GFP_COMP);
    if (pfn < 0) {
      this.ctr.oom++;
      return -1;
    }
    tick(this.steps, STEP_OBJ_SLOW);
    this.pageChunk[pfn] = -(order + 1);
    const npg = 1 << order;
    this.pagesHeld += npg;
    this.largePages += npg;
    this.bytesReserved += npg * PAGE_SIZE;
    this.ctr.large_allocs++;
    return pfn * PAGE_SIZE;
  }

  private mallocBytes(bytes: number, gfp: number): number {
    if (bytes > MAXALLOCSAVE) return this.largeAlloc(bytes, gfp);
    return this.bucketAlloc(bucketIndex(bytes), gfp);
  }

  alloc(bytes: number, gfp: number): number {
    tick(this.steps, STEP_CALL);
    return this.mallocBytes(bytes, gfp);
  }

  free(addr: number): void {
    tick(this.steps, STEP_CALL);
    const pfn = Math.floor(addr / PAGE_SIZE);
    const v = pfn >= 0 && pfn < this.pageChunk.length ? this.pageChunk[pfn]! : 0;
    if (v > 0) {
      const c = v - 1;
      const b = this.chunkBucket[c]!;
      const n = this.chunkBase[c]! + ((addr - this.chunkPfn[c]! * PAGE_SIZE) >> b);
      // append at the tail (kb_last), 4.4BSD order
      const t = this.tail[b]!;
      this.nodeNext[n] = -1;
      this.nodePrev[n] = t;
      if (t >= 0) this.nodeNext[t] = n;
      else this.head[b] = n;
      this.tail[b] = n;
      this.live[b] = this.live[b]! - 1;
      this.bytesReserved -= 1 << b;
      this.ctr.frees++;
      tick(this.steps, STEP_OBJ_FAST);
      const nfree = this.chunkFree[c]! + 1;
      this.chunkFree[c] = nfree;
      if (nfree === this.elm[b]! && this.giveBack) this.returnChunk(c, b);
    } else if (v < 0 && addr === pfn * PAGE_SIZE) {
      const order = -v - 1;
      this.pageChunk[pfn] = 0;
      this.pages.freePages(pfn, order);
      const npg = 1 << order;
      this.pagesHeld -= npg;
      this.largePages -= npg;
      this.bytesReserved -= npg * PAGE_SIZE;
      this.ctr.large_frees++;
      tick(this.steps, STEP_OBJ_SLOW);
    } else {
      this.ctr.unknown_free++;
    }
  }

  /** variant `return`: unlink every block of an all-free chunk and free its pages. */
  private returnChunk(c: number, b: number): void {
    const base = this.chunkBase[c]!;
    const elm = this.elm[b]!;
    const nx = this.nodeNext;
    const pv = this.nodePrev;
    for (let i = 0; i < elm; i++) {
      const n = base + i;
      const p = pv[n]!;
      const q = nx[n]!;
      if (p >= 0) nx[p] = q;
      else this.head[b] = q;
      if (q >= 0) pv[q] = p;
      else this.tail[b] = p;
    }
    ticks(this.steps, STEP_LIST, elm);
    tick(this.steps, STEP_OBJ_SLOW);
    const order = this.chunkOrderOf[b]!;
    const pfn = this.chunkPfn[c]!;
    for (let i = 0; i < 1 << order; i++) this.pageChunk[pfn + i] = 0;
    this.pages.freePages(pfn, order);
    this.pagesHeld -= 1 << order;
    this.chunksOf[b] = this.chunksOf[b]! - 1;
    this.chunkLive[c] = 0;
    this.chunkSpareNext[c] = this.spare[b]!;
    this.spare[b] = c;
    this.ctr.chunks_returned++;
  }

  private blockSize(addr: number): number {
    const pfn = Math.floor(addr / PAGE_SIZE);
    const v = pfn >= 0 && pfn < this.pageChunk.length ? this.pageChunk[pfn]! : 0;
    if (v > 0) return 1 << this.chunkBucket[v - 1]!;
    if (v < 0) return PAGE_SIZE << (-v - 1);
    return -1;
  }

  /** realloc(): the same block while it is big enough (4.4BSD/NetBSD kern_realloc), else malloc + copy + free. */
  realloc(addr: number, newBytes: number, gfp: number): number {
    return reallocInSizeClass(this, this.steps, this.ctr, addr, this.blockSize(addr), newBytes, gfp);
  }

  createCache(index: number, def: CacheDef): void {
    this.cacheSize[index] = Math.max(def.size, def.align);
  }

  cacheAlloc(index: number, gfp: number): number {
    tick(this.steps, STEP_CALL);
    const size = this.cacheSize[index];
    if (size === undefined) {
      this.ctr.unknown_cache++;
      return -1;
    }
    return this.mallocBytes(size, gfp);
  }

  cacheFree(_index: number, addr: number): void {
    this.free(addr);
  }

  usage(): ObjectUsage {
    return { bytesReserved: this.bytesReserved, pagesHeld: this.pagesHeld };
  }

  /** One line per bucket, named kmalloc-pow2-<size>, in the columns of /proc/slabinfo. */
  caches(): CacheStat[] {
    const out: CacheStat[] = [];
    for (let b = MAXBUCKET; b >= MINBUCKET; b--) {
      const size = 1 << b;
      const chunks = this.chunksOf[b]!;
      out.push({
        name: `kmalloc-pow2-${size >= 1024 ? `${size >> 10}k` : size}`,
        objsize: size,
        slotSize: size,
        objperslab: this.elm[b]!,
        pagesperslab: 1 << this.chunkOrderOf[b]!,
        activeObjs: this.live[b]!,
        numObjs: chunks * this.elm[b]!,
        activeSlabs: chunks,
        numSlabs: chunks,
      });
    }
    return out;
  }

  counters(): Record<string, number> {
    return { ...this.ctr, large_pages: this.largePages, bucket_pages: this.pagesHeld - this.largePages };
  }

  check(): void {
    const fail = (m: string): never => { throw new InvariantError(`${this.name}: ${m}`); };
    const onList = new Uint8Array(this.nNodes);
    const freeOf = new Int32Array(this.nChunks);
    let reserved = 0;
    let pages = 0;
    for (let b = MINBUCKET; b <= MAXBUCKET; b++) {
      let prev = -1;
      let n = 0;
      for (let x = this.head[b]!; x >= 0; x = this.nodeNext[x]!) {
        if (x >= this.nNodes) fail(`bucket ${b}: node ${x} out of range`);
        if (onList[x]) fail(`bucket ${b}: node ${x} twice on free lists`);
        onList[x] = 1;
        if (this.nodePrev[x] !== prev) fail(`bucket ${b}: prev link broken at ${x}`);
        const c = this.nodeChunk[x]!;
        if (this.chunkBucket[c] !== b || !this.chunkLive[c]) fail(`bucket ${b}: node ${x} of chunk ${c} (bucket ${this.chunkBucket[c]}, live ${this.chunkLive[c]})`);
        freeOf[c] = freeOf[c]! + 1;
        prev = x;
        n++;
      }
      if (this.tail[b] !== prev) fail(`bucket ${b}: tail ${this.tail[b]} != ${prev}`);
      let chunks = 0;
      for (let c = 0; c < this.nChunks; c++) if (this.chunkLive[c] && this.chunkBucket[c] === b) chunks++;
      if (chunks !== this.chunksOf[b]) fail(`bucket ${b}: ${this.chunksOf[b]} chunks counted, ${chunks} live`);
      if (chunks * this.elm[b]! - n !== this.live[b]) fail(`bucket ${b}: live ${this.live[b]} != ${chunks * this.elm[b]! - n}`);
      reserved += this.live[b]! * (1 << b);
      pages += chunks << this.chunkOrderOf[b]!;
    }
    for (let c = 0; c < this.nChunks; c++) {
      if (!this.chunkLive[c]) continue;
      if (freeOf[c] !== this.chunkFree[c]) fail(`chunk ${c}: free ${this.chunkFree[c]} != ${freeOf[c]} on the list`);
      if (this.giveBack && freeOf[c] === this.elm[this.chunkBucket[c]!]) fail(`chunk ${c}: all free but not returned`);
      const pfn = this.chunkPfn[c]!;
      for (let i = 0; i < 1 << this.chunkOrderOf[this.chunkBucket[c]!]!; i++) {
        if (this.pageChunk[pfn + i] !== c + 1) fail(`page ${pfn + i} does not map to chunk ${c}`);
      }
    }
    let large = 0;
    for (let p = 0; p < this.pageChunk.length; p++) if (this.pageChunk[p]! < 0) large += 1 << (-this.pageChunk[p]! - 1);
    if (large !== this.largePages) fail(`large pages ${this.largePages} != ${large}`);
    if (pages + large !== this.pagesHeld) fail(`pages held ${this.pagesHeld} != ${pages + large}`);
    if (reserved + large * PAGE_SIZE !== this.bytesReserved) fail(`bytes reserved ${this.bytesReserved} != ${reserved + large * PAGE_SIZE}`);
  }
}

export const createKmallocPow2: ObjectStrategyFactory = (opts) => new KmallocPow2(opts);
