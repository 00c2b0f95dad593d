import { MIGRATE_NAMES, MIGRATE_TYPES } from '../machine/gfp.js';
import { MAX_ORDER, NR_ORDERS } from '../page/strategy.js';
import type { ExtraMigratetype, ZoneFreeState } from '../machine/zone-free-state.js';

// the input type, re-exported for the metrics' callers
export type { ExtraMigratetype, ZoneFreeState };

/** struct contig_page_info (mm/vmstat.c). */
export interface ContigPageInfo {
  freePages: number;
  freeBlocksTotal: number;
  freeBlocksSuitable: number;
}

/**
 * Free blocks per order summed over all migratetypes, i.e. zone->free_area[order].nr_free.
 * Accepts a plain per-order array (length NR_ORDERS) or the mt * NR_ORDERS + order layout.
 */
export function nrFreePerOrder(freeArea: Float64Array, out = new Float64Array(NR_ORDERS)): Float64Array {
  out.fill(0);
  for (let i = 0; i < freeArea.length; i++) out[i % NR_ORDERS]! += freeArea[i]!;
  return out;
}

/** nr_free per order of a zone, extra migratetypes (CMA, Isolate) included, as the kernel counts it. */
export function zoneNrFree(z: ZoneFreeState): Float64Array {
  const out = nrFreePerOrder(z.freeArea);
  for (const x of z.extraTypes ?? []) for (let o = 0; o < NR_ORDERS; o++) out[o]! += x.freeArea[o]!;
  return out;
}

/**
 * fill_contig_page_info() (mm/vmstat.c): free pages, free blocks, and blocks that could satisfy an
 * allocation of `order` (a block of order o ≥ j counts as 2^(o−j) suitable blocks).
 * `freeArea` is per order (length NR_ORDERS) or per migratetype and order; types are summed.
 */
export function fillContigPageInfo(freeArea: Float64Array, order: number): ContigPageInfo {
  let freePages = 0, freeBlocksTotal = 0, freeBlocksSuitable = 0;
  for (let i = 0; i < freeArea.length; i++) {
    const o = i % NR_ORDERS;
    const blocks = freeArea[i]!;
    freeBlocksTotal += blocks;
    // blocks << o: multiplication keeps exact integers past 2^31 (unsigned long in the kernel)
    freePages += blocks * 2 ** o;
    if (o >= order) freeBlocksSuitable += blocks * 2 ** (o - order);
  }
  return { freePages, freeBlocksTotal, freeBlocksSuitable };
}

/**
 * unusable_free_index() (mm/vmstat.c), ×1000: the share of free memory in blocks too small for
 * `order`. No free memory counts as all unusable (1000). The kernel's
 * div_u64((free_pages − (suitable << order)) × 1000, free_pages) truncates; so does this.
 */
export function unusableFreeIndex(info: ContigPageInfo, order: number): number {
  if (info.freePages === 0) return 1000;
  return Math.floor(((info.freePages - info.freeBlocksSuitable * 2 ** order) * 1000) / info.freePages);
}

/**
 * __fragmentation_index() (mm/vmstat.c), ×1000. 0 with no free blocks; −1000 when a suitable block
 * exists (the index only means something for a request that would fail); otherwise
 * 1000 − div_u64(1000 + div_u64(free_pages × 1000, 2^order), free_blocks_total), both divisions
 * truncating, in that order. Values near 1000 mean fragmentation, near 0 lack of memory; it can go
 * below 0 (e.g. one free block of order j−1 gives −500), which the kernel prints as " 0.-500".
 */
export function fragmentationIndex(info: ContigPageInfo, order: number): number {
  if (order > MAX_ORDER) return 0; // WARN_ON_ONCE(order > MAX_ORDER) in the kernel
  if (info.freeBlocksTotal === 0) return 0;
  if (info.freeBlocksSuitable > 0) return -1000;
  const perRequest = Math.floor((info.freePages * 1000) / 2 ** order);
  return 1000 - Math.floor((1000 + perRequest) / info.freeBlocksTotal);
}

/** Highest order with a free block (any migratetype), −1 when nothing is free. */
export function largestFreeOrder(freeArea: Float64Array): number {
  let best = -1;
  for (let i = 0; i < freeArea.length; i++) {
    if (freeArea[i]! > 0) {
      const o = i % NR_ORDERS;
      if (o > best) best = o;
    }
  }
  return best;
}

/** The per-zone figures a cell result carries (schema/result-line.schema.json, metrics.zones.*). */
export interface ZoneFragMetrics {
  free_pages: number;
  /** free blocks per order 0..10, as /proc/buddyinfo */
  free_blocks: number[];
  largest_free_order: number;
  /** debugfs extfrag/unusable_index per order, as a decimal (index / 1000) */
  unusable_index: number[];
  /** debugfs extfrag/extfrag_index per order, as a decimal (−1: a suitable block exists) */
  extfrag_index: number[];
  /** pageblocks per migratetype name */
  pageblocks: Record<string, number>;
  /** free pages per migratetype name */
  free_pages_by_type: Record<string, number>;
}

export function zoneFragMetrics(z: ZoneFreeState): ZoneFragMetrics {
  const nrFree = zoneNrFree(z);
  const unusable: number[] = [];
  const extfrag: number[] = [];
  for (let j = 0; j < NR_ORDERS; j++) {
    const info = fillContigPageInfo(nrFree, j);
    // integer ×1000 / 1000: the printed value as a number (0.123), no float noise beyond that
    unusable.push(unusableFreeIndex(info, j) / 1000);
    extfrag.push(fragmentationIndex(info, j) / 1000);
  }
  const pageblocks: Record<string, number> = {};
  const byType: Record<string, number> = {};
  for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
    const name = MIGRATE_NAMES[mt]!;
    pageblocks[name] = z.pageblocks[mt] ?? 0;
    let pages = 0;
    for (let o = 0; o < NR_ORDERS; o++) pages += (z.freeArea[mt * NR_ORDERS + o] ?? 0) * 2 ** o;
    byType[name] = pages;
  }
  for (const x of z.extraTypes ?? []) {
    pageblocks[x.name] = x.pageblocks;
    let pages = 0;
    for (let o = 0; o < NR_ORDERS; o++) pages += x.freeArea[o]! * 2 ** o;
    byType[x.name] = pages;
  }
  return {
    free_pages: fillContigPageInfo(nrFree, 0).freePages,
    free_blocks: Array.from(nrFree),
    largest_free_order: largestFreeOrder(nrFree),
    unusable_index: unusable,
    extfrag_index: extfrag,
    pageblocks,
    free_pages_by_type: byType,
  };
}
