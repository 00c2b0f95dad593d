import { mainZone, type CellResult } from './cell.js';

/**
 * The per-cell columns of summary.csv, of the console tables and of the findings: one name each,
 * with its unit in the name (`_pct`, `_ns`, `_bytes`, `_per_s`). A figure that does not apply to a
 * cell (no order-9 phase in the trace, no object layer, no processes, no events of an op) is
 * undefined, written as an empty field: never 0 or 1 standing in for "not measured".
 */
export interface Column {
  name: string;
  /** one line for humans: what the figure is and which way is better */
  doc: string;
  get: (r: CellResult) => number | string | undefined;
  /** wall-clock: depends on the host, never deterministic */
  wall?: boolean;
}

type Obj = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' ? (v as Obj) : undefined);
const pct = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 1e6) / 1e4);

/** metrics.latency[op] when the op had events */
function latency(r: CellResult, op: string): Obj | undefined {
  const h = obj(obj(r.metrics.latency)?.[op]);
  return h && (num(h.count) ?? 0) > 0 ? h : undefined;
}

/**
 * The object layer's busiest op of a kind: a trace drives one of malloc (user heaps), kmalloc or
 * cache_alloc (kernel objects) mostly, and the percentiles of different ops cannot be merged from
 * their summaries, so the column reports the op with the most events (named in the doc).
 */
export function busiestOp(r: CellResult, ops: readonly string[]): string | undefined {
  let best: string | undefined, most = 0;
  for (const op of ops) {
    const n = num(latency(r, op)?.count) ?? 0;
    if (n > most) { most = n; best = op; }
  }
  return best;
}

const OBJ_ALLOC = ['malloc', 'kmalloc', 'cache_alloc'] as const;
const OBJ_FREE = ['free', 'kfree', 'cache_free'] as const;

function percentile(op: string | readonly string[], p: 'p50' | 'p99'): (r: CellResult) => number | undefined {
  return (r) => {
    const name = typeof op === 'string' ? op : busiestOp(r, op);
    return name === undefined ? undefined : num(latency(r, name)?.[p]);
  };
}

/** The object layer held anything during the run (page-only traces have no waste or utilization). */
function objectLayerUsed(r: CellResult): Obj | undefined {
  const w = obj(r.metrics.waste);
  if (!w) return undefined;
  return (num(w.peak_bytes_requested) ?? 0) > 0 || (num(w.peak_pages_held) ?? 0) > 0 ? w : undefined;
}

const phase = (name: string) => (r: CellResult): number | undefined => pct(num(obj(r.metrics.highorder_success)?.[name]));
const processes = (r: CellResult): Obj | undefined => obj(r.metrics.processes);

export const COLUMNS: Column[] = [
  { name: 'trace', doc: 'workload: a trace file\'s name or a generator spec', get: (r) => r.cell.trace },
  { name: 'machine', doc: 'machine preset, file or recording\'s machine.json', get: (r) => r.cell.machine },
  { name: 'page', doc: 'page strategy', get: (r) => r.cell.page },
  { name: 'object', doc: 'object strategy', get: (r) => r.cell.object },
  { name: 'seed', doc: 'seed of a generated trace (a recorded trace is one sample: seed 1)', get: (r) => r.cell.seed },
  { name: 'status', doc: 'ok or failed', get: (r) => r.status },
  { name: 'events', doc: 'events replayed', get: (r) => r.events },
  { name: 'trace_errors', doc: 'unknown/double frees etc., counted and skipped', get: (r) => r.trace_errors },
  { name: 'failed_allocs', doc: 'allocations the machine could not serve (lower is better)', get: (r) => r.failed_allocs },
  { name: 'order9_at_rest_pct', doc: 'order-9 requests served in the trace\'s at_rest phase, Gorman\'s at-rest figure (higher is better)', get: phase('at_rest') },
  { name: 'order9_under_load_pct', doc: 'order-9 requests served in the trace\'s under_load phase (higher is better)', get: phase('under_load') },
  { name: 'order9_probe_end_pct', doc: 'end-of-run probe: order-9 blocks allocated / blocks the free pages would allow (higher is better)', get: (r) => pct(num(obj(r.metrics.probe_order9)?.fraction)) },
  {
    name: 'highorder_success_pct', doc: 'page allocations of order >= 1 served during the replay (empty: the trace made none)',
    get: (r) => { const h = obj(r.metrics.highorder); return (num(h?.attempts) ?? 0) > 0 ? pct(num(h?.rate)) : undefined; },
  },
  { name: 'largest_free_order', doc: 'largest free block at the end (-1: none)', get: (r) => num(r.metrics.largest_free_order) },
  { name: 'unusable_index_9', doc: 'unusable free space index at order 9, main zone, at the end (0-1, lower is better)', get: (r) => num(mainZone(r)?.unusable_index?.[9]) },
  { name: 'extfrag_index_9', doc: 'fragmentation index at order 9, main zone, at the end (-1: a block is free)', get: (r) => num(mainZone(r)?.extfrag_index?.[9]) },
  { name: 'free_pages', doc: 'free pages at the end', get: (r) => num(r.metrics.free_pages) },
  { name: 'internal_waste_bytes', doc: 'object layer: bytes held minus bytes requested by live objects at the end (lower is better)', get: (r) => num(objectLayerUsed(r)?.internal_waste_bytes) },
  { name: 'utilization_pct', doc: 'object layer: peak requested / peak bytes taken from the page allocator, malloc-lab U (higher is better)', get: (r) => pct(num(objectLayerUsed(r)?.utilization)) },
  { name: 'page_alloc_p50_ns', doc: 'simulated page allocation latency, median (cost model)', get: percentile('page_alloc', 'p50') },
  { name: 'page_alloc_p99_ns', doc: 'simulated page allocation latency, 99th percentile (lower is better)', get: percentile('page_alloc', 'p99') },
  { name: 'page_free_p50_ns', doc: 'simulated page free latency, median', get: percentile('page_free', 'p50') },
  { name: 'page_free_p99_ns', doc: 'simulated page free latency, 99th percentile', get: percentile('page_free', 'p99') },
  { name: 'obj_alloc_p50_ns', doc: 'simulated object allocation latency, median, of the busiest of malloc/kmalloc/cache_alloc', get: percentile(OBJ_ALLOC, 'p50') },
  { name: 'obj_alloc_p99_ns', doc: 'simulated object allocation latency, 99th percentile, busiest of malloc/kmalloc/cache_alloc (lower is better)', get: percentile(OBJ_ALLOC, 'p99') },
  { name: 'obj_free_p50_ns', doc: 'simulated object free latency, median, of the busiest of free/kfree/cache_free', get: percentile(OBJ_FREE, 'p50') },
  { name: 'obj_free_p99_ns', doc: 'simulated object free latency, 99th percentile, busiest of free/kfree/cache_free', get: percentile(OBJ_FREE, 'p99') },
  { name: 'fault_p50_ns', doc: 'simulated user page fault latency, median', get: percentile('fault', 'p50') },
  { name: 'fault_p99_ns', doc: 'simulated user page fault latency, 99th percentile (lower is better)', get: percentile('fault', 'p99') },
  { name: 'minor_faults', doc: 'user faults served (zero page, new page, COW copy or reuse)', get: (r) => num(processes(r)?.minor_faults) },
  { name: 'cow_copies', doc: 'copy-on-write faults that copied a page', get: (r) => num(obj(processes(r)?.faults)?.cow_copy) },
  { name: 'oom_faults', doc: 'user faults that found no free page (lower is better)', get: (r) => num(obj(processes(r)?.faults)?.oom) },
  { name: 'page_table_pages', doc: 'peak page-table pages of all processes', get: (r) => num(processes(r)?.page_table_pages) },
  { name: 'sim_events_per_s', doc: 'simulated throughput: events / simulated seconds of the cost model (higher is better)', get: (r) => { const v = num(r.metrics.sim_events_per_sec); return v ? v : undefined; } },
  { name: 'wall_events_per_s', doc: 'wall-clock replay throughput on the host that ran the cell (noisy, never gated)', get: (r) => num(r.wall.events_per_sec), wall: true },
];

const BY_NAME = new Map(COLUMNS.map((c) => [c.name, c]));

export function column(name: string): Column | undefined {
  return BY_NAME.get(name);
}

/** A cell's value in a column; failed cells have identity columns and status only. */
export function value(r: CellResult, c: Column): number | string | undefined {
  if (r.status !== 'ok' && COLUMNS.indexOf(c) > COLUMNS.findIndex((x) => x.name === 'status')) return undefined;
  return c.get(r);
}

function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** summary.csv: one row per cell, every column (the deterministic ones first, wall-clock last). */
export function summaryCsv(results: CellResult[]): string {
  const lines = [COLUMNS.map((c) => c.name).join(',')];
  for (const r of results) lines.push(COLUMNS.map((c) => csvField(value(r, c))).join(','));
  return lines.join('\n') + '\n';
}
