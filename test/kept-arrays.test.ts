import { describe, expect, it } from 'vitest';
import { keepArrays, keptArray, releaseKept } from '../src/machine/kept-arrays.js';
import { LatencyRecorder } from '../src/metrics/latency.js';
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
