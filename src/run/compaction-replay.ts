/**
 * The model's own choice of compaction's migration sources, as much compaction as the recording ran.
 *
 * A kernel recording carries each block compaction isolated as a migration target (trace/kernel.ts,
 * trace/compaction-targets.ts) and then the frees of the pages it migrated away from. The kernel's
 * migrate scanner takes the LOWEST movable pages of the zone: isolate_migratepages() walks pageblocks
 * from cc->migrate_pfn (the zone's start for a new run) upwards (6.1 and 6.12 mm/compaction.c;
 * compact_memory's cc->order -1 and ignore_skip_hint make fast_find_migrateblock() return at once,
 * and every pageblock is a source in sync mode: suitable_migration_source()), while the free scanner
 * walks down from the top, and a run ends when they meet (compact_finished(): COMPACT_COMPLETE).
 * The trace's own allocations sit elsewhere in the model's layout, so the recorded sources are not
 * the model's lowest blocks. So while a recorded isolation's pages wait, each free of one of the
 * model's movable blocks is taken as a source's free and the model frees its own lowest movable
 * block of that order below it instead; that block's data takes the freed block's place (a rename,
 * so the pages in use do not change, and the recorded targets are placed once, by the strategy's
 * free scanner). Pre-trace memory is freed where it is: the start state has it at its recorded pfn.
 *
 * Only blocks the trace allocated movable (gfp_migratetype() == MIGRATE_MOVABLE: page cache and
 * anonymous memory, what isolate_migratepages_block() takes off the LRU) in the zone being compacted are
 * renamed. A renamed block keeps its id: its later free frees it where it now is. Kept only for a
 * trace with recorded isolations (run/replay.ts), so other traces' replays do not pay for the map.
 * Before (session 6) the model migrated as many pages again to targets of its own after each
 * isolation, on top of the recorded ones: the top of the zone got twice the targets.
 */
import { gfpMigratetype, MIGRATE_MOVABLE } from '../machine/gfp.js';
import type { Machine } from '../machine/machine.js';
import { alignedPageRef, refOrder, refPfn } from './page-ref.js';

export class ModelCompaction {
  /** per pfn: 1 + the id of the live movable block whose head it is, 0 when none */
  private readonly rev: Int32Array;
  /**
   * The zones compacted, each on its own (compact_zone(): kcompactd and compact_memory walk the
   * zones one by one, each with its own scanners): their first pfns, ascending (machine.zones).
   */
  private readonly starts: Float64Array;
  /** per zone: the migrate scanner's position (compact_cached_migrate_pfn), where the next run starts */
  private readonly cursor: Float64Array;
  /** per zone: pages of recorded isolations there not yet used by a source's free */
  private readonly pending: Float64Array;
  /** pages the model migrated */
  migrated = 0;
  /** runs that ended with the scanners meeting (the migrate scanner starts again from the bottom) */
  completed = 0;

  /** The model's compaction for `machine`; null when its highest zone's strategy has no free scanner. */
  static create(machine: Machine): ModelCompaction | null {
    const zs = machine.zones, top = zs[zs.length - 1]!;
    if (top.strategy.allocCompactionTarget === undefined) return null;
    return new ModelCompaction(zs.map((z) => z.startPfn), top.startPfn + top.spanned);
  }

  private constructor(starts: number[], end: number) {
    this.starts = Float64Array.from(starts);
    this.cursor = Float64Array.from(starts);
    this.pending = new Float64Array(starts.length);
    this.rev = new Int32Array(end);
  }

  /** Index (in starts) of the zone holding pfn. */
  private zoneOf(pfn: number): number {
    let z = this.starts.length - 1;
    while (z > 0 && pfn < this.starts[z]!) z--;
    return z;
  }

  /**
   * Block `id` was placed at pfn (order `order`, allocated with `gfp`); a recorded compaction target
   * (`target`) means the kernel is about to migrate as many pages.
   */
  allocated(id: number, pfn: number, order: number, gfp: number, target: boolean): void {
    if (target) this.pending[this.zoneOf(pfn)]! += 1 << order;
    else if (gfpMigratetype(gfp) === MIGRATE_MOVABLE) this.rev[pfn] = id + 1;
  }

  /** The block whose head is pfn was freed. */
  freed(pfn: number): void {
    this.rev[pfn] = 0;
  }

  /**
   * Block `id` (2^order pages at pfn) is freed; returns the pfn to free instead. While a recorded
   * isolation has pages not yet used, a free of one of the model's movable blocks is a migration
   * source's free: the kernel's migrate scanner took the LOWEST movable pages of the zone
   * (isolate_migratepages(), linear from cc->migrate_pfn up: compact_memory's order -1 makes
   * fast_find_migrateblock() return at once, 6.1 and 6.12 mm/compaction.c), so the model frees its
   * own lowest movable block of that order below pfn, and that block's data takes pfn's place (a
   * rename: the pages in use do not change). With none below, the scanners have met
   * (compact_finished(): COMPACT_COMPLETE) and the next run starts again from the bottom.
   */
  sourceFree(id: number, pfn: number, order: number, ref: Int32Array): number {
    const z = this.zoneOf(pfn);
    if (this.pending[z]! <= 0) return pfn;
    // every free in the zone while isolated pages wait counts as a source's: the replay cannot tell
    // the compacting task's frees from the others'
    this.pending[z]! -= 1 << order;
    // a block the model holds where the kernel did (pre-trace memory, at its recorded pfn) or one
    // that is not movable is freed where it is
    if (this.rev[pfn] !== id + 1) return pfn;
    const rev = this.rev;
    let p = this.cursor[z]!;
    for (; p < pfn; p++) {
      if (rev[p] === 0) continue;
      const y = rev[p]! - 1;
      const s = ref[y]!;
      if (s >= 0 || refPfn(s, refOrder(s)) !== p) { rev[p] = 0; continue; } // not live there any more
      if (refOrder(s) === order) break;
    }
    if (p >= pfn) { this.cursor[z] = this.starts[z]!; this.completed++; return pfn; }
    // migrate_pages() of block y: its data now where the freed block was, its own pages freed
    const y = rev[p]! - 1;
    rev[p] = 0;
    rev[pfn] = y + 1;
    ref[y] = alignedPageRef(pfn, order);
    this.migrated += 1 << order;
    this.cursor[z] = p + (1 << order);
    return p;
  }
}
