import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { convertCommand } from '../src/cli/convert.js';
import { AllocbenchError } from '../src/errors.js';
import { isBinaryTrace } from '../src/trace/binary.js';
import { parseCsv } from '../src/trace/csv.js';
import { loadTrace } from '../src/trace/load.js';
import { OP_CACHE_ALLOC, OP_CACHE_FREE, OP_KFREE, OP_KMALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE, PAGE_PIECE } from '../src/trace/ops.js';
import { valueAt, type Trace } from '../src/trace/trace.js';

const tmp = mkdtempSync(join(tmpdir(), 'allocbench-convert-'));

async function convert(...args: string[]): Promise<void> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await yargs(['convert', ...args]).command(convertCommand).strict()
      .fail((msg, err) => { throw err ?? new AllocbenchError(msg); }).parseAsync();
  } finally {
    process.stdout.write = write;
  }
}

async function convertError(...args: string[]): Promise<AllocbenchError> {
  try { await convert(...args); } catch (e) { if (e instanceof AllocbenchError) return e; throw e; }
  throw new Error('expected an AllocbenchError');
}

/** The replayed content of a trace: every column and side table, not the name or source. */
function events(t: Trace): unknown {
  return {
    length: t.length, op: Array.from(t.op), id: Array.from(t.id), lo: Array.from(t.lo), hi: Array.from(t.hi),
    aux: Array.from(t.aux), idCount: t.idCount, pidCount: t.pidCount, caches: t.caches, strings: t.strings,
    extra: Array.from(t.extra),
  };
}

const FIXTURES = [
  'test/fixtures/mtrace/all-forms.mtrace',
  'test/fixtures/mtrace/all-forms-crlf.mtrace',
  'test/fixtures/mtrace/sqlite-head.mtrace.gz',
  'test/fixtures/csv/all-ops.csv',
  'test/fixtures/csv/crlf.csv',
  'test/fixtures/rep/short1-bal.rep',
  'test/fixtures/rep/readme-example.rep',
  'test/fixtures/kernel/ftrace-6x.ftrace',
  'test/fixtures/kernel/perf-4x.perf',
  'test/fixtures/kernel/trace-cmd.trace',
];

describe('allocbench convert', () => {
  it.each(FIXTURES)('%s → bin → csv → parse gives the same events', async (fixture) => {
    const original = loadTrace(fixture);
    expect(original.length).toBeGreaterThan(0);
    const base = fixture.replace(/^.*\//, '').replace(/\./g, '_');
    const bin = join(tmp, `${base}.abt`);
    const csv = join(tmp, `${base}.csv`);
    // every event (--layers none): the default layer view of a kernel recording drops its faults
    await convert(fixture, '--to', 'bin', '--out', bin, ...(/kernel/.test(fixture) ? ['--layers', 'none'] : []));
    expect(isBinaryTrace(readFileSync(bin))).toBe(true);
    expect(events(loadTrace(bin))).toEqual(events(original));
    await convert(bin, '--to', 'csv', '--out', csv);
    const back = parseCsv(readFileSync(csv, 'utf8'), csv);
    // CSV has no pfn column: the pfn a kernel free of a pre-trace block carries in aux is left out
    const noPfn = { ...original, aux: original.aux.map((a, i) => (original.op[i] === OP_PAGE_FREE ? 0 : a)) };
    expect(events(back)).toEqual(events(noPfn));
  });

  it('writes gzipped output for .gz names and takes the format from the extension when --to is left out', async () => {
    const fixture = 'test/fixtures/csv/all-ops.csv';
    await convert(fixture, '--out', join(tmp, 'a.abt.gz'));
    await convert(join(tmp, 'a.abt.gz'), '--out', join(tmp, 'a.csv.gz'));
    const gz = readFileSync(join(tmp, 'a.csv.gz'));
    expect(gz[0]).toBe(0x1f);
    expect(isBinaryTrace(gunzipSync(readFileSync(join(tmp, 'a.abt.gz'))))).toBe(true);
    expect(gunzipSync(gz).toString('utf8').split('\n')[0]).toMatch(/^op,/);
    expect(events(loadTrace(join(tmp, 'a.csv.gz')))).toEqual(events(loadTrace(fixture)));
  });

  it('refuses an output name that contradicts --to, and a name that says no format without --to', async () => {
    const fixture = 'test/fixtures/rep/short1-bal.rep';
    expect((await convertError(fixture, '--to', 'bin', '--out', join(tmp, 'x.csv'))).message).toMatch(/--to bin.*x\.csv.*\.abt/);
    expect((await convertError(fixture, '--to', 'csv', '--out', join(tmp, 'x.mtrace'))).message).toMatch(/extension of mtrace/);
    expect((await convertError(fixture, '--out', join(tmp, 'x.out'))).message).toMatch(/give --to csv\|bin/);
    expect((await convertError(fixture, '--to', 'xml', '--out', join(tmp, 'x.csv'))).message).toMatch(/Invalid values/);
  });

  it('--layers keeps one layer of a kernel recording and is refused for other formats', async () => {
    const rec = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const all = loadTrace(rec);
    const count = (t: Trace, ops: number[]): number => { let n = 0; for (let e = 0; e < t.length; e++) if (ops.includes(t.op[e]!)) n++; return n; };
    const PAGE = [OP_PAGE_ALLOC, OP_PAGE_FREE];
    const SLAB = [OP_KMALLOC, OP_KFREE, OP_CACHE_ALLOC, OP_CACHE_FREE];
    const pagesOut = join(tmp, 'rec-pages.abt');
    const objectsOut = join(tmp, 'rec-objects.abt');
    await convert(rec, '--layers', 'pages', '--out', pagesOut);
    await convert(rec, '--layers', 'objects', '--out', objectsOut);
    const pages = loadTrace(pagesOut), objects = loadTrace(objectsOut);
    expect(count(all, PAGE)).toBeGreaterThan(0);
    expect(count(all, SLAB)).toBeGreaterThan(0);
    // (less the frees before a pfn's first allocation or pcp drain, aux -pfn: kernel.ts pcpStartFree;
    // a piece free of a compaction target's last part has a negative aux too, ~offset, in both views)
    const candidates = pages.op.reduce((n, o, e) => n + (o === OP_PAGE_FREE && pages.aux[e]! < 0 && valueAt(pages, e) < PAGE_PIECE ? 1 : 0), 0);
    expect(candidates).toBeGreaterThan(0);
    expect(count(pages, PAGE) - candidates).toBe(count(all, PAGE));
    expect(count(pages, SLAB)).toBe(0);
    expect(count(objects, SLAB)).toBe(count(all, SLAB));
    expect(count(objects, PAGE)).toBe(0);
    const e = await convertError('test/fixtures/rep/short1-bal.rep', '--layers', 'pages', '--out', join(tmp, 'r.abt'));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/--layers is for kernel traces.*rep/);
  });

  it('reports an unreadable input with exit code 2', async () => {
    const e = await convertError(join(tmp, 'missing.mtrace'), '--to', 'bin', '--out', join(tmp, 'm.abt'));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/missing\.mtrace: no such file/);
  });
});
