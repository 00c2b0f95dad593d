import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ScoreLine } from '../src/metrics/fidelity.js';
import { checkTargets, formatFigure, formatTargetChecks, loadFidelityTargets, runSpreads, targetLines } from '../src/metrics/fidelity-targets.js';

const line = (over: Partial<ScoreLine> = {}): ScoreLine => ({
  recording: 'rec', zone: 'DMA32', largest: true, page: 'buddy-mobility', object: 'slub', layers: 'all', start_from: 'before',
  real: [], sim: [], log2_count_error: 0.4, max_unusable_delta: 0.06,
  free_pages_by_type: { real: {}, sim: {} },
  pageblocks: { real: { Unmovable: 100, Movable: 400, Reclaimable: 0 }, sim: { Unmovable: 102, Movable: 398, Reclaimable: 1 } },
  extfrag: { recorded: 0, simulated: 0 },
  pages_in_use: { real_end: 1000, sim_end: 1030, rel_error: 0.03, real_change: 0, sim_change: 0 },
  pcp: { refill_blocks: { real: 100, sim: 105 }, drain_blocks: { real: 0, sim: 3 } },
  baselines: { nothing_changes: { sim: [], log2_count_error: 1.2, max_unusable_delta: 0 }, start_empty: { sim: [], log2_count_error: 0.7, max_unusable_delta: 0 } },
  ...over,
});

describe('fidelity targets (fidelity-targets.json)', () => {
  const t = loadFidelityTargets();

  it('the package file holds issue 13\'s and issue 14\'s targets for buddy-mobility', () => {
    expect(t.page).toBe('buddy-mobility');
    expect(t.targets.map((x) => `${x.issue}:${x.figure}`)).toEqual([
      '13:log2_count_error', '13:predictor_ratio', '13:pages_in_use_error',
      '14:log2_count_error', '14:max_unusable_delta', '14:pageblock_error', '14:refill_error', '14:drain_error',
    ]);
  });

  it('checks each figure of a line against its bound', () => {
    const c = Object.fromEntries(checkTargets(line(), t).map((x) => [x.id, x]));
    expect(c.log2!.met).toBe(true); // 0.4 ≤ 0.5
    expect(c['log2-pcp']!.met).toBe(false); // 0.4 > 0.3
    expect(c.predictors!.value).toBeCloseTo(0.7 / 0.4); // the better predictor over the model
    expect(c.predictors!.met).toBe(false);
    expect(c['in-use']!.met).toBe(false); // 3% > 2%
    expect(c.unusable!.met).toBe(false);
    expect(c.pageblocks!.value).toBeCloseTo(0.02); // Unmovable 2 of 100; a type with no real pageblock is left out
    expect(c.refills!.met).toBe(true); // 5%
    expect(c.drains!.value).toBe(Infinity); // none recorded, some simulated
    expect(formatFigure(c.predictors!)).toBe('1.75x');
    expect(formatFigure(c['in-use']!)).toBe('3%');
    // without the data a figure needs, its target is not applicable rather than failed
    const bare = checkTargets(line({ pcp: undefined, pages_in_use: undefined }), t);
    expect(bare.filter((x) => x.met === undefined).map((x) => x.id)).toEqual(['in-use', 'refills', 'drains']);
  });

  it('is checked on the targets\' page strategy on each largest zone, and printed met or not', () => {
    const lines = [line(), line({ zone: 'DMA', largest: false }), line({ page: 'buddy' })];
    expect(targetLines(lines, t)).toHaveLength(1);
    const text = formatTargetChecks(lines, t);
    expect(text).toMatch(/^rec DMA32 buddy-mobility --layers all:\n  issue 13: log2 error 0.4 \(≤ 0.5\) MET; better than both predictors by 1.75x \(≥ 2.00x\) NOT MET/);
    expect(text).toMatch(/issue 14: .*pcp drains off ∞ \(≤ 10%\) NOT MET/);
  });

  it('sums up the runs of one workload (recordings of one name in several folders): mean, range, and in how many every target of an issue is met', () => {
    const after = [[1, 0], [1, 0], [3, 0]]; // each run's real free blocks: runs 0 and 1 end alike, run 2 apart
    const runs = [0.175, 0.34, 0.643].map((e, k) => line({ recording: 'ff', folder: `runs/ff-${k}`, log2_count_error: e, max_unusable_delta: 0.004, real: after[k]!,
      pages_in_use: { real_end: 1000, sim_end: 1000, rel_error: 0, real_change: 0, sim_change: 0 }, pcp: undefined,
      baselines: { nothing_changes: { sim: [], log2_count_error: 1.3, max_unusable_delta: 0 }, start_empty: { sim: [], log2_count_error: 0.7, max_unusable_delta: 0 } } }));
    const lines = [...runs, line()];
    const [s] = runSpreads(targetLines(lines, t), t);
    expect(s).toMatchObject({ recording: 'ff', runs: 3, min: 0.175, max: 0.643 });
    expect(s!.mean).toBeCloseTo((0.175 + 0.34 + 0.643) / 3);
    // issue 13: ≤ 0.5 and 2x better than 0.7: 0.175 and 0.34 (0.7 / 0.34 = 2.06x); issue 14: ≤ 0.3: only 0.175
    expect(s!.met).toEqual([{ issue: 13, runs: 2 }, { issue: 14, runs: 1 }]);
    // the real runs pair by pair: 0 (runs 0, 1), |log2(2/4)| / 2 = 0.5 (0 or 1 against 2)
    expect(s!.kernel).toEqual({ mean: 1 / 3, min: 0, max: 0.5 });
    const text = formatTargetChecks(lines, t);
    expect(text).toMatch(/^runs\/ff-0 DMA32 buddy-mobility/m); // the folder names a run when names repeat
    expect(text).toMatch(/^rec DMA32 buddy-mobility/m);
    expect(text).toMatch(/ff: 3 runs, log2 error mean 0.386 \(0.175-0.643\); every target met in 2 of 3 \(issue 13\), 1 of 3 \(issue 14\); the real runs differ from each other by 0.333 \(0-0.5\)/);
  });

  it('refuses a targets file naming an unknown figure or without exactly one bound, naming the file', () => {
    const d = mkdtempSync(join(tmpdir(), 'ft-'));
    const write = (targets: unknown[]): string => { const f = join(d, `t${Math.random()}.json`); writeFileSync(f, JSON.stringify({ page: 'buddy-mobility', targets })); return f; };
    expect(() => loadFidelityTargets(write([{ id: 'a', issue: 13, label: 'x', figure: 'nope', max: 1 }]))).toThrow(/targets\[0\]: "figure" must be one of log2_count_error/);
    expect(() => loadFidelityTargets(write([{ id: 'a', issue: 13, label: 'x', figure: 'log2_count_error', max: 1, min: 0 }]))).toThrow(/exactly one of "max" and "min"/);
    expect(() => loadFidelityTargets(join(d, 'missing.json'))).toThrow(/fidelity targets .*missing.json not found/);
    const nul = join(d, 'null.json');
    writeFileSync(nul, 'null');
    expect(() => loadFidelityTargets(nul)).toThrow(/null.json: expected an object with "page" and "targets"/);
    expect(() => loadFidelityTargets(write([null]))).toThrow(/targets\[0\]: expected an object/);
  });
});
