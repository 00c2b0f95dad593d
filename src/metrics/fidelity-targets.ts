/**
 * The fidelity targets (fidelity-targets.json at the package root: issues 13 and 14) checked
 * against scorecard lines (metrics/fidelity.ts), for `allocbench fidelity`, `npm run
 * bench:fidelity` and the report's fidelity section alike. Each target bounds one figure derived
 * from a line; the data file names them, so a target is changed there, not in code.
 */
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';
import { readJsonFile } from '../json-file.js';
import { lineLabel, log2CountError, type ScoreLine } from './fidelity.js';

/** The figures of a scorecard line a target can bound (undefined: the line has no data for it). */
const FIGURES = {
  log2_count_error: (l: ScoreLine): number => l.log2_count_error,
  /** the better (smaller) naive predictor's log2 error over the model's: how many times better the model is */
  predictor_ratio: (l: ScoreLine): number | undefined => {
    const p = Math.min(l.baselines.nothing_changes.log2_count_error, l.baselines.start_empty?.log2_count_error ?? Infinity);
    return Number.isNaN(p) ? undefined : l.log2_count_error === 0 ? Infinity : p / l.log2_count_error;
  },
  pages_in_use_error: (l: ScoreLine): number | undefined => l.pages_in_use?.rel_error,
  max_unusable_delta: (l: ScoreLine): number => l.max_unusable_delta,
  pageblock_error: (l: ScoreLine): number => {
    let worst = 0;
    for (const [t, r] of Object.entries(l.pageblocks.real)) if (r > 0) worst = Math.max(worst, Math.abs((l.pageblocks.sim[t] ?? 0) - r) / r);
    return worst;
  },
  refill_error: (l: ScoreLine): number | undefined => l.pcp && relError(l.pcp.refill_blocks),
  drain_error: (l: ScoreLine): number | undefined => l.pcp && relError(l.pcp.drain_blocks),
} satisfies Record<string, (l: ScoreLine) => number | undefined>;

type Figure = keyof typeof FIGURES;

/** How a figure prints: a ratio ("2.50x"), a relative error ("3.9%") or a plain number ("0.326"). */
const KIND: Record<Figure, 'ratio' | 'fraction' | 'plain'> = {
  log2_count_error: 'plain', predictor_ratio: 'ratio', pages_in_use_error: 'fraction', max_unusable_delta: 'plain',
  pageblock_error: 'fraction', refill_error: 'fraction', drain_error: 'fraction',
};

const relError = (x: { real: number; sim: number }): number => (x.real === 0 ? (x.sim === 0 ? 0 : Infinity) : Math.abs(x.sim - x.real) / x.real);

export interface FidelityTarget { id: string; issue: number; label: string; figure: Figure; max?: number; min?: number }
export interface FidelityTargets { page: string; targets: FidelityTarget[] }

/** One target checked on one line: `met` undefined when the line has no data for its figure. */
export interface TargetCheck { id: string; issue: number; label: string; figure: Figure; value: number | undefined; limit: string; met: boolean | undefined }

export const DEFAULT_FIDELITY_TARGETS_FILE = fileURLToPath(new URL('../../fidelity-targets.json', import.meta.url));

/** fidelity-targets.json, checked: every target names a known figure and exactly one of max / min. */
export function loadFidelityTargets(file = DEFAULT_FIDELITY_TARGETS_FILE): FidelityTargets {
  const bad = (why: string): never => { throw new AllocbenchError(`${file}: ${why}`); };
  const raw = readJsonFile(file, 'fidelity targets');
  if (typeof raw !== 'object' || raw === null) bad('expected an object with "page" and "targets"');
  const d = raw as { page?: unknown; targets?: unknown };
  if (typeof d.page !== 'string') bad('"page" must name a page strategy');
  if (!Array.isArray(d.targets)) bad('"targets" must be an array');
  const targets = (d.targets as unknown[]).map((x, i) => {
    if (typeof x !== 'object' || x === null) bad(`targets[${i}]: expected an object`);
    const t = x as Record<string, unknown>;
    if (typeof t.id !== 'string' || typeof t.label !== 'string' || typeof t.issue !== 'number') bad(`targets[${i}]: expected "id", "label" (strings) and "issue" (a number)`);
    if (typeof t.figure !== 'string' || !Object.hasOwn(FIGURES, t.figure)) bad(`targets[${i}]: "figure" must be one of ${Object.keys(FIGURES).join(', ')}`);
    if ((typeof t.max === 'number') === (typeof t.min === 'number')) bad(`targets[${i}]: give exactly one of "max" and "min" (a number)`);
    return t as unknown as FidelityTarget;
  });
  return { page: d.page as string, targets };
}

/** Every target checked on line `l`. */
export function checkTargets(l: ScoreLine, t: FidelityTargets): TargetCheck[] {
  return t.targets.map((x) => {
    const value = FIGURES[x.figure](l);
    const limit = x.max !== undefined ? `≤ ${formatValue(x.figure, x.max)}` : `≥ ${formatValue(x.figure, x.min!)}`;
    const met = value === undefined ? undefined : x.max !== undefined ? value <= x.max : value >= x.min!;
    return { id: x.id, issue: x.issue, label: x.label, figure: x.figure, value, limit, met };
  });
}

/** The lines the targets are checked on: the targets' page strategy on each recording's largest zone. */
export function targetLines(lines: readonly ScoreLine[], t: FidelityTargets): ScoreLine[] {
  return lines.filter((l) => l.largest && l.page === t.page);
}

function formatValue(figure: Figure, v: number): string {
  if (v === Infinity) return '∞';
  const kind = KIND[figure];
  return kind === 'ratio' ? `${v.toFixed(2)}x` : kind === 'fraction' ? `${+(v * 100).toFixed(1)}%` : `${+v.toFixed(3)}`;
}

/** A checked figure as printed ("0.326", "1.84x", "3.9%"; "-" when the line has no data for it). */
export function formatFigure(c: TargetCheck): string {
  return c.value === undefined ? '-' : formatValue(c.figure, c.value);
}

/** The text block `allocbench fidelity` and bench:fidelity print: per recording, each target and whether it is met. */
export function formatTargetChecks(lines: readonly ScoreLine[], t: FidelityTargets): string {
  const checked = targetLines(lines, t);
  const label = lineLabel(checked);
  const perLine = checked.map((l) => {
    const checks = checkTargets(l, t);
    const byIssue = [...new Set(checks.map((c) => c.issue))].map((issue) => `  issue ${issue}: ` + checks.filter((c) => c.issue === issue)
      .map((c) => `${c.label} ${formatFigure(c)} (${c.limit}) ${c.met === undefined ? 'n/a' : c.met ? 'MET' : 'NOT MET'}`).join('; '));
    return `${label(l)} ${l.zone} ${l.page} --layers ${l.layers}:\n${byIssue.join('\n')}`;
  });
  const spread = runSpreads(checked, t).map((r) =>
    `${r.recording}: ${r.runs} runs, log2 error mean ${+r.mean.toFixed(3)} (${+r.min.toFixed(3)}-${+r.max.toFixed(3)}); every target met in `
    + r.met.map((m) => `${m.runs} of ${r.runs} (issue ${m.issue})`).join(', ')
    + `; the real runs differ from each other by ${+r.kernel.mean.toFixed(3)} (${+r.kernel.min.toFixed(3)}-${+r.kernel.max.toFixed(3)})`);
  return perLine.join('\n') + (spread.length === 0 ? '' : `\nruns of one workload (recordings of the same name):\n  ${spread.join('\n  ')}`);
}

/**
 * Recordings of one workload (scorecard lines of the same recording name: the same workload run
 * again) summed up: a workload's end state varies from run to run, so one run's MET or NOT MET is
 * partly chance; the spread over runs says how far the model is from the kernel on that workload.
 * `kernel`: the real after-states scored against each other, pair by pair (the same log2 error):
 * how far apart two runs of the kernel itself end.
 */
export interface RunSpread {
  recording: string; runs: number; mean: number; min: number; max: number; met: { issue: number; runs: number }[];
  kernel: { mean: number; min: number; max: number };
}

export function runSpreads(checked: readonly ScoreLine[], t: FidelityTargets): RunSpread[] {
  const byName = new Map<string, ScoreLine[]>();
  for (const l of checked) {
    const ls = byName.get(l.recording);
    if (ls === undefined) byName.set(l.recording, [l]);
    else ls.push(l);
  }
  return [...byName].filter(([, ls]) => ls.length > 1).map(([recording, ls]) => {
    const errs = ls.map((l) => l.log2_count_error);
    const checks = ls.map((l) => checkTargets(l, t));
    const issues = [...new Set(t.targets.map((x) => x.issue))];
    const pairs: number[] = [];
    for (let i = 0; i < ls.length; i++) for (let j = i + 1; j < ls.length; j++) pairs.push(log2CountError(ls[i]!.real, ls[j]!.real));
    return {
      recording, runs: ls.length, mean: errs.reduce((a, b) => a + b, 0) / ls.length, min: Math.min(...errs), max: Math.max(...errs),
      met: issues.map((issue) => ({ issue, runs: checks.filter((cs) => cs.every((c) => c.issue !== issue || c.met !== false)).length })),
      kernel: { mean: pairs.reduce((a, b) => a + b, 0) / pairs.length, min: Math.min(...pairs), max: Math.max(...pairs) },
    };
  });
}
