import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress } from '../src/cli/progress.js';
import type { CellResult } from '../src/run/cell.js';
import { runMatrix, type Work } from '../src/run/runner.js';

/**
 * The run's progress lines (CI logs): the ETA is the estimated work left at the rate of the work done
 * since the first cell ended. Dividing the time so far by the cells done took the workers' start and
 * the first cell's loading for the cost of every cell: npm start printed "ETA 665s" for 12 s.
 */
const ok = (events: number): CellResult => ({
  cell: { trace: 't', machine: 'm', page: 'buddy', object: 'slub', seed: 1 }, status: 'ok', events, trace_errors: 0, failed_allocs: 0,
  metrics: {}, wall: { events_per_sec: 0, replay_ms: 1, setup_ms: 0 },
});

afterEach(() => { vi.useRealTimers(); vi.restoreAllMocks(); });

function lines(run: (p: Progress, at: (s: number) => void) => void): string[] {
  vi.useFakeTimers();
  const t0 = Date.now();
  const out: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { out.push(String(s).trim()); return true; });
  run(new Progress('lines', 0), (s) => vi.setSystemTime(t0 + s * 1000));
  return out;
}

describe('Progress lines', () => {
  it('give no ETA for the first cell, then the work left at the rate since it ended', () => {
    // 10 s of start-up before the first cell; 4 cells of work 40 (costliest first), 30, 20, 10, at a work of 10 a second after
    const out = lines((p, at) => {
      at(10); p.cell(ok(1), 1, 4, { done: 40, total: 100 });
      at(13); p.cell(ok(1), 2, 4, { done: 70, total: 100 });
      at(15); p.cell(ok(1), 3, 4, { done: 90, total: 100 });
      at(16); p.cell(ok(1), 4, 4, { done: 100, total: 100 });
    });
    expect(out[0]).toMatch(/^\[1\/4\] cells done, [\d.]+ M events\/s$/);
    expect(out.slice(1).map((l) => l.replace(/.*, ETA /, ''))).toEqual(['3s', '1s', '0s']);
  });

  it('count cells as the work when the caller has no estimate (the gate\'s parts)', () => {
    const out = lines((p, at) => {
      at(5); p.cell(ok(1), 1, 5);
      at(6); p.cell(ok(1), 2, 5);
    });
    expect(out[1]).toMatch(/ETA 3s$/);
  });
});

describe('the runner\'s work estimate', () => {
  it('grows with each cell by that cell\'s cost, the largest first, to the total at the last', async () => {
    const seen: Work[] = [];
    await runMatrix({
      traces: [], gens: ['page-mix:events=4000', 'page-mix:events=1000'], pages: ['buddy', 'bitmap'], objects: ['slub'], machines: ['small'], seeds: [1],
      out: mkdtempSync(join(tmpdir(), 'allocbench-progress-')), check: false, resume: false, workers: 0, cellTimeout: 0,
      onCell: (_r, _d, _t, w) => seen.push({ ...w }),
    });
    expect(seen).toHaveLength(4);
    const total = seen[0]!.total, steps = seen.map((w, i) => w.done - (i > 0 ? seen[i - 1]!.done : 0));
    expect(seen.every((w) => w.total === total)).toBe(true);
    expect(seen[3]!.done).toBeCloseTo(total);
    // the two cells of 4000 events before the two of 1000, each worth about four times as much
    expect(steps[0]! / steps[3]!).toBeGreaterThan(3);
  });
});
