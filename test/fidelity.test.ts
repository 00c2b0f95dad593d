import { describe, expect, it } from 'vitest';
import { zoneFragMetrics } from '../src/metrics/fragmentation.js';
import { log2CountError, maxUnusableDelta, scoreCell, type RecordingState } from '../src/metrics/fidelity.js';
import { parseBuddyinfo } from '../src/metrics/procfs.js';

const zone = (counts: number[]) => zoneFragMetrics(parseBuddyinfo(`Node 0, zone    DMA32 ${counts.map((c) => String(c).padStart(6)).join(' ')} \n`, 'x')[0]!);

describe('fidelity scorecard', () => {
  // before: 1 order-2, 2 order-3, 1 order-10 (1044 pages); after: 4 order-0, 2 order-1, 1 order-2, 1 order-10 (1036)
  const before = zone([0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 1]);
  const after = zone([4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  const real: RecordingState = { before: { DMA32: before }, after: { DMA32: after }, usedBefore: 1000, usedAfter: 1010 };

  it('"nothing changes" scores as computed by hand', () => {
    // |log2(1/5)| + |log2(1/3)| + 0 + |log2(3/1)| + 0 ... over 11 orders = (2.321928 + 1.584963 + 1.584963) / 11
    expect(log2CountError(after.free_blocks, before.free_blocks)).toBe(0.4993);
    // unusable_index after: 0 .003 .007 .011 .011 ...; before: 0 0 0 .003 .019 ...: the largest gap is .008
    expect(after.unusable_index.slice(0, 5)).toEqual([0, 0.003, 0.007, 0.011, 0.011]);
    expect(before.unusable_index.slice(0, 5)).toEqual([0, 0, 0, 0.003, 0.019]);
    expect(maxUnusableDelta(after.unusable_index, before.unusable_index)).toBe(0.008);
    // a replay whose end state is the before-state scores exactly as the predictor
    const [line] = scoreCell('rec', real, { cell: { page: 'buddy-mobility', object: 'slub' }, metrics: { zones: { DMA32: before }, managed_pages: 2054, free_pages: 1044, start: { pre_trace_pages: 1010, free_pages: 1044 }, start_empty: { zones: { DMA32: zone([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]) } }, recorded_extfrag: 3, page_counters: { extfrag_events: 5 } } });
    expect(line).toMatchObject({
      recording: 'rec', zone: 'DMA32', page: 'buddy-mobility', start_from: 'before',
      real: after.free_blocks, sim: before.free_blocks, log2_count_error: 0.4993, max_unusable_delta: 0.008,
      extfrag: { recorded: 3, simulated: 5 },
      pages_in_use: { real_end: 1010, sim_end: 1010, rel_error: 0, real_change: 10, sim_change: 0 },
      baselines: { nothing_changes: { log2_count_error: 0.4993, max_unusable_delta: 0.008 } },
    });
    // start empty: 2 order-10 blocks against the after-state: (log2 5 + log2 3 + log2 2 + log2(3/2)) / 11
    expect(line!.baselines.start_empty!.log2_count_error).toBe(Math.round(((Math.log2(5) + Math.log2(3) + 1 + Math.log2(1.5)) / 11) * 10000) / 10000);
  });
});

describe('fidelity on a bundled recording', () => {
  it('the report section and `allocbench fidelity` score a replay beside both predictors', async () => {
    const { fidelityScorecard } = await import('../src/cli/fidelity.js');
    const { kernelComparisonSection } = await import('../src/report/kernel-comparison.js');
    const { recordingState } = await import('../src/metrics/fidelity.js');
    const path = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const lines = fidelityScorecard(['traces/kernel/build-compress'], { pages: ['buddy-mobility'], object: 'slub', layers: 'all' });
    expect(lines.map((l) => l.zone)).toEqual(['DMA', 'DMA32']);
    const real = recordingState(path)!;
    for (const l of lines) {
      expect(l).toMatchObject({ recording: 'build-compress', page: 'buddy-mobility', layers: 'all', start_from: 'before', real: real.after[l.zone]!.free_blocks });
      expect(l.sim).toHaveLength(11);
      expect(l.baselines.start_empty).toBeDefined();
      expect(l.log2_count_error).toBeGreaterThanOrEqual(0);
    }
    // the report reads the same figures from a result line
    const cell = { cell: { trace: 'build-compress', machine: 'recorded-build-compress', page: 'buddy-mobility', object: 'slub', seed: 1 }, status: 'ok' as const, events: 0, trace_errors: 0, failed_allocs: 0, wall: { events_per_sec: 0, replay_ms: 0, setup_ms: 0 },
      metrics: { zones: real.before, managed_pages: 52684, free_pages: 28701 } };
    const html = kernelComparisonSection({ dir: '', run: { inputs: { traces: [path] } }, results: [cell] });
    expect(html).toContain('Fidelity: the models against real kernels');
    expect(html).toContain(`<td class="n">${lines[1]!.baselines.nothing_changes.log2_count_error.toFixed(3)}</td>`);
  }, 60000);
});
