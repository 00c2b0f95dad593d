/**
 * SLUB (Linux 6.x mm/slub.c, mm/slab_common.c) on the simulated machine's page allocator.
 *
 * What is modelled:
 * - kmalloc caches kmalloc-8 … kmalloc-8k with the kernel's size index (slab-geometry.ts),
 *   kmalloc-rcl-* for __GFP_RECLAIMABLE requests and dma-kmalloc-* for __GFP_DMA (kmalloc_type():
 *   DMA wins over RECLAIM); memcg (kmalloc-cg-*) and random kmalloc caches are not modelled, those
 *   requests use kmalloc-*. kmalloc(0) is served as kmalloc(1) instead of ZERO_SIZE_PTR so that
 *   every live address is a real slot.
 * - kmalloc above KMALLOC_MAX_CACHE_SIZE (8 KiB): kmalloc_large(), a compound page of
 *   get_order(size) with gfp | __GFP_COMP straight from the page allocator.
 * - Slab geometry exactly as calculate_sizes()/calculate_order() (slab-geometry.ts); when the
 *   preferred order fails, allocate_slab() retries with s->min (get_order(size)).
 * - Slab page gfp as new_slab()/allocate_slab(): the caller's gfp & (GFP_RECLAIM_MASK |
 *   GFP_CONSTRAINT_MASK) — mobility and zone bits are stripped — | s->allocflags (__GFP_COMP for
 *   order > 0, __GFP_RECLAIMABLE for SLAB_RECLAIM_ACCOUNT, GFP_DMA for dma-kmalloc).
 * - One active slab per CPU per cache (kmem_cache_cpu->slab). An operation runs on the CPU the
 *   replay's cursor names (ObjectStrategyOptions.cpuCursor: the event's CPU in a kernel trace, the
 *   thread's CPU in a user trace, run/event-cpu.ts), CPU 0 without one; `cpus` also sets min_objects
 *   (num_present_cpus()). A free into another CPU's active slab is __slab_free() on a frozen slab:
 *   the object goes back on that slab's free list, the slow path, no list change (free_remote).
 *   So more CPUs pin more partly-used slabs, as on a real machine.
 * - With `slub:cpu-partial=on`, per-CPU partial lists (CONFIG_SLUB_CPU_PARTIAL=y, as Debian's and
 *   most distributions' kernels; the rules are 6.12 mm/slub.c's and, for what is modelled, 6.1's,
 *   where these slabs are also frozen; on by default, see cpuPartialOption()). A free that makes
 *   a full slab partial puts it on the freeing CPU's partial list
 *   (__slab_free → put_cpu_partial); when that list already holds s->cpu_partial_slabs slabs
 *   (slab-geometry.ts cpuPartialSlabs), the whole list goes to the node first (__put_partials:
 *   each slab to the node partial list's tail, or discarded when empty and the node has min_partial
 *   partial slabs, the discards after the walk, last met first). A slab on a CPU's partial list
 *   stays there when it empties. The slow alloc path takes the CPU's partial list's head, else the
 *   node partial list's head, moving more node partial slabs to the CPU's list until it holds more
 *   than half of cpu_partial_slabs (get_partial_node), else a new slab. So empty slabs go back to
 *   the page allocator in bursts, on the CPU that frees, as a real kernel's do.
 *   Without (the default, CONFIG_SLUB_CPU_PARTIAL=n): a free into a full slab puts it at the tail
 *   of the node partial list (DEACTIVATE_TO_TAIL), the slow path takes the node list's head.
 * - A slab on the node partial list that empties is discarded (discard_slab → pages back to the
 *   page allocator) when the node already has min_partial partial slabs, else it stays.
 * - Free lists are LIFO per slab; a new slab's free list is in address order
 *   (CONFIG_SLAB_FREELIST_RANDOM off, for determinism). No debugging metadata: the free pointer
 *   lives inside the object, so s->size = ALIGN(ALIGN(object_size, 8), align). Constructors and
 *   SLAB_TYPESAFE_BY_RCU (free pointer after the object) are not in the trace model.
 * - No cache merging (__kmem_cache_alias): every created cache is its own cache.
 */
import { mutation } from '../mutation.js';
import { AllocbenchError, InvariantError } from '../errors.js';
import * as gfpModule from '../machine/gfp.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import { CACHE_HWCACHE_ALIGN, CACHE_RECLAIMABLE } from '../trace/ops.js';
import type { CacheDef } from '../trace/trace.js';
import * as slabGeometry from './slab-geometry.js';
import type { CpuCursor } from '../machine/cpu-cursor.js';
import { CACHE_UNKNOWN, type CacheStat, type PreTraceSlabRows, type ObjectStrategy, type ObjectStrategyFactory, type ObjectStrategyOptions, type ObjectUsage } from './strategy.js';
import type { PageSource } from '../machine/page-source.js';
import * as reallocModule from './realloc.js';

// Constants and helpers of other modules as constants of this one (as page/buddy.ts: optimized code
// loads an imported binding through its module's cell and checks it for the temporal dead zone at
// every use, where a const of this module costs at most one load).
const {
  __GFP_COMP, __GFP_DIRECT_RECLAIM, __GFP_DMA, __GFP_FS, __GFP_HARDWALL, __GFP_HIGH, __GFP_IO, __GFP_MEMALLOC, __GFP_NOFAIL,
  __GFP_NOMEMALLOC, __GFP_NORETRY, __GFP_NOWARN, __GFP_RECLAIM, __GFP_RECLAIMABLE, __GFP_RETRY_MAYFAIL,
  __GFP_THISNODE,
} = gfpModule;
const { STEP_CALL, STEP_LIST, STEP_NS, STEP_OBJ_FAST, STEP_OBJ_SLOW, STEP_PRICE, tick } = stepsModule;
const {
  cacheGeometry, getOrder, KMALLOC_INDICES, KMALLOC_MAX_CACHE_SIZE, kmallocIndex, kmallocSizeOfIndex,
  kmallocSuffix, PAGE_SIZE,
} = slabGeometry;
const { reallocInSizeClass } = reallocModule;

/** GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK (mm/internal.h): what new_slab() keeps of the caller's gfp */
const SLAB_GFP_KEEP = __GFP_RECLAIM | __GFP_HIGH | __GFP_IO | __GFP_FS | __GFP_NOWARN | __GFP_RETRY_MAYFAIL |
  __GFP_NOFAIL | __GFP_NORETRY | __GFP_MEMALLOC | __GFP_NOMEMALLOC | __GFP_HARDWALL | __GFP_THISNODE;

const KMALLOC_NORMAL = 0;
const KMALLOC_RECLAIM = 1;
const KMALLOC_DMA = 2;
const KMALLOC_TYPES = 3;
const KMALLOC_PREFIX = ['kmalloc-', 'kmalloc-rcl-', 'dma-kmalloc-'];
const KMALLOC_ALLOCFLAGS = [0, __GFP_RECLAIMABLE, __GFP_DMA];
/** slots per type in the kmalloc table: indices 0..13 */
const KTAB = 14;
/**
 * kmalloc_index() of every request size 0 .. KMALLOC_MAX_CACHE_SIZE, by ceil(bytes / 8): looked up
 * instead of computed per kmalloc (issue 17: the size table and fls() in floating point took ~25
 * instructions and a tenth of V8's inlining budget of the replay's alloc). Sizes 8k-7 .. 8k share an
 * entry: every kmalloc size boundary (8, 16, ..., 192, then powers of two) is a multiple of 8.
 * Entry 0, kmalloc(0), is kmalloc(1)'s (see the header).
 */
const KMALLOC_INDEX_BY_8 = Uint8Array.from({ length: (KMALLOC_MAX_CACHE_SIZE >> 3) + 1 }, (_, j) => kmallocIndex(Math.max(1, 8 * j)));

// Short names for the constants the hot paths use.
const CALL = STEP_CALL, FAST = STEP_OBJ_FAST, SLOW = STEP_OBJ_SLOW, LIST = STEP_LIST, NS = STEP_NS, PRICE = STEP_PRICE;
const PAGE = PAGE_SIZE, MAX_CACHE_SIZE = KMALLOC_MAX_CACHE_SIZE, GFP_DMA_ = __GFP_DMA, GFP_RCL = __GFP_RECLAIMABLE;

/**
 * tick(s, STEP_CALL) then tick(s, k) (machine/steps.ts) in one update of the priced total: the same
 * counts and the same two additions in the same order, so the same rounding. A const, not a
 * function declaration (a mutable binding): V8 then calls it without loading it from the module.
 */
const tickCall = (s: Steps, k: number): void => {
  s[CALL]!++;
  s[k]!++;
  s[NS] = s[NS]! + s[PRICE + CALL]! + s[PRICE + k]!;
};

/**
 * A slab record (struct slab) is STRIDE consecutive numbers of one Int32Array, so that an alloc or
 * free touches one cache line of slab state (plus its slot's free pointer), as the kernel's struct
 * slab overlaid on the head page: separate columns per field cost a line each.
 */
const STRIDE = 8;
const R_NFREE = 0; // free objects: the height of the slab's free-slot stack
const R_INUSE = 1; // objects handed out
const R_PFN = 2; //   first page
const R_BASE = 3; //  start of the slab's area in freeSlots
const R_CACHE = 4; // owning cache id
const R_STATE = 5; // S_*
const R_PREV = 6; //  partial list (and the spare stack, through R_NEXT)
const R_NEXT = 7;

/** slab record states */
const S_SPARE = 0; // not backed by pages, kept for reuse by its cache
const S_CPU = 1; //   the cache's per-CPU active slab (frozen)
const S_PARTIAL = 2; // on the node partial list
const S_FULL = 3; //  no free objects, on no list (SLUB does not track full slabs without debugging)
const S_CPU_PARTIAL = 4; // on a CPU's partial list (kmem_cache_cpu->partial, linked through R_NEXT)

/**
 * A diagnostic's view of new_slab() (metrics/slab-timing.ts): when set, called for every slab the
 * model allocates with its cache's name, order, the gfp of the page allocation and the 0-based
 * ordinal of the object allocation that needed it (allocations so far, this one included, minus 1).
 * Unset in every run: one load and a compare per new slab.
 */
export const newSlabProbe: { fn?: ((cache: string, order: number, gfp: number, allocOrdinal: number) => void) | undefined } = {};

class SlubCache {
  /** the active slab of each CPU, -1 when none */
  readonly cpuSlab: Int32Array;
  /** each CPU's partial list (kmem_cache_cpu->partial): its head slab, -1 when empty, and its length */
  readonly cpuPartial: Int32Array;
  readonly cpuPartialCount: Int32Array;
  partialHead = -1;
  partialTail = -1;
  nrPartial = 0;
  nrSlabs = 0;
  totalObjs = 0;
  inuse = 0;
  /** stack of spare slab records (linked through R_NEXT) that keep their slot area */
  spare = -1;
  /** 1 / size: a slot index is a multiplication, not a division (see slotOf) */
  readonly inv: number;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly objectSize: number,
    /** s->size */
    readonly size: number,
    readonly order: number,
    readonly objects: number,
    readonly minOrder: number,
    readonly minObjects: number,
    readonly minPartial: number,
    /** s->cpu_partial_slabs; 0 without per-CPU partial lists */
    readonly cpuPartialSlabs: number,
    readonly allocflags: number,
    cpus: number,
  ) {
    this.cpuSlab = new Int32Array(Math.max(1, cpus)).fill(-1);
    this.cpuPartial = new Int32Array(Math.max(1, cpus)).fill(-1);
    this.cpuPartialCount = new Int32Array(Math.max(1, cpus));
    this.inv = 1 / size;
  }
}

class Slub implements ObjectStrategy {
  readonly name = 'slub';
  private readonly pages: PageSource;
  private readonly steps: Steps;
  private readonly cpus: number;
  /** the CPU of the current operation (the replay writes it); CPU 0 without one */
  private readonly cursor: CpuCursor;
  /** every cache in creation order */
  private readonly all: SlubCache[] = [];
  /** kmalloc caches by type * KTAB + index */
  private readonly kmalloc: SlubCache[] = [];
  /** named caches by trace cache index */
  private readonly named: (SlubCache | undefined)[] = [];
  /** pfn → slab record + 1, -(order + 1) for the head page of a kmalloc_large block, 0 otherwise */
  private readonly pageSlab: Int32Array;

  // slab records (struct slab), growable
  private cap = 0;
  private nSlabs = 0;
  /** STRIDE numbers per record (R_*) */
  private rec: Int32Array = new Int32Array(0);
  /** cold fields, read when a slab is discarded and by the statistics */
  private slabOrder: Uint8Array = new Uint8Array(0);
  private slabObjs: Int32Array = new Int32Array(0);
  /**
   * Each slab's free list as a stack of slot numbers (the top is the head: LIFO, as SLUB's free
   * pointer chain), in the slab's area of objects entries: consecutive pops and pushes touch one
   * cache line, where a chain through per-slot next pointers jumps around the slab's area.
   * 16 bits, as a slab holds at most MAX_OBJS_PER_PAGE objects (halves the cache footprint)
   */
  private freeSlots: Int16Array = new Int16Array(0);
  private slotUsed = 0;
  /** the per-CPU slab arrays' length: max(1, cpus) */
  private readonly ncpu: number;

  private pagesHeld = 0;
  private largePages = 0;
  private largeBytes = 0;
  /** false under the test-only mutation slub-no-partial (src/mutation.ts) */
  private readonly usePartial = !mutation('slub-no-partial');
  /** CONFIG_SLUB_CPU_PARTIAL (`slub:cpu-partial=on`); off with the partial lists under the mutation */
  private readonly cpuPartialOn: boolean;
  /**
   * The counters. allocs (alloc_fast + alloc_slow - slab allocations that failed) and frees
   * (free_fast + free_slow) are derived in counters(): two fewer updates per operation.
   */
  private readonly ctr = {
    alloc_fast: 0, alloc_slow: 0, free_fast: 0, free_slow: 0, partial_taken: 0,
    slabs_allocated: 0, slabs_freed: 0, slab_min_order_fallback: 0, large_allocs: 0, large_frees: 0,
    oom: 0, unknown_free: 0, unknown_cache: 0, realloc_in_place: 0, realloc_moved: 0,
  };
  /** slab allocations that found no memory (counted in oom with the large ones) */
  private slabOom = 0;
  /** frees into another CPU's active slab (only reported when there were any: one-CPU replays keep their counters) */
  private freeRemote = 0;
  /** slabs taken from a CPU's partial list (CPU_PARTIAL_ALLOC) and lists sent to the node (CPU_PARTIAL_DRAIN); reported with cpu-partial=on only */
  private cpuPartialAlloc = 0;
  private cpuPartialDrain = 0;
  /** per kmem_cache_alloc of the replay, the cache it allocates from (remapCacheAllocs()), and the allocations so far */
  private allocRemap: Int32Array | undefined = undefined;
  private cacheAllocs = 0;
  /** the pre-trace objects the trace frees in the start's slabs (startSlabs()) */
  preTraceObjects?: { ids: Int32Array; addr: Float64Array };

  constructor(opts: ObjectStrategyOptions) {
    this.pages = opts.pages;
    this.steps = opts.steps;
    this.cpus = opts.cpus;
    this.cpuPartialOn = cpuPartialOption(opts.variant) && this.usePartial;
    this.cursor = opts.cpuCursor ?? { cpu: 0 };
    this.ncpu = Math.max(1, opts.cpus);
    this.pageSlab = new Int32Array(opts.pages.totalPfns);
    // create_kmalloc_caches(): per type, per index in creation order (96, 192, 8, ..., 8k)
    for (let type = 0; type < KMALLOC_TYPES; type++) {
      for (const i of KMALLOC_INDICES) {
        const size = kmallocSizeOfIndex(i);
        // power-of-two kmalloc caches are naturally aligned (create_boot_cache), which does not
        // change s->size; 96 and 192 get ARCH_KMALLOC_MINALIGN
        const c = this.newCache(KMALLOC_PREFIX[type]! + kmallocSuffix(i), size, 8, false, KMALLOC_ALLOCFLAGS[type]!);
        this.kmalloc[type * KTAB + i] = c;
      }
    }
  }

  private newCache(name: string, objectSize: number, align: number, hwcache: boolean, allocflags: number): SlubCache {
    const g = cacheGeometry(objectSize, align, hwcache, this.cpus);
    const c = new SlubCache(this.all.length, name, objectSize, g.size, g.order, g.objects, g.minOrder, g.minObjects, g.minPartial,
      this.cpuPartialOn ? g.cpuPartialSlabs : 0, allocflags, this.cpus);
    this.all.push(c);
    return c;
  }

  // ---- slab records -------------------------------------------------------------------------

  private grow(): void {
    const n = Math.max(64, this.cap * 2);
    const rec = new Int32Array(n * STRIDE);
    rec.set(this.rec);
    this.rec = rec;
    const order = new Uint8Array(n);
    order.set(this.slabOrder);
    this.slabOrder = order;
    const objs = new Int32Array(n);
    objs.set(this.slabObjs);
    this.slabObjs = objs;
    this.cap = n;
  }

  /** A record for cache c: a spare one of that cache (its slot area fits), else a fresh one. */
  private takeRecord(c: SlubCache): number {
    const s = c.spare;
    if (s >= 0) {
      c.spare = this.rec[s * STRIDE + R_NEXT]!;
      return s;
    }
    if (this.nSlabs === this.cap) this.grow();
    const r = this.nSlabs++;
    const need = this.slotUsed + c.objects;
    if (need > this.freeSlots.length) {
      const b = new Int16Array(Math.max(need, this.freeSlots.length * 2, 1024));
      b.set(this.freeSlots);
      this.freeSlots = b;
    }
    this.rec[r * STRIDE + R_BASE] = this.slotUsed;
    this.rec[r * STRIDE + R_CACHE] = c.id;
    this.slotUsed = need;
    return r;
  }

  /** new_slab() → allocate_slab(): pages for a slab of c, or -1 when the machine is out of memory. */
  private newSlab(c: SlubCache, gfp: number): number {
    const base = (gfp & SLAB_GFP_KEEP) | c.allocflags;
    let order = c.order;
    let objs = c.objects;
    // the preferred order is tried with __GFP_NOWARN | __GFP_NORETRY, without __GFP_NOFAIL; above
    // s->min, a request that may reclaim tries it without reclaiming, with __GFP_NOMEMALLOC (6.1/6.12
    // allocate_slab(): "let the initial higher-order allocation fail under memory pressure")
    let first = (base | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_NOFAIL;
    if ((first & __GFP_DIRECT_RECLAIM) !== 0 && order > c.minOrder) first = (first | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
    let pfn = this.pages.allocPages(order, first | (order > 0 ? __GFP_COMP : 0));
    if (pfn < 0 && c.minOrder < order) {
      order = c.minOrder;
      objs = c.minObjects;
      pfn = this.pages.allocPages(order, base | (order > 0 ? __GFP_COMP : 0));
      if (pfn >= 0) this.ctr.slab_min_order_fallback++;
    }
    if (pfn < 0) return -1;
    const probe = newSlabProbe.fn;
    if (probe !== undefined) {
      const k = this.ctr;
      probe(c.name, order, base | (order > 0 ? __GFP_COMP : 0), k.alloc_fast + k.alloc_slow + k.large_allocs + k.unknown_cache - 1);
    }
    const r = this.takeRecord(c);
    const rec = this.rec, o = r * STRIDE;
    rec[o + R_PFN] = pfn;
    rec[o + R_INUSE] = 0;
    rec[o + R_PREV] = -1;
    rec[o + R_NEXT] = -1;
    this.slabOrder[r] = order;
    this.slabObjs[r] = objs;
    // the free list in address order, as shuffle_freelist() off leaves it
    const sb = rec[o + R_BASE]!;
    const fs = this.freeSlots;
    for (let i = 0; i < objs; i++) fs[sb + i] = objs - 1 - i;
    rec[o + R_NFREE] = objs;
    const npages = 1 << order;
    const ps = this.pageSlab;
    for (let i = 0; i < npages; i++) ps[pfn + i] = r + 1;
    this.pagesHeld += npages;
    c.nrSlabs++;
    c.totalObjs += objs;
    this.ctr.slabs_allocated++;
    return r;
  }

  /** discard_slab(): pages back to the page allocator, the record to the cache's spares. */
  private discardSlab(c: SlubCache, r: number): void {
    const o = r * STRIDE;
    const pfn = this.rec[o + R_PFN]!;
    const order = this.slabOrder[r]!;
    const npages = 1 << order;
    const ps = this.pageSlab;
    for (let i = 0; i < npages; i++) ps[pfn + i] = 0;
    this.pages.freePages(pfn, order);
    this.pagesHeld -= npages;
    c.nrSlabs--;
    c.totalObjs -= this.slabObjs[r]!;
    this.rec[o + R_STATE] = S_SPARE;
    this.rec[o + R_NEXT] = c.spare;
    c.spare = r;
    this.ctr.slabs_freed++;
  }

  /** Slab r at the tail of c's node partial list; `priced` false for the start state (no event made it). */
  private addPartialTail(c: SlubCache, r: number, priced = true): void {
    const rec = this.rec, o = r * STRIDE, t = c.partialTail;
    rec[o + R_STATE] = S_PARTIAL;
    rec[o + R_NEXT] = -1;
    rec[o + R_PREV] = t;
    if (t >= 0) rec[t * STRIDE + R_NEXT] = r;
    else c.partialHead = r;
    c.partialTail = r;
    c.nrPartial++;
    if (priced) tick(this.steps, STEP_LIST);
  }

  private removePartial(c: SlubCache, r: number): void {
    const rec = this.rec, o = r * STRIDE;
    const p = rec[o + R_PREV]!;
    const n = rec[o + R_NEXT]!;
    if (p >= 0) rec[p * STRIDE + R_NEXT] = n;
    else c.partialHead = n;
    if (n >= 0) rec[n * STRIDE + R_PREV] = p;
    else c.partialTail = p;
    c.nrPartial--;
    tick(this.steps, STEP_LIST);
  }

  // ---- alloc / free -------------------------------------------------------------------------
  // The hot paths are kept small (the slow paths are methods of their own) so that V8 inlines them
  // into the replay loop, where an address (a double above 2^31) then needs no heap box.

  /** The current CPU's index into a cache's cpuSlab (a cursor beyond the machine's CPUs folds onto them). */
  private cpu(): number {
    const cpu = this.cursor.cpu;
    return cpu < this.ncpu ? cpu : cpu % this.ncpu;
  }

  /** slab_alloc(): the cpu slab's free list, else ___slab_alloc() (partial list, new slab). */
  private slabAlloc(c: SlubCache, gfp: number): number {
    const cpu = this.cpu();
    let rec = this.rec;
    let r = c.cpuSlab[cpu]!;
    // one tickCall() for both inlined paths (V8 inlines this whole path into the replay's alloc
    // within its budget; issue 17); refill() ticks its own
    let k = FAST;
    if (r >= 0 && rec[r * STRIDE + R_NFREE]! > 0) this.ctr.alloc_fast++;
    else if (r >= 0 && c.cpuPartial[cpu]! >= 0) {
      r = this.takeCpuPartial(c, cpu, r);
      k = SLOW;
    } else {
      r = this.refill(c, gfp);
      if (r < 0) return -1;
      rec = this.rec; // refill() may have grown the records
      k = -1;
    }
    if (k >= 0) tickCall(this.steps, k);
    const o = r * STRIDE;
    const n = rec[o + R_NFREE]! - 1;
    const slot = this.freeSlots[rec[o + R_BASE]! + n]!;
    rec[o + R_NFREE] = n;
    rec[o + R_INUSE] = rec[o + R_INUSE]! + 1;
    c.inuse++;
    return rec[o + R_PFN]! * PAGE + slot * c.size;
  }

  /**
   * refill()'s most frequent case, small enough that V8 inlines it into slabAlloc() (issue 17: on the
   * native 1 M-object trace about half the allocations come this way; a call of refill() cost ~180
   * instructions): cpu slab r is exhausted, it is unfrozen as a full slab (get_freelist() returned
   * NULL) and the head of this CPU's partial list becomes the cpu slab (slub_percpu_partial(c): its
   * slabs only ever got objects back, so the head has a free one). The same steps as refill(), but
   * its tickCall(SLOW) is slabAlloc()'s, after the list step: the prices are whole numbers, so the
   * priced total is the same sum.
   */
  private takeCpuPartial(c: SlubCache, cpu: number, r: number): number {
    const rec = this.rec, s = this.steps;
    this.ctr.alloc_slow++;
    rec[r * STRIDE + R_STATE] = S_FULL;
    const p = c.cpuPartial[cpu]!;
    c.cpuPartial[cpu] = rec[p * STRIDE + R_NEXT]!;
    c.cpuPartialCount[cpu]!--;
    s[LIST]!++;
    s[NS] = s[NS]! + s[PRICE + LIST]!;
    this.cpuPartialAlloc++;
    rec[p * STRIDE + R_STATE] = S_CPU;
    c.cpuSlab[cpu] = p;
    return p;
  }

  /**
   * ___slab_alloc(): the cpu slab is exhausted (or absent): the head of this CPU's partial list,
   * else the node partial list's (get_partial_node), else a new slab; -1 when out of memory.
   */
  private refill(c: SlubCache, gfp: number): number {
    tickCall(this.steps, SLOW);
    this.ctr.alloc_slow++;
    const cpu = this.cpu();
    let r = c.cpuSlab[cpu]!;
    // the exhausted cpu slab is unfrozen as a full slab (get_freelist() returned NULL)
    if (r >= 0) this.rec[r * STRIDE + R_STATE] = S_FULL;
    c.cpuSlab[cpu] = -1;
    r = c.cpuPartial[cpu]!;
    if (r >= 0) {
      // slub_percpu_partial(c): its slabs only ever got objects back, so the head has a free one
      c.cpuPartial[cpu] = this.rec[r * STRIDE + R_NEXT]!;
      c.cpuPartialCount[cpu]!--;
      tick(this.steps, STEP_LIST);
      this.cpuPartialAlloc++;
    } else if ((r = this.usePartial ? c.partialHead : -1) >= 0) {
      this.removePartial(c, r);
      this.ctr.partial_taken++;
      // get_partial_node(): more node partial slabs onto this CPU's list (put_cpu_partial(s, slab,
      // 0): no drain), until it has taken more than half of cpu_partial_slabs
      for (let taken = 0, next = c.partialHead; next >= 0 && c.cpuPartialSlabs > 0;) {
        const t = next;
        next = this.rec[t * STRIDE + R_NEXT]!;
        this.removePartial(c, t);
        this.pushCpuPartial(c, cpu, t);
        if (++taken > c.cpuPartialSlabs >> 1) break;
      }
    } else {
      r = this.newSlab(c, gfp);
      if (r < 0) {
        this.ctr.oom++;
        this.slabOom++;
        return -1;
      }
    }
    this.rec[r * STRIDE + R_STATE] = S_CPU;
    c.cpuSlab[cpu] = r;
    return r;
  }

  /**
   * The slot at byte pageOff of page pfn in slab record o: (offset in the slab) / size, by the
   * reciprocal. For a slot boundary k * size the product is k within 2^-39 (k < 2^15), so adding
   * 1e-9 before truncation gives k exactly; an offset inside slot k (remainder >= 1 byte,
   * size < 10^8) stays below k + 1.
   */
  private slotOf(c: SlubCache, o: number, pfn: number, pageOff: number): number {
    return (((pfn - this.rec[o + R_PFN]!) * PAGE + pageOff) * c.inv + 1e-9) | 0;
  }

  /**
   * do_slab_free(): the cpu slab's free list is the fast path, else __slab_free(). The address
   * comes as its page and the offset in it, small integers: a call V8 does not inline then passes
   * them as they are, where an address above 2^31 would need a heap number per kfree.
   */
  private slabFree_(r: number, pfn: number, pageOff: number): void {
    const rec = this.rec, o = r * STRIDE;
    const c = this.all[rec[o + R_CACHE]!]!;
    const slot = this.slotOf(c, o, pfn, pageOff);
    const n = rec[o + R_NFREE]!;
    this.freeSlots[rec[o + R_BASE]! + n] = slot;
    rec[o + R_NFREE] = n + 1;
    const inuse = rec[o + R_INUSE]! - 1;
    rec[o + R_INUSE] = inuse;
    c.inuse--;
    const state = rec[o + R_STATE]!;
    if (state === S_CPU && c.cpuSlab[this.cpu()] === r) {
      tickCall(this.steps, FAST);
      this.ctr.free_fast++;
      return;
    }
    tickCall(this.steps, SLOW);
    this.ctr.free_slow++;
    // another CPU's frozen slab: __slab_free() puts the object on its free list, nothing else
    if (state === S_CPU) this.freeRemote++;
    // a slab on a CPU's partial list stays there, even empty ("prior && !on_node_partial")
    else if (state === S_CPU_PARTIAL) return;
    // a full slab that got a free object goes on this CPU's partial list
    else if (state === S_FULL && c.cpuPartialSlabs > 0) this.putCpuPartial(c, r);
    // __slab_free(): an empty slab goes when the node already has min_partial partial slabs
    else if (inuse === 0 && c.nrPartial >= c.minPartial) this.discardEmpty(c, r, state);
    // without per-CPU partial lists, a full slab that got a free object joins the node list's tail
    else if (state === S_FULL) this.addPartialTail(c, r);
  }

  /** Slab r at the head of `cpu`'s partial list; `priced` false for the start state. */
  private pushCpuPartial(c: SlubCache, cpu: number, r: number, priced = true): void {
    const o = r * STRIDE;
    this.rec[o + R_STATE] = S_CPU_PARTIAL;
    this.rec[o + R_NEXT] = c.cpuPartial[cpu]!;
    c.cpuPartial[cpu] = r;
    c.cpuPartialCount[cpu]!++;
    if (priced) tick(this.steps, STEP_LIST);
  }

  /**
   * put_cpu_partial(s, slab, 1) (6.12; 6.1 the same with frozen slabs): onto the freeing CPU's
   * partial list; a list already holding cpu_partial_slabs slabs goes to the node first.
   */
  private putCpuPartial(c: SlubCache, r: number): void {
    const cpu = this.cpu();
    if (c.cpuPartialCount[cpu]! >= c.cpuPartialSlabs) {
      const old = c.cpuPartial[cpu]!;
      c.cpuPartial[cpu] = -1;
      c.cpuPartialCount[cpu] = 0;
      this.pushCpuPartial(c, cpu, r);
      this.cpuPartialDrain++;
      this.putPartials(c, old);
      return;
    }
    this.pushCpuPartial(c, cpu, r);
  }

  /**
   * __put_partials() (6.12; 6.1 unfreeze_partials()): every slab of a CPU's partial list, from its
   * head, to the node partial list's tail, or, empty while the node has min_partial partial slabs,
   * to the discards, which go back to the page allocator after the walk, the last met first.
   */
  private putPartials(c: SlubCache, head: number): void {
    const rec = this.rec;
    let discard = -1;
    for (let r = head; r >= 0;) {
      const next = rec[r * STRIDE + R_NEXT]!;
      if (rec[r * STRIDE + R_INUSE] === 0 && c.nrPartial >= c.minPartial) {
        rec[r * STRIDE + R_NEXT] = discard;
        discard = r;
      } else this.addPartialTail(c, r);
      r = next;
    }
    while (discard >= 0) {
      const next = rec[discard * STRIDE + R_NEXT]!;
      this.discardSlab(c, discard);
      discard = next;
    }
  }

  private discardEmpty(c: SlubCache, r: number, state: number): void {
    if (state === S_PARTIAL) this.removePartial(c, r);
    this.discardSlab(c, r);
  }

  private largeAlloc(bytes: number, gfp: number): number {
    const order = getOrder(bytes);
    const pfn = this.pages.allocPages(order, gfp | __GFP_COMP);
    if (pfn < 0) {
      this.ctr.oom++;
      return -1;
    }
    this.pageSlab[pfn] = -(order + 1);
    const npages = 1 << order;
    this.pagesHeld += npages;
    this.largePages += npages;
    this.largeBytes += npages * PAGE_SIZE;
    this.ctr.large_allocs++;
    return pfn * PAGE_SIZE;
  }

  private kmallocCache(bytes: number, gfp: number): SlubCache {
    // kmalloc_type(): DMA first, then RECLAIM; everything else (incl. __GFP_ACCOUNT) NORMAL
    const type = gfp & GFP_DMA_ ? KMALLOC_DMA : gfp & GFP_RCL ? KMALLOC_RECLAIM : KMALLOC_NORMAL;
    return this.kmalloc[type * KTAB + KMALLOC_INDEX_BY_8[(bytes + 7) >> 3]!]!;
  }

  // The slab paths tick STEP_CALL with the path's own step (tickCall); the others tick it first.

  alloc(bytes: number, gfp: number): number {
    if (bytes > MAX_CACHE_SIZE) {
      tick(this.steps, STEP_CALL);
      return this.largeAlloc(bytes, gfp);
    }
    return this.slabAlloc(this.kmallocCache(bytes, gfp), gfp);
  }

  free(addr: number): void {
    const pfn = Math.floor(addr / PAGE);
    const v = pfn >= 0 && pfn < this.pageSlab.length ? this.pageSlab[pfn]! : 0;
    if (v > 0) this.slabFree_(v - 1, pfn | 0, (addr - pfn * PAGE) | 0);
    else this.freeNotSlab(addr, pfn, v);
  }

  /** kfree() of an address in no slab: free_large_kmalloc() of a kmalloc_large block's head, else unknown */
  private freeNotSlab(addr: number, pfn: number, v: number): void {
    tick(this.steps, STEP_CALL);
    if (v < 0 && addr === pfn * PAGE_SIZE) {
      const order = -v - 1;
      this.pageSlab[pfn] = 0;
      this.pages.freePages(pfn, order);
      const npages = 1 << order;
      this.pagesHeld -= npages;
      this.largePages -= npages;
      this.largeBytes -= npages * PAGE_SIZE;
      this.ctr.large_frees++;
    } else {
      this.ctr.unknown_free++;
    }
  }

  /** ksize(): the slot size, or the whole compound page of a large kmalloc; -1 if unknown */
  private ksize(addr: number): number {
    const pfn = Math.floor(addr / PAGE_SIZE);
    const v = pfn >= 0 && pfn < this.pageSlab.length ? this.pageSlab[pfn]! : 0;
    if (v > 0) return this.all[this.rec[(v - 1) * STRIDE + R_CACHE]!]!.size;
    if (v < 0) return PAGE_SIZE << (-v - 1);
    return -1;
  }

  /** krealloc(): the same object while ksize() covers the new size, else kmalloc + copy + kfree. */
  realloc(addr: number, newBytes: number, gfp: number): number {
    return reallocInSizeClass(this, this.steps, this.ctr, addr, this.ksize(addr), newBytes, gfp);
  }

  createCache(index: number, def: CacheDef): void {
    if (this.named[index] !== undefined) return; // made by startSlabs()
    const c = this.newCache(def.name, def.size, def.align, (def.flags & CACHE_HWCACHE_ALIGN) !== 0,
      def.flags & CACHE_RECLAIMABLE ? __GFP_RECLAIMABLE : 0);
    this.named[index] = c;
  }

  /**
   * Slabs that existed before the trace (slab-start.ts: ObjectStrategy.startSlabs). A slab's cache:
   * its first row's that names one; its pages: that row's pfn aligned down to the cache's order
   * (alloc_pages() blocks are aligned), all pre-trace slab pages not yet a slab here. Its slots by
   * the first row that reaches each: a slot the trace allocates first was free at the start, one it
   * frees first held a pre-trace object (preTraceObjects: the replay's free of it is a real free,
   * __slab_free() with every rule), every slot no row reaches is in use by an object the trace never
   * shows. A slab with a free slot is partial where ___slab_alloc() looks before new_slab() (6.1/6.12
   * mm/slub.c): with cpu-partial=on, on the partial list of the CPU that first allocates from it, up
   * to cpu_partial_slabs per CPU in the order the CPU first allocates from them (the recording cannot
   * tell that CPU's slab and partial list from the node's list: the slabs a CPU reaches first are
   * taken to be its own), the others at the tail of the node partial list in that order; its free
   * list holds those slots in order of first allocation (the head first). A slab without one is full
   * (on no list, as SLUB keeps full slabs). Refused: a slab whose rows name two caches or reach a
   * slot beyond it. The pages are pre-trace memory: the caller moves them to this layer's account.
   */
  startSlabs(rows: PreTraceSlabRows, caches: readonly CacheDef[], slabPage: (pfn: number) => boolean): { pages: number; slabs: number } {
    type Start = { c: SlubCache; free: number[]; seen: Set<number>; cpu: number; first: number; frees: number[] } | null;
    const cacheOf = (k: number): SlubCache | undefined => {
      const i = rows.index[k]!;
      if (i === -1) return rows.bytes[k]! > MAX_CACHE_SIZE ? undefined : this.kmallocCache(rows.bytes[k]!, rows.gfp[k]!);
      if (i < 0 || caches[i] === undefined) return undefined;
      this.createCache(i, caches[i]);
      return this.named[i];
    };
    // 1. each slab start: its cache, from the first row that names one; the slab start of each of its pages
    const at = new Map<number, Start>(), startOf = new Map<number, number>();
    const cacheAt = new Array<SlubCache | undefined>(rows.pfn.length);
    for (let k = 0; k < rows.pfn.length; k++) {
      const c = (cacheAt[k] = cacheOf(k));
      if (c === undefined || c.order < 0) continue;
      const pfn = rows.pfn[k]!, start = pfn - (pfn & ((1 << c.order) - 1));
      const e = at.get(start);
      if (e === undefined) {
        at.set(start, { c, free: [], seen: new Set(), cpu: 0, first: -1, frees: [] });
        for (let p = start; p < start + (1 << c.order); p++) if (!startOf.has(p)) startOf.set(p, start);
      } else if (e !== null && e.c !== c) at.set(start, null);
    }
    // 2. each slot by the first row that reaches it, in trace order
    for (let k = 0; k < rows.pfn.length; k++) {
      const c = cacheAt[k], pfn = rows.pfn[k]!;
      if (c !== undefined && c.order < 0) continue;
      const start = c === undefined ? (rows.index[k] === CACHE_UNKNOWN ? startOf.get(pfn) : undefined) : pfn - (pfn & ((1 << c.order) - 1));
      const e = start === undefined ? null : at.get(start);
      if (e === null || e === undefined || (c !== undefined && e.c !== c)) continue;
      const slot = Math.floor(((pfn - start!) * PAGE + rows.off[k]!) / e.c.size);
      const free = rows.id[k] !== -1;
      if (slot >= e.c.objects) { at.set(start!, null); continue; }
      // a later free of a slot: of an object the trace never showed allocated (6.1/6.12 trace no
      // kmem_cache_alloc_bulk(), which maple tree nodes come from): it stays a trace error
      if (e.seen.has(slot)) continue;
      e.seen.add(slot);
      if (free) { e.frees.push(k, slot); continue; }
      e.free.push(slot);
      if (e.first < 0) { e.first = k; e.cpu = rows.cpu[k]! % this.ncpu; }
    }
    let pages = 0, slabs = 0;
    const partial: { r: number; c: SlubCache; cpu: number; first: number }[] = [];
    const ids: number[] = [], addr: number[] = [];
    for (const [start, e] of at) {
      if (e === null) continue;
      const { c, free } = e, npages = 1 << c.order;
      let ok = start + npages <= this.pageSlab.length;
      for (let p = start; ok && p < start + npages; p++) ok = this.pageSlab[p] === 0 && slabPage(p);
      if (!ok) continue;
      const r = this.takeRecord(c);
      const rec = this.rec, o = r * STRIDE, sb = rec[o + R_BASE]!;
      rec[o + R_PFN] = start;
      rec[o + R_INUSE] = c.objects - free.length;
      rec[o + R_PREV] = -1;
      rec[o + R_NEXT] = -1;
      rec[o + R_STATE] = S_FULL;
      this.slabOrder[r] = c.order;
      this.slabObjs[r] = c.objects;
      // the stack's top (the list's head) is the first slot the trace allocates
      for (let j = 0; j < free.length; j++) this.freeSlots[sb + j] = free[free.length - 1 - j]!;
      rec[o + R_NFREE] = free.length;
      for (let p = start; p < start + npages; p++) this.pageSlab[p] = r + 1;
      this.pagesHeld += npages;
      c.nrSlabs++;
      c.totalObjs += c.objects;
      c.inuse += c.objects - free.length;
      pages += npages; slabs++;
      if (free.length > 0) partial.push({ r, c, cpu: e.cpu, first: e.first });
      for (let j = 0; j < e.frees.length; j += 2) {
        const id = rows.id[e.frees[j]!]!;
        if (id >= 0) { ids.push(id); addr.push(start * PAGE + e.frees[j + 1]! * c.size); }
      }
    }
    // the partial slabs in the order their CPUs first allocate from them
    partial.sort((x, y) => x.first - y.first);
    /** per cache and CPU, the slabs for that CPU's partial list, first allocated first */
    const onCpu = new Map<SlubCache, number[][]>();
    for (const { r, c, cpu } of partial) {
      let lists = onCpu.get(c);
      if (lists === undefined) onCpu.set(c, (lists = Array.from({ length: this.ncpu }, () => [])));
      if (lists[cpu]!.length < c.cpuPartialSlabs) lists[cpu]!.push(r);
      else this.addPartialTail(c, r, false);
    }
    // each CPU's list: the head is the slab it allocates from first (pushed last)
    for (const [c, lists] of onCpu) lists.forEach((l, cpu) => { for (let j = l.length - 1; j >= 0; j--) this.pushCpuPartial(c, cpu, l[j]!, false); });
    this.preTraceObjects = { ids: Int32Array.from(ids), addr: Float64Array.from(addr) };
    return { pages, slabs };
  }

  cacheAlloc(index: number, gfp: number): number {
    const remap = this.allocRemap;
    if (remap !== undefined) {
      const j = this.cacheAllocs < remap.length ? remap[this.cacheAllocs]! : -1;
      this.cacheAllocs++;
      if (j >= 0) index = j;
    }
    const c = this.named[index];
    if (c === undefined || c.order < 0) {
      tick(this.steps, STEP_CALL);
      this.ctr.unknown_cache++;
      return -1;
    }
    return this.slabAlloc(c, gfp);
  }

  /**
   * The kernel cache of each kmem_cache_alloc of the replay, in order (an index of a cache made with
   * createCache(), -1: the trace's own): the caches a recording's loader merged, told apart
   * (object/slab-start.ts splitCaches()).
   */
  remapCacheAllocs(remap: Int32Array): void {
    this.allocRemap = remap;
    this.cacheAllocs = 0;
  }

  cacheFree(_index: number, addr: number): void {
    // kmem_cache_free() finds the slab from the address (virt_to_slab), as kfree does
    this.free(addr);
  }

  /**
   * kmem_cache_shrink() of every cache (__kmem_cache_do_shrink in mm/slub.c): each CPU's partial
   * list goes to the node (flush_all()'s put_partials_cpu(); the CPUs' active slabs stay, which
   * flush_slab() would deactivate), then every empty slab on the node partial lists (up to
   * min_partial kept) goes back to the page allocator. The machine's reclaim calls it before an
   * allocation fails, as shrink_slab() would. Returns the pages freed.
   */
  shrink(): number {
    const before = this.pagesHeld;
    for (const c of this.all) {
      // put_partials_cpu() of every CPU (the CPU slabs stay)
      for (let cpu = 0; cpu < c.cpuPartial.length; cpu++) {
        const head = c.cpuPartial[cpu]!;
        if (head < 0) continue;
        c.cpuPartial[cpu] = -1;
        c.cpuPartialCount[cpu] = 0;
        this.putPartials(c, head);
      }
      let r = c.partialHead;
      while (r >= 0) {
        const next = this.rec[r * STRIDE + R_NEXT]!;
        if (this.rec[r * STRIDE + R_INUSE] === 0) {
          this.removePartial(c, r);
          this.discardSlab(c, r);
        }
        r = next;
      }
    }
    return before - this.pagesHeld;
  }

  usage(): ObjectUsage {
    return { bytesReserved: this.bytesReserved(), pagesHeld: this.pagesHeld };
  }

  /**
   * Every cache, newest first (slab_caches is list_add()ed, /proc/slabinfo walks it from the head),
   * including empty ones. Columns as get_slabinfo(): active_objs = num_objs - free objects on the
   * node partial lists (free objects of the cpu slab count as active, as in the kernel), active_slabs
   * = num_slabs.
   */
  caches(): CacheStat[] {
    const out: CacheStat[] = [];
    for (let i = this.all.length - 1; i >= 0; i--) {
      const c = this.all[i]!;
      let partialFree = 0;
      for (let r = c.partialHead; r >= 0; r = this.rec[r * STRIDE + R_NEXT]!) partialFree += this.slabObjs[r]! - this.rec[r * STRIDE + R_INUSE]!;
      out.push({
        name: c.name,
        objsize: c.objectSize,
        slotSize: c.size,
        objperslab: c.objects,
        pagesperslab: c.order < 0 ? 0 : 1 << c.order,
        activeObjs: c.totalObjs - partialFree,
        numObjs: c.totalObjs,
        activeSlabs: c.nrSlabs,
        numSlabs: c.nrSlabs,
      });
    }
    return out;
  }

  /** the slots handed out plus the large kmalloc blocks (summed here rather than kept per operation) */
  private bytesReserved(): number {
    let b = this.largeBytes;
    for (const c of this.all) b += c.inuse * c.size;
    return b;
  }

  counters(): Record<string, number> {
    const { alloc_fast, alloc_slow, free_fast, free_slow } = this.ctr;
    return {
      allocs: alloc_fast + alloc_slow - this.slabOom,
      frees: free_fast + free_slow,
      ...this.ctr,
      ...(this.freeRemote > 0 ? { free_remote: this.freeRemote } : {}),
      slabs: this.all.reduce((a, c) => a + c.nrSlabs, 0),
      partial_slabs: this.all.reduce((a, c) => a + c.nrPartial, 0),
      // slabs on the CPUs' partial lists now (sysfs slabs_cpu_partial), with the two counters above: cpu-partial=on only
      ...(this.cpuPartialOn ? {
        cpu_partial_alloc: this.cpuPartialAlloc, cpu_partial_drain: this.cpuPartialDrain,
        slabs_cpu_partial: this.all.reduce((a, c) => a + c.cpuPartialCount.reduce((x, y) => x + y, 0), 0),
      } : {}),
      large_pages: this.largePages,
    };
  }

  check(): void {
    const fail = (m: string): never => { throw new InvariantError(`slub: ${m}`); };
    const rec = this.rec;
    const f = (r: number, field: number): number => rec[r * STRIDE + field]!;
    let pages = 0;
    let reserved = this.largeBytes;
    const seen = new Uint8Array(this.slotUsed);
    const recordsOnLists = new Uint8Array(this.nSlabs);
    for (let ci = 0; ci < this.all.length; ci++) {
      const c = this.all[ci]!;
      let n = 0;
      let prev = -1;
      for (let r = c.partialHead; r >= 0; r = f(r, R_NEXT)) {
        if (f(r, R_STATE) !== S_PARTIAL) fail(`${c.name}: slab ${r} on partial list in state ${f(r, R_STATE)}`);
        if (f(r, R_CACHE) !== c.id) fail(`${c.name}: slab ${r} of another cache on its partial list`);
        if (f(r, R_PREV) !== prev) fail(`${c.name}: partial list prev link broken at ${r}`);
        if (f(r, R_INUSE) >= this.slabObjs[r]!) fail(`${c.name}: full slab ${r} on partial list`);
        if (recordsOnLists[r]) fail(`${c.name}: slab ${r} twice on lists`);
        recordsOnLists[r] = 1;
        prev = r;
        if (++n > this.nSlabs) fail(`${c.name}: partial list cycle`);
      }
      if (c.partialTail !== prev) fail(`${c.name}: partial tail ${c.partialTail} != ${prev}`);
      if (n !== c.nrPartial) fail(`${c.name}: nr_partial ${c.nrPartial} != ${n}`);
      for (let r = c.spare; r >= 0; r = f(r, R_NEXT)) {
        if (f(r, R_STATE) !== S_SPARE) fail(`${c.name}: spare record ${r} in use`);
        if (recordsOnLists[r]) fail(`${c.name}: record ${r} twice on lists`);
        recordsOnLists[r] = 1;
      }
      for (let cpu = 0; cpu < c.cpuPartial.length; cpu++) {
        let k = 0;
        for (let r = c.cpuPartial[cpu]!; r >= 0; r = f(r, R_NEXT)) {
          if (f(r, R_STATE) !== S_CPU_PARTIAL) fail(`${c.name}: slab ${r} on cpu ${cpu}'s partial list in state ${f(r, R_STATE)}`);
          if (f(r, R_CACHE) !== c.id) fail(`${c.name}: slab ${r} of another cache on cpu ${cpu}'s partial list`);
          if (f(r, R_INUSE) >= this.slabObjs[r]!) fail(`${c.name}: full slab ${r} on cpu ${cpu}'s partial list`);
          if (recordsOnLists[r]) fail(`${c.name}: slab ${r} twice on lists`);
          recordsOnLists[r] = 1;
          if (++k > this.nSlabs) fail(`${c.name}: cpu ${cpu}'s partial list cycle`);
        }
        if (k !== c.cpuPartialCount[cpu]) fail(`${c.name}: cpu ${cpu}'s partial list holds ${k} slabs, counted ${c.cpuPartialCount[cpu]}`);
        // put_cpu_partial() drains a full list first; get_partial_node() fills an empty one with at most cps / 2 + 1
        if (k > c.cpuPartialSlabs) fail(`${c.name}: cpu ${cpu}'s partial list holds ${k} slabs, more than cpu_partial_slabs ${c.cpuPartialSlabs}`);
      }
      for (let cpu = 0; cpu < c.cpuSlab.length; cpu++) {
        const r = c.cpuSlab[cpu]!;
        if (r >= 0 && f(r, R_STATE) !== S_CPU) fail(`${c.name}: cpu ${cpu}'s slab not in CPU state`);
        if (r >= 0 && c.cpuSlab.indexOf(r) !== cpu) fail(`${c.name}: slab ${r} active on two CPUs`);
      }
    }
    const slabsOf = new Int32Array(this.all.length);
    const objsOf = new Int32Array(this.all.length);
    const inuseOf = new Int32Array(this.all.length);
    for (let r = 0; r < this.nSlabs; r++) {
      const st = f(r, R_STATE);
      const ci = f(r, R_CACHE);
      const c = this.all[ci]!;
      if (st === S_SPARE) {
        if (!recordsOnLists[r]) fail(`spare record ${r} lost`);
        continue;
      }
      if (st === S_CPU && c.cpuSlab.indexOf(r) < 0) fail(`${c.name}: slab ${r} in CPU state but no CPU's slab`);
      if ((st === S_PARTIAL || st === S_CPU_PARTIAL) && !recordsOnLists[r]) fail(`${c.name}: slab ${r} in partial state on no list`);
      if (st === S_FULL && f(r, R_INUSE) !== this.slabObjs[r]) fail(`${c.name}: full slab ${r} has free objects`);
      const objs = this.slabObjs[r]!;
      const base = f(r, R_BASE);
      let free = 0;
      const nfree = f(r, R_NFREE);
      if (nfree < 0 || nfree > objs) fail(`${c.name}: slab ${r} has ${nfree} free of ${objs}`);
      for (let k = 0; k < nfree; k++) {
        const s = this.freeSlots[base + k]!;
        if (s < 0 || s >= objs) fail(`${c.name}: slab ${r} free slot ${s} out of range`);
        if (seen[base + s]) fail(`${c.name}: slab ${r} slot ${s} twice on the free list`);
        seen[base + s] = 1;
        free++;
      }
      if (free + f(r, R_INUSE) !== objs) fail(`${c.name}: slab ${r} free ${free} + inuse ${f(r, R_INUSE)} != ${objs}`);
      if (objs * c.size > PAGE_SIZE << this.slabOrder[r]!) fail(`${c.name}: slab ${r} objects overflow its pages`);
      const pfn = f(r, R_PFN);
      for (let i = 0; i < 1 << this.slabOrder[r]!; i++) {
        if (this.pageSlab[pfn + i] !== r + 1) fail(`${c.name}: page ${pfn + i} does not map to slab ${r}`);
      }
      pages += 1 << this.slabOrder[r]!;
      reserved += f(r, R_INUSE) * c.size;
      slabsOf[ci] = slabsOf[ci]! + 1;
      objsOf[ci] = objsOf[ci]! + objs;
      inuseOf[ci] = inuseOf[ci]! + f(r, R_INUSE);
    }
    for (let ci = 0; ci < this.all.length; ci++) {
      const c = this.all[ci]!;
      if (slabsOf[ci] !== c.nrSlabs) fail(`${c.name}: nr_slabs ${c.nrSlabs} != ${slabsOf[ci]}`);
      if (objsOf[ci] !== c.totalObjs) fail(`${c.name}: total_objects ${c.totalObjs} != ${objsOf[ci]}`);
      if (inuseOf[ci] !== c.inuse) fail(`${c.name}: inuse ${c.inuse} != ${inuseOf[ci]}`);
    }
    let large = 0;
    for (let p = 0; p < this.pageSlab.length; p++) if (this.pageSlab[p]! < 0) large += 1 << (-this.pageSlab[p]! - 1);
    if (large !== this.largePages) fail(`large pages ${this.largePages} != ${large}`);
    if (pages + large !== this.pagesHeld) fail(`pages held ${this.pagesHeld} != ${pages + large}`);
    if (reserved !== this.bytesReserved()) fail(`bytes reserved ${this.bytesReserved()} != ${reserved}`);
  }
}

/**
 * `slub` / `slub:cpu-partial=on|off`: CONFIG_SLUB_CPU_PARTIAL, on by default, as distribution kernels
 * build it (Kconfig: default y on SMP; Debian's 6.1 and 6.12 set it). Session 7 left it off: on the
 * recordings of then it was no closer to the kernel. Their after-states held the snapshot's own
 * untraced allocations. On the re-recorded ones (tracing on through both snapshots, replayed between
 * the markers) it is closer on all four (docs/fidelity.md).
 */
function cpuPartialOption(variant: string | undefined): boolean {
  if (variant === undefined || variant === 'cpu-partial=on') return true;
  if (variant === 'cpu-partial=off') return false;
  throw new AllocbenchError(`object strategy "slub:${variant}": unknown option (valid: cpu-partial=on, cpu-partial=off)`);
}

export const createSlub: ObjectStrategyFactory = (opts) => new Slub(opts);
