import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';
import type { CellResult } from '../run/cell.js';
import { mainZone, type LoadedRun } from './load-results.js';
import type { ChartSpec } from './specs.js';
import { kernelComparisonSection } from './kernel-comparison.js';

/** The browser bundles inlined into the page, in load order (vega-lite and vega-embed read the globals before them). */
export const LIBRARIES = [
  ['vega', 'build/vega.min.js'],
  ['vega-lite', 'build/vega-lite.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
] as const;

/** Finds node_modules/<pkg>/<rel> the way Node resolves packages (these packages do not export package.json). */
export function packageFile(pkg: string, rel: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = join(dir, 'node_modules', pkg, rel);
    if (existsSync(f)) return f;
    const up = dirname(dir);
    if (up === dir) throw new AllocbenchError(`cannot find ${pkg}/${rel} in node_modules (run npm ci)`);
    dir = up;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Script text that cannot end its <script> element early. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON inside <script type="application/json">: `<` escaped so no `</script>` or `<!--` can appear. */
function jsonSafe(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined) return '';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toFixed(digits);
}

interface Column { head: string; title: string; get: (r: CellResult) => number | string | undefined; digits?: number }

/** The per-cell summary, deterministic columns first, the wall-clock column last and marked as such. */
const SUMMARY: Column[] = [
  { head: 'trace', title: 'trace', get: (r) => r.cell.trace },
  { head: 'machine', title: 'machine', get: (r) => r.cell.machine },
  { head: 'page', title: 'page strategy', get: (r) => r.cell.page },
  { head: 'object', title: 'object strategy', get: (r) => r.cell.object },
  { head: 'seed', title: 'seed', get: (r) => r.cell.seed },
  { head: 'status', title: 'ok or failed', get: (r) => r.status },
  { head: 'events', title: 'events replayed', get: (r) => r.events },
  { head: 'trace errors', title: 'unknown/double frees etc., counted and skipped', get: (r) => r.trace_errors },
  { head: 'failed allocs', title: 'allocations the machine could not serve', get: (r) => r.failed_allocs },
  { head: 'largest free order', title: 'largest free block at the end (-1: none)', get: (r) => num(r.metrics.largest_free_order) },
  { head: 'unusable idx 9', title: 'unusable free space index at order 9, main zone, at the end (lower is better)', get: (r) => num(mainZone(r)?.unusable_index?.[9]) },
  { head: 'high-order rate', title: 'success fraction of page allocations of order >= 1', get: (r) => num((r.metrics.highorder as { rate?: unknown } | undefined)?.rate) },
  { head: 'order≥9 at rest', title: 'success of order >= 9 allocations in the at_rest phase', get: (r) => num((r.metrics.highorder_success as { at_rest?: unknown } | undefined)?.at_rest) },
  { head: 'probe o9', title: 'end-of-run order-9 probe: allocated / possible', get: (r) => num((r.metrics.probe_order9 as { fraction?: unknown } | undefined)?.fraction) },
  { head: 'waste (B)', title: 'internal waste bytes of the object layer at the end', get: (r) => num((r.metrics.waste as { internal_waste_bytes?: unknown } | undefined)?.internal_waste_bytes) },
  { head: 'utilization', title: 'peak requested / peak held (malloc-lab U)', get: (r) => num((r.metrics.waste as { utilization?: unknown } | undefined)?.utilization) },
  { head: 'sim ev/s', title: 'simulated events per second (cost model, deterministic)', get: (r) => num(r.metrics.sim_events_per_sec), digits: 0 },
  { head: 'wall ev/s', title: 'wall-clock events per second on the machine that ran it (noisy, not gated)', get: (r) => num(r.wall.events_per_sec), digits: 0 },
];

function summaryTable(results: CellResult[]): string {
  // a column no cell has (older results) is left out
  const cols = SUMMARY.filter((c) => results.some((r) => c.get(r) !== undefined && !(r.status === 'failed' && typeof c.get(r) === 'number')));
  const head = cols.map((c) => `<th title="${escapeHtml(c.title)}"${c.head === 'wall ev/s' ? ' class="wall"' : ''}>${escapeHtml(c.head)}</th>`).join('');
  const body = results.map((r) => {
    if (r.status === 'failed') {
      const id = cols.slice(0, 6).map((c) => `<td>${escapeHtml(String(c.get(r) ?? ''))}</td>`).join('');
      return `<tr class="failed">${id}<td colspan="${cols.length - 6}" class="error">${escapeHtml(r.error ?? 'failed (no error recorded)')}</td></tr>`;
    }
    const tds = cols.map((c) => {
      const v = c.get(r);
      const s = typeof v === 'number' ? fmt(v, c.digits ?? 3) : (v ?? '');
      return `<td${typeof v === 'number' ? ' class="n"' : ''}>${escapeHtml(s)}</td>`;
    }).join('');
    return `<tr>${tds}</tr>`;
  }).join('\n');
  return `<table class="summary"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function list(v: unknown): string {
  return Array.isArray(v) && v.length ? v.map((x) => `<code>${escapeHtml(String(x))}</code>`).join(', ') : '<em>none</em>';
}

function inputsSection(run: Record<string, unknown> | null, results: CellResult[]): string {
  if (!run) return `<p>No run.json in this directory; ${results.length} cells.</p>`;
  const inputs = (run.inputs ?? {}) as Record<string, unknown>;
  const axes = (run.axes ?? {}) as Record<string, unknown>;
  const machines = (run.machines ?? {}) as Record<string, { description?: string; cpus?: number }>;
  const rows: [string, string][] = [
    ['allocbench version', `<code>${escapeHtml(String(run.version ?? '?'))}</code>`],
    ['node', `<code>${escapeHtml(String(run.node ?? '?'))}</code>`],
    ['started', escapeHtml(String(run.started_at ?? '?'))],
    ['trace files', list(inputs.traces)],
    ['generators', list(inputs.gens)],
    ['traces (cell names)', list(axes.traces)],
    ['machines', Object.keys(machines).length
      ? Object.entries(machines).map(([n, m]) => `<code>${escapeHtml(n)}</code>${m.description ? ` — ${escapeHtml(m.description)}` : ''}${m.cpus ? ` (${m.cpus} CPUs)` : ''}`).join('<br>')
      : list(axes.machines)],
    ['page strategies', list(axes.pages)],
    ['object strategies', list(axes.objects)],
    ['seeds', list(axes.seeds)],
    ['cells', `${results.length} (${results.filter((r) => r.status === 'failed').length} failed)`],
  ];
  for (const k of ['shard', 'merged_from']) if (run[k] !== undefined && run[k] !== null) rows.push([k, `<code>${escapeHtml(JSON.stringify(run[k]))}</code>`]);
  return `<table class="inputs">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#222;max-width:1600px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #e2e2e2;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fff0f0}td.error{color:#a00;font-family:ui-monospace,monospace;white-space:pre-wrap}
th.wall{background:#f0f0ff}pre{font-size:11px;background:#fafafa;padding:4px;overflow-x:auto}.kernel-real,.kernel-sim{display:flex;flex-wrap:wrap;gap:0 2em}.chart{margin:1.5em 0}.chart p{color:#555;margin:.2em 0 .6em;max-width:900px}
.chart-error{color:#a00}.summary-wrap{overflow-x:auto}code{font-family:ui-monospace,monospace;font-size:12px}
`;

/** The whole report: one HTML file with the libraries, the specs and the tables inlined; it fetches nothing. */
export function renderHtml(run: LoadedRun, charts: ChartSpec[], libraries?: string[]): string {
  const libs = libraries ?? LIBRARIES.map(([pkg, rel]) => readFileSync(packageFile(pkg, rel), 'utf8'));
  const failed = run.results.filter((r) => r.status === 'failed');
  const title = `allocbench report: ${run.dir}`;
  const chartDivs = charts.map((c) => `<section class="chart" id="section-${c.id}"><h3>${escapeHtml(c.title)}</h3><p>${escapeHtml(c.description)}</p><div class="vega-chart" id="chart-${c.id}" data-chart="${c.id}"></div></section>`).join('\n');
  // the section heading already carries the title
  const specs = charts.map((c) => ({ id: c.id, spec: { ...c.spec, title: undefined } }));
  // embeds every chart, then flags the body so a headless check knows rendering finished
  const boot = `
(function(){
  var charts = JSON.parse(document.getElementById('allocbench-specs').textContent);
  var opts = { mode: 'vega-lite', actions: false, renderer: 'svg' };
  Promise.all(charts.map(function (c) {
    var el = document.getElementById('chart-' + c.id);
    return vegaEmbed(el, c.spec, opts).then(function () { el.setAttribute('data-rendered', '1'); })
      .catch(function (err) { el.className += ' chart-error'; el.textContent = 'chart failed: ' + err; console.error('chart ' + c.id + ' failed:', err); });
  })).then(function () { document.body.setAttribute('data-charts-done', '1'); });
})();`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
${libs.map((js, i) => `<script data-lib="${LIBRARIES[i]?.[0] ?? i}">${scriptSafe(js)}</script>`).join('\n')}
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>Everything here is deterministic (simulated machine, cost-model nanoseconds) except the wall-clock throughput, which depends on the host that ran the cells.</p>
<h2>Inputs</h2>
${inputsSection(run.run, run.results)}
<h2>Summary per cell</h2>
${failed.length ? `<p class="chart-error">${failed.length} cell(s) failed; their errors are shown in the table.</p>` : ''}
<div class="summary-wrap">${summaryTable(run.results)}</div>
<h2>Charts</h2>
${charts.length ? chartDivs : '<p>No cell has the metrics the charts need.</p>'}
${kernelComparisonSection(run)}
<script type="application/json" id="allocbench-specs">${jsonSafe(specs)}</script>
<script>${boot}</script>
</body>
</html>
`;
}
