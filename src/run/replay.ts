import { InvariantError } from '../errors.js';
import { GFP_KERNEL, GFP_USER, __GFP_COMP, GFP_HIGHUSER_MOVABLE } from '../machine/gfp.js';
import type { UserHeaps } from '../machine/process-heap.js';
import type { Vm } from '../machine/vm.js';
import type { Machine } from '../machine/machine.js';
import { STEP_COUNT } from '../machine/steps.js';
import type { ObjectStrategy, PageSource } from '../object/strategy.js';
import { PAGEBLOCK_ORDER } from '../page/strategy.js';
import {
  OP_BRK, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_COUNT, OP_EXIT, OP_EXTFRAG, OP_FAULT, OP_FORK, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_MARK, OP_MMAP, OP_MUNMAP, OP_NAMES, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_REALLOC,
} from '../trace/ops.js';
import type { Trace } from '../trace/trace.js';
import type { CostWeights } from '../machine/cost.js';
import type { LatencyRecorder } from '../metrics/latency.js';
import { round6 } from '../metrics/waste.js';

// Per-id state.
const S_NONE = 0; //   never allocated
const S_PAGES = 1; //  live page block
const S_OBJECT = 2; // live object
const S_FREED = 3; //  freed
const S_FAILED = 4; // its allocation failed (out of memory): a later free is silently dropped
const S_RECLAIMED = 5; // a page-cache block reclaimed under memory pressure: a later free is silently dropped

/** How the object was allocated, for the matching free. */
const K_KMALLOC = 0;
const K_CACHE = 1;
const K_USER = 2;

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
 * trace's dense ids and allocates nothing per event. Bad frees are counted, out-of-memory is a
 * counted failure; neither throws.
 */
export function replay(trace: Trace, machine: Machine, objects: ObjectStrategy, source: CountingPageSource, opts: ReplayOptions = {}): ReplayCounts {
  const n = trace.length;
  const { op, id, lo, hi, aux } = trace;
  const ids = trace.idCount;
  const state = new Uint8Array(ids);
  const where = new Float64Array(ids); // global pfn or object address
  const order = new Int8Array(ids);
  const kind = new Uint8Array(ids);
  const cacheOf = new Int32Array(ids);
  const req = new Float64Array(ids); // requested bytes of live objects
  const opCount = new Float64Array(OP_COUNT);
  const vm = opts.processes?.vm ?? null;
  const heaps = opts.processes?.heaps ?? null;
  const extra = trace.extra;
  // user objects: heap generation at allocation (cacheOf holds the pid)
  const objGen = heaps !== null ? new Int32Array(ids) : null;
  let userLive = 0, userPeak = 0, heldPeak = 0, oomPages = 0, droppedAfterExit = 0;
  // page-cache blocks in allocation order (a FIFO ring: the oldest is reclaimed first)
  let pcRing: Int32Array | null = null;
  if (opts.pageCacheReclaim) {
    let k = 0;
    for (let e = 0; e < n; e++) if (op[e] === OP_PAGE_ALLOC && isPageCache(aux[e]!)) k++;
    if (k > 0) pcRing = new Int32Array(k);
  }
  // The hook lives in its own object: a closure here would capture the loop's arrays and counters
  // and move them out of registers for every event.
  const reclaimer = new Reclaimer(machine, objects, heaps, state, where, order, pcRing);
  machine.reclaim = (ord: number): number => reclaimer.reclaim(ord);
  const steps = machine.steps;
  // Simulated latency of an event = the priced steps it took: the change of the weighted step sum.
  const weights = opts.latency?.weights ?? null;
  const recorder = opts.latency?.recorder ?? null;
  let priced = weights === null ? 0 : dot(steps, weights);

  let unknownFree = 0, doubleFree = 0, reallocUnknown = 0, allocLive = 0;
  let failedPages = 0, failedObjects = 0, notModelled = 0, extfrag = 0;
  let hoAttempts = 0, hoSuccesses = 0;
  let reqLive = 0, reqPeak = 0, blockPages = 0;
  let phase = '';
  const phases: Record<string, { attempts: number; successes: number }> = {};
  let phaseStats: { attempts: number; successes: number } | null = null;
  const checkEvery = opts.checkEvery ?? 0;
  const sampleEvery = opts.sampleEvery ?? 0;
  const onSample = opts.onSample;
  const sizes = trace.caches;

  for (let e = 0; e < n; e++) {
    const o = op[e]!;
    const i = id[e]!;
    opCount[o]!++;
    switch (o) {
      case OP_PAGE_ALLOC: {
        if (state[i] === S_PAGES || state[i] === S_OBJECT) { allocLive++; break; }
        const ord = lo[e]!;
        const pfn = machine.allocPages(ord, aux[e]!);
        if (ord >= 1) {
          hoAttempts++;
          if (pfn >= 0) hoSuccesses++;
          if (phaseStats !== null && ord >= PAGEBLOCK_ORDER) {
            phaseStats.attempts++;
            if (pfn >= 0) phaseStats.successes++;
          }
        }
        if (pfn < 0) { failedPages++; state[i] = S_FAILED; break; }
        state[i] = S_PAGES; where[i] = pfn; order[i] = ord;
        blockPages += 1 << ord;
        if (pcRing !== null && isPageCache(aux[e]!)) reclaimer.push(i);
        break;
      }
      case OP_PAGE_FREE: {
        const s = state[i];
        if (s === S_PAGES) {
          machine.freePages(where[i]!, order[i]!);
          blockPages -= 1 << order[i]!;
          state[i] = S_FREED;
        } else if (s === S_FAILED || s === S_RECLAIMED) state[i] = S_FREED;
        else if (s === S_FREED) doubleFree++;
        else unknownFree++;
        break;
      }
      case OP_KMALLOC:
      case OP_CACHE_ALLOC:
      case OP_MALLOC: {
        if (state[i] === S_PAGES || state[i] === S_OBJECT) { allocLive++; break; }
        let addr: number;
        let bytes: number;
        if (o === OP_CACHE_ALLOC) {
          const c = aux[e]!;
          bytes = sizes[c]!.size;
          addr = objects.cacheAlloc(c, GFP_KERNEL);
          kind[i] = K_CACHE; cacheOf[i] = c;
        } else if (o === OP_KMALLOC) {
          bytes = lo[e]! + hi[e]! * 4294967296;
          addr = objects.alloc(bytes, aux[e]!);
          kind[i] = K_KMALLOC;
        } else if (heaps !== null) {
          // malloc in the process's own heap; the program then writes what it got (demand faults)
          bytes = lo[e]! + hi[e]! * 4294967296;
          const pid = aux[e]!;
          const h = heaps.heap(pid);
          addr = h === null ? -1 : h.alloc(bytes, GFP_USER);
          kind[i] = K_USER; cacheOf[i] = pid;
          if (addr >= 0) {
            objGen![i] = heaps.gen[pid]!;
            oomPages += heaps.touch(pid, addr, bytes);
            userLive += bytes;
            if (userLive > userPeak) userPeak = userLive;
          }
        } else {
          // no processes: user heap events go straight to the object layer
          bytes = lo[e]! + hi[e]! * 4294967296;
          addr = objects.alloc(bytes, GFP_USER);
          kind[i] = K_USER;
        }
        if (addr < 0) { failedObjects++; state[i] = S_FAILED; break; }
        state[i] = S_OBJECT; where[i] = addr; req[i] = bytes;
        reqLive += bytes;
        if (reqLive > reqPeak) reqPeak = reqLive;
        break;
      }
      case OP_KFREE:
      case OP_CACHE_FREE:
      case OP_FREE: {
        const s = state[i];
        if (s === S_OBJECT) {
          if (kind[i] === K_CACHE) objects.cacheFree(cacheOf[i]!, where[i]!);
          else if (kind[i] === K_USER && heaps !== null) {
            const pid = cacheOf[i]!;
            if (heaps.gen[pid] === objGen![i]) heaps.heaps[pid]!.free(where[i]!);
            else droppedAfterExit++; // its process exited: the memory went with it
            userLive -= req[i]!;
          } else objects.free(where[i]!);
          reqLive -= req[i]!;
          state[i] = S_FREED;
        } else if (s === S_FAILED) state[i] = S_FREED;
        else if (s === S_FREED) doubleFree++;
        else unknownFree++;
        break;
      }
      case OP_REALLOC: {
        const bytes = lo[e]! + hi[e]! * 4294967296;
        const s = state[i];
        if (s === S_OBJECT) {
          let addr: number;
          if (kind[i] === K_USER && heaps !== null) {
            const pid = cacheOf[i]!;
            if (heaps.gen[pid] !== objGen![i]) { droppedAfterExit++; break; }
            addr = heaps.heaps[pid]!.realloc(where[i]!, bytes, GFP_USER);
            if (addr < 0) { failedObjects++; break; }
            // the new block is written: the copied bytes (or the grown tail in place)
            oomPages += heaps.touch(pid, addr, bytes);
            userLive += bytes - req[i]!;
            if (userLive > userPeak) userPeak = userLive;
          } else {
            addr = objects.realloc(where[i]!, bytes, kind[i] === K_USER ? GFP_USER : GFP_KERNEL);
          }
          if (addr < 0) { failedObjects++; break; } // the old block stays live, as realloc() leaves it
          where[i] = addr;
          reqLive += bytes - req[i]!;
          req[i] = bytes;
          if (reqLive > reqPeak) reqPeak = reqLive;
        } else {
          // realloc of a pointer that is not live: counted, then served as a malloc (as realloc(NULL, n)
          // and the malloc-lab driver do), so the trace's later free of it is not a second error.
          // After a failed allocation the program holds NULL, and realloc(NULL, n) is no error at all.
          if (s !== S_FAILED) reallocUnknown++;
          const addr = objects.alloc(bytes, GFP_USER);
          kind[i] = K_USER;
          if (addr < 0) { failedObjects++; state[i] = S_FAILED; break; }
          state[i] = S_OBJECT; where[i] = addr; req[i] = bytes;
          reqLive += bytes;
          if (reqLive > reqPeak) reqPeak = reqLive;
        }
        break;
      }
      case OP_CACHE_CREATE:
        objects.createCache(i, sizes[i]!);
        break;
      case OP_MARK:
        phase = trace.strings[aux[e]!] ?? '';
        phaseStats = phases[phase] ??= { attempts: 0, successes: 0 };
        if (onSample) onSample(e, phase, reqLive);
        break;
      case OP_EXTFRAG:
        extfrag++;
        break;
      case OP_MMAP:
        if (vm === null) { notModelled++; break; }
        vm.mmap(i, lo[e]! + hi[e]! * 4294967296, extra[aux[e]! * 2]!, extra[aux[e]! * 2 + 1]!);
        break;
      case OP_MUNMAP:
        if (vm === null) { notModelled++; break; }
        vm.munmap(i, lo[e]! + hi[e]! * 4294967296, extra[aux[e]! * 2]!);
        break;
      case OP_BRK:
        if (vm === null) { notModelled++; break; }
        vm.brk(i, lo[e]! + hi[e]! * 4294967296);
        break;
      case OP_FAULT:
        if (vm === null) { notModelled++; break; }
        vm.fault(i, lo[e]! + hi[e]! * 4294967296, aux[e]! !== 0);
        break;
      case OP_FORK:
        if (vm === null) { notModelled++; break; }
        vm.fork(i, aux[e]!);
        break;
      case OP_EXIT:
        if (vm === null) { notModelled++; break; }
        heaps?.drop(i);
        vm.exit(i);
        break;
      default:
        notModelled++;
    }
    if (reclaimer.freedBlockPages !== 0) { blockPages -= reclaimer.freedBlockPages; reclaimer.freedBlockPages = 0; }
    if (vm !== null) {
      const held = source.pages + vm.heapRss;
      if (held > heldPeak) heldPeak = held;
    }
    if (weights !== null) {
      const now = dot(steps, weights);
      recorder!.record(o, now - priced);
      priced = now;
    }
    if (sampleEvery > 0 && onSample && (e + 1) % sampleEvery === 0) onSample(e + 1, phase, reqLive);
    if (checkEvery > 0 && (e + 1) % checkEvery === 0) verify(machine, objects, source, blockPages, vm, heaps);
  }
  if (checkEvery > 0) verify(machine, objects, source, blockPages, vm, heaps);
  // the hook sees this replay's state; the end-of-run probe must not reclaim
  machine.reclaim = null;

  const ops: Record<string, number> = {};
  for (let k = 0; k < OP_COUNT; k++) if (opCount[k]! > 0) ops[OP_NAMES[k]!] = opCount[k]!;
  const traceErrors = unknownFree + doubleFree + reallocUnknown + allocLive;
  return {
    events: n,
    trace_errors: traceErrors,
    trace_error_kinds: { unknown_free: unknownFree, double_free: doubleFree, realloc_unknown: reallocUnknown, alloc_live_id: allocLive },
    failed_allocs: failedPages + failedObjects,
    failed_page_allocs: failedPages,
    failed_object_allocs: failedObjects,
    ops,
    events_not_modelled: notModelled,
    recorded_extfrag: extfrag,
    highorder: { attempts: hoAttempts, successes: hoSuccesses },
    phases,
    bytes_requested_live: reqLive,
    peak_bytes_requested: reqPeak,
    peak_object_pages: source.peak,
    page_block_pages_live: blockPages,
    ...(vm !== null ? { peak_pages_held: heldPeak } : {}),
    ...(vm !== null && heaps !== null ? {
      user_heap: {
        heaps: heaps.created,
        bytes_requested_live: userLive,
        peak_bytes_requested: userPeak,
        footprint_bytes: heaps.footprint.bytes,
        peak_footprint_bytes: heaps.footprint.peak,
        resident_pages: vm.heapRss,
        oom_pages: oomPages,
        dropped_after_exit: droppedAfterExit,
      },
    } : {}),
    reclaim: { runs: reclaimer.runs, page_cache_pages: reclaimer.pageCachePages, shrunk_pages: reclaimer.shrunk },
  };
}

/** A page_alloc the reclaim hook may drop: movable user memory (GFP_HIGHUSER_MOVABLE) that is not a compound (huge) page. */
/**
 * Memory pressure (the machine's reclaim hook): shrink the object layers (empty slabs), then drop
 * the oldest page-cache-like blocks of a generated workload, as shrink_page_list() frees a batch of
 * SWAP_CLUSTER_MAX (32) pages, at least the request. A reclaimed block's later free is dropped.
 */
class Reclaimer {
  private head = 0;
  private tail = 0;
  runs = 0;
  pageCachePages = 0;
  shrunk = 0;
  /** page-block pages freed since the replay last looked */
  freedBlockPages = 0;

  constructor(
    private readonly machine: Machine,
    private readonly objects: ObjectStrategy,
    private readonly heaps: UserHeaps | null,
    private readonly state: Uint8Array,
    private readonly where: Float64Array,
    private readonly order: Int8Array,
    private readonly ring: Int32Array | null,
  ) {}

  push(id: number): void {
    this.ring![this.tail++] = id;
  }

  reclaim(ord: number): number {
    this.runs++;
    let freed = this.objects.shrink?.() ?? 0;
    this.shrunk += freed;
    if (this.heaps !== null) for (const h of this.heaps.heaps) if (h?.shrink) { const f = h.shrink(); freed += f; this.shrunk += f; }
    const want = Math.max(32, 1 << ord);
    let got = 0;
    const ring = this.ring;
    while (ring !== null && this.head < this.tail && got < want) {
      const b = ring[this.head++]!;
      if (this.state[b] !== S_PAGES) continue; // freed by the trace since
      this.machine.freePages(this.where[b]!, this.order[b]!);
      got += 1 << this.order[b]!;
      this.freedBlockPages += 1 << this.order[b]!;
      this.state[b] = S_RECLAIMED;
    }
    this.pageCachePages += got;
    return freed + got;
  }
}

function isPageCache(gfp: number): boolean {
  return (gfp & GFP_HIGHUSER_MOVABLE) === GFP_HIGHUSER_MOVABLE && (gfp & __GFP_COMP) === 0;
}

/** The priced step total. Written out: it runs once per event, and the loop form was measurably slower. */
function dot(s: Float64Array, w: Float64Array): number {
  return s[0]! * w[0]! + s[1]! * w[1]! + s[2]! * w[2]! + s[3]! * w[3]! + s[4]! * w[4]! + s[5]! * w[5]! + s[6]! * w[6]!
    + s[7]! * w[7]! + s[8]! * w[8]! + s[9]! * w[9]! + s[10]! * w[10]! + s[11]! * w[11]! + s[12]! * w[12]! + s[13]! * w[13]!;
}
if (STEP_COUNT !== 14) throw new Error('replay.ts dot() prices 14 step kinds: update it with steps.ts');

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
  const free = machine.freePageCount();
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
