import type { CellResult } from '../run/cell.js';
import { mainZone } from './load-results.js';

/** One chart of the report: a vega-lite spec with its data inlined (the page must work offline). */
export interface ChartSpec {
  id: string;
  title: string;
  description: string;
  spec: Record<string, unknown>;
}

/** Points kept per cell in the time-series chart: 100 cells × 400 points stays a responsive page. */
const MAX_POINTS_PER_CELL = 400;

type Row = Record<string, string | number>;

interface Labels {
  /** facet: the trace, with the machine when a run has several machines */
  group: (r: CellResult) => string;
  groupTitle: string;
  strategy: (r: CellResult) => string;
  pages: string[];
  objects: string[];
}

function labels(results: CellResult[]): Labels {
  const machines = new Set(results.map((r) => r.cell.machine));
  return {
    group: machines.size > 1 ? (r) => `${r.cell.trace} @ ${r.cell.machine}` : (r) => r.cell.trace,
    groupTitle: machines.size > 1 ? 'trace @ machine' : 'trace',
    strategy: (r) => `${r.cell.page}/${r.cell.object}`,
    pages: [...new Set(results.map((r) => r.cell.page))].sort(),
    objects: [...new Set(results.map((r) => r.cell.object))].sort(),
  };
}

function base(r: CellResult, L: Labels): Row {
  return { group: L.group(r), strategy: L.strategy(r), page: r.cell.page, object: r.cell.object, seed: r.cell.seed, trace: r.cell.trace, machine: r.cell.machine };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The same colour per page strategy in every chart. */
function pageColor(L: Labels): Record<string, unknown> {
  return { field: 'page', type: 'nominal', title: 'page strategy', scale: { domain: L.pages, scheme: 'tableau10' } };
}

const facetWrap = (title = 'trace', field = 'group'): Record<string, unknown> => ({ field, type: 'nominal', title, header: { labelFontWeight: 'bold', labelLimit: 400 } });

const CONFIG = { view: { stroke: '#ddd' }, axis: { labelLimit: 220 }, legend: { labelLimit: 220 } };

function chart(id: string, title: string, description: string, spec: Record<string, unknown>): ChartSpec {
  return { id, title, description, spec: { title: { text: title, anchor: 'start' }, config: CONFIG, ...spec } };
}

export function fragmentationOverTime(results: CellResult[], L = labels(results)): ChartSpec | null {
  // samples carry only a cell index; the cell's labels are joined in by a lookup, which keeps
  // 100 cells × 400 samples to a few MB of page
  const rows: Row[] = [];
  const cells: Row[] = [];
  for (const r of results) {
    const ts = r.metrics.timeseries as { event?: number[]; label?: string[]; unusable_index_9?: number[] } | undefined;
    if (r.status !== 'ok' || !ts?.event || !ts.unusable_index_9) continue;
    const c = cells.length;
    cells.push({ c, ...base(r, L) });
    const n = Math.min(ts.event.length, ts.unusable_index_9.length);
    const step = Math.max(1, Math.ceil(n / MAX_POINTS_PER_CELL));
    let prev = '';
    for (let i = 0; i < n; i++) {
      // `label` is the phase the sample is in; a rule marks where a new phase starts
      const label = ts.label?.[i] ?? '';
      const starts = label !== '' && label !== prev;
      prev = label;
      if (i % step !== 0 && i !== n - 1 && !starts) continue;
      const row: Row = { c, e: ts.event[i]!, u: ts.unusable_index_9[i]! };
      // every cell gets a rule row (at its first sample) so no facet's rule layer is empty: an
      // empty layer gives vega an infinite x extent and a console warning
      if (starts || i === 0) row.phase = starts ? label : '(start)';
      rows.push(row);
    }
  }
  if (rows.length === 0) return null;
  const fields = ['group', 'strategy', 'page', 'object', 'seed'];
  return chart('frag-time', 'Fragmentation over time: unusable free space index at order 9 (main zone)',
    'Sampled every N events and at each phase mark (grey rules: a phase starts). 0 = every free page is in an order-9 block, 1 = none is. Lower is better.',
    {
      data: { values: rows },
      transform: [{ lookup: 'c', from: { data: { values: cells }, key: 'c', fields } }],
      facet: facetWrap(L.groupTitle),
      columns: 2,
      resolve: { scale: { x: 'independent' } },
      spec: {
        width: 340, height: 180,
        layer: [
          {
            transform: [{ filter: 'isValid(datum.phase)' }],
            mark: { type: 'rule', color: '#bbb', strokeWidth: 1 },
            encoding: { x: { field: 'e', type: 'quantitative' }, tooltip: [{ field: 'phase' }, { field: 'e', title: 'event' }] },
          },
          {
            mark: { type: 'line', strokeWidth: 1.5, interpolate: 'step-after' },
            encoding: {
              x: { field: 'e', type: 'quantitative', title: 'event' },
              y: { field: 'u', type: 'quantitative', title: 'unusable index (order 9)', scale: { domain: [0, 1] } },
              color: pageColor(L),
              strokeDash: { field: 'object', type: 'nominal', title: 'object strategy', scale: { domain: L.objects } },
              detail: { field: 'seed', type: 'nominal' },
              tooltip: [{ field: 'strategy' }, { field: 'seed' }, { field: 'e', title: 'event' }, { field: 'u', title: 'unusable index', format: '.3f' }],
            },
          },
        ],
      },
    });
}

export function unusableByOrder(results: CellResult[], L = labels(results)): ChartSpec | null {
  const rows: Row[] = [];
  for (const r of results) {
    const idx = mainZone(r)?.unusable_index;
    if (r.status !== 'ok' || !idx) continue;
    const b = base(r, L);
    idx.forEach((v, order) => rows.push({ ...b, order, value: v }));
  }
  if (rows.length === 0) return null;
  return chart('unusable-heatmap', 'Unusable free space index by order at the end of the run (main zone)',
    'debugfs extfrag/unusable_index: the fraction of free memory that cannot serve a request of that order. Darker is worse.',
    {
      data: { values: rows },
      facet: facetWrap(L.groupTitle),
      columns: 2,
      spec: {
        width: 260, height: { step: 12 },
        mark: { type: 'rect' },
        encoding: {
          x: { field: 'order', type: 'ordinal', title: 'order' },
          y: { field: 'strategy', type: 'nominal', title: 'page/object strategy' },
          color: { aggregate: 'mean', field: 'value', type: 'quantitative', title: 'unusable index', scale: { domain: [0, 1], scheme: 'orangered' } },
          tooltip: [{ field: 'strategy' }, { field: 'order' }, { aggregate: 'mean', field: 'value', title: 'unusable index', format: '.3f' }],
        },
      },
    });
}

export function highOrderSuccess(results: CellResult[], L = labels(results)): ChartSpec | null {
  const rows: Row[] = [];
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const b = base(r, L);
    const m = r.metrics;
    const rate = num((m.highorder as { rate?: unknown } | undefined)?.rate);
    if (rate !== undefined) rows.push({ ...b, measure: 'order ≥ 1 events', value: rate });
    const phases = m.highorder_success as Record<string, unknown> | undefined;
    for (const [phase, v] of Object.entries(phases ?? {})) {
      const x = num(v);
      if (x !== undefined) rows.push({ ...b, measure: `order ≥ 9, ${phase}`, value: x });
    }
    const probe = num((m.probe_order9 as { fraction?: unknown } | undefined)?.fraction);
    if (probe !== undefined) rows.push({ ...b, measure: 'order-9 probe at rest', value: probe });
  }
  if (rows.length === 0) return null;
  return chart('highorder', 'High-order allocation success',
    'Success fraction of page allocations of order ≥ 1 during the replay, of order ≥ pageblock_order per phase, and the end-of-run order-9 probe (Gorman): blocks allocated / blocks free pages would allow. Higher is better.',
    {
      data: { values: rows },
      facet: { row: { field: 'group', type: 'nominal', title: L.groupTitle, header: { labelAngle: 0, labelAlign: 'left', labelLimit: 300 } }, column: { field: 'measure', type: 'nominal', title: null } },
      spec: {
        width: 150, height: { step: 12 },
        mark: { type: 'bar' },
        encoding: {
          x: { aggregate: 'mean', field: 'value', type: 'quantitative', stack: null, title: 'success fraction', scale: { domain: [0, 1] } },
          y: { field: 'strategy', type: 'nominal', title: null },
          color: pageColor(L),
          tooltip: [{ field: 'strategy' }, { field: 'measure' }, { aggregate: 'mean', field: 'value', title: 'fraction', format: '.3f' }],
        },
      },
    });
}

/** Cells whose trace drove the object layer (page-only traces have no waste to show). */
function objectRows(results: CellResult[], L: Labels, pick: (w: Record<string, unknown>) => number | undefined): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    const w = r.metrics.waste as Record<string, unknown> | undefined;
    if (r.status !== 'ok' || !w) continue;
    if (!(num(w.peak_bytes_requested) ?? 0) && !(num(w.bytes_reserved) ?? 0) && !(num(w.peak_pages_held) ?? 0)) continue;
    const v = pick(w);
    if (v !== undefined) rows.push({ ...base(r, L), value: v });
  }
  return rows;
}

function objectBars(id: string, title: string, description: string, rows: Row[], L: Labels, xTitle: string, format: string, domain?: number[]): ChartSpec | null {
  if (rows.length === 0) return null;
  return chart(id, title, description, {
    data: { values: rows },
    facet: facetWrap(L.groupTitle),
      columns: 2,
    spec: {
      width: 300, height: { step: 10 },
      mark: { type: 'bar' },
      encoding: {
        x: { aggregate: 'mean', field: 'value', type: 'quantitative', stack: null, title: xTitle, ...(domain ? { scale: { domain } } : {}) },
        y: { field: 'object', type: 'nominal', title: 'object strategy' },
        yOffset: { field: 'page', type: 'nominal', scale: { domain: L.pages } },
        color: pageColor(L),
        tooltip: [{ field: 'strategy' }, { aggregate: 'mean', field: 'value', title: xTitle, format }],
      },
    },
  });
}

export function internalWaste(results: CellResult[], L = labels(results)): ChartSpec | null {
  return objectBars('waste', 'Internal waste at the end of the run',
    'Bytes held by the object layer minus bytes requested by live objects (size-class rounding, slab leftovers, empty slots). Lower is better.',
    objectRows(results, L, (w) => num(w.internal_waste_bytes)), L, 'internal waste (bytes)', ',.0f');
}

export function utilization(results: CellResult[], L = labels(results)): ChartSpec | null {
  return objectBars('utilization', 'Utilization',
    'Peak live requested bytes / peak bytes taken from the page allocator (malloc-lab\'s U). Higher is better.',
    objectRows(results, L, (w) => num(w.utilization)), L, 'utilization', '.3f', [0, 1]);
}

const PERCENTILES = ['p50', 'p99', 'p999'] as const;

export function latencyPercentiles(results: CellResult[], L = labels(results)): ChartSpec | null {
  const rows: Row[] = [];
  for (const r of results) {
    const lat = r.metrics.latency as Record<string, Record<string, unknown>> | undefined;
    if (r.status !== 'ok' || !lat) continue;
    const b = base(r, L);
    for (const [op, h] of Object.entries(lat)) {
      if (op === 'mark' || !(num(h.count) ?? 0)) continue;
      for (const p of PERCENTILES) {
        const v = num(h[p]);
        // log scale: a zero-cost op (cache_create, mark) has nothing to plot
        if (v !== undefined && v > 0) rows.push({ ...b, op, panel: `${op} · ${b.group}`, percentile: p, ns: v });
      }
    }
  }
  if (rows.length === 0) return null;
  return chart('latency', 'Simulated latency percentiles per op type (cost model, ns)',
    'Deterministic simulated nanoseconds per event from the step counts and the cost table: p50, p99 and p99.9 per strategy, log scale (zero-cost ops omitted). Lower is better.',
    {
      data: { values: rows },
      // one panel per op and trace that has events, so traces without an op leave no empty panel
      facet: facetWrap(`op · ${L.groupTitle}`, 'panel'),
      columns: 3,
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 260, height: { step: 11 },
        mark: { type: 'point', filled: true, size: 30 },
        encoding: {
          x: { aggregate: 'mean', field: 'ns', type: 'quantitative', title: 'simulated ns', scale: { type: 'log' } },
          y: { field: 'strategy', type: 'nominal', title: null },
          color: { field: 'percentile', type: 'nominal', scale: { domain: [...PERCENTILES], range: ['#4c78a8', '#f58518', '#e45756'] } },
          shape: { field: 'percentile', type: 'nominal', scale: { domain: [...PERCENTILES] } },
          tooltip: [{ field: 'strategy' }, { field: 'op' }, { field: 'percentile' }, { aggregate: 'mean', field: 'ns', title: 'ns', format: ',.1f' }],
        },
      },
    });
}

function throughput(id: string, title: string, description: string, results: CellResult[], L: Labels, pick: (r: CellResult) => number | undefined, xTitle: string): ChartSpec | null {
  const rows: Row[] = [];
  for (const r of results) {
    const v = r.status === 'ok' ? pick(r) : undefined;
    if (v !== undefined) rows.push({ ...base(r, L), value: v });
  }
  if (rows.length === 0) return null;
  return chart(id, title, description, {
    data: { values: rows },
    facet: facetWrap(L.groupTitle),
      columns: 2,
    spec: {
      width: 300, height: { step: 10 },
      mark: { type: 'bar' },
      encoding: {
        x: { aggregate: 'mean', field: 'value', type: 'quantitative', stack: null, title: xTitle },
        y: { field: 'strategy', type: 'nominal', title: null },
        color: pageColor(L),
        tooltip: [{ field: 'strategy' }, { aggregate: 'mean', field: 'value', title: xTitle, format: ',.0f' }],
      },
    },
  });
}

export function simThroughput(results: CellResult[], L = labels(results)): ChartSpec | null {
  return throughput('throughput-sim', 'Simulated throughput (cost model, deterministic)',
    'Events per simulated second: events / sum of the simulated per-event costs. Machine-independent; this is what compare gates.',
    results, L, (r) => num(r.metrics.sim_events_per_sec), 'simulated events/s');
}

export function wallThroughput(results: CellResult[], L = labels(results)): ChartSpec | null {
  return throughput('throughput-wall', 'Wall-clock throughput of the replay (this machine, noisy)',
    'Events per wall-clock second of the replay on the machine that ran it. Depends on the host and its load; never gated.',
    results, L, (r) => num(r.wall.events_per_sec), 'wall-clock events/s');
}

/** Every chart the data supports, in page order; a chart whose fields no cell has is left out. */
export function buildSpecs(results: CellResult[]): ChartSpec[] {
  const L = labels(results);
  return [
    fragmentationOverTime(results, L), unusableByOrder(results, L), highOrderSuccess(results, L),
    internalWaste(results, L), utilization(results, L), latencyPercentiles(results, L),
    simThroughput(results, L), wallThroughput(results, L),
  ].filter((c): c is ChartSpec => c !== null);
}
