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
