/**
 * The report's fidelity section (issue 13, docs/fidelity.md): for every replayed kernel recording
 * with before/ and after/ snapshots, the scorecard of each cell against the real after-state,
 * beside the two naive predictors ("nothing changes": after = before; "start empty": the same
 * replay from an empty machine, in the cell's metrics.start_empty). html.ts imports this section;
 * nothing here imports html.ts.
 */
import type { CellResult } from '../run/cell.js';
import { recordingState, scoreCell, type ScoreLine } from '../metrics/fidelity.js';
import { checkTargets, formatFigure, loadFidelityTargets, targetLines, type FidelityTargets } from '../metrics/fidelity-targets.js';
import { traceName } from '../trace/load.js';
import type { LoadedRun } from './load-results.js';

/** HTML text escape (the five characters that matter in text and attribute values). */
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));

/** A score cell, marked when the model beats both predictors. */
function scoreCells(l: ScoreLine): string {
  const best = l.log2_count_error < l.baselines.nothing_changes.log2_count_error && l.log2_count_error < (l.baselines.start_empty?.log2_count_error ?? Infinity);
  return `<td class="n"${best ? ' style="font-weight:bold"' : ''}>${fmt(l.log2_count_error)}</td><td class="n">${fmt(l.baselines.nothing_changes.log2_count_error)}</td><td class="n">${fmt(l.baselines.start_empty?.log2_count_error)}</td>`
    + `<td class="n">${fmt(l.max_unusable_delta)}</td><td class="n">${fmt(l.baselines.nothing_changes.max_unusable_delta)}</td><td class="n">${fmt(l.baselines.start_empty?.max_unusable_delta)}</td>`;
}

/**
 * The answer at a glance: per recording, the targets' page strategy on its largest zone against each
 * target of fidelity-targets.json (issues 13 and 14), met or not.
 */
function targetSummary(lines: ScoreLine[], t: FidelityTargets): string {
  const shown = targetLines(lines, t);
  if (shown.length === 0) return '';
  const head = t.targets.map((x) => `<th>#${x.issue} ${esc(x.label)}</th>`).join('');
  const checks = shown.map((l) => checkTargets(l, t));
  const rows = shown.map((l, i) => `<tr><td>${esc(l.recording)}</td><td>${esc(l.zone)}</td><td>${esc(l.object)}</td><td>${esc(l.layers)}, from ${esc(l.start_from)}</td>` + checks[i]!.map((c) =>
    `<td class="n" style="color:${c.met === undefined ? 'inherit' : c.met ? '#1a7f37' : '#cf222e'}" title="target ${esc(c.limit)}">${esc(formatFigure(c))} ${c.met === undefined ? '' : c.met ? '✓' : '✗'}</td>`).join('') + '</tr>').join('');
  const met = checks.map((cs) => cs.filter((c) => c.met === true).length);
  return `<p><b>Targets</b> (<code>fidelity-targets.json</code>: issues 13 and 14), ${esc(t.page)} on each recording's largest zone,
as <code>allocbench fidelity</code> checks them: ${shown.map((l, i) => `${esc(l.recording)}${shown.filter((x) => x.recording === l.recording).length > 1 ? ` (${esc(l.object)}, ${esc(l.layers)})` : ''} meets ${met[i]} of ${t.targets.length}`).join(', ')}.
Hover a figure for its target.</p>
<table><tr><th>recording</th><th>zone</th><th>object</th><th>replay</th>${head}</tr>${rows}</table>`;
}

export function kernelComparisonSection(run: LoadedRun): string {
  const inputs = ((run.run?.inputs ?? {}) as { traces?: string[] }).traces ?? [];
  const parts: string[] = [];
  const all: ScoreLine[] = [];
  for (const path of inputs) {
    const real = recordingState(path);
    if (real === undefined) continue;
    const name = traceName(path);
    const cells = run.results.filter((r: CellResult) => r.cell.trace === name && r.status === 'ok');
    if (cells.length === 0) continue;
    const lines = cells.flatMap((r) => scoreCell(name, real, r).map((l) => ({ l, r })));
    all.push(...lines.map(({ l }) => l));
    // the page strategy with the kernel rules it followed (cell.ts page_rules: the machine's kernel unless the spec named one)
    const rules = (r: CellResult): string => (typeof r.metrics.page_rules === 'string' ? ` (${r.metrics.page_rules} rules)` : '');
    const rows = lines.map(({ l, r }) => `<tr><td>${esc(l.zone)}${l.largest ? ' (largest)' : ''}</td><td>${esc(l.page)}${esc(rules(r))}</td><td>${esc(l.object)}</td><td>${esc(r.cell.machine)}</td>`
      + `<td>${esc(l.layers)}, from ${esc(l.start_from)}</td>${scoreCells(l)}`
      + `<td class="n">${l.extfrag.recorded} / ${l.extfrag.simulated}</td><td class="n">${l.pages_in_use ? `${l.pages_in_use.sim_end} / ${l.pages_in_use.real_end}` : '–'}</td><td class="n">${r.trace_errors}</td></tr>`).join('');
    const mobility = lines.find(({ l }) => l.largest && l.page === 'buddy-mobility')?.l;
    const detail = mobility === undefined ? '' : `<p>${esc(mobility.zone)}, buddy-mobility: free blocks per order, real after <code>${mobility.real.join(' ')}</code>, simulated <code>${mobility.sim.join(' ')}</code>;
free pages by type real <code>${esc(JSON.stringify(mobility.free_pages_by_type.real))}</code>, simulated <code>${esc(JSON.stringify(mobility.free_pages_by_type.sim))}</code>;
pageblocks real <code>${esc(JSON.stringify(mobility.pageblocks.real))}</code>, simulated <code>${esc(JSON.stringify(mobility.pageblocks.sim))}</code>.</p>`;
    parts.push(`<section class="kernel" id="kernel-${esc(name)}"><h3>${esc(name)}</h3>
<p>Recorded from a real kernel (<code>${esc(path)}</code>). Each cell replays it on the recorded machine from the recorded before-state
(unless the run said otherwise: the "replay" column); the scores compare its end state with the kernel's after-state.
<b>log2 error</b>: mean over orders of |log2((sim+1)/(real+1))| of the free block counts (0 = identical, 1 = a factor of two per order);
<b>unusable Δ</b>: max over orders of |Δ unusable_index|. Beside each: the naive predictors "nothing changes" (after = before) and
"start empty" (the same replay from an empty machine). Bold: the model beats both. See docs/fidelity.md.</p>
<table><tr><th>zone</th><th>page</th><th>object</th><th>machine</th><th>replay</th><th>log2 error</th><th>nothing changes</th><th>start empty</th>
<th>unusable Δ</th><th>nothing changes</th><th>start empty</th><th>extfrag real / sim</th><th>pages in use sim / real</th><th>trace errors</th></tr>${rows}</table>
${detail}
</section>`);
  }
  return parts.length ? `<h2>Fidelity: the models against real kernels</h2>\n${targetSummary(all, loadFidelityTargets())}\n${parts.join('\n')}` : '';
}
