/**
 * The CSV byte scanner against the csv-parse loader it replaced (test/support/csv-reference.ts):
 * on the fixtures and on generated files of awkward rows (quotes, blanks, comments, CRLF, BOM,
 * short and long rows, non-ASCII, bad numbers, every token spelling), the same trace or the same
 * FILE:LINE error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCsv, parseCsvChunks } from '../src/trace/csv.js';
import { writeCsv } from '../src/trace/csv-writer.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import type { Trace } from '../src/trace/trace.js';
import { parseCsvReference } from './support/csv-reference.js';

function outcome(f: () => Trace): unknown {
  let t: Trace;
  try {
    t = f();
  } catch (e) {
    return { error: (e as Error).message };
  }
  return {
    length: t.length, op: Array.from(t.op), id: Array.from(t.id), lo: Array.from(t.lo), hi: Array.from(t.hi), aux: Array.from(t.aux),
    idCount: t.idCount, pidCount: t.pidCount, caches: t.caches, strings: t.strings, extra: Array.from(t.extra),
    tid: t.tid && Array.from(t.tid), cpu: t.cpu && Array.from(t.cpu),
  };
}

/** parseCsvChunks over `bytes` in chunks of `k` bytes (lines and quoted records cut anywhere). */
function chunked(bytes: Buffer, k: number): Trace {
  let at = 0;
  return parseCsvChunks(() => (at >= bytes.length ? null : bytes.subarray(at, (at += k))), () => bytes, bytes.length, 'd.csv');
}

function expectSame(text: string, chunk = 7): void {
  const want = outcome(() => parseCsvReference(text, 'd.csv'));
  expect(outcome(() => parseCsv(text, 'd.csv'))).toEqual(want);
  const bytes = Buffer.from(text, 'utf8');
  expect(outcome(() => parseCsv(bytes, 'd.csv'))).toEqual(want);
  expect(outcome(() => chunked(bytes, chunk))).toEqual(want);
  expect(outcome(() => chunked(bytes, 1))).toEqual(want);
}

describe('CSV byte scanner vs csv-parse', () => {
  it('reads every fixture the same', () => {
    for (const f of readdirSync('test/fixtures/csv')) expectSame(readFileSync(`test/fixtures/csv/${f}`, 'utf8'));
  });

  it('reads written generator traces the same', () => {
    for (const g of ['kernel-mix', 'fork-cow', 'power-law']) {
      expectSame(writeCsv(GENERATORS[g]!.generate({ events: 3000 }, 2)));
    }
  });

  it('handles the awkward cases the same', () => {
    const cases = [
      'op,id,size\r\nmalloc,a,1\r\nfree,a\r\n',
      'op,id,size\r\nmalloc,a,1\nfree,a\r\n', // a bare LF in a CRLF file: field text to csv-parse
      'op,id,size\rmalloc,a,1\rfree,a\r', // CR line endings
      '\uFEFFop,id,size\nmalloc,a,1\n',
      '\uFEFFop,id,size\nmalloc,a,x\n',
      'op,id,size\n   \n\t\nmalloc , a , 1 \n  # comment\n#c\nfree,a\n',
      'op,id,size,label\nmark,,,"a, ""b""\nc"\nmalloc,a,0x10\nmark,,,x#y\n',
      'op,id,size\nmalloc,a,"1\n',
      'op,id,size\nmalloc,a,1,\nmalloc,b,2,3\n',
      'op,id,size\nmalloc\nmalloc,a\n',
      'op,id,size\nmalloc,16,1\nmalloc,0x10,1\nmalloc,016,1\nfree,16\nfree,0x10\nfree,016\nfree,0X10\nfree,16\n',
      'op,id,size\nmalloc,0xffffffffffffffff,1\nfree,0xffffffffffffffff\nfree,0xFFFFFFFFFFFFFFFF\nmalloc,123456789012345678,2\nfree,123456789012345678\n',
      'op,id,pid,size\nmalloc,a,1,1\nmalloc,a,2,1\nfree,a,1\nfree,a,3\nrealloc,a,2,5\nrealloc,b,2,5\nfree,b,2\n',
      'op,id,size\nmalloc,é,1\nfree,é\nmalloc,a\u00a0,1\n',
      'op,id,size\nmalloc,a,281474976710656\n',
      'op,id,size\nmalloc,a,0x\n',
      'op,bogus\n',
      'op,op\n',
      'id,size\nmalloc,a,1\n',
      'op,id,size\nmalloc,a,1\nmalloc,b,"2\nmalloc,c,x\n', // a bad number before a quote error: the quote error wins
      '',
      '\n\n',
      'op,id,size,tid,cpu,time\nmalloc,a,1,5,,1.5\nfree,a,,,2,\n',
      'op,id,order,gfp\npage_alloc,p,3,GFP_KERNEL|__GFP_ZERO\npage_alloc,q,0,0x100cca\npage_free,p,3\npage_alloc,r,2,NOPE\n',
      'op,cache,size,align,flags,id\ncache_create,c,64,8,reclaimable|hwcache_align\ncache_alloc,c,,,,o\nkfree,,,,,o\ncache_free,d,,,,o\n',
      'op,pid,addr,len,prot,flags\nmmap,1,0x1000,4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS\nmunmap,1,0x1000,4096\nmmap,1,0x1000,4096,PROT_BOGUS\n',
    ];
    for (const c of cases) expectSame(c);
  });

  it('gives the same trace or error for generated files (property)', () => {
    const token = fc.oneof(
      fc.constantFrom('a', 'b', '0', '16', '0x10', '016', '0X10', '0x0', '0x00', 'p-1', 'é', ' x ', '"q"', '"a,b"', '"x\ny"', '#h', ''),
      fc.nat(40).map(String),
      fc.nat(40).map((v) => `0x${v.toString(16)}`),
    );
    const num = fc.oneof(fc.nat(5000).map(String), fc.constantFrom('0x1f', '0X1F', '', 'x', '-1', '1.5', '281474976710656', '99999999999999999999', ' 7 ', '"8"'));
    const ops = ['malloc', 'free', 'realloc', 'kmalloc', 'kfree', 'page_alloc', 'page_free', 'mark', 'fork', 'exit', 'bogus', ''];
    const row = fc.tuple(fc.constantFrom(...ops), token, fc.constantFrom('', '0', '1', '2', 'x'), num, fc.constantFrom('', '0', '3', '11', '64'), fc.constantFrom('', 'GFP_KERNEL', '0x10', 'NOPE'), fc.constantFrom('', 'lbl', '"a, b"'), fc.nat(7))
      .map(([op, id, pid, size, order, gfp, label, cut]) => [op, id, pid, size, order, gfp, label].slice(0, 7 - (cut % 4)).join(','));
    const line = fc.oneof({ arbitrary: row, weight: 12 }, { arbitrary: fc.constantFrom('', '  ', '# c', '  # c', ',,,,,,,,', 'malloc,z,0,1,,,,extra', '"unclosed'), weight: 1 });
    fc.assert(fc.property(fc.array(line, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.integer({ min: 2, max: 64 }), (lines, eol, bom, chunk) => {
      const text = `${bom ? '\uFEFF' : ''}op,id,pid,size,order,gfp,label${eol}${lines.join(eol)}${eol}`;
      expectSame(text, chunk);
    }), { numRuns: Number(process.env.CSV_DIFF_RUNS ?? 300) });
  });
});
