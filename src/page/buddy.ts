import { InvariantError } from '../errors.js';
import { keptArray, keptArrayUnset } from '../machine/kept-arrays.js';
import * as gfp from '../machine/gfp.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import { mutation } from '../mutation.js';
import { canStealFallback, FALLBACKS, shouldClaimBlock } from './fallback.js';
import { NEWEST_RULES, type BuddyRules, type BuddyVariant } from './kernel-version.js';
import type { CpuCursor } from '../machine/cpu-cursor.js';
import { PerCpuPages, type PcpBackend } from './pcp.js';
import * as geometry from './strategy.js';
import type { Pageset, PageStrategy, PageStrategyOptions } from './strategy.js';

// Constants and helpers of other modules as constants of this one (issue 17): optimized code loads an
// imported binding through its module's cell and checks it for the temporal dead zone at every use,
// where a const of this module costs at most one load; on the 1 M-event native trace the hot paths
// ran ~7 ns/event faster (of ~45) with these copies.
const { MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE } = gfp;
const { STEP_CALL, STEP_FALLBACK, STEP_LIST, STEP_MERGE, STEP_PAGEBLOCK, STEP_SPLIT, tick, ticks } = stepsModule;
const { MAX_ORDER, NR_ORDERS, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES } = geometry;

const NIL = -1;
const ORDER_MASK = 15;
/** set in state[] for the head of an allocated block */
const ALLOCATED = 64;
/** (state & FREE_TEST) === order exactly when the page heads a free block of that order (-1 fails too) */
const FREE_TEST = ALLOCATED | ORDER_MASK;
const MT_SHIFT = 4;
/** fstate of a block on a per-CPU list: PCP_BASE - migratetype (negative: neither free head nor allocated head) */
const PCP_BASE = -2;
/** free lists: MIGRATE_TYPES * NR_ORDERS, list index = migratetype * NR_ORDERS + order (the freeArea layout) */
const LISTS = MIGRATE_TYPES * NR_ORDERS;
/** BuddyAllocator.area: the lists' heads at li, tails at TAIL + li, nr_free at NR_FREE + li, the non-empty masks at MASK + mt */
const TAIL = LISTS;
const NR_FREE = 2 * LISTS;
const MASK = 3 * LISTS;

/**
 * The Linux buddy allocator (mm/page_alloc.c), optionally grouping pages by mobility.
 *
 * Follows one kernel version's rules (page/kernel-version.ts: 6.1 or 6.12, default the newest). On
 * 6.10–6.13 a free block always sits on the list of its pageblock's migratetype (stolen remainders
 * go back to the block's own type, merging across pageblocks retypes the buddy); on 6.1 it sits on
 * the list of the type it was freed or split with. Both search the largest order first in
 * __rmqueue_fallback. Per-CPU page lists (page/pcp.ts) are set up by the machine once the zone's
 * managed pages and watermarks are known (setupPcp), unless `pcp=off`. Left out, on purpose:
 * - MIGRATE_HIGHATOMIC reserves, MIGRATE_CMA and MIGRATE_ISOLATE (so __free_one_page's refusal to
 *   merge with isolate/CMA/highatomic pageblocks never applies), watermark boosting,
 *   ALLOC_NOFRAGMENT (a zonelist-level policy), page shuffling.
 * - page_group_by_mobility_disabled is decided per zone (zone pages < pageblock_nr_pages *
 *   MIGRATE_TYPES) where the kernel uses vm_total_pages in build_all_zonelists().
 * - A block of order > pageblock_order is freed as one block with the first pageblock's type, where
 *   6.10+ frees each pageblock with its own type (split_large_buddy()); the pageblocks of such a block
 *   always share one type here, so the result is the same.
 * - "Movable pages" in a pageblock scan (PageLRU || __PageMovable) are the pages allocated by a
 *   MIGRATE_MOVABLE request.
 *
 * Per page: next/prev list links (Int32, interleaved) and one state byte (free head, allocated head
 * with the request's type, or neither): 9 bytes, plus a byte per pageblock. A free() of a block
 * never handed out by alloc() is the boot hand-over (__free_pages_core() frees with FPI_TO_TAIL).
 */
export class BuddyAllocator implements PageStrategy, PcpBackend {
  readonly name: string;
  readonly rules: BuddyRules;
  /** per-CPU lists once setupPcp() ran (never during the boot hand-over), null with pcp=off */
  private pcp: PerCpuPages | null = null;
  /** bit o set when order o goes through the pcp lists (PerCpuPages.allowed() once they are set up) */
  private pcpOrders = 0;
  private readonly pcpWanted: boolean;
  readonly pages: number;
  /**
   * false when page_group_by_mobility_disabled: everything is Unmovable, no fallback. The hot paths
   * test this and the other boolean fields and rules as `=== true` (page/pcp.ts says why).
   */
  readonly grouping: boolean;
  private readonly steps: Steps;
  /** next at 2 * pfn, prev at 2 * pfn + 1, of free-list heads only: one cache line holds both links of a page (the pcp lists keep rings of their own, pcp.ts) */
  readonly links: Int32Array;
  /** per page: -1, a free head (order | mt << 4), or an allocated head (64 | order | request mt << 4) */
  private readonly fstate: Int8Array;
  private readonly pbType: Uint8Array;
  /**
   * The free lists' heads, tails and nr_free (at li, TAIL + li, NR_FREE + li; list index li =
   * migratetype * NR_ORDERS + order, the freeArea layout), then per migratetype a mask with bit o set
   * when list (o, mt) is non-empty (at MASK + mt): one array, so that a list operation loads one
   * field of this object, not four
   */
  private readonly area: Int32Array;
  private nFree = 0;
  private extfragEvents = 0;
  private extfragFragmenting = 0;
  private extfragChangeOwnership = 0;
  private pageblockSteals = 0;
  private singleBlockSteals = 0;
  /** test-only mutations (src/mutation.ts), read once here: the order merging stops at, tail placement, the fallback table */
  private readonly mergeLimit = mutation('buddy-merge-cap') ? 8 : MAX_ORDER;
  private readonly tailPlacement = !mutation('buddy-no-tail');
  private readonly fallbacks = mutation('fallback-reversed') ? FALLBACKS.map((_, i) => FALLBACKS[i ^ 1]!) : FALLBACKS;

  constructor(opts: PageStrategyOptions, mobility: boolean, variant: BuddyVariant = { rules: NEWEST_RULES, pcp: true }) {
    this.name = mobility ? 'buddy-mobility' : 'buddy';
    this.rules = variant.rules;
    this.pcpWanted = variant.pcp;
    this.pages = opts.pages;
    this.steps = opts.steps;
    // build_all_zonelists(): grouping is pointless with fewer pages than one pageblock per type.
    this.grouping = mobility && opts.pages >= PAGEBLOCK_PAGES * MIGRATE_TYPES;
    const n = opts.pages;
    // Not cleared (issue 17: a wasted memset of 8 bytes a page per cell): a page's links are read
    // only while it heads a block on a free list (del(), the list walks of locate(),
    // allocCompactionTarget() and check()), and only link() lists a page, writing both its
    // links (and a neighbour's one) before it is listed; a free-head fstate is set nowhere else, and
    // the pcp lists keep their own rings (pcp.ts). So no link is read before this machine wrote it.
    this.links = keptArrayUnset(Int32Array, 2 * n);
    this.fstate = keptArray(Int8Array, n, NIL); // one fill, not a clear and then NIL
    // memmap_init() marks every pageblock MIGRATE_MOVABLE; set_pageblock_migratetype() forces
    // Unmovable when grouping is disabled.
    this.pbType = new Uint8Array((n + PAGEBLOCK_PAGES - 1) >>> PAGEBLOCK_ORDER).fill(this.grouping ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE);
    this.area = new Int32Array(MASK + MIGRATE_TYPES).fill(NIL, 0, NR_FREE);
  }

  // ---- free lists -------------------------------------------------------------------------------

  /**
   * Lists a free block at the head (LIFO reuse) or the tail of list (order, mt). Counts no step: the
   * callers count theirs once per operation (an event's steps are sums of whole numbers, so the
   * totals are the same as a tick per list operation; issue 17: a tick is two read-modify-writes of
   * the shared counters, and the smaller methods are inlined into alloc() and free())
   */
  private link(pfn: number, order: number, mt: number, toTail: boolean): void {
    const li = mt * NR_ORDERS + order;
    const area = this.area, links = this.links;
    if (toTail) {
      const t = area[TAIL + li]!;
      links[2 * pfn] = NIL;
      links[2 * pfn + 1] = t;
      if (t === NIL) { area[li] = pfn; area[MASK + mt]! |= 1 << order; } else links[2 * t] = pfn;
      area[TAIL + li] = pfn;
    } else {
      const h = area[li]!;
      links[2 * pfn] = h;
      links[2 * pfn + 1] = NIL;
      if (h === NIL) { area[TAIL + li] = pfn; area[MASK + mt]! |= 1 << order; } else links[2 * h + 1] = pfn;
      area[li] = pfn;
    }
    this.fstate[pfn] = order | (mt << MT_SHIFT);
    area[NR_FREE + li]!++;
  }

  /** Unlinks a free head from list (order, mt); counts no step (link()). */
  private unlink(pfn: number, order: number, mt: number): void {
    const li = mt * NR_ORDERS + order;
    const area = this.area, links = this.links;
    const p = links[2 * pfn + 1]!;
    const nx = links[2 * pfn]!;
    if (p === NIL) { area[li] = nx; if (nx === NIL) area[MASK + mt]! &= ~(1 << order); } else links[2 * p] = nx;
    if (nx === NIL) area[TAIL + li] = p; else links[2 * nx + 1] = p;
    this.fstate[pfn] = NIL;
    area[NR_FREE + li]!--;
  }

  /** expand(): split [pfn, pfn + 2^high) down to 2^low, keeping the low half, listing the upper halves (a list step and a split each). */
  private expand(pfn: number, low: number, high: number, mt: number): void {
    const n = high - low;
    while (high > low) {
      high--;
      this.link(pfn + (1 << high), high, mt, false);
    }
    ticks(this.steps, STEP_LIST, n);
    ticks(this.steps, STEP_SPLIT, n);
  }

  /** __rmqueue_smallest(): the first non-empty list of this type at order ≥ the request's, LIFO head. */
  private rmqueueSmallest(order: number, mt: number): number {
    const area = this.area;
    const m = area[MASK + mt]! >>> order;
    if (m === 0) {
      ticks(this.steps, STEP_LIST, NR_ORDERS - order);
      return NIL;
    }
    const cur = order + 31 - Math.clz32(m & -m);
    // the empty lists looked at on the way up, and the removal
    ticks(this.steps, STEP_LIST, cur - order + 1);
    const pfn = area[mt * NR_ORDERS + cur]!;
    this.unlink(pfn, cur, mt);
    this.expand(pfn, order, cur, mt);
    return pfn;
  }

  // ---- the contract -----------------------------------------------------------------------------

  alloc(order: number, migratetype: number): number {
    tick(this.steps, STEP_CALL);
    if (order < 0 || order > MAX_ORDER) return NIL;
    // gfp_migratetype() returns Unmovable when grouping is disabled; only the three PCP types have
    // lists with fallbacks (HighAtomic reserves are not modelled, so such a request is Unmovable).
    const mt = this.grouping === true && (migratetype === MIGRATE_MOVABLE || migratetype === MIGRATE_RECLAIMABLE)
      ? migratetype : MIGRATE_UNMOVABLE;
    let pfn: number;
    if ((this.pcpOrders >>> order) & 1) pfn = this.pcp!.alloc(order, mt);
    else {
      pfn = this.rmqueue(order, mt);
      if (pfn !== NIL) this.nFree -= 1 << order;
    }
    if (pfn !== NIL) this.fstate[pfn] = ALLOCATED | order | (mt << MT_SHIFT);
    return pfn;
  }

  /** __rmqueue(): the request's own lists, then a fallback. */
  private rmqueue(order: number, mt: number): number {
    let pfn = this.rmqueueSmallest(order, mt);
    const fallback = pfn === NIL && this.grouping === true;
    if (fallback) pfn = this.rmqueueFallback(order, mt);
    if (this.onTake !== null && pfn !== NIL) this.onTake(pfn, order, mt, fallback);
    return pfn;
  }

  /** Sees every block taken off the free lists (the model's mm_page_alloc_zone_locked), for diagnostics (run/take-divergence.ts). */
  onTake: ((pfn: number, order: number, mt: number, fallback: boolean) => void) | null = null;

  /**
   * Where page `pfn` is now, for diagnostics: `free o mt #i` (in a free block of order o listed on
   * type mt, the block i-th from its list's head; `+k` when pfn is k pages into it),
   * `pcp mtM` (heads a block on a per-CPU list of type M; `pcp +k` inside one), `allocated o` or
   * `pre-trace` (never handed over, or not managed).
   */
  locate(pfn: number): string {
    for (let o = 0; o <= MAX_ORDER; o++) {
      const h = pfn & ~((1 << o) - 1), st = this.fstate[h]!;
      if (st < PCP_BASE + 1 && h === pfn) return `pcp mt${PCP_BASE - st}`;
      if (st < 0 || h + (1 << (st & ORDER_MASK)) <= pfn) continue;
      if (st >= ALLOCATED) return `allocated ${st & ORDER_MASK}${h === pfn ? '' : ` +${pfn - h}`}`;
      const mt = st >>> MT_SHIFT, fo = st & ORDER_MASK;
      let i = 0;
      for (let p = this.area[mt * NR_ORDERS + fo]!; p !== NIL && p !== h; p = this.links[2 * p]!) i++;
      return `free ${fo} mt${mt} #${i}${h === pfn ? '' : ` +${pfn - h}`}`;
    }
    let on = '';
    this.pcp?.forEach((p, o) => { if (pfn > p && pfn < p + (1 << o)) on = `pcp +${pfn - p}`; });
    return on === '' ? 'pre-trace' : on;
  }

  // ---- per-CPU lists ----------------------------------------------------------------------------

  /**
   * setup_zone_pageset() once the zone's managed pages and low watermark are known (after the boot
   * hand-over, which frees straight to the free lists as __free_pages_core() does).
   */
  setupPcp(managed: number, lowWmark: number, cpus: number, cursor: CpuCursor, highWmark?: number): void {
    if (!this.pcpWanted) return;
    this.pcp = new PerCpuPages(this, Math.max(1, cpus), managed, lowWmark, this.rules.pcp, cursor, highWmark);
    for (let o = 0; o <= MAX_ORDER; o++) if (PerCpuPages.allowed(o)) this.pcpOrders |= 1 << o;
  }

  /** vmstat_update()'s decay_pcp_high() on every CPU (6.7+; nothing on 6.1); returns the pages drained. */
  decayPcp(): number {
    return this.pcp === null ? 0 : this.pcp.decay();
  }

  /** drain_all_pages(): every per-CPU list back to the free lists; returns the pages drained. */
  drainPcp(): number {
    return this.pcp === null ? 0 : this.pcp.drainAll();
  }

  setReclaimActive(on: boolean): void {
    if (this.pcp !== null) this.pcp.reclaimActive = on;
  }

  pcpPages(): number {
    return this.pcp === null ? 0 : this.pcp.pages();
  }

  pagesets(): Pageset[] {
    return this.pcp === null ? [] : this.pcp.pagesets();
  }

  /**
   * A pre-trace block (never handed over, never freed) put on `cpu`'s per-CPU list under `type`
   * (the list the recording shows it on; default its pageblock's type), as the recording's start had it (machine/start-state.ts); false without pcp
   * lists or for an order they do not cache.
   */
  seedPcp(cpu: number, pfn: number, order: number, type?: number): boolean {
    if (this.pcp === null || !PerCpuPages.allowed(order) || cpu < 0 || cpu >= this.pcp.cpus) return false;
    const mt = this.grouping && type !== undefined && type < 3 ? type : this.pbType[pfn >>> PAGEBLOCK_ORDER]!;
    this.fstate[pfn] = PCP_BASE - mt;
    this.pcp.seed(cpu, pfn, order, mt);
    return true;
  }

  markAllocated(pfn: number, order: number, mt: number): void {
    this.fstate[pfn] = ALLOCATED | order | (mt << MT_SHIFT);
  }

  setPcpHigh(cpu: number, high: number): void {
    if (this.pcp !== null && cpu >= 0 && cpu < this.pcp.cpus) this.pcp.setHigh(cpu, high);
  }

  /** rmqueue_bulk(): __rmqueue() block by block; each then sits on a pcp list (not free, not allocated). */
  pcpTakeBulk(order: number, mt: number, out: Int32Array, want: number): number {
    const fstate = this.fstate;
    let got = 0;
    for (; got < want; got++) {
      const pfn = this.rmqueue(order, mt);
      if (pfn === NIL) break;
      fstate[pfn] = PCP_BASE - mt;
      out[got] = pfn;
    }
    this.nFree -= got << order;
    return got;
  }

  /** free_pcppages_bulk()'s __free_one_page() of each block with the type it was listed under (6.1: get_pcppage_migratetype()). */
  pcpGiveTail(ring: Int32Array, first: number, len: number, k: number, order: number): void {
    const m = ring.length - 1, byBlock = this.rules.freeToBlockType === true;
    for (let j = len - 1; j >= len - k; j--) {
      const pfn = ring[(first + j) & m]!;
      // 6.10+: get_pfnblock_migratetype() at drain time; 6.1: the type recorded when it was listed
      this.freeOne(pfn, order, byBlock ? this.pbType[pfn >>> PAGEBLOCK_ORDER]! : PCP_BASE - this.fstate[pfn]!, false);
    }
  }

  /** The pcp-list counters; zeros with pcp off, so every buddy result has the same keys. */
  private pcpCounters(): Record<string, number> {
    const p = this.pcp;
    return {
      pcp_refills: p?.refills ?? 0, pcp_refill_blocks: p?.refillBlocks ?? 0,
      pcp_drains: p?.drains ?? 0, pcp_drain_blocks: p?.drainBlocks ?? 0, pcp_pages: p?.pages() ?? 0,
      pcp_batch: p?.batch ?? 0, pcp_high_min: p?.highMin ?? 0, pcp_high_max: p?.highMax ?? 0,
    };
  }

  /** The per-CPU lists (tests, zoneinfo-style output); null when off or not set up. */
  perCpuPages(): PerCpuPages | null {
    return this.pcp;
  }

  /** __free_pages_core() at boot: free() of a block never allocated, before the per-CPU lists exist. */
  handOver(pfn: number, order: number): void {
    tick(this.steps, STEP_CALL);
    this.freeOne(pfn, order, this.pbType[pfn >>> PAGEBLOCK_ORDER]!, true);
  }

  free(pfn: number, order: number): void {
    tick(this.steps, STEP_CALL);
    // get_pfnblock_migratetype() at free time (free_unref_page(), __free_pages_ok())
    const mt = this.pbType[pfn >>> PAGEBLOCK_ORDER]!;
    if ((this.pcpOrders >>> order) & 1) {
      // only stores to the block's state here: a freed block's state is usually not cached, and a
      // store that misses does not stall the replay as the load of the hand-over test below would
      this.fstate[pfn] = PCP_BASE - mt;
      this.pcp!.free(pfn, order, mt);
      return;
    }
    // A block alloc() never handed out comes from the boot hand-over: __free_pages_core() frees with
    // FPI_TO_TAIL so that early allocations are served from the blocks freed first.
    this.freeOne(pfn, order, mt, this.fstate[pfn]! < ALLOCATED);
  }

  /**
   * isolate_freepages(): compaction's free scanner walks the zone's pageblocks from the top down and
   * takes the free blocks in those suitable as targets (6.1/6.12 suitable_migration_target(): a
   * Movable pageblock whose first page does not head a free block of pageblock order or more).
   * So: the free block of this order with the highest pfn in a suitable pageblock, else the
   * highest larger one, cut down from its top (the scanner would meet the top part first); -1
   * when none. `large`: a free block of pageblock order or more may serve when nothing smaller
   * does (a recorded target the kernel did take: its placement, not the kernel's rule; the
   * model's own compaction, run/compaction-replay.ts, passes false, as the kernel's rule says).
   */
  allocCompactionTarget(order: number, large = true): number {
    let best = NIL, bestOrder = 0, bestMt = 0;
    for (let o = order; o <= MAX_ORDER && best === NIL; o++) {
      for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
        for (let p = this.area[mt * NR_ORDERS + o]!; p !== NIL; p = this.links[2 * p]!) {
          tick(this.steps, STEP_LIST);
          if (p > best && (o >= PAGEBLOCK_ORDER ? large : !this.grouping || this.pbType[p >>> PAGEBLOCK_ORDER] === MIGRATE_MOVABLE)) { best = p; bestOrder = o; bestMt = mt; }
        }
      }
    }
    if (best === NIL) return NIL;
    this.unlink(best, bestOrder, bestMt);
    tick(this.steps, STEP_LIST);
    this.nFree -= 1 << order;
    // the lower halves go back to the free lists (each on its pageblock's type: a block of pageblock
    // order or more may span pageblocks of several types); the top 2^order pages are the target
    while (bestOrder > order) {
      bestOrder--;
      this.link(best, bestOrder, this.grouping ? this.pbType[best >>> PAGEBLOCK_ORDER]! : bestMt, false);
      best += 1 << bestOrder;
      tick(this.steps, STEP_LIST);
      tick(this.steps, STEP_SPLIT);
    }
    this.fstate[best] = ALLOCATED | order | (MIGRATE_MOVABLE << MT_SHIFT);
    return best;
  }

  /**
   * Frees the aligned 2^order pages at pfn inside a larger allocated block: the block is first cut
   * as expand() would cut a free one, so that the halves not holding the part stay allocated
   * blocks of their own (their type the block's), then the part is freed as any block is.
   */
  freePart(pfn: number, order: number): void {
    const fstate = this.fstate;
    let head = -1;
    for (let o = order; o <= MAX_ORDER && head < 0; o++) {
      const h = pfn & ~((1 << o) - 1);
      const st = fstate[h]!;
      if (st >= ALLOCATED && h + (1 << (st & ORDER_MASK)) > pfn) head = h;
    }
    if (head < 0) throw new InvariantError(`buddy: no allocated block holds the order-${order} part at ${pfn}`);
    let ho = fstate[head]! & ORDER_MASK;
    const tag = ALLOCATED | (fstate[head]! & (ALLOCATED - 1) & ~ORDER_MASK);
    while (ho > order) {
      ho--;
      const upper = head + (1 << ho);
      if (pfn >= upper) { fstate[head] = tag | ho; head = upper; } else fstate[upper] = tag | ho;
    }
    fstate[pfn] = tag | order;
    this.free(pfn, order);
  }

  /** __free_one_page(): merge, then list the block (6.10+: on its pageblock's type; 6.1: on `mt`). */
  private freeOne(pfn: number, order: number, mt: number, handover: boolean): void {
    const fstate = this.fstate;
    fstate[pfn] = NIL;
    this.nFree += 1 << order;
    const retype = this.rules.freeToBlockType === true;
    const pages = this.pages, limit = this.mergeLimit, from = order;
    // __free_one_page(): merge while the buddy is a free head of the same order.
    while (order < limit) {
      const buddy = pfn ^ (1 << order);
      if (buddy >= pages) break;
      const bs = fstate[buddy]!;
      if ((bs & FREE_TEST) !== order) break;
      const bmt = bs >>> MT_SHIFT;
      this.unlink(buddy, order, bmt);
      // Only at order ≥ pageblock_order can the buddy's type differ; 6.10+ retypes it ("match buddy
      // type") so later expand()s list the halves correctly. 6.1 leaves the pageblock types alone.
      if (retype && bmt !== mt) this.pbType[buddy >>> PAGEBLOCK_ORDER] = mt;
      pfn &= buddy;
      order++;
    }
    if (retype) mt = this.pbType[pfn >>> PAGEBLOCK_ORDER]!;
    let toTail = handover === true;
    if (!toTail && this.tailPlacement === true && order < MAX_ORDER - 1) {
      // buddy_merge_likely(): if the buddy of the next-higher block is free, this block is likely to
      // merge soon, so put it at the tail where it is less likely to be allocated.
      // higher_page_pfn = buddy_pfn & pfn (the parent); its buddy at order + 1 must be a free head
      const hb = (pfn & ~(1 << order)) ^ (1 << (order + 1));
      if (hb < pages) {
        const hs = fstate[hb]!;
        toTail = (hs & FREE_TEST) === order + 1;
      }
    }
    this.link(pfn, order, mt, toTail);
    // a list step for each buddy taken off its list and one for the listing; a merge for each buddy
    ticks(this.steps, STEP_LIST, order - from + 1);
    ticks(this.steps, STEP_MERGE, order - from);
  }

  /**
   * __rmqueue_fallback(): find the largest free block on another type's lists (roughly the pageblock
   * with most free pages); a movable request that may not claim takes the smallest block instead
   * (it then fragments less). Then steal_suitable_fallback().
   */
  private rmqueueFallback(order: number, mt: number): number {
    const steps = this.steps;
    const f0 = this.fallbacks[mt * 2]!;
    const f1 = this.fallbacks[mt * 2 + 1]!;
    const m0 = this.area[MASK + f0]!;
    const m1 = this.area[MASK + f1]!;
    for (let cur = MAX_ORDER; cur >= order; cur--) {
      tick(steps, STEP_LIST);
      // find_suitable_fallback(): the first type in the table with a block of this order
      let fmt: number;
      if ((m0 >>> cur) & 1) fmt = f0;
      else if ((m1 >>> cur) & 1) fmt = f1;
      else continue;
      const canSteal = canStealFallback(cur, mt, false);
      if (!canSteal && mt === MIGRATE_MOVABLE && cur > order) {
        // find_smallest: from the requested order up
        for (cur = order; ; cur++) {
          tick(steps, STEP_LIST);
          if ((m0 >>> cur) & 1) { fmt = f0; break; }
          if ((m1 >>> cur) & 1) { fmt = f1; break; }
        }
      }
      return this.stealSuitableFallback(cur, order, mt, fmt, canSteal);
    }
    return NIL;
  }

  /** steal_suitable_fallback(): take the block, maybe claiming its pageblock (6.1 and 6.10+ rules). */
  private stealSuitableFallback(cur: number, order: number, mt: number, fmt: number, canSteal: boolean): number {
    tick(this.steps, STEP_FALLBACK);
    let page = this.area[fmt * NR_ORDERS + cur]!;
    // 6.10+: a free block is always on its pageblock's type list; 6.1: get_pageblock_migratetype()
    const blockType = this.pbType[page >>> PAGEBLOCK_ORDER]!;
    const rules = this.rules;
    if (cur >= PAGEBLOCK_ORDER) {
      // Take ownership for orders >= pageblock_order: change_pageblock_range()
      this.unlink(page, cur, fmt);
      tick(this.steps, STEP_LIST);
      const first = page >>> PAGEBLOCK_ORDER;
      const nblocks = 1 << (cur - PAGEBLOCK_ORDER);
      for (let b = 0; b < nblocks; b++) this.pbType[first + b] = mt;
      this.pageblockSteals += nblocks;
      this.expand(page, order, cur, mt);
      this.extfrag(page, cur, mt);
      return page;
    }
    if (canSteal) {
      const start = page & ~(PAGEBLOCK_PAGES - 1);
      const end = start + PAGEBLOCK_PAGES;
      // prep_move_freepages_block(): a pageblock straddling the zone end cannot be moved
      if (end <= this.pages) {
        const scan = this.scanPageblock(start);
        const freePages = scan & 0xffff;
        const movablePages = scan >>> 16;
        const claim = shouldClaimBlock(mt, blockType, freePages, movablePages, false);
        // 6.1 move_freepages_block(): every free block moves to the request's lists, claimed or not
        if (claim || !rules.moveOnlyOnClaim) {
          this.moveFreepagesBlock(start, mt);
          if (claim) {
            this.pbType[start >>> PAGEBLOCK_ORDER] = mt;
            this.pageblockSteals++;
          } else this.singleBlockSteals++;
          page = this.rmqueueSmallest(order, mt);
          this.extfrag(page, cur, mt);
          return page;
        }
      }
    }
    // single_page: only this block; 6.10+ the remainders stay on the pageblock's own type, 6.1 they
    // join the request's lists (move_to_free_list(start_type), then __rmqueue_smallest())
    this.unlink(page, cur, fmt);
    tick(this.steps, STEP_LIST);
    this.expand(page, order, cur, rules.remainderKeepsBlockType ? blockType : mt);
    this.singleBlockSteals++;
    this.extfrag(page, cur, mt);
    return page;
  }

  /** mm_page_alloc_extfrag: fragmenting = fallback_order < pageblock_order, change_ownership = the
   * page's pageblock now has the request's type. */
  private extfrag(page: number, fallbackOrder: number, mt: number): void {
    this.extfragEvents++;
    if (fallbackOrder < PAGEBLOCK_ORDER) this.extfragFragmenting++;
    if (this.pbType[page >>> PAGEBLOCK_ORDER] === mt) this.extfragChangeOwnership++;
  }

  /**
   * The counting loop of prep_move_freepages_block(): free pages (skipping each free block whole) and
   * movable pages; every other page is looked at one by one. Returns free | movable << 16.
   */
  private scanPageblock(start: number): number {
    const end = start + PAGEBLOCK_PAGES;
    const fstate = this.fstate;
    let free = 0;
    let movable = 0;
    let looked = 0;
    for (let pfn = start; pfn < end;) {
      const fs = fstate[pfn]!;
      if (fs >= 0 && fs < ALLOCATED) {
        const nr = 1 << (fs & ORDER_MASK);
        free += nr;
        pfn += nr;
        looked++;
        continue;
      }
      const as = fs;
      if (as >= ALLOCATED) {
        // an allocated block: the kernel visits each of its pages (PageLRU of a tail is the head's)
        const nr = Math.min(1 << (as & ORDER_MASK), end - pfn);
        if (((as >>> MT_SHIFT) & 3) === MIGRATE_MOVABLE) movable += nr;
        pfn += nr;
        looked += nr;
        continue;
      }
      pfn++; // hole, reserved page or a tail whose head is before start
      looked++;
    }
    ticks(this.steps, STEP_PAGEBLOCK, looked);
    return free | (movable << 16);
  }

  /** __move_freepages_block(): every free block of the pageblock to the new type's lists (tail). */
  private moveFreepagesBlock(start: number, newMt: number): void {
    const end = start + PAGEBLOCK_PAGES;
    const fstate = this.fstate;
    let looked = 0;
    for (let pfn = start; pfn < end;) {
      looked++;
      const fs = fstate[pfn]!;
      if (fs < 0 || fs >= ALLOCATED) { pfn++; continue; }
      const o = fs & ORDER_MASK;
      this.unlink(pfn, o, fs >>> MT_SHIFT);
      this.link(pfn, o, newMt, true);
      ticks(this.steps, STEP_LIST, 2);
      pfn += 1 << o;
    }
    ticks(this.steps, STEP_PAGEBLOCK, looked);
  }

  freePages(): number {
    return this.nFree;
  }

  setPageblockType(block: number, migratetype: number): void {
    if (this.grouping) this.pbType[block] = migratetype;
  }

  freeArea(out: Float64Array): void {
    const area = this.area;
    for (let i = 0; i < LISTS; i++) out[i]! += area[NR_FREE + i]!;
  }

  pageblockTypes(out: Float64Array): void {
    const t = this.pbType;
    for (let i = 0; i < t.length; i++) out[t[i]!]! += 1;
  }

  counters(): Record<string, number> {
    return {
      extfrag_events: this.extfragEvents,
      extfrag_fragmenting: this.extfragFragmenting,
      extfrag_change_ownership: this.extfragChangeOwnership,
      pageblock_steals: this.pageblockSteals,
      single_block_steals: this.singleBlockSteals,
      mobility_grouping: this.grouping ? 1 : 0,
      mixed_pageblocks: this.mixedPageblocks(),
      ...this.pcpCounters(),
    };
  }

  /**
   * Pageblocks holding an allocated block whose request type differs from the pageblock's type:
   * what page_owner's "Number of mixed blocks" row of /proc/pagetypeinfo counts
   * (pagetypeinfo_showmixedcount_print, mm/page_owner.c). A scan of the per-page state, so only
   * at the end of a run.
   */
  private mixedPageblocks(): number {
    if (!this.grouping) return 0;
    const mixed = new Uint8Array(this.pbType.length);
    const st = this.fstate;
    for (let pfn = 0; pfn < this.pages; pfn++) {
      const v = st[pfn]!;
      if (v < 0 || (v & ALLOCATED) === 0) continue;
      const mt = (v >> MT_SHIFT) & 3;
      const end = pfn + (1 << (v & ORDER_MASK));
      for (let pb = pfn >>> PAGEBLOCK_ORDER; pb << PAGEBLOCK_ORDER < end; pb++) {
        if (this.pbType[pb] !== mt) mixed[pb] = 1;
      }
    }
    let n = 0;
    for (let pb = 0; pb < mixed.length; pb++) n += mixed[pb]!;
    return n;
  }

  metadataBytes(): number {
    return this.links.byteLength + this.fstate.byteLength
      + this.pbType.byteLength + this.area.byteLength + (this.pcp?.metadataBytes() ?? 0);
  }

  check(): void {
    const n = this.pages;
    const owner = new Uint8Array(n); // 1 free, 2 allocated
    let total = 0;
    let heads = 0;
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      for (let o = 0; o < NR_ORDERS; o++) {
        const li = mt * NR_ORDERS + o;
        let count = 0;
        let prev = NIL;
        for (let pfn = this.area[li]!; pfn !== NIL; pfn = this.links[2 * pfn]!) {
          if (pfn < 0 || pfn >= n) throw new InvariantError(`buddy: list (${o},${mt}) holds pfn ${pfn} outside the zone`);
          if (++count > n) throw new InvariantError(`buddy: list (${o},${mt}) has a cycle`);
          if (this.links[2 * pfn + 1] !== prev) throw new InvariantError(`buddy: pfn ${pfn} prev link broken in list (${o},${mt})`);
          if (this.fstate[pfn] !== (o | (mt << MT_SHIFT))) throw new InvariantError(`buddy: pfn ${pfn} on list (${o},${mt}) has state ${this.fstate[pfn]}`);
          if ((pfn & ((1 << o) - 1)) !== 0) throw new InvariantError(`buddy: free block ${pfn} of order ${o} is not aligned`);
          if (pfn + (1 << o) > n) throw new InvariantError(`buddy: free block ${pfn} of order ${o} passes the zone end`);
          if (!this.grouping && mt !== MIGRATE_UNMOVABLE) throw new InvariantError(`buddy: type ${mt} list used with grouping disabled`);
          const firstPb = pfn >>> PAGEBLOCK_ORDER;
          const lastPb = (pfn + (1 << o) - 1) >>> PAGEBLOCK_ORDER;
          // 6.1 lists a block under the type it was freed or split with, which may differ
          for (let b = firstPb; this.rules.freeToBlockType && b <= lastPb; b++) {
            if (this.pbType[b] !== mt) throw new InvariantError(`buddy: free block ${pfn} on type ${mt} list lies in pageblock ${b} of type ${this.pbType[b]}`);
          }
          for (let p = pfn; p < pfn + (1 << o); p++) {
            if (owner[p] !== 0) throw new InvariantError(`buddy: page ${p} is in two free blocks`);
            owner[p] = 1;
          }
          if (o < MAX_ORDER) {
            const b = pfn ^ (1 << o);
            if (b < n && (this.fstate[b]! & FREE_TEST) === o) {
              throw new InvariantError(`buddy: free buddies ${Math.min(pfn, b)} and ${Math.max(pfn, b)} of order ${o} left unmerged`);
            }
          }
          total += 1 << o;
          prev = pfn;
        }
        if (this.area[TAIL + li] !== prev) throw new InvariantError(`buddy: list (${o},${mt}) tail is ${this.area[TAIL + li]}, last node ${prev}`);
        if (count !== this.area[NR_FREE + li]) throw new InvariantError(`buddy: list (${o},${mt}) has ${count} nodes, nr_free says ${this.area[NR_FREE + li]}`);
        if (((this.area[MASK + mt]! >>> o) & 1) !== (count > 0 ? 1 : 0)) throw new InvariantError(`buddy: non-empty mask wrong for (${o},${mt})`);
        heads += count;
      }
    }
    this.pcp?.forEach((pfn, o) => {
      if (this.fstate[pfn]! > PCP_BASE) throw new InvariantError(`buddy: pfn ${pfn} on a pcp list has state ${this.fstate[pfn]}`);
      for (let p = pfn; p < pfn + (1 << o); p++) {
        if (owner[p] !== 0) throw new InvariantError(`buddy: page ${p} of pcp block ${pfn} is also ${owner[p] === 1 ? 'free' : 'on a pcp list twice'}`);
        owner[p] = 3;
      }
    });
    let stateHeads = 0;
    for (let p = 0; p < n; p++) {
      const as = this.fstate[p]!;
      if (as >= 0 && as < ALLOCATED) stateHeads++;
      if (as >= ALLOCATED) {
        const end = p + (1 << (as & ORDER_MASK));
        for (let q = p; q < end && q < n; q++) {
          if (owner[q] !== 0) throw new InvariantError(`buddy: page ${q} of allocated block ${p} is ${owner[q] === 1 ? 'free' : 'allocated twice'}`);
          owner[q] = 2;
        }
      }
    }
    if (stateHeads !== heads) throw new InvariantError(`buddy: ${stateHeads} pages marked free heads, ${heads} on lists`);
    if (total !== this.nFree) throw new InvariantError(`buddy: lists hold ${total} pages, free count is ${this.nFree}`);
  }
}
