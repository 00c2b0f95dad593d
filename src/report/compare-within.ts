import { AllocbenchError } from '../errors.js';
import { estimate } from '../metrics/statistics.js';
import type { CellResult } from '../run/cell.js';
import { fmtNum } from './compare.js';
import { expandPath, getPath, withDerived, type LoadedRun } from './load-results.js';
import type { Threshold, Thresholds } from './thresholds.js';

/** The matrix axes two strategies (or machines, traces) of one run can be compared along. */
export const AXES = ['page', 'object', 'machine', 'trace'] as const;
export type Axis = (typeof AXES)[number];

/**
 * One metric on one workload (the cell minus the compared axis and the seed): A's and B's values
 * (mean over the seeds both have) and how many times better A is than B, hyperfine-style. `ratio` is
 * B/A for a lower-is-better metric and A/B for a higher-is-better one, so above 1 means A is better;
 * its ± is the sample standard deviation of the per-seed ratios (null with one seed). A ratio is
 * undefined (null) when the divisor is 0.
 */
export interface WithinRow {
  workload: string;
  metric: string;
  better: 'lower' | 'higher';
  a: number;
  b: number;
  seeds: number;
  ratio: number | null;
  ratio_sd: number | null;
}

export interface WithinReport {
  dir: string;
  axis: Axis;
  a: string;
  b: string;
  thresholds_file: string;
  rows: WithinRow[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The cell with the compared axis and the seed left out: the workload both strategies ran. */
function workloadOf(r: CellResult, axis: Axis): string {
  return AXES.filter((x) => x !== axis).map((x) => `${x}=${r.cell[x]}`).join(' ');
}

/**
 * Compares A and B along one axis of one run on every metric the thresholds list (their direction
 * says which way is better), or on the listed metrics only. Cells pair up by workload and seed.
 */
export function compareWithin(run: LoadedRun, axis: Axis, a: string, b: string, thresholds: Thresholds, only: string[] = []): WithinReport {
  const ok = run.results.filter((r) => r.status === 'ok');
  for (const name of [a, b]) {
    if (!ok.some((r) => r.cell[axis] === name)) {
      const have = [...new Set(run.results.map((r) => r.cell[axis]))].join(', ');
      throw new AllocbenchError(`${run.dir}: no ok cell with ${axis} ${name} (the run has: ${have})`);
    }
  }
  // workload -> seed -> the two sides
  const pairs = new Map<string, Map<number, { a?: Record<string, unknown>; b?: Record<string, unknown> }>>();
  for (const r of ok) {
    const side = r.cell[axis] === a ? 'a' : r.cell[axis] === b ? 'b' : null;
    if (!side) continue;
    const w = workloadOf(r, axis);
    let seeds = pairs.get(w);
    if (!seeds) pairs.set(w, (seeds = new Map()));
    const p = seeds.get(r.cell.seed) ?? {};
    p[side] = withDerived(r);
    seeds.set(r.cell.seed, p);
  }
  const rows: WithinRow[] = [];
  for (const [workload, seeds] of [...pairs].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    const both = [...seeds.values()].filter((p) => p.a && p.b) as { a: Record<string, unknown>; b: Record<string, unknown> }[];
    if (both.length === 0) continue;
    const seen = new Set<string>();
    for (const t of thresholds.metrics) {
      for (const path of expandPath(t.path, both.flatMap((p) => [p.a, p.b]))) {
        if (seen.has(path) || (only.length > 0 && !only.includes(path) && !only.includes(t.path))) continue;
        seen.add(path);
        const row = withinRow(workload, path, t, both.map((p) => [num(getPath(p.a, path)), num(getPath(p.b, path))]));
        if (row) rows.push(row);
      }
    }
  }
  if (only.length > 0 && rows.length === 0) throw new AllocbenchError(`no figure of ${only.join(', ')} for both ${a} and ${b} (metrics come from the thresholds file)`);
  return { dir: run.dir, axis, a, b, thresholds_file: thresholds.file, rows };
}

function withinRow(workload: string, metric: string, t: Threshold, values: [number | null, number | null][]): WithinRow | null {
  const v = values.filter((x): x is [number, number] => x[0] !== null && x[1] !== null);
  if (v.length === 0) return null;
  const ratios = v.map(([x, y]) => (t.better === 'lower' ? (x !== 0 ? y / x : null) : (y !== 0 ? x / y : null)))
    .filter((r): r is number => r !== null && Number.isFinite(r));
  const ma = estimate(v.map((x) => x[0])).mean, mb = estimate(v.map((x) => x[1])).mean;
  // the ratio of the means when every seed's ratio is defined; else undefined (a 0 divides)
  const ratio = ratios.length === v.length ? (t.better === 'lower' ? (ma !== 0 ? mb / ma : null) : (mb !== 0 ? ma / mb : null)) : null;
  return { workload, metric, better: t.better, a: ma, b: mb, seeds: v.length, ratio, ratio_sd: ratio !== null && ratios.length > 1 ? estimate(ratios).sd : null };
}

/** "buddy-mobility is 1.8 ± 0.1 times better than buddy", or worse, or the same; values when no ratio exists. */
export function verdictSentence(r: WithinRow, a: string, b: string): string {
  const pm = (x: number, s: number | null): string => (s === null ? fmtRatio(x) : `${fmtRatio(x)} ± ${fmtRatio(s)}`);
  if (r.a === r.b) return `${a} and ${b} are equal`;
  if (r.ratio === null) {
    const aBetter = r.better === 'lower' ? r.a < r.b : r.a > r.b;
    return `${aBetter ? a : b} is better (${a} ${fmtNum(round(r.a))}, ${b} ${fmtNum(round(r.b))}; no ratio: a value is 0)`;
  }
  if (r.ratio >= 1) return `${a} is ${pm(r.ratio, r.ratio_sd)} times better than ${b}`;
  // seen from B: 1/r, its spread by first-order error propagation (s / r²)
  return `${b} is ${pm(1 / r.ratio, r.ratio_sd === null ? null : r.ratio_sd / (r.ratio * r.ratio))} times better than ${a}`;
}

function fmtRatio(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

const round = (x: number): number => Number(x.toPrecision(6));

export function formatWithinText(rep: WithinReport): string {
  const out = [`allocbench compare --by ${rep.axis}: ${rep.a} vs ${rep.b} in ${rep.dir}`, `metrics and directions: ${rep.thresholds_file}`];
  const workloads = [...new Set(rep.rows.map((r) => r.workload))];
  for (const w of workloads) {
    const rows = rep.rows.filter((r) => r.workload === w);
    out.push('', `${w}${rows[0]!.seeds > 1 ? ` (${rows[0]!.seeds} seeds)` : ''}:`);
    for (const r of rows.filter((x) => x.a !== x.b)) {
      out.push(`  ${r.metric} (${r.better} is better): ${verdictSentence(r, rep.a, rep.b)}${r.ratio !== null ? ` (${rep.a} ${fmtNum(round(r.a))}, ${rep.b} ${fmtNum(round(r.b))})` : ''}`);
    }
    const same = rows.filter((x) => x.a === x.b).map((x) => x.metric);
    if (same.length) out.push(`  equal: ${same.join(', ')}`);
  }
  if (rep.rows.length === 0) out.push('', `no workload has cells of both ${rep.a} and ${rep.b}`);
  return out.join('\n') + '\n';
}

export function formatWithinMarkdown(rep: WithinReport): string {
  const out = [`### allocbench compare --by ${rep.axis}: \`${rep.a}\` vs \`${rep.b}\``, '', '| workload | metric | verdict | A | B |', '|---|---|---|---|---|'];
  for (const r of rep.rows) out.push(`| ${r.workload.replace(/\|/g, '\\|')} | ${r.metric} | ${verdictSentence(r, rep.a, rep.b)} | ${fmtNum(round(r.a))} | ${fmtNum(round(r.b))} |`);
  return out.join('\n') + '\n';
}
