import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { estimate, mannWhitney, median, overlaps } from '../src/metrics/statistics.js';
import { loadAllExperiments, loadExperiment, parseExperiment, experimentGroups } from '../src/run/experiment.js';
import { expandGroups, inGroup } from '../src/run/matrix.js';
import { COLUMNS, column, summaryCsv, value } from '../src/run/columns.js';
import { computeFindings, formatFindings, rankingText } from '../src/report/findings.js';
import { runMatrix } from '../src/run/runner.js';
import type { CellResult } from '../src/run/cell.js';

describe('statistics', () => {
  it('mean and 95% Student-t interval', () => {
    const e = estimate([1, 2, 3, 4, 5]);
    expect(e.mean).toBe(3);
    expect(e.sd).toBeCloseTo(1.5811, 4);
    // t(0.975, 4) = 2.7764: half-width 2.7764 * 1.5811 / sqrt(5) = 1.9632
    expect(e.hi - e.mean).toBeCloseTo(1.9632, 3);
    expect(estimate([7])).toMatchObject({ n: 1, mean: 7, lo: 7, hi: 7 });
    expect(overlaps(estimate([1, 2, 3]), estimate([2.5, 3.5, 4.5]))).toBe(true);
    expect(overlaps(estimate([1, 1.1, 0.9]), estimate([5, 5.1, 4.9]))).toBe(false);
  });

  it('Mann-Whitney U: exact p for small samples, effect size, ties by the normal approximation', () => {
    // complete separation of 5 and 5: P = 2/C(10,5) = 2/252
    const sep = mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]);
    expect(sep).toMatchObject({ u: 25, effect: 1, exact: true });
    expect(sep.p).toBeCloseTo(2 / 252, 6);
    // scipy.stats.mannwhitneyu([1,3,5,7,9],[2,4,6,8,10], method='exact'): U=10, p=0.6905
    const mixed = mannWhitney([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]);
    expect(mixed.u).toBe(10);
    expect(mixed.p).toBeCloseTo(0.6905, 3);
    const tied = mannWhitney([1, 1, 2, 2, 3], [1, 2, 2, 3, 3]);
    expect(tied.exact).toBe(false);
    expect(tied.p).toBeGreaterThan(0.3);
    expect(median([5, 1, 3, 2])).toBe(2.5);
  });
});

describe('experiment files', () => {
  it('every shipped experiment loads, names existing traces and summary columns, and runs generated workloads with >= 5 seeds', () => {
    const all = loadAllExperiments();
    expect(all.map((e) => e.name)).toEqual(['page-layer', 'object-layer', 'whole-machine']);
    for (const e of all) {
      expect(e.headline.length).toBeGreaterThan(0);
      for (const m of e.matrices) if (m.gens.length) expect(m.seeds.length).toBeGreaterThanOrEqual(5);
    }
    expect(loadExperiment('page-layer').matrices[0]!.gens[0]).toMatch(/^highalloc-stress:mem=/);
  });

  it('refuses a bad file with a message naming the file and what was expected', () => {
    const base = { name: 'x', question: 'q?', matrices: [{ gen: ['page-mix'], machine: ['small'] }], headline: [{ metric: 'utilization_pct', better: 'higher', label: 'u' }] };
    expect(() => parseExperiment({ ...base, headline: [{ metric: 'order9_rest', better: 'higher', label: 'u' }] }, 'f.json')).toThrow(/f\.json: headline\[0\]\.metric: "order9_rest" is not a summary column/);
    expect(() => parseExperiment({ ...base, matrices: [{ gen: ['page-mix'] }] }, 'f.json')).toThrow(/needs "machine"/);
    expect(() => parseExperiment({ ...base, matrices: [{ gen: ['page-mix'], machine: ['small'], pages: ['buddy'] }] }, 'f.json')).toThrow(/unknown key "pages"/);
    expect(() => parseExperiment({ ...base, headline: [{ metric: 'utilization_pct', better: 'up', label: 'u' }] }, 'f.json')).toThrow(/better: expected "higher" or "lower"/);
    expect(parseExperiment({ ...base, matrices: [{ gen: ['page-mix'], machine: ['small'], seeds: 3 }] }, 'f.json').matrices[0]!.seeds).toEqual([1, 2, 3]);
    expect(parseExperiment(base, 'f.json').matrices[0]!.seeds).toEqual([1, 2, 3, 4, 5]);
    expect(() => loadExperiment('no-such-experiment')).toThrow(/no such experiment \(known: .*page-layer/);
  });

  it('expands matrices: a recording once (one sample) on its own machine, shared cells once', () => {
    const rec = 'traces/kernel/fork-fragment/fork-fragment.ftrace.gz';
    const groups = [
      { tag: 'a', traces: [rec], gens: ['page-mix'], machines: [], pages: ['buddy', 'bitmap'], objects: ['slub'], seeds: [1, 2, 3] },
      { tag: 'b', traces: [rec], gens: [], machines: [], pages: ['buddy'], objects: ['slub'], seeds: [1, 2, 3] },
    ];
    groups[0]!.machines = [];
    const { cells, resolved } = expandGroups([{ ...groups[0]!, gens: [] }, groups[1]!], (f) => f.split('/').pop()!.split('.')[0]!, (s) => s, () => 'own');
    expect(cells.map((c) => `${c.trace} ${c.machine} ${c.page} ${c.seed}`)).toEqual([
      'fork-fragment own buddy 1', 'fork-fragment own bitmap 1',
    ]);
    expect(resolved[1]!.recorded).toEqual(['fork-fragment']);
    expect(inGroup(cells[0]!, resolved[1]!)).toBe(true);
    expect(inGroup(cells[1]!, resolved[1]!)).toBe(false);
    const gen = expandGroups([{ traces: [], gens: ['g'], machines: ['small'], pages: ['buddy'], objects: ['slub'], seeds: [1, 2] }], (f) => f, (s) => s, () => 'own');
    expect(gen.cells.map((c) => c.seed)).toEqual([1, 2]);
    // --page narrows an experiment's strategies; --seed replaces its seeds
    const narrowed = experimentGroups([loadExperiment('page-layer')], { pages: ['buddy', 'bitmap'], objects: ['slub'] }, { pages: ['bitmap'], seeds: [9] });
    expect(narrowed.every((g) => g.pages.join() === 'bitmap' && g.seeds.join() === '9')).toBe(true);
  });
});

function fakeCell(page: string, seed: number, metrics: Record<string, unknown>, trace = 't'): CellResult {
  return {
    cell: { trace, machine: 'small', page, object: 'slub', seed }, status: 'ok', events: 10, trace_errors: 0, failed_allocs: 0,
    metrics: { zones: {}, ...metrics }, wall: { events_per_sec: 1000 + seed, replay_ms: 1, setup_ms: 1 },
  };
}

describe('summary columns and findings', () => {
  it('a figure that does not apply is empty in summary.csv, not 0 or 1', () => {
    const r = fakeCell('buddy', 1, { highorder: { attempts: 0, successes: 0, rate: 1 }, waste: { peak_bytes_requested: 0, peak_pages_held: 0, utilization: 0, internal_waste_bytes: 0 }, highorder_success: { at_rest: 0.9 }, latency: { page_alloc: { count: 3, p50: 40, p99: 300 } } });
    const csv = summaryCsv([r]).split('\n');
    const head = csv[0]!.split(','), row = csv[1]!.split(',');
    const at = (n: string): string => row[head.indexOf(n)]!;
    expect(at('order9_at_rest_pct')).toBe('90');
    expect(at('order9_under_load_pct')).toBe('');
    expect(at('highorder_success_pct')).toBe('');
    expect(at('utilization_pct')).toBe('');
    expect(at('internal_waste_bytes')).toBe('');
    expect(at('page_alloc_p99_ns')).toBe('300');
    expect(at('obj_alloc_p99_ns')).toBe('');
    expect(head[head.length - 1]).toBe('wall_events_per_s');
    expect(new Set(COLUMNS.map((c) => c.name)).size).toBe(COLUMNS.length);
    expect(value(r, column('order9_at_rest_pct')!)).toBe(90);
  });

  it('ranks by the mean, calls overlapping intervals a tie, gives the ratio to the best and one sentence', () => {
    const results: CellResult[] = [];
    const at = { 'buddy-mobility': [0.8, 0.82, 0.84], buddy: [0.03, 0.035, 0.04], bitmap: [0.03, 0.036, 0.04] } as Record<string, number[]>;
    for (const [page, xs] of Object.entries(at)) xs.forEach((x, i) => results.push(fakeCell(page, i + 1, { highorder_success: { at_rest: x } })));
    const [f] = computeFindings(results, [{ name: 'e', question: 'q?', headline: [{ metric: 'order9_at_rest_pct', better: 'higher', label: 'order-9 at rest' }] }],
      [{ tag: 'e', traces: ['t'], recorded: [], machines: ['small'], pages: Object.keys(at), objects: ['slub'], seeds: [1, 2, 3] }]);
    const row = f!.rows[0]!;
    expect(row.ranked.map((r) => r.strategy)).toEqual(['buddy-mobility', 'bitmap', 'buddy']);
    expect(row.ranked.map((r) => r.tie)).toEqual([false, false, true]);
    expect(row.ranked[2]!.rank).toBe(2);
    expect(row.ranked[2]!.ratio).toBeCloseTo(82 / 3.5, 5);
    expect(row.separated).toBe(true);
    expect(rankingText(row)).toMatch(/^buddy-mobility 82\.0±[\d.]+% > bitmap [\d.]+±[\d.]+% \(23x\) ~ buddy 3\.5±[\d.]+% \(23x\)$/);
    expect(f!.sentence).toBe('order-9 at rest, t: buddy-mobility 82.0%, buddy 3.5%: 23x');
    expect(formatFindings([f!])).toContain('== e: q?');
  });
});

describe('an experiment run end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allocbench-exp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('highalloc-stress on a machine it fills separates buddy-mobility from buddy at rest, over 2 seeds', async () => {
    const file = join(dir, 'gorman.json');
    writeFileSync(file, JSON.stringify({
      name: 'gorman', question: 'Does grouping by mobility keep order-9 blocks?',
      matrices: [{ gen: ['highalloc-stress:mem=200M'], machine: ['small'], page: ['buddy', 'buddy-mobility'], object: ['slub'], seeds: 2 }],
      headline: [{ metric: 'order9_at_rest_pct', better: 'higher', label: 'order-9 requests served at rest' }],
    }));
    const e = loadExperiment(file);
    const out = join(dir, 'out');
    const { results, groups } = await runMatrix({
      traces: [], gens: [], pages: [], objects: [], machines: [], seeds: [], out, check: false, resume: false, workers: 0, cellTimeout: 0,
      groups: experimentGroups([e], { pages: [], objects: [] }), info: { experiments: [{ name: e.name, question: e.question, headline: e.headline }] },
    });
    expect(results).toHaveLength(4);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(run.experiments[0].name).toBe('gorman');
    const [f] = computeFindings(results, run.experiments, groups!);
    const row = f!.rows[0]!;
    expect(row.ranked[0]!.strategy).toBe('buddy-mobility');
    expect(row.separated).toBe(true);
    expect(readFileSync(join(out, 'summary.csv'), 'utf8').split('\n')[0]).toContain('order9_at_rest_pct');
  }, 60_000);
});
