import { estimate } from '../../metrics/statistics.js';
import type { CellResult } from '../../run/cell.js';
import { expandPath, getPath, withDerived } from '../load-results.js';
import type { Threshold } from '../thresholds.js';

/**
 * One figure of one benchmark, as the continuous-benchmarking tools take it: a benchmark is a cell
 * without its seed (trace|machine|page|object), and the seeds of a cell are its samples.
 */
export interface Figure {
  benchmark: string;
  metric: string;
  unit: string;
  better: 'lower' | 'higher';
  /** mean over the seeds */
  value: number;
  min: number;
  max: number;
  /** sample standard deviation over the seeds; null with one seed */
  sd: number | null;
  seeds: number;
}

/** An export format (hyperfine's src/export/ style): a file per format behind this interface. */
export interface Exporter {
  /** the command-line option that writes it, e.g. export-json */
  readonly option: string;
  readonly describe: string;
  serialize(figures: Figure[]): string;
}

/**
 * Wall-clock replay throughput: what a dashboard of "is it faster" tracks. Never gated by compare
 * (hosts differ), but Bencher and github-action-benchmark keep their own history and thresholds.
 */
const WALL: Threshold = { path: 'wall.events_per_sec', better: 'higher' };

/** The unit of a figure, from its name. */
export function unitOf(path: string): string {
  if (path === WALL.path) return 'events/s';
  if (/(^|\.)p\d+$|_ns$/.test(path)) return 'ns';
  if (/bytes$/.test(path)) return 'bytes';
  if (/order$/.test(path)) return 'order';
  if (/(allocs|errors)$/.test(path)) return 'count';
  if (/per_sec$/.test(path)) return 'events/s';
  return 'fraction';
}

/**
 * Every metric the thresholds list (in their direction) for every ok cell, plus the wall-clock
 * events/s, gathered over seeds. Sorted by benchmark, then in the thresholds' order.
 */
export function collectFigures(results: CellResult[], thresholds: Threshold[]): Figure[] {
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const key = `${r.cell.trace}|${r.cell.machine}|${r.cell.page}|${r.cell.object}`;
    const g = groups.get(key) ?? [];
    g.push(withDerived(r));
    groups.set(key, g);
  }
  const out: Figure[] = [];
  for (const [benchmark, cells] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const seen = new Set<string>();
    for (const t of [...thresholds, WALL]) {
      for (const metric of expandPath(t.path, cells)) {
        if (seen.has(metric)) continue;
        seen.add(metric);
        const xs = cells.map((c) => getPath(c, metric)).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
        if (xs.length === 0) continue;
        const e = estimate(xs);
        out.push({ benchmark, metric, unit: unitOf(metric), better: t.better, value: e.mean, min: Math.min(...xs), max: Math.max(...xs), sd: xs.length > 1 ? e.sd : null, seeds: xs.length });
      }
    }
  }
  return out;
}

/**
 * github-action-benchmark's `customSmallerIsBetter` / `customBiggerIsBetter` input: a JSON array of
 * { name, unit, value, range?, extra? } (range is a free-form string, extra a tooltip line). The
 * action takes one direction per file, so each of its two exporters keeps the figures of one.
 */
export function customBenchmarkJson(figures: Figure[], better: 'lower' | 'higher'): string {
  const entries = figures.filter((f) => f.better === better).map((f) => ({
    name: `${f.benchmark} ${f.metric}`,
    unit: f.unit,
    value: f.value,
    ...(f.sd !== null ? { range: `± ${Number(f.sd.toPrecision(4))}` } : {}),
    extra: f.seeds > 1 ? `${f.seeds} seeds, min ${f.min}, max ${f.max}` : '1 seed',
  }));
  return JSON.stringify(entries, null, 2) + '\n';
}
