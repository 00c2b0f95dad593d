import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../src/cli/report.js';
import { LIBRARIES, packageFile } from '../src/report/html.js';
import { loadResults } from '../src/report/load-results.js';
import { buildSpecs } from '../src/report/specs.js';
import { countDataMarks } from '../src/report/svg.js';
import type { CellResult } from '../src/run/cell.js';

const BASELINE = join(import.meta.dirname, '..', 'baseline');
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXPECTED_CHARTS = ['frag-time', 'unusable-heatmap', 'highorder', 'waste', 'utilization', 'latency', 'throughput-sim', 'throughput-wall'];

/** The HTML with every <script> body removed, so only real tags and attributes remain. */
function tagsOnly(html: string): string {
  return html.replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/gi, '$1</script>');
}

function embeddedSpecs(html: string): { id: string; spec: Record<string, unknown> }[] {
  const m = /<script type="application\/json" id="allocbench-specs">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as { id: string; spec: Record<string, unknown> }[];
}

describe('report HTML', async () => {
  const file = join(tmp, 'report.html');
  await writeReport(BASELINE, file);
  const html = readFileSync(file, 'utf8');

  it('embeds every chart spec, each with a container', () => {
    const run = loadResults(BASELINE);
    const charts = buildSpecs(run.results);
    expect(charts.map((c) => c.id)).toEqual(EXPECTED_CHARTS);
    const specs = embeddedSpecs(html);
    // a chart whose every panel is equal is a line of text, not a spec
    expect(specs.map((s) => s.id)).toEqual(charts.filter((c) => Object.keys(c.spec).length > 0).map((c) => c.id));
    for (const s of specs) {
      expect(html).toContain(`id="chart-${s.id}"`);
      expect((s.spec.data as { values: unknown[] }).values.length).toBeGreaterThan(0);
    }
  });

  it('inlines vega, vega-lite and vega-embed and loads nothing from the network', () => {
    for (const [pkg, rel] of LIBRARIES) {
      const lib = readFileSync(packageFile(pkg, rel), 'utf8');
      expect(html).toContain(lib.slice(0, 300));
      expect(html).toContain(lib.slice(-300));
    }
    const tags = tagsOnly(html);
    expect(tags).not.toMatch(/<script\b[^>]*\bsrc=/i);
    expect(tags).not.toMatch(/<link\b[^>]*\bhref=/i);
    expect(tags).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(tags).not.toMatch(/@import|url\(\s*["']?https?:/i);
  });

  it('shows the run inputs and one summary row per cell', () => {
    const run = JSON.parse(readFileSync(join(BASELINE, 'run.json'), 'utf8')) as { version: string; inputs: { gens: string[] } };
    expect(html).toContain(run.version);
    for (const g of run.inputs.gens) expect(html).toContain(g);
    const cells = loadResults(BASELINE).results.length;
    const rows = /<table class="summary sortable" id="cells">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!.match(/<tr\b/g)!.length;
    expect(rows).toBe(cells);
    // the same column names as summary.csv
    const csvHead = readFileSync(join(BASELINE, 'summary.csv'), 'utf8').split('\n')[0]!;
    expect(csvHead).toContain('unusable_index_9');
    expect(html).toContain('<th title="unusable free space index at order 9');
    expect(html).toMatch(/class="wall">wall_events_per_s</);
  });

  it('leads with the findings; the per-cell table comes last, collapsed, sortable and filterable', () => {
    const findings = html.indexOf('<h2>Findings</h2>'), charts = html.indexOf('<h2>Charts</h2>'), cells = html.indexOf('<h2>Every cell</h2>');
    expect(findings).toBeGreaterThan(0);
    expect(findings).toBeLessThan(charts);
    expect(charts).toBeLessThan(cells);
    expect(html).toMatch(/<table class="findings">[\s\S]*?<code>[a-z0-9_]+<\/code>/);
    expect(html.slice(cells)).toMatch(/^<h2>Every cell<\/h2>\n(<p[^>]*>[^<]*<\/p>)?\n<details>/);
    expect(html).toContain('<input class="filter" type="search"');
    expect(html).toContain('table class="summary sortable" id="cells"');
  });

  it('a failed cell shows its error, escaped', async () => {
    const dir = join(tmp, 'failed');
    cpSync(BASELINE, dir, { recursive: true });
    const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean);
    const r = JSON.parse(lines[0]!) as CellResult;
    lines[0] = JSON.stringify({ cell: r.cell, status: 'failed', error: 'InvariantError: free list <order 3> corrupt', events: 0, trace_errors: 0, failed_allocs: 0, metrics: {}, wall: {} });
    writeFileSync(join(dir, 'results.jsonl'), lines.join('\n') + '\n');
    const out = join(tmp, 'failed.html');
    await writeReport(dir, out);
    const h = readFileSync(out, 'utf8');
    expect(h).toContain('InvariantError: free list &lt;order 3&gt; corrupt');
    expect(h).toMatch(/1 cell\(s\) failed/);
  });

  it('older results without latency or time series leave those charts out', () => {
    const results = loadResults(BASELINE).results.map((r) => {
      const { latency: _l, timeseries: _t, sim_events_per_sec: _s, ...metrics } = r.metrics;
      return { ...r, metrics };
    });
    const ids = buildSpecs(results).map((c) => c.id);
    expect(ids).not.toContain('latency');
    expect(ids).not.toContain('frag-time');
    expect(ids).not.toContain('throughput-sim');
    expect(ids).toContain('unusable-heatmap');
  });

  it('a chart whose strategies are all equal says so in one line instead of drawing flat bars', () => {
    const results = loadResults(BASELINE).results.filter((r) => r.status === 'ok').map((r) => ({
      ...r, metrics: { ...r.metrics, sim_events_per_sec: 1000 },
    }));
    const sim = buildSpecs(results).find((c) => c.id === 'throughput-sim')!;
    expect(sim.spec).toEqual({});
    expect(sim.equal!.length).toBeGreaterThan(0);
    expect(sim.equal![0]).toMatch(/: 1000$/);
  });

  it('--svg renders every chart to an SVG with at least one data mark', async () => {
    const svgDir = join(tmp, 'svg');
    const out = join(tmp, 'with-svg.html');
    await writeReport(BASELINE, out, svgDir);
    expect(existsSync(out)).toBe(true);
    const files = readdirSync(svgDir).sort();
    const drawn = buildSpecs(loadResults(BASELINE).results).filter((c) => Object.keys(c.spec).length > 0).map((c) => c.id);
    expect(files).toEqual(drawn.map((id) => `${id}.svg`).sort());
    for (const f of files) {
      const svg = readFileSync(join(svgDir, f), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(countDataMarks(svg), f).toBeGreaterThan(0);
    }
  });

  it('the default output is reports/<dir basename>.html', async () => {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      const f = await writeReport(BASELINE);
      expect(f).toBe('reports/baseline.html');
      expect(existsSync(join(tmp, 'reports', 'baseline.html'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });
});
