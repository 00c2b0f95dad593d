import { forEachAlignedBlock } from './decompose.js';
import * as gfpModule from './gfp.js';
import * as geometry from './page-geometry.js';
import type { PageStrategy, PageStrategyFactory } from './page-strategy.js';
import type { CpuCursor } from './cpu-cursor.js';
import type { PageSource } from './page-source.js';
import { Memblock, type Region } from './memblock.js';
import type { MachineConfig } from './memory-map.js';
import * as stepsModule from './steps.js';
import type { Steps } from './steps.js';
import { computeWatermarks, watermarksFor, type Watermarks } from './watermarks.js';
import { presentPages, zoneSpans } from './zones.js';
import type { ZoneFreeState } from './zone-free-state.js';

// Constants and helpers of other modules as constants of this one (issue 17; see page/buddy.ts):
// optimized code loads an imported binding through its module's cell and checks it for the
// temporal dead zone at every use, where a const of this module costs at most one load.
const { MIGRATE_TYPES, __GFP_DMA, __GFP_DMA32, __GFP_HIGH, __GFP_HIGHMEM, __GFP_MOVABLE, __GFP_RECLAIMABLE, gfpMigratetype, gfpZone } = gfpModule;
const { MAX_ORDER, NR_ORDERS } = geometry;
const { newSteps, STEP_ZONE, tick } = stepsModule;

export type { ZoneFreeState };

/** One populated zone and the page-strategy instance that manages it. */
export interface Zone {
  index: number;
  name: string;
  startPfn: number;
  /** pages spanned, holes included (the strategy's zone-local pfn range) */
  spanned: number;
  /** usable pages in the span */
  present: number;
  /** pages handed over to the page allocator at boot */
  managed: number;
  strategy: PageStrategy;
}

/** Called when both watermark passes failed; returns pages it freed (0: nothing to reclaim). */
export type ReclaimHook = (order: number, gfp: number) => number;

const MiB = 2 ** 20;
const PAGE = 4096;
/** Bytes of kernel text, data and bss reserved at CONFIG_PHYSICAL_START (16 MiB); ~ a distribution kernel. */
export const KERNEL_IMAGE_BYTES = 32 * MiB;
const KERNEL_LOAD = 16 * MiB;
/** sizeof(struct page) on x86-64 */
const STRUCT_PAGE_BYTES = 64;
const SECTION_PAGES = (128 * MiB) / PAGE;

/**
 * gfpZone() and gfpMigratetype() of every combination of the zone and mobility bits, the only bits
 * they read (gfp.ts): ZONE_OF[gfp & ZONE_MT_BITS] === gfpZone(gfp), MT_OF likewise. The allocation
 * path looks them up (issue 17): inlined, gfp.ts's functions read each of its constants through the
 * module cell of an exported binding, with a check for the temporal dead zone, six times a request.
 */
const ZONE_MT_BITS = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE | __GFP_RECLAIMABLE;
const ZONE_OF = new Int8Array(ZONE_MT_BITS + 1);
const MT_OF = new Int8Array(ZONE_MT_BITS + 1);
for (let b = 0; b <= ZONE_MT_BITS; b++) {
  if ((b & ~ZONE_MT_BITS) !== 0) continue; // (the bits are contiguous today: no such b)
  ZONE_OF[b] = gfpZone(b);
  MT_OF[b] = gfpMigratetype(b);
}

const WMARK_MIN = 0;
const WMARK_LOW = 1;
const WMARK_HIGH = 2;
/** the min watermark halved for __GFP_HIGH (ALLOC_MIN_RESERVE) */
const MIN_HALVED = 3;
/** floors per zone of a zonelist: WMARK_MIN, WMARK_LOW, WMARK_HIGH, MIN_HALVED */
const FLOORS = 4;

/**
 * The simulated machine below the object layer: boot (memblock reservations, the memmap, the
 * hand-over of free memory to one page-strategy instance per zone) and the zoned page allocator
 * (__alloc_pages: zonelist walk from the highest zone the gfp allows, watermarks and
 * lowmem_reserve). Out of memory returns -1; nothing here throws after boot.
 *
 * Simplifications (documented in DESIGN/README): one NUMA node; no
 * highatomic reserves; reserved at boot are the first 1 MiB, the kernel image and the memmap only
 * (no per-CPU areas, early page tables, crash kernel or initrd).
 */
export class Machine implements PageSource {
  readonly zones: Zone[];
  /** by zone index (DMA, DMA32, Normal, Movable); undefined when the zone is empty */
  private readonly byIndex: (Zone | undefined)[];
  readonly steps: Steps;
  readonly totalPfns: number;
  readonly watermarks: Watermarks;
  readonly memblock: Memblock;
  readonly cpus: number;
  reclaim: ReclaimHook | null = null;
  /** the CPU of the event being replayed (the replay writes it): per-CPU page lists and SLUB's per-CPU slabs */
  readonly cpuCursor: CpuCursor = { cpu: 0 };
  /** per highest zone a request may use: the populated zones it tries, highest first (its zonelist) */
  private readonly zonelists: Zone[][];
  /**
   * per highest zone h and k-th zone of its zonelist, FLOORS numbers: the free pages the zone must
   * exceed (watermark + lowmem_reserve[h]) at WMARK_MIN, WMARK_LOW, WMARK_HIGH and MIN_HALVED, so
   * the allocation path compares with one number per zone tried
   */
  private readonly floors: Float64Array;

  constructor(readonly config: MachineConfig, page: PageStrategyFactory, steps: Steps = newSteps(), hand: HandOver = handOver) {
    this.steps = steps;
    this.cpus = config.cpus;
    const mb = new Memblock(config.map);
    this.memblock = mb;
    // x86 always reserves the first 1 MiB (arch/x86/kernel/setup.c, since 5.13).
    mb.reserve(0, MiB, 'low 1M (BIOS, real mode)');
    for (const r of config.reserve ?? []) mb.reserve(r.start, r.end - r.start, r.label);
    if (config.reserveOnly !== true) this.reserveModelled(mb);

    this.totalPfns = Math.floor(mb.end / PAGE);
    const spans = zoneSpans(mb.memory, config);
    const free = mb.freeRanges();
    this.byIndex = spans.map((s) => {
      const spanned = s.endPfn - s.startPfn;
      if (spanned <= 0) return undefined;
      const strategy = page({ pages: spanned, steps, ...(config.kernel !== undefined ? { kernel: config.kernel } : {}) });
      const managed = hand(strategy, s.startPfn, s.endPfn, free, s.name);
      return { index: s.index, name: s.name, startPfn: s.startPfn, spanned, present: presentPages(mb.memory, s.startPfn, s.endPfn), managed, strategy };
    });
    this.zones = this.byIndex.filter((z): z is Zone => z !== undefined);
    // The steps count the work a workload makes, not the boot's hand-over.
    steps.fill(0);
    const managed = this.byIndex.map((z) => z?.managed ?? 0);
    // a recorded machine's vm.min_free_kbytes is what its kernel used (sysctl or boot), not our estimate
    this.watermarks = config.minFreeKbytes !== undefined ? watermarksFor(managed, config.minFreeKbytes) : computeWatermarks(managed, config.thp ?? true);
    const nz = this.byIndex.length;
    const { wmark, lowmemReserve } = this.watermarks;
    for (let z = 0; z < nz; z++) {
      this.byIndex[z]?.strategy.setupPcp?.(this.byIndex[z]!.managed, wmark[z]![WMARK_LOW]!, this.cpus, this.cpuCursor, wmark[z]![WMARK_HIGH]!);
    }
    this.zonelists = [];
    this.floors = new Float64Array(nz * nz * FLOORS);
    for (let h = 0; h < nz; h++) {
      const list: Zone[] = [];
      for (let z = h; z >= 0; z--) {
        const zone = this.byIndex[z];
        if (zone === undefined) continue;
        const at = (h * nz + list.length) * FLOORS, reserve = lowmemReserve[z]![h]!;
        for (let l = 0; l < 3; l++) this.floors[at + l] = wmark[z]![l]! + reserve;
        // ALLOC_MIN_RESERVE (__GFP_HIGH): min - min / 2
        const min = wmark[z]![WMARK_MIN]!;
        this.floors[at + MIN_HALVED] = min - Math.floor(min / 2) + reserve;
        list.push(zone);
      }
      this.zonelists.push(list);
    }
  }

  /** The kernel image and the memmap, as a distribution kernel reserves them (a recorded machine may give its own). */
  private reserveModelled(mb: Memblock): void {
    mb.reserve(KERNEL_LOAD, KERNEL_IMAGE_BYTES, 'kernel image');
    // sparse_init() allocates struct pages for every present 128 MiB section in one buffer per node.
    const sections = new Set<number>();
    for (const r of mb.memory) {
      for (let s = Math.floor(r.start / PAGE / SECTION_PAGES); s * SECTION_PAGES * PAGE < r.end; s++) sections.add(s);
    }
    mb.alloc(sections.size * SECTION_PAGES * STRUCT_PAGE_BYTES, 2 * MiB, 'memmap (struct page array)');
  }

  /**
   * __alloc_pages(): the fast path tries each zone of the zonelist against its low watermark, the
   * slow path again against min (halved for __GFP_HIGH, ALLOC_MIN_RESERVE), then the reclaim hook
   * if any, then fails. Returns a global pfn or -1.
   */
  allocPages(order: number, gfp: number): number {
    // 6.1 mm/page_alloc.c __alloc_pages(): "if (WARN_ON_ONCE_GFP(order >= MAX_ORDER, gfp)) return NULL"
    // (6.8+: order > MAX_PAGE_ORDER). Checked once here so every page strategy refuses alike.
    if (!(order >= 0 && order <= MAX_ORDER)) return -1;
    const highest = ZONE_OF[gfp & ZONE_MT_BITS]!;
    const mt = MT_OF[gfp & ZONE_MT_BITS]!;
    const pfn = this.tryZones(order, mt, highest, WMARK_LOW);
    return pfn >= 0 ? pfn : this.allocSlow(order, gfp, mt, highest);
  }

  /** __alloc_pages_slowpath(): the min watermark, a drain of the per-CPU lists, reclaim. */
  private allocSlow(order: number, gfp: number, mt: number, highest: number): number {
    const level = (gfp & __GFP_HIGH) !== 0 ? MIN_HALVED : WMARK_MIN;
    let pfn = this.tryZones(order, mt, highest, level);
    if (pfn >= 0) return pfn;
    // __alloc_pages_direct_reclaim(): drain_all_pages() once before giving up or reclaiming more
    if (this.drainPcp() > 0) {
      pfn = this.tryZones(order, mt, highest, level);
      if (pfn >= 0) return pfn;
    }
    if (this.reclaim === null) return pfn;
    while (this.reclaim(order, gfp) > 0) {
      pfn = this.tryZones(order, mt, highest, level);
      if (pfn >= 0) return pfn;
    }
    return -1;
  }

  /** Pages held on per-CPU lists (not in freePageCount(), as NR_FREE_PAGES leaves them out). */
  pcpPageCount(): number {
    let n = 0;
    for (const z of this.zones) n += z.strategy.pcpPages?.() ?? 0;
    return n;
  }

  /** vmstat_update() on every CPU (a tick of recorded time, sysctl_stat_interval = HZ): the per-CPU lists' periodic decay. */
  vmstatTick(): number {
    let n = 0;
    for (const z of this.zones) n += z.strategy.decayPcp?.() ?? 0;
    return n;
  }

  /** drain_all_pages(zone) of zone index `z` (a recording's kcompactd, trace/ops.ts OP_PCP_DRAIN); returns the pages drained. */
  drainZonePcp(z: number): number {
    return this.byIndex[z]?.strategy.drainPcp?.() ?? 0;
  }

  /**
   * kswapd's balance_pgdat() begins (set_reclaim_active(): ZONE_RECLAIM_ACTIVE on every zone up to
   * `highest`) or ends (clear_reclaim_active(); `highest` -1: every zone), mm/vmscan.c 5.14+.
   */
  setReclaimActive(highest: number, on: boolean): void {
    const zs = this.byIndex;
    for (let z = 0; z < zs.length; z++) zs[z]?.strategy.setReclaimActive?.(on && z <= highest);
  }

  /** drain_all_pages(NULL): every zone's per-CPU lists; returns the pages drained. */
  drainPcp(): number {
    let n = 0;
    for (const z of this.zones) n += z.strategy.drainPcp?.() ?? 0;
    return n;
  }

  /** get_page_from_freelist(): each zone of the zonelist whose free pages pass `level` (FLOORS index). */
  private tryZones(order: number, mt: number, highest: number, level: number): number {
    const list = this.zonelists[highest]!, steps = this.steps, floors = this.floors;
    const at = highest * this.byIndex.length * FLOORS + level;
    for (let k = 0; k < list.length; k++) {
      const zone = list[k]!;
      tick(steps, STEP_ZONE);
      // __zone_watermark_ok(): free pages minus the (1 << order) - 1 that cannot serve this request
      if (zone.strategy.freePages() - ((1 << order) - 1) <= floors[at + k * FLOORS]!) continue;
      const p = zone.strategy.alloc(order, mt);
      if (p >= 0) return p + zone.startPfn;
    }
    return -1;
  }

  /**
   * How many blocks of 2^order pages a request with this gfp could take if free memory were not
   * fragmented at all: per zone of its zonelist, the blocks that keep free pages above the min
   * watermark plus lowmem_reserve (the last pass of allocPages). The yardstick of the high-order probe.
   */
  allocatableBlocks(order: number, gfp: number): number {
    const highest = gfpZone(gfp);
    const list = this.zonelists[highest]!;
    const at = highest * this.byIndex.length * FLOORS + WMARK_MIN;
    let n = 0;
    for (let k = 0; k < list.length; k++) {
      const floor = this.floors[at + k * FLOORS]!;
      // block b is allowed while free - (b-1)*2^o - (2^o - 1) > floor
      const b = Math.ceil((list[k]!.strategy.freePages() + 1 - floor) / (1 << order)) - 1;
      if (b > 0) n += b;
    }
    return n;
  }

  freePages(pfn: number, order: number): void {
    const zone = this.zoneOf(pfn);
    zone.strategy.free(pfn - zone.startPfn, order);
  }

  /**
   * A compaction target of 2^order pages (trace/kernel.ts): where the zone's strategy says the
   * free scanner finds it (PageStrategy.allocCompactionTarget), else as a movable allocation.
   * isolate_freepages() scans only the zone being compacted (compact_zone()): the zone gfpZone(gfp)
   * names (a recording's target carries the zone the kernel isolated it in; without zone bits, the
   * highest zone), else the next lower one with the method.
   */
  allocCompactionTarget(order: number, gfp: number): number {
    const top = (gfp & (__GFP_DMA | __GFP_DMA32)) !== 0 ? gfpZone(gfp) : this.byIndex.length - 1;
    for (let z = top; z >= 0; z--) {
      const zone = this.byIndex[z];
      if (zone?.strategy.allocCompactionTarget === undefined) continue;
      const p = zone.strategy.allocCompactionTarget(order);
      if (p >= 0) return p + zone.startPfn;
    }
    return this.allocPages(order, gfp);
  }

  /** Frees part of an allocated block (PageStrategy.freePart); false when the zone's strategy cannot. */
  freePart(pfn: number, order: number): boolean {
    const zone = this.zoneOf(pfn);
    if (zone.strategy.freePart === undefined) return false;
    zone.strategy.freePart(pfn - zone.startPfn, order);
    return true;
  }

  zoneOf(pfn: number): Zone {
    const zs = this.zones;
    for (let i = zs.length - 1; i > 0; i--) if (pfn >= zs[i]!.startPfn) return zs[i]!;
    return zs[0]!;
  }

  /** Free pages over all zones. */
  freePageCount(): number {
    let n = 0;
    for (const z of this.zones) n += z.strategy.freePages();
    return n;
  }

  managedPages(): number {
    let n = 0;
    for (const z of this.zones) n += z.managed;
    return n;
  }

  /** The free-block state of every populated zone, for the fragmentation metrics and /proc formats. */
  freeState(): ZoneFreeState[] {
    return this.zones.map((z) => {
      const freeArea = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
      const pageblocks = new Float64Array(MIGRATE_TYPES);
      z.strategy.freeArea(freeArea);
      z.strategy.pageblockTypes(pageblocks);
      return { node: 0, zone: z.name, freeArea, pageblocks, present: z.present };
    });
  }

  check(): void {
    for (const z of this.zones) z.strategy.check();
  }
}

/**
 * Gives a zone's memory to its strategy at boot; returns the zone's managed pages. The default is
 * handOver (every free page); a start state (start-state.ts) frees only a recorded state's free blocks.
 */
export type HandOver = (strategy: PageStrategy, startPfn: number, endPfn: number, free: readonly Region[], zone: string) => number;

/** The boot's free of a never-allocated block: the strategy's handOver() where it has one, else free(). */
export function handOverBlock(strategy: PageStrategy, pfn: number, order: number): void {
  if (strategy.handOver !== undefined) strategy.handOver(pfn, order);
  else strategy.free(pfn, order);
}

/**
 * memblock_free_all() for one zone: every free range inside the zone span is freed to the strategy
 * in the kernel's blocks (__free_pages_memory: the largest aligned block that fits, order
 * min(MAX_ORDER, __ffs(pfn))). Zone starts are MAX_ORDER-aligned, so global and zone-local
 * alignment agree. Returns the pages handed over (the zone's managed pages).
 */
function handOver(strategy: PageStrategy, startPfn: number, endPfn: number, free: readonly Region[]): number {
  let managed = 0;
  for (const r of free) {
    const s = Math.max(startPfn, r.start / PAGE);
    const e = Math.min(endPfn, r.end / PAGE);
    if (e <= s) continue;
    forEachAlignedBlock(s, e, (pfn, order) => handOverBlock(strategy, pfn - startPfn, order));
    managed += e - s;
  }
  return managed;
}
