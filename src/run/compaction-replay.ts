/**
 * The model's own compaction, run as much as the recording says the kernel's ran.
 *
 * A kernel recording carries each block compaction isolated as a migration target (trace/kernel.ts,
 * trace/compaction-targets.ts) and the frees of the pages it migrated away from. Those sources are
 * the pages in the LOW pageblocks of the kernel's layout: the migrate scanner walks the zone from
 * the bottom up (6.1/6.12 mm/compaction.c isolate_migratepages() → isolate_migratepages_block())
 * while the free scanner walks from the top down (isolate_freepages()), and a run ends when they
 * meet (compact_finished(): COMPACT_COMPLETE) or the request is served. In the model's layout the
 * same pages sit elsewhere, so replaying their frees empties no whole pageblock. So the recording
 * says how much compaction ran and the model decides what moves: after each recorded isolation of
 * 2^order pages (placed as the recording says), the model migrates as many pages of its own
 * movable blocks, from the bottom of the zone up, to targets its free scanner finds
 * (PageStrategy.allocCompactionTarget with the kernel's suitability rule). The recorded events
 * are all still replayed; the model's migration only moves blocks, so the pages in use do not change.
 *
 * Only blocks the trace allocated movable (gfp_migratetype() == MIGRATE_MOVABLE: page cache and
 * anonymous memory, what isolate_migratepages_block() takes off the LRU) in the highest zone are
 * moved: pre-trace memory and the compaction targets are not (the model does not know what they
 * hold). A moved block keeps its id: its later free frees it where it now is. Kept only for a trace
 * with recorded isolations (run/replay.ts), so other traces' replays do not pay for the map.
 */
import { gfpMigratetype, MIGRATE_MOVABLE } from '../machine/gfp.js';
import type { Machine } from '../machine/machine.js';
import type { PageStrategy } from '../machine/page-strategy.js';
import { alignedPageRef, refOrder, refPfn } from './page-ref.js';

export class ModelCompaction {
  /** per pfn: 1 + the id of the live movable block whose head it is, 0 when none */
  private readonly rev: Int32Array;
  /** the zone compacted: the highest populated one (kcompactd compacts each zone on its own) */
  private readonly start: number;
  /** the migrate scanner's position (compact_cached_migrate_pfn): where the next run starts */
  private cursor: number;
  /** pages the model migrated */
  migrated = 0;
  /** runs that ended with the scanners meeting (the migrate scanner starts again from the bottom) */
  completed = 0;

  /** The model's compaction for `machine`; null when its highest zone's strategy has no free scanner. */
  static create(machine: Machine): ModelCompaction | null {
    const z = machine.zones[machine.zones.length - 1]!;
    if (z.strategy.allocCompactionTarget === undefined) return null;
    return new ModelCompaction(machine, z.strategy, z.startPfn, z.spanned);
  }

  private constructor(private readonly machine: Machine, private readonly strategy: PageStrategy, start: number, spanned: number) {
    this.start = this.cursor = start;
    this.rev = new Int32Array(start + spanned);
  }

  /**
   * Block `id` was placed at pfn (order `order`, allocated with `gfp`); a recorded compaction target
   * (`target`) runs the model's compaction for as many pages. `ref` is the replay's per-id state
   * (a live block's reference: run/page-ref.ts).
   */
  allocated(id: number, pfn: number, order: number, gfp: number, target: boolean, ref: Int32Array): void {
    if (target) this.migrate(1 << order, ref);
    else if (pfn >= this.start && gfpMigratetype(gfp) === MIGRATE_MOVABLE) this.rev[pfn] = id + 1;
  }

  /** The block whose head is pfn was freed. */
  freed(pfn: number): void {
    if (pfn >= this.start) this.rev[pfn] = 0;
  }

  /**
   * Migrates `pages` pages of movable blocks from the migrate scanner's position up to the highest
   * suitable free targets, block by block (a block moves whole, as a folio does). When the free
   * scanner finds no target above the block, the scanners have met: the run is complete and the
   * next starts again from the bottom (__reset_isolation_suitable()).
   */
  private migrate(pages: number, ref: Int32Array): void {
    const rev = this.rev, machine = this.machine;
    let p = this.cursor;
    while (pages > 0) {
      while (p < rev.length && rev[p] === 0) p++;
      if (p >= rev.length) break;
      const id = rev[p]! - 1;
      const s = ref[id]!;
      if (s >= 0 || refPfn(s, refOrder(s)) !== p) { rev[p] = 0; continue; } // not live there any more
      const order = refOrder(s);
      // isolate_freepages() of this zone only, and never a free block of pageblock order or more
      const t = this.strategy.allocCompactionTarget!(order, false);
      const to = t < 0 ? -1 : t + this.start;
      if (to <= p) {
        if (to >= 0) machine.freePages(to, order);
        break;
      }
      // migrate_pages(): the data moves to the target, the source is freed
      machine.freePages(p, order);
      rev[p] = 0;
      rev[to] = id + 1;
      ref[id] = alignedPageRef(to, order);
      this.migrated += 1 << order;
      pages -= 1 << order;
      p += 1 << order;
    }
    if (pages > 0) { this.cursor = this.start; this.completed++; } else this.cursor = p;
  }
}
