import { MAX_ORDER, NR_ORDERS } from './page-geometry.js';

/** Number of trailing zero bits of a pfn (pfns stay below 2^31 here); MAX_ORDER for pfn 0. */
export function ctz(pfn: number): number {
  if (pfn === 0) return MAX_ORDER;
  return 31 - Math.clz32(pfn & -pfn);
}

/**
 * Splits [start, end) into the naturally aligned power-of-two blocks of at most MAX_ORDER that the
 * kernel would make of it: at each position the largest block that is aligned there and fits,
 * order = min(MAX_ORDER, __ffs(pfn)), shrinking near the end. This is __free_pages_memory() in
 * mm/memblock.c (the boot hand-over), and also how a buddy allocator would hold a free run.
 */
export function forEachAlignedBlock(start: number, end: number, fn: (pfn: number, order: number) => void): void {
  let pfn = start;
  while (pfn < end) {
    let order = Math.min(MAX_ORDER, ctz(pfn));
    while (pfn + (1 << order) > end) order--;
    fn(pfn, order);
    pfn += 1 << order;
  }
}

/** Adds the aligned blocks of the free run [start, end) to counts[base + order] (no callback, hot in metrics). */
export function countAlignedBlocks(start: number, end: number, counts: Float64Array, base = 0): void {
  let pfn = start;
  while (pfn < end) {
    let order = pfn === 0 ? MAX_ORDER : Math.min(MAX_ORDER, 31 - Math.clz32(pfn & -pfn));
    while (pfn + (1 << order) > end) order--;
    counts[base + order]! += 1;
    pfn += 1 << order;
  }
}
