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
    const ids = buildSpecs(run.results).map((c) => c.id);
    expect(ids).toEqual(EXPECTED_CHARTS);
    const specs = embeddedSpecs(html);
    expect(specs.map((s) => s.id)).toEqual(ids);
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
    const rows = /<table class="summary">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!.match(/<tr\b/g)!.length;
    expect(rows).toBe(cells);
    expect(html).toContain('unusable idx 9');
    expect(html).toMatch(/wall ev\/s/);
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

  it('--svg renders every chart to an SVG with at least one data mark', async () => {
    const svgDir = join(tmp, 'svg');
    const out = join(tmp, 'with-svg.html');
    await writeReport(BASELINE, out, svgDir);
    expect(existsSync(out)).toBe(true);
    const files = readdirSync(svgDir).sort();
    expect(files).toEqual(EXPECTED_CHARTS.map((id) => `${id}.svg`).sort());
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
