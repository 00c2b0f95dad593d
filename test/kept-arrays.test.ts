import { describe, expect, it } from 'vitest';
import { keepArrays, keptArray, keptArrayUnset, releaseKept } from '../src/machine/kept-arrays.js';
import { GFP_USER, MIGRATE_TYPES } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { LatencyRecorder } from '../src/metrics/latency.js';
import { Dlmalloc } from '../src/object/dlmalloc.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { NR_ORDERS } from '../src/page/strategy.js';
import { OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';

describe('kept arrays (a worker\'s machine arrays reused from cell to cell)', () => {
  it('hands a released array back zero-filled, never one that is still in use, and outside a cell always a new one', () => {
    const outside = keptArray(Int32Array, 1 << 16);
    keepArrays();
    const a = keptArray(Int32Array, 1 << 16);
    expect(a).not.toBe(outside);
    a.fill(7);
    const b = keptArray(Int32Array, 1 << 16);
    expect(b).not.toBe(a);
    releaseKept();
    expect([a, b]).not.toContain(keptArray(Int32Array, 1 << 16)); // outside a cell
    keepArrays();
    const c = keptArray(Int32Array, 1 << 16);
    expect([a, b]).toContain(c);
    expect(c.every((x) => x === 0)).toBe(true);
    expect(keptArray(Uint8Array, 1 << 16)).toBeInstanceOf(Uint8Array); // another type: a new array
    releaseKept();
  });
  it('sets [from, length) to the fill value on a reused array and on a new one, and leaves [0, from) alone', () => {
    const N = 1 << 16;
    expect(Array.from(keptArray(Int8Array, N, -1).subarray(0, 3))).toEqual([-1, -1, -1]); // outside a cell too
    keepArrays();
    const a = keptArray(Int8Array, N, -1);
    expect(a.every((x) => x === -1)).toBe(true); // new: filled, not zero
    const u = keptArray(Int32Array, N, 0, N / 2);
    expect(u.every((x) => x === 0)).toBe(true); // new: zero everywhere
    a.fill(5); u.fill(7);
    releaseKept();
    keepArrays();
    const b = keptArray(Int8Array, N, -1);
    expect(b).toBe(a);
    expect(b.every((x) => x === -1)).toBe(true); // one fill with the value, no 5 left
    const v = keptArray(Int32Array, N, 0, N / 2);
    expect(v).toBe(u);
    expect(v.subarray(N / 2).every((x) => x === 0)).toBe(true);
    expect(v.subarray(0, N / 2).every((x) => x === 7)).toBe(true); // not cleared: the caller writes it
    v.fill(9);
    releaseKept();
    keepArrays();
    const w = keptArrayUnset(Int32Array, N);
    expect(w).toBe(v);
    expect(w.every((x) => x === 9)).toBe(true); // untouched
    releaseKept();
  });

  // The proofs in buddy.ts (links written before read) and dlmalloc.ts (its growth's copy) as a check:
  // a machine built on kept arrays full of garbage behaves exactly as one built on new arrays.
  it('a buddy allocator and a dlmalloc heap on dirty kept arrays give the same results as on new ones', () => {
    /** the same pseudo-random sequence on every run: rnd(n) in [0, n) */
    const lcg = (seed: number) => (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const buddyRun = () => {
      const b = new BuddyAllocator({ pages: 1 << 16, steps: newSteps() }, true);
      const out: unknown[] = [];
      for (let pfn = 0; pfn < 1 << 16; pfn += 1 << 10) b.free(pfn, 10);
      const rnd = lcg(12345);
      const live: Array<[number, number]> = [];
      for (let i = 0; i < 20000; i++) {
        if (live.length > 0 && rnd(5) < 2) {
          const [p, o] = live.splice(rnd(live.length), 1)[0]!;
          b.free(p, o);
        } else {
          const o = rnd(4) === 0 ? rnd(11) : rnd(3);
          const p = b.alloc(o, rnd(3));
          out.push(p);
          if (p >= 0) live.push([p, o]);
        }
        if (i % 5000 === 0) { out.push(b.locate(live[0]?.[0] ?? 0), b.allocCompactionTarget(2)); b.check(); }
      }
      b.check();
      const area = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
      b.freeArea(area);
      out.push(Array.from(area), b.counters());
      return { out, machine: b };
    };
    const dlRun = () => {
      let next = 0;
      const h = new Dlmalloc({ pages: { totalPfns: 1 << 20, allocPages: () => next++, freePages: () => {} }, steps: newSteps(), cpus: 1 });
      const out: unknown[] = [];
      const rnd = lcg(777);
      const live: number[] = [];
      for (let i = 0; i < 30000; i++) {
        if (live.length > 0 && rnd(3) === 0) h.free(live.splice(rnd(live.length), 1)[0]!);
        else { const a = h.alloc(16 + rnd(2000), GFP_USER); out.push(a); live.push(a); }
      }
      h.check();
      out.push(h.usage(), h.counters(), h.inspect());
      return { out, machine: h };
    };
    for (const run of [buddyRun, dlRun]) {
      const fresh = run().out;
      keepArrays();
      const first = run();
      expect(first.out).toEqual(fresh);
      // dirty every kept array the machine holds (≥ 64 KiB; smaller ones are new, some shared tables);
      // the smaller ones dlmalloc grew out of keep their stale data
      for (const v of Object.values(first.machine)) {
        if (ArrayBuffer.isView(v) && v.byteLength >= 64 * 1024) (v as Int32Array).fill(0x5b5b5b5b);
      }
      releaseKept();
      keepArrays();
      expect(run().out).toEqual(fresh);
      releaseKept();
    }
  });
});

describe('LatencyRecorder', () => {
  it('summarises the same whether a value is counted directly (below 409.6 ns) or through its hash table', () => {
    const r = new LatencyRecorder();
    const values = [1.5, 5.5, 90, 409.5, 409.6, 410, 1200.5, 90, 90, 5.5];
    for (const v of values) r.record(OP_PAGE_ALLOC, v);
    r.record(OP_PAGE_FREE, 3000);
    const s = r.summary();
    expect(s.page_alloc!.count).toBe(values.length);
    expect(s.page_alloc!.total_ns).toBe(Math.round(values.reduce((x, y) => x + y, 0)));
    expect(s.page_alloc!.p50).toBe(90);
    expect(s.page_alloc!.max).toBeCloseTo(1200.5, 0);
    expect(s.page_free!.count).toBe(1);
    expect(r.totalNs()).toBeCloseTo(values.reduce((x, y) => x + y, 0) + 3000, 6);
  });
});
