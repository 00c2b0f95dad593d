import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AllocbenchError, TraceFormatError } from '../src/errors.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { isZstd, parseHeaptrack } from '../src/trace/heaptrack.js';
import { loadTrace } from '../src/trace/load.js';
import { OP_FREE, OP_MALLOC } from '../src/trace/ops.js';
import { valueAt, type Trace } from '../src/trace/trace.js';

const events = (t: Trace): string[] => Array.from({ length: t.length }, (_, i) => `${t.op[i] === OP_MALLOC ? 'malloc' : t.op[i] === OP_FREE ? 'free' : t.op[i]} ${t.id[i]}${t.op[i] === OP_MALLOC ? ` ${valueAt(t, i)}` : ''}`);

describe('heaptrack loader', () => {
  it('reads the raw format: pointers pair frees exactly; an unknown pointer is a fresh id (a trace error)', () => {
    const t = loadTrace('test/fixtures/heaptrack/handmade.raw');
    expect(events(t)).toEqual(['malloc 0 32', 'malloc 1 256', 'free 0', 'free 1', 'malloc 2 64', 'free 2', 'malloc 3 128', 'free 4']);
    expect(t.idCount).toBe(5);
    expect(t.pidCount).toBe(1);
    expect(t.stats).toEqual({ reused_live_pointers: 0 });
  });

  it('reads the interpreted format: a free releases the newest live object of its allocation info, ambiguous ones counted', () => {
    const t = loadTrace('test/fixtures/heaptrack/handmade.interpreted');
    // infos: 0 = 0x20 bytes, 1 = 0x100 bytes
    expect(events(t)).toEqual(['malloc 0 32', 'malloc 1 32', 'malloc 2 256', 'free 1', 'free 2', 'malloc 3 32', 'free 3', 'free 0']);
    expect(t.stats).toEqual({ ambiguous_frees: 2, allocation_infos: 2 });
  });

  it('reads real heaptrack 1.4 files (zstd), interpreted and raw, with the same allocations', () => {
    const file = 'traces/heaptrack/heaptrack.python-json.zst';
    expect(isZstd(readFileSync(file))).toBe(true);
    const a = loadTrace(file), r = loadTrace('traces/heaptrack/heaptrack.python-json.raw.zst');
    const count = (t: Trace, op: number): number => t.op.reduce((n, o) => n + (o === op ? 1 : 0), 0);
    expect(count(a, OP_MALLOC)).toBeGreaterThan(1000);
    expect(count(a, OP_MALLOC)).toBe(count(r, OP_MALLOC));
    // heaptrack_interpret drops frees of pointers it never saw allocated; the raw file keeps them
    expect(count(a, OP_FREE)).toBeLessThanOrEqual(count(r, OP_FREE));
    expect(a.name).toBe('heaptrack.python-json');
  });

  it('replays a heaptrack file through a user heap', () => {
    const t = loadTrace('test/fixtures/heaptrack/handmade.raw');
    const r = runCell({ trace: t.name, machine: 'small', page: 'buddy', object: 'dlmalloc', seed: 1 }, t, loadMachine('small'), { check: true });
    expect(r.status).toBe('ok');
    expect(r.trace_errors).toBe(1); // the free of a pointer never allocated
  });

  it('a malformed line stops with FILE:LINE: expected ...', () => {
    const bad = (text: string): TraceFormatError => {
      try { parseHeaptrack(Buffer.from(text), 'bad.heaptrack'); } catch (e) { if (e instanceof TraceFormatError) return e; throw e; }
      throw new Error('no error');
    };
    expect(bad('v 10400 3\n+ 20 1\n').message).toMatch(/^bad\.heaptrack:2: expected "\+ SIZE TRACE PTR" \(raw heaptrack file\) or "\+ INFO"/);
    expect(bad('v 10400 3\n+ 20 1 30\n+ 5\n').message).toMatch(/^bad\.heaptrack:3: expected "\+ SIZE TRACE PTR" \(raw heaptrack file\)/);
    expect(bad('v 10400 3\n+ 20 1 zz\n').message).toMatch(/^bad\.heaptrack:2: expected hex fields/);
    expect(bad('v 10400 3\nQ what\n').message).toMatch(/^bad\.heaptrack:2: expected a heaptrack line/);
    expect(bad('v 10400 3\na 20 1\n+ 5\n').message).toMatch(/^bad\.heaptrack:3: expected an allocation info index below 1/);
    expect(() => parseHeaptrack(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3), 'x.zst')).toThrow(AllocbenchError);
  });
});
