import { AllocbenchError, InvariantError } from '../errors.js';
import { GFP_KERNEL, GFP_USER, __GFP_COMP, GFP_HIGHUSER_MOVABLE } from '../machine/gfp.js';
import type { UserHeaps } from '../object/process-heap.js';
import type { Vm } from '../machine/vm.js';
import type { Machine } from '../machine/machine.js';
import { setPrices, STEP_NS } from '../machine/steps.js';
import type { ObjectStrategy } from '../object/strategy.js';
import type { CpuCursor } from '../machine/cpu-cursor.js';
import type { PageSource } from '../machine/page-source.js';
import { PAGEBLOCK_ORDER } from '../page/strategy.js';
import {
  OP_BRK, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_COUNT, OP_EXIT, OP_EXTFRAG, OP_FAULT, OP_TICK, OP_FORK, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_MARK, OP_MMAP, OP_MUNMAP, OP_NAMES, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_REALLOC, PAGE_PIECE, isCompactionTarget,
} from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import { isTraceStream, traceChunks, type EventChunk, type TraceStream } from '../trace/stream.js';
import type { CostWeights } from '../machine/cost.js';
import type { LatencyRecorder } from '../metrics/latency.js';
import { round6 } from '../metrics/waste.js';
import { ModelCompaction } from './compaction-replay.js';
import { alignedPageRef, refOrder, refPfn } from './page-ref.js';

// Per id, one Int32 in Replay.ref: its state, and for a live page block or object its payload. The
// frees of a trace reach back to ids allocated long before, at random: with 4 bytes an id (what the
// native reference replayer keeps) the window of ids still live is half what it was with a state and
// a payload side by side, so a free finds its reference in the L2 cache far more often (buddy on
// the 1 M-event page trace: about a third of the replay was waiting on that load). A live object's
// address and requested bytes sit beside it by id (Replay.obj), so an object free's two loads do not
// wait for each other; the owner of a cache or user-heap object is in a record slot reused as
// objects die, so the live records stay compact.
const S_NONE = 0; //   never allocated
const S_FREED = 1; //  freed
const S_FAILED = 2; // its allocation failed (out of memory): a later free is silently dropped
const S_RECLAIMED = 3; // a page-cache block reclaimed under memory pressure: a later free is silently dropped
/**
 * A live object: S_OBJECT + (record slot << 2 | kind (K_*)), positive. A live page block: negative,
 * -(2 pfn + 2^order): blocks are naturally aligned (the PageStrategy contract), so the lowest set bit
 * of 2 pfn + 2^order is the order, and every pfn of a machine (below 2^30, 4 TiB) fits.
 * Every live reference is < 0 or ≥ S_OBJECT.
 */
const S_OBJECT = 4;
/** live records addressable by a slot: S_OBJECT + (slot << 2 | kind) stays a positive Int32 */
const MAX_SLOTS = 2 ** 29 - 2;


/** How the object was allocated, for the matching free. */
const K_KMALLOC = 0;
const K_CACHE = 1;
const K_USER = 2;
/** numbers per record in Replay.rec: 2 doubles, 16 bytes, so one never straddles a cache line */
const REC_STRIDE = 2;
/** events whose references run() loads ahead of them, in one burst every AHEAD events (a power of two) */
const AHEAD = 16;

export interface ReplayOptions {
  /** nanoseconds per step (machine/cost.ts); with it, every event's simulated latency is recorded */
  latency?: { weights: CostWeights; recorder: LatencyRecorder };
  /** verify every layer's invariants every `checkEvery` events and at the end (0 = never) */
  checkEvery?: number;
  /** called with the event index at every mark and every `sampleEvery` events */
  onSample?: (event: number, label: string, requestedLive: number) => void;
  sampleEvery?: number;
  /**
   * Processes (machine/vm.ts): mmap/munmap/brk/fault/fork/exit run on `vm`, and malloc/free/realloc
   * run in a per-pid user heap whose memory is the process's and is demand-faulted when the replay
   * writes the bytes malloc handed out. Without it, process events are counted as not modelled and
   * malloc events go to `objects` (the pre-process behaviour, kept for object-layer benches).
   */
  processes?: { vm: Vm; heaps: UserHeaps };
  /**
   * Memory pressure: an allocation that fails first reclaims (machine.reclaim): the object
   * strategies' cached empty slabs (shrink()), then, with this set (generated workloads), the oldest
   * live page_alloc blocks of page-cache type (GFP_HIGHUSER_MOVABLE without __GFP_COMP: clean page
   * cache, dropped without writeback). A later free of a reclaimed block is silently dropped.
   */
  pageCacheReclaim?: boolean;
  /**
   * A start state (machine/start-state.ts): `pages` managed pages were not free when the replay began
   * (pre-trace memory, counted as live page blocks), among them the blocks `ids` at `pfns` of
   * `orders`, which the trace frees without allocating them: their frees are real frees.
   */
  preTrace?: { pages: number; ids: Int32Array; pfns: Int32Array; orders: Uint8Array };
  /**
   * per-event CPU (run/event-cpu.ts) written into the cursor the object strategies read (SLUB's
   * per-CPU slabs): indexed by the trace's event index, or (a streamed trace has no whole-trace
   * array) a function giving each chunk's, called once per chunk in order
   */
  cpu?: { of: Int32Array | ((c: EventChunk) => Int32Array); cursor: CpuCursor };
}

/** User-heap figures of a replay with processes. */
export interface UserHeapCounts {
  heaps: number;
  bytes_requested_live: number;
  peak_bytes_requested: number;
  footprint_bytes: number;
  peak_footprint_bytes: number;
  resident_pages: number;
  /** pages that could not be faulted in when malloc'd memory was written (OOM) */
  oom_pages: number;
  /** frees/reallocs of objects whose process had exited (dropped) */
  dropped_after_exit: number;
}

/** Counts of one replay; all deterministic. */
export interface ReplayCounts {
  events: number;
  trace_errors: number;
  trace_error_kinds: { unknown_free: number; double_free: number; realloc_unknown: number; alloc_live_id: number };
  failed_allocs: number;
  failed_page_allocs: number;
  failed_object_allocs: number;
  ops: Record<string, number>;
  /** process events the machine does not model yet (mmap, fault, fork, ...) */
  events_not_modelled: number;
  recorded_extfrag: number;
  highorder: { attempts: number; successes: number };
  /** per mark label: high-order (order >= PAGEBLOCK_ORDER) attempts and successes while that phase ran */
  phases: Record<string, { attempts: number; successes: number }>;
  bytes_requested_live: number;
  peak_bytes_requested: number;
  peak_object_pages: number;
  page_block_pages_live: number;
  /** with processes: peak of object-layer pages + user-heap resident pages (the waste block's peak) */
  peak_pages_held?: number;
  user_heap?: UserHeapCounts;
  reclaim: { runs: number; page_cache_pages: number; shrunk_pages: number };
}

/**
 * Counts the pages the object layer takes from the machine, so the replay can check the object
 * strategy's own account and the conservation of pages.
 */
class CountingPageSource implements PageSource {
  pages = 0;
  peak = 0;
  constructor(private readonly m: Machine) {}
  get totalPfns(): number { return this.m.totalPfns; }
  allocPages(order: number, gfp: number): number {
    const p = this.m.allocPages(order, gfp);
    if (p >= 0) {
      this.pages += 1 << order;
      if (this.pages > this.peak) this.peak = this.pages;
    }
    return p;
  }
  freePages(pfn: number, order: number): void {
    this.pages -= 1 << order;
    this.m.freePages(pfn, order);
  }
}

export function objectPageSource(m: Machine): CountingPageSource {
  return new CountingPageSource(m);
}

/**
 * Replays a trace through a machine and an object strategy. The loop indexes typed arrays by the
 * trace's dense ids and allocates nothing per event (the live records grow by doubling). Bad frees
 * are counted, out-of-memory is a counted failure; neither throws. A TraceStream (trace/stream.ts)
 * is replayed chunk by chunk, with the same results as the whole trace in memory.
 */
export function replay(trace: Trace | TraceStream, machine: Machine, objects: ObjectStrategy, source: CountingPageSource, opts: ReplayOptions = {}): ReplayCounts {
  const kept = spareScratch;
  spareScratch = null; // in use (a replay nested in this one would get its own)
  const r = new Replay(trace, machine, objects, source, opts, kept);
  machine.reclaim = (ord: number): number => r.reclaim(ord);
  try {
    r.run();
  } finally {
    // the hook sees this replay's state; the end-of-run probe must not reclaim
    machine.reclaim = null;
    spareScratch = r.scratch();
  }
  return r.counts();
}

/** A replay's per-id and record arrays, handed to the next replay in this thread. */
interface Scratch { ref: Int32Array; obj: Float64Array; rec: Float64Array; spare: Int32Array }

/**
 * A worker replays cell after cell: the arrays are kept for the next one (grown when its trace has
 * more ids). Clearing kept memory is a memset, while every fresh 4 KiB a replay touches is a page
 * fault (~10 us on a VM whose host takes freed memory back, as this project's CI machine does:
 * a 1 M-id trace's fresh arrays cost a sixth of its replay).
 */
let spareScratch: Scratch | null = null;

/**
 * One replay's state: the per-id references, the live records and the counters, with a method per
 * event family. The loop in run() only dispatches, prices and samples; each handler is optimized on
 * its own, so a rarely seen event kind does not deoptimize (or crowd the registers of) the whole loop.
 */
class Replay {
  /** the current chunk's columns (the handlers index them by the event's row in the chunk) */
  private id: Int32Array;
  private lo: Uint32Array;
  private hi: Uint16Array;
  private aux: Int32Array;
  /** the trace's event index of the current chunk's row 0 */
  private base = 0;
  /** the trace's events, chunk by chunk (an in-memory trace is one chunk) */
  private readonly chunks: () => Iterable<EventChunk>;
  /** per id: its state, with a live page block's global pfn and order or a live object's record slot and kind (S_*) */
  private readonly ref: Int32Array;
  /** the model's own compaction, for a trace with recorded compaction (run/compaction-replay.ts) */
  private readonly compaction: ModelCompaction | null;
  /** ref is a view of this (kept from an earlier replay, maybe longer) */
  private readonly refAll: Int32Array;
  /**
   * per id i, a live object's address at 2i and its requested bytes at 2i + 1: read by id, as the
   * reference is, so a free's two cache misses (its reference, its address) are fetched at once
   * instead of one after the other through a record slot (written before read: never cleared)
   */
  private readonly obj: Float64Array;
  /**
   * per record slot of a live cache object or user-heap object, REC_STRIDE numbers: its owner (the
   * cache of a cache object, the pid of a user object) and, for a user object, its heap's generation
   * at allocation (a heap gone with its process is not freed into). kmalloc objects have none.
   */
  private rec: Float64Array;
  /** record slots freed for reuse (a stack), and the slots ever used */
  private spare: Int32Array;
  private nSpare = 0;
  private slotsUsed = 0;
  private readonly vm: Vm | null;
  private readonly heaps: UserHeaps | null;
  /**
   * page-cache blocks in allocation order (a FIFO ring: the oldest is reclaimed first; grown when a
   * streamed trace's count is not known), two Int32 an entry: the id and the block's page-cache
   * sequence number. With recycled ids (page-churn) an id freed and given to a new block leaves a
   * stale entry: pcSeq[id] names the block the id holds now (0: not a page-cache block), so reclaim
   * takes an entry only while its block is still the one that was pushed.
   */
  private pcRing: Int32Array | null;
  private pcSeq: Int32Array | null;
  private pcNext = 0;
  private pcHead = 0;
  private pcTail = 0;
  /** the loads of run()'s look-ahead end here, so the compiler keeps them */
  private touched = 0;
  /** events per op code (counted as they replay) */
  private readonly opCount = new Float64Array(OP_COUNT);

  private unknownFree = 0;
  private doubleFree = 0;
  private reallocUnknown = 0;
  private allocLive = 0;
  private failedPages = 0;
  private failedObjects = 0;
  private notModelled = 0;
  private extfrag = 0;
  private hoAttempts = 0;
  private hoSuccesses = 0;
  private reqLive = 0;
  private reqPeak = 0;
  private blockPages = 0;
  private userLive = 0;
  private userPeak = 0;
  private heldPeak = 0;
  private oomPages = 0;
  private droppedAfterExit = 0;
  private reclaimRuns = 0;
  private reclaimedPageCache = 0;
  private shrunk = 0;
  private phase = '';
  private readonly phases: Record<string, { attempts: number; successes: number }> = {};
  private phaseStats: { attempts: number; successes: number } | null = null;

  constructor(
    private readonly trace: Trace | TraceStream,
    private readonly machine: Machine,
    private readonly objects: ObjectStrategy,
    private readonly source: CountingPageSource,
    private readonly opts: ReplayOptions,
    kept: Scratch | null,
  ) {
    const ids = trace.idCount;
    // The events are counted per op as they replay (no pass over the trace before the replay); the
    // page-cache ring starts small and grows as page-cache blocks arrive.
    if (isTraceStream(trace)) {
      const s = trace;
      this.chunks = () => s.chunks();
    } else {
      const t = trace;
      this.chunks = () => traceChunks(t);
    }
    this.id = new Int32Array(0); this.lo = new Uint32Array(0); this.hi = new Uint16Array(0); this.aux = new Int32Array(0);
    // payloads and records are written before they are read (the state says when); clearing it all is one memset
    this.refAll = kept !== null && kept.ref.length >= ids ? kept.ref : new Int32Array(ids);
    this.ref = this.refAll.subarray(0, ids).fill(S_NONE);
    this.obj = kept !== null && kept.obj.length >= 2 * ids ? kept.obj : new Float64Array(2 * ids);
    // grown by doubling to the peak of live objects
    this.rec = kept?.rec ?? new Float64Array(REC_STRIDE * 1024);
    this.spare = kept?.spare ?? new Int32Array(1024);
    this.vm = opts.processes?.vm ?? null;
    this.heaps = opts.processes?.heaps ?? null;
    this.pcRing = opts.pageCacheReclaim ? new Int32Array(2 * 1024) : null;
    this.pcSeq = opts.pageCacheReclaim ? new Int32Array(ids) : null;
    this.compaction = (trace.stats?.compaction_isolations ?? 0) > 0 ? ModelCompaction.create(machine) : null;
    const pre = opts.preTrace;
    if (pre !== undefined) {
      this.blockPages = pre.pages;
      for (let k = 0; k < pre.ids.length; k++) this.ref[pre.ids[k]!] = alignedPageRef(pre.pfns[k]!, pre.orders[k]!);
    }
  }

  run(): void {
    const opts = this.opts;
    const machine = this.machine, source = this.source, objects = this.objects, vm = this.vm, heaps = this.heaps;
    const steps = machine.steps;
    // Simulated latency of an event = the priced steps it took: the change of the priced total
    // (machine/steps.ts: every step adds its price to it, in whole tenths of a ns).
    const weights = opts.latency?.weights ?? null;
    const recorder = opts.latency?.recorder ?? null;
    if (weights !== null) setPrices(steps, weights);
    let priced = steps[STEP_NS]!;
    const checkEvery = opts.checkEvery ?? 0;
    const sampleEvery = opts.onSample ? opts.sampleEvery ?? 0 : 0;
    // event counts at which the next sample / check is due (countdowns: no division per event),
    // counted from the current chunk's first event
    let nextSample = sampleEvery > 0 ? sampleEvery : -1;
    let nextCheck = checkEvery > 0 ? checkEvery : -1;
    const opCount = this.opCount;
    const cpuAll = opts.cpu?.of ?? null, cursor = opts.cpu?.cursor ?? null;
    const ref = this.ref, ids = ref.length;
    for (const c of this.chunks()) {
      const base = c.start, n = c.length, op = c.op, id = c.id;
      this.base = base; this.id = id; this.lo = c.lo; this.hi = c.hi; this.aux = c.aux;
      const cpuOf = cpuAll === null ? null : typeof cpuAll === 'function' ? cpuAll(c) : base === 0 && n === cpuAll.length ? cpuAll : cpuAll.subarray(base, base + n);
      nextSample -= base; nextCheck -= base;
      for (let e = 0; e < n; e++) {
        if ((e & (AHEAD - 1)) === 0) {
          // The references of the next AHEAD events, loaded back to back: their cache misses (a free
          // reaches back to an id allocated long before, at random) overlap one another, where each
          // event's own load would wait for its miss alone (a third of a buddy replay). The native
          // replayer gets the same overlap from the CPU running several of its short events at once.
          let touched = 0;
          for (let k = e + AHEAD, end = Math.min(n, k + AHEAD); k < end; k++) {
            const j = id[k]!;
            if (j >>> 0 < ids) touched |= ref[j]!;
          }
          this.touched = touched;
        }
        const o = op[e]!;
        opCount[o]!++;
        if (cpuOf !== null) cursor!.cpu = cpuOf[e]!;
        switch (o) {
          case OP_PAGE_ALLOC: this.pageAlloc(e); break;
          case OP_PAGE_FREE: this.pageFree(e); break;
          case OP_KMALLOC:
          case OP_CACHE_ALLOC:
          case OP_MALLOC: this.objectAlloc(e, o); break;
          case OP_KFREE:
          case OP_CACHE_FREE:
          case OP_FREE: this.objectFree(e); break;
          default: this.other(e, o);
        }
        if (vm !== null) {
          const held = source.pages + vm.heapRss;
          if (held > this.heldPeak) this.heldPeak = held;
        }
        if (recorder !== null) {
          const now = steps[STEP_NS]!;
          recorder.recordUnits(o, now - priced);
          priced = now;
        }
        if (e + 1 === nextSample) { nextSample += sampleEvery; opts.onSample!(base + e + 1, this.phase, this.reqLive); }
        if (e + 1 === nextCheck) { nextCheck += checkEvery; verify(machine, objects, source, this.blockPages, vm, heaps); }
      }
      nextSample += base; nextCheck += base;
    }
    if (checkEvery > 0) verify(machine, objects, source, this.blockPages, vm, heaps);
  }

  scratch(): Scratch {
    return { ref: this.refAll, obj: this.obj, rec: this.rec, spare: this.spare };
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
    const ring = this.pcRing!, ref = this.ref;
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

  /** A record slot for a new live object: a dead one's, else a fresh one. */
  private takeSlot(): number {
    if (this.nSpare > 0) return this.spare[--this.nSpare]!;
    const s = this.slotsUsed++;
    if (s === this.spare.length) {
      if (s >= MAX_SLOTS) throw new AllocbenchError(`the replay holds more than ${MAX_SLOTS} live objects at once`);
      const n = Math.min(Math.max(2 * s, 64), MAX_SLOTS);
      const rec = new Float64Array(REC_STRIDE * n);
      rec.set(this.rec);
      this.rec = rec;
      this.spare = new Int32Array(n); // empty now: every slot below s is in use
    }
    return s;
  }

  /** Does a live object of this kind have a record (an owner)? Cache objects, and user objects in process heaps. */
  private hasRecord(kind: number): boolean {
    return kind === K_CACHE || (kind === K_USER && this.heaps !== null);
  }

  /** Ends live object i's life (reference s): its record slot, if any, is reused. */
  private release(i: number, s: number): void {
    if (this.hasRecord((s - S_OBJECT) & 3)) this.spare[this.nSpare++] = (s - S_OBJECT) >>> 2;
    this.ref[i] = S_FREED;
  }

  private pageAlloc(e: number): void {
    const i = this.id[e]!;
    const s = this.ref[i]!;
    if (s < 0 || s >= S_OBJECT) { this.allocLive++; return; }
    const ord = this.lo[e]!;
    const gfp = this.aux[e]!;
    const target = isCompactionTarget(gfp);
    const pfn = target ? this.machine.allocCompactionTarget(ord, gfp) : this.machine.allocPages(ord, gfp);
    if (ord >= 1) {
      this.hoAttempts++;
      if (pfn >= 0) this.hoSuccesses++;
      const ps = this.phaseStats;
      if (ps !== null && ord >= PAGEBLOCK_ORDER) {
        ps.attempts++;
        if (pfn >= 0) ps.successes++;
      }
    }
    if (pfn < 0) { this.failedPages++; this.ref[i] = S_FAILED; return; }
    this.ref[i] = alignedPageRef(pfn, ord);
    this.blockPages += 1 << ord;
    if (this.compaction !== null) this.compaction.allocated(i, pfn, ord, gfp, target);
    if (this.pcRing !== null) {
      if (isPageCache(gfp)) {
        if (2 * this.pcTail === this.pcRing.length) this.growRing();
        const q = this.pcNext = this.pcNext === 0x7fffffff ? 1 : this.pcNext + 1;
        this.pcSeq![i] = q;
        this.pcRing[2 * this.pcTail] = i; this.pcRing[2 * this.pcTail + 1] = q;
        this.pcTail++;
      } else this.pcSeq![i] = 0;
    }
  }

  private pageFree(e: number): void {
    const i = this.id[e]!;
    const ref = this.ref, s = ref[i]!;
    if (s < 0) {
      const v = this.lo[e]!;
      if (v >= PAGE_PIECE) { this.pieceFree(e, i, v - PAGE_PIECE); return; }
      const ord = refOrder(s);
      let pfn = refPfn(s, ord);
      if (this.compaction !== null) pfn = this.compaction.sourceFree(i, pfn, ord, ref);
      this.machine.freePages(pfn, ord);
      if (this.compaction !== null) this.compaction.freed(pfn);
      this.blockPages -= 1 << ord;
      ref[i] = S_FREED;
    } else if (s === S_FAILED || s === S_RECLAIMED) {
      if (this.lo[e]! < PAGE_PIECE || this.aux[e]! < 0) ref[i] = S_FREED; // a block's last piece
    }
    else if (s === S_FREED) this.doubleFree++;
    else if (this.aux[e]! < 0) return; // a pcp-at-start candidate the start state did not make pre-trace memory (trace/kernel.ts pcpStartFree)
    else this.unknownFree++; // never allocated, or a live object
  }

  /**
   * One aligned piece of live block i freed (ops.ts PAGE_PIECE: aux its offset, ~offset on the last
   * piece); a strategy that cannot free part of a block (PageStrategy.freePart) gets it whole with
   * its last piece.
   */
  private pieceFree(e: number, i: number, ord: number): void {
    const a = this.aux[e]!, ref = this.ref, s = ref[i]!;
    const order = refOrder(s), pfn = refPfn(s, order);
    if (this.machine.freePart(pfn + (a >= 0 ? a : ~a), ord)) this.blockPages -= 1 << ord;
    else if (a < 0) { this.machine.freePages(pfn, order); this.blockPages -= 1 << order; }
    if (a < 0) ref[i] = S_FREED;
  }


  private objectAlloc(e: number, o: number): void {
    const i = this.id[e]!;
    const s = this.ref[i]!;
    if (s < 0 || s >= S_OBJECT) { this.allocLive++; return; }
    let addr: number;
    let bytes: number;
    let kind: number;
    let owner = 0, gen = 0;
    if (o === OP_CACHE_ALLOC) {
      const c = this.aux[e]!;
      bytes = this.trace.caches[c]!.size;
      addr = this.objects.cacheAlloc(c, GFP_KERNEL);
      kind = K_CACHE; owner = c;
    } else if (o === OP_KMALLOC) {
      bytes = this.lo[e]! + this.hi[e]! * 4294967296;
      addr = this.objects.alloc(bytes, this.aux[e]!);
      kind = K_KMALLOC;
    } else if (this.heaps !== null) {
      // malloc in the process's own heap; the program then writes what it got (demand faults)
      const heaps = this.heaps;
      bytes = this.lo[e]! + this.hi[e]! * 4294967296;
      const pid = this.aux[e]!;
      const h = heaps.heap(pid);
      addr = h === null ? -1 : h.alloc(bytes, GFP_USER);
      kind = K_USER; owner = pid;
      if (addr >= 0) {
        gen = heaps.gen[pid]!;
        this.oomPages += heaps.touch(pid, addr, bytes);
        this.userLive += bytes;
        if (this.userLive > this.userPeak) this.userPeak = this.userLive;
      }
    } else {
      // no processes: user heap events go straight to the object layer
      bytes = this.lo[e]! + this.hi[e]! * 4294967296;
      addr = this.objects.alloc(bytes, GFP_USER);
      kind = K_USER;
    }
    if (addr < 0) { this.failedObjects++; this.ref[i] = S_FAILED; return; }
    this.liveObject(i, kind, addr, bytes, owner, gen);
  }

  private liveObject(i: number, kind: number, addr: number, bytes: number, owner: number, gen: number): void {
    let slot = 0;
    if (this.hasRecord(kind)) {
      slot = this.takeSlot();
      this.rec[REC_STRIDE * slot] = owner; this.rec[REC_STRIDE * slot + 1] = gen;
    }
    this.ref[i] = S_OBJECT + ((slot << 2) | kind);
    this.obj[2 * i] = addr; this.obj[2 * i + 1] = bytes;
    this.reqLive += bytes;
    if (this.reqLive > this.reqPeak) this.reqPeak = this.reqLive;
  }

  private objectFree(e: number): void {
    const i = this.id[e]!;
    const s = this.ref[i]!;
    // loaded before the state is known (stale if the id is not a live object): the two loads miss together
    const addr = this.obj[2 * i]!, req = this.obj[2 * i + 1]!;
    if (s >= S_OBJECT) {
      const k = (s - S_OBJECT) & 3;
      const rec = this.rec, r = REC_STRIDE * ((s - S_OBJECT) >>> 2);
      if (k === K_CACHE) this.objects.cacheFree(rec[r]!, addr);
      else if (k === K_USER && this.heaps !== null) {
        const pid = rec[r]!;
        if (this.heaps.gen[pid] === rec[r + 1]!) this.heaps.heaps[pid]!.free(addr);
        else this.droppedAfterExit++; // its process exited: the memory went with it
        this.userLive -= req;
      } else this.objects.free(addr);
      this.reqLive -= req;
      this.release(i, s);
    } else if (s === S_FAILED) this.ref[i] = S_FREED;
    else if (s === S_FREED) this.doubleFree++;
    else this.unknownFree++; // never allocated, or a live page block
  }

  private realloc(e: number): void {
    const i = this.id[e]!;
    const bytes = this.lo[e]! + this.hi[e]! * 4294967296;
    const s = this.ref[i]!;
    if (s >= S_OBJECT) {
      const user = ((s - S_OBJECT) & 3) === K_USER;
      const rec = this.rec, r = REC_STRIDE * ((s - S_OBJECT) >>> 2);
      const old = this.obj[2 * i]!, req = this.obj[2 * i + 1]!;
      let addr: number;
      if (user && this.heaps !== null) {
        const heaps = this.heaps;
        const pid = rec[r]!;
        if (heaps.gen[pid] !== rec[r + 1]!) { this.droppedAfterExit++; return; }
        addr = heaps.heaps[pid]!.realloc(old, bytes, GFP_USER);
        if (addr < 0) { this.failedObjects++; return; }
        // the new block is written: the copied bytes (or the grown tail in place)
        this.oomPages += heaps.touch(pid, addr, bytes);
        this.userLive += bytes - req;
        if (this.userLive > this.userPeak) this.userPeak = this.userLive;
      } else {
        addr = this.objects.realloc(old, bytes, user ? GFP_USER : GFP_KERNEL);
      }
      if (addr < 0) { this.failedObjects++; return; } // the old block stays live, as realloc() leaves it
      this.obj[2 * i] = addr;
      this.obj[2 * i + 1] = bytes;
      this.reqLive += bytes - req;
      if (this.reqLive > this.reqPeak) this.reqPeak = this.reqLive;
    } else {
      // realloc of a pointer that is not live: counted, then served as a malloc (as realloc(NULL, n)
      // and the malloc-lab driver do), so the trace's later free of it is not a second error.
      // After a failed allocation the program holds NULL, and realloc(NULL, n) is no error at all.
      // With processes that malloc is the process's own (it used to go to the kernel object layer
      // and its later free to the user heap: the wrong allocator).
      if (s !== S_FAILED) this.reallocUnknown++;
      if (s < 0) return; // the id is a live page block: leave it be
      this.objectAlloc(e, OP_MALLOC);
    }
  }

  /** Everything but the page and object alloc/free events: marks, caches, processes. */
  private other(e: number, o: number): void {
    const i = this.id[e]!;
    const lo = this.lo, hi = this.hi, aux = this.aux, extra = this.trace.extra;
    const vm = this.vm;
    switch (o) {
      case OP_REALLOC:
        this.realloc(e);
        break;
      case OP_CACHE_CREATE:
        this.objects.createCache(i, this.trace.caches[i]!);
        break;
      case OP_MARK:
        this.phase = this.trace.strings[aux[e]!] ?? '';
        this.phaseStats = this.phases[this.phase] ??= { attempts: 0, successes: 0 };
        this.opts.onSample?.(this.base + e, this.phase, this.reqLive);
        break;
      case OP_EXTFRAG:
        this.extfrag++;
        break;
      case OP_TICK:
        this.machine.vmstatTick();
        break;
      case OP_MMAP:
        if (vm === null) { this.notModelled++; break; }
        vm.mmap(i, lo[e]! + hi[e]! * 4294967296, extra[aux[e]! * 2]!, extra[aux[e]! * 2 + 1]!);
        break;
      case OP_MUNMAP:
        if (vm === null) { this.notModelled++; break; }
        vm.munmap(i, lo[e]! + hi[e]! * 4294967296, extra[aux[e]! * 2]!);
        break;
      case OP_BRK:
        if (vm === null) { this.notModelled++; break; }
        vm.brk(i, lo[e]! + hi[e]! * 4294967296);
        break;
      case OP_FAULT:
        if (vm === null) { this.notModelled++; break; }
        vm.fault(i, lo[e]! + hi[e]! * 4294967296, aux[e]! !== 0);
        break;
      case OP_FORK:
        if (vm === null) { this.notModelled++; break; }
        vm.fork(i, aux[e]!);
        break;
      case OP_EXIT:
        if (vm === null) { this.notModelled++; break; }
        this.heaps?.drop(i);
        vm.exit(i);
        break;
      default:
        this.notModelled++;
    }
  }

  /**
   * Memory pressure (the machine's reclaim hook): shrink the object layers (empty slabs), then drop
   * the oldest page-cache-like blocks of a generated workload, as shrink_page_list() frees a batch of
   * SWAP_CLUSTER_MAX (32) pages, at least the request. A reclaimed block's later free is dropped.
   */
  reclaim(ord: number): number {
    this.reclaimRuns++;
    let freed = this.objects.shrink?.() ?? 0;
    this.shrunk += freed;
    if (this.heaps !== null) for (const h of this.heaps.heaps) if (h?.shrink) { const f = h.shrink(); freed += f; this.shrunk += f; }
    const want = Math.max(32, 1 << ord);
    let got = 0;
    const ring = this.pcRing;
    while (ring !== null && this.pcHead < this.pcTail && got < want) {
      const b = ring[2 * this.pcHead]!, q = ring[2 * this.pcHead + 1]!;
      this.pcHead++;
      const s = this.ref[b]!;
      if (s >= 0 || this.pcSeq![b] !== q) continue; // freed by the trace since (its id may hold another block now)
      const ord = refOrder(s), pages = 1 << ord;
      this.machine.freePages(refPfn(s, ord), ord);
      got += pages;
      this.blockPages -= pages;
      this.ref[b] = S_RECLAIMED;
    }
    this.reclaimedPageCache += got;
    return freed + got;
  }

  counts(): ReplayCounts {
    const ops: Record<string, number> = {};
    for (let k = 0; k < OP_COUNT; k++) if (this.opCount[k]! > 0) ops[OP_NAMES[k]!] = this.opCount[k]!;
    const traceErrors = this.unknownFree + this.doubleFree + this.reallocUnknown + this.allocLive;
    const vm = this.vm, heaps = this.heaps;
    return {
      events: this.trace.length,
      trace_errors: traceErrors,
      trace_error_kinds: { unknown_free: this.unknownFree, double_free: this.doubleFree, realloc_unknown: this.reallocUnknown, alloc_live_id: this.allocLive },
      failed_allocs: this.failedPages + this.failedObjects,
      failed_page_allocs: this.failedPages,
      failed_object_allocs: this.failedObjects,
      ops,
      events_not_modelled: this.notModelled,
      recorded_extfrag: this.extfrag,
      highorder: { attempts: this.hoAttempts, successes: this.hoSuccesses },
      phases: this.phases,
      bytes_requested_live: this.reqLive,
      peak_bytes_requested: this.reqPeak,
      peak_object_pages: this.source.peak,
      page_block_pages_live: this.blockPages,
      ...(vm !== null ? { peak_pages_held: this.heldPeak } : {}),
      ...(vm !== null && heaps !== null ? {
        user_heap: {
          heaps: heaps.created,
          bytes_requested_live: this.userLive,
          peak_bytes_requested: this.userPeak,
          footprint_bytes: heaps.footprint.bytes,
          peak_footprint_bytes: heaps.footprint.peak,
          resident_pages: vm.heapRss,
          oom_pages: this.oomPages,
          dropped_after_exit: this.droppedAfterExit,
        },
      } : {}),
      reclaim: { runs: this.reclaimRuns, page_cache_pages: this.reclaimedPageCache, shrunk_pages: this.shrunk },
    };
  }
}

/** A page_alloc the reclaim hook may drop: movable user memory (GFP_HIGHUSER_MOVABLE) that is not a compound (huge) page. */
function isPageCache(gfp: number): boolean {
  return (gfp & GFP_HIGHUSER_MOVABLE) === GFP_HIGHUSER_MOVABLE && (gfp & __GFP_COMP) === 0;
}

/** --check: every layer's own invariants, the object layer's page account, conservation of pages. */
function verify(machine: Machine, objects: ObjectStrategy, source: CountingPageSource, blockPages: number, vm: Vm | null = null, heaps: UserHeaps | null = null): void {
  machine.check();
  objects.check();
  const vmPages = vm === null ? 0 : vm.pagesHeld();
  if (vm !== null) vm.check();
  if (heaps !== null) heaps.check();
  const held = objects.usage().pagesHeld;
  if (held !== source.pages) {
    throw new InvariantError(`object layer reports ${held} pages held but took ${source.pages} from the page allocator`);
  }
  const free = machine.freePageCount() + machine.pcpPageCount(); // pages on per-CPU lists are free to the machine
  const managed = machine.managedPages();
  if (free + blockPages + source.pages + vmPages !== managed) {
    throw new InvariantError(`pages not conserved: free ${free} + page blocks ${blockPages} + object pages ${source.pages} + process pages ${vmPages} != managed ${managed}`);
  }
}

/**
 * The end-of-run high-order probe (Gorman's "at rest" test): allocate order-9 blocks as a huge-page
 * request would (GFP_HIGHUSER_MOVABLE | __GFP_COMP) until one fails, then free them all again.
 * `possible` is what free memory would allow above the watermarks if it were not fragmented.
 */
export function probeHighOrder(machine: Machine, order = PAGEBLOCK_ORDER): { allocated: number; possible: number; fraction: number } {
  const gfp = GFP_HIGHUSER_MOVABLE | __GFP_COMP;
  // At rest the per-CPU lists are given back first (drain_all_pages(), as the kernel does before it
  // gives up on a high-order request): counted from buddy free pages alone, `possible` missed the
  // pages on them, and the drain inside the first failing allocation then served more than possible
  // (probe fractions above 1 with per-CPU lists on).
  machine.drainPcp();
  const possible = machine.allocatableBlocks(order, gfp);
  const got: number[] = [];
  for (let k = 0; k <= possible; k++) {
    const pfn = machine.allocPages(order, gfp);
    if (pfn < 0) break;
    got.push(pfn);
  }
  for (const pfn of got) machine.freePages(pfn, order);
  return { allocated: got.length, possible, fraction: possible === 0 ? 0 : round6(got.length / possible) };
}
