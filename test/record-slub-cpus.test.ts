import { describe, expect, it } from 'vitest';
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { eventCpus } from '../src/run/event-cpu.js';
import { threadMetrics } from '../src/metrics/threads.js';
import { OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC } from '../src/trace/ops.js';
import { loadTrace } from '../src/trace/load.js';
import { TraceBuilder, type Trace } from '../src/trace/trace.js';

/** Two threads of one process taking turns: each mallocs 64-byte blocks and frees every third of its own. */
function twoThreads(withTid: boolean, kernel = false): Trace {
  const b = new TraceBuilder('two-threads', 'test');
  if (withTid) { if (kernel) b.useCpu(); else b.useTid(); }
  const mine: number[][] = [[], []];
  for (let i = 0; i < 4000; i++) {
    const t = i & 1;
    if (kernel) b.curCpu = t; else b.curTid = 1000 + t;
    const id = b.newId();
    b.push(kernel ? OP_KMALLOC : OP_MALLOC, id, 64, 0);
    mine[t]!.push(id);
    if (i % 3 === 2) b.push(kernel ? OP_KFREE : OP_FREE, mine[t]!.shift()!, 0, 0);
  }
  if (!kernel) b.notePid(0);
  return b.finish();
}

const run = (t: Trace, machine: string): Record<string, unknown> => {
  const r = runCell({ trace: t.name, machine, page: 'buddy', object: 'slub', seed: 1 }, t, loadMachine(machine), { check: true, samples: 0 });
  expect(r.status).toBe('ok');
  const { threads: _t, ...rest } = r.metrics;
  return rest;
};

describe('threads and CPUs in the replay', () => {
  it('numbers threads by first appearance and puts thread k on CPU k mod cpus', () => {
    const b = new TraceBuilder('t', 'test');
    b.useTid();
    for (const tid of [7, 7, 9, 3, 9, 7, 3, -1]) { b.curTid = tid; b.push(OP_MALLOC, b.newId(), 8, 0); }
    const t = b.finish();
    expect([...eventCpus(t, 2)!]).toEqual([0, 0, 1, 0, 1, 0, 0, 0]);
    expect([...eventCpus(t, 4)!]).toEqual([0, 0, 1, 2, 1, 0, 2, 0]);
    expect(eventCpus(t, 1)).toBeUndefined();
  });

  it('SLUB results of a two-thread user trace change between cpus=1 and cpus=2 through the per-CPU slabs alone', () => {
    const t = twoThreads(true), plain = twoThreads(false);
    // one CPU: the threads change nothing
    expect(run(t, 'small:cpus=1')).toEqual(run(plain, 'small:cpus=1'));
    // two CPUs: the same geometry (cpus=2 either way), but each thread fills its own CPU's slab
    const two = run(t, 'small:cpus=2'), twoPlain = run(plain, 'small:cpus=2');
    expect(two).not.toEqual(twoPlain);
    const pages = (m: Record<string, unknown>): number => (m.waste as { pages_held: number }).pages_held;
    expect(pages(two)).toBeGreaterThanOrEqual(pages(twoPlain));
  });

  it('so do the bundled multithreaded recordings (allocbench record): changed at cpus=2, identical at cpus=1', () => {
    for (const file of ['traces/recorded/perl-threads.csv.gz', 'traces/recorded/python-threadpool.csv.gz']) {
      const t = loadTrace(file);
      expect(new Set(t.tid).size, file).toBeGreaterThanOrEqual(3); // main + 2 workers
      const { tid: _tid, ...plain } = t;
      expect(run(t, 'small:cpus=2'), file).not.toEqual(run(plain, 'small:cpus=2'));
      expect(run(t, 'small:cpus=1'), file).toEqual(run(plain, 'small:cpus=1'));
    }
  }, 60_000);

  it('kernel traces use the recorded CPU column', () => {
    const k = run(twoThreads(true, true), 'small:cpus=2'), plain = run(twoThreads(false, true), 'small:cpus=2');
    expect(k).not.toEqual(plain);
    expect(run(twoThreads(true, true), 'small:cpus=1')).toEqual(run(twoThreads(false, true), 'small:cpus=1'));
  });

  it('per-thread figures: allocations, frees and peak live bytes of each thread', () => {
    const m = threadMetrics(twoThreads(true))!;
    expect(m.threads).toBe(2);
    expect(m.listed.map((f) => f.tid).sort()).toEqual([1000, 1001]);
    for (const f of m.listed) {
      expect(f.allocations).toBe(2000);
      expect(f.frees).toBeGreaterThan(600);
      // the most blocks a thread held at once: what it holds at the end, or one more just before a free
      expect(f.peak_live_bytes - 64 * (2000 - f.frees)).toBeGreaterThanOrEqual(0);
      expect(f.peak_live_bytes - 64 * (2000 - f.frees)).toBeLessThanOrEqual(64);
    }
    expect(threadMetrics(twoThreads(false))).toBeUndefined();
  });
});
