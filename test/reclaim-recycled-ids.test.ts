import { describe, expect, it } from 'vitest';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from '../src/machine/gfp.js';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { objectPageSource, replay } from '../src/run/replay.js';
import { OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';
import { TraceBuilder } from '../src/trace/trace.js';

/**
 * Reclaim under memory pressure drops the oldest page-cache blocks. With recycled ids (page-churn),
 * an id whose page-cache block was freed can hold a kernel block by the time reclaim runs: that
 * block is not page cache and must stay.
 */
function run(recycle: boolean): { reclaimed: number; errors: number; failed: number } {
  const b = new TraceBuilder('recycled', 'test', 1 << 16);
  const reused = b.newId();
  b.push(OP_PAGE_ALLOC, reused, 0, GFP_HIGHUSER_MOVABLE); // page cache
  b.push(OP_PAGE_FREE, reused, 0, 0);
  const kernelId = recycle ? reused : b.newId();
  b.push(OP_PAGE_ALLOC, kernelId, 0, GFP_KERNEL); // the id now holds a kernel page
  // fill the 32 MiB machine with kernel pages until allocations fail and reclaim runs
  for (let i = 0; i < 10000; i++) b.push(OP_PAGE_ALLOC, b.newId(), 0, GFP_KERNEL);
  b.push(OP_PAGE_FREE, kernelId, 0, 0); // a real free of a live kernel page
  const t = b.finish();
  const m = new Machine(loadMachine('mem=32M'), pageStrategyFactory('buddy'));
  const source = objectPageSource(m);
  const objects = objectStrategyFactory('slub')({ pages: source, steps: m.steps, cpus: m.cpus, cpuCursor: m.cpuCursor });
  const c = replay(t, m, objects, source, { pageCacheReclaim: true, checkEvery: 500 });
  return { reclaimed: c.reclaim.page_cache_pages, errors: c.trace_errors, failed: c.failed_page_allocs };
}

describe('page-cache reclaim with recycled ids', () => {
  it('never reclaims a kernel block that took over a freed page-cache block\'s id', () => {
    const plain = run(false), recycled = run(true);
    expect(plain.failed).toBeGreaterThan(0); // memory ran out: reclaim ran
    expect(plain.reclaimed).toBe(0); // the only page-cache block was freed by the trace
    expect(recycled.reclaimed).toBe(0);
    expect(recycled.errors).toBe(0);
    expect(recycled).toEqual(plain);
  });
});
