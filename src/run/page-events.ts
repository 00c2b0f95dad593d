import * as gfpModule from '../machine/gfp.js';
import type { Machine } from '../machine/machine.js';
import * as geometry from '../page/strategy.js';
import * as opsModule from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import type { TraceStream } from '../trace/stream.js';
import { ModelCompaction } from './compaction-replay.js';
import * as pageRef from './page-ref.js';
import * as states from './replay-ids.js';
import type { ReplayIds } from './replay-ids.js';

// Constants and helpers of other modules as constants of this one (issue 17; see page/buddy.ts):
// optimized code loads an imported binding through its module's cell and checks it for the
// temporal dead zone at every use, where a const of this module costs at most one load.
const { GFP_HIGHUSER_MOVABLE, __GFP_COMP } = gfpModule;
const { PAGEBLOCK_ORDER } = geometry;
const { GFP_COMPACTION_TARGET, PAGE_PIECE } = opsModule;
/**
 * ops.ts isCompactionTarget(gfp) as (gfp & NOT_TARGET_ZONE) === GFP_COMPACTION_TARGET with this
 * module's constants: the function reads GFP_COMPACTION_TARGET through its module cell, with a
 * temporal-dead-zone check, at every page_alloc (issue 17)
 */
const NOT_TARGET_ZONE = ~(gfpModule.__GFP_DMA | gfpModule.__GFP_DMA32);
const { alignedPageRef, refOrder, refPfn } = pageRef;
const { S_FAILED, S_FREED, S_OBJECT, S_RECLAIMED } = states;

/**
 * The page family of a replay: page_alloc and page_free (whole blocks and the pieces of a
 * compaction target) on the machine, the model's own compaction for a trace that recorded some
 * (compaction-replay.ts), and the ring of page-cache blocks that memory pressure may reclaim.
 */
export class PageEvents {
  /** pages in live page blocks (pre-trace memory included) */
  blockPages = 0;
  failed = 0;
  /** allocations of order ≥ 1, and how many succeeded */
  hoAttempts = 0;
  hoSuccesses = 0;
  /** the current mark's high-order (order ≥ PAGEBLOCK_ORDER) counts; null before the first mark */
  phaseStats: { attempts: number; successes: number } | null = null;
  /** pages of page-cache blocks reclaimed under memory pressure */
  reclaimed = 0;
  /** the model's compaction, for a trace with recorded compaction (run/compaction-replay.ts) */
  private readonly compaction: ModelCompaction | null;
  /**
   * page-cache blocks in allocation order (a FIFO ring: the oldest is reclaimed first; grown when a
   * streamed trace's count is not known), two Int32 an entry: the id and the block's page-cache
   * sequence number. With recycled ids (page-churn) an id freed and given to a new block leaves a
   * stale entry: pcSeq[id] names the block the id holds now (0: not a page-cache block), so reclaim
   * takes an entry only while its block is still the one that was pushed.
   */
  private pcRing: Int32Array | null;
  private readonly pcSeq: Int32Array | null;
  private pcNext = 0;
  private pcHead = 0;
  private pcTail = 0;

  /**
   * `pageCacheReclaim`: keep the ring (generated workloads); `preTrace`: pre-trace memory, live
   * page blocks from the start (ReplayOptions.preTrace).
   */
  constructor(
    private readonly ids: ReplayIds,
    private readonly machine: Machine,
    trace: Trace | TraceStream,
    pageCacheReclaim: boolean,
    preTrace?: { pages: number; ids: Int32Array; pfns: Int32Array; orders: Uint8Array },
  ) {
    const n = ids.ref.length;
    // the page-cache ring starts small and grows as page-cache blocks arrive
    this.pcRing = pageCacheReclaim ? new Int32Array(2 * 1024) : null;
    this.pcSeq = pageCacheReclaim ? new Int32Array(n) : null;
    this.compaction = (trace.stats?.compaction_isolations ?? 0) > 0 ? ModelCompaction.create(machine) : null;
    if (preTrace !== undefined) {
      this.blockPages = preTrace.pages;
      for (let k = 0; k < preTrace.ids.length; k++) ids.ref[preTrace.ids[k]!] = alignedPageRef(preTrace.pfns[k]!, preTrace.orders[k]!);
    }
  }

  alloc(e: number): void {
    const ids = this.ids, ref = ids.ref;
    const i = ids.id[e]!;
    const s = ref[i]!;
    if (s < 0 || s >= S_OBJECT) { ids.allocLive++; return; }
    const ord = ids.lo[e]!;
    const gfp = ids.aux[e]!;
    const target = (gfp & NOT_TARGET_ZONE) === GFP_COMPACTION_TARGET;
    const pfn = target ? this.machine.allocCompactionTarget(ord, gfp) : this.machine.allocPages(ord, gfp);
    if (ord >= 1) this.highOrder(ord, pfn);
    if (pfn < 0) { this.failed++; ref[i] = S_FAILED; return; }
    ref[i] = alignedPageRef(pfn, ord);
    this.blockPages += 1 << ord;
    if (this.compaction !== null) this.compaction.allocated(i, pfn, ord, gfp, target);
    if (this.pcRing !== null) this.notePageCache(i, gfp);
  }

  /** An allocation of order ≥ 1 placed at pfn (-1: failed): the high-order counts, overall and of the phase. */
  private highOrder(ord: number, pfn: number): void {
    this.hoAttempts++;
    if (pfn >= 0) this.hoSuccesses++;
    const ps = this.phaseStats;
    if (ps !== null && ord >= PAGEBLOCK_ORDER) {
      ps.attempts++;
      if (pfn >= 0) ps.successes++;
    }
  }

  /** Block i was just placed: a page-cache block joins the ring's tail. */
  private notePageCache(i: number, gfp: number): void {
    if (!isPageCache(gfp)) { this.pcSeq![i] = 0; return; }
    if (2 * this.pcTail === this.pcRing!.length) this.growRing();
    const q = this.pcNext = this.pcNext === 0x7fffffff ? 1 : this.pcNext + 1;
    this.pcSeq![i] = q;
    this.pcRing![2 * this.pcTail] = i; this.pcRing![2 * this.pcTail + 1] = q;
    this.pcTail++;
  }

  free(e: number): void {
    const ids = this.ids, ref = ids.ref;
    const i = ids.id[e]!;
    const s = ref[i]!;
    if (s < 0) {
      const v = ids.lo[e]!;
      if (v >= PAGE_PIECE) { this.pieceFree(e, i, v - PAGE_PIECE); return; }
      const ord = refOrder(s);
      let pfn = refPfn(s, ord);
      if (this.compaction !== null) pfn = this.compaction.sourceFree(i, pfn, ord, ref);
      this.machine.freePages(pfn, ord);
      if (this.compaction !== null) this.compaction.freed(pfn);
      this.blockPages -= 1 << ord;
      ref[i] = S_FREED;
    } else if (s === S_FAILED || s === S_RECLAIMED) {
      if (ids.lo[e]! < PAGE_PIECE || ids.aux[e]! < 0) ref[i] = S_FREED; // a block's last piece
    }
    else if (s === S_FREED) ids.doubleFree++;
    else if (ids.aux[e]! < 0) return; // a pcp-at-start candidate the start state did not make pre-trace memory (trace/kernel.ts pcpStartFree)
    else ids.unknownFree++; // never allocated, or a live object
  }

  /**
   * One aligned piece of live block i freed (ops.ts PAGE_PIECE: aux its offset, ~offset on the last
   * piece); a strategy that cannot free part of a block (PageStrategy.freePart) gets it whole with
   * its last piece.
   */
  private pieceFree(e: number, i: number, ord: number): void {
    const ids = this.ids, ref = ids.ref;
    const a = ids.aux[e]!, s = ref[i]!;
    const order = refOrder(s), pfn = refPfn(s, order), off = a >= 0 ? a : ~a;
    // a piece the block does not hold, larger than it, past its end or unaligned (a corrupt .abt;
    // the loaders make none): an unknown free that frees nothing, not a strategy's invariant error
    if (ord > order || off + (1 << ord) > 1 << order || (off & ((1 << ord) - 1)) !== 0) { ids.unknownFree++; return; }
    if (this.machine.freePart(pfn + off, ord)) this.blockPages -= 1 << ord;
    else if (a < 0) { this.machine.freePages(pfn, order); this.blockPages -= 1 << order; }
    if (a < 0) ref[i] = S_FREED;
  }

  /**
   * Room at the ring's tail. Entries whose id is no longer a live page block (freed by the trace or
   * reclaimed since) are dropped first: reclaim would skip them, and a trace that never gives a
   * freed id to a new block (every generator but page-churn) never makes them live again, so the
   * results are those of a ring that keeps every page-cache block ever allocated, in the memory of
   * the live ones (a 10^9-event page-churn replay would keep ~150 M). The ring doubles when more
   * than half of it is still live.
   */
  private growRing(): void {
    const ring = this.pcRing!, ref = this.ids.ref;
    let live = 0;
    const seq = this.pcSeq!;
    for (let k = this.pcHead; k < this.pcTail; k++) {
      const b = ring[2 * k]!, q = ring[2 * k + 1]!;
      // still the live page-cache block that was pushed (the reclaim loop's test)
      if (ref[b]! < 0 && seq[b] === q) { ring[2 * live] = b; ring[2 * live + 1] = q; live++; }
    }
    if (live * 4 > ring.length) {
      const out = new Int32Array(ring.length * 2);
      out.set(ring.subarray(0, 2 * live));
      this.pcRing = out;
    }
    this.pcTail = live; this.pcHead = 0;
  }

  /**
   * Memory pressure: drops the oldest page-cache blocks until `want` pages are freed or none is
   * left (clean page cache, dropped without writeback); returns the pages freed. A reclaimed
   * block's later free is dropped.
   */
  reclaimPageCache(want: number): number {
    const ring = this.pcRing, ref = this.ids.ref;
    let got = 0;
    while (ring !== null && this.pcHead < this.pcTail && got < want) {
      const b = ring[2 * this.pcHead]!, q = ring[2 * this.pcHead + 1]!;
      this.pcHead++;
      const s = ref[b]!;
      if (s >= 0 || this.pcSeq![b] !== q) continue; // freed by the trace since (its id may hold another block now)
      const ord = refOrder(s), pages = 1 << ord;
      this.machine.freePages(refPfn(s, ord), ord);
      got += pages;
      this.blockPages -= pages;
      ref[b] = S_RECLAIMED;
    }
    this.reclaimed += got;
    return got;
  }
}

/** A page_alloc the reclaim hook may drop: movable user memory (GFP_HIGHUSER_MOVABLE) that is not a compound (huge) page. */
function isPageCache(gfp: number): boolean {
  return (gfp & GFP_HIGHUSER_MOVABLE) === GFP_HIGHUSER_MOVABLE && (gfp & __GFP_COMP) === 0;
}
