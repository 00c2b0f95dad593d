import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AllocbenchError } from '../src/errors.js';
import { compareWithin, formatWithinMarkdown, formatWithinText, verdictSentence } from '../src/report/compare-within.js';
import { loadResults, type LoadedRun } from '../src/report/load-results.js';
import { loadThresholds } from '../src/report/thresholds.js';
import type { CellResult } from '../src/run/cell.js';

const BASELINE = join(import.meta.dirname, '..', 'baseline');
const thresholds = { file: 'test', metrics: [
  { path: 'metrics.sim_total_ns', better: 'lower' as const },
  { path: 'metrics.probe_order9.fraction', better: 'higher' as const },
  { path: 'failed_allocs', better: 'lower' as const },
] };

function cell(page: string, seed: number, sim: number, probe: number, failed = 0): CellResult {
  return {
    cell: { trace: 't', machine: 'm', page, object: 'slub', seed }, status: 'ok', events: 1, trace_errors: 0, failed_allocs: failed,
    metrics: { sim_total_ns: sim, probe_order9: { fraction: probe } }, wall: { events_per_sec: 1, replay_ms: 1, setup_ms: 0 },
  } as unknown as CellResult;
}

describe('compare --by: two strategies of one run, hyperfine-style', () => {
  it('A is r ± sd times better than B over the seeds, in the metric\'s own direction', () => {
    const run: LoadedRun = { dir: 'synthetic', run: null, results: [
      cell('a', 1, 100, 0.8), cell('a', 2, 100, 0.8), cell('a', 3, 100, 0.8),
      cell('b', 1, 180, 0.4, 3), cell('b', 2, 190, 0.4), cell('b', 3, 170, 0.4),
      cell('c', 1, 1, 1), // a third strategy is ignored
    ] };
    const rep = compareWithin(run, 'page', 'a', 'b', thresholds);
    const sim = rep.rows.find((r) => r.metric === 'metrics.sim_total_ns')!;
    expect(sim.seeds).toBe(3);
    expect(sim.ratio).toBeCloseTo(1.8, 10); // mean(B) / mean(A): lower is better, so A is better
    expect(sim.ratio_sd).toBeCloseTo(0.1, 10); // sample sd of 1.8, 1.9, 1.7
    expect(verdictSentence(sim, 'a', 'b')).toBe('a is 1.80 ± 0.10 times better than b');
    const probe = rep.rows.find((r) => r.metric === 'metrics.probe_order9.fraction')!;
    expect(verdictSentence(probe, 'a', 'b')).toBe('a is 2.00 ± 0.00 times better than b'); // identical ratios: sd 0
    expect(probe.ratio_sd).toBe(0);
    // A has 0 failures: no ratio, the values are named instead
    const failed = rep.rows.find((r) => r.metric === 'failed_allocs')!;
    expect(failed.ratio).toBeNull();
    expect(verdictSentence(failed, 'a', 'b')).toMatch(/^a is better \(a 0, b 1; no ratio/);
    // seen from the other side: the reciprocal
    const back = compareWithin(run, 'page', 'b', 'a', thresholds).rows.find((r) => r.metric === 'metrics.sim_total_ns')!;
    expect(verdictSentence(back, 'b', 'a')).toMatch(/^a is 1\.8\d ± 0\.\d+ times better than b$/);
    expect(formatWithinText(rep)).toContain('t (3 seeds)'.replace('t (', 'trace=t ('));
    expect(formatWithinMarkdown(rep)).toContain('| metrics.sim_total_ns | a is 1.80 ± 0.10 times better than b |');
  });

  it('on the committed baseline: slub against kmalloc-pow2 names the better one per metric', () => {
    const rep = compareWithin(loadResults(BASELINE), 'object', 'slub', 'kmalloc-pow2', loadThresholds(), ['metrics.waste.utilization']);
    expect(rep.rows).toHaveLength(1);
    const r = rep.rows[0]!;
    expect(r.a).toBeGreaterThan(r.b); // slub packs objects tighter than power-of-two buckets
    expect(verdictSentence(r, 'slub', 'kmalloc-pow2')).toMatch(/^slub is \d\.\d\d times better than kmalloc-pow2$/);
  });

  it('a strategy the run does not have is a user error naming what it has', () => {
    expect(() => compareWithin(loadResults(BASELINE), 'page', 'buddy', 'bogus', thresholds)).toThrow(AllocbenchError);
    expect(() => compareWithin(loadResults(BASELINE), 'page', 'buddy', 'bogus', thresholds)).toThrow(/no ok cell with page bogus \(the run has: .*buddy-mobility/);
  });
});
