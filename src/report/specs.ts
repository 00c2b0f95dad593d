import type { CellResult } from '../run/cell.js';
import { mainZone } from './load-results.js';
import { estimate } from '../metrics/statistics.js';

/** One chart of the report: a vega-lite spec with its data inlined (the page must work offline). */
export interface ChartSpec {
  id: string;
  title: string;
  description: string;
  spec: Record<string, unknown>;
  /**
   * Panels left out because every strategy has the same value there ("fork-cow: 0.000"): a flat
   * bar chart says nothing. When every panel is, the chart is this one line and `spec` is empty.
   */
  equal?: string[];
}

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

/** Points per line of the time-series chart: the run's progress in percent. */
const PROGRESS_BINS = 100;
/** More phase starts than this in a workload are not drawn (kernel-mix marks a phase every 100k events): labels would cover the lines. */
const MAX_PHASE_MARKS = 8;

export function fragmentationOverTime(results: CellResult[], L = labels(results)): ChartSpec | null {
  // One line per workload and strategy: the mean over seeds of the unusable index at each percent
  // of the run (seeds of a generated trace differ in length, so events do not line up; progress does).
  const sums = new Map<string, { key: Row; sum: Float64Array; n: Float64Array }>();
  const phases = new Map<string, { label: string; at: number }[]>();
  for (const r of results) {
    const ts = r.metrics.timeseries as { event?: number[]; label?: string[]; unusable_index_9?: number[] } | undefined;
    if (r.status !== 'ok' || !ts?.event || !ts.unusable_index_9 || ts.event.length === 0) continue;
    const group = L.group(r), strategy = L.strategy(r);
    const k = `${group}\u0000${strategy}`;
    let acc = sums.get(k);
    if (!acc) sums.set(k, acc = { key: { group, strategy, page: r.cell.page, object: r.cell.object }, sum: new Float64Array(PROGRESS_BINS + 1), n: new Float64Array(PROGRESS_BINS + 1) });
    const n = Math.min(ts.event.length, ts.unusable_index_9.length);
    const last = Math.max(1, ts.event[n - 1]!);
    const marks: { label: string; at: number }[] = [];
    let prev = '';
    for (let i = 0; i < n; i++) {
      const bin = Math.round((ts.event[i]! / last) * PROGRESS_BINS);
      acc.sum[bin]! += ts.unusable_index_9[i]!;
      acc.n[bin]!++;
      const label = ts.label?.[i] ?? '';
      if (label !== '' && label !== prev) marks.push({ label, at: bin });
      prev = label;
    }
    if (!phases.has(group)) phases.set(group, marks);
  }
  if (sums.size === 0) return null;
  const rows: Row[] = [];
  for (const { key, sum, n } of sums.values()) {
    let v = NaN;
    for (let b = 0; b <= PROGRESS_BINS; b++) {
      if (n[b]! > 0) v = sum[b]! / n[b]!;
      // a bin no sample fell in carries the last value on (step line)
      if (!Number.isNaN(v)) rows.push({ ...key, kind: 'line', x: b, u: Math.round(v * 1e4) / 1e4 });
    }
  }
  let hidden = 0;
  for (const [group, marks] of phases) {
    if (marks.length > MAX_PHASE_MARKS) { hidden++; continue; }
    // labels stagger down the panel so marks close together stay readable
    marks.forEach((m, i) => rows.push({ group, kind: 'phase', x: m.at, phase: m.label.replace(/^phase: /, ''), ly: 1 - 0.08 * (i % 4) }));
  }
  return chart('frag-time', 'Fragmentation over time: unusable free space index at order 9 (main zone)',
    'Mean over seeds at each percent of the run; labelled rules are the trace\'s phase marks (at_rest, reclaim, ...)' +
    (hidden ? ` (not drawn for ${hidden} workload(s) with more than ${MAX_PHASE_MARKS} phases)` : '') +
    '. 0 = every free page is in an order-9 block, 1 = none is. Lower is better.',
    {
      data: { values: rows },
      facet: facetWrap(L.groupTitle),
      columns: 2,
      spec: {
        width: 340, height: 180,
        layer: [
          {
            transform: [{ filter: "datum.kind === 'phase'" }],
            mark: { type: 'rule', color: '#999', strokeDash: [3, 3] },
            encoding: { x: { field: 'x', type: 'quantitative', scale: { domain: [0, 100] } }, tooltip: [{ field: 'phase' }] },
          },
          {
            transform: [{ filter: "datum.kind === 'phase'" }],
            mark: { type: 'text', align: 'left', baseline: 'top', dx: 2, dy: 2, fontSize: 9, color: '#555', angle: 0 },
            encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'ly', type: 'quantitative' }, text: { field: 'phase' } },
          },
          {
            transform: [{ filter: "datum.kind === 'line'" }],
            mark: { type: 'line', strokeWidth: 1.5, interpolate: 'step-after' },
            encoding: {
              x: { field: 'x', type: 'quantitative', title: '% of the run', scale: { domain: [0, 100] } },
              y: { field: 'u', type: 'quantitative', title: 'unusable index (order 9)', scale: { domain: [0, 1] } },
              color: pageColor(L),
              strokeDash: { field: 'object', type: 'nominal', title: 'object strategy', scale: { domain: L.objects } },
              tooltip: [{ field: 'strategy' }, { field: 'x', title: '% of run' }, { field: 'u', title: 'unusable index (mean over seeds)', format: '.3f' }],
            },
          },
        ],
      },
    });
}

/**
 * Splits rows into panels where the strategies differ (kept) and panels where every strategy has
 * the same mean (named in one line each, not drawn: flat bars say nothing).
 */
export function dropEqualPanels(rows: Row[], p: PanelOf): { rows: Row[]; equal: string[] } {
  // panel -> series (an order, a percentile, a point in time) -> strategy -> values
  const by = new Map<string, Map<string, Map<string, number[]>>>();
  for (const r of rows) {
    if (r.strategy === undefined) continue; // annotation rows (phase marks) follow their panel
    const panel = p.panel(r), series = p.series?.(r) ?? '';
    let m = by.get(panel);
    if (!m) by.set(panel, m = new Map());
    let sm = m.get(series);
    if (!sm) m.set(series, sm = new Map());
    const l = sm.get(String(r.strategy));
    if (l) l.push(p.value(r)); else sm.set(String(r.strategy), [p.value(r)]);
  }
  const flat = new Set<string>();
  const equal: string[] = [];
  for (const [panel, m] of by) {
    let same = true, strategies = 0, shown = NaN;
    for (const sm of m.values()) {
      const means = [...sm.values()].map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
      strategies = Math.max(strategies, sm.size);
      const lo = Math.min(...means), hi = Math.max(...means);
      if (hi - lo > 1e-9 * Math.max(1, Math.abs(hi))) { same = false; break; }
      shown = lo;
    }
    if (same && strategies > 1) {
      flat.add(panel);
      equal.push(m.size === 1 ? `${panel}: ${Number(shown.toPrecision(4))}` : panel);
    }
  }
  return { rows: rows.filter((r) => !flat.has(p.panel(r))), equal };
}

/** How a chart's rows make panels (facets), series within a panel, and the plotted value. */
interface PanelOf {
  panel: (r: Row) => string;
  series?: (r: Row) => string;
  value: (r: Row) => number;
}

/**
 * Bars of a mean over seeds get their 95% Student-t interval as a black rule (statistics.ts
 * estimate): each row carries its group's `lo`/`hi`; one seed or equal seeds draw no rule.
 */
function withIntervals(c: ChartSpec | null, panel: (r: Row) => string): ChartSpec | null {
  const inner = c?.spec.spec as { mark?: { type?: string }; encoding?: Record<string, unknown> } | undefined;
  if (!c || !inner?.encoding || inner.mark?.type !== 'bar') return c;
  const rows = (c.spec.data as { values: Row[] }).values;
  const by = new Map<string, number[]>();
  const key = (r: Row): string => `${panel(r)}\u0000${r.strategy}`;
  for (const r of rows) { const l = by.get(key(r)); if (l) l.push(Number(r.value)); else by.set(key(r), [Number(r.value)]); }
  const est = new Map([...by].map(([k, xs]) => [k, estimate(xs)]));
  const values = rows.map((r) => { const e = est.get(key(r))!; return e.n > 1 && e.hi > e.lo ? { ...r, lo: e.lo, hi: e.hi } : r; });
  // no interval anywhere (one seed): no rule layer, whose empty data would give vega an infinite extent
  if (!values.some((r) => 'lo' in r)) return c;
  const { x: _x, color: _c, tooltip: _t, ...place } = inner.encoding;
  const rule = {
    transform: [{ filter: 'isValid(datum.lo)' }],
    mark: { type: 'rule', color: '#222', strokeWidth: 1.5 },
    encoding: { ...place, x: { aggregate: 'min', field: 'lo', type: 'quantitative' }, x2: { aggregate: 'max', field: 'hi' } },
  };
  const { mark, encoding, ...size } = inner;
  return {
    ...c,
    description: `${c.description} Bars are means over seeds; the black rule is the 95% interval (Student t).`,
    spec: { ...c.spec, data: { values }, spec: { ...size, layer: [{ mark, encoding }, rule] } },
  };
}

/** A chart without its equal panels; all equal: the one-line chart. */
function withoutEqual(c: ChartSpec | null, p: PanelOf): ChartSpec | null {
  if (!c) return null;
  const rows = (c.spec.data as { values: Row[] }).values;
  const { rows: kept, equal } = dropEqualPanels(rows, p);
  if (equal.length === 0) return c;
  if (kept.length === 0) return { ...c, spec: {}, equal };
  return { ...c, spec: { ...c.spec, data: { values: kept } }, equal };
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
    const ho = m.highorder as { rate?: unknown; attempts?: unknown } | undefined;
    const rate = (num(ho?.attempts) ?? 0) > 0 ? num(ho?.rate) : undefined; // no order >= 1 request: not applicable
    if (rate !== undefined) rows.push({ ...b, panel: `order ≥ 1 events · ${b.group}`, value: rate });
    const phases = m.highorder_success as Record<string, unknown> | undefined;
    for (const [phase, v] of Object.entries(phases ?? {})) {
      const x = num(v);
      if (x !== undefined) rows.push({ ...b, panel: `order ≥ 9, ${phase} · ${b.group}`, value: x });
    }
    const probe = num((m.probe_order9 as { fraction?: unknown } | undefined)?.fraction);
    if (probe !== undefined) rows.push({ ...b, panel: `order-9 probe at the end · ${b.group}`, value: probe });
  }
  if (rows.length === 0) return null;
  return chart('highorder', 'High-order allocation success',
    'Success fraction of page allocations of order ≥ 1 during the replay, of order ≥ pageblock_order per phase, and the end-of-run order-9 probe (Gorman): blocks allocated / blocks free pages would allow. Higher is better.',
    {
      data: { values: rows },
      // one panel per measure and workload that has it (a grid would be mostly empty panels)
      facet: facetWrap(`measure · ${L.groupTitle}`, 'panel'),
      columns: 3,
      spec: {
        width: 150, height: { step: 12 },
        mark: { type: 'bar' },
        encoding: {
          x: { aggregate: 'mean', field: 'value', type: 'quantitative', stack: null, title: 'success fraction', scale: { domain: [0, 1] } },
          y: { field: 'strategy', type: 'nominal', title: null },
          color: pageColor(L),
          tooltip: [{ field: 'strategy' }, { field: 'panel' }, { aggregate: 'mean', field: 'value', title: 'fraction', format: '.3f' }],
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
  const group = (r: Row): string => String(r.group);
  const v = (r: Row): number => Number(r.value);
  return [
    withoutEqual(fragmentationOverTime(results, L), { panel: group, series: (r) => String(r.x), value: (r) => Number(r.u) }),
    withoutEqual(unusableByOrder(results, L), { panel: group, series: (r) => String(r.order), value: v }),
    withIntervals(withoutEqual(highOrderSuccess(results, L), { panel: (r) => String(r.panel), value: v }), (r) => String(r.panel)),
    withIntervals(withoutEqual(internalWaste(results, L), { panel: group, value: v }), group),
    withIntervals(withoutEqual(utilization(results, L), { panel: group, value: v }), group),
    withoutEqual(latencyPercentiles(results, L), { panel: (r) => String(r.panel), series: (r) => String(r.percentile), value: (r) => Number(r.ns) }),
    withIntervals(withoutEqual(simThroughput(results, L), { panel: group, value: v }), group),
    wallThroughput(results, L),
  ].filter((c): c is ChartSpec => c !== null);
}
