import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TraceFormatError } from '../src/errors.js';
import { AddrIdMap, parseMtrace } from '../src/trace/mtrace.js';
import { loadTrace } from '../src/trace/load.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC } from '../src/trace/ops.js';
import { opCounts, valueAt, type Trace } from '../src/trace/trace.js';

const FIX = 'test/fixtures/mtrace';
const read = (f: string): string => readFileSync(join(FIX, f), 'utf8');

/** [op, id, value] of every event. */
function events(t: Trace): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < t.length; i++) out.push([t.op[i]!, t.id[i]!, valueAt(t, i)]);
  return out;
}

/** Ids a free/realloc uses that no earlier malloc handed out. */
function neverAllocated(t: Trace): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t.op[i] === OP_MALLOC) seen.add(t.id[i]!);
    else if (!seen.has(t.id[i]!)) { out.push(t.id[i]!); seen.add(t.id[i]!); }
  }
  return out;
}

// The events of all-forms.mtrace, worked out by hand from glibc's semantics.
const ALL_FORMS: [number, number, number][] = [
  [OP_MALLOC, 0, 0x1000], //   FILE:(SYM+OFF)[0xOFF] caller with a full path
  [OP_MALLOC, 1, 0x640], //    FILE:[0xOFF]
  [OP_MALLOC, 2, 0], //        [0xADDR] caller, size printed as a bare 0 (%#lx)
  [OP_REALLOC, 1, 0x2000], //  < > pair, caller path with spaces: same id, new address
  [OP_FREE, 0, 0], //          empty file name ":[0x..]"
  //                           ! failed realloc: no event, old block stays live
  [OP_MALLOC, 3, 0x30], //     no caller at all (NULL caller)
  [OP_FREE, 3, 0],
  //                           + (nil): failed malloc, no event
  [OP_FREE, 4, 0], //          free of a pointer never allocated: fresh id
  [OP_FREE, 0, 0], //          double free: the id the address had, so the replay counts a double free
  [OP_REALLOC, 5, 0x10], //    realloc of an unknown pointer: fresh id, which then lives at the new address
  [OP_FREE, 1, 0], //          the realloc'd block freed at its new address
  [OP_FREE, 2, 0],
  [OP_FREE, 5, 0],
];

describe('parseMtrace', () => {
  it('reads every line form and caller form glibc prints', () => {
    const t = parseMtrace(read('all-forms.mtrace'), 'all-forms.mtrace');
    expect(events(t)).toEqual(ALL_FORMS);
    expect(t.idCount).toBe(6);
    expect(t.pidCount).toBe(1);
    expect(Array.from(t.aux)).toEqual(new Array(ALL_FORMS.length).fill(0));
    expect(t.name).toBe('all-forms');
  });

  it('gives unknown-pointer frees and unknown reallocs ids no malloc handed out, and a double free the freed id', () => {
    const t = parseMtrace(read('all-forms.mtrace'), 'all-forms.mtrace');
    expect(neverAllocated(t)).toEqual([4, 5]);
  });

  it('tolerates CRLF line ends', () => {
    const t = parseMtrace(read('all-forms-crlf.mtrace'), 'x.mtrace');
    expect(events(t)).toEqual(ALL_FORMS);
  });

  it('reads an empty file as an empty trace with no process', () => {
    const t = parseMtrace('', 'empty.mtrace');
    expect(t.length).toBe(0);
    expect(t.idCount).toBe(0);
    expect(t.pidCount).toBe(0);
    expect(parseMtrace('= Start\n= End\n', 'x').length).toBe(0);
  });

  it('names file, line, text and expectation of a malformed line', () => {
    expect(() => parseMtrace(read('bad-op.mtrace'), 'bad-op.mtrace')).toThrow(
      'bad-op.mtrace:3: expected an mtrace record: "= Start", "= End" or "[@ CALLER ]OP 0xADDR[ 0xSIZE]" with OP one of + - < > !, got "@ libc.so.6:[0x39221] * 0x1000"',
    );
  });

  const bad: [string, number, string][] = [
    ['= Begin', 1, 'expected an mtrace record'],
    ['@ libc.so.6:[0x1] + 0x10', 1, 'expected a size after the pointer'],
    ['@ libc.so.6:[0x1] + 0x10 16', 1, 'expected a hex size'],
    ['@ libc.so.6:[0x1] + 0x10 0x20 extra', 1, 'expected end of line'],
    ['@ libc.so.6:[zz] + 0x10 0x20', 1, 'expected a hex caller address'],
    ['@ libc.so.6 + 0x10 0x20', 1, 'expected a caller ending in'],
    ['@ libc.so.6[0x1] + 0x10 0x20', 1, 'expected a caller FILE:[0xOFF]'],
    ['+ 10 0x20', 1, 'expected a pointer 0xADDR or (nil)'],
    ['+ 0x 0x20', 1, 'expected a pointer 0xADDR or (nil)'],
    ['- 0x10000000000000', 1, 'expected a pointer below 2^52'],
    ['+ 0x10 0x1000000000000', 1, 'expected a size below 2^48'],
    ['= Start\n> 0x10 0x20', 2, 'expected a "<" line before this ">" line'],
    ['= Start\n< 0x10\n+ 0x20 0x8', 2, 'expected a "> 0xNEW 0xSIZE" line right after this "<" line'],
    ['= Start\n\n< 0x10', 3, 'expected a "> 0xNEW 0xSIZE" line right after this "<" line'],
    ['@x', 1, 'expected "@ " then the caller'],
  ];
  for (const [text, line, msg] of bad) {
    it(`rejects ${JSON.stringify(text)} at line ${line}`, () => {
      let err: unknown;
      try { parseMtrace(text, 'f.mtrace'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(TraceFormatError);
      expect((err as TraceFormatError).line).toBe(line);
      expect((err as Error).message.startsWith(`f.mtrace:${line}: ${msg}`)).toBe(true);
    });
  }

  it('accepts the largest storable size and rejects one past it', () => {
    expect(valueAt(parseMtrace('+ 0x10 0xffffffffffff', 'f'), 0)).toBe(2 ** 48 - 1);
    expect(() => parseMtrace('+ 0x10 0x1000000000000', 'f')).toThrow(TraceFormatError);
  });

  it('either parses or throws TraceFormatError for arbitrary text', () => {
    const piece = fc.constantFrom('= Start', '= End', '@ ', 'libc.so.6:', '(sym+1a)', '[0x12]', ' ', '+', '-', '<', '>', '!',
      '0x', '1f', '0', '(nil)', '\n', '\r\n', ']', '[', ':', 'x');
    fc.assert(fc.property(fc.oneof(fc.string(), fc.array(piece, { maxLength: 40 }).map((a) => a.join(''))), (s) => {
      try {
        const t = parseMtrace(s, 'p');
        expect(t.length).toBeGreaterThanOrEqual(0);
      } catch (e) {
        expect(e).toBeInstanceOf(TraceFormatError);
      }
    }), { numRuns: 2000 });
  });

  it('keeps id and address consistent with a model Map for random malloc/free/realloc logs', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 999 })), { maxLength: 200 }), (ops) => {
      const lines = ['= Start'];
      const model = new Map<number, number>();
      // freed addresses keep their id: a second free is a double free of that id, and a malloc (or
      // a realloc of a pointer that is not live) handed that address takes the id back (id recycling)
      const freed = new Map<number, number>();
      const expected: [number, number, number][] = [];
      let next = 0;
      for (const [k, slot, size] of ops) {
        const addr = 0x550000000000 + slot * 16;
        if (k === 0) {
          lines.push(`@ libc.so.6:[0x1] + 0x${addr.toString(16)} 0x${size.toString(16)}`);
          const id = freed.get(addr) ?? next++;
          model.set(addr, id); freed.delete(addr); expected.push([OP_MALLOC, id, size]);
        } else if (k === 1) {
          lines.push(`- 0x${addr.toString(16)}`);
          const id = model.get(addr);
          model.delete(addr);
          if (id !== undefined) freed.set(addr, id);
          expected.push([OP_FREE, id ?? freed.get(addr) ?? next++, 0]);
        } else {
          const to = addr + 0x1000;
          lines.push(`< 0x${addr.toString(16)}`, `> 0x${to.toString(16)} 0x${size.toString(16)}`);
          let id = model.get(addr);
          model.delete(addr);
          if (id === undefined) id = freed.get(to) ?? next++;
          model.set(to, id);
          freed.delete(to);
          expected.push([OP_REALLOC, id, size]);
        }
      }
      expect(events(parseMtrace(lines.join('\n'), 'p'))).toEqual(expected);
    }), { numRuns: 300 });
  });

  it('a freed address handed out again takes its old id back (malloc, free, malloc: one id)', () => {
    const t = parseMtrace(['= Start', '@ libc.so.6:[0x1] + 0x550000000010 0x0', '- 0x550000000010', '@ libc.so.6:[0x1] + 0x550000000010 0x0'].join('\n'), 'p');
    expect(events(t)).toEqual([[OP_MALLOC, 0, 0], [OP_FREE, 0, 0], [OP_MALLOC, 0, 0]]);
  });
});

describe('AddrIdMap', () => {
  it('agrees with a Map under random set/take/get, through growth and backward-shift deletes', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 300 })), { maxLength: 600 }), (ops) => {
      const m = new AddrIdMap(4);
      const ref = new Map<number, number>();
      ops.forEach(([k, slot], i) => {
        const key = 0x7f0000000000 + slot * 0x30; // above 2^32, stepped like heap chunks
        if (k === 0) { m.set(key, i); ref.set(key, i); } else if (k === 1) {
          expect(m.take(key)).toBe(ref.get(key) ?? -1);
          ref.delete(key);
        } else expect(m.get(key)).toBe(ref.get(key) ?? -1);
      });
      expect(m.size).toBe(ref.size);
      for (const [key, v] of ref) expect(m.get(key)).toBe(v);
    }), { numRuns: 300 });
  });
});

describe('bundled mtrace recordings', () => {
  const files = readdirSync('traces').filter((f) => f.endsWith('.mtrace.gz')).sort();
  it('there are at least three', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });
  for (const f of files) {
    it(`${f} loads with no malformed line and holds malloc, free and realloc events`, () => {
      const t = loadTrace(join('traces', f));
      const c = opCounts(t);
      expect(c[OP_MALLOC]).toBeGreaterThan(1000);
      expect(c[OP_FREE]).toBeGreaterThan(1000);
      expect(c[OP_REALLOC]).toBeGreaterThan(0);
      expect(t.length).toBe(c[OP_MALLOC]! + c[OP_FREE]! + c[OP_REALLOC]!);
      expect(t.name).toBe(f.replace(/\.mtrace\.gz$/, ''));
    });
  }
});
