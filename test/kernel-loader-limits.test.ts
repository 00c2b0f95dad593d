import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { AllocbenchError, TraceFormatError } from '../src/errors.js';
import { KERNEL_TRACE_MAX_BYTES, checkKernelTraceSize, parseKernelTrace, parseKernelTraceBytewise } from '../src/trace/kernel.js';
import { loadTrace } from '../src/trace/load.js';
import type { Trace } from '../src/trace/trace.js';

const fixture = (f: string): Buffer => readFileSync(new URL(`./fixtures/kernel/${f}`, import.meta.url));
const FIXTURES = ['ftrace-6x.ftrace', 'perf-4x.perf', 'trace-cmd.trace'];

/** Everything a parse gives: every column, the tables and stats, or the error's message. */
function outcome(parse: () => Trace): unknown {
  try {
    const t = parse();
    return {
      name: t.name, length: t.length, idCount: t.idCount, pidCount: t.pidCount, caches: t.caches, strings: t.strings, stats: t.stats,
      cols: [t.op, t.id, t.lo, t.hi, t.aux, t.extra].map((a) => Array.from(a)),
    };
  } catch (e) {
    if (!(e instanceof TraceFormatError)) throw e;
    return { error: e.message };
  }
}

/** The bytes at byte offset k of a larger buffer: the word scans see every alignment (word base 0..3). */
function atOffset(b: Buffer, k: number): Buffer {
  const x = Buffer.alloc(b.length + 8, 0x41);
  b.copy(x, k);
  return x.subarray(k, k + b.length);
}

describe('kernel trace loader: input size limit', () => {
  it('accepts inputs up to KERNEL_TRACE_MAX_BYTES (2 GiB - 4) and rejects longer ones with a one-line AllocbenchError naming file and limit', () => {
    expect(KERNEL_TRACE_MAX_BYTES).toBe(2 ** 31 - 4);
    // the word scans shift (offset + word base up to 3) by 2 as int32: the largest offset must stay positive
    expect((KERNEL_TRACE_MAX_BYTES + 3) >> 2).toBeGreaterThan(0);
    expect(((KERNEL_TRACE_MAX_BYTES + 3) >> 2) << 2).toBeGreaterThan(0);
    for (const n of [0, 1, 2 ** 30, KERNEL_TRACE_MAX_BYTES]) expect(() => checkKernelTraceSize(n, 'big.ftrace')).not.toThrow();
    for (const n of [KERNEL_TRACE_MAX_BYTES + 1, 2 ** 31, 3 * 2 ** 30, 2 ** 32]) {
      let err: unknown;
      try { checkKernelTraceSize(n, 'traces/big.ftrace.gz'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(AllocbenchError);
      expect(err).not.toBeInstanceOf(TraceFormatError);
      const msg = (err as Error).message;
      expect(msg).toContain('traces/big.ftrace.gz');
      expect(msg).toContain(String(n));
      expect(msg).toContain(String(KERNEL_TRACE_MAX_BYTES));
      expect(msg).not.toContain('\n');
    }
  });
});

describe('kernel trace loader: byte-at-a-time scans (big-endian hosts)', () => {
  it('gives the same traces as the word scans on the fixtures, at every buffer alignment', () => {
    for (const f of FIXTURES) {
      const b = fixture(f);
      const want = outcome(() => parseKernelTrace(b, f));
      expect((want as { length: number }).length).toBeGreaterThan(0);
      for (let k = 0; k < 4; k++) {
        expect(outcome(() => parseKernelTrace(atOffset(b, k), f)), `${f} +${k}`).toEqual(want);
        expect(outcome(() => parseKernelTraceBytewise(atOffset(b, k), f)), `${f} bytewise +${k}`).toEqual(want);
      }
    }
  });

  it('gives the same traces and errors as the word scans on mutated fixture lines', () => {
    const lines = FIXTURES.flatMap((f) => fixture(f).toString('utf8').split('\n'));
    const pieces = ['', ' ', '  ', '\t', ':', '[001]', '0x', '(null)', '\r', 'kmem:', 'CPU ', ' is empty', 'ptr=', 'pfn=', '\u00e9', '\x01'];
    const mutated = fc.tuple(fc.constantFrom(...lines), fc.nat(), fc.nat({ max: 8 }), fc.constantFrom(...pieces)).map(([l, at, del, ins]) => {
      const p = at % (l.length + 1);
      return l.slice(0, p) + ins + l.slice(p + del);
    });
    fc.assert(fc.property(fc.array(mutated, { minLength: 1, maxLength: 8 }).map((a) => a.join('\n')), fc.nat({ max: 3 }), (text, k) => {
      const b = atOffset(Buffer.from(text, 'utf8'), k);
      expect(outcome(() => parseKernelTraceBytewise(b, 'fuzz.trace'))).toEqual(outcome(() => parseKernelTrace(text, 'fuzz.trace')));
    }), { numRuns: 1500 });
  });
});

describe('kernel trace loader: sniffing a file with no telling extension', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'allocbench-kernel-limits-'));
  const line = '            bash-2154    [001] d..1.   812.331090: kfree: call_site=x ptr=ffff888003c2a000';

  it('decodes only the start of the file to sniff it, and parses the bytes', () => {
    const p = join(tmp, 'capture.log');
    writeFileSync(p, `${line}\n`.repeat(20000)); // ~1.8 MB
    const spy = vi.spyOn(Buffer.prototype, 'toString');
    let decoded: number[];
    try {
      const t = loadTrace(p);
      expect(t.length).toBe(20000);
      expect(t.name).toBe('capture.log');
      // every decode, as its byte count: (encoding, start = 0, end = length)
      decoded = spy.mock.calls.map((args, i) => {
        const buf = spy.mock.contexts[i] as Buffer;
        const [, start = 0, end = buf.length] = args as unknown as [string?, number?, number?];
        return Math.min(end, buf.length) - start;
      });
    } finally {
      spy.mockRestore();
    }
    expect(decoded.length).toBeGreaterThan(0);
    expect(Math.max(...decoded)).toBeLessThanOrEqual(4 * 65536);
  });

  it('sniffs the same first 64 Ki characters as a decode of the whole file would give', () => {
    // multi-byte characters put the first trace line past byte 65536 but within the first 65536 characters
    const comment = `# ${'\u20ac'.repeat(30000)}\n`; // 90003 bytes, 30003 characters
    const within = join(tmp, 'within.log');
    writeFileSync(within, `${comment}${line}\n`);
    expect(loadTrace(within).length).toBe(1);
    // past the first 65536 characters the sniff does not look (and the format is unknown), as before
    const past = join(tmp, 'past.log');
    writeFileSync(past, `# ${'\u20ac'.repeat(70000)}\n${line}\n`);
    expect(() => loadTrace(past)).toThrow(/unknown format/);
  });
});
