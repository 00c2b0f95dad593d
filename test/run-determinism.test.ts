import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CellResult } from '../src/run/cell.js';
import { mergeRuns } from '../src/run/merge.js';
import { runMatrix, type RunOptions } from '../src/run/runner.js';

// A small matrix: 2 generated traces x 2 page strategies x 2 object strategies = 8 cells.
const base = (out: string, over: Partial<RunOptions> = {}): RunOptions => ({
  traces: [],
  gens: ['page-mix:events=20000', 'kernel-mix:events=20000'],
  pages: ['buddy', 'bitmap'],
  objects: ['slub', 'kmalloc-pow2'],
  machines: ['small'],
  seeds: [7],
  out,
  check: false,
  resume: false,
  workers: 0,
  cellTimeout: 0,
  ...over,
});

const tmp = (): string => mkdtempSync(join(tmpdir(), 'allocbench-run-'));

/** results.jsonl without the wall-clock fields, which are the only part allowed to differ. */
function deterministic(dir: string): string {
  return readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => { const r = JSON.parse(l) as Partial<CellResult>; delete r.wall; return JSON.stringify(r); }).join('\n');
}
function summaryWithoutWall(dir: string): string {
  return readFileSync(join(dir, 'summary.csv'), 'utf8').split('\n')
    .map((l) => l.split(',').filter((_, i, a) => i < a.length - 1).join(',')).join('\n');
}

describe('run determinism', () => {
  let inProcess: string;
  beforeAll(async () => {
    inProcess = tmp();
    const r = await runMatrix(base(inProcess));
    expect(r.failed).toBe(0);
    expect(r.results).toHaveLength(8);
  });

  it('gives byte-identical results outside wall with 1 and 2 worker threads', async () => {
    const one = tmp(), two = tmp();
    await runMatrix(base(one, { workers: 1 }));
    await runMatrix(base(two, { workers: 2 }));
    expect(deterministic(one)).toBe(deterministic(inProcess));
    expect(deterministic(two)).toBe(deterministic(inProcess));
    expect(summaryWithoutWall(two)).toBe(summaryWithoutWall(inProcess));
  });

  it('reproduces a single-machine run from two shards joined by merge', async () => {
    const s1 = tmp(), s2 = tmp(), merged = tmp();
    const a = await runMatrix(base(s1, { shard: { k: 1, n: 2 } }));
    const b = await runMatrix(base(s2, { shard: { k: 2, n: 2 } }));
    expect(a.results.length + b.results.length).toBe(8);
    mergeRuns([s1, s2], merged);
    expect(deterministic(merged)).toBe(deterministic(inProcess));
    expect(summaryWithoutWall(merged)).toBe(summaryWithoutWall(inProcess));
    expect(() => mergeRuns([s1, s1], tmp())).toThrow(/is in both/);
  });

  it('--resume runs only the cells missing after an interruption', async () => {
    const dir = tmp();
    // an interrupted run: three complete lines and a torn fourth
    const lines = readFileSync(join(inProcess, 'results.jsonl'), 'utf8').split('\n').filter(Boolean);
    writeFileSync(join(dir, 'results.jsonl'), lines.slice(0, 3).join('\n') + '\n' + lines[3]!.slice(0, 40));
    const seen: string[] = [];
    const r = await runMatrix(base(dir, { resume: true, onCell: (c) => seen.push(c.cell.trace) }));
    expect(seen).toHaveLength(5);
    expect(r.results).toHaveLength(8);
    expect(deterministic(dir)).toBe(deterministic(inProcess));
  });

  it('records a cell that throws as failed and finishes the others', async () => {
    process.env.ALLOCBENCH_TEST_FAULTS = '1';
    try {
      const dir = tmp();
      const r = await runMatrix(base(dir, { pages: ['buddy', 'faulty'], objects: ['kmalloc-pow2'], workers: 2, gens: ['page-mix:events=20000'] }));
      const failed = r.results.filter((x) => x.status === 'failed');
      expect(failed.map((x) => x.cell.page)).toEqual(['faulty']);
      expect(failed[0]!.error).toMatch(/deliberate failure/);
      expect(r.results.find((x) => x.cell.page === 'buddy')!.status).toBe('ok');
      expect(r.failed).toBe(1);
    } finally {
      delete process.env.ALLOCBENCH_TEST_FAULTS;
    }
  });
});
