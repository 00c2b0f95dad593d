import { MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE } from '../machine/gfp.js';
import { PAGEBLOCK_ORDER } from './strategy.js';

/**
 * The migratetype fallback policy of mm/page_alloc.c (Linux 6.10–6.13, the last kernels with the
 * single largest-first __rmqueue_fallback; 6.1 differs only in where stolen remainders are listed).
 *
 * fallbacks[MIGRATE_TYPES][MIGRATE_PCPTYPES - 1]: the order in which another type's free lists are
 * tried when a request's own lists are empty. Row r, column c is FALLBACKS[r * 2 + c].
 */
export const FALLBACKS = new Int8Array([
  MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE, //   Unmovable
  MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, // Movable
  MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, //     Reclaimable
]);

/**
 * can_steal_fallback(): may a fallback of this order try to claim its whole pageblock? Always for
 * pageblock-sized blocks; for smaller ones when the block is at least half a pageblock's order
 * (pageblock_order / 2 = 4) or the request is unmovable/reclaimable (those pollute a block anyway,
 * so it is better to take it over), or grouping is disabled.
 */
export function canStealFallback(order: number, startMt: number, groupingDisabled: boolean): boolean {
  if (order >= PAGEBLOCK_ORDER) return true;
  return order >= PAGEBLOCK_ORDER >> 1 || startMt === MIGRATE_RECLAIMABLE || startMt === MIGRATE_UNMOVABLE || groupingDisabled;
}

/**
 * The claim test of steal_suitable_fallback() (try_to_claim_block() in 6.14+): the pageblock changes
 * owner when its free pages plus the pages "alike" the request reach half a pageblock. Alike pages
 * are the movable (LRU) pages for a movable request; for an unmovable/reclaimable request falling
 * back to a Movable block every non-free, non-movable page (they cannot be told apart); otherwise 0.
 */
export function shouldClaimBlock(
  startMt: number, blockMt: number, freePages: number, movablePages: number, groupingDisabled: boolean,
): boolean {
  let alike: number;
  if (startMt === MIGRATE_MOVABLE) alike = movablePages;
  else if (blockMt === MIGRATE_MOVABLE) alike = (1 << PAGEBLOCK_ORDER) - (freePages + movablePages);
  else alike = 0;
  return freePages + alike >= 1 << (PAGEBLOCK_ORDER - 1) || groupingDisabled;
}
