import { performance } from 'node:perf_hooks';
import { AllocbenchError, InvariantError } from '../errors.js';
import { Machine } from '../machine/machine.js';
import { keepArrays, releaseKept } from '../machine/kept-arrays.js';
import type { MachineConfig } from '../machine/memory-map.js';
import { STEP_NAMES } from '../machine/steps.js';
import { zoneFragMetrics } from '../metrics/fragmentation.js';
import { round6, wasteMetrics } from '../metrics/waste.js';
import { LatencyRecorder } from '../metrics/latency.js';
import { TimeSeries } from '../metrics/timeseries.js';
import { loadCostTable, type CostWeights } from '../machine/cost.js';
import { objectStrategyFactory } from '../object/registry.js';
import type { ObjectStrategy } from '../object/strategy.js';
import { pageStrategyFactory } from '../page/registry.js';
import { opCounts, type Trace } from '../trace/trace.js';
import { isTraceStream, type TraceInfo, type TraceStream } from '../trace/stream.js';
import { attributionMetrics, layersOf, preTraceFrees } from '../trace/attribution.js';
import { startObjectLayer } from '../object/slab-start.js';
import { startMachine, type StartInput } from '../machine/start-state.js';
import * as O from '../trace/ops.js';
import { Vm } from '../machine/vm.js';
import { sizeClassHeapPages, UserHeaps } from '../object/process-heap.js';
import { threadMetrics } from '../metrics/threads.js';
import type { CpuCursor } from '../machine/cpu-cursor.js';
import { chunkCpus, eventCpus } from './event-cpu.js';
import { PAGE_SIZE } from '../page/strategy.js';
import { objectPageSource, probeHighOrder, replay, type ReplayCounts } from './replay.js';

/** One point of the run matrix. */
export interface CellSpec {
  trace: string;
  machine: string;
  page: string;
  object: string;
  seed: number;
}

/** One line of results.jsonl (schema/result-line.schema.json). Everything outside `wall` is deterministic. */
export interface CellResult {
  cell: CellSpec;
  status: 'ok' | 'failed';
  error?: string;
  events: number;
  trace_errors: number;
  failed_allocs: number;
  metrics: Record<string, unknown>;
  wall: { events_per_sec: number; replay_ms: number; setup_ms: number };
}

export interface CellOptions {
  check?: boolean;
  /** sees the machine and object layer at the end of the replay, before the high-order probe (fraginfo, slabinfo) */
  inspect?: (machine: Machine, objects: ObjectStrategy) => void;
  /** sees the machine before the first event (diagnostics: run/take-divergence.ts) */
  onStart?: (machine: Machine) => void;
  /**
   * time-series samples per cell besides the one at every mark (default 100). A sample decomposes
   * every zone's free state, which for the bitmap strategies is a scan of the whole bitmap.
   */
  samples?: number;
  /** sample every N events instead (0: only at marks); overrides `samples` */
  sampleEvery?: number;
  /** start from a recorded before-state instead of an empty machine (machine/start-state.ts) */
  start?: StartInput;
  /**
   * with `start`: also replay the cell from an empty machine for metrics.start_empty (default true).
   * false leaves it out: the pool runs that second replay as a task of its own (startEmptyMetrics)
   * on another worker and puts it in with withStartEmpty().
   */
  startEmpty?: boolean;
}

let weights: CostWeights | null = null;
/** The default cost table, read once per thread. */
function costWeights(): CostWeights {
  return (weights ??= loadCostTable());
}

type ZoneResult = { managed_pages?: number; unusable_index?: number[]; extfrag_index?: number[] };

/** The zone with the most managed pages speaks for the machine (summary.csv, the report, compare). */
export function mainZoneName(r: CellResult): string | undefined {
  const zones = r.metrics.zones as Record<string, ZoneResult> | undefined;
  if (!zones) return undefined;
  let best: string | undefined;
  for (const [n, z] of Object.entries(zones)) if (best === undefined || (z.managed_pages ?? 0) > (zones[best]!.managed_pages ?? 0)) best = n;
  return best;
}

export function mainZone(r: CellResult): ZoneResult | undefined {
  const name = mainZoneName(r);
  return name === undefined ? undefined : (r.metrics.zones as Record<string, ZoneResult>)[name];
}

export function cellKey(c: CellSpec): string {
  return `${c.trace}|${c.machine}|${c.page}|${c.object}|${c.seed}`;
}

/** A failed cell: the error is recorded in the result, never thrown past the runner. */
export function failedCell(cell: CellSpec, err: unknown): CellResult {
  const msg = err instanceof AllocbenchError || err instanceof InvariantError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { cell, status: 'failed', error: msg, events: 0, trace_errors: 0, failed_allocs: 0, metrics: {}, wall: { events_per_sec: 0, replay_ms: 0, setup_ms: 0 } };
}

/**
 * Boots a machine with the cell's strategies, replays the trace, and measures the end state.
 * Throws only on bugs (InvariantError under --check, or a strategy error); the runner turns those
 * into a failed cell.
 */
export function runCell(cell: CellSpec, trace: Trace | TraceStream, machineConfig: MachineConfig, opts: CellOptions = {}): CellResult {
  const t0 = performance.now();
  keepArrays();
  const started = opts.start === undefined ? undefined : startMachine(machineConfig, pageStrategyFactory(cell.page), preTraceFrees(whole(trace)), opts.start);
  const machine = started?.machine ?? new Machine(machineConfig, pageStrategyFactory(cell.page));
  opts.onStart?.(machine);
  const source = objectPageSource(machine);
  // the CPU of each event (kernel traces' CPU column, user traces' threads): SLUB's per-CPU slabs
  const cpuOf = isTraceStream(trace) ? chunkCpus(trace, machine.cpus) : eventCpus(trace, machine.cpus);
  const cpuCursor = machine.cpuCursor; // the page layer's per-CPU lists read it too
  const objects = objectStrategyFactory(cell.object)({ pages: source, steps: machine.steps, cpus: machine.cpus, cpuCursor });
  // the object layer's start (object/slab-start.ts): pre-trace slabs move from pre-trace memory to the object layer
  const slabStart = started === undefined || opts.start?.slabObjects === undefined || opts.start.kpage === undefined || layersOf(whole(trace)) === 'pages'
    ? undefined : startObjectLayer(objects, opts.start.slabObjects, opts.start.kpage, whole(trace));
  if (slabStart !== undefined) {
    started!.preTrace.pages -= slabStart.pages;
    source.pages += slabStart.pages;
    started!.stats.slab_start_pages = slabStart.pages;
    started!.stats.slab_start_slabs = slabStart.slabs;
    started!.stats.slab_start_frees = slabStart.frees;
  }
  const t1 = performance.now();
  const recorder = new LatencyRecorder();
  const samples = opts.samples ?? 100;
  const procs = processesFor(cell, trace, machine, cpuCursor);
  // With processes the object stack is the kernel object layer plus the user heaps (their resident pages).
  const usage = procs === undefined ? () => objects.usage() : () => {
    const k = objects.usage(), u = procs.heaps.usage();
    return { bytesReserved: k.bytesReserved + u.bytesReserved, pagesHeld: k.pagesHeld + u.pagesHeld };
  };
  const series = new TimeSeries(machine, usage);
  const counts = replay(trace, machine, objects, source, {
    ...(procs !== undefined ? { processes: procs } : {}),
    ...(cpuOf !== undefined ? { cpu: { of: cpuOf, cursor: cpuCursor } } : {}),
    pageCacheReclaim: isGenerated(trace),
    ...(started !== undefined ? { preTrace: started.preTrace } : {}),
    checkEvery: opts.check ? 1024 : 0,
    latency: { weights: costWeights(), recorder },
    // evenly spaced points, plus one at every mark
    sampleEvery: opts.sampleEvery ?? (samples > 0 ? Math.max(1, Math.ceil(trace.length / samples)) : 0),
    onSample: (e, label, requested) => series.sample(e, label, requested),
  });
  const t2 = performance.now();
  opts.inspect?.(machine, objects);
  const metrics = endMetrics(machine, usage, counts);
  if (procs !== undefined) {
    metrics.processes = procs.vm.metrics();
    const u = counts.user_heap!;
    const peakResident = procs.vm.userPeak;
    metrics.user_heap = {
      ...u,
      peak_resident_pages: peakResident,
      // malloc-lab's U over what the heaps mapped, and over what was really resident
      utilization_footprint: u.peak_footprint_bytes === 0 ? 0 : round6(u.peak_bytes_requested / u.peak_footprint_bytes),
      utilization_resident: peakResident === 0 ? 0 : round6(u.peak_bytes_requested / (peakResident * PAGE_SIZE)),
    };
  }
  const threads = isTraceStream(trace) ? undefined : threadMetrics(trace); // per-thread counts need the whole tid column
  if (threads !== undefined) metrics.threads = threads;
  const attribution = attributionMetrics(trace);
  if (attribution !== undefined) metrics.attribution = attribution;
  if (started !== undefined) {
    metrics.start = started.stats;
    if (opts.startEmpty !== false) metrics.start_empty = emptyStartZones(cell, whole(trace), machineConfig);
    // the recorded per-CPU list traffic beside page_counters' simulated one (the scorecard's pcp figures)
    if (opts.start?.pcpTraffic !== undefined) metrics.recorded_pcp = opts.start.pcpTraffic;
  }
  metrics.reclaim = counts.reclaim;
  metrics.page_counters = mergeCounters(machine);
  // the kernel version whose rules the page strategy followed (the spec's, else the machine's kernel)
  const rules = machine.zones[0]?.strategy.rules;
  if (rules !== undefined) metrics.page_rules = rules.version;
  metrics.object_counters = objects.counters();
  metrics.caches = objects.caches().filter((c) => c.numObjs > 0);
  metrics.probe_order9 = probeHighOrder(machine);
  const simNs = recorder.totalNs();
  metrics.latency = recorder.summary();
  metrics.sim_total_ns = Math.round(simNs);
  metrics.sim_events_per_sec = simNs > 0 ? Math.round(counts.events / (simNs / 1e9)) : 0;
  metrics.timeseries = series.data;
  if (opts.check && procs !== undefined) exitAll(procs.vm, machine, source.pages, counts.page_block_pages_live);
  // the machine is done with: its big arrays serve this thread's next cell (machine/kept-arrays.ts)
  releaseKept();
  const replayMs = t2 - t1;
  return {
    cell,
    status: 'ok',
    events: counts.events,
    trace_errors: counts.trace_errors,
    failed_allocs: counts.failed_allocs,
    metrics,
    wall: {
      events_per_sec: replayMs > 0 ? Math.round((counts.events / replayMs) * 1000) : 0,
      replay_ms: Math.round(replayMs * 1000) / 1000,
      setup_ms: Math.round((t1 - t0) * 1000) / 1000,
    },
  };
}

/** Mark labels listed in highorder_success at most; the others are summed under OTHER_LABELS. */
export const MAX_PHASE_LABELS = 256;
export const OTHER_LABELS = '(other labels)';

function endMetrics(machine: Machine, usage: () => { bytesReserved: number; pagesHeld: number }, c: ReplayCounts): Record<string, unknown> {
  const zones: Record<string, unknown> = {};
  let largest = -1;
  for (const z of machine.freeState()) {
    const m = zoneFragMetrics(z);
    const zone = machine.zones.find((x) => x.name === z.zone)!;
    zones[z.zone] = { managed_pages: zone.managed, present_pages: zone.present, spanned_pages: zone.spanned, ...m };
    if (m.largest_free_order > largest) largest = m.largest_free_order;
  }
  const highorderSuccess: Record<string, number> = {};
  // one entry per mark label, the first MAX_PHASE_LABELS of them (in trace order): a trace of
  // millions of distinct labels made a result line of hundreds of MB; the rest are summed
  const rest = { attempts: 0, successes: 0 };
  let labels = 0;
  for (const [label, p] of Object.entries(c.phases)) {
    if (p.attempts === 0) continue;
    if (++labels <= MAX_PHASE_LABELS) highorderSuccess[label] = round6(p.successes / p.attempts);
    else { rest.attempts += p.attempts; rest.successes += p.successes; }
  }
  if (rest.attempts > 0) highorderSuccess[OTHER_LABELS] = round6(rest.successes / rest.attempts);
  const steps: Record<string, number> = {};
  STEP_NAMES.forEach((name, k) => { steps[name] = machine.steps[k]!; });
  return {
    managed_pages: machine.managedPages(),
    free_pages: machine.freePageCount(),
    largest_free_order: largest,
    zones,
    trace_error_kinds: c.trace_error_kinds,
    failed_page_allocs: c.failed_page_allocs,
    failed_object_allocs: c.failed_object_allocs,
    events_not_modelled: c.events_not_modelled,
    ops: c.ops,
    highorder: { ...c.highorder, rate: c.highorder.attempts ? round6(c.highorder.successes / c.highorder.attempts) : 1 },
    highorder_success: highorderSuccess,
    recorded_extfrag: c.recorded_extfrag,
    waste: wasteMetrics(usage(), c.bytes_requested_live, c.peak_bytes_requested, c.peak_pages_held ?? c.peak_object_pages),
    steps,
  };
}

/**
 * The fidelity scorecard's "start empty" predictor (metrics/fidelity.ts): the same cell replayed
 * on an empty machine, its end state per zone. Only for cells that start from a recorded state.
 */
function emptyStartZones(cell: CellSpec, trace: Trace, config: MachineConfig): Record<string, unknown> {
  const m = new Machine(config, pageStrategyFactory(cell.page));
  const source = objectPageSource(m);
  const counts = replay(trace, m, objectStrategyFactory(cell.object)({ pages: source, steps: m.steps, cpus: m.cpus }), source);
  const zones: Record<string, unknown> = {};
  for (const z of m.freeState()) zones[z.zone] = zoneFragMetrics(z);
  return { zones, free_pages: m.freePageCount(), trace_errors: counts.trace_errors, extfrag_events: mergeCounters(m).extfrag_events ?? 0 };
}

/**
 * The start-empty replay on its own (a pool task apart from its cell, which runs with startEmpty:
 * false): the cell's metrics.start_empty. Its machine's arrays come from and go back to this
 * thread's kept arrays, as a cell's do.
 */
export function startEmptyMetrics(cell: CellSpec, trace: Trace | TraceStream, config: MachineConfig): Record<string, unknown> {
  keepArrays();
  try {
    return emptyStartZones(cell, whole(trace), config);
  } finally {
    releaseKept();
  }
}

/**
 * A cell run with startEmpty: false, with its start-empty figures put where runCell puts them
 * (right after metrics.start), so the result line is byte for byte the one of a single replay.
 */
export function withStartEmpty(r: CellResult, startEmpty: Record<string, unknown>): CellResult {
  const metrics: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.metrics)) {
    metrics[k] = v;
    if (k === 'start') metrics.start_empty = startEmpty;
  }
  return { ...r, metrics };
}

function mergeCounters(machine: Machine): Record<string, number> {
  const out: Record<string, number> = {};
  for (const z of machine.zones) {
    for (const [k, v] of Object.entries(z.strategy.counters())) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

/**
 * The process model for a cell: only when the trace has process or malloc events (a kernel trace
 * keeps its old cost). A trace with faults but no address-space events (mmap/munmap/brk/fork) is a
 * recording that did not see them: faults outside every VMA then create one (vm.ts autoVma).
 * User heaps use the cell's object strategy: dlmalloc on brk/mmap, the size-class strategies on
 * a compact mmap'd region (process-heap.ts).
 */
function processesFor(cell: CellSpec, trace: Trace | TraceStream, machine: Machine, cpuCursor: CpuCursor): { vm: Vm; heaps: UserHeaps } | undefined {
  const c = opCounts(trace);
  const user = c[O.OP_MALLOC]! + c[O.OP_REALLOC]!;
  const proc = c[O.OP_MMAP]! + c[O.OP_MUNMAP]! + c[O.OP_BRK]! + c[O.OP_FAULT]! + c[O.OP_FORK]! + c[O.OP_EXIT]!;
  if (user + proc === 0) return undefined;
  const addressEvents = c[O.OP_MMAP]! + c[O.OP_MUNMAP]! + c[O.OP_BRK]! + c[O.OP_FORK]!;
  const vm = new Vm(machine, { autoVma: addressEvents === 0, pids: trace.pidCount });
  const kind = cell.object.split(':')[0] === 'dlmalloc' ? 'memory' : 'pages';
  const heaps = new UserHeaps(vm, objectStrategyFactory(cell.object), kind, machine.cpus, sizeClassHeapPages(machine.managedPages()), cpuCursor);
  return { vm, heaps };
}

/** Generated workloads (a generator spec as source) have page-cache-like movable pages that reclaim may drop. */
function isGenerated(trace: TraceInfo): boolean {
  return trace.source.startsWith('gen:'); // generator.ts: source = gen:<spec>#<seed>
}

/** The trace in memory: a start state (and its start-empty twin) reads the whole trace up front. */
function whole(trace: Trace | TraceStream): Trace {
  if (isTraceStream(trace)) throw new AllocbenchError(`${trace.name}: a trace read in chunks cannot start from a recorded state`);
  return trace;
}

/** --check, after the metrics: every process exits; all user and page-table pages must be back. */
function exitAll(vm: Vm, machine: Machine, objectPages: number, blockPages: number): void {
  for (let pid = 0; pid < vm.procs.length; pid++) if (vm.procs[pid] !== undefined) vm.exit(pid);
  if (vm.userPages !== 0 || vm.ptLive !== 0) throw new InvariantError(`after every process exited: ${vm.userPages} user pages and ${vm.ptLive} page-table pages not returned`);
  vm.check();
  const free = machine.freePageCount() + machine.pcpPageCount();
  if (free + objectPages + blockPages !== machine.managedPages()) {
    throw new InvariantError(`after every process exited: free ${free} + object pages ${objectPages} + page blocks ${blockPages} != managed ${machine.managedPages()}`);
  }
}
