import type { CpuCursor } from './cpu-cursor.js';
import type { Steps } from './steps.js';

/*
 * What the machine's zones ask of a page strategy: the machine drives one instance per zone through
 * this contract and src/page/ implements it (page strategies import it through page/strategy.ts).
 */

/** One CPU's pageset of a zone as /proc/zoneinfo prints it (zoneinfo_show_print(), mm/vmstat.c). */
export interface Pageset {
  /** pcp->count: pages on the CPU's lists */
  count: number;
  /** pcp->high now (6.7+: auto-tuned between high_min and high_max) */
  high: number;
  batch: number;
}

export interface PageStrategyOptions {
  /** pages spanned by the zone; the strategy's pfns are zone-local, 0..pages-1 */
  pages: number;
  /** shared step counters (machine/steps.ts) */
  steps: Steps;
  /** variant after a colon in the strategy name, e.g. 'best' in 'freelist:best' */
  variant?: string;
  /** the kernel the machine runs (MachineConfig.kernel): the rule set of a strategy that has several, unless the variant names one */
  kernel?: string;
}

/**
 * The page-layer contract (one instance per zone). A new instance owns no free memory: every page
 * starts as not free (reserved or a hole) and memory arrives only through free() calls made by the
 * boot hand-over (machine/handover.ts), exactly as __free_pages_core() feeds the buddy allocator.
 *
 * alloc() returns a naturally aligned block of 2^order pages (its zone-local pfn), or -1 when no
 * block fits: out-of-memory is a result, never an exception. free() is only ever called by the
 * machine with a block it handed out (or the hand-over's), so strategies need not detect bad frees;
 * check() verifies the strategy's own invariants and throws InvariantError.
 *
 * migratetype is the request's (gfp.ts); strategies without mobility grouping ignore it.
 */
export interface PageStrategy {
  readonly name: string;
  readonly pages: number;
  /** the kernel version whose rules a strategy with rule sets follows (page/kernel-version.ts) */
  readonly rules?: { readonly version: string };
  alloc(order: number, migratetype: number): number;
  free(pfn: number, order: number): void;
  /**
   * Frees the aligned 2^order pages at pfn, a part of a larger block alloc() handed out whose other
   * pages stay allocated: the kernel frees such parts after split_page() (6.1 compaction's
   * split_map_pages()) or compaction_alloc()'s cutting of an isolated block (6.9+). Strategies
   * without it get the whole block back with its last part (run/replay.ts).
   */
  freePart?(pfn: number, order: number): void;
  /**
   * Takes a free block of 2^order pages as compaction's free scanner finds one (a migration
   * target), or returns -1 (the machine then allocates it as any movable block).
   */
  allocCompactionTarget?(order: number, large?: boolean): number;
  /** free pages now */
  freePages(): number;
  /**
   * Adds the free blocks, as the buddy allocator would hold them, to out[mt * NR_ORDERS + order]
   * (out has MIGRATE_TYPES * NR_ORDERS entries). Strategies without buddy free lists decompose each
   * maximal free run into naturally aligned power-of-two blocks of at most MAX_ORDER
   * (machine/decompose.ts). Strategies without mobility grouping report everything as
   * MIGRATE_UNMOVABLE, as a kernel with page_group_by_mobility_disabled does (gfp_migratetype()
   * and set_pageblock_migratetype() both force Unmovable there).
   */
  freeArea(out: Float64Array): void;
  /** Adds the number of pageblocks of each migratetype to out[mt]. Non-mobility strategies: all Unmovable. */
  pageblockTypes(out: Float64Array): void;
  /**
   * Sets pageblock `block`'s migratetype before the boot hand-over (a start state from a recorded
   * pagetypeinfo, machine/start-state.ts). Only strategies that group by mobility have it.
   */
  setPageblockType?(block: number, migratetype: number): void;
  /**
   * Per-CPU page lists (page/pcp.ts), for strategies that have them: set up once the zone's managed
   * pages and low watermark are known, after the boot hand-over; `cursor.cpu` names the CPU of the
   * event being replayed; the high watermark sets 6.7+'s ZONE_BELOW_HIGH.
   */
  setupPcp?(managed: number, lowWmark: number, cpus: number, cursor: CpuCursor, highWmark?: number): void;
  /** vmstat_update() once a second of recorded time: 6.7+ decay_pcp_high(); returns the pages drained. */
  decayPcp?(): number;
  /** drain_all_pages(): the per-CPU lists back to the free lists; returns the pages drained. */
  drainPcp?(): number;
  /** ZONE_RECLAIM_ACTIVE set (kswapd balancing the zone) or cleared: it caps the per-CPU lists. */
  setReclaimActive?(on: boolean): void;
  /** pages on the per-CPU lists now */
  pcpPages?(): number;
  /**
   * The boot hand-over's free of memory never allocated (memblock_free_all() → __free_pages_core(),
   * FPI_TO_TAIL), where the strategy has it apart from free(): a separate entry keeps the replay's
   * free() path specialized to the replay's frees (V8 re-optimized it after every cell's boot, whose
   * frees are all high-order to-tail frees). Without it, free() is the hand-over.
   */
  handOver?(pfn: number, order: number): void;
  /**
   * A start state's pre-trace memory (machine/start-state.ts): the block at zone-local `pfn`, never
   * handed over, is memory the kernel had allocated before the recording began, by a request of type
   * `mt` (the type a pageblock scan counts it as: move_freepages_block()'s PageLRU test). Only
   * strategies that scan pageblocks have it; its later free is an ordinary free.
   */
  markAllocated?(pfn: number, order: number, mt: number): void;
  /** a pre-trace block (zone-local pfn) onto `cpu`'s per-CPU list at the start of a recording; false if not cached */
  seedPcp?(cpu: number, pfn: number, order: number, type?: number): boolean;
  /** `cpu`'s pcp->high as a recording's start had it */
  setPcpHigh?(cpu: number, high: number): void;
  /** each CPU's per-CPU list state (/proc/zoneinfo's pagesets); empty without per-CPU lists */
  pagesets?(): Pageset[];
  /** Strategy-specific deterministic counters (fallbacks, steals, ...), merged into a cell's metrics. */
  counters(): Record<string, number>;
  /** Verifies internal invariants; throws InvariantError. May be slow. */
  check(): void;
  /** bytes of metadata this instance holds (typed arrays), for the ≤16 bytes/page budget */
  metadataBytes(): number;
}

export type PageStrategyFactory = (opts: PageStrategyOptions) => PageStrategy;
