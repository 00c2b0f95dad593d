import { performance } from 'node:perf_hooks';
import { AllocbenchError, InvariantError } from '../errors.js';
import { Machine } from '../machine/machine.js';
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
import type { Trace } from '../trace/trace.js';
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
}

let weights: CostWeights | null = null;
/** The default cost table, read once per thread. */
function costWeights(): CostWeights {
  return (weights ??= loadCostTable());
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
export function runCell(cell: CellSpec, trace: Trace, machineConfig: MachineConfig, opts: CellOptions = {}): CellResult {
  const t0 = performance.now();
  const machine = new Machine(machineConfig, pageStrategyFactory(cell.page));
  const source = objectPageSource(machine);
  const objects = objectStrategyFactory(cell.object)({ pages: source, steps: machine.steps, cpus: machine.cpus });
  const t1 = performance.now();
  const recorder = new LatencyRecorder();
  const series = new TimeSeries(machine, () => objects.usage());
  const counts = replay(trace, machine, objects, source, {
    checkEvery: opts.check ? 1024 : 0,
    latency: { weights: costWeights(), recorder },
    // about 200 points per cell, plus one at every mark
    sampleEvery: Math.max(1, Math.ceil(trace.length / 200)),
    onSample: (e, label, requested) => series.sample(e, label, requested),
  });
  const t2 = performance.now();
  opts.inspect?.(machine, objects);
  const metrics = endMetrics(machine, objects.usage.bind(objects), counts);
  metrics.page_counters = mergeCounters(machine);
  metrics.object_counters = objects.counters();
  metrics.caches = objects.caches().filter((c) => c.numObjs > 0);
  metrics.probe_order9 = probeHighOrder(machine);
  const simNs = recorder.totalNs();
  metrics.latency = recorder.summary();
  metrics.sim_total_ns = Math.round(simNs);
  metrics.sim_events_per_sec = simNs > 0 ? Math.round(counts.events / (simNs / 1e9)) : 0;
  metrics.timeseries = series.data;
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
  for (const [label, p] of Object.entries(c.phases)) {
    if (p.attempts > 0) highorderSuccess[label] = round6(p.successes / p.attempts);
  }
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
    waste: wasteMetrics(usage(), c.bytes_requested_live, c.peak_bytes_requested, c.peak_object_pages),
    steps,
  };
}

function mergeCounters(machine: Machine): Record<string, number> {
  const out: Record<string, number> = {};
  for (const z of machine.zones) {
    for (const [k, v] of Object.entries(z.strategy.counters())) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
