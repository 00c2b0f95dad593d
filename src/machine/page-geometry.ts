/**
 * Page geometry of the simulated x86-64 machine: page size, buddy orders and pageblocks. Machine
 * facts that every layer above uses (the page-layer contract re-exports them, page/strategy.ts).
 */

/** Orders 0..MAX_ORDER inclusive (Linux 6.4+ calls it MAX_PAGE_ORDER; 10 on x86-64). */
export const MAX_ORDER = 10;
export const NR_ORDERS = MAX_ORDER + 1;
/** pageblock_order on x86-64 with 4 KiB pages and 2 MiB huge pages. */
export const PAGEBLOCK_ORDER = 9;
export const PAGEBLOCK_PAGES = 1 << PAGEBLOCK_ORDER;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** sizeof(struct page) on x86-64 (6.1 and 6.12): pfn = (page - vmemmap_base) / 64 */
export const STRUCT_PAGE_BYTES = 64;

/** The pfn of the struct page at `page` in the array at `vmemmapBase` (both hex digits, no 0x, as a trace prints them). */
export function structPagePfn(page: string, vmemmapBase: string): number {
  return Number((BigInt(`0x${page}`) - BigInt(`0x${vmemmapBase}`)) / BigInt(STRUCT_PAGE_BYTES));
}
