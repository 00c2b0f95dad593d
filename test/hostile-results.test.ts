import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllocbenchError } from '../src/errors.js';
import type { CellResult } from '../src/run/cell.js';
import { mergeRuns } from '../src/run/merge.js';
import { runMatrix, type RunOptions } from '../src/run/runner.js';
import { loadResults } from '../src/report/load-results.js';
import { parseResultLines } from '../src/run/result-line.js';
import { appendLine } from '../src/run/output.js';
import { FIXTURE_CSV } from './support/cli.js';

/** Issue 18 item 4: results are never mixed, torn or lost (in-process runs of 1-3 one-trace cells). */
const root = mkdtempSync(join(tmpdir(), 'allocbench-hostile-results-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = (): string => join(root, `d${++n}`);
const opts = (out: string, over: Partial<RunOptions> = {}): RunOptions => ({
  traces: [FIXTURE_CSV], gens: [], pages: ['buddy'], objects: ['slub'], machines: ['small'], seeds: [1],
  out, check: false, resume: false, workers: 0, cellTimeout: 0, ...over,
});
const lines = (d: string): string[] => readFileSync(join(d, 'results.jsonl'), 'utf8').split('\n').filter(Boolean);
async function refusedAsync(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AllocbenchError);
  expect((err as Error).message).toMatch(message);
}
const refused = (f: () => unknown, message: RegExp): void => {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(AllocbenchError);
  expect((err as Error).message).toMatch(message);
};

let done: string;
beforeAll(async () => {
  done = dir();
  expect((await runMatrix(opts(done))).failed).toBe(0);
});

describe('results.jsonl of null, {} or lines without wall', () => {
  const good = (): CellResult => JSON.parse(lines(done)[0]!) as CellResult;
  const cases: [string, () => string][] = [
    ['null', () => 'null'], ['{}', () => '{}'], ['a number', () => '42'],
    ['no wall', () => JSON.stringify({ ...good(), wall: undefined })],
    ['no cell seed', () => JSON.stringify({ ...good(), cell: { ...good().cell, seed: 'x' } })],
  ];
  it.each(cases)('%s: report/compare (loadResults), merge and --resume refuse it naming FILE:LINE', async (_n, badLine) => {
      const bad = badLine();
      const d = dir();
      cpSync(done, d, { recursive: true });
      writeFileSync(join(d, 'results.jsonl'), `${lines(done)[0]}\n${bad}\n`);
      refused(() => loadResults(d), /results\.jsonl:2: not a/);
      refused(() => mergeRuns([d], dir()), /results\.jsonl:2: not a/);
      await refusedAsync(runMatrix(opts(d, { resume: true })), /results\.jsonl:2: not a/);
    });
});

describe('--resume', () => {
  it('refuses a folder of another matrix (run.json) and leaves it as it was', async () => {
    const d = dir();
    cpSync(done, d, { recursive: true });
    const before = readFileSync(join(d, 'results.jsonl'), 'utf8');
    const run = readFileSync(join(d, 'run.json'), 'utf8');
    await refusedAsync(runMatrix(opts(d, { resume: true, pages: ['bitmap'] })), /--resume: .* holds a run of a different matrix/);
    await refusedAsync(runMatrix(opts(d, { resume: true, shard: { k: 1, n: 1 } })), /different matrix/);
    expect(readFileSync(join(d, 'results.jsonl'), 'utf8')).toBe(before);
    expect(readFileSync(join(d, 'run.json'), 'utf8')).toBe(run);
  });

  it('refuses results of cells this matrix does not have, even without run.json', async () => {
    const d = dir();
    cpSync(done, d, { recursive: true });
    rmSync(join(d, 'run.json'));
    await refusedAsync(runMatrix(opts(d, { resume: true, objects: ['kmalloc-pow2'] })), /holds cell .*slub.*which this run's matrix does not have/);
  });

  it('cuts a torn last line before appending: the next result starts on its own line', async () => {
    const d = dir();
    mkdirSync(d);
    const r = await runMatrix(opts(d, { pages: ['buddy', 'bitmap'] }));
    expect(r.results).toHaveLength(2);
    const [first, second] = lines(d);
    // a kill mid-write: the first cell whole, the second torn
    writeFileSync(join(d, 'results.jsonl'), `${first}\n${second!.slice(0, 40)}`);
    const again = await runMatrix(opts(d, { pages: ['buddy', 'bitmap'], resume: true }));
    expect(again.results).toHaveLength(2);
    const after = lines(d);
    expect(after).toHaveLength(2);
    for (const l of after) expect(() => JSON.parse(l)).not.toThrow();
    expect(parseResultLines(readFileSync(join(d, 'results.jsonl'), 'utf8'), 'x').torn).toBe(false);
  });
});

describe('cell names', () => {
  it('two traces with one file name in different folders stay two cells', async () => {
    const a = join(root, 'a'), b = join(root, 'b');
    mkdirSync(a); mkdirSync(b);
    cpSync(FIXTURE_CSV, join(a, 'x.csv'));
    writeFileSync(join(b, 'x.csv'), 'op,id,order\npage_alloc,p1,0\npage_alloc,p2,1\n');
    const r = await runMatrix(opts(dir(), { traces: [join(a, 'x.csv'), join(b, 'x.csv')] }));
    expect(r.results.map((x) => x.cell.trace).sort()).toEqual(['a/x', 'b/x']);
    expect(new Set(r.results.map((x) => x.events)).size).toBe(2);
  });
});

describe('merge', () => {
  it('refuses 2 of 3 shards; --partial merges them and run.json records what is missing', async () => {
    const s = [dir(), dir(), dir()];
    for (const [i, d] of s.entries()) await runMatrix(opts(d, { pages: ['buddy', 'bitmap', 'freelist'], shard: { k: i + 1, n: 3 } }));
    refused(() => mergeRuns([s[0]!, s[1]!], dir()), /incomplete: shard\(s\) 3 of 3 missing/);
    const out = dir();
    expect(mergeRuns([s[0]!, s[1]!], out, true)).toHaveLength(2);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(run).toMatchObject({ partial: true, missing_shards: [3], cells: 2 });
    expect(mergeRuns(s, dir())).toHaveLength(3);
  });

  it('refuses a shard that did not finish (fewer results than its run.json promises)', async () => {
    const s = [dir(), dir()];
    for (const [i, d] of s.entries()) await runMatrix(opts(d, { pages: ['buddy', 'bitmap', 'freelist', 'bitmap2'], shard: { k: i + 1, n: 2 } }));
    writeFileSync(join(s[1]!, 'results.jsonl'), `${lines(s[1]!)[0]}\n`);
    refused(() => mergeRuns(s, dir()), /lacks 1 of its cells/);
  });
});

describe('a full disk', () => {
  it('at the final rewrite: a clear message, the previous results.jsonl and summary.csv intact, no .tmp left', async () => {
    const d = dir();
    cpSync(done, d, { recursive: true });
    const results = readFileSync(join(d, 'results.jsonl'), 'utf8');
    const summary = readFileSync(join(d, 'summary.csv'), 'utf8');
    // ENOSPC injected: the temporary file is a link to /dev/full, where every write fails with ENOSPC
    symlinkSync('/dev/full', join(d, 'results.jsonl.tmp'));
    await refusedAsync(runMatrix(opts(d, { resume: true })), /cannot write .*results\.jsonl: no space left on the device \(ENOSPC\); the previous file is left as it was/);
    expect(readFileSync(join(d, 'results.jsonl'), 'utf8')).toBe(results);
    expect(readFileSync(join(d, 'summary.csv'), 'utf8')).toBe(summary);
    expect(existsSync(join(d, 'results.jsonl.tmp'))).toBe(false);
  });

  it('while appending a result: a clear message naming the file; a results.jsonl that is a device is refused on --resume', async () => {
    refused(() => appendLine('/dev/full', '{}'), /cannot append to \/dev\/full: no space left on the device \(ENOSPC\)/);
    const d = dir();
    mkdirSync(d);
    symlinkSync('/dev/zero', join(d, 'results.jsonl'));
    await refusedAsync(runMatrix(opts(d, { resume: true })), /results\.jsonl: not a regular file/);
  });
});
