import type { CellResult } from '../run/cell.js';
import { traceName } from '../trace/load.js';
import { findSnapshots } from '../trace/snapshots.js';
import { escapeHtml } from './html.js';
import type { LoadedRun } from './load-results.js';

const SHOWN = ['buddyinfo', 'unusable_index', 'extfrag_index'] as const;

/** A simulated end state as /proc/buddyinfo lines, from a result's per-zone free blocks. */
function simulatedBuddyinfo(r: CellResult): string {
  const zones = (r.metrics.zones ?? {}) as Record<string, { free_blocks?: number[] }>;
  return Object.entries(zones)
    .map(([name, z]) => `Node 0, zone ${name.padStart(8)} ${(z.free_blocks ?? []).map((n) => String(n).padStart(6)).join(' ')} `)
    .join('\n');
}

function num(v: unknown): string {
  return typeof v === 'number' ? String(v) : '';
}

/**
 * For every replayed trace recorded from a real kernel (scripts/record-kernel-trace.sh), the
 * kernel's own before/after buddyinfo and extfrag indices beside each model's end state, and the
 * recorded mm_page_alloc_extfrag count beside each model's simulated fallbacks: how close each
 * model comes to the real kernel. Empty when no trace has snapshots.
 */
export function kernelComparisonSection(run: LoadedRun): string {
  const inputs = ((run.run?.inputs ?? {}) as { traces?: string[] }).traces ?? [];
  const parts: string[] = [];
  for (const path of inputs) {
    const snaps = findSnapshots(path);
    if (!snaps) continue;
    const name = traceName(path);
    const cells = run.results.filter((r) => r.cell.trace === name && r.status === 'ok');
    if (cells.length === 0) continue;
    const rows = cells.map((r) => {
      const m = r.metrics as Record<string, any>;
      return `<tr><td>${escapeHtml(r.cell.page)}</td><td>${escapeHtml(r.cell.object)}</td><td>${escapeHtml(r.cell.machine)}</td>`
        + `<td class="n">${num(m.recorded_extfrag)}</td><td class="n">${num(m.page_counters?.extfrag_events ?? 0)}</td>`
        + `<td class="n">${num(m.page_counters?.extfrag_fragmenting ?? 0)}</td><td class="n">${num(r.trace_errors)}</td></tr>`;
    }).join('');
    const real = (when: 'before' | 'after') => SHOWN.filter((f) => snaps[when][f] !== undefined)
      .map((f) => `<div><h4>real kernel, ${when}: ${f}</h4><pre>${escapeHtml(snaps[when][f]!)}</pre></div>`).join('');
    // one simulated end state per page strategy (the page layer is what buddyinfo shows)
    const byPage = new Map<string, CellResult>();
    for (const r of cells) if (!byPage.has(r.cell.page)) byPage.set(r.cell.page, r);
    const sim = [...byPage.values()].map((r) => `<div><h4>${escapeHtml(r.cell.page)} (with ${escapeHtml(r.cell.object)}, ${escapeHtml(r.cell.machine)}): buddyinfo at the end</h4><pre>${escapeHtml(simulatedBuddyinfo(r))}</pre></div>`).join('');
    parts.push(`<section class="kernel" id="kernel-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>
<p>Recorded from a real kernel (<code>${escapeHtml(path)}</code>). The simulated machine starts with all memory free, the
recorded kernel did not: compare how the state moves from before to after, and the fallback counts, rather than absolute numbers.
Frees of memory allocated before tracing began are counted as trace errors.</p>
<table><tr><th>page</th><th>object</th><th>machine</th><th>recorded mm_page_alloc_extfrag</th><th>simulated fallbacks</th><th>simulated fragmenting fallbacks</th><th>trace errors</th></tr>${rows}</table>
<div class="kernel-real">${real('before')}${real('after')}</div>
<div class="kernel-sim">${sim}</div>
</section>`);
  }
  return parts.length ? `<h2>Real kernel vs the models</h2>\n${parts.join('\n')}` : '';
}
