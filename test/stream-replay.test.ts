import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCostTable } from '../src/machine/cost.js';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { LatencyRecorder } from '../src/metrics/latency.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { objectPageSource, replay, type ReplayOptions } from '../src/run/replay.js';
import { runCell } from '../src/run/cell.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { traceChunks, traceStream, type TraceStream } from '../src/trace/stream.js';
import { BinaryTraceWriter, openBinaryStream } from '../src/trace/binary-stream.js';
import type { Trace } from '../src/trace/trace.js';

/**
 * Everything a replay produces (counts, samples with their event indexes and labels, the latency
 * summary, the machine's step counters, the end free state) for `trace` replayed whole or as a
 * stream of `chunk`-event chunks.
 */
function replayAll(trace: Trace, chunk: number | TraceStream | null, page = 'buddy', object = 'slub', over: Partial<ReplayOptions> = {}): string {
  const m = new Machine(loadMachine('small'), pageStrategyFactory(page));
  const source = objectPageSource(m);
  const objects = objectStrategyFactory(object)({ pages: source, steps: m.steps, cpus: m.cpus, cpuCursor: m.cpuCursor });
  const recorder = new LatencyRecorder();
  const samples: string[] = [];
  // a CPU per event (as run/event-cpu.ts gives): the chunked replay must read each chunk's part
  const of = new Int32Array(trace.length);
  for (let e = 0; e < of.length; e++) of[e] = (e * 7919) % 3 === 0 ? 1 : 0;
  const counts = replay(chunk === null ? trace : typeof chunk === 'number' ? traceStream(trace, chunk) : chunk, m, objects, source, {
    latency: { weights: loadCostTable(), recorder },
    sampleEvery: 13,
    onSample: (e, label, req) => samples.push(`${e}:${label}:${req}:${m.freePageCount()}`),
    checkEvery: 101,
    cpu: { of, cursor: m.cpuCursor },
    ...over,
  });
  return JSON.stringify({ counts, samples, latency: recorder.summary(), steps: Array.from(m.steps), free: m.freeState() });
}

describe('chunked replay', () => {
  it('gives byte-identical results to the whole trace, 7 events a chunk, marks and samples across chunk boundaries', () => {
    const t = GENERATORS['kernel-mix']!.generate({ events: 6000, objects: 800, kmallocs: 300, pagecache: 1500, phase: 997 }, 3);
    const whole = replayAll(t, null);
    expect(whole).toContain(':phase'); // marks happened (samples carry their labels)
    expect(replayAll(t, 7)).toBe(whole);
    expect(replayAll(t, 1)).toBe(whole);
    expect(replayAll(t, 1 << 20)).toBe(whole);
  });

  it('is identical under memory pressure (page-cache reclaim, whose ring a stream grows as it goes)', () => {
    // page-mix sized for 1 GiB on the 256 MiB machine: allocations fail and reclaim runs
    const t = GENERATORS['page-mix']!.generate({ events: 30000, mem: 1024 ** 3, fill: 0.9 }, 5);
    const whole = replayAll(t, null, 'buddy', 'slub', { pageCacheReclaim: true });
    const c = JSON.parse(whole) as { counts: { reclaim: { runs: number; page_cache_pages: number } } };
    expect(c.counts.reclaim.runs).toBeGreaterThan(0);
    expect(c.counts.reclaim.page_cache_pages).toBeGreaterThan(0);
    expect(replayAll(t, 7, 'buddy', 'slub', { pageCacheReclaim: true })).toBe(whole);
  });

  it('is identical from an .abt file read in 7-event chunks (written in 5-event chunks)', () => {
    const t = GENERATORS['kernel-mix']!.generate({ events: 4000, objects: 500, kmallocs: 200, pagecache: 900, phase: 333 }, 4);
    const p = join(mkdtempSync(join(tmpdir(), 'allocbench-stream-')), 'k.abt');
    const w = new BinaryTraceWriter(p, t.length);
    for (const c of traceChunks(t, 5)) w.write(c);
    w.finish(t);
    expect(replayAll(t, openBinaryStream(p, { chunkEvents: 7 }))).toBe(replayAll(t, null));
  });

  it('is identical with processes and user heaps (malloc traces)', () => {
    const t = GENERATORS['binary']!.generate({ events: 5000, n: 300 }, 1);
    expect(replayAll(t, 7, 'bitmap', 'kmalloc-pow2')).toBe(replayAll(t, null, 'bitmap', 'kmalloc-pow2'));
  });

  it('runCell on an .abt stream gives the whole trace\'s result (outside wall), with the cpu and tid columns read chunk by chunk', () => {
    const k = GENERATORS['kernel-mix']!.generate({ events: 5000, objects: 600, kmallocs: 200, pagecache: 1000, phase: 777 }, 6);
    const withCpu = { ...k, cpu: new Int32Array(k.length).map((_, e) => ((e * 2654435761) >>> 7) % 6 - 1) };
    const u = GENERATORS['uniform']!.generate({ events: 5000, life: 200 }, 6);
    const withTid = { ...u, tid: new Int32Array(u.length).map((_, e) => ((e * 40503) >>> 5) % 5) };
    const dir = mkdtempSync(join(tmpdir(), 'allocbench-stream-cell-'));
    for (const [t, object] of [[withCpu, 'slub'], [withTid, 'slub']] as const) {
      const p = join(dir, `${t.name}.abt`);
      const w = new BinaryTraceWriter(p, t.length, { cpu: t.cpu !== undefined, tid: t.tid !== undefined });
      for (const c of traceChunks(t, 1000)) w.write(c);
      w.finish(t);
      const cell = { trace: t.name, machine: 'desktop', page: 'buddy', object, seed: 1 };
      const strip = (r: ReturnType<typeof runCell>): string => { const { wall, ...rest } = r; delete rest.metrics.threads; return JSON.stringify(rest); };
      const whole = runCell(cell, t, loadMachine('desktop'), { check: true, samples: 50 });
      expect(whole.status).toBe('ok');
      // the CPUs matter (SLUB's per-CPU slabs): a stream that dropped them would not pass
      const noCpus = { ...t, cpu: undefined, tid: undefined };
      expect(strip(runCell(cell, noCpus, loadMachine('desktop'), { samples: 50 }))).not.toBe(strip(runCell(cell, t, loadMachine('desktop'), { samples: 50 })));
      expect(strip(runCell(cell, openBinaryStream(p, { chunkEvents: 7 }), loadMachine('desktop'), { check: true, samples: 50 }))).toBe(strip(whole));
    }
  });
});
