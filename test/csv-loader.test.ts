import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TraceFormatError } from '../src/errors.js';
import { GFP_KERNEL, __GFP_ZERO } from '../src/machine/gfp.js';
import { parseCsv } from '../src/trace/csv.js';
import { writeCsv } from '../src/trace/csv-writer.js';
import { parseMtrace } from '../src/trace/mtrace.js';
import * as O from '../src/trace/ops.js';
import { TraceBuilder, valueAt, type Trace } from '../src/trace/trace.js';

const fixture = (f: string): string => readFileSync(`test/fixtures/csv/${f}`, 'utf8');

function rows(t: Trace): [string, number, number, number][] {
  const out: [string, number, number, number][] = [];
  for (let i = 0; i < t.length; i++) out.push([O.OP_NAMES[t.op[i]!]!, t.id[i]!, valueAt(t, i), t.aux[i]!]);
  return out;
}

function expectSameTrace(a: Trace, b: Trace): void {
  expect(rows(b)).toEqual(rows(a));
  expect(b.idCount).toBe(a.idCount);
  expect(b.pidCount).toBe(a.pidCount);
  expect(b.caches).toEqual(a.caches);
  expect(b.strings).toEqual(a.strings);
  expect(Array.from(b.extra)).toEqual(Array.from(a.extra));
}

describe('parseCsv', () => {
  it('expresses every canonical op', () => {
    const t = parseCsv(fixture('all-ops.csv'), 'test/fixtures/csv/all-ops.csv');
    expect(t.name).toBe('all-ops');
    const ops = new Set(Array.from(t.op));
    for (let o = 0; o < O.OP_COUNT; o++) expect(ops.has(o), O.OP_NAMES[o]).toBe(true);
  });

  it('maps tokens, gfp forms, cache names, process fields and extfrag columns to the documented columns', () => {
    const t = parseCsv(fixture('all-ops.csv'), 'all-ops.csv');
    expect(rows(t)).toEqual([
      ['mark', 0, 0, 0],
      ['page_alloc', 0, 3, GFP_KERNEL | __GFP_ZERO], // symbolic gfp
      ['page_alloc', 1, 0, 0x100cca], //                 hex gfp
      ['page_alloc', 2, 9, 3264], //                     decimal gfp
      ['page_free', 0, 3, 0],
      ['kmalloc', 3, 100, GFP_KERNEL],
      ['cache_create', 0, 0, 0],
      ['cache_create', 1, 0, 0],
      ['cache_alloc', 4, 0, 0],
      ['cache_alloc', 5, 0, 1],
      ['kfree', 4, 0, 0], //                             kfree of a cache object: same kernel-object namespace
      ['cache_free', 5, 0, 1],
      ['kfree', 3, 0, 0],
      ['malloc', 6, 24, 7],
      ['realloc', 6, 4000, 7],
      ['malloc', 7, 16, 8], //                           same token, other pid: another object
      ['free', 6, 0, 7],
      ['free', 6, 0, 7], //                              double free: the freed id again
      ['free', 7, 0, 8],
      ['fork', 7, 0, 9],
      ['mmap', 9, 0x7f0000000000, 0],
      ['fault', 9, 0x7f0000001000, 1],
      ['brk', 9, 0x560000021000, 0],
      ['munmap', 9, 0x7f0000000000, 1],
      ['exit', 9, 0, 0],
      ['extfrag', 0, 2, O.packExtfrag(0, 0, 1, true, false)],
      ['mark', 0, 0, 1],
      ['tick', 0, 0, 0],
      ['reclaim_begin', 0, 0, 3], //                      zone by name
      ['pcp_drain', 0, 0, 1], //                          zone by index
      ['reclaim_end', 0, 0, 0],
    ]);
    expect(t.caches).toEqual([
      { name: 'dentry', size: 192, align: 8, flags: O.CACHE_RECLAIMABLE | O.CACHE_HWCACHE_ALIGN },
      { name: 'my cache, with comma', size: 64, align: 0, flags: 0 },
    ]);
    expect(t.strings).toEqual(['boot', 'phase, two']);
    expect(Array.from(t.extra)).toEqual([65536, 1 | 2 | (0x02 | 0x20) * 256, 4096, 0]);
    expect(t.idCount).toBe(8);
    expect(t.pidCount).toBe(10);
  });

  it('takes a minimal header and gives an unknown-token free an id never allocated', () => {
    const t = parseCsv(fixture('minimal.csv'), 'minimal.csv');
    expect(rows(t)).toEqual([['malloc', 0, 10, 0], ['malloc', 1, 20, 0], ['free', 0, 0, 0], ['free', 2, 0, 0]]);
    expect(t.idCount).toBe(3);
  });

  it('reads tid and cpu columns (empty cell: -1) and accepts a time column, and writes them back', () => {
    const text = 'op,id,size,tid,cpu,time\nmalloc,a,16,101,0,5\nmalloc,b,32,102,,6.5\nfree,a,,,1,7\n';
    const t = parseCsv(text, 't.csv');
    expect(Array.from(t.tid!)).toEqual([101, 102, -1]);
    expect(Array.from(t.cpu!)).toEqual([0, -1, 1]);
    const back = parseCsv(writeCsv(t), 'back.csv');
    expect(Array.from(back.tid!)).toEqual([101, 102, -1]);
    expect(Array.from(back.cpu!)).toEqual([0, -1, 1]);
    expectSameTrace(t, back);
    expect(writeCsv(t).split('\n')[0]).toBe('op,id,pid,size,tid,cpu');
    // no such columns: no such arrays, and the writer adds none
    const plainT = parseCsv('op,id,size\nmalloc,a,16\n', 'p.csv');
    expect(plainT.tid).toBeUndefined();
    expect(plainT.cpu).toBeUndefined();
    expect(writeCsv(plainT)).not.toMatch(/tid|cpu/);
    expect(() => parseCsv('op,id,size,tid\nmalloc,a,16,x\n', 'bad.csv')).toThrow(/bad\.csv:2.*"tid"/);
  });

  it('tolerates CRLF', () => {
    expect(rows(parseCsv(fixture('crlf.csv'), 'crlf.csv'))).toEqual([['malloc', 0, 10, 0], ['free', 0, 0, 0]]);
  });

  it('reads an empty file as an empty trace', () => {
    expect(parseCsv('', 'e.csv').length).toBe(0);
    expect(parseCsv('op,id\n', 'e.csv').length).toBe(0);
  });

  it('names file and line of a bad number', () => {
    expect(() => parseCsv(fixture('bad-number.csv'), 'bad-number.csv')).toThrow(
      'bad-number.csv:3: expected a number (decimal or 0x hex) in column "size", got "malloc,b,ten"',
    );
  });

  const bad: [string, number, string][] = [
    ['id,size\nmalloc,1,2', 1, 'a header row with an "op" column'],
    ['op,id,colour\nmalloc,1', 1, 'a header row of distinct column names'],
    ['op,id,id\nmalloc,1', 1, 'a header row of distinct column names'],
    ['op,id,size\nmalloc,1,2\nallocate,1,2', 3, 'an op name'],
    ['op,id,size\n# comment\nmalloc,,2', 3, 'a value in column "id" for malloc'],
    ['op,id,size\nmalloc,1', 2, 'a value in column "size" for malloc'],
    ['op,id,size\nmalloc,1,281474976710656', 2, 'a number in column "size" from 0'],
    ['op,id,size\nmalloc,1,2,3', 2, 'at most 3 cells'],
    ['op,id,gfp,order\npage_alloc,1,GFP_BOGUS,0', 2, 'gfp flags in column "gfp"'],
    ['op,id,cache\ncache_alloc,1,nosuch', 2, 'the name of a cache created earlier'],
    ['op,cache,size,flags\ncache_create,c,8,bogus', 2, 'a number or reclaimable'],
    ['op,pid,addr,len,prot\nmmap,1,0x1000,4096,PROT_FLY', 2, 'a number or PROT_NONE'],
    ['op,pid,addr,write\nfault,1,0x1000,2', 2, 'a number in column "write" from 0 to 1'],
    ['op,label\nmark,"open', 2, 'well-formed CSV'],
  ];
  for (const [text, line, msg] of bad) {
    it(`rejects ${JSON.stringify(text)} at line ${line}`, () => {
      let err: unknown;
      try { parseCsv(text, 'f.csv'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(TraceFormatError);
      expect((err as TraceFormatError).line).toBe(line);
      expect((err as Error).message.startsWith(`f.csv:${line}: expected ${msg}`)).toBe(true);
    });
  }

  it('either parses or throws TraceFormatError for arbitrary text', () => {
    const piece = fc.constantFrom('op,id,size,gfp,order,cache,label\n', 'malloc', 'free', 'page_alloc', 'mark', 'cache_create', ',', '\n', '"', '1', '0x', 'GFP_KERNEL', '#', ' ', '\r\n');
    fc.assert(fc.property(fc.oneof(fc.string(), fc.array(piece, { maxLength: 30 }).map((a) => a.join(''))), (s) => {
      try {
        parseCsv(s, 'p.csv');
      } catch (e) {
        expect(e).toBeInstanceOf(TraceFormatError);
      }
    }), { numRuns: 1500 });
  });
});

describe('writeCsv', () => {
  it('round-trips the all-ops fixture: csv → trace → csv → same trace', () => {
    const t = parseCsv(fixture('all-ops.csv'), 'all-ops.csv');
    expectSameTrace(t, parseCsv(writeCsv(t), 'again.csv'));
  });

  it('round-trips an mtrace recording: text → trace → csv → same events', () => {
    const text = readFileSync('test/fixtures/mtrace/all-forms.mtrace', 'utf8') + readFileSync('test/fixtures/mtrace/sqlite-head.mtrace', 'utf8');
    const t = parseMtrace(text, 'x.mtrace');
    expectSameTrace(t, parseCsv(writeCsv(t), 'x.csv'));
  });

  it('round-trips arbitrary loader-shaped traces with awkward labels and cache names', () => {
    const label = fc.string({ maxLength: 8 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: O.OP_COUNT - 1 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 5 }), label), { maxLength: 60 }), (evs) => {
      const b = new TraceBuilder('g', 'g');
      // One live list per token namespace (page blocks, kernel objects, user heap), as loaders keep them.
      const live: number[][] = [[], [], []];
      let caches = 0;
      for (const [op, v, small, s] of evs) {
        const allocId = (ns: number): number => { const id = b.newId(); live[ns]!.push(id); return id; };
        const freeId = (ns: number): number => {
          const l = live[ns]!;
          return l.length > 0 && small % 2 === 0 ? l.splice(small % l.length, 1)[0]! : b.newId();
        };
        switch (op) {
          case O.OP_PAGE_ALLOC: b.push(op, allocId(0), small, 0x400cc0 + small); break;
          case O.OP_PAGE_FREE: b.push(op, freeId(0), small, 0); break;
          case O.OP_KMALLOC: b.push(op, allocId(1), v, 0xcc0); break;
          case O.OP_KFREE: b.push(op, freeId(1), 0, 0); break;
          case O.OP_MALLOC: b.notePid(0); b.push(op, allocId(2), v, 0); break;
          case O.OP_FREE: b.notePid(0); b.push(op, freeId(2), 0, 0); break;
          case O.OP_REALLOC: {
            b.notePid(0);
            const l = live[2]!;
            let id: number;
            if (l.length > 0) id = l[small % l.length]!;
            else { id = b.newId(); l.push(id); } // realloc of an unknown token: fresh id that stays live
            b.push(op, id, v, 0);
            break;
          }
          case O.OP_CACHE_CREATE: b.push(op, b.addCache({ name: `${s}#${caches++}`, size: 8 + small, align: 0, flags: small & 3 }), 0, 0); break;
          case O.OP_CACHE_ALLOC: if (caches > 0) b.push(op, allocId(1), 0, small % caches); break;
          case O.OP_CACHE_FREE: if (caches > 0) b.push(op, freeId(1), 0, small % caches); break;
          case O.OP_MMAP: b.notePid(small); b.push(op, small, v, b.addExtra(v % 100000, (v % 8) + 256 * (v % 1000))); break;
          case O.OP_MUNMAP: b.notePid(small); b.push(op, small, v, b.addExtra(v % 100000, 0)); break;
          case O.OP_BRK: case O.OP_EXIT: b.notePid(small); b.push(op, small, op === O.OP_BRK ? v : 0, 0); break;
          case O.OP_FAULT: b.notePid(small); b.push(op, small, v, small & 1); break;
          case O.OP_FORK: b.notePid(small); b.notePid(small + 1); b.push(op, small, 0, small + 1); break;
          case O.OP_MARK: b.push(op, 0, 0, b.intern(s)); break;
          case O.OP_EXTFRAG: b.push(op, 0, small, O.packExtfrag(small, 1, 0, true, small > 2)); break;
        }
      }
      const t = b.finish();
      expectSameTrace(t, parseCsv(writeCsv(t), 'g.csv'));
    }), { numRuns: 200 });
  });
});
