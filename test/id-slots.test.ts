import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCostTable } from '../src/machine/cost.js';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from '../src/machine/gfp.js';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { LatencyRecorder } from '../src/metrics/latency.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { idSlots } from '../src/trace/id-slots.js';
import { objectPageSource, replay } from '../src/run/replay.js';
import {
  OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_MMAP, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_REALLOC,
} from '../src/trace/ops.js';
import { shareTrace } from '../src/trace/share.js';
import { traceStream } from '../src/trace/stream.js';
import { TraceBuilder, type Trace } from '../src/trace/trace.js';

/**
 * Everything a replay of `t` produces on a 32 MiB machine, replayed whole (ids recycled: id-slots.ts)
 * or as a stream (which keeps the trace's own ids).
 */
function replayAll(t: Trace, stream: boolean, page = 'buddy', object = 'slub'): string {
  const m = new Machine(loadMachine('mem=32M'), pageStrategyFactory(page));
  const source = objectPageSource(m);
  const objects = objectStrategyFactory(object)({ pages: source, steps: m.steps, cpus: m.cpus, cpuCursor: m.cpuCursor });
  const recorder = new LatencyRecorder();
  const samples: string[] = [];
  const counts = replay(stream ? traceStream(t) : t, m, objects, source, {
    latency: { weights: loadCostTable(), recorder },
    sampleEvery: 7,
    onSample: (e, label, req) => samples.push(`${e}:${label}:${req}:${m.freePageCount()}`),
    checkEvery: 13,
    pageCacheReclaim: true,
  });
  return JSON.stringify({ counts, samples, latency: recorder.summary(), steps: Array.from(m.steps), free: m.freeState() });
}

const OPS = [OP_PAGE_ALLOC, OP_PAGE_FREE, OP_KMALLOC, OP_KFREE, OP_CACHE_ALLOC, OP_CACHE_FREE, OP_MALLOC, OP_FREE, OP_REALLOC] as const;

/**
 * A trace of random events: an allocation takes a new id when `back` is 0, any other event names
 * the id `back` ids before the newest (so ids die and new ones are born, as in a real trace). Full
 * of errors: double and unknown frees, frees of the other layer's kind, live ids allocated again,
 * reallocs of freed ids; page allocations up to order 10 fail on a 32 MiB machine and reclaim runs.
 */
function randomTrace(events: { op: number; back: number; v: number }[]): Trace {
  const b = new TraceBuilder('random', 'test');
  b.caches.push({ name: 'c64', size: 64, align: 0, flags: 0 });
  b.push(OP_CACHE_CREATE, 0, 0, 0);
  for (const ev of events) {
    const o = OPS[ev.op % OPS.length]!;
    const id = ev.back === 0 || b.idCount < ev.back ? b.newId() : b.idCount - ev.back;
    if (o === OP_PAGE_ALLOC) b.push(o, id, ev.v % 11, ev.v % 3 === 0 ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE);
    else if (o === OP_PAGE_FREE) b.push(o, id, ev.v % 11, 0);
    else if (o === OP_CACHE_ALLOC || o === OP_CACHE_FREE) b.push(o, id, 0, 0);
    else if (o === OP_KMALLOC) b.push(o, id, 1 + (ev.v * 97) % 9000, GFP_KERNEL);
    else if (o === OP_MALLOC || o === OP_REALLOC) b.push(o, id, 1 + (ev.v * 131) % 20000, 0);
    else b.push(o, id, 0, 0);
  }
  return b.finish();
}

/** `n` events of randomTrace from a seeded generator (xorshift32): allocations take new ids half the time. */
function seededTrace(n: number, seed: number): Trace {
  let x = seed;
  const rnd = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
  return randomTrace(Array.from({ length: n }, () => {
    const op = rnd() % OPS.length, r = rnd();
    return { op, back: r % 2 === 0 ? 0 : 1 + (r >>> 1) % 24, v: rnd() >>> 4 };
  }));
}

describe('replay id slots (trace/id-slots.ts)', () => {
  it('recycle ids: the slot count is the peak number of live ids, the freed slot is taken first', () => {
    const b = new TraceBuilder('t', 'test');
    // ids 0..9 allocated, 0..4 freed, 10..14 allocated: peak live 10
    for (let i = 0; i < 10; i++) b.push(OP_PAGE_ALLOC, b.newId(), 0, GFP_KERNEL);
    for (let i = 0; i < 5; i++) b.push(OP_PAGE_FREE, i, 0, 0);
    for (let i = 0; i < 5; i++) b.push(OP_KMALLOC, b.newId(), 64, GFP_KERNEL);
    // a process event's id is its pid: left as it is
    b.push(OP_MMAP, 42, 4096, 0);
    const t = b.finish();
    const s = idSlots(t);
    expect(t.idCount).toBe(15);
    expect(s.count).toBe(10);
    expect(Array.from(s.id.subarray(15, 20))).toEqual([4, 3, 2, 1, 0]); // LIFO: the id freed last first
    expect(s.id[20]).toBe(42);
    expect(idSlots(t)).toBe(s); // once per trace
    // a trace's own slots are used while they number its id column (shareTrace sets them), not by a trace made from it with other ids
    const shared = shareTrace(t);
    expect(idSlots(shared)).toBe(shared.slots);
    expect(Array.from(shared.slots!.id)).toEqual(Array.from(s.id));
    const other = { ...shared, id: new Int32Array(shared.id).fill(0, 0, 10) };
    expect(idSlots(other)).not.toBe(shared.slots);
    expect(idSlots(other).count).toBe(5); // the ten allocations are all of id 0 now: ids 0..4 and then 10..14 take five slots
  });

  it('keep the slot of an id freed by the other layer, freed in pieces, or whose first event is not an allocation', () => {
    const b = new TraceBuilder('t', 'test');
    b.push(OP_KMALLOC, 0, 64, GFP_KERNEL);
    b.push(OP_PAGE_FREE, 0, 0, 0); // a page free of an object: it stays live in the replay
    b.push(OP_KFREE, 1, 0, 0); // an unknown free: S_NONE, counted as such
    b.push(OP_PAGE_ALLOC, 2, 0, GFP_KERNEL);
    b.push(OP_PAGE_FREE, 2, 0, 0);
    b.push(OP_REALLOC, 3, 100, 0); // first event a realloc: S_NONE and S_FREED differ for it
    b.push(OP_PAGE_ALLOC, 4, 0, GFP_KERNEL); // takes id 2's slot
    b.idCount = 5;
    const s = idSlots(b.finish());
    // id 1's unknown free leaves its slot as never used: id 2 takes it, then id 4
    expect(Array.from(s.id)).toEqual([0, 0, 1, 1, 1, 2, 1]);
    expect(s.count).toBe(3);
  });

  it('give the replay the results of the trace\'s own ids (whole trace against a stream, which keeps them), for random traces full of errors', () => {
    const event = fc.record({ op: fc.nat(OPS.length - 1), back: fc.oneof(fc.constant(0), fc.nat(24)), v: fc.nat(1 << 20) });
    let recycled = 0;
    fc.assert(fc.property(fc.array(event, { maxLength: 500 }), fc.constantFrom('buddy', 'bitmap'), (events, page) => {
      const t = randomTrace(events);
      if (idSlots(t).count < t.idCount) recycled++;
      expect(replayAll(t, false, page)).toBe(replayAll(t, true, page));
    }), { numRuns: 60, seed: 17 });
    expect(recycled).toBeGreaterThan(20); // ids are handed on (most random ids mix the layers and keep theirs)
  });

  it('make a replay of the errors the trace has: the counts are those of a stream', () => {
    const t = seededTrace(4000, 12345);
    expect(idSlots(t).count).toBeLessThan(t.idCount * 0.8);
    const whole = JSON.parse(replayAll(t, false)) as { counts: { trace_error_kinds: Record<string, number>; failed_page_allocs: number; reclaim: { runs: number } } };
    // the trace exercises what the slots must not change: every kind of trace error, failures, reclaim
    for (const k of ['unknown_free', 'double_free', 'realloc_unknown', 'alloc_live_id']) expect(whole.counts.trace_error_kinds[k]).toBeGreaterThan(0);
    expect(whole.counts.failed_page_allocs).toBeGreaterThan(0);
    expect(replayAll(t, false)).toBe(replayAll(t, true));
  });
});
