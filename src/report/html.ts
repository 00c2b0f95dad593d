import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';
import type { CellResult } from '../run/cell.js';
import type { LoadedRun } from './load-results.js';
import { COLUMNS, value } from '../run/columns.js';
import { computeFindings, estimateText, rankingText, runExperiments, wallText } from './findings.js';
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

function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined) return '';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toFixed(digits);
}

/**
 * The per-cell table: summary.csv's columns under the same names (columns.ts), collapsed under the
 * findings and charts, sortable (click a heading) and filterable (the box above it).
 */
function summaryTable(results: CellResult[]): string {
  // a column no cell has a value in (older results, a run without processes) is left out
  const cols = COLUMNS.filter((c) => results.some((r) => value(r, c) !== undefined));
  const head = cols.map((c) => `<th title="${escapeHtml(c.doc)}"${c.wall ? ' class="wall"' : ''}>${escapeHtml(c.name)}</th>`).join('');
  const ids = cols.findIndex((c) => c.name === 'status') + 1;
  const body = results.map((r) => {
    if (r.status === 'failed') {
      const id = cols.slice(0, ids).map((c) => `<td>${escapeHtml(String(value(r, c) ?? ''))}</td>`).join('');
      return `<tr class="failed">${id}<td colspan="${cols.length - ids}" class="error">${escapeHtml(r.error ?? 'failed (no error recorded)')}</td></tr>`;
    }
    const tds = cols.map((c) => {
      const v = value(r, c);
      const s = typeof v === 'number' ? fmt(v) : (v ?? '');
      return `<td${typeof v === 'number' ? ` class="n" data-v="${v}"` : ''}>${escapeHtml(s)}</td>`;
    }).join('');
    return `<tr>${tds}</tr>`;
  }).join('\n');
  return `<table class="summary sortable" id="cells"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Per experiment: its question, the one-line answer, and a ranking table per workload and headline metric. */
function findingsSection(run: LoadedRun): string {
  const { experiments, groups } = runExperiments(run.run);
  const all = computeFindings(run.results, experiments, groups);
  return all.map((f) => {
    const rows = f.rows.map((r) => {
      const ranking = r.allEqual
        ? `<td colspan="4" class="equal">${escapeHtml(rankingText(r))}</td>`
        : `<td>${r.ranked.map((x, i) => `${i === 0 ? '' : x.tie ? '<span class="tie" title="intervals overlap: a tie">~</span> ' : '<span class="gt" title="told apart">&gt;</span> '}<b>${escapeHtml(x.strategy)}</b>`).join(' ')}</td>` +
          `<td class="n">${r.ranked.map((x) => escapeHtml(estimateText(r.metric.metric, x.est))).join('<br>')}</td>` +
          `<td class="n">${r.ranked.map((x) => (x.ratio === undefined ? '' : x.ratio === 1 ? 'best' : `${x.ratio >= 10 ? x.ratio.toFixed(0) : x.ratio.toFixed(2)}x`)).join('<br>')}</td>` +
          `<td>${r.separated ? 'separated' : 'all tie'}</td>`;
      return `<tr><td>${escapeHtml(r.workload)} <small>@${escapeHtml(r.machine)}${r.recorded ? ' · recording, 1 sample' : ''}</small></td>` +
        `<td title="${escapeHtml(r.metric.label)}"><code>${escapeHtml(r.metric.metric)}</code> ${r.metric.better === 'higher' ? '↑' : '↓'}</td>${ranking}</tr>`;
    }).join('\n');
    const wall = f.wall.length ? `<p class="wallnote">Wall clock (this host, not deterministic): ${f.wall.map((w) => escapeHtml(wallText(w))).join('; ')}.</p>` : '';
    return `<section class="finding" id="finding-${escapeHtml(f.name)}"><h3>${escapeHtml(f.name)}: ${escapeHtml(f.question)}</h3>` +
      (f.sentence ? `<p class="answer">${escapeHtml(f.sentence)}</p>` : '') +
      (f.rows.length
        ? `<table class="findings"><thead><tr><th>workload</th><th>metric</th><th>ranking (best first)</th><th>mean ±95% CI</th><th>vs best</th><th></th></tr></thead><tbody>\n${rows}\n</tbody></table>`
        : '<p>No headline metric applies to two or more strategies here.</p>') + wall + '</section>';
  }).join('\n');
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
p.answer{font-size:1.1em;font-weight:600;margin:.3em 0}table.findings td{padding:3px 8px}td.equal{color:#777}span.tie{color:#b60}span.gt{color:#070}
p.equal{color:#555;margin:.3em 0}.wallnote{color:#555;font-size:12px}table.sortable th{cursor:pointer}details>summary{cursor:pointer;font-weight:600}
input.filter{margin:.5em 0;width:30em}
`;

/** Click a heading to sort by it (numbers by value, twice to reverse); type in the box to keep the rows holding the text. */
const TABLE_SCRIPT = `
(function(){
  document.querySelectorAll('table.sortable').forEach(function (t) {
    var body = t.tBodies[0];
    t.tHead.querySelectorAll('th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var dir = th.getAttribute('data-dir') === 'asc' ? -1 : 1;
        th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col];
          if (!x || !y) return 0;
          var vx = x.getAttribute('data-v'), vy = y.getAttribute('data-v');
          if (vx !== null && vy !== null) return dir * (Number(vx) - Number(vy));
          if (vx === null && vy !== null) return 1;
          if (vx !== null && vy === null) return -1;
          return dir * x.textContent.localeCompare(y.textContent);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll('input.filter').forEach(function (box) {
    var t = document.getElementById(box.getAttribute('data-table'));
    box.addEventListener('input', function () {
      var q = box.value.toLowerCase();
      Array.prototype.forEach.call(t.tBodies[0].rows, function (r) { r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none'; });
    });
  });
})();`;

/** The whole report: one HTML file with the libraries, the specs and the tables inlined; it fetches nothing. */
export function renderHtml(run: LoadedRun, charts: ChartSpec[], libraries?: string[]): string {
  const libs = libraries ?? LIBRARIES.map(([pkg, rel]) => readFileSync(packageFile(pkg, rel), 'utf8'));
  const failed = run.results.filter((r) => r.status === 'failed');
  const title = `allocbench report: ${run.dir}`;
  const drawn = charts.filter((c) => Object.keys(c.spec).length > 0);
  const equalNote = (c: ChartSpec): string => (c.equal?.length
    ? `<p class="equal">Every strategy the same (not drawn): ${c.equal.map((e) => escapeHtml(e)).join('; ')}.</p>` : '');
  const chartDivs = charts.map((c) => (Object.keys(c.spec).length === 0
    ? `<section class="chart" id="section-${c.id}"><h3>${escapeHtml(c.title)}</h3>${equalNote(c)}</section>`
    : `<section class="chart" id="section-${c.id}"><h3>${escapeHtml(c.title)}</h3><p>${escapeHtml(c.description)}</p>${equalNote(c)}<div class="vega-chart" id="chart-${c.id}" data-chart="${c.id}"></div></section>`)).join('\n');
  // the section heading already carries the title
  const specs = drawn.map((c) => ({ id: c.id, spec: { ...c.spec, title: undefined } }));
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
<p>Everything here is deterministic (simulated machine, cost-model nanoseconds) except wall-clock throughput, which depends on the host that ran the cells.</p>
<h2>Findings</h2>
${findingsSection(run)}
<h2>Charts</h2>
${charts.length ? chartDivs : '<p>No cell has the metrics the charts need.</p>'}
${kernelComparisonSection(run)}
<h2>Inputs</h2>
${inputsSection(run.run, run.results)}
<h2>Every cell</h2>
${failed.length ? `<p class="chart-error">${failed.length} cell(s) failed; their errors are shown in the table.</p>` : ''}
<details${failed.length ? ' open' : ''}><summary>${run.results.length} cells: the columns of summary.csv (click a heading to sort)</summary>
<input class="filter" type="search" placeholder="filter rows: a trace, strategy, machine ..." data-table="cells">
<div class="summary-wrap">${summaryTable(run.results)}</div>
</details>
<script type="application/json" id="allocbench-specs">${jsonSafe(specs)}</script>
<script>${boot}</script>
<script>${TABLE_SCRIPT}</script>
</body>
</html>
`;
}
