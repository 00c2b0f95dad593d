import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CellResult } from '../src/run/cell.js';
import { runMatrix, type RunOptions } from '../src/run/runner.js';
import { openTraceCached, streamThreshold } from '../src/trace/cache.js';
import { writePageChurn } from '../src/trace/generators/page-churn.js';
import { isTraceStream } from '../src/trace/stream.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'allocbench-stream-run-'));

/** results.jsonl without the wall-clock fields. */
function deterministic(dir: string): string {
  return readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => { const r = JSON.parse(l) as Partial<CellResult>; delete r.wall; return JSON.stringify(r); }).join('\n');
}

describe('allocbench run on an .abt above the stream threshold', () => {
  const saved = process.env.ALLOCBENCH_MEMORY;
  afterEach(() => { if (saved === undefined) delete process.env.ALLOCBENCH_MEMORY; else process.env.ALLOCBENCH_MEMORY = saved; });

  it('replays it from disk in chunks, in a worker, with the results of reading it whole', async () => {
    const dir = tmp();
    const file = join(dir, 'churn.abt');
    writePageChurn(file, { events: 450_000, mem: 64 * 1024 * 1024, objects: 2000 }, 3); // 6.75 MB
    const base = (out: string): RunOptions => ({
      traces: [file], gens: [], pages: ['buddy', 'bitmap'], objects: ['slub'], machines: ['small'], seeds: [1],
      out, check: false, resume: false, workers: 1, cellTimeout: 0,
    });
    const whole = tmp();
    expect(isTraceStream(openTraceCached(file, join(whole, 'cache')))).toBe(false);
    expect((await runMatrix(base(whole))).failed).toBe(0);
    // a 24 MiB budget (the machine needs 20): the threshold is 6 MiB, below the file
    process.env.ALLOCBENCH_MEMORY = '24M';
    expect(streamThreshold()).toBe(6 * 2 ** 20);
    expect(isTraceStream(openTraceCached(file, join(whole, 'cache')))).toBe(true);
    const streamed = tmp();
    const r = await runMatrix(base(streamed));
    expect(r.failed).toBe(0);
    expect(r.results).toHaveLength(2);
    expect(deterministic(streamed)).toBe(deterministic(whole));
  });
});
