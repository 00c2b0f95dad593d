import { describe, it, expect } from 'vitest';
import { runCell } from '../src/run/cell.js';
import { flatMachine } from '../src/machine/memory-map.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { TraceBuilder } from '../src/trace/trace.js';
import { OP_EXIT, OP_FREE, OP_MALLOC, OP_REALLOC } from '../src/trace/ops.js';

const machine = flatMachine(256 * 2 ** 20);

function userTrace(): ReturnType<TraceBuilder['finish']> {
  const b = new TraceBuilder('user', 'test');
  const ids: number[] = [];
  for (let k = 0; k < 400; k++) { const id = b.newId(); ids.push(id); b.push(OP_MALLOC, id, 16 + (k * 37) % 3000, k % 2); }
  b.push(OP_MALLOC, b.newId(), 300_000, 0); // above dlmalloc's mmap threshold
  for (let k = 0; k < 400; k += 3) b.push(OP_FREE, ids[k]!, 0, k % 2);
  for (let k = 1; k < 400; k += 3) b.push(OP_REALLOC, ids[k]!, 5000, k % 2);
  b.push(OP_EXIT, 1, 0, 0);
  for (let k = 2; k < 400; k += 3) b.push(OP_FREE, ids[k]!, 0, k % 2); // pid 1's are dropped
  b.notePid(1);
  return b.finish();
}

describe('user heaps inside processes', () => {
  for (const object of ['dlmalloc', 'slub', 'kmalloc-pow2']) {
    it(`${object}: malloc'd memory is demand-faulted from the page allocator and passes --check`, () => {
      const r = runCell({ trace: 'user', machine: 'flat', page: 'buddy', object, seed: 1 }, userTrace(), machine, { check: true });
      expect(r.error).toBeUndefined();
      const p = r.metrics.processes as { minor_faults: number; faults: Record<string, number>; page_table_pages: number; processes_exited: number };
      const u = r.metrics.user_heap as { heaps: number; peak_resident_pages: number; utilization_resident: number; peak_footprint_bytes: number; dropped_after_exit: number };
      expect(u.heaps).toBe(2);
      expect(p.faults.new_page).toBeGreaterThan(0);
      expect(p.minor_faults).toBe(p.faults.new_page);
      expect(p.page_table_pages).toBeGreaterThanOrEqual(4);
      expect(p.processes_exited).toBe(1);
      expect(u.dropped_after_exit).toBe(66);
      expect(u.peak_resident_pages).toBeGreaterThan(0);
      expect(u.peak_footprint_bytes).toBeGreaterThanOrEqual(u.peak_resident_pages * 4096 * 0.5);
      expect(u.utilization_resident).toBeGreaterThan(0);
      expect(u.utilization_resident).toBeLessThanOrEqual(1);
    });
  }

  it('a fork-cow cell reports every fault kind and passes --check', () => {
    const t = GENERATORS['fork-cow']!.generate({ events: 20_000 }, 3);
    const r = runCell({ trace: t.name, machine: 'flat', page: 'buddy', object: 'slub', seed: 3 }, t, machine, { check: true });
    expect(r.error).toBeUndefined();
    const f = (r.metrics.processes as { faults: Record<string, number> }).faults;
    for (const k of ['zero_page', 'new_page', 'cow_copy', 'cow_reuse']) expect(f[k]).toBeGreaterThan(0);
    expect(f.segfault).toBe(0);
  });

  it('a fork-cow cell gives the same figures every run (deterministic)', () => {
    const t = GENERATORS['fork-cow']!.generate({ events: 5_000 }, 4);
    const cell = { trace: t.name, machine: 'flat', page: 'buddy-mobility', object: 'slub', seed: 4 };
    const a = runCell(cell, t, machine), b = runCell(cell, t, machine);
    expect(JSON.stringify(a.metrics)).toBe(JSON.stringify(b.metrics));
  });
});

describe('memory pressure', () => {
  it('a generated workload that overfills memory reclaims page-cache blocks before counting failures', () => {
    const t = GENERATORS['page-mix']!.generate({ events: 20_000, mem: '128M', fill: 0.9 }, 1);
    const r = runCell({ trace: t.name, machine: 'flat', page: 'buddy', object: 'slub', seed: 1 }, t, flatMachine(64 * 2 ** 20), { check: true });
    expect(r.error).toBeUndefined();
    const rc = r.metrics.reclaim as { runs: number; page_cache_pages: number };
    expect(rc.page_cache_pages).toBeGreaterThan(0);
  });
});
