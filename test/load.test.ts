import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AllocbenchError, TraceFormatError } from '../src/errors.js';
import { FORMATS, detectFormat, loadTrace, traceName } from '../src/trace/load.js';
import { parseCsv } from '../src/trace/csv.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { parseMtrace } from '../src/trace/mtrace.js';

const M = 'test/fixtures/mtrace';
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-load-'));

function errorOf(f: () => unknown): unknown {
  try { f(); } catch (e) { return e; }
  return undefined;
}

describe('loadTrace', () => {
  it('reads a .mtrace.gz exactly as the plain text and names it without directories and extensions', () => {
    const plain = loadTrace(`${M}/sqlite-head.mtrace`);
    const gz = loadTrace(`${M}/sqlite-head.mtrace.gz`);
    expect(gz.name).toBe('sqlite-head');
    expect(gz.source).toBe(`${M}/sqlite-head.mtrace.gz`);
    expect(gz.length).toBe(plain.length);
    expect(gz.length).toBeGreaterThan(100);
    expect(Array.from(gz.id)).toEqual(Array.from(plain.id));
    expect(Array.from(gz.lo)).toEqual(Array.from(plain.lo));
  });

  it('reads native CSV by extension, gzipped too', () => {
    const csv = readFileSync('test/fixtures/csv/minimal.csv');
    const p = join(tmp, 'mini.csv.gz');
    writeFileSync(p, gzipSync(csv));
    const t = loadTrace(p);
    expect(t.name).toBe('mini');
    expect(t.length).toBe(4);
  });

  it('sniffs mtrace and CSV content in files with no known extension', () => {
    const t = loadTrace(`${M}/sniffed-no-extension`);
    expect(t.length).toBe(parseMtrace(readFileSync(`${M}/sniffed-no-extension`, 'utf8'), 'x').length);
    expect(t.name).toBe('sniffed-no-extension');
    const p = join(tmp, 'data.log');
    writeFileSync(p, '# a comment\nop,id,size\nmalloc,a,1\n');
    expect(loadTrace(p).length).toBe(1);
    const q = join(tmp, 'noext');
    writeFileSync(q, gzipSync('@ libc.so.6:[0x1] + 0x10 0x20\n'));
    expect(loadTrace(q).length).toBe(1); // gzip found by its magic bytes, then sniffed
  });

  it('reads an empty .mtrace as an empty trace', () => {
    const t = loadTrace(`${M}/empty.mtrace`);
    expect(t.length).toBe(0);
    expect(t.name).toBe('empty');
  });

  it('reports a truncated gzip as an AllocbenchError naming the file', () => {
    const e = errorOf(() => loadTrace(`${M}/truncated.mtrace.gz`));
    expect(e).toBeInstanceOf(AllocbenchError);
    expect((e as AllocbenchError).exitCode).toBe(2);
    expect((e as Error).message).toContain(`${M}/truncated.mtrace.gz`);
    expect((e as Error).message).toContain('gzip');
  });

  it('reports a missing file, a directory and an empty path as AllocbenchError with exit code 2', () => {
    for (const [p, why] of [['no/such/file.mtrace', 'no such file'], ['test/fixtures', 'is a directory'], ['', 'no trace file given']] as const) {
      const e = errorOf(() => loadTrace(p));
      expect(e).toBeInstanceOf(AllocbenchError);
      expect((e as AllocbenchError).exitCode).toBe(2);
      expect((e as Error).message).toContain(why);
      if (p !== '') expect((e as Error).message).toContain(p);
    }
  });

  it('refuses content of no known format with the list of formats', () => {
    const p = join(tmp, 'mystery.bin');
    writeFileSync(p, 'hello world\n');
    const e = errorOf(() => loadTrace(p));
    expect(e).toBeInstanceOf(AllocbenchError);
    expect((e as Error).message).toContain('unknown format');
    expect((e as Error).message).toContain('mtrace');
  });

  it('passes malformed lines through as TraceFormatError with the file path', () => {
    const e = errorOf(() => loadTrace(`${M}/bad-op.mtrace`));
    expect(e).toBeInstanceOf(TraceFormatError);
    expect((e as Error).message.startsWith(`${M}/bad-op.mtrace:3: expected`)).toBe(true);
  });
});

describe('format table', () => {
  it('gives kernel traces the [cpu] column and the task\'s tid (ftrace comm-pid, perf tid and pid/tid, trace-cmd)', () => {
    const f = loadTrace('test/fixtures/kernel/ftrace-6x.ftrace');
    const p = loadTrace('test/fixtures/kernel/perf-4x.perf');
    const c = loadTrace('test/fixtures/kernel/trace-cmd.trace');
    for (const t of [f, p, c]) {
      expect(t.cpu!.length).toBe(t.length);
      expect(t.tid!.length).toBe(t.length);
    }
    // perf: `perf  3214 [000]` then `gnome-shell  1840/1843 [002]`
    expect(Array.from(p.cpu!.subarray(0, 2))).toEqual([0, 2]);
    expect(Array.from(p.tid!.subarray(0, 2))).toEqual([3214, 1843]);
    // trace-cmd: `<idle>-0 [000]`, `kswapd0-97 [001]`, `make-8812 [002]`
    expect(Array.from(c.cpu!.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(Array.from(c.tid!.subarray(0, 3))).toEqual([0, 97, 8812]);
    expect(new Set(f.cpu!).size).toBeGreaterThan(2);
    // no cpu column in the layout: no cpu array
    const n = parseKernelTrace('make-8812 5125.170500: kmalloc: ptr=0xffff8881032c4600 bytes_req=28 bytes_alloc=32 gfp_flags=GFP_KERNEL\n', 'n.trace');
    expect(n.cpu).toBeUndefined();
    expect(Array.from(n.tid!)).toEqual([8812]);
  });

  it('reads a .csv and a .csv.gz of several chunks in pieces, as parseCsv reads the whole text', () => {
    const rows = ['op,id,pid,size'];
    // ~12 MB: two 8 MiB chunks of the plain file; tokens and quoted labels cut at chunk ends
    for (let i = 0; i < 600_000; i++) rows.push(i % 3 === 2 ? `free,p${i - 1},${i & 3}` : `malloc,p${i},${i & 3},${i % 5000}`);
    rows.push('op2,,,'); // a bad op on the last line: the error names it
    const text = `${rows.slice(0, -1).join('\n')}\n`;
    writeFileSync(join(tmp, 'big.csv'), text);
    writeFileSync(join(tmp, 'big.csv.gz'), gzipSync(text, { level: 1 }));
    const want = parseCsv(text, 'big.csv');
    for (const f of ['big.csv', 'big.csv.gz']) {
      const t = loadTrace(join(tmp, f));
      expect(t.length).toBe(want.length);
      expect(Buffer.from(t.id.buffer, t.id.byteOffset, t.id.byteLength).equals(Buffer.from(want.id.buffer, want.id.byteOffset, want.id.byteLength))).toBe(true);
      expect(Array.from(t.lo.subarray(0, 1000))).toEqual(Array.from(want.lo.subarray(0, 1000)));
      expect(t.idCount).toBe(want.idCount);
    }
    writeFileSync(join(tmp, 'bad.csv'), `${rows.join('\n')}\n`);
    expect(errorOf(() => loadTrace(join(tmp, 'bad.csv')))).toBeInstanceOf(TraceFormatError);
    expect((errorOf(() => loadTrace(join(tmp, 'bad.csv'))) as Error).message).toMatch(/bad\.csv:600002: expected an op name.*got "op2,,,"/);
    const gz = gzipSync(text);
    writeFileSync(join(tmp, 'cut.csv.gz'), gz.subarray(0, gz.length >> 1));
    const cut = errorOf(() => loadTrace(join(tmp, 'cut.csv.gz')));
    expect(cut).toBeInstanceOf(AllocbenchError);
    expect((cut as Error).message).toMatch(/cut\.csv\.gz: corrupt or truncated gzip data/);
    expect((errorOf(() => loadTrace(join(tmp, 'none.csv'))) as Error).message).toMatch(/none\.csv: no such file/);
  });

  it('has distinct names and dotted lower-case extensions', () => {
    const names = FORMATS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of FORMATS) for (const ext of f.extensions) expect(ext).toMatch(/^\.[a-z0-9]+$/);
    expect(names).toContain('mtrace');
    expect(names).toContain('csv');
  });

  it('picks by extension before sniffing', () => {
    expect(detectFormat('x.csv', '= Start\n')?.name).toBe('csv');
    expect(detectFormat('x.MTRACE.gz', 'op,id\n')?.name).toBe('mtrace');
    expect(detectFormat('x', '= Start\n')?.name).toBe('mtrace');
    expect(detectFormat('x', 'op,id\n')?.name).toBe('csv');
    expect(detectFormat('x', 'nonsense')).toBeUndefined();
  });

  it('names traces by stripping directories, .gz and the format extension only', () => {
    expect(traceName('/a/b/perl-strings.mtrace.gz')).toBe('perl-strings');
    expect(traceName('dir\\w.csv')).toBe('w');
    expect(traceName('x/data.v2.log')).toBe('data.v2.log');
    expect(traceName('x/.csv')).toBe('.csv');
  });
});
