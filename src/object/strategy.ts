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
   * the objects the trace allocates in them (row k: trace cache `index` (-1: kmalloc of `bytes`
   * with `gfp`), page `pfn`, byte offset `off`); `slabPage(pfn)`: the page is pre-trace slab memory.
   * Returns the pages and slabs adopted.
   */
  startSlabs?(rows: PreTraceSlabRows, caches: readonly CacheDef[], slabPage: (pfn: number) => boolean): { pages: number; slabs: number };
}

/** per object allocation in a pre-trace slab (trace order): its cache, bytes, gfp, page, byte offset in it and the CPU that allocated it */
export interface PreTraceSlabRows { index: Int32Array; bytes: Int32Array; gfp: Int32Array; pfn: Int32Array; off: Int32Array; cpu: Int32Array }

export type ObjectStrategyFactory = (opts: ObjectStrategyOptions) => ObjectStrategy;
