import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceFormatError } from '../src/errors.js';
import { ftraceText, recordedPcpTraffic } from '../src/metrics/pcp-traffic.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { OP_MARK, OP_NAMES } from '../src/trace/ops.js';
import { snapshotWindow } from '../src/trace/snapshot-window.js';
import type { Trace } from '../src/trace/trace.js';

const line = (ev: string, task = 'snapshot-read-133'): string => `   ${task}     [000] .....     5.117198: ${ev}`;
const alloc = (pfn: number, task?: string): string => line(`mm_page_alloc: page=fffffce1401e77c0 pfn=0x${pfn.toString(16)} order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE`, task);
const free = (pfn: number, task?: string): string => line(`mm_page_free: page=fffffce1401e77c0 pfn=0x${pfn.toString(16)} order=0`, task);
const refill = (pfn: number): string => line(`mm_page_alloc_zone_locked: page=fffffce1401e77c0 pfn=0x${pfn.toString(16)} order=0 migratetype=1 percpu_refill=1`);
const mark = (text: string, task = 'snapshot-read-133'): string => line(`tracing_mark_write: ${text}`, task);

/** A recording as scripts/kernel-init.sh writes it: the before-snapshot retried once, the after-snapshot twice. */
const RECORDING = [
  '# tracer: nop',
  '#',
  alloc(0x100), // the first before-snapshot's own process, before its marker
  mark('snapshot: before'),
  refill(0x101),
  alloc(0x101), // buddyinfo moved: retried
  mark('snapshot: before'), // the kept before-state: the window starts after this line
  free(0x100), // the snapshot's process exits: a free of pre-trace memory, inside the window
  mark('phase: workload-start', 'init-1'),
  refill(0x200),
  alloc(0x200, 'sh-136'),
  mark('snapshot: before again', 'sh-136'), // not a snapshot marker
  mark('phase: workload-end', 'init-1'),
  alloc(0x300), // the after-snapshot's process, before its first marker
  mark('snapshot: after'),
  refill(0x301),
  alloc(0x301),
  mark('snapshot: after'), // retried: the window ends before this one
  alloc(0x302),
  refill(0x303),
  free(0x301),
  '',
].join('\n');

/** Rows as [op name, id] (a mark: [mark, its text]) for exact comparisons. */
const rows = (t: Trace): [string, number | string][] =>
  Array.from({ length: t.length }, (_, i) => (t.op[i] === OP_MARK ? ['mark', t.strings[t.aux[i]!]!] : [OP_NAMES[t.op[i]!]!, t.id[i]!]));

describe('kernel trace loader: the snapshot window', () => {
  it('finds the line after the last before-marker and the last after-marker', () => {
    const b = Buffer.from(RECORDING, 'latin1');
    const w = snapshotWindow(b)!;
    const lines = RECORDING.split('\n');
    const startLine = b.subarray(0, w.start).toString('latin1').split('\n').length - 1;
    const endLine = b.subarray(0, w.end).toString('latin1').split('\n').length - 1;
    expect(lines[startLine - 1]).toBe(mark('snapshot: before'));
    expect(lines[startLine]).toBe(free(0x100));
    expect(startLine).toBe(7);
    expect(lines[endLine]).toBe(mark('snapshot: after'));
    expect(endLine).toBe(17);
    expect(snapshotWindow(Buffer.from([alloc(1), mark('phase: x'), mark('snapshot: before again')].join('\n')))).toBeNull();
  });

  it('replays only the events between the kept before-state and the kept after-state, and counts the rest', () => {
    const t = parseKernelTrace(RECORDING, 'rec.ftrace');
    expect(rows(t)).toEqual([
      ['page_free', 0], // pfn 0x100: a free of an id the window never allocated (pre-trace memory)
      ['mark', 'phase: workload-start'],
      ['page_alloc', 1],
      ['mark', 'snapshot: before again'],
      ['mark', 'phase: workload-end'],
      ['page_alloc', 2],
      ['mark', 'snapshot: after'], // the first after-snapshot's marker: its state was not kept
      ['page_alloc', 3],
    ]);
    // outside: 5 lines before (alloc, marker, refill, alloc, marker), 4 from the last after-marker on
    expect(t.stats!.events_outside_snapshots).toBe(9);
    expect(t.stats!.skipped_unknown_events).toBe(2); // the refills inside; the others are outside
  });

  it('loads a trace without markers as before, with no window count', () => {
    const plain = RECORDING.split('\n').filter((l) => !l.includes('snapshot: before') && !l.includes('snapshot: after')).join('\n');
    const t = parseKernelTrace(plain, 'plain.ftrace');
    expect(t.stats!.events_outside_snapshots).toBeUndefined();
    expect(t.stats!.skipped_unknown_events).toBe(4);
    expect(rows(t).filter((r) => r[0] === 'page_alloc')).toHaveLength(6);
  });

  it('reports a malformed line inside the window with its line number in the file; lines outside are not read', () => {
    const lines = RECORDING.split('\n');
    lines.splice(9, 0, 'garbage inside');
    lines.splice(1, 0, 'garbage outside');
    try {
      parseKernelTrace(lines.join('\n'), 'bad.ftrace');
      throw new Error('expected a TraceFormatError');
    } catch (e) {
      expect(e).toBeInstanceOf(TraceFormatError);
      expect((e as TraceFormatError).line).toBe(11);
    }
  });

  it('the text readers of the scorecard see only the window, at the file\'s line numbers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allocbench-window-'));
    try {
      const path = join(dir, 'rec.ftrace');
      writeFileSync(path, RECORDING);
      const text = ftraceText(path)!;
      expect(text.split('\n')).toHaveLength(RECORDING.split('\n').length);
      expect(text.split('\n')[7]).toBe(free(0x100));
      expect(text.split('\n')[2]).toBe('');
      expect(recordedPcpTraffic(path, text)).toEqual({ refill_blocks: 2, drain_blocks: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
