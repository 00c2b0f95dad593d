/**
 * The page-layer contract as the strategies of this folder import it: the interface is the
 * machine's, which drives one strategy per zone (machine/page-strategy.ts), and so are the orders
 * and pageblocks a strategy works in (machine/page-geometry.ts).
 */
export type { Pageset, PageStrategy, PageStrategyFactory, PageStrategyOptions } from '../machine/page-strategy.js';
export { MAX_ORDER, NR_ORDERS, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES, PAGE_SHIFT, PAGE_SIZE } from '../machine/page-geometry.js';
