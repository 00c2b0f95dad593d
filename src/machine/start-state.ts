/**
 * The recorded start (issue 13 item 3, DESIGN.md §11): a kernel recording replayed from the state its
 * kernel was in when tracing began, not from an empty machine. Mechanism: the boot hand-over frees
 * only the free blocks of the before-state into each zone's strategy (after setting the pageblock
 * migratetypes, for strategies that group by mobility); every other managed page is pre-trace
 * memory, simply never handed over. The pre-trace blocks the trace frees are registered with the
 * replay as live blocks, so their frees are real frees through the strategy's own free path.
 *
 * Which blocks are free:
 * - with `before/kpageflags.gz` (the recording script snapshots it): exactly the kernel's. KPF_BUDDY
 *   is set on every page of a free buddy block (fs/proc/page.c, 6.1 and 6.12), so each run of such
 *   pages, cut into the largest aligned blocks, is the free lists' content (two free buddies of one
 *   order would have merged). kpageflags says nothing of migratetypes: pageblock types are chosen so
 *   that the per-type pageblock counts of before/pagetypeinfo hold and the per-type, per-order free
 *   block counts come as close as they can (a greedy start by the pages' flags, then swaps of two
 *   pageblocks' types while the distance falls), keeping Movable the pageblocks the recording proves
 *   Movable or stole from (StartInput.startPageblocks, kpageZone()). Pages on per-CPU lists are not KPF_BUDDY: they
 *   start allocated (pre-trace).
 * - without it: a deterministic placement that reproduces before/pagetypeinfo's counts exactly.
 *   Pageblock types are laid out by address, Movable at the top of the zone, Reclaimable below it,
 *   Unmovable (and HighAtomic) at the bottom, where boot-time kernel memory sits. Per type, blocks
 *   are placed from the largest order down; order ≥ 9 blocks from the top of the type's pageblocks,
 *   smaller ones first-fit from the bottom (so they share pageblocks and leave the large runs
 *   whole), never on a page the trace frees before allocating it (that page is pre-trace memory) and
 *   never beside a free buddy of the same order (they would merge).
 * What no snapshot says: the order of blocks on each free list (the hand-over frees in ascending
 * pfn order) and where the pages on per-CPU lists are.
 */
import { MIGRATE_HIGHATOMIC, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE } from './gfp.js';
import { forEachAlignedBlock } from './decompose.js';
import { handOverBlock, Machine, type HandOver } from './machine.js';
import type { MachineConfig } from './memory-map.js';
import { MAX_ORDER, NR_ORDERS, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES } from './page-geometry.js';
import type { PageStrategyFactory } from './page-strategy.js';
import type { ZoneFreeState } from './zone-free-state.js';

const PAGE = 4096;

/** Page classes of the kpageflags digest (one byte per pfn). */
export const KP_OTHER = 0;
export const KP_BUDDY = 1;
export const KP_SLAB = 2;
export const KP_MOVABLE = 3; // LRU or anonymous
export const KP_PGTABLE = 4;
export const KP_RESERVED = 5;

// include/uapi/linux/kernel-page-flags.h
const KPF_SLAB = 7, KPF_LRU = 5, KPF_BUDDY = 10, KPF_ANON = 12, KPF_PGTABLE = 26, KPF_NOPAGE = 20, KPF_RESERVED = 32;

/** What the replay needs from a recording's before-state. Plain data: it travels to the workers. */
export interface StartInput {
  /** the recording's before/pagetypeinfo */
  pagetypeinfo: ZoneFreeState[];
  /** before/kpageflags.gz digested to one KP_* class per pfn (undefined when the recording has none) */
  kpage?: Uint8Array;
  /** before/zoneinfo's pagesets by zone name: each CPU's pcp->count and pcp->high */
  pagesets?: Record<string, { count: number; high: number }[]>;
  /**
   * The pfns of the blocks the recorded kernel took off its free lists, in trace order
   * (`mm_page_alloc_zone_locked`, metrics/pcp-traffic.ts recordedBuddyTakes): with kpageflags, the
   * order of the start's free lists (listOrder()).
   */
  takes?: Int32Array;
  /**
   * The per-CPU lists the recording refills (a `percpu_refill=1` take), as cpu * 64 + order * 4 +
   * migratetype: such a list was empty then, so it held no page at the start that the trace never
   * shows (seedPagesets()).
   */
  refilled?: number[];
  /**
   * The per-CPU list type of each pcp candidate, from the recording's event that first names it
   * (metrics/pcp-traffic.ts pcpStartTypes(); pfns ascending): the start's lists put it there
   * instead of under its pageblock's type, which the start infers (seedPagesets()); `drained`: 1
   * where that event is a drain (the block sat at its list's tail end).
   */
  pcpTypes?: { pfn: Int32Array; type: Uint8Array; drained?: Uint8Array };
  /** the objects the trace allocates in pre-trace slab pages: the object layer's start (object/slab-start.ts) */
  slabObjects?: PreTraceSlabObjects;
  /**
   * The recording's per-CPU list traffic in blocks (metrics/pcp-traffic.ts recordedPcpTraffic()): no
   * start state, a reference figure the cell copies to metrics.recorded_pcp for the scorecard. It rides
   * here because the start state is where the trace text is read, on the worker, once per recording.
   */
  pcpTraffic?: { refill_blocks: number; drain_blocks: number };
  /**
   * Pageblocks (global pfn >> PAGEBLOCK_ORDER, ascending) whose type at the start the recording
   * proves (metrics/fidelity.ts startPageblocks(): compaction isolated a migration target in one, a
   * fallback stole a whole-pageblock block of that type from it) before anything the trace shows
   * could have changed their type. kpageZone() gives them that type.
   */
  startPageblocks?: { pb: Int32Array; type: Uint8Array };
}

/**
 * Per object allocation of the trace whose pointer lies in a pre-trace KPF_SLAB page, and per free of
 * an object allocated before the trace whose pointer does (trace order): its cache (`cache`: the
 * kmem_cache's name, '' for kmalloc, null for a free whose cache the trace does not tell), the
 * request's bytes and gfp (kmalloc's cache; 0 for a free), the page's pfn and the object's byte
 * offset in it, the CPU of the event; `seq`: -1 for an allocation, for a free its place among the
 * trace's `unknownFrees` frees of objects it never allocated (the loader's order); `excluded`: slab
 * pfns the trace's page events touch (such a page is not adopted: its recorded free stays a page event).
 */
export interface PreTraceSlabObjects {
  cache: (string | null)[]; bytes: Int32Array; gfp: Int32Array; pfn: Int32Array; off: Int32Array; cpu: Int32Array;
  seq: Int32Array; unknownFrees: number; excluded: Int32Array;
}

/** /proc/kpageflags (u64 little-endian per pfn) → one KP_* class per pfn. */
export function digestKpageflags(buf: Uint8Array): Uint8Array {
  const n = buf.length >>> 3;
  const out = new Uint8Array(n);
  const dv = new DataView(buf.buffer, buf.byteOffset, n * 8);
  for (let p = 0; p < n; p++) {
    const lo = dv.getUint32(p * 8, true), hi = dv.getUint32(p * 8 + 4, true);
    const bit = (b: number): boolean => (b < 32 ? (lo >>> b) & 1 : (hi >>> (b - 32)) & 1) === 1;
    out[p] = bit(KPF_BUDDY) ? KP_BUDDY : bit(KPF_RESERVED) || bit(KPF_NOPAGE) ? KP_RESERVED : bit(KPF_SLAB) ? KP_SLAB
      : bit(KPF_PGTABLE) ? KP_PGTABLE : bit(KPF_LRU) || bit(KPF_ANON) ? KP_MOVABLE : KP_OTHER;
  }
  return out;
}

/**
 * The pages a kernel reserved before its page allocator ran (KP_RESERVED runs) as memblock
 * reservations: with them, and no modelled ones, a recorded machine manages exactly its pages.
 */
export function reservedRanges(kpage: Uint8Array): { start: number; end: number; label: string }[] {
  const out: { start: number; end: number; label: string }[] = [];
  for (let p = 0; p < kpage.length;) {
    if (kpage[p] !== KP_RESERVED) { p++; continue; }
    let q = p;
    while (q < kpage.length && kpage[q] === KP_RESERVED) q++;
    out.push({ start: p * PAGE, end: q * PAGE, label: 'PG_reserved in the recording\'s before/kpageflags' });
    p = q;
  }
  return out;
}

/** The pre-trace blocks a trace frees (trace/attribution.ts preTraceFrees): ids with their recorded pfn and order. */
export interface PreTraceBlocks { ids: Int32Array; pfns: Int32Array; orders: Uint8Array; cpus?: Int32Array }

/** Counts of how the start state was built (metrics.start). */
export interface StartStats {
  from: 'before';
  /** 'kpageflags' (exact free blocks) or 'placement' */
  method: string;
  free_pages: number;
  pre_trace_pages: number;
  /** pre-trace blocks the trace frees, registered as live */
  pre_trace_blocks: number;
  /** pages of pre-trace blocks the trace takes or drains from a per-CPU list before freeing them (kernel.ts pcpStartFree) */
  pcp_start_pages: number;
  /** pages of those put on the per-CPU lists at the start (pagesets of before/zoneinfo), not pre-trace memory */
  pcp_seeded_pages: number;
  /** free blocks of the snapshot that could not be placed (placement) or conflicted with a pre-trace free */
  unplaced_blocks: number;
  /** sum over types and orders of |free blocks - pagetypeinfo's| after the pageblock typing (kpageflags) */
  type_mismatch_blocks: number;
  /**
   * pre-trace slab pages and slabs given to the object layer (object/slab-start.ts), and the
   * pre-trace objects in them whose frees the trace holds (real frees now, no trace errors)
   */
  slab_start_pages?: number;
  slab_start_slabs?: number;
  slab_start_frees?: number;
}

export interface StartedMachine {
  machine: Machine;
  /** pages managed but not free at the start, and the pre-trace blocks the trace frees (the replay's preTrace option) */
  preTrace: { pages: number } & PreTraceBlocks;
  stats: StartStats;
}

/**
 * Boots `config` with `page` from the before-state: the free blocks of `input` per zone (matched by
 * zone name; a zone the snapshot lacks starts empty of free memory), pre-trace memory elsewhere.
 */
export function startMachine(config: MachineConfig, page: PageStrategyFactory, pre: PreTraceBlocks, input: StartInput): StartedMachine {
  const stats: StartStats = { from: 'before', method: input.kpage ? 'kpageflags' : 'placement', free_pages: 0, pre_trace_pages: 0, pre_trace_blocks: 0, pcp_start_pages: 0, pcp_seeded_pages: 0, unplaced_blocks: 0, type_mismatch_blocks: 0 };
  const registered: number[] = [];
  /** per zone: 1 = managed and neither free in the snapshot nor a pre-trace block the trace frees (after the hand-over) */
  const usable = new Map<string, Uint8Array>();
  /** per zone: the start's pageblock types */
  const pbTypes = new Map<string, Uint8Array>();
  const hand: HandOver = (strategy, startPfn, endPfn, free, zoneName) => {
    const span = endPfn - startPfn;
    // 1 = managed and free to use, 0 = not managed or pre-trace memory
    const avail = new Uint8Array(span);
    let managed = 0;
    for (const r of free) {
      const s = Math.max(startPfn, r.start / PAGE), e = Math.min(endPfn, r.end / PAGE);
      if (e > s) { avail.fill(1, s - startPfn, e - startPfn); managed += e - s; }
    }
    // pre-trace blocks the trace frees: managed and whole, not overlapping one taken already
    for (let i = 0; i < pre.ids.length; i++) {
      // a negative pfn: a block the trace allocates or drains from a per-CPU list before it frees it;
      // pre-trace memory only when kpageflags says it was not free in the buddy lists
      if (pre.pfns[i]! < 0 && input.kpage === undefined) continue;
      const s = Math.abs(pre.pfns[i]!) - startPfn, n = 1 << pre.orders[i]!;
      if (s < 0 || s + n > span || s % n !== 0) continue;
      let ok = true;
      // (a page free in the snapshot that the trace frees was taken without an mm_page_alloc, by
      // compaction's isolate_freepages(): not pre-trace memory; its free stays a trace error)
      for (let p = s; p < s + n; p++) if (avail[p] !== 1 || input.kpage?.[startPfn + p] === KP_BUDDY) { ok = false; break; }
      if (!ok) continue;
      avail.fill(2, s, s + n);
      registered.push(i);
    }
    usable.set(zoneName, avail);
    const real = input.pagetypeinfo.find((z) => z.zone === zoneName);
    if (real === undefined) return managed;
    const { blocks, types, unplaced, mismatch } = input.kpage
      ? kpageZone(input.kpage, startPfn, span, avail, real, input.startPageblocks)
      : placeZone(span, avail, real);
    stats.unplaced_blocks += unplaced;
    stats.type_mismatch_blocks += mismatch;
    pbTypes.set(zoneName, types);
    if (strategy.setPageblockType) for (let b = 0; b < types.length; b++) strategy.setPageblockType(b, types[b]!);
    const order = input.kpage && input.takes ? listOrder(blocks, startPfn, input.takes) : null;
    for (let k = 0; k < blocks.length; k += 2) {
      const i = order === null ? k : 2 * order[k >> 1]!;
      handOverBlock(strategy, blocks[i]!, blocks[i + 1]!);
      stats.free_pages += 1 << blocks[i + 1]!;
      avail.fill(4, blocks[i]!, blocks[i]! + (1 << blocks[i + 1]!)); // 4: free
    }
    return managed;
  };
  const machine = new Machine(config, page, undefined, hand);
  const seeded = input.pagesets !== undefined && input.kpage !== undefined ? seedPagesets(machine, input, pre, registered, usable, pbTypes) : null;
  stats.pcp_seeded_pages = machine.pcpPageCount();
  const keep = Int32Array.from(seeded === null ? registered : registered.filter((_, k) => seeded[k] === 0));
  if (input.kpage !== undefined) markPreTrace(machine, input.kpage, pre, keep, usable);
  const preTrace = {
    pages: machine.managedPages() - machine.freePageCount() - stats.pcp_seeded_pages,
    ids: keep.map((i) => pre.ids[i]!), pfns: keep.map((i) => Math.abs(pre.pfns[i]!)), orders: Uint8Array.from(keep, (i) => pre.orders[i]!),
  };
  stats.pre_trace_pages = preTrace.pages;
  stats.pre_trace_blocks = keep.length;
  stats.pcp_start_pages = keep.reduce((a, i) => a + (pre.pfns[i]! < 0 ? 1 << pre.orders[i]! : 0), 0);
  return { machine, preTrace, stats };
}

/**
 * Pre-trace memory as allocated blocks of the strategies that scan pageblocks (markAllocated): the
 * blocks the trace frees with their own order, every other pre-trace page as a page of its own, each
 * of the type its kpageflags class says a pageblock scan sees (6.1/6.12 move_freepages_block() /
 * prep_move_freepages_block() count PageLRU || __PageMovable pages as movable: KPF_LRU or KPF_ANON
 * here; every other allocated page is "alike" a non-movable request). Left unmarked, a fallback's
 * claim test counted the pre-trace page cache of a Movable pageblock as alike an Unmovable request,
 * and claimed the pageblock where the kernel did not.
 */
function markPreTrace(machine: Machine, kpage: Uint8Array, pre: PreTraceBlocks, keep: Int32Array, usable: Map<string, Uint8Array>): void {
  const mtOf = (pfn: number): number => kpage[pfn] === KP_MOVABLE ? MIGRATE_MOVABLE : MIGRATE_UNMOVABLE;
  for (const z of machine.zones) {
    const s = z.strategy, avail = usable.get(z.name);
    if (s.markAllocated === undefined || avail === undefined) continue;
    for (const i of keep) {
      const pfn = Math.abs(pre.pfns[i]!), o = pre.orders[i]!;
      if (pfn < z.startPfn || pfn >= z.startPfn + z.spanned) continue;
      s.markAllocated(pfn - z.startPfn, o, mtOf(pfn));
      avail.fill(5, pfn - z.startPfn, pfn - z.startPfn + (1 << o)); // 5: marked
    }
    // 1: managed, neither free, nor on a per-CPU list, nor a block the trace frees
    for (let p = 0; p < avail.length; p++) if (avail[p] === 1) s.markAllocated(p, 0, mtOf(z.startPfn + p));
  }
}

/**
 * The per-CPU lists of the start (before/zoneinfo's pagesets): each CPU's pcp->high as recorded,
 * and on its lists the pre-trace blocks the trace shows were on them (allocated or drained from a
 * pcp list before any free: kernel.ts pcpStartFree), on the CPU of that event, while the CPU's
 * recorded count has room (in the order the trace first uses them). Those blocks are no longer
 * registered (the trace's free of one is then skipped, and its allocation takes from the list).
 * The rest of each count are pages the trace never touches: kpageflags cannot tell them from kernel
 * allocations (a pcp page has no flag and no mapping, like 19k other pages of build-compress's
 * DMA32 against 77 on its lists), so they are the lowest unflagged (KP_OTHER) pre-trace order-0
 * pages of the zone, a deterministic guess (measured: the lowest ones score best of the lowest and
 * the highest, movable pageblocks first or not, docs/fidelity.md). Order on each list (a list is
 * used at both ends: rmqueue_pcplist() takes the head, free_pcppages_bulk() the tail, 6.1/6.12):
 * from the head, the blocks the trace first allocates, in that order; then the guessed pages; then
 * the blocks the trace first drains, the first drained at the tail (seeded before the guessed pages,
 * a drain of the recording took a guessed page instead of the block it names). Returns 1 per entry
 * of `registered` seeded.
 */
function seedPagesets(machine: Machine, input: StartInput, pre: PreTraceBlocks, registered: readonly number[], usable: Map<string, Uint8Array>, pbTypes: Map<string, Uint8Array>): Uint8Array {
  const pagesets = input.pagesets!, kpage = input.kpage!;
  const refilled = new Set(input.refilled ?? []);
  const types = input.pcpTypes;
  /** index of a candidate's pfn in `types` (-1: none) */
  const indexOf = (pfn: number): number => {
    if (types === undefined) return -1;
    let lo = 0, hi = types.pfn.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, p = types.pfn[mid]!;
      if (p === pfn) return mid;
      if (p < pfn) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  };
  const seeded = new Uint8Array(registered.length);
  for (const z of machine.zones) {
    const sets = pagesets[z.name], s = z.strategy;
    if (sets === undefined || s.seedPcp === undefined) continue;
    const room = sets.map((p) => p.count);
    sets.forEach((p, cpu) => s.setPcpHigh?.(cpu, p.high));
    /** the registered entries first seen drained (k, then its index in `types`), with room kept for them, seeded after the guessed pages */
    const drainedFirst: number[] = [];
    for (let k = 0; k < registered.length; k++) {
      const i = registered[k]!, pfn = -pre.pfns[i]!, order = pre.orders[i]!, cpu = pre.cpus?.[i] ?? 0;
      const n = 1 << order;
      if (pfn <= 0 || pfn < z.startPfn || pfn >= z.startPfn + z.spanned || !(room[cpu]! >= n)) continue;
      const at = indexOf(pfn);
      if (at >= 0 && types!.drained?.[at] === 1) {
        drainedFirst.push(k, at);
        room[cpu]! -= n;
        continue;
      }
      if (!s.seedPcp(cpu, pfn - z.startPfn, order, at >= 0 ? types!.type[at] : undefined)) continue;
      room[cpu]! -= n;
      seeded[k] = 1;
    }
    // The rest of each CPU's count: unflagged pre-trace order-0 pages, first fit from the bottom,
    // only where the recording shows no refill of the list the page would be on (its pageblock's
    // type): a pcp list is a stack that rmqueue_pcplist() refills only once empty (6.1/6.12
    // __rmqueue_pcplist()), so a start page the trace never shows cannot have been on a list the
    // recording refills (it left untraced, by __alloc_pages_bulk(), and stays pre-trace memory).
    const avail = usable.get(z.name)!, pbType = pbTypes.get(z.name);
    for (let cpu = 0; cpu < room.length; cpu++) {
      for (let p = 0; p < z.spanned && room[cpu]! > 0; p++) {
        if (avail[p] !== 1 || kpage[z.startPfn + p] !== KP_OTHER) continue;
        if (pbType !== undefined && refilled.has(cpu * 64 + pbType[p >>> PAGEBLOCK_ORDER]!)) continue;
        if (s.seedPcp(cpu, p, 0)) { room[cpu]!--; avail[p] = 3; } // 3: on a pcp list
      }
    }
    for (let d = drainedFirst.length - 2; d >= 0; d -= 2) {
      const k = drainedFirst[d]!, i = registered[k]!;
      if (s.seedPcp(pre.cpus?.[i] ?? 0, -pre.pfns[i]! - z.startPfn, pre.orders[i]!, types!.type[drainedFirst[d + 1]!])) seeded[k] = 1;
    }
  }
  return seeded;
}

/**
 * The order of the start's free blocks on their lists, reconstructed from the recording. The
 * kernel's free lists are LIFO (6.1/6.12 __rmqueue_smallest() takes get_page_from_free_area()'s
 * list head) and no snapshot says their order, but the recording shows the order in which the
 * kernel took the blocks: a block of the start that the kernel took (whole, or split by expand(),
 * which keeps the block's first pages) was at its list's head then, so the blocks of one list are
 * in the order of their first recorded take. Frees during the trace put other blocks before them
 * and do not reorder them. The hand-over frees to the tail (FPI_TO_TAIL), so it frees in that
 * order: first the blocks the trace takes, by their first take, then the others in ascending pfn
 * order. Returns the block indexes (into the [pfn, order] pairs of `blocks`) in hand-over order.
 */
export function listOrder(blocks: readonly number[], startPfn: number, takes: Int32Array): Int32Array {
  const n = blocks.length >> 1;
  const rank = new Float64Array(n).fill(Infinity);
  // zone-local pfn → block index, for the heads of the start's blocks
  const at = new Map<number, number>();
  for (let k = 0; k < n; k++) at.set(blocks[2 * k]!, k);
  for (let t = 0; t < takes.length; t++) {
    const k = at.get(takes[t]! - startPfn);
    if (k !== undefined && rank[k] === Infinity) rank[k] = t;
  }
  return Int32Array.from({ length: n }, (_, k) => k).sort((a, b) => rank[a]! - rank[b]! || a - b);
}

interface ZonePlan {
  /** zone-local [pfn, order] pairs, in ascending pfn order */
  blocks: number[];
  /** migratetype per pageblock */
  types: Uint8Array;
  unplaced: number;
  mismatch: number;
}

/** Target counts of a pagetypeinfo zone: free blocks [mt][order] and pageblocks per type. */
function targets(real: ZoneFreeState): { want: number[][]; pbCount: number[] } {
  const want = Array.from({ length: MIGRATE_TYPES }, (_, mt) => Array.from({ length: NR_ORDERS }, (_, o) => real.freeArea[mt * NR_ORDERS + o]!));
  return { want, pbCount: Array.from(real.pageblocks) };
}

/**
 * Pageblock types for the placement (see the header): each type first takes the wholly available
 * pageblocks its order-9 and order-10 blocks need (Movable first, from the top of the zone), then
 * Unmovable, HighAtomic and Reclaimable take the pageblocks without a usable page, then their
 * remaining counts from the bottom, Movable the rest. The counts of `pbCount` are scaled when the simulated zone has another number of pageblocks.
 */
function layoutTypes(nPb: number, pbCount: number[], want: number[][], avail: Uint8Array): Uint8Array {
  const total = pbCount.reduce((a, b) => a + b, 0);
  const n = pbCount.map((c) => Math.round((c * nPb) / Math.max(1, total)));
  const NONE = 255;
  const types = new Uint8Array(nPb).fill(NONE);
  const whole = (b: number): boolean => {
    for (let p = b * PAGEBLOCK_PAGES; p < (b + 1) * PAGEBLOCK_PAGES; p++) if (avail[p] !== 1) return false;
    return true;
  };
  const left = n.slice();
  const single = new Uint8Array(nPb);
  for (const mt of [MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, MIGRATE_HIGHATOMIC]) {
    // order-10 blocks take aligned pairs, order-9 single pageblocks
    let pairs = want[mt]![MAX_ORDER]!, singles = want[mt]![PAGEBLOCK_ORDER]!;
    for (let b = (nPb & ~1) - 2; b >= 0 && pairs > 0 && left[mt]! >= 2; b -= 2) {
      if (types[b] !== NONE || types[b + 1] !== NONE || !whole(b) || !whole(b + 1)) continue;
      types[b] = types[b + 1] = mt; left[mt]! -= 2; pairs--;
    }
    // two free order-9 buddies would merge (6.1 merges across migratetypes): one single per pair
    for (let b = nPb - 1; b >= 0 && singles > 0 && left[mt]! >= 1; b--) {
      if (types[b] !== NONE || !whole(b) || single[b ^ 1] === 1) continue;
      types[b] = mt; single[b] = 1; left[mt]!--; singles--;
    }
  }
  // Pageblocks with no page to place a free block in (reserved, e.g. the memmap) go to the other
  // types first, past the pageblocks their small free blocks need: on the 1 GiB 6.12 recordings
  // 25 such pageblocks left too few usable ones for Reclaimable and Movable otherwise.
  const none = (k: number): boolean => {
    for (let p = k * PAGEBLOCK_PAGES; p < (k + 1) * PAGEBLOCK_PAGES; p++) if (avail[p] === 1) return false;
    return true;
  };
  for (const mt of [MIGRATE_UNMOVABLE, MIGRATE_HIGHATOMIC, MIGRATE_RECLAIMABLE]) {
    let pages = 0;
    for (let o = 0; o < PAGEBLOCK_ORDER; o++) pages += want[mt]![o]! << o;
    const keep = Math.ceil(pages / PAGEBLOCK_PAGES);
    for (let k = 0; k < nPb && left[mt]! > keep; k++) if (types[k] === NONE && none(k)) { types[k] = mt; left[mt]!--; }
  }
  let b = 0;
  for (const mt of [MIGRATE_UNMOVABLE, MIGRATE_HIGHATOMIC, MIGRATE_RECLAIMABLE]) {
    for (; left[mt]! > 0 && b < nPb; b++) if (types[b] === NONE) { types[b] = mt; left[mt]!--; }
  }
  for (let k = 0; k < nPb; k++) if (types[k] === NONE) types[k] = MIGRATE_MOVABLE;
  return types;
}

function placeZone(span: number, avail: Uint8Array, real: ZoneFreeState): ZonePlan {
  const nPb = Math.ceil(span / PAGEBLOCK_PAGES);
  const { want, pbCount } = targets(real);
  const types = layoutTypes(nPb, pbCount, want, avail);
  const head = new Int8Array(span).fill(-1); // order of a placed free block's head
  const taken = new Uint8Array(span);
  const fits = (p: number, o: number, mt: number): boolean => {
    const n = 1 << o;
    if (p + n > span || types[p >>> PAGEBLOCK_ORDER] !== mt) return false;
    if (o > PAGEBLOCK_ORDER) for (let b = (p >>> PAGEBLOCK_ORDER) + 1; b < (p + n) >>> PAGEBLOCK_ORDER; b++) if (types[b] !== mt) return false;
    for (let q = p; q < p + n; q++) if (avail[q] !== 1 || taken[q] === 1) return false;
    const buddy = p ^ n;
    return o >= MAX_ORDER || buddy >= span || head[buddy] !== o;
  };
  let unplaced = 0;
  for (let o = MAX_ORDER; o >= 0; o--) {
    const n = 1 << o;
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
      let need = want[mt]![o]!;
      const topDown = o >= PAGEBLOCK_ORDER;
      for (let k = 0; need > 0 && k * n < span; k++) {
        const p = topDown ? (Math.floor((span - n) / n) - k) * n : k * n;
        if (p < 0 || !fits(p, o, mt)) continue;
        taken.fill(1, p, p + n);
        head[p] = o;
        need--;
      }
      unplaced += need;
    }
  }
  const blocks: number[] = [];
  for (let p = 0; p < span; p++) if (head[p]! >= 0) blocks.push(p, head[p]!);
  return { blocks, types, unplaced, mismatch: 0 };
}

/** Scores of a pageblock for each type from its allocated pages' flags (the greedy start). */
function typeScores(kpage: Uint8Array, startPfn: number, b: number, span: number): number[] {
  const s = [0, 0, 0, 0];
  const end = Math.min(span, (b + 1) * PAGEBLOCK_PAGES);
  for (let p = b * PAGEBLOCK_PAGES; p < end; p++) {
    const c = kpage[startPfn + p] ?? KP_OTHER;
    if (c === KP_MOVABLE || c === KP_BUDDY) s[MIGRATE_MOVABLE]!++;
    else if (c === KP_SLAB) { s[MIGRATE_RECLAIMABLE]! += 0.5; s[MIGRATE_UNMOVABLE]! += 0.5; } else if (c === KP_PGTABLE || c === KP_OTHER) s[MIGRATE_UNMOVABLE]!++;
  }
  return s;
}

/**
 * The kpageflags start's free blocks and pageblock types (see the header). `proven`: pageblocks
 * (global) whose start type the recording proves. They get that type and the per-type counts stay
 * pagetypeinfo's: the greedy gives each type its proven pageblocks first and offers them to the
 * other types last (each type still takes its count, so a proven block's place goes to the
 * next-best unproven pageblock for that type), and no swap takes a proven block's type away. A type
 * that needs more pageblocks than the unproven ones left takes proven ones (the counts win over the
 * evidence; none of the 4 recordings needs it).
 */
function kpageZone(kpage: Uint8Array, startPfn: number, span: number, avail: Uint8Array, real: ZoneFreeState, proven?: { pb: Int32Array; type: Uint8Array }): ZonePlan {
  const nPb = Math.ceil(span / PAGEBLOCK_PAGES);
  /** per pageblock: 1 + its proven type, 0 without evidence */
  const pinned = new Uint8Array(nPb);
  // (the zone's pageblocks are the kernel's when the zone starts on a pageblock boundary; DMA at pfn 1 does not)
  const firstPb = startPfn / PAGEBLOCK_PAGES;
  if (Number.isInteger(firstPb) && proven !== undefined) {
    for (let k = 0; k < proven.pb.length; k++) {
      const g = proven.pb[k]!;
      if (g >= firstPb && g < firstPb + nPb) pinned[g - firstPb] = 1 + proven.type[k]!;
    }
  }
  /** 0: proven of type mt, 1: no evidence, 2: proven of another type (the greedy's preference) */
  const rank = (b: number, mt: number): number => pinned[b] === 0 ? 1 : pinned[b] === 1 + mt ? 0 : 2;
  const { want, pbCount } = targets(real);
  // the free blocks: KPF_BUDDY runs cut into the largest aligned blocks
  const blocks: number[] = [];
  let unplaced = 0;
  for (let p = 0; p < span;) {
    if (kpage[startPfn + p] !== KP_BUDDY) { p++; continue; }
    let q = p;
    while (q < span && kpage[startPfn + q] === KP_BUDDY) q++;
    // aligned on the global pfn, as the buddy holds a free run (machine/decompose.ts)
    forEachAlignedBlock(startPfn + p, startPfn + q, (pfn, o) => {
      const s = pfn - startPfn;
      for (let x = s; x < s + (1 << o); x++) if (avail[x] !== 1) { unplaced++; return; }
      blocks.push(s, o);
    });
    p = q;
  }
  // per pageblock: its free blocks' order histogram (by head)
  const hist = Array.from({ length: nPb }, () => new Array<number>(NR_ORDERS).fill(0));
  for (let i = 0; i < blocks.length; i += 2) hist[blocks[i]! >>> PAGEBLOCK_ORDER]![blocks[i + 1]!]!++;
  // greedy: each type takes its count of the pageblocks that score best for it (Movable last: the rest)
  const total = pbCount.reduce((a, b) => a + b, 0);
  const n = pbCount.map((c) => Math.round((c * nPb) / Math.max(1, total)));
  const types = new Uint8Array(nPb).fill(MIGRATE_MOVABLE);
  const scores = Array.from({ length: nPb }, (_, b) => typeScores(kpage, startPfn, b, span));
  const free = new Set(Array.from({ length: nPb }, (_, b) => b));
  for (const mt of [MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_HIGHATOMIC]) {
    const order = [...free].sort((a, b) => rank(a, mt) - rank(b, mt) || (scores[b]![mt]! - scores[b]![MIGRATE_MOVABLE]!) - (scores[a]![mt]! - scores[a]![MIGRATE_MOVABLE]!) || a - b);
    for (const b of order.slice(0, n[mt]!)) { types[b] = mt; free.delete(b); }
  }
  // swaps of two pageblocks' types while the distance to pagetypeinfo's per-type counts falls
  const sum = Array.from({ length: MIGRATE_TYPES }, () => new Array<number>(NR_ORDERS).fill(0));
  for (let b = 0; b < nPb; b++) for (let o = 0; o < NR_ORDERS; o++) sum[types[b]!]![o]! += hist[b]![o]!;
  const cost = (mt: number, o: number, v: number): number => Math.abs(v - want[mt]![o]!);
  for (let round = 0; round < 50; round++) {
    let improved = false;
    for (let a = 0; a < nPb; a++) {
      for (let b = a + 1; b < nPb; b++) {
        const ta = types[a]!, tb = types[b]!;
        if (ta === tb) continue;
        // a proven pageblock that has its type keeps it
        if (pinned[a] === 1 + ta || pinned[b] === 1 + tb) continue;
        let delta = 0;
        for (let o = 0; o < NR_ORDERS; o++) {
          const d = hist[b]![o]! - hist[a]![o]!; // ta gains b's blocks and loses a's, tb the reverse
          if (d === 0) continue;
          delta += cost(ta, o, sum[ta]![o]! + d) - cost(ta, o, sum[ta]![o]!) + cost(tb, o, sum[tb]![o]! - d) - cost(tb, o, sum[tb]![o]!);
        }
        if (delta < 0) {
          for (let o = 0; o < NR_ORDERS; o++) { const d = hist[b]![o]! - hist[a]![o]!; sum[ta]![o]! += d; sum[tb]![o]! -= d; }
          types[a] = tb; types[b] = ta;
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
  let mismatch = 0;
  for (let mt = 0; mt < MIGRATE_TYPES; mt++) for (let o = 0; o < NR_ORDERS; o++) mismatch += cost(mt, o, sum[mt]![o]!);
  return { blocks, types, unplaced, mismatch };
}
