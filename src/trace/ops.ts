/**
 * The canonical event set (DESIGN.md §2). One op code each; fields live in the Trace columns
 * described beside each code (see trace.ts for the column meanings).
 */
import { __GFP_DMA, __GFP_DMA32 } from '../machine/gfp.js';
import { zoneOfPfn } from '../machine/zones.js';
//                                   id            val              aux
export const OP_PAGE_ALLOC = 0; //    block id      order            gfp flags
export const OP_PAGE_FREE = 1; //     block id      order (recorded) - (PAGE_PIECE: a part of the block)
export const OP_KMALLOC = 2; //       object id     bytes requested  gfp flags
export const OP_KFREE = 3; //         object id     -                -
export const OP_CACHE_CREATE = 4; //  cache index   -                -          (definition in trace.caches)
export const OP_CACHE_ALLOC = 5; //   object id     -                cache index
export const OP_CACHE_FREE = 6; //    object id     -                cache index
export const OP_MALLOC = 7; //        object id     bytes            pid
export const OP_FREE = 8; //          object id     -                pid
export const OP_REALLOC = 9; //       object id     new bytes        pid        (same id before and after)
export const OP_MMAP = 10; //         pid           address          extra row  (len, prot|flags<<8)
export const OP_MUNMAP = 11; //       pid           address          extra row  (len)
export const OP_BRK = 12; //          pid           new break        -
export const OP_FAULT = 13; //        pid           address          1 = write, 0 = read
export const OP_FORK = 14; //         pid           -                child pid
export const OP_EXIT = 15; //         pid           -                -
export const OP_MARK = 16; //         -             -                string index (label)
/** An mm_page_alloc_extfrag seen in a recording: kept to compare with the simulated fallbacks. */
export const OP_EXTFRAG = 17; //      -             fallback order   packed, see packExtfrag
/**
 * A second of recorded time has passed (kernel recordings: the loader emits one at each whole second
 * of the timestamps): the kernel's periodic per-CPU work, vmstat_update() every sysctl_stat_interval
 * (HZ), which on 6.7+ decays the per-CPU page lists (page/pcp.ts decay()).
 */
export const OP_TICK = 18; //         -             -                -
/**
 * Kernel recordings with vmscan events: kswapd starts balancing its node (mm_vmscan_kswapd_wake,
 * right before balance_pgdat()), which sets ZONE_RECLAIM_ACTIVE on the zones up to the highest
 * it balances (set_reclaim_active(), mm/vmscan.c 5.14+), and ends (balance_pgdat()'s return, or
 * mm_vmscan_kswapd_sleep): while it runs, nr_pcp_high() caps the per-CPU lists (page/pcp.ts).
 */
export const OP_RECLAIM_BEGIN = 19; // -            -                highest zone index balanced
export const OP_RECLAIM_END = 20; //  -             -                -
/**
 * drain_all_pages(zone) of work the recording shows but does not trace page by page: kcompactd
 * after a run that ends COMPACT_PARTIAL_SKIPPED or COMPACT_COMPLETE (kcompactd_do_work(), 6.1 and
 * 6.12 mm/compaction.c). The pages it moves are in the trace as mm_page_pcpu_drain lines, which
 * only the fidelity comparison reads.
 */
export const OP_PCP_DRAIN = 21; //    -             -                zone index
export const OP_COUNT = 22;

/**
 * val of an OP_PAGE_FREE that frees one aligned piece of a live block, not all of it: PAGE_PIECE +
 * the piece's order, with aux = the offset of its first page in the block, or ~offset (negative)
 * when it is the last live piece (the block is then gone). A kernel recording's compaction targets
 * are such blocks: compaction takes a free block off the free lists whole (__isolate_free_page())
 * and its pages come back one piece at a time (trace/kernel.ts, trace/compaction-targets.ts).
 */
export const PAGE_PIECE = 32;

/**
 * aux (gfp) of an OP_PAGE_ALLOC that is a compaction target (trace/kernel.ts): the kernel's
 * __GFP_MOVABLE (post_alloc_hook(page, order, __GFP_MOVABLE)) plus bit 30, which no kernel gfp
 * flag uses (6.1 and 6.12 stop at bit 27): the replay takes such a block where compaction's free
 * scanner finds one (Machine.allocCompactionTarget). The zone compacted is in the zone modifiers
 * (compactionTargetGfp): compaction isolates targets only in the zone it compacts.
 */
export const GFP_COMPACTION_TARGET = 0x08 | 1 << 30;
/** the zone bits a compaction target's aux may carry */
const TARGET_ZONE_BITS = __GFP_DMA | __GFP_DMA32;

/**
 * The aux of a compaction target isolated at `pfn` on x86-64: GFP_COMPACTION_TARGET with the zone
 * modifier of the pfn's zone (machine/zones.ts boundaries; none above 4 GiB: the highest zone).
 */
export function compactionTargetGfp(pfn: number): number {
  return GFP_COMPACTION_TARGET | ZONE_MODIFIER[zoneOfPfn(pfn)]!;
}

/** per zone index (DMA, DMA32, Normal): its gfp zone modifier (gfpZone() reads it back; Normal has none) */
const ZONE_MODIFIER = [__GFP_DMA, __GFP_DMA32, 0];

/** Whether an OP_PAGE_ALLOC's aux marks a compaction target (of any zone). */
export function isCompactionTarget(gfp: number): boolean {
  return (gfp & ~TARGET_ZONE_BITS) === GFP_COMPACTION_TARGET;
}

export const OP_NAMES: readonly string[] = [
  'page_alloc', 'page_free', 'kmalloc', 'kfree', 'cache_create', 'cache_alloc', 'cache_free',
  'malloc', 'free', 'realloc', 'mmap', 'munmap', 'brk', 'fault', 'fork', 'exit', 'mark', 'extfrag', 'tick',
  'reclaim_begin', 'reclaim_end', 'pcp_drain',
];

export function opByName(name: string): number {
  return OP_NAMES.indexOf(name);
}

/** aux of OP_EXTFRAG: alloc_order | alloc_mt << 4 | fallback_mt << 8 | fragmenting << 12 | change_ownership << 13 */
export function packExtfrag(allocOrder: number, allocMt: number, fallbackMt: number, fragmenting: boolean, changeOwnership: boolean): number {
  return (allocOrder & 15) | (allocMt & 15) << 4 | (fallbackMt & 15) << 8 | (fragmenting ? 1 << 12 : 0) | (changeOwnership ? 1 << 13 : 0);
}

/** Cache flags carried by cache_create (trace.caches[i].flags). */
export const CACHE_RECLAIMABLE = 1; // SLAB_RECLAIM_ACCOUNT
export const CACHE_HWCACHE_ALIGN = 2; // SLAB_HWCACHE_ALIGN
