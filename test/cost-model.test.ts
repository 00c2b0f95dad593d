import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../src/errors.js';
import { GFP_KERNEL, MIGRATE_MOVABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE } from '../src/machine/gfp.js';
import { loadCostTable } from '../src/machine/cost.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { Machine } from '../src/machine/machine.js';
import {
  newSteps, STEP_CALL, STEP_COUNT, STEP_FALLBACK, STEP_LIST, STEP_MERGE, STEP_NAMES, STEP_OBJ_FAST, STEP_OBJ_SLOW,
  STEP_PAGEBLOCK, STEP_SPLIT, STEP_WORD, STEP_ZONE, type Steps,
} from '../src/machine/steps.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { PAGE_STRATEGIES, pageStrategyFactory } from '../src/page/registry.js';
import { NR_ORDERS, type PageStrategy } from '../src/page/strategy.js';
import { OBJECT_STRATEGIES, objectStrategyFactory } from '../src/object/registry.js';
import type { ObjectStrategy } from '../src/object/strategy.js';
import type { PageSource } from '../src/machine/page-source.js';
import { runCell } from '../src/run/cell.js';
import { OP_KFREE, OP_KMALLOC } from '../src/trace/ops.js';
import { TraceBuilder } from '../src/trace/trace.js';
import { GENERATORS } from '../src/trace/generators/index.js';

/**
 * Issue 8: the cost model turns step counts into simulated time, so the step counts of small,
 * hand-checkable scenarios are pinned here for every strategy. Each expected number is derived from
 * the strategy's code (the comment beside it says how); a change to what a strategy counts, or to
 * the cost table, fails one of these tests.
 */

/** The step counts as a {name: count} record with the zero entries left out (readable diffs). */
function counted(steps: Steps): Record<string, number> {
  const out: Record<string, number> = {};
  for (let k = 0; k < STEP_COUNT; k++) if (steps[k] !== 0) out[STEP_NAMES[k]!] = steps[k]!;
  return out;
}

/** Steps taken by fn alone: the counters are zeroed first (the arrays are shared, as in a machine). */
function stepsOf(steps: Steps, fn: () => void): Record<string, number> {
  steps.fill(0);
  fn();
  return counted(steps);
}

/** A zone of `pages` pages with the free ranges handed over as the boot does (forEachAlignedBlock). */
function zone(name: string, pages: number, ranges: Array<[number, number]>): { s: PageStrategy; steps: Steps } {
  const steps = newSteps();
  const s = pageStrategyFactory(name)({ pages, steps });
  for (const [a, e] of ranges) forEachAlignedBlock(a, e, (pfn, order) => s.free(pfn, order));
  s.check();
  steps.fill(0);
  return { s, steps };
}

/** nr_free per order of one migratetype. */
function area(s: PageStrategy, mt: number): number[] {
  const out = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
  s.freeArea(out);
  return Array.from(out.subarray(mt * NR_ORDERS, (mt + 1) * NR_ORDERS));
}

/**
 * A page allocator that counts no steps: a bump pointer of naturally aligned blocks, so only the
 * object strategy's own steps land in the counters.
 */
class FakePages implements PageSource {
  readonly totalPfns = 4096;
  next = 0;
  allocs = 0;
  frees = 0;
  allocPages(order: number, _gfp: number): number {
    const n = 1 << order;
    const pfn = Math.ceil(this.next / n) * n;
    if (pfn + n > this.totalPfns) return -1;
    this.next = pfn + n;
    this.allocs++;
    return pfn;
  }
  freePages(_pfn: number, _order: number): void {
    this.frees++;
  }
}

function objects(spec: string, cpus = 1): { o: ObjectStrategy; pages: FakePages; steps: Steps } {
  const pages = new FakePages();
  const steps = newSteps();
  return { o: objectStrategyFactory(spec)({ pages, steps, cpus }), pages, steps };
}

describe('step kinds', () => {
  it('each step constant names its cost-table entry (the records below are keyed by these names)', () => {
    expect(STEP_COUNT).toBe(14);
    const byConst: Record<string, number> = {
      call: STEP_CALL, word: STEP_WORD, list: STEP_LIST, split: STEP_SPLIT, merge: STEP_MERGE, pageblock: STEP_PAGEBLOCK,
      fallback: STEP_FALLBACK, obj_fast: STEP_OBJ_FAST, obj_slow: STEP_OBJ_SLOW, zone: STEP_ZONE,
    };
    for (const [name, k] of Object.entries(byConst)) expect(STEP_NAMES[k]).toBe(name);
  });
});

describe('every strategy has step-count scenarios here', () => {
  it('covers the registered page and object strategies', () => {
    // a new strategy must get its scenarios below before this list is extended
    expect(Object.keys(PAGE_STRATEGIES).filter((k) => k !== 'faulty').sort()).toEqual(['bitmap', 'bitmap2', 'buddy', 'buddy-mobility', 'freelist']);
    expect(Object.keys(OBJECT_STRATEGIES).sort()).toEqual(['dlmalloc', 'kmalloc-pow2', 'slub']);
  });
});

describe('buddy: step counts', () => {
  it('an order-0 alloc from one order-3 block: 3 list looks, 1 unlink, 3 splits each listing a half', () => {
    const { s, steps } = zone('buddy', 8, [[0, 8]]);
    expect(area(s, MIGRATE_UNMOVABLE)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    let pfn = -1;
    // rmqueueSmallest: lists 0, 1, 2 empty (list += 3 - 0), del(0, 3) (+1), expand 3 -> 0: three
    // addHead (+3) and three splits. list = 3 + 1 + 3 = 7.
    expect(stepsOf(steps, () => { pfn = s.alloc(0, MIGRATE_UNMOVABLE); })).toEqual({ call: 1, list: 7, split: 3 });
    expect(pfn).toBe(0);
    expect(area(s, MIGRATE_UNMOVABLE)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('freeing it back: 3 merges (each unlinks the buddy) and one list insert of the order-3 block', () => {
    const { s, steps } = zone('buddy', 8, [[0, 8]]);
    s.alloc(0, MIGRATE_UNMOVABLE);
    // __free_one_page: buddies 1 (order 0), 2 (order 1), 4 (order 2) are free heads: del + merge each;
    // at order 3 the buddy 8 is outside the zone. Then one addHead (or addTail): list = 3 + 1.
    expect(stepsOf(steps, () => s.free(0, 0))).toEqual({ call: 1, list: 4, merge: 3 });
    expect(area(s, MIGRATE_UNMOVABLE)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    s.check();
  });

  it('an exact-order alloc costs one unlink; a failed alloc looks at every list from its order up', () => {
    const { s, steps } = zone('buddy', 8, [[0, 8]]);
    // the order-3 list is non-empty at once: list += 0, del (+1), no split
    expect(stepsOf(steps, () => s.alloc(3, MIGRATE_UNMOVABLE))).toEqual({ call: 1, list: 1 });
    // nothing free: rmqueueSmallest charges NR_ORDERS - order = 11 empty lists, no fallback without mobility
    expect(stepsOf(steps, () => expect(s.alloc(0, MIGRATE_UNMOVABLE)).toBe(-1))).toEqual({ call: 1, list: 11 });
  });
});

describe('buddy-mobility: step counts', () => {
  // 2048 pages = 4 pageblocks = MIGRATE_TYPES pageblocks: the least with grouping enabled. Only
  // [0, 256) is handed over (one order-8 block in pageblock 0, which is Movable as memmap_init
  // leaves every pageblock); pages 256..511 are reserved (never freed).
  it('the first unmovable request in an all-Movable zone: one fallback, a pageblock scan, a claim', () => {
    const { s, steps } = zone('buddy-mobility', 2048, [[0, 256]]);
    expect(area(s, MIGRATE_MOVABLE)[8]).toBe(1);
    let pfn = -1;
    const got = stepsOf(steps, () => { pfn = s.alloc(0, MIGRATE_UNMOVABLE); });
    expect(pfn).toBe(0);
    expect(got).toEqual({
      call: 1,
      // 11: rmqueueSmallest on the empty Unmovable lists (orders 0..10);
      // 3: __rmqueue_fallback looks at orders 10, 9, 8 and finds the Movable order-8 block;
      // 2: move_freepages_block moves that block (del + addTail);
      // 8 + 1 + 8: rmqueueSmallest again on Unmovable (orders 0..7 empty, del, 8 addHead in expand).
      list: 11 + 3 + 2 + 8 + 1 + 8,
      fallback: 1,
      // scanPageblock: the free head (1, skipping its 256 pages) + 256 reserved pages one by one = 257;
      // the claim test passes (free 256 + "alike" 512 - 256 >= 256), so moveFreepagesBlock walks the
      // same 257 positions.
      pageblock: 257 + 257,
      split: 8, // expand 8 -> 0
    });
    expect(s.counters()).toMatchObject({ extfrag_events: 1, extfrag_fragmenting: 1, extfrag_change_ownership: 1, pageblock_steals: 1, single_block_steals: 0 });
    // the second unmovable request finds an Unmovable order-0 block at once: one unlink, no fallback
    expect(stepsOf(steps, () => expect(s.alloc(0, MIGRATE_UNMOVABLE)).toBe(1))).toEqual({ call: 1, list: 1 });
    s.check();
  });

  it('a pageblock-sized Movable block is taken over without a scan (change_pageblock_range)', () => {
    // [0, 2048) is handed over as two order-10 blocks on the Movable list
    const { s, steps } = zone('buddy-mobility', 2048, [[0, 2048]]);
    expect(stepsOf(steps, () => expect(s.alloc(0, MIGRATE_UNMOVABLE)).toBe(0))).toEqual({
      call: 1,
      // 11 empty Unmovable lists, 1 fallback look at order 10 (found), 1 del, 10 addHead in expand
      list: 11 + 1 + 1 + 10,
      fallback: 1,
      split: 10,
    });
    expect(s.counters()).toMatchObject({ pageblock_steals: 2, extfrag_fragmenting: 0 });
  });
});

describe('bitmap and bitmap2: words read', () => {
  // 1024 pages = 32 words = two 512-page blocks (bitmap2's summary blocks), one super-block.
  // Free: page 1 (word 0), pages 34-35 (word 1), pages 512-543 (word 16, all free).
  const ranges: Array<[number, number]> = [[1, 2], [34, 36], [512, 544]];

  it('bitmap: an aligned order-2 run is found after reading words 0..16 one by one', () => {
    const { s, steps } = zone('bitmap', 1024, ranges);
    // hint 0: word 0 (0b10) and word 1 (0b1100) hold no aligned free nibble, words 2..15 are 0
    // (read too), word 16 fits: 17 reads
    expect(stepsOf(steps, () => expect(s.alloc(2, 0)).toBe(512))).toEqual({ call: 1, word: 17 });
    // the next-fit hint is now word (512 + 4) >> 5 = 16: one read
    expect(stepsOf(steps, () => expect(s.alloc(2, 0)).toBe(516))).toEqual({ call: 1, word: 1 });
    // free of order <= 5 sets bits in one word
    expect(stepsOf(steps, () => s.free(512, 2))).toEqual({ call: 1, word: 1 });
    // fewer free pages than the request: no word is read
    expect(stepsOf(steps, () => expect(s.alloc(6, 0)).toBe(-1))).toEqual({ call: 1 });
    s.check();
  });

  it('bitmap2: the block summary skips words 1..15, so the same search reads 5 words', () => {
    const { s, steps } = zone('bitmap2', 1024, ranges);
    // the hint's own word 0 first (no fit) 1, then super-block summary (35 free >= 4) 1,
    // block 0 summary (3 free < 4: skipped) 1, block 1 summary (32 >= 4) 1, word 16 1
    expect(stepsOf(steps, () => expect(s.alloc(2, 0)).toBe(512))).toEqual({ call: 1, word: 5 });
    // the hint (word 16) fits at once: no summary is read
    expect(stepsOf(steps, () => expect(s.alloc(2, 0)).toBe(516))).toEqual({ call: 1, word: 1 });
    // free: the bitmap word plus the block and super-block summaries
    expect(stepsOf(steps, () => s.free(512, 2))).toEqual({ call: 1, word: 3 });
    s.check();
  });

  it('bitmap2: an order-9 block is found from the block summaries alone', () => {
    // [0, 1024) handed over as one order-10 block: free writes 32 words + 2 * 2 summaries
    const steps = newSteps();
    const s = pageStrategyFactory('bitmap2')({ pages: 1024, steps });
    expect(stepsOf(steps, () => s.free(0, 10))).toEqual({ call: 1, word: 32 + 2 * 2 });
    // scanGroups(9): super-block summary 1, block 0's free count (512 = whole) 1: no bitmap word
    expect(stepsOf(steps, () => expect(s.alloc(9, 0)).toBe(0))).toEqual({ call: 1, word: 2 });
  });
});

describe('freelist: list visits', () => {
  // 64 pages; free extents [0, 4), [8, 10), [32, 48) (address order)
  const ranges: Array<[number, number]> = [[0, 4], [8, 10], [32, 48]];

  it('first fit: the first extent that can serve the order, then unlink and relink the tail', () => {
    const { s, steps } = zone('freelist', 64, ranges);
    // order 1: [0, 4) fits at once: 1 visit; the carve unlinks [0, 4) (+1) and links the tail [2, 4) (+1)
    expect(stepsOf(steps, () => expect(s.alloc(1, 0)).toBe(0))).toEqual({ call: 1, list: 3 });
    // order 2: [2, 4) (capacity 1) and [8, 10) (capacity 1) do not fit, [32, 48) does: 3 visits,
    // unlink (+1), tail [36, 48) (+1)
    expect(stepsOf(steps, () => expect(s.alloc(2, 0)).toBe(32))).toEqual({ call: 1, list: 5 });
    // free [0, 2): no left neighbour, the right one [2, 4) is unlinked (+1) and the merged extent linked (+1)
    expect(stepsOf(steps, () => s.free(0, 1))).toEqual({ call: 1, list: 2 });
    s.check();
  });

  it('best fit: stops at the first exact fit, else walks the whole list', () => {
    const { s, steps } = zone('freelist:best', 64, ranges);
    // order 1: [0, 4) is a fit but not exact, [8, 10) is exact: 2 visits, unlink (+1), no tail
    expect(stepsOf(steps, () => expect(s.alloc(1, 0)).toBe(8))).toEqual({ call: 1, list: 3 });
    // order 0: no extent of length 1, so all 2 extents are visited; the shortest is [0, 4):
    // unlink (+1), tail [1, 4) (+1)
    expect(stepsOf(steps, () => expect(s.alloc(0, 0)).toBe(0))).toEqual({ call: 1, list: 4 });
    // free [8, 10): no free neighbour on either side (pages 7 and 10 are not free): link (+1)
    expect(stepsOf(steps, () => s.free(8, 1))).toEqual({ call: 1, list: 1 });
    s.check();
  });
});

describe('slub: fast and slow paths', () => {
  it('the first kmalloc(64) takes a new slab (slow), the next ones and kfree on the cpu slab are fast', () => {
    const { o, pages, steps } = objects('slub');
    let a = -1;
    expect(stepsOf(steps, () => { a = o.alloc(64, GFP_KERNEL); })).toEqual({ call: 1, obj_slow: 1 });
    expect(pages.allocs).toBe(1);
    // kmalloc-64 with 1 CPU: min_objects 8, order 0, 4096 / 64 = 64 objects per slab
    expect(o.caches().find((c) => c.name === 'kmalloc-64')).toMatchObject({ objperslab: 64, pagesperslab: 1 });
    let b = -1;
    expect(stepsOf(steps, () => { b = o.alloc(64, GFP_KERNEL); })).toEqual({ call: 1, obj_fast: 1 });
    expect(b).toBe(a + 64);
    expect(stepsOf(steps, () => o.free(b))).toEqual({ call: 1, obj_fast: 1 });
  });

  it('a free into a full slab is slow and lists it; the next slow alloc takes it off the partial list', () => {
    const { o, pages, steps } = objects('slub');
    const addrs: number[] = [];
    // 64 objects fill slab 1 (1 slow + 63 fast), the 65th opens slab 2 (slow; slab 1 is now full)
    expect(stepsOf(steps, () => { for (let i = 0; i < 65; i++) addrs.push(o.alloc(64, GFP_KERNEL)); })).toEqual({ call: 65, obj_slow: 2, obj_fast: 63 });
    expect(pages.allocs).toBe(2);
    // slab 1 is not the cpu slab: __slab_free (slow) puts it at the tail of the partial list (+1)
    expect(stepsOf(steps, () => o.free(addrs[0]!))).toEqual({ call: 1, obj_slow: 1, list: 1 });
    // 63 more fill slab 2 (fast); the next one is slow and takes slab 1 from the partial list (+1),
    // no new slab
    expect(stepsOf(steps, () => { for (let i = 0; i < 64; i++) o.alloc(64, GFP_KERNEL); })).toEqual({ call: 64, obj_fast: 63, obj_slow: 1, list: 1 });
    expect(pages.allocs).toBe(2);
    o.check();
  });
});

describe('kmalloc-pow2: bucket fast and slow paths', () => {
  it('the first kmalloc(64) refills the bucket (slow), the second and the free are fast', () => {
    const { o, pages, steps } = objects('kmalloc-pow2');
    let a = -1;
    expect(stepsOf(steps, () => { a = o.alloc(64, GFP_KERNEL); })).toEqual({ call: 1, obj_slow: 1 });
    expect(pages.allocs).toBe(1);
    expect(stepsOf(steps, () => expect(o.alloc(64, GFP_KERNEL)).toBeGreaterThanOrEqual(0))).toEqual({ call: 1, obj_fast: 1 });
    // free appends at the bucket's tail (kb_last): fast, no list step charged
    expect(stepsOf(steps, () => o.free(a))).toEqual({ call: 1, obj_fast: 1 });
  });

  it('a large kmalloc is one slow page allocation, and so is its free', () => {
    const { o, pages, steps } = objects('kmalloc-pow2');
    let a = -1;
    expect(stepsOf(steps, () => { a = o.alloc(10000, GFP_KERNEL); })).toEqual({ call: 1, obj_slow: 1 });
    expect(stepsOf(steps, () => o.free(a))).toEqual({ call: 1, obj_slow: 1 });
    expect(pages.frees).toBe(1);
  });

  it('variant return: freeing the last block of a chunk unlinks all its 64 blocks and frees the page', () => {
    const { o, pages, steps } = objects('kmalloc-pow2:return');
    const a = o.alloc(64, GFP_KERNEL);
    // the free itself (fast) + returnChunk: elm = 4096 / 64 = 64 unlinks and one slow page free
    expect(stepsOf(steps, () => o.free(a))).toEqual({ call: 1, obj_fast: 1, obj_slow: 1, list: 64 });
    expect(pages.frees).toBe(1);
  });
});

describe('dlmalloc: splits and merges', () => {
  it('malloc splits top, free bins the chunk, free next to top merges both ways', () => {
    const { o, pages, steps } = objects('dlmalloc');
    let a = -1;
    let b = -1;
    // malloc(100): chunk 112 bytes; no bin, no dv, no top yet: sys_alloc grows the heap by 64 KiB
    // (16 order-0 pages, no steps here) and split_top splits once
    expect(stepsOf(steps, () => { a = o.alloc(100, 0); })).toEqual({ call: 1, split: 1 });
    expect(pages.allocs).toBe(16);
    expect(stepsOf(steps, () => { b = o.alloc(100, 0); })).toEqual({ call: 1, split: 1 });
    // free(a): its neighbours (heap start, b) are in use: no merge, one insert into smallbin 112
    expect(stepsOf(steps, () => o.free(a))).toEqual({ call: 1, list: 1 });
    // malloc(100) again: the remainderless smallbin fit, one unlink, no split
    expect(stepsOf(steps, () => expect(o.alloc(100, 0)).toBe(a))).toEqual({ call: 1, list: 1 });
    o.free(a);
    // free(b): merges with the free previous chunk (a, unlinked from its bin: +1 list) and with top
    expect(stepsOf(steps, () => o.free(b))).toEqual({ call: 1, merge: 2, list: 1 });
    o.check();
  });
});

describe('cost model end to end', () => {
  it('runCell prices a tiny slub trace on the small machine from the cost table', () => {
    // 3 kmalloc(64) then 2 kfree on the `small` preset (256 MiB, 2 CPUs) with buddy and slub.
    const b = new TraceBuilder('cost-e2e', 'test');
    const ids = [b.newId(), b.newId(), b.newId()];
    for (const id of ids) b.push(OP_KMALLOC, id, 64, GFP_KERNEL);
    b.push(OP_KFREE, ids[0]!, 0, 0);
    b.push(OP_KFREE, ids[1]!, 0, 0);
    const config = loadMachine('small');

    // Boot state the hand computation relies on: all memory is below 4 GiB, so there is no Normal
    // zone and GFP_KERNEL is served by DMA32 (one zone tried). DMA32's free memory is
    // [48 MiB, 0x0fa00000) (order-10 blocks and one order 9) and [0x0fe00000, 0x0ffe0000) above
    // the 4 MiB memmap memblock put at the top, handed over as orders 8, 7, 6, 5: its lowest
    // non-empty order is 5.
    const m = new Machine(config, pageStrategyFactory('buddy'));
    expect(m.zones.map((z) => z.name)).toEqual(['DMA', 'DMA32']);
    const dma32 = area(m.zones[1]!.strategy, MIGRATE_UNMOVABLE);
    expect(dma32.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 1]);
    // The boot hand-over (60 buddy frees: DMA orders 8, 9, 10, 10, 10; DMA32 50 order-10 blocks, one
    // order 9, then 8, 7, 6, 5) is not the workload's work: the machine zeroes its steps after boot.
    expect(counted(m.steps)).toEqual({});

    // pcp=off: the step counts below are those of one buddy allocation, not of a per-CPU list refill
    const r = runCell({ trace: 'cost-e2e', machine: 'small', page: 'buddy:pcp=off', object: 'slub', seed: 1 }, b.finish(), config, { samples: 0 });
    expect(r.status).toBe('ok');
    const metrics = r.metrics as {
      steps: Record<string, number>;
      sim_total_ns: number;
      latency: Record<string, { count: number; total_ns: number; p50: number; max: number }>;
    };
    // kmalloc #1 is the slow path: slub call + obj_slow, then alloc_pages(order 0) for kmalloc-64's
    // slab: one zone (DMA32), buddy call, 5 empty lists (orders 0..4), del of the order-5 block,
    // expand 5 -> 0 (5 splits, 5 addHead). kmalloc #2, #3 and both kfrees: call + obj_fast.
    expect(metrics.steps).toEqual({
      ...Object.fromEntries(STEP_NAMES.map((n) => [n, 0])),
      call: 6, obj_slow: 1, obj_fast: 4, zone: 1, list: 11, split: 5,
    });

    // Prices from the cost table, so a change to the table or to the counting fails here.
    const ns = JSON.parse(readFileSync(new URL('../src/machine/cost-table.json', import.meta.url), 'utf8')).ns as Record<string, number>;
    expect(ns).toMatchObject({ call: 1.5, obj_fast: 4, obj_slow: 120, zone: 40, list: 15, split: 20 });
    // slow kmalloc: 1.5 + 120 (slub) + 40 (zone) + 1.5 + 11 * 15 + 5 * 20 (buddy) = 428
    const slow = 1.5 + 120 + 40 + 1.5 + 11 * 15 + 5 * 20;
    expect(slow).toBe(428);
    // fast kmalloc / kfree: 1.5 + 4 = 5.5
    const fast = 1.5 + 4;
    expect(metrics.latency.kmalloc).toMatchObject({ count: 3, total_ns: 439, p50: fast, max: slow });
    expect(metrics.latency.kfree).toMatchObject({ count: 2, total_ns: 11, p50: fast, max: fast });
    expect(metrics.sim_total_ns).toBe(slow + 4 * fast); // 450
  });
});

describe('the priced total', () => {
  // Every counted step adds its price to one total as it is counted (machine/steps.ts tick), and an
  // event's latency is that total's change: a count made without its price would show here.
  const table = loadCostTable();
  const priced = (steps: Record<string, number>): number => STEP_NAMES.reduce((t, n, k) => t + steps[n]! * table[k]!, 0);
  const traces = [GENERATORS['kernel-mix']!.generate({ events: 4000 }, 5), GENERATORS['fork-cow']!.generate({ events: 2000 }, 5)];
  const pages = ['buddy', 'buddy-mobility', 'bitmap', 'bitmap2', 'freelist'];
  const objects = ['slub', 'kmalloc-pow2', 'dlmalloc'];
  it('no source file counts a step without pricing it (a write to a STEP_ counter outside machine/steps.ts)', () => {
    const src = fileURLToPath(new URL('../src', import.meta.url));
    const offenders = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== join('machine', 'steps.ts'))
      .flatMap((f) => readFileSync(join(src, f), 'utf8').split('\n').map((line, i) => ({ at: `${f}:${i + 1}`, line })))
      .filter(({ line }) => /\[STEP_[A-Z_]+\]!?\s*(\+\+|--|[-+]?=(?!=))/.test(line))
      .map(({ at }) => at);
    expect(offenders).toEqual([]);
  });
  it.each(pages.flatMap((p) => objects.map((o) => [p, o] as const)))('%s + %s: sim_total_ns is the step counts priced by the cost table', (page, object) => {
    for (const t of traces) {
      const r = runCell({ trace: t.name, machine: 'mem=64M', page, object, seed: 5 }, t, loadMachine('mem=64M'), { samples: 0 });
      expect(r.status).toBe('ok');
      const m = r.metrics as { steps: Record<string, number>; sim_total_ns: number };
      expect(Object.values(m.steps).some((v) => v > 0)).toBe(true);
      expect(m.sim_total_ns).toBe(Math.round(priced(m.steps)));
    }
  });
});

describe('loadCostTable', () => {
  it('rejects a table that does not price every step', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allocbench-cost-'));
    try {
      const table = JSON.parse(readFileSync(new URL('../src/machine/cost-table.json', import.meta.url), 'utf8')) as { ns: Record<string, number> };
      const full = join(dir, 'full.json');
      writeFileSync(full, JSON.stringify(table));
      expect(Array.from(loadCostTable(full))).toEqual(STEP_NAMES.map((n) => table.ns[n]));
      delete table.ns.zone;
      const missing = join(dir, 'missing.json');
      writeFileSync(missing, JSON.stringify(table));
      expect(() => loadCostTable(missing)).toThrow(AllocbenchError);
      expect(() => loadCostTable(missing)).toThrow(/"ns\.zone" must be a non-negative number/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

