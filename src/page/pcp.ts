import type { CpuCursor } from '../machine/cpu-cursor.js';
import * as gfp from '../machine/gfp.js';
import * as geometry from './strategy.js';
import type { Pageset } from './strategy.js';

/** imported constants as constants of this module: cheaper in optimized code (page/buddy.ts) */
const { MIGRATE_MOVABLE } = gfp;
const { PAGEBLOCK_ORDER } = geometry;

/**
 * Per-CPU page lists (struct per_cpu_pages, mm/page_alloc.c): order-0..3 blocks (and THP-sized
 * ones) freed by a CPU are kept on that CPU's lists and handed out again LIFO, without touching the
 * buddy free lists; the lists are refilled from the buddy (rmqueue_bulk) and drained back to it
 * (free_pcppages_bulk) in batches. Pages on these lists are allocated from the buddy's point of
 * view: not in nr_free (buddyinfo), not in NR_FREE_PAGES.
 *
 * Mechanism only; the buddy (page/buddy.ts) is the backend that takes blocks from and returns them
 * to its free lists. Each list is a ring of pfns (a deque: LIFO at the head, refills appended and
 * drains taken at the tail, as the kernel's list_add/list_add_tail/list_last_entry use it) rather
 * than links through the per-page array: a list's pfns sit together, so a refill, an allocation, a
 * free and a drain touch one small array instead of the scattered pages' links (issue 14: pcp must
 * cost little). A ring doubles when full (rare: a list holds at most about high + batch pages).
 */

/** PAGE_ALLOC_COSTLY_ORDER (include/linux/mmzone.h) */
const COSTLY_ORDER = 3;
/**
 * (exported apart from the constant the methods below use: optimized code reads an exported binding
 * through its module cell with a temporal-dead-zone check, even in this module; a private one is folded)
 */
export const PAGE_ALLOC_COSTLY_ORDER = COSTLY_ORDER;
/** MIGRATE_PCPTYPES */
const PCPTYPES = 3;
/** NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1) */
const LOWORDER_LISTS = PCPTYPES * (COSTLY_ORDER + 1);
/** CONFIG_PCP_BATCH_SCALE_MAX (6.7+, default 5) */
const BATCH_SCALE_MAX = 5;
/** MIN_PERCPU_PAGELIST_HIGH_FRACTION: pcp->high_max of 6.7+ is managed / 8 split over the CPUs */
const MIN_HIGH_FRACTION = 8;
/** first ring size of a list (a power of two) */
const RING_START = 64;
/** PerCpuPages.pc: numbers per CPU and their offsets */
const PC = 8;
const P_COUNT = 0;
const P_HIGH = 1;
const P_FREE = 2;
const P_ALLOC = 3;
const P_PREV_HIGH = 4;

/** The per-CPU list rules of one kernel version. */
export interface PcpRules {
  /** NR_PCP_THP: 6.1 one THP list (movable only); 6.8+ two (unmovable and movable THPs) */
  thpLists: number;
  /** 6.7+: pcp->high auto-tunes between high_min and high_max; batches scale with free_count/alloc_factor */
  autoTune: boolean;
  /**
   * 6.8+ PCPF_FREE_HIGH_BATCH (6.12 mm/page_alloc.c free_unref_page_commit(): free_high also needs
   * pcp->count >= batch when the flag is set): zone_pcp_update_cacheinfo() sets it when the CPU's
   * data cache slice exceeds 3 × batch pages. Set for 6.12: the recorded guests' (QEMU -cpu max)
   * pcpu_drain bursts are never below batch (build-compress-smp: 12 bursts, the smallest 126 pages),
   * where the model without it drains lists of 2-4 pages ~90 times.
   */
  freeHighBatch: boolean;
}

/** 6.1 mm/page_alloc.c: free_factor doubling, free_high drains all for order 1..3 */
export const PCP_RULES_6_1: PcpRules = { thpLists: 1, autoTune: false, freeHighBatch: false };
/** 6.12 mm/page_alloc.c: high_min/high_max auto-tuning (6.7), two THP lists and PCPF_FREE_HIGH_BATCH (6.8) */
export const PCP_RULES_6_12: PcpRules = { thpLists: 2, autoTune: true, freeHighBatch: true };

/**
 * zone_batchsize() (6.1 and 6.12, CONFIG_MMU): a quarter of min(managed / 1024, 1 MiB of pages),
 * rounded so that batch + batch/2 is a power of two, minus one. The caller applies max(1, batch).
 */
export function zoneBatchsize(managed: number): number {
  let batch = Math.min(Math.floor(managed / 1024), 256);
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  const x = batch + (batch >> 1);
  return (1 << (31 - Math.clz32(x))) - 1;
}

/**
 * zone_highsize(): with percpu_pagelist_high_fraction 0, the zone's low watermark split over the
 * node's CPUs (fraction f > 0: managed / f), at least 4 × batch.
 */
export function zoneHighsize(managed: number, lowWmark: number, batch: number, cpus: number, fraction = 0): number {
  const total = fraction === 0 ? lowWmark : Math.floor(managed / fraction);
  return Math.max(Math.floor(total / Math.max(1, cpus)), batch << 2);
}

/**
 * The pageset values zone_set_pageset_high_and_batch() sets. 6.7+: high_min = zone_highsize(0),
 * high_max = zone_highsize(MIN_PERCPU_PAGELIST_HIGH_FRACTION). A zone whose zone_batchsize() is
 * below 1 before the max(1, …) (managed < 4096 pages: DMA) shows high 0 on 6.12 in the recordings'
 * zoneinfo (pcp disabled there), where 6.1 shows high = its low watermark.
 */
export function pagesetValues(managed: number, lowWmark: number, cpus: number, rules: PcpRules): { batch: number; highMin: number; highMax: number } {
  const batch = Math.max(1, zoneBatchsize(managed));
  if (rules.autoTune && Math.floor(Math.min(Math.floor(managed / 1024), 256) / 4) < 1) return { batch, highMin: 0, highMax: 0 };
  const highMin = zoneHighsize(managed, lowWmark, batch, cpus);
  return { batch, highMin, highMax: rules.autoTune ? Math.max(highMin, zoneHighsize(managed, lowWmark, batch, cpus, MIN_HIGH_FRACTION)) : highMin };
}

/** What the pcp lists need from the buddy allocator of their zone. */
export interface PcpBackend {
  /**
   * rmqueue_bulk(): up to `want` blocks, each from the free lists by __rmqueue() (fallback included),
   * written to out[0..] and marked as on a pcp list; returns how many (fewer when the zone runs out)
   */
  pcpTakeBulk(order: number, mt: number, out: Int32Array, want: number): number;
  /**
   * free_pcppages_bulk()'s __free_one_page() of `k` blocks of one list, from its tail: the blocks at
   * ring[(first + j) & (ring.length - 1)] for j = len - 1 down to len - k (the backend knows the
   * migratetype each was listed under)
   */
  pcpGiveTail(ring: Int32Array, first: number, len: number, k: number, order: number): void;
  /** NR_FREE_PAGES of the zone (buddy free lists only), for the ZONE_BELOW_HIGH test */
  freePages(): number;
}

export class PerCpuPages {
  readonly lists: number;
  readonly batch: number;
  readonly highMin: number;
  readonly highMax: number;
  /** per CPU × list: the ring of pfns (power-of-two size) */
  private readonly ring: Int32Array[];
  /** per CPU × list li: the head's slot in its ring at 2 li, the blocks on the list at 2 li + 1 */
  private readonly ls: Int32Array;
  /**
   * per CPU, PC numbers (P_*): pcp->count (pages), pcp->high, free_factor (6.1) / free_count (6.7+),
   * alloc_factor and the PCPF_PREV_FREE_HIGH_ORDER flag, side by side: an allocation or a free
   * reads and writes one array
   */
  private readonly pc: Int32Array;
  /**
   * 6.7+ ZONE_BELOW_HIGH (zone->flags): set by get_page_from_freelist() when the zone fails
   * zone_watermark_fast() against its high watermark, cleared by free_unref_page_commit() after a
   * bulk free leaves it above (6.12 mm/page_alloc.c). While set, pcp->high only shrinks.
   */
  private belowHigh = false;
  /**
   * ZONE_RECLAIM_ACTIVE (zone->flags): set while kswapd's balance_pgdat() reclaims the zone
   * (set_reclaim_active(), mm/vmscan.c 5.14+; a recording's vmscan events say when, trace/ops.ts
   * OP_RECLAIM_BEGIN). nr_pcp_high() then keeps at most batch << 2 pages on a list: c49c2c47dab6
   * "mm/page_alloc: limit the number of pages on PCP lists when reclaim is active" (5.14).
   */
  reclaimActive = false;
  /**
   * rules.autoTune and rules.thpLists > 1, read on every operation. This class's boolean fields are
   * tested as `=== true` / `!== true` (issue 17): optimized code does not know a field holds a boolean,
   * so `if (this.flag)` is V8's generic truthiness test (false, '', undetectable, numbers, bigints: a
   * dozen instructions and branches), where a compare with `true` is one pointer compare.
   */
  private readonly autoTune: boolean;
  private readonly thpByType: boolean;
  private readonly freeHighBatch: boolean;
  refills = 0;
  refillBlocks = 0;
  drains = 0;
  drainBlocks = 0;

  constructor(
    private readonly backend: PcpBackend, readonly cpus: number, managed: number, lowWmark: number,
    rules: PcpRules, private readonly cursor: CpuCursor, private readonly highWmark = 0,
  ) {
    this.lists = LOWORDER_LISTS + rules.thpLists;
    this.autoTune = rules.autoTune;
    this.thpByType = rules.thpLists > 1;
    this.freeHighBatch = rules.freeHighBatch;
    const v = pagesetValues(managed, lowWmark, cpus, rules);
    this.batch = v.batch;
    this.highMin = v.highMin;
    this.highMax = v.highMax;
    const n = cpus * this.lists;
    this.ring = Array.from({ length: n }, () => new Int32Array(RING_START));
    this.ls = new Int32Array(2 * n);
    this.pc = new Int32Array(cpus * PC);
    for (let cpu = 0; cpu < cpus; cpu++) this.pc[cpu * PC + P_HIGH] = v.highMin;
  }

  /** pcp_allowed_order() with THP: orders 0..PAGE_ALLOC_COSTLY_ORDER and pageblock_order. */
  static allowed(order: number): boolean {
    return order <= COSTLY_ORDER || order === PAGEBLOCK_ORDER;
  }

  /** order_to_pindex(): (MIGRATE_PCPTYPES * order) + mt below the costly order; THP lists after. */
  private pindex(mt: number, order: number): number {
    if (order > COSTLY_ORDER) return LOWORDER_LISTS + (this.thpByType === true && mt === MIGRATE_MOVABLE ? 1 : 0);
    return PCPTYPES * order + mt;
  }

  private static orderOf(pindex: number): number {
    return pindex < LOWORDER_LISTS ? (pindex / PCPTYPES) | 0 : PAGEBLOCK_ORDER;
  }

  /** The CPU of the current event, folded onto this zone's CPUs. */
  private cpu(): number {
    const c = this.cursor.cpu;
    return c > 0 && c < this.cpus ? c : c > 0 ? c % this.cpus : 0;
  }

  /** Adds at the head (a free: LIFO reuse) or the tail (a seeded block, in the order given). */
  private push(li: number, pfn: number, atTail: boolean): void {
    const ls = this.ls;
    let r = this.ring[li]!;
    const n = ls[2 * li + 1]!;
    if (n === r.length) r = this.grow(li);
    const m = r.length - 1;
    if (atTail) r[(ls[2 * li]! + n) & m] = pfn;
    else r[ls[2 * li] = (ls[2 * li]! - 1) & m] = pfn;
    ls[2 * li + 1] = n + 1;
  }

  /** Doubles a full ring, its blocks in order from slot 0. */
  private grow(li: number): Int32Array {
    const old = this.ring[li]!, f = this.ls[2 * li]!;
    const r = new Int32Array(old.length * 2);
    r.set(old.subarray(f));
    r.set(old.subarray(0, f), old.length - f);
    this.ring[li] = r;
    this.ls[2 * li] = 0;
    return r;
  }

  /** rmqueue_pcplist(): the head of this CPU's list, refilled by rmqueue_bulk() when empty; -1 if the zone has nothing. */
  alloc(order: number, mt: number): number {
    const cpu = this.cpu(), pc = this.pc, ls = this.ls, at = cpu * PC;
    const li = cpu * this.lists + this.pindex(mt, order);
    if (this.autoTune === true && this.belowHigh !== true) this.noteWatermark(order);
    // 6.1: pcp->free_factor >>= 1; 6.7+: pcp->free_count >>= 1 (an allocation ends a run of frees)
    pc[at + P_FREE]! >>= 1;
    let r = this.ring[li]!;
    if (ls[2 * li + 1] === 0) {
      const want = this.refillSize(cpu, order);
      // rmqueue_bulk(): blocks appended to the tail (of an empty list: from slot 0 of a ring made
      // large enough once)
      if (r.length < want) r = this.ring[li] = new Int32Array(1 << (32 - Math.clz32(want - 1)));
      ls[2 * li] = 0;
      const got = this.backend.pcpTakeBulk(order, mt, r, want);
      ls[2 * li + 1] = got;
      if (got === 0) return -1;
      this.refills++;
      this.refillBlocks += got;
      pc[at + P_COUNT]! += got << order;
    }
    pc[at + P_COUNT]! -= 1 << order;
    // the head (LIFO reuse; drains take the tail in bulkFree())
    ls[2 * li + 1]!--;
    const f = ls[2 * li]!;
    ls[2 * li] = (f + 1) & (r.length - 1);
    return r[f]!;
  }

  /**
   * 6.12 get_page_from_freelist(): "if (zone_watermark_fast(zone, order, high_wmark_pages(zone), …))
   * goto try_this_zone; else set_bit(ZONE_BELOW_HIGH, …)" (the free pages that cannot serve the
   * order left out, as __zone_watermark_ok() does; lowmem_reserve and the highatomic reserve are not
   * modelled). Called for the orders the pcp lists serve: a request of another order skips the test.
   */
  noteWatermark(order: number): void {
    if (this.backend.freePages() - ((1 << order) - 1) <= this.highWmark) this.belowHigh = true;
  }

  /** Blocks one refill takes: 6.1 __rmqueue_pcplist(), 6.7+ nr_pcp_alloc(). */
  private refillSize(cpu: number, order: number): number {
    const base = this.batch;
    if (this.autoTune !== true) return base > 1 ? Math.max(base >> order, 2) : base;
    const hmin = this.highMin, hmax = this.highMax;
    let high = Math.min(Math.max(this.pc[cpu * PC + P_HIGH]!, hmin), hmax);
    if (high < base) return 1;
    let batch = order === 0 ? base << this.pc[cpu * PC + P_ALLOC]! : base;
    // a larger pcp->high would have avoided going to the zone, unless the zone is below its high watermark
    if (hmin !== hmax && this.belowHigh !== true) high = Math.min(high + batch, hmax);
    this.pc[cpu * PC + P_HIGH] = high;
    if (order === 0) {
      const maxNr = Math.max(high - this.pc[cpu * PC + P_COUNT]! - base, base);
      if (batch <= maxNr && this.pc[cpu * PC + P_ALLOC]! < BATCH_SCALE_MAX) this.pc[cpu * PC + P_ALLOC]!++;
      batch = Math.min(batch, maxNr);
    }
    return batch > 1 ? Math.max(batch >> order, 2) : batch;
  }

  /** free_unref_page_commit(): LIFO onto this CPU's list; past high, free_pcppages_bulk(). */
  free(pfn: number, order: number, mt: number): void {
    const cpu = this.cpu(), pc = this.pc, at = cpu * PC;
    const pindex = this.pindex(mt, order);
    this.push(cpu * this.lists + pindex, pfn, false);
    const count = (pc[at + P_COUNT]! += 1 << order);
    const batch = this.batch;
    if (this.autoTune !== true) {
      // 6.1: free_high = free_factor && order 1..3; nr_pcp_high() then 0, nr_pcp_free() all; else
      // this CPU's pcp->high (zone_highsize() at boot, a recording's own when its start sets it: the
      // model's watermarks may miss the kernel's by a page or two, fork-fragment's high by 2)
      const freeHigh = pc[at + P_FREE]! > 0 && order > 0 && order <= COSTLY_ORDER;
      let high = freeHigh ? 0 : pc[at + P_HIGH]!;
      if (this.reclaimActive === true && high > batch << 2) high = batch << 2;
      if (count < high) return;
      let n: number;
      if (freeHigh) n = count;
      else if (high < batch) n = 1;
      else {
        // nr_pcp_free(): batch << free_factor, doubling while frees run on, clamped to [batch, high - batch];
        // free_factor stops at CONFIG_PCP_BATCH_SCALE_MAX (5): 52166607ecc9 "mm: restrict the pcp batch
        // scale factor to avoid too long latency" (6.10), backported to 6.1.y, which Debian's 6.1.0-56
        // has (the recordings drain 15 << 5 = 480 pages again and again where high - batch is 501)
        n = batch << pc[at + P_FREE]!;
        if (n < high - batch && pc[at + P_FREE]! < BATCH_SCALE_MAX) pc[at + P_FREE]!++;
        n = Math.min(Math.max(n, batch), high - batch);
      }
      this.bulkFree(cpu, n, pindex);
      return;
    }
    // 6.7+ (6.12): a free halves the batch of the next refills (pcp->alloc_factor >>= 1); free_high
    // after consecutive order 1..3 frees; free_count grows with each free
    pc[at + P_ALLOC]! >>= 1;
    let freeCount = pc[at + P_FREE]!;
    let freeHigh = false;
    if (order > 0 && order <= COSTLY_ORDER) {
      // 6.8+ PCPF_FREE_HIGH_BATCH: keep at least batch pages on the list (count >= batch to free all)
      freeHigh = freeCount >= batch && pc[at + P_PREV_HIGH] === 1 && (this.freeHighBatch !== true || count >= batch);
      pc[at + P_PREV_HIGH] = 1;
    } else pc[at + P_PREV_HIGH] = 0;
    if (freeCount < batch << BATCH_SCALE_MAX) pc[at + P_FREE] = freeCount += 1 << order;
    // nr_pcp_high()
    const hmin = this.highMin, hmax = this.highMax;
    let high = Math.min(Math.max(pc[at + P_HIGH]!, hmin), hmax);
    pc[at + P_HIGH] = high;
    if (high !== 0 && freeHigh) {
      pc[at + P_HIGH] = Math.max(high - (batch << BATCH_SCALE_MAX), hmin);
      high = 0;
    } else if (high !== 0 && this.reclaimActive === true) {
      // 6.12 nr_pcp_high(): reclaim shrinks pcp->high by the run of frees and caps the list at batch << 2
      pc[at + P_HIGH] = Math.max(high - Math.max(freeCount, batch), hmin);
      high = Math.min(batch << 2, pc[at + P_HIGH]!);
    } else if (hmin !== hmax && this.belowHigh === true) {
      // ZONE_BELOW_HIGH: shrink pcp->high by the run of frees, and free down to it from here
      pc[at + P_HIGH] = Math.max(high - Math.max(freeCount, batch), hmin);
      high = Math.max(count, hmin);
    } else if (hmin !== hmax && count >= high) {
      const need = freeCount + batch;
      if (high < need) pc[at + P_HIGH] = Math.min(Math.max(need, hmin), hmax);
    }
    if (count < high) return;
    // nr_pcp_free()
    let n: number;
    if (freeHigh) n = Math.min(count, batch << BATCH_SCALE_MAX);
    else if (high < batch) n = 1;
    else n = Math.min(Math.max(freeCount, batch), high - batch);
    this.bulkFree(cpu, n, pindex);
    // zone_watermark_ok(zone, 0, high_wmark_pages(zone), ZONE_MOVABLE, 0) clears ZONE_BELOW_HIGH
    if (this.belowHigh && this.backend.freePages() > this.highWmark) this.belowHigh = false;
  }

  /**
   * vmstat_update() → refresh_cpu_vm_stats(true), every sysctl_stat_interval (HZ) on each CPU: 6.7+
   * decay_pcp_high() (6.12 mm/page_alloc.c) lowers pcp->high by an eighth towards high_min (never
   * below count − (batch << CONFIG_PCP_BATCH_SCALE_MAX)) and frees what is above it. 6.1's
   * refresh_cpu_vm_stats() drains only pagesets of remote NUMA nodes: nothing on one node.
   * Returns the pages drained.
   */
  decay(): number {
    if (this.autoTune !== true) return 0;
    let n = 0;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      let high = this.pc[cpu * PC + P_HIGH]!;
      const count = this.pc[cpu * PC + P_COUNT]!;
      if (high > this.highMin) {
        high = Math.max(count - (this.batch << BATCH_SCALE_MAX), high - (high >> 3), this.highMin);
        this.pc[cpu * PC + P_HIGH] = high;
      }
      const toDrain = count - high;
      if (toDrain > 0) { this.bulkFree(cpu, toDrain, 0); n += toDrain; }
    }
    return n;
  }

  /** free_pcppages_bulk(): pages from the tails of the lists, round robin from pindex, whole lists at a time. */
  private bulkFree(cpu: number, pages: number, pindex: number): void {
    let left = Math.min(this.pc[cpu * PC + P_COUNT]!, pages);
    if (left <= 0) return;
    this.drains++;
    const base = cpu * this.lists;
    let pi = pindex - 1;
    while (left > 0) {
      do { if (++pi > this.lists - 1) pi = 0; } while (this.ls[2 * (base + pi) + 1] === 0);
      const order = PerCpuPages.orderOf(pi);
      const li = base + pi;
      // a run of the tail, the list's length written once
      const had = this.ls[2 * li + 1]!;
      const k = Math.min(had, (left + (1 << order) - 1) >> order);
      this.backend.pcpGiveTail(this.ring[li]!, this.ls[2 * li]!, had, k, order);
      left -= k << order;
      this.ls[2 * li + 1] = had - k;
      this.pc[cpu * PC + P_COUNT]! -= k << order;
      this.drainBlocks += k;
    }
  }

  /** drain_all_pages(): every CPU's lists back to the buddy (before reclaim and OOM). Returns pages drained. */
  drainAll(): number {
    let n = 0;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const c = this.pc[cpu * PC + P_COUNT]!;
      if (c > 0) { this.bulkFree(cpu, c, 0); n += c; }
    }
    return n;
  }

  /** Pages on all lists now. */
  pages(): number {
    let n = 0;
    for (let cpu = 0; cpu < this.cpus; cpu++) n += this.pc[cpu * PC + P_COUNT]!;
    return n;
  }

  /** Calls fn for each block on a list (check()). */
  forEach(fn: (pfn: number, order: number) => void): void {
    for (let li = 0; li < this.ring.length; li++) {
      const order = PerCpuPages.orderOf(li % this.lists);
      const r = this.ring[li]!, m = r.length - 1;
      for (let k = 0; k < this.ls[2 * li + 1]!; k++) fn(r[(this.ls[2 * li]! + k) & m]!, order);
    }
  }

  /** Each CPU's count, high and batch (/proc/zoneinfo's pagesets). */
  pagesets(): Pageset[] {
    const out: Pageset[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++) out.push({ count: this.pc[cpu * PC + P_COUNT]!, high: this.pc[cpu * PC + P_HIGH]!, batch: this.batch });
    return out;
  }

  /**
   * A block that was on `cpu`'s list when a recording began (machine/start-state.ts): appended at
   * the tail, so blocks seeded in the order the trace first uses them come off the head in that
   * order. The caller has marked it as on a pcp list in the backend.
   */
  seed(cpu: number, pfn: number, order: number, mt: number): void {
    this.push(cpu * this.lists + this.pindex(mt, order), pfn, true);
    this.pc[cpu * PC + P_COUNT]! += 1 << order;
  }

  /** pcp->high of `cpu` as a recording's zoneinfo shows it (its uses clamp it to [high_min, high_max], nr_pcp_high()). */
  setHigh(cpu: number, high: number): void {
    this.pc[cpu * PC + P_HIGH] = high;
  }

  /** pcp->high of a CPU now (zoneinfo's "high"). */
  highOf(cpu: number): number {
    return this.pc[cpu * PC + P_HIGH]!;
  }

  /**
   * The kernel's struct per_cpu_pages of each CPU (a list head per list and the counters), as before
   * the rings: the model's figure, not this simulator's arrays (which vary with the rings' growth).
   */
  metadataBytes(): number {
    return this.ring.length * 4 * 3 + this.cpus * (4 * 4 + 1);
  }
}
