import { describe, expect, it } from 'vitest';
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { parseMtrace } from '../src/trace/mtrace.js';
import { parseCsv } from '../src/trace/csv.js';
import { OP_PAGE_FREE, PAGE_PIECE } from '../src/trace/ops.js';

const cell = (trace: string) => ({ trace, machine: 'small', page: 'buddy', object: 'slub', seed: 1 });

describe('trace errors are counted and skipped, never thrown', () => {
  it('counts a double free, a free of an unknown pointer and a realloc of one in an mtrace log', () => {
    const t = parseMtrace([
      '= Start',
      '@ [0x401000] + 0x5000 0x20',
      '@ [0x401000] - 0x5000',
      '@ [0x401000] - 0x5000', // double free
      '@ [0x401000] - 0x9000', // never allocated
      '@ [0x401000] < 0xa000', // realloc of an unknown pointer
      '@ [0x401000] > 0xb000 0x40',
      '@ [0x401000] - 0xb000', // frees what the realloc made live: not an error
      '= End',
    ].join('\n'), 'errors.mtrace');
    const r = runCell(cell(t.name), t, loadMachine('small'), { check: true });
    expect(r.status).toBe('ok');
    expect(r.trace_errors).toBe(3);
    expect(r.metrics.trace_error_kinds).toEqual({ unknown_free: 1, double_free: 1, realloc_unknown: 1, alloc_live_id: 0 });
  });

  it('serves a realloc of an unknown pointer from the process heap, as the malloc it becomes', () => {
    const t = parseMtrace([
      '= Start',
      '@ [0x401000] < 0xa000', // realloc of an unknown pointer
      '@ [0x401000] > 0xb000 0x40',
      '= End',
    ].join('\n'), 'realloc-unknown.mtrace');
    const r = runCell(cell(t.name), t, loadMachine('small'), { check: true });
    expect(r.status).toBe('ok');
    expect(r.metrics.trace_error_kinds).toMatchObject({ realloc_unknown: 1 });
    const heap = r.metrics.user_heap as { bytes_requested_live: number; resident_pages: number };
    expect(heap.bytes_requested_live).toBe(0x40);
    expect(heap.resident_pages).toBeGreaterThan(0); // the program wrote what it got: faulted in
  });

  it('counts an out-of-memory allocation as a failed allocation and drops its later free silently', () => {
    // 2^20 pages of order 10 cannot fit in the small machine's 256 MiB
    const rows = ['op,id,order,gfp'];
    for (let i = 0; i < 100; i++) rows.push(`page_alloc,b${i},10,GFP_KERNEL`);
    for (let i = 0; i < 100; i++) rows.push(`page_free,b${i},,`);
    const t = parseCsv(rows.join('\n') + '\n', 'oom.csv');
    const r = runCell(cell(t.name), t, loadMachine('small'), { check: true });
    expect(r.status).toBe('ok');
    expect(r.failed_allocs).toBeGreaterThan(30);
    expect(r.failed_allocs).toBeLessThan(100);
    expect(r.trace_errors).toBe(0);
    expect(r.metrics.free_pages).toBe(r.metrics.managed_pages);
  });

  it('counts a free of a piece its block does not hold (larger, past its end, unaligned) as an unknown free, for every page strategy', () => {
    // a .abt may say so (the fuzz found an order-3 block freed as an order-7 piece: buddy threw an
    // InvariantError); the loaders make only pieces of the block they free
    const base = parseCsv('op,id,order,gfp\npage_alloc,b,3,GFP_KERNEL\npage_free,b,3,\npage_alloc,c,3,GFP_KERNEL\n', 'pieces.csv');
    for (const [ord, aux] of [[7, ~0], [2, 6], [1, ~3], [2, 5]] as const) {
      const lo = base.lo.slice(), aux2 = base.aux.slice();
      const free = base.op.indexOf(OP_PAGE_FREE);
      lo[free] = PAGE_PIECE + ord; aux2[free] = aux;
      const t = { ...base, lo, aux: aux2 };
      for (const page of ['buddy', 'buddy-mobility', 'bitmap', 'bitmap2', 'freelist']) {
        const r = runCell({ ...cell(t.name), page }, t, loadMachine('small'), { check: true });
        expect(r.status, `${page} order ${ord} at ${aux}`).toBe('ok');
        expect(r.metrics.trace_error_kinds).toMatchObject({ unknown_free: 1 });
        expect(r.metrics.free_pages).toBe((r.metrics.managed_pages as number) - 16); // b and c still live
      }
    }
  });
});
