/**
 * The mtrace loader read in chunks (as loadTrace streams a file) against the same loader given the
 * whole text: the same trace or the same FILE:LINE error, with chunk ends anywhere (in a line, in a
 * CRLF, in a UTF-8 sequence), on the fixtures and on mutated lines.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMtrace, parseMtraceChunks } from '../src/trace/mtrace.js';
import type { Trace } from '../src/trace/trace.js';

function outcome(f: () => Trace): unknown {
  try {
    const t = f();
    return { n: t.length, op: Array.from(t.op), id: Array.from(t.id), lo: Array.from(t.lo), hi: Array.from(t.hi), ids: t.idCount, pids: t.pidCount };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function chunked(text: string, k: number): Trace {
  const b = Buffer.from(text, 'utf8');
  let at = 0;
  return parseMtraceChunks(() => (at >= b.length ? null : b.subarray(at, (at += k))), () => b, b.length, 'm.mtrace');
}

const M = 'test/fixtures/mtrace';
const allForms = readFileSync(`${M}/all-forms.mtrace`, 'utf8');

describe('mtrace in chunks', () => {
  it('reads the fixtures as the whole text', () => {
    const texts = ['all-forms.mtrace', 'all-forms-crlf.mtrace', 'bad-op.mtrace', 'empty.mtrace'].map((f) => readFileSync(`${M}/${f}`, 'utf8'));
    texts.push(gunzipSync(readFileSync(`${M}/sqlite-head.mtrace.gz`)).toString('utf8'));
    for (const t of texts) for (const k of [1, 3, 64, 4096]) expect(outcome(() => chunked(t, k))).toEqual(outcome(() => parseMtrace(t, 'm.mtrace')));
  });

  it('gives the same trace or error for mutated lines at any chunk size (property)', () => {
    const lines = allForms.split('\n');
    const edit = fc.record({ line: fc.nat(), at: fc.nat(), text: fc.constantFrom('', ' ', '(', ']', '[', '0x', '\u00e9', '\r', '<', '>', '+', '-', '=', '0', 'f', '\n', '< 0x10\n') });
    fc.assert(fc.property(fc.array(edit, { maxLength: 3 }), fc.integer({ min: 1, max: 40 }), (edits, k) => {
      const ls = lines.slice();
      for (const e of edits) {
        const i = e.line % ls.length, l = ls[i]!, j = e.at % (l.length + 1);
        ls[i] = l.slice(0, j) + e.text + l.slice(j);
      }
      const text = ls.join('\n');
      expect(outcome(() => chunked(text, k))).toEqual(outcome(() => parseMtrace(text, 'm.mtrace')));
    }), { numRuns: 300 });
  });
});
