import { ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NAMES, ZONE_NORMAL } from './gfp.js';
import { MAX_ORDER } from './page-geometry.js';
import type { Region } from './memblock.js';

/** A zone's pfn span. Spans include holes; `present` counts the usable pages inside. */
export interface ZoneSpan {
  index: number;
  name: string;
  startPfn: number;
  endPfn: number;
}

export const MAX_DMA_PFN = (16 * 2 ** 20) / 4096; // MAX_DMA_PFN: 16 MiB (arch/x86/include/asm/dma.h)
export const MAX_DMA32_PFN = (4 * 2 ** 30) / 4096; // MAX_DMA32_PFN: 4 GiB

/** The zone a pfn lies in by the x86-64 boundaries above: ZONE_DMA, ZONE_DMA32 or ZONE_NORMAL (ZONE_MOVABLE is carved out by size, not placed by pfn). */
export function zoneOfPfn(pfn: number): number {
  return pfn < MAX_DMA_PFN ? ZONE_DMA : pfn < MAX_DMA32_PFN ? ZONE_DMA32 : ZONE_NORMAL;
}
const MAX_ORDER_NR_PAGES = 1 << MAX_ORDER;

/**
 * Zone boundaries as zone_sizes_init() (arch/x86/mm/init.c) sets them, plus ZONE_MOVABLE as
 * find_zone_movable_pfns_for_nodes() (mm/mm_init.c) carves it from the top of the highest
 * populated zone for kernelcore=/movablecore=. Single node. Returns the four zones in index order
 * (a zone may be empty: startPfn === endPfn).
 */
export function zoneSpans(usable: readonly Region[], opts: { kernelcore?: number; movablecore?: number } = {}): ZoneSpan[] {
  const maxPfn = Math.floor(usable[usable.length - 1]!.end / 4096);
  const bounds = [
    [0, Math.min(MAX_DMA_PFN, maxPfn)],
    [Math.min(MAX_DMA_PFN, maxPfn), Math.min(MAX_DMA32_PFN, maxPfn)],
    [Math.min(MAX_DMA32_PFN, maxPfn), maxPfn],
    [maxPfn, maxPfn],
  ];
  const movableStart = movableZoneStart(usable, bounds, opts);
  if (movableStart >= 0) {
    // The zone that would hold those pages ends where ZONE_MOVABLE begins.
    for (const b of bounds.slice(0, 3)) {
      b[1] = Math.min(b[1]!, movableStart);
      b[0] = Math.min(b[0]!, b[1]!);
    }
    bounds[ZONE_MOVABLE] = [movableStart, maxPfn];
  }
  return bounds.map(([s, e], i) => ({ index: i, name: ZONE_NAMES[i]!, startPfn: s!, endPfn: e! }));
}

/** Usable pages of a pfn range. */
export function presentPages(usable: readonly Region[], startPfn: number, endPfn: number): number {
  let n = 0;
  for (const r of usable) {
    const s = Math.max(startPfn, Math.ceil(r.start / 4096));
    const e = Math.min(endPfn, Math.floor(r.end / 4096));
    if (e > s) n += e - s;
  }
  return n;
}

/**
 * The first pfn of ZONE_MOVABLE, or -1. As in find_zone_movable_pfns_for_nodes():
 * movablecore=X becomes kernelcore = total - X; kernelcore pages are counted from the bottom of
 * memory (pages below the movable-eligible zone count toward it), and ZONE_MOVABLE starts where
 * they run out, rounded up to MAX_ORDER_NR_PAGES.
 */
function movableZoneStart(usable: readonly Region[], bounds: number[][], opts: { kernelcore?: number; movablecore?: number }): number {
  if (!opts.kernelcore && !opts.movablecore) return -1;
  const total = presentPages(usable, 0, bounds[ZONE_NORMAL]![1]!);
  let kernelcore = opts.kernelcore ? Math.floor(opts.kernelcore / 4096) : 0;
  if (opts.movablecore) kernelcore = Math.max(kernelcore, total - Math.floor(opts.movablecore / 4096));
  if (kernelcore <= 0 || kernelcore >= total) return -1;
  // movable_zone: the highest populated zone.
  const highest = [ZONE_NORMAL, ZONE_DMA32, ZONE_DMA].find((z) => bounds[z]![1]! > bounds[z]![0]!)!;
  const usableStart = bounds[highest]![0]!;
  let remaining = kernelcore;
  for (const r of usable) {
    const s = Math.ceil(r.start / 4096);
    const e = Math.floor(r.end / 4096);
    if (e <= usableStart) { remaining -= Math.min(e - s, remaining); continue; }
    const from = Math.max(s, usableStart);
    if (from > s) remaining -= Math.min(from - s, remaining);
    if (e - from >= remaining) {
      const pfn = Math.ceil((from + remaining) / MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
      return pfn < e || pfn < bounds[highest]![1]! ? pfn : -1;
    }
    remaining -= e - from;
  }
  return -1;
}
