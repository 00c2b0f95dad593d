import { AllocbenchError } from '../errors.js';
import { cellKey, type CellResult } from '../run/cell.js';
import { expandPath, getPath, withDerived, type LoadedRun } from './load-results.js';
import type { Threshold, Thresholds } from './thresholds.js';

/**
 * regressed: worse beyond its threshold (gates); within: worse but tolerated; improved / unchanged;
 * new: only the current run has the metric; gone: only the base has it (gates: the gate can no
 * longer vouch for it, e.g. a renamed field, so refresh the baseline deliberately).
 */
export type Verdict = 'regressed' | 'within' | 'improved' | 'unchanged' | 'new' | 'gone';

export interface MetricRow {
  cell: string;
  metric: string;
  better: 'lower' | 'higher';
  base: number | null;
  current: number | null;
  change: number | null;
  /** change / |base|, null when base is 0 or absent */
  rel_change: number | null;
  /** the worsening tolerated for this base value */
  allowed: number;
  verdict: Verdict;
}

/**
 * Cells present on one side only, or whose status changed. A cell that was ok and is now failed, or
 * that was ok and is missing from the current run, regresses (a dropped cell would hide its
 * metrics) unless allowMissing; new cells and cells that were already failing do not.
 */
export interface CellRow {
  cell: string;
  base: 'ok' | 'failed' | 'absent';
  current: 'ok' | 'failed' | 'absent';
  regression: boolean;
  error?: string;
}

/** Wall-clock replay throughput of a cell on each side: shown, never gating (hosts and their load differ). */
export interface WallRow { cell: string; base_events_per_sec: number; current_events_per_sec: number; rel_change: number | null }

export interface CompareReport {
  base_dir: string;
  current_dir: string;
  base_version: string | null;
  current_version: string | null;
  thresholds_file: string;
  thresholds: Threshold[];
  cells_compared: number;
  metrics: MetricRow[];
  cells: CellRow[];
  wall: WallRow[];
  /**
   * Numeric figures (dotted paths, array indices as `*`, wall excluded) that some result of one run
   * has and no result of the other: a renamed or dropped field, or a new one. Informational; the
   * gated ones are also rows with verdict `gone` / `new`.
   */
  only_in_base: string[];
  only_in_current: string[];
  regressions: number;
  ok: boolean;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function compareMetric(cell: string, metric: string, t: Threshold, base: number | null, current: number | null): MetricRow {
  const row: MetricRow = { cell, metric, better: t.better, base, current, change: null, rel_change: null, allowed: 0, verdict: 'unchanged' };
  if (base === null) { row.verdict = 'new'; return row; }
  if (current === null) { row.verdict = 'gone'; return row; }
  row.change = current - base;
  row.rel_change = base !== 0 ? row.change / Math.abs(base) : null;
  row.allowed = Math.max(t.abs ?? 0, (t.rel ?? 0) * Math.abs(base));
  const worse = t.better === 'lower' ? current - base : base - current;
  // results are rounded to 6 decimals; differences below that are float noise, not change
  const eps = 1e-9 * Math.max(1, Math.abs(base));
  row.verdict = worse > row.allowed + eps ? 'regressed' : worse > eps ? 'within' : worse < -eps ? 'improved' : 'unchanged';
  return row;
}

export function compareRuns(base: LoadedRun, current: LoadedRun, thresholds: Thresholds, opts: { allowMissing?: boolean } = {}): CompareReport {
  const b = new Map(base.results.map((r) => [cellKey(r.cell), r] as const));
  const c = new Map(current.results.map((r) => [cellKey(r.cell), r] as const));
  const keys = [...new Set([...b.keys(), ...c.keys()])].sort();
  const pathsB = figurePaths(base.results), pathsC = figurePaths(current.results);
  checkThresholdPaths(thresholds, [...base.results, ...current.results], new Set([...pathsB, ...pathsC]), `${base.dir} or ${current.dir}`);
  const metrics: MetricRow[] = [];
  const cells: CellRow[] = [];
  const wall: WallRow[] = [];
  let compared = 0;
  for (const key of keys) {
    const rb = b.get(key), rc = c.get(key);
    const sb = rb?.status ?? 'absent', sc = rc?.status ?? 'absent';
    if (sb !== 'ok' || sc !== 'ok') {
      const regression = sb === 'ok' && (sc === 'failed' || !opts.allowMissing);
      const row: CellRow = { cell: key, base: sb, current: sc, regression };
      const err = rc?.error ?? rb?.error;
      if (err) row.error = err;
      cells.push(row);
      continue;
    }
    compared++;
    metrics.push(...compareCell(key, rb!, rc!, thresholds.metrics));
    const x = num(rb!.wall.events_per_sec), y = num(rc!.wall.events_per_sec);
    if (x !== null && y !== null) wall.push({ cell: key, base_events_per_sec: x, current_events_per_sec: y, rel_change: x !== 0 ? (y - x) / x : null });
  }
  const regressions = metrics.filter((m) => m.verdict === 'regressed' || m.verdict === 'gone').length + cells.filter((x) => x.regression).length;
  return {
    base_dir: base.dir, current_dir: current.dir,
    base_version: (base.run?.version as string | undefined) ?? null, current_version: (current.run?.version as string | undefined) ?? null,
    thresholds_file: thresholds.file, thresholds: thresholds.metrics,
    cells_compared: compared, metrics, cells, wall,
    only_in_base: [...pathsB].filter((p) => !pathsC.has(p)).sort(),
    only_in_current: [...pathsC].filter((p) => !pathsB.has(p)).sort(),
    regressions, ok: regressions === 0,
  };
}

/**
 * Every numeric figure's path over the ok results (with the derived ones), array indices written `*`
 * so a time series is one path; `wall` is left out (never compared).
 */
export function figurePaths(results: CellResult[]): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'number') { out.add(path); return; }
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) { for (const x of v) walk(x, `${path}.*`); return; }
    for (const [k, x] of Object.entries(v)) {
      if (path === '' && (k === 'wall' || k === 'cell')) continue;
      walk(x, path === '' ? k : `${path}.${k}`);
    }
  };
  for (const r of results) if (r.status === 'ok') walk(withDerived(r), '');
  return out;
}

/**
 * A threshold whose path matches no number in any ok result gates nothing, silently (a misspelt
 * `metrics.larget_free_order` passed every run): refused with exit 2, naming the entry and the
 * nearest known paths. Runs with no ok result on either side have nothing to check against.
 */
function checkThresholdPaths(t: Thresholds, results: CellResult[], known: Set<string>, where: string): void {
  const ok = results.filter((r) => r.status === 'ok').map(withDerived);
  if (ok.length === 0) return;
  t.metrics.forEach((th, i) => {
    if (th.optional) return;
    const found = expandPath(th.path, ok).some((p) => ok.some((o) => num(getPath(o, p)) !== null));
    if (found) return;
    const near = nearest(th.path, [...known]);
    throw new AllocbenchError(`${t.file}: metrics[${i}].path "${th.path}" names no numeric figure of any result in ${where}`
      + (near.length ? ` (did you mean ${near.map((p) => `"${p}"`).join(', ')}?)` : ''));
  });
}

/** Up to 3 known paths closest to `path` by edit distance (array indices and wildcards compared as `*`). */
function nearest(path: string, known: string[]): string[] {
  const norm = path.replace(/\.\d+(?=\.|$)/g, '.*');
  const scored = known.map((k) => ({ k, d: editDistance(norm, k) })).sort((a, b) => a.d - b.d || (a.k < b.k ? -1 : 1));
  const limit = Math.max(3, Math.floor(norm.length / 3));
  return scored.filter((x) => x.d <= limit).slice(0, 3).map((x) => x.k);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function compareCell(key: string, rb: CellResult, rc: CellResult, thresholds: Threshold[]): MetricRow[] {
  const vb = withDerived(rb), vc = withDerived(rc);
  const rows: MetricRow[] = [];
  const seen = new Set<string>();
  for (const t of thresholds) {
    for (const path of expandPath(t.path, [vb, vc])) {
      // the first threshold that names a metric wins, so a specific entry before a wildcard overrides it
      if (seen.has(path)) continue;
      seen.add(path);
      const x = num(getPath(vb, path)), y = num(getPath(vc, path));
      if (x === null && y === null) continue;
      rows.push(compareMetric(key, path, t, x, y));
    }
  }
  return rows;
}

// ---- formatting -------------------------------------------------------------------------------

export function fmtNum(v: number | null): string {
  if (v === null) return '—';
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

function fmtChange(m: { change?: number | null; rel_change: number | null; base?: number | null; current?: number | null }): string {
  const change = m.change ?? (m.base != null && m.current != null ? m.current - m.base : null);
  if (change === null) return '—';
  const abs = `${change > 0 ? '+' : ''}${fmtNum(change)}`;
  return m.rel_change === null ? abs : `${abs} (${m.rel_change > 0 ? '+' : ''}${(m.rel_change * 100).toFixed(1)}%)`;
}

function fmtPct(r: number | null): string {
  return r === null ? '—' : `${r > 0 ? '+' : ''}${(r * 100).toFixed(1)}%`;
}

function tolerance(m: MetricRow): string {
  return `${m.better} better, ±${fmtNum(m.allowed)}`;
}

const SECTIONS: [Verdict[], string][] = [
  [['regressed', 'gone'], 'Regressions (worse beyond threshold)'],
  [['improved'], 'Improvements'],
  [['within'], 'Worse but within tolerance'],
  [['new'], 'New metrics (not in base)'],
];

function counts(r: CompareReport): string {
  const n = (v: Verdict): number => r.metrics.filter((m) => m.verdict === v).length;
  const onlyBase = r.cells.filter((x) => x.current === 'absent').length;
  const onlyCur = r.cells.filter((x) => x.base === 'absent').length;
  return `${r.cells_compared} cells compared (${onlyBase} only in base, ${onlyCur} only in current, ${r.cells.length - onlyBase - onlyCur} with a failed side); `
    + `${r.metrics.length} metric values: ${n('regressed') + n('gone')} regressed, ${n('improved')} improved, ${n('within')} worse within tolerance, ${n('unchanged')} unchanged, ${n('new')} new`;
}

function verdictLine(r: CompareReport): string {
  return r.ok ? 'OK: no deterministic metric worsened beyond its threshold' : `REGRESSION: ${r.regressions} finding(s) beyond threshold`;
}

function versionNote(r: CompareReport): string | null {
  return r.base_version !== r.current_version ? `note: versions differ (base ${r.base_version ?? '?'}, current ${r.current_version ?? '?'})` : null;
}

function textTable(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

const METRIC_HEAD = ['cell', 'metric', 'base', 'current', 'change', 'threshold'];
const metricCells = (m: MetricRow): string[] => [m.cell, m.metric, fmtNum(m.base), fmtNum(m.current), fmtChange(m), tolerance(m)];
const cellHead = ['cell', 'base', 'current', 'gates', 'error'];
const cellCells = (x: CellRow): string[] => [x.cell, x.base, x.current, x.regression ? 'yes' : 'no', (x.error ?? '').replace(/\s+/g, ' ').slice(0, 160)];
const WALL_HEAD = ['cell', 'base events/s', 'current events/s', 'change'];
const wallCells = (w: WallRow): string[] => [w.cell, fmtNum(w.base_events_per_sec), fmtNum(w.current_events_per_sec), fmtPct(w.rel_change)];

export function formatText(r: CompareReport): string {
  const out: string[] = [`allocbench compare: ${r.base_dir} -> ${r.current_dir}`, `thresholds: ${r.thresholds_file}`];
  const v = versionNote(r);
  if (v) out.push(v);
  out.push(counts(r), verdictLine(r));
  for (const [verdicts, title] of SECTIONS) {
    const rows = r.metrics.filter((m) => verdicts.includes(m.verdict));
    if (rows.length) out.push('', `${title}:`, textTable(METRIC_HEAD, rows.map(metricCells)));
  }
  if (r.cells.length) out.push('', 'Cells missing on one side or failed:', textTable(cellHead, r.cells.map(cellCells)));
  for (const [title, paths] of oneSided(r)) out.push('', `${title}:`, ...paths.map((p) => `  ${p}`));
  if (r.wall.length) out.push('', 'Wall clock (this machine vs the base\'s; informational, never gates):', textTable(WALL_HEAD, r.wall.map(wallCells)));
  return out.join('\n') + '\n';
}

function oneSided(r: CompareReport): [string, string[]][] {
  const out: [string, string[]][] = [];
  if (r.only_in_base.length) out.push([`Figures only in the base (${r.base_dir})`, r.only_in_base]);
  if (r.only_in_current.length) out.push([`Figures only in the current run (${r.current_dir})`, r.only_in_current]);
  return out;
}

/** Rows per markdown section: a PR comment is limited to 65536 characters. */
const MD_ROWS = 60;

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(head: string[], rows: string[][]): string {
  const shown = rows.slice(0, MD_ROWS);
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...shown.map((r) => `| ${r.map(mdEscape).join(' | ')} |`)];
  if (rows.length > shown.length) lines.push('', `… and ${rows.length - shown.length} more (see \`--format json\`)`);
  return lines.join('\n');
}

export function formatMarkdown(r: CompareReport): string {
  const out: string[] = ['### allocbench compare', '', `${r.ok ? '✅' : '❌'} **${verdictLine(r)}**`, '', counts(r) + '.', ''];
  out.push(`Base \`${r.base_dir}\` → current \`${r.current_dir}\`; thresholds \`${r.thresholds_file.split('/').pop()}\`.`);
  const v = versionNote(r);
  if (v) out.push('', `_${v}_`);
  for (const [verdicts, title] of SECTIONS) {
    const rows = r.metrics.filter((m) => verdicts.includes(m.verdict));
    if (!rows.length) continue;
    const table = mdTable(METRIC_HEAD, rows.map(metricCells));
    // regressions are shown open; the rest folded so the comment stays short
    out.push('', verdicts.includes('regressed') ? `#### ${title}\n\n${table}` : `<details><summary>${title} (${rows.length})</summary>\n\n${table}\n\n</details>`);
  }
  if (r.cells.length) out.push('', `#### Cells missing on one side or failed\n\n${mdTable(cellHead, r.cells.map(cellCells))}`);
  for (const [title, paths] of oneSided(r)) {
    out.push('', `<details><summary>${title} (${paths.length})</summary>\n\n${paths.slice(0, MD_ROWS).map((p) => `- \`${p}\``).join('\n')}\n\n</details>`);
  }
  if (r.wall.length) out.push('', `<details><summary>Wall clock (informational, never gates; CI runners are noisy)</summary>\n\n${mdTable(WALL_HEAD, r.wall.map(wallCells))}\n\n</details>`);
  return out.join('\n') + '\n';
}

export function formatJson(r: CompareReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}
