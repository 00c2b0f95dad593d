import type { CellResult } from '../run/cell.js';
import { column, value } from '../run/columns.js';
import type { ExperimentInfo, Headline } from '../run/experiment.js';
import { inGroup, type ResolvedGroup } from '../run/matrix.js';
import { estimate, mannWhitney, median, overlaps, type Estimate, type MannWhitney } from '../metrics/statistics.js';

/**
 * The answers of a run: per experiment, per workload and headline metric, the strategies ranked
 * by the mean over seeds with its 95% interval, a tie where intervals overlap, and the ratio to
 * the best. A recorded trace is one sample: its figures are exact for that recording, so two
 * strategies tie only when equal. Wall-clock throughput is compared separately, by a rank test.
 */

export interface Ranked {
  strategy: string;
  est: Estimate;
  /** 1-based; equal to the rank above when tied with it */
  rank: number;
  /** cannot be told apart from the strategy ranked just above */
  tie: boolean;
  /** how many times worse than the best (1 for the best); undefined when a zero makes it meaningless */
  ratio: number | undefined;
}

export interface FindingRow {
  workload: string;
  machine: string;
  recorded: boolean;
  metric: Headline;
  ranked: Ranked[];
  /** every strategy has the same value (the models do not differ here) */
  allEqual: boolean;
  /** the best is told apart from the worst */
  separated: boolean;
}

export interface WallComparison {
  workload: string;
  machine: string;
  faster: string;
  slower: string;
  medianFaster: number;
  medianSlower: number;
  test: MannWhitney;
  n: [number, number];
  different: boolean;
}

export interface ExperimentFindings {
  name: string;
  question: string;
  cells: number;
  rows: FindingRow[];
  wall: WallComparison[];
  /** the one-sentence answer: the first headline row that separates its strategies */
  sentence?: string;
}

/** Headline metrics of a run that names no experiment (explicit --trace/--gen flags): those that apply. */
export const DEFAULT_HEADLINE: Headline[] = [
  { metric: 'order9_at_rest_pct', better: 'higher', label: 'order-9 requests served at rest' },
  { metric: 'order9_under_load_pct', better: 'higher', label: 'order-9 requests served under load' },
  { metric: 'order9_probe_end_pct', better: 'higher', label: 'order-9 blocks allocatable at the end' },
  { metric: 'utilization_pct', better: 'higher', label: 'object-layer utilization' },
  { metric: 'page_alloc_p99_ns', better: 'lower', label: 'page allocation p99 latency (simulated)' },
  { metric: 'obj_alloc_p99_ns', better: 'lower', label: 'object allocation p99 latency (simulated)' },
  { metric: 'fault_p99_ns', better: 'lower', label: 'user fault p99 latency (simulated)' },
];

/** p < 0.05 and an effect this far from 0.5 (both ways) before two wall-clock figures are called different. */
const WALL_ALPHA = 0.05;
const WALL_EFFECT = 0.8;

/** The experiments a run.json describes, with their matrices; a run without experiments is one ad-hoc experiment. */
export function runExperiments(run: Record<string, unknown> | null): { experiments: ExperimentInfo[]; groups: ResolvedGroup[] } {
  const groups = (Array.isArray(run?.groups) ? run.groups : []) as ResolvedGroup[];
  const experiments = (Array.isArray(run?.experiments) ? run.experiments : []) as ExperimentInfo[];
  return { experiments, groups };
}

export function computeFindings(results: CellResult[], experiments: ExperimentInfo[], groups: ResolvedGroup[]): ExperimentFindings[] {
  const ok = results.filter((r) => r.status === 'ok');
  if (experiments.length === 0) {
    // explicit flags: every cell is one experiment with the headline metrics that apply
    const recorded = new Set(groups.flatMap((g) => g.recorded));
    return [findingsOf({ name: 'run', question: 'How do the strategies of this run compare?', headline: DEFAULT_HEADLINE }, ok, recorded)];
  }
  return experiments.map((e) => {
    const mine = groups.filter((g) => g.tag === e.name);
    const cells = ok.filter((r) => mine.some((g) => inGroup(r.cell, g)));
    return findingsOf(e, cells, new Set(mine.flatMap((g) => g.recorded)));
  });
}

function findingsOf(e: ExperimentInfo, cells: CellResult[], recorded: Set<string>): ExperimentFindings {
  // one workload = one trace on one machine; its cells differ by strategy and seed
  const workloads = new Map<string, CellResult[]>();
  for (const r of cells) {
    const k = `${r.cell.trace}\u0000${r.cell.machine}`;
    const list = workloads.get(k);
    if (list) list.push(r); else workloads.set(k, [r]);
  }
  const rows: FindingRow[] = [];
  const wall: WallComparison[] = [];
  for (const list of workloads.values()) {
    const { trace, machine } = list[0]!.cell;
    const label = strategyLabel(list);
    const byStrategy = new Map<string, CellResult[]>();
    for (const r of list) {
      const s = label(r);
      const l = byStrategy.get(s);
      if (l) l.push(r); else byStrategy.set(s, [r]);
    }
    if (byStrategy.size < 2) continue;
    for (const h of e.headline) {
      const row = rank(h, byStrategy, trace, machine, recorded.has(trace));
      if (row) rows.push(row);
    }
    if (!recorded.has(trace)) {
      const w = compareWall(byStrategy, trace, machine);
      if (w) wall.push(w);
    }
  }
  // the answer leads with the first headline metric that separates the strategies somewhere
  const lead = e.headline.map((h) => rows.find((r) => r.metric === h && r.separated)).find((r) => r !== undefined);
  return { name: e.name, question: e.question, cells: cells.length, rows, wall, ...(lead ? { sentence: sentence(lead) } : {}) };
}

/** Strategies are named by what varies among a workload's cells: the page strategy, the object strategy or both. */
function strategyLabel(cells: CellResult[]): (r: CellResult) => string {
  const pages = new Set(cells.map((r) => r.cell.page)).size, objects = new Set(cells.map((r) => r.cell.object)).size;
  if (pages > 1 && objects === 1) return (r) => r.cell.page;
  if (objects > 1 && pages === 1) return (r) => r.cell.object;
  return (r) => `${r.cell.page}/${r.cell.object}`;
}

function rank(h: Headline, byStrategy: Map<string, CellResult[]>, workload: string, machine: string, recorded: boolean): FindingRow | undefined {
  const col = column(h.metric);
  if (!col) return undefined;
  const ests: { strategy: string; est: Estimate }[] = [];
  for (const [strategy, cells] of byStrategy) {
    const xs = cells.map((r) => value(r, col)).filter((v): v is number => typeof v === 'number');
    if (xs.length) ests.push({ strategy, est: estimate(xs) });
  }
  if (ests.length < 2) return undefined; // the metric does not apply to this workload
  const sign = h.better === 'higher' ? -1 : 1;
  ests.sort((a, b) => sign * (a.est.mean - b.est.mean) || (a.strategy < b.strategy ? -1 : 1));
  const best = ests[0]!.est.mean;
  const ranked: Ranked[] = [];
  ests.forEach((x, i) => {
    const prev = ranked[i - 1];
    const tie = prev !== undefined && overlaps(prev.est, x.est);
    ranked.push({ strategy: x.strategy, est: x.est, rank: tie ? prev.rank : i + 1, tie, ratio: ratioToBest(best, x.est.mean, h.better) });
  });
  const first = ranked[0]!, last = ranked[ranked.length - 1]!;
  const allEqual = ranked.every((r) => r.est.mean === first.est.mean && r.est.lo === first.est.lo && r.est.hi === first.est.hi);
  return { workload, machine, recorded, metric: h, ranked, allEqual, separated: !allEqual && !overlaps(first.est, last.est) };
}

function ratioToBest(best: number, v: number, better: 'higher' | 'lower'): number | undefined {
  if (best === v) return 1;
  const r = better === 'higher' ? best / v : v / best;
  return Number.isFinite(r) && r > 0 ? r : undefined;
}

/** The two strategies with the highest median wall-clock throughput, compared by Mann–Whitney U over the seeds. */
function compareWall(byStrategy: Map<string, CellResult[]>, workload: string, machine: string): WallComparison | undefined {
  const samples = [...byStrategy].map(([s, cells]) => ({ s, xs: cells.map((r) => r.wall.events_per_sec).filter((v) => v > 0) }))
    .filter((x) => x.xs.length >= 2)
    .map((x) => ({ ...x, med: median(x.xs) }))
    .sort((a, b) => b.med - a.med);
  if (samples.length < 2) return undefined;
  const [a, b] = [samples[0]!, samples[1]!];
  const test = mannWhitney(a.xs, b.xs);
  const different = test.p < WALL_ALPHA && Math.abs(test.effect - 0.5) >= WALL_EFFECT - 0.5;
  return { workload, machine, faster: a.s, slower: b.s, medianFaster: a.med, medianSlower: b.med, test, n: [a.xs.length, b.xs.length], different };
}

/** The unit a figure is shown in, chosen from the column name (`_pct`, `_ns`, `_bytes`, `_per_s`) and its size. */
function unitOf(metric: string, v: number): { div: number; unit: string } {
  const a = Math.abs(v);
  if (metric.endsWith('_pct')) return { div: 1, unit: '%' };
  if (metric.endsWith('_ns')) return a >= 10000 ? { div: 1000, unit: ' µs' } : { div: 1, unit: ' ns' };
  if (metric.endsWith('_bytes')) return a >= 1 << 20 ? { div: 1 << 20, unit: ' MiB' } : a >= 1024 ? { div: 1024, unit: ' KiB' } : { div: 1, unit: ' B' };
  if (metric.endsWith('_per_s')) return a >= 1e6 ? { div: 1e6, unit: ' M/s' } : a >= 1e3 ? { div: 1e3, unit: ' k/s' } : { div: 1, unit: '/s' };
  return { div: 1, unit: '' };
}

/** Three significant digits, no exponent, integers kept whole. */
function digits(x: number): string {
  if (Number.isInteger(x) || Math.abs(x) >= 100) return Math.round(x).toString();
  return Number(x.toPrecision(3)).toString();
}

/** A figure with its unit: "90.0%", "307 ns", "1.2 MiB", "19.8 M/s". */
export function formatValue(metric: string, v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const { div, unit } = unitOf(metric, v);
  return `${metric.endsWith('_pct') ? (v >= 10 ? v.toFixed(1) : digits(v)) : digits(v / div)}${unit}`;
}

/** A mean with its interval's half-width in the mean's unit: "89.5 ±9.4 ns" (a recording: the value alone). */
export function estimateText(metric: string, e: Estimate): string {
  if (e.n < 2) return formatValue(metric, e.mean);
  const { div, unit } = unitOf(metric, e.mean);
  const mean = metric.endsWith('_pct') ? (e.mean >= 10 ? e.mean.toFixed(1) : digits(e.mean)) : digits(e.mean / div);
  const half = (e.hi - e.lo) / 2 / div;
  return `${mean}±${half === 0 ? '0' : Number(half.toPrecision(2))}${unit}`;
}

function ratioText(r: number | undefined): string {
  if (r === undefined) return '';
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(r >= 2 ? 1 : 2)}x`;
}

function sentence(row: FindingRow): string {
  const best = row.ranked[0]!, worst = row.ranked[row.ranked.length - 1]!;
  const ratio = ratioText(worst.ratio);
  return `${row.metric.label}, ${row.workload}: ${best.strategy} ${formatValue(row.metric.metric, best.est.mean)}, ` +
    `${worst.strategy} ${formatValue(row.metric.metric, worst.est.mean)}${ratio ? `: ${ratio}` : ''}`;
}

/** "buddy-mobility 90.0% ±1.2 > buddy 15.0% ±2.1 (6.0x) ~ bitmap 14.0% ±3 (6.4x)": `~` a tie, `>` told apart. */
export function rankingText(row: FindingRow): string {
  if (row.allEqual) return `all ${formatValue(row.metric.metric, row.ranked[0]!.est.mean)} (${row.ranked.map((r) => r.strategy).join(', ')}): the models do not differ here`;
  return row.ranked.map((r, i) => {
    const v = `${r.strategy} ${estimateText(row.metric.metric, r.est)}`;
    const ratio = i > 0 && r.ratio !== undefined && r.ratio !== 1 ? ` (${ratioText(r.ratio)})` : '';
    return `${i === 0 ? '' : r.tie ? ' ~ ' : ' > '}${v}${ratio}`;
  }).join('');
}

export function wallText(w: WallComparison): string {
  const verdict = w.different ? 'different' : 'not shown different';
  return `${w.workload} @${w.machine}: ${w.faster} ${formatValue('wall_per_s', w.medianFaster)} vs ${w.slower} ${formatValue('wall_per_s', w.medianSlower)} (medians, n=${w.n[0]}+${w.n[1]}): ` +
    `Mann-Whitney p=${w.test.p.toPrecision(2)}, P(faster)=${w.test.effect.toFixed(2)}: ${verdict}`;
}

/** The console's closing section: per experiment its question, its one-line answer and one line per workload and metric. */
export function formatFindings(all: ExperimentFindings[], width = 220): string {
  const out: string[] = [];
  for (const f of all) {
    out.push('', `== ${f.name}: ${f.question}`);
    if (f.sentence) out.push(`   ${f.sentence}`);
    if (f.rows.length === 0) { out.push('   (no headline metric applies to two or more strategies of this experiment)'); continue; }
    const wl = (r: FindingRow): string => `${r.workload} @${r.machine}${r.recorded ? ' [rec]' : ''}`;
    const w1 = Math.min(60, Math.max(...f.rows.map((r) => wl(r).length)));
    const w2 = Math.max(15, ...f.rows.map((r) => r.metric.metric.length + 2));
    let prev = '';
    const line = (name: string, metric: string, text: string): void => {
      out.push(clip(`   ${(name === prev ? '' : name).padEnd(w1)}  ${metric.padEnd(w2)}  ${text}`, width));
      prev = name;
    };
    for (const name of [...new Set(f.rows.map(wl))]) {
      const rows = f.rows.filter((r) => wl(r) === name);
      for (const r of rows.filter((x) => !x.allEqual)) line(name, `${r.metric.metric} ${r.metric.better === 'higher' ? '↑' : '↓'}`, rankingText(r));
      const same = rows.filter((x) => x.allEqual);
      if (same.length) line(name, '(no difference)', `${same.map((r) => `${r.metric.metric} ${formatValue(r.metric.metric, r.ranked[0]!.est.mean)}`).join(', ')}: every strategy the same`);
    }
    for (const w of f.wall) out.push(clip(`   wall clock, ${wallText(w)}`, width));
  }
  out.push('', 'mean±95% CI half-width over seeds (Student t); [rec] a recording: one sample, exact; ~ tie (intervals overlap), > told apart;',
    '(Nx) times worse than the best; ↑/↓ higher/lower is better. Every cell: summary.csv (same column names).');
  return out.join('\n');
}

function clip(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}
