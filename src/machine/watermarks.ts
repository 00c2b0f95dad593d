import { ZONE_MOVABLE } from './gfp.js';
import { PAGEBLOCK_PAGES } from './page-geometry.js';

/** sysctl_lowmem_reserve_ratio per zone (mm/page_alloc.c): DMA 256, DMA32 256, Normal 32, Movable 0. */
const LOWMEM_RESERVE_RATIO = [256, 256, 32, 0];
const WATERMARK_SCALE_FACTOR = 10; // vm.watermark_scale_factor default, in 1/10000 of managed pages
const SWAP_CLUSTER_MAX = 32;

export interface Watermarks {
  minFreeKbytes: number;
  /** per zone index: [min, low, high] in pages */
  wmark: number[][];
  /** lowmem_reserve[zone][highest_zoneidx of the request] in pages */
  lowmemReserve: number[][];
}

/**
 * calculate_min_free_kbytes() (mm/page_alloc.c, 6.x), raised to khugepaged's recommendation when
 * THP is on, then the per-zone watermarks, given each zone's managed pages (index = zone index,
 * 0 for empty zones).
 */
export function computeWatermarks(managed: readonly number[], thp = true): Watermarks {
  // nr_free_buffer_pages() at boot: managed pages of the zones GFP_USER may use (all but Movable).
  const lowmemPages = managed.reduce((s, m, i) => (i === ZONE_MOVABLE ? s : s + m), 0);
  const lowmemKbytes = lowmemPages * 4;
  let minFreeKbytes = Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmemKbytes * 16))));
  if (thp) minFreeKbytes = Math.max(minFreeKbytes, thpRecommendedMinFreeKbytes(managed, lowmemPages));
  return watermarksFor(managed, minFreeKbytes);
}

/**
 * set_recommended_min_free_kbytes() (mm/khugepaged.c), run when transparent huge pages are enabled
 * (Debian's default is madvise): keep 2 pageblocks free per zone plus MIGRATE_PCPTYPES^2 pageblocks
 * "almost free of another type" to help grouping by mobility, at most 5% of lowmem.
 */
function thpRecommendedMinFreeKbytes(managed: readonly number[], lowmemPages: number): number {
  const nrZones = managed.filter((m, i) => m > 0 && i !== ZONE_MOVABLE).length;
  const pcpTypes = 3;
  let pages = PAGEBLOCK_PAGES * nrZones * 2 + PAGEBLOCK_PAGES * nrZones * pcpTypes * pcpTypes;
  pages = Math.min(pages, Math.floor(lowmemPages / 20));
  return pages * 4;
}

/** __setup_per_zone_wmarks() and setup_per_zone_lowmem_reserve() for a given min_free_kbytes. */
export function watermarksFor(managed: readonly number[], minFreeKbytes: number): Watermarks {
  const lowmemPages = managed.reduce((s, m, i) => (i === ZONE_MOVABLE ? s : s + m), 0);
  const pagesMin = minFreeKbytes >> 2;
  const wmark = managed.map((m, i) => {
    let tmp = lowmemPages > 0 ? Math.floor((pagesMin * m) / lowmemPages) : 0;
    const min = i === ZONE_MOVABLE ? Math.min(128, Math.max(SWAP_CLUSTER_MAX, Math.floor(m / 1024))) : tmp;
    // mult_frac(managed, watermark_scale_factor, 10000)
    tmp = Math.max(tmp >> 2, Math.floor(m / 10000) * WATERMARK_SCALE_FACTOR + Math.floor(((m % 10000) * WATERMARK_SCALE_FACTOR) / 10000));
    return [min, min + tmp, min + 2 * tmp];
  });
  const lowmemReserve = managed.map((m, i) => {
    const row = new Array<number>(managed.length).fill(0);
    const ratio = LOWMEM_RESERVE_RATIO[i] ?? 0;
    let upper = 0;
    for (let j = i + 1; j < managed.length; j++) {
      upper += managed[j]!;
      row[j] = ratio && m ? Math.floor(upper / ratio) : 0;
    }
    return row;
  });
  return { minFreeKbytes, wmark, lowmemReserve };
}
