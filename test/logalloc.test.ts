import { gzipSync } from 'node:zlib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceFormatError } from '../src/errors.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { parseLogalloc } from '../src/trace/logalloc.js';
import { loadTrace } from '../src/trace/load.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC } from '../src/trace/ops.js';
import { valueAt, type Trace } from '../src/trace/trace.js';

const name = (op: number): string => (op === OP_MALLOC ? 'malloc' : op === OP_FREE ? 'free' : op === OP_REALLOC ? 'realloc' : String(op));
const events = (t: Trace): string[] => Array.from({ length: t.length }, (_, i) => `${t.aux[i]} ${name(t.op[i]!)} ${t.id[i]}${t.op[i] !== OP_FREE ? ` ${valueAt(t, i)}` : ''}`);

describe('logalloc loader', () => {
  it('reads Firefox logalloc lines: every allocation function, pids and threads made dense, jemalloc_stats skipped', () => {
    const t = loadTrace('test/fixtures/logalloc/firefox.log');
    expect(events(t)).toEqual([
      '0 malloc 0 32', '0 malloc 1 148', '0 realloc 0 64', '0 malloc 2 240',
      '1 malloc 3 16', // pid 18600: its own pointer namespace (the same address as pid 18545's block)
      '0 malloc 4 100', '0 malloc 5 128', '0 malloc 6 4096',
      '0 free 0', '0 free 1', '1 free 3',
      '0 free 7', // never allocated: a trace error in the replay
    ]);
    expect([...t.tid!]).toEqual([0, 1, 0, 0, 2, 0, 0, 0, 0, 1, 2, 0]);
    expect(t.pidCount).toBe(2);
    expect(t.stats).toEqual({ skipped_calls: 1, recorded_failed_allocs: 1, threads: 3 });
  });

  it('reads logs preprocessed by logalloc_munge.py (#slot pointers), also gzipped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allocbench-logalloc-'));
    const text = '1 1 malloc(32)=#1\n1 1 calloc(1,148)=#2\n1 1 realloc(#1,64)=#1\n1 1 posix_memalign(256,240)=#3\n1 1 jemalloc_stats()\n1 1 free(#1)\n';
    writeFileSync(join(dir, 'munged.gz'), gzipSync(text));
    const t = loadTrace(join(dir, 'munged.gz'));
    expect(events(t)).toEqual(['0 malloc 0 32', '0 malloc 1 148', '0 realloc 0 64', '0 malloc 2 240', '0 free 0']);
    expect(events(loadTrace('test/fixtures/logalloc/munged.logalloc'))).toEqual(events(t));
  });

  it('replays through a user heap', () => {
    const t = loadTrace('test/fixtures/logalloc/firefox.log');
    const r = runCell({ trace: t.name, machine: 'small', page: 'buddy', object: 'slub', seed: 1 }, t, loadMachine('small'), { check: true });
    expect(r.status).toBe('ok');
    expect(r.events).toBe(t.length);
  });

  it('a malformed line stops with FILE:LINE: expected ...', () => {
    const bad = (text: string): string => {
      try { parseLogalloc(Buffer.from(text), 'bad.log'); } catch (e) { if (e instanceof TraceFormatError) return e.message; throw e; }
      return 'no error';
    };
    expect(bad('1 1 malloc(32)=0x10\n1 1 malloc(32\n')).toMatch(/^bad\.log:2: expected a logalloc line .*"\)"/);
    expect(bad('1 1 malloc(x)=0x10\n')).toMatch(/^bad\.log:1: expected a logalloc line .* decimal size/);
    expect(bad('1 1 malloc(32)\n')).toMatch(/^bad\.log:1: expected .*=result/);
    expect(bad('1 1 free(0x10) trailing\n')).toMatch(/^bad\.log:1: expected .*nothing after the call/);
    expect(bad('1 malloc(3)=0x1\n')).toMatch(/^bad\.log:1: expected a logalloc line/);
    expect(bad('1 1 calloc(1)=0x10\n')).toMatch(/^bad\.log:1: expected .*2 arguments/);
  });
});
