import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TraceFormatError } from '../src/errors.js';
import { parseRep } from '../src/trace/rep.js';
import { OP_NAMES } from '../src/trace/ops.js';
import { valueAt, type Trace } from '../src/trace/trace.js';

const fixture = (f: string): string => readFileSync(new URL(`./fixtures/rep/${f}`, import.meta.url), 'utf8');

function rows(t: Trace): [string, number, number, number][] {
  const out: [string, number, number, number][] = [];
  for (let i = 0; i < t.length; i++) out.push([OP_NAMES[t.op[i]!]!, t.id[i]!, valueAt(t, i), t.aux[i]!]);
  return out;
}

function expectFormatError(text: string, line: number): TraceFormatError {
  try {
    parseRep(text, 'bad.rep');
  } catch (e) {
    expect(e).toBeInstanceOf(TraceFormatError);
    const err = e as TraceFormatError;
    expect(err.line).toBe(line);
    expect(err.file).toBe('bad.rep');
    return err;
  }
  throw new Error('expected a TraceFormatError');
}

describe('malloc-lab .rep loader', () => {
  it('reads the 4-line-header example of the lab README as malloc/realloc/free of pid 0', () => {
    const t = parseRep(fixture('readme-example.rep'), 'traces/readme-example.rep');
    expect(t.name).toBe('readme-example');
    expect(rows(t)).toEqual([
      ['malloc', 0, 512, 0], ['malloc', 1, 128, 0], ['realloc', 0, 640, 0], ['malloc', 2, 128, 0],
      ['free', 1, 0, 0], ['realloc', 0, 768, 0], ['free', 0, 0, 0], ['free', 2, 0, 0],
    ]);
    expect(t.idCount).toBe(3);
    expect(t.pidCount).toBe(1);
    expect(t.stats).toMatchObject({ header_heap_size: 20000, header_ids: 3, header_ops: 8, header_weight: 1, ops: 8 });
  });

  it('reads short1-bal with CRLF line ends and a blank line', () => {
    const t = parseRep(fixture('short1-bal.rep'), 'short1-bal.rep');
    expect(t.length).toBe(12);
    expect(rows(t).slice(0, 4)).toEqual([['malloc', 0, 2040, 0], ['malloc', 1, 2040, 0], ['free', 1, 0, 0], ['malloc', 2, 48, 0]]);
    expect(t.idCount).toBe(6);
    expect(t.stats).toMatchObject({ header_ids: 6, header_ops: 12 });
  });

  it('reads the 2-line-header edition', () => {
    const t = parseRep(fixture('two-line.rep'), 'two-line.rep');
    expect(rows(t)).toEqual([['malloc', 0, 24, 0], ['malloc', 1, 100, 0], ['realloc', 1, 200, 0], ['free', 0, 0, 0], ['free', 1, 0, 0]]);
    expect(t.stats).toMatchObject({ header_ids: 3, header_ops: 5 });
    expect(t.stats!.header_heap_size).toBeUndefined();
  });

  it('maps sparse recorded ids to dense ids and a reused id to a new block', () => {
    const t = parseRep('1\n1\na 900000000000 16\nf 900000000000\na 900000000000 32\na 7 8\nf 7\n', 'x.rep');
    expect(rows(t)).toEqual([['malloc', 0, 16, 0], ['free', 0, 0, 0], ['malloc', 1, 32, 0], ['malloc', 2, 8, 0], ['free', 2, 0, 0]]);
  });

  it('treats realloc of an unknown id as malloc and a free of an unknown id as a free of a fresh id', () => {
    const t = parseRep('0\n0\nr 3 40\nf 9\nf 3\nf 3\n', 'x.rep');
    expect(rows(t)).toEqual([['malloc', 0, 40, 0], ['free', 1, 0, 0], ['free', 0, 0, 0], ['free', 2, 0, 0]]);
    expect(t.idCount).toBe(3);
    expect(t.stats!.realloc_as_malloc).toBe(1);
  });

  it('counts an alloc of a live id (mdriver overwrites ptr_<id>, leaking the old block)', () => {
    const t = parseRep('1\n1\na 0 8\na 0 16\nf 0\n', 'x.rep');
    expect(rows(t)).toEqual([['malloc', 0, 8, 0], ['malloc', 1, 16, 0], ['free', 1, 0, 0]]);
    expect(t.stats!.alloc_of_live_id).toBe(1);
  });

  it('accepts a header-only trace and a zero-byte malloc', () => {
    expect(parseRep('20000\n0\n0\n1\n', 'x.rep').length).toBe(0);
    expect(rows(parseRep('20000\n1\n1\n1\na 0 0\n', 'x.rep'))).toEqual([['malloc', 0, 0, 0]]);
  });
});

describe('malloc-lab .rep loader: malformed input', () => {
  it('names the line of a bad op', () => {
    const err = expectFormatError('20000\n2\n2\n1\na 0 8\nx 1 8\n', 6);
    expect(err.text).toBe('x 1 8');
    expect(err.message).toContain('bad.rep:6');
  });

  it('rejects negative sizes and ids', () => {
    expectFormatError('1\n1\na 0 -8\n', 3);
    expectFormatError('1\n1\na -1 8\n', 3);
    expectFormatError('1\n-1\na 0 8\n', 2);
  });

  it('rejects sizes past 2^48 and ids past 2^53', () => {
    expectFormatError(`1\n1\na 0 ${2 ** 48}\n`, 3);
    expect(parseRep(`1\n1\na 0 ${2 ** 48 - 1}\n`, 'x.rep').length).toBe(1);
    expectFormatError('1\n1\na 0 8\nf 9007199254740993\n', 4);
    expectFormatError('1\n1\nr 99999999999999999999 8\n', 3);
  });

  it('rejects truncated lines and trailing junk', () => {
    expectFormatError('1\n1\na 0\n', 3);
    expectFormatError('1\n1\na\n', 3);
    expectFormatError('1\n1\nr 0 8\nf\n', 4);
    expectFormatError('1\n1\na 0 8 9\n', 3);
    expectFormatError('1\n1\nf 0 8\n', 3);
    expectFormatError('1\n1\na 0 8x\n', 3);
  });

  it('rejects a header of fewer than 2 or more than 4 integer lines', () => {
    expectFormatError('', 1);
    expectFormatError('20000\na 0 8\n', 2);
    expectFormatError('1\n2\n3\n4\n5\na 0 8\n', 5);
    expectFormatError('a 0 8\n', 1);
    expectFormatError('1 2\n3\na 0 8\n', 1);
  });

  const onlyTraceOrFormatError = (text: string): void => {
    try {
      const t = parseRep(text, 'fuzz.rep');
      for (let i = 0; i < t.length; i++) expect(t.id[i]! < t.idCount).toBe(true);
    } catch (e) {
      if (!(e instanceof TraceFormatError)) throw e;
    }
  };

  it('returns a Trace or throws TraceFormatError for arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), onlyTraceOrFormatError), { numRuns: 500 });
    const piece = fc.constantFrom('a', 'r', 'f', ' ', '0', '7', '-', '\n', '\r\n', '20000', '99999999999999999999', 'x');
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }).map((a) => `1\n1\n${a.join('')}`), onlyTraceOrFormatError), { numRuns: 500 });
  });

  it('returns a Trace or throws TraceFormatError for mutated valid traces', () => {
    const base = fixture('readme-example.rep');
    const mutated = fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 5 })).map(([at, del, ins]) => {
      const p = at % (base.length + 1);
      return base.slice(0, p) + ins + base.slice(p + del);
    });
    fc.assert(fc.property(mutated, onlyTraceOrFormatError), { numRuns: 1000 });
  });
});

describe('malloc-lab .rep loader: format table', () => {
  it('is picked by the .rep extension and by content sniff', async () => {
    const { detectFormat, loadTrace } = await import('../src/trace/load.js');
    expect(detectFormat('x/amptjp-bal.rep', '')?.name).toBe('rep');
    expect(detectFormat('trace.dat', fixture('readme-example.rep'))?.name).toBe('rep');
    expect(detectFormat('trace.dat', fixture('short1-bal.rep'))?.name).toBe('rep');
    expect(detectFormat('trace.dat', fixture('two-line.rep'))?.name).toBe('rep');
    expect(detectFormat('trace.dat', 'op,id,value\n')?.name).not.toBe('rep');
    const t = loadTrace(new URL('./fixtures/rep/readme-example.rep', import.meta.url).pathname);
    expect(t.name).toBe('readme-example');
    expect(t.length).toBe(8);
  });
});
