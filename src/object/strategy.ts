import type { CpuCursor } from '../machine/cpu-cursor.js';
import type { PageSource } from '../machine/page-source.js';
import type { Steps } from '../machine/steps.js';
import type { CacheDef } from '../trace/trace.js';
import type { HeapMemory } from './heap-memory.js';

export interface ObjectStrategyOptions {
  pages: PageSource;
  steps: Steps;
  /** CPUs of the simulated machine (SLUB's min_objects and per-CPU slabs) */
  cpus: number;
  variant?: string;
  /**
   * A user heap's memory (a process's brk/mmap, object/process-heap.ts): strategies that grow by
   * sbrk/mmap (dlmalloc) use it instead of taking pages from `pages`.
   */
  heap?: HeapMemory;
  /** where the replay says which CPU runs the current event (absent: CPU 0) */
  cpuCursor?: CpuCursor;
}

/** Per-cache state, the columns of /proc/slabinfo (strategies without caches report their buckets). */
export interface CacheStat {
  name: string;
  /** the object size the cache was created with (object_size; slabinfo prints slotSize) */
  objsize: number;
  /** bytes per slot (size after alignment and metadata) */
  slotSize: number;
  objperslab: number;
  pagesperslab: number;
  activeObjs: number;
  numObjs: number;
  activeSlabs: number;
  numSlabs: number;
}

export interface ObjectUsage {
  /** bytes of the slots handed out and live (what requests were rounded up to) */
  bytesReserved: number;
  /** pages currently held from the page allocator */
  pagesHeld: number;
}

/**
 * The object-layer contract. Addresses are byte addresses in the strategy's own address space
 * (kernel allocators: physical, pfn * 4096 + offset; a user heap: its virtual heap addresses), safe
 * integers, or -1 when memory could not be had (a counted failure, never an exception). The replay only frees addresses this strategy returned, so strategies need not
 * detect double frees; check() verifies their own invariants.
 */
export interface ObjectStrategy {
  readonly name: string;
  /** kmalloc(bytes, gfp) or a user-heap malloc */
  alloc(bytes: number, gfp: number): number;
  /** kfree / free of an address alloc() returned */
  free(addr: number): void;
  /** krealloc / realloc: a new address (maybe the same one) or -1 (the old block stays live) */
  realloc(addr: number, newBytes: number, gfp: number): number;
  /** kmem_cache_create: `index` is the trace's cache index */
  createCache(index: number, def: CacheDef): void;
  /** kmem_cache_alloc */
  cacheAlloc(index: number, gfp: number): number;
  /** kmem_cache_free */
  cacheFree(index: number, addr: number): void;
  usage(): ObjectUsage;
  caches(): CacheStat[];
  counters(): Record<string, number>;
  /** Verifies internal invariants; throws InvariantError. May be slow. */
  check(): void;
  /** Optional, for memory pressure: give back cached empty slabs/pages; returns pages freed. */
  shrink?(): number;
  /**
   * Optional, before the replay: slabs that existed before a kernel recording (slab-start.ts), as
   * the objects the trace allocates in them and the pre-trace objects it frees there (rows, trace
   * order); `slabPage(pfn)`: the page is pre-trace slab memory. Returns the pages and slabs adopted.
   */
  startSlabs?(rows: PreTraceSlabRows, caches: readonly CacheDef[], slabPage: (pfn: number) => boolean): { pages: number; slabs: number };
  /**
   * After startSlabs(): the pre-trace objects live in the adopted slabs whose frees the trace
   * holds, by the trace id of that free, with the address this strategy gives the object: the
   * replay makes them live objects (run/object-events.ts), so each free is a real free of its slot.
   */
  readonly preTraceObjects?: { ids: Int32Array; addr: Float64Array };
}

/** PreTraceSlabRows.index of a free whose cache the trace does not tell (a kfree): its slab's other rows decide */
export const CACHE_UNKNOWN = -3;

/**
 * Per object allocation in a pre-trace slab and per free of a pre-trace object there (trace order):
 * its cache (`index`: the trace's cache, -1 kmalloc of `bytes` with `gfp`, -2 a cache the trace
 * does not define, CACHE_UNKNOWN), page `pfn`, byte offset `off` in it, the CPU of the event, and
 * `id`: -1 for an allocation; for a free, the trace id of the object it frees (-2 when not known)
 */
export interface PreTraceSlabRows { index: Int32Array; bytes: Int32Array; gfp: Int32Array; pfn: Int32Array; off: Int32Array; cpu: Int32Array; id: Int32Array }

export type ObjectStrategyFactory = (opts: ObjectStrategyOptions) => ObjectStrategy;
