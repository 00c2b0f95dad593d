import { InvariantError } from '../errors.js';
import { GFP_HIGHUSER_MOVABLE, __GFP_COMP } from '../machine/gfp.js';
import type { UserHeaps } from '../object/process-heap.js';
import type { Vm } from '../machine/vm.js';
import type { Machine } from '../machine/machine.js';
import * as stepsModule from '../machine/steps.js';
import type { ObjectStrategy } from '../object/strategy.js';
import type { CpuCursor } from '../machine/cpu-cursor.js';
import type { PageSource } from '../machine/page-source.js';
import { PAGEBLOCK_ORDER } from '../page/strategy.js';
import * as opsModule from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import { isTraceStream, traceChunks, type EventChunk, type TraceStream } from '../trace/stream.js';
import type { CostWeights } from '../machine/cost.js';
import type { LatencyRecorder } from '../metrics/latency.js';
import { round6 } from '../metrics/waste.js';
import * as latencyModule from '../metrics/latency.js';
import { ObjectEvents } from './object-events.js';
import { PageEvents } from './page-events.js';
import { ProcessEvents } from './process-events.js';
import { ReplayIds } from './replay-ids.js';
import { idSlots } from '../trace/id-slots.js';

// Constants and helpers of other modules as constants of this one (issue 17; see page/buddy.ts):
// optimized code loads an imported binding through its module's cell and checks it for the
// temporal dead zone at every use, where a const of this module costs at most one load.
const {
  OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_COUNT, OP_EXTFRAG, OP_PCP_DRAIN, OP_RECLAIM_BEGIN, OP_RECLAIM_END, OP_TICK, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_MARK, OP_NAMES, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_REALLOC,
} = opsModule;
const { setPrices, takePriced } = stepsModule;
/** steps.ts' priced total and latency.ts' direct range, as this module's constants */
const NS = stepsModule.STEP_NS, DIRECT = latencyModule.LATENCY_DIRECT;

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

/** Events per call of Replay.slice() (the loop): a few milliseconds of replay. */
const SLICE = 1 << 16;

/**
 * One replay: the loop that dispatches each event to its family (page-events.ts, object-events.ts,
 * process-events.ts, which share the per-id state of replay-ids.ts), prices and samples it, and the
 * events no family owns (marks, caches, recorded extfrag, ticks). Each family's handlers are
 * optimized on their own, so a rarely seen event kind does not deoptimize (or crowd the registers
 * of) the whole loop.
 */
class Replay {
  private readonly ids: ReplayIds;
  private readonly pages: PageEvents;
  private readonly objs: ObjectEvents;
  private readonly procs: ProcessEvents;
  /** the trace's events, chunk by chunk (an in-memory trace is one chunk) */
  private readonly chunks: () => Iterable<EventChunk>;
  private readonly vm: Vm | null;
  private readonly heaps: UserHeaps | null;
  /** events per op code (counted as they replay) */
  private readonly opCount = new Float64Array(OP_COUNT);
  private extfrag = 0;
  /** with processes: peak of object-layer pages + user-heap resident pages */
  private heldPeak = 0;
  private reclaimRuns = 0;
  private shrunk = 0;
  /** chunk-relative event counts at which the next sample and the next check are due (-1: none) */
  private nextSample = -1;
  private nextCheck = -1;
  private phase = '';
  private readonly phases: Record<string, { attempts: number; successes: number }> = {};

  constructor(
    private readonly trace: Trace | TraceStream,
    private readonly machine: Machine,
    private readonly objects: ObjectStrategy,
    private readonly source: CountingPageSource,
    private readonly opts: ReplayOptions,
    kept: Scratch | null,
  ) {
    // The events are counted per op as they replay; the one pass over a whole trace before its first
    // replay is its id slots', made once per trace (id-slots.ts).
    let idCount = trace.idCount;
    if (isTraceStream(trace)) {
      const s = trace;
      this.chunks = () => s.chunks();
    } else if (opts.preTrace === undefined && (trace.stats?.compaction_isolations ?? 0) === 0) {
      // ids recycled (id-slots.ts): per-id arrays as long as the peak live set. Not for a recording's
      // start state (its pre-trace block ids) or recorded compaction (run/compaction-replay.ts keeps ids).
      const t = trace, slots = idSlots(t);
      idCount = slots.count;
      this.chunks = () => [{ ...traceChunks(t).next().value!, id: slots.id }];
    } else {
      const t = trace;
      this.chunks = () => traceChunks(t);
    }
    this.vm = opts.processes?.vm ?? null;
    this.heaps = opts.processes?.heaps ?? null;
    this.ids = new ReplayIds(idCount, kept);
    this.pages = new PageEvents(this.ids, machine, trace, opts.pageCacheReclaim ?? false, opts.preTrace);
    this.objs = new ObjectEvents(this.ids, objects, trace.caches, this.heaps, kept);
    this.procs = new ProcessEvents(this.ids, this.vm, this.heaps, trace.extra);
  }

  run(): void {
    const opts = this.opts, steps = this.machine.steps;
    // Simulated latency of an event = the priced steps it took (machine/steps.ts: every step adds
    // its price to the priced total, in whole tenths of a ns). With a recorder the total is taken and
    // set to 0 here and after each event (takePriced(), slice()), so what an event leaves there is
    // its own price: the same whole number as the change of a running total, without a running
    // total carried from event to event (past 2^30 the loop kept it as a heap number, allocated
    // anew at every event). Nothing else reads the total.
    const weights = opts.latency?.weights ?? null;
    if (weights !== null) setPrices(steps, weights);
    if (opts.latency !== undefined) takePriced(steps);
    const checkEvery = opts.checkEvery ?? 0;
    const sampleEvery = opts.onSample ? opts.sampleEvery ?? 0 : 0;
    // event counts at which the next sample / check is due (countdowns: no division per event),
    // counted from the current chunk's first event
    this.nextSample = sampleEvery > 0 ? sampleEvery : -1;
    this.nextCheck = checkEvery > 0 ? checkEvery : -1;
    const cpuAll = opts.cpu?.of ?? null;
    for (const c of this.chunks()) {
      const base = c.start, n = c.length;
      this.ids.setChunk(c);
      const cpuOf = cpuAll === null ? null : typeof cpuAll === 'function' ? cpuAll(c) : base === 0 && n === cpuAll.length ? cpuAll : cpuAll.subarray(base, base + n);
      this.nextSample -= base; this.nextCheck -= base;
      for (let from = 0; from < n; from += SLICE) this.slice(c, from, Math.min(n, from + SLICE), cpuOf);
      this.nextSample += base; this.nextCheck += base;
    }
    if (checkEvery > 0) verify(this.machine, this.objects, this.source, this.pages.blockPages, this.vm, this.heaps);
  }

  /**
   * Events [from, to) of chunk c: the loop of the replay. A replay calls it once every SLICE events
   * rather than running every event of the trace in one call, so V8 optimizes it as a function (on
   * its entry), not only by on-stack replacement of a loop it is already in: a worker's next cell
   * (the next call of run()) then starts in the optimized loop, where it used to start the loop
   * unoptimized again until the next on-stack replacement, and a deoptimization (a call site that
   * meets the next cell's closure, feedback the first cell did not give) costs the rest of one
   * slice instead of the rest of the cell.
   */
  private slice(c: EventChunk, from: number, to: number, cpuOf: Int32Array | null): void {
    const opts = this.opts;
    const machine = this.machine, source = this.source, objects = this.objects, vm = this.vm, heaps = this.heaps;
    const pages = this.pages, objs = this.objs;
    const steps = machine.steps;
    const recorder = opts.latency?.recorder ?? null;
    // LatencyRecorder.recordUnits(o, takePriced(steps)) written out below: V8 inlines the replay's
    // event path into this loop under a budget of bytecode per optimized function, and the two
    // small helpers took budget the page and object paths need (issue 17: an event's latency cost
    // bitmap 52 of its 570 instructions an event through them)
    const direct = recorder !== null ? recorder.direct : null;
    const checkEvery = opts.checkEvery ?? 0;
    const sampleEvery = opts.onSample ? opts.sampleEvery ?? 0 : 0;
    let nextSample = this.nextSample, nextCheck = this.nextCheck;
    // one test per event for both: the first of them due (negative: neither)
    let due = firstDue(nextSample, nextCheck);
    const opCount = this.opCount;
    const cursor = opts.cpu?.cursor ?? null;
    const base = c.start, op = c.op;
    for (let e = from; e < to; e++) {
      const o = op[e]!;
      opCount[o]!++;
      if (cpuOf !== null) cursor!.cpu = cpuOf[e]!;
      switch (o) {
        case OP_PAGE_ALLOC: pages.alloc(e); break;
        case OP_PAGE_FREE: pages.free(e); break;
        case OP_KMALLOC:
        case OP_CACHE_ALLOC:
        case OP_MALLOC: objs.alloc(e, o); break;
        case OP_KFREE:
        case OP_CACHE_FREE:
        case OP_FREE: objs.free(e); break;
        default: this.other(e, o);
      }
      if (vm !== null) {
        const held = source.pages + vm.heapRss;
        if (held > this.heldPeak) this.heldPeak = held;
      }
      if (direct !== null) {
        const v = steps[NS]!;
        steps[NS] = 0;
        // v | 0: the index as an int32 (a whole number below DIRECT here)
        if (v < DIRECT) direct[o * DIRECT + (v | 0)]!++;
        else recorder!.recordWide(o, v);
      }
      if (e + 1 === due) {
        if (e + 1 === nextSample) { nextSample += sampleEvery; opts.onSample!(base + e + 1, this.phase, objs.reqLive); }
        if (e + 1 === nextCheck) { nextCheck += checkEvery; verify(machine, objects, source, pages.blockPages, vm, heaps); }
        due = firstDue(nextSample, nextCheck);
      }
    }
    this.nextSample = nextSample; this.nextCheck = nextCheck;
  }

  scratch(): Scratch {
    return { ref: this.ids.refAll, obj: this.ids.obj, rec: this.objs.rec, spare: this.objs.spare };
  }

  /** Everything but the page and object alloc/free events: realloc, caches, marks, recorded extfrag, ticks, processes. */
  private other(e: number, o: number): void {
    const ids = this.ids;
    switch (o) {
      case OP_REALLOC:
        this.objs.realloc(e);
        break;
      case OP_CACHE_CREATE: {
        const i = ids.id[e]!;
        this.objects.createCache(i, this.trace.caches[i]!);
        break;
      }
      case OP_MARK:
        this.phase = this.trace.strings[ids.aux[e]!] ?? '';
        this.pages.phaseStats = this.phases[this.phase] ??= { attempts: 0, successes: 0 };
        this.opts.onSample?.(ids.base + e, this.phase, this.objs.reqLive);
        break;
      case OP_EXTFRAG:
        this.extfrag++;
        break;
      case OP_TICK:
        this.machine.vmstatTick();
        break;
      case OP_RECLAIM_BEGIN:
        this.machine.setReclaimActive(ids.aux[e]!, true);
        break;
      case OP_RECLAIM_END:
        this.machine.setReclaimActive(-1, false);
        break;
      case OP_PCP_DRAIN:
        this.machine.drainZonePcp(ids.aux[e]!);
        break;
      default:
        this.procs.event(e, o);
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
    return freed + this.pages.reclaimPageCache(Math.max(32, 1 << ord));
  }

  counts(): ReplayCounts {
    const ops: Record<string, number> = {};
    for (let k = 0; k < OP_COUNT; k++) if (this.opCount[k]! > 0) ops[OP_NAMES[k]!] = this.opCount[k]!;
    const ids = this.ids, pages = this.pages, objs = this.objs;
    const vm = this.vm, heaps = this.heaps;
    return {
      events: this.trace.length,
      trace_errors: ids.traceErrors(),
      trace_error_kinds: { unknown_free: ids.unknownFree, double_free: ids.doubleFree, realloc_unknown: ids.reallocUnknown, alloc_live_id: ids.allocLive },
      failed_allocs: pages.failed + objs.failed,
      failed_page_allocs: pages.failed,
      failed_object_allocs: objs.failed,
      ops,
      events_not_modelled: this.procs.notModelled,
      recorded_extfrag: this.extfrag,
      highorder: { attempts: pages.hoAttempts, successes: pages.hoSuccesses },
      phases: this.phases,
      bytes_requested_live: objs.reqLive,
      peak_bytes_requested: objs.reqPeak,
      peak_object_pages: this.source.peak,
      page_block_pages_live: pages.blockPages,
      ...(vm !== null ? { peak_pages_held: this.heldPeak } : {}),
      ...(vm !== null && heaps !== null ? {
        user_heap: {
          heaps: heaps.created,
          bytes_requested_live: objs.userLive,
          peak_bytes_requested: objs.userPeak,
          footprint_bytes: heaps.footprint.bytes,
          peak_footprint_bytes: heaps.footprint.peak,
          resident_pages: vm.heapRss,
          oom_pages: objs.oomPages,
          dropped_after_exit: objs.droppedAfterExit,
        },
      } : {}),
      reclaim: { runs: this.reclaimRuns, page_cache_pages: pages.reclaimed, shrunk_pages: this.shrunk },
    };
  }
}

/** The earlier of two event counts at which something is due, a negative one meaning never. */
function firstDue(a: number, b: number): number {
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
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
