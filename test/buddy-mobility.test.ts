import { describe, it, expect } from 'vitest';
import { BuddyAllocator } from '../src/page/buddy.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { NR_ORDERS } from '../src/page/strategy.js';
import {
  MIGRATE_MOVABLE as MOV, MIGRATE_RECLAIMABLE as RCL, MIGRATE_TYPES, MIGRATE_UNMOVABLE as UNM,
} from '../src/machine/gfp.js';
import { newSteps, STEP_FALLBACK, STEP_PAGEBLOCK } from '../src/machine/steps.js';

function zone(pages: number, ranges: Array<[number, number]>) {
  const steps = newSteps();
  const b = new BuddyAllocator({ pages, steps }, true);
  for (const [a, e] of ranges) forEachAlignedBlock(a, e, (pfn, order) => b.free(pfn, order));
  b.check();
  return { b, steps };
}

function types(b: BuddyAllocator): number[] {
  const out = new Float64Array(MIGRATE_TYPES);
  b.pageblockTypes(out);
  return Array.from(out);
}

/** nr_free of one migratetype, per order */
function lists(b: BuddyAllocator, mt: number): number[] {
  const out = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
  b.freeArea(out);
  return Array.from(out.subarray(mt * NR_ORDERS, (mt + 1) * NR_ORDERS));
}

describe('buddy allocator grouping pages by mobility', () => {
  it('starts with every pageblock Movable and serves movable requests without fallback', () => {
    const { b } = zone(4096, [[0, 4096]]);
    expect(types(b)).toEqual([0, 8, 0, 0]);
    expect(lists(b, MOV)[10]).toBe(4);
    expect(b.alloc(0, MOV)).toBe(0);
    expect(b.counters().extfrag_events).toBe(0);
    expect(b.counters().mobility_grouping).toBe(1);
  });

  it('an unmovable request taking a block ≥ pageblock_order claims every pageblock it covers', () => {
    const { b, steps } = zone(4096, [[0, 4096]]);
    expect(b.alloc(0, UNM)).toBe(0);
    expect(types(b)).toEqual([2, 6, 0, 0]);
    // the remainders of the order-10 block are Unmovable now
    expect(lists(b, UNM)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(lists(b, MOV)[10]).toBe(3);
    expect(b.counters()).toMatchObject({
      extfrag_events: 1, extfrag_fragmenting: 0, extfrag_change_ownership: 1, pageblock_steals: 2, single_block_steals: 0,
    });
    expect(steps[STEP_FALLBACK]).toBe(1);
    b.check();
  });

  it('an unmovable request stealing a smaller block claims a mostly free Movable pageblock', () => {
    const { b, steps } = zone(4096, [[0, 512]]);
    expect(b.alloc(0, MOV)).toBe(0); // Movable leaves 1, 2, 4, ..., 256 free
    const scanned = steps[STEP_PAGEBLOCK]!;
    expect(b.alloc(0, UNM)).toBe(1);
    // fallback order 8 < pageblock_order; 511 free pages ≥ 256: the block changes owner
    expect(types(b)).toEqual([1, 7, 0, 0]);
    expect(lists(b, MOV)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(lists(b, UNM)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect(b.counters()).toMatchObject({
      extfrag_events: 1, extfrag_fragmenting: 1, extfrag_change_ownership: 1, pageblock_steals: 1, single_block_steals: 0,
    });
    expect(steps[STEP_PAGEBLOCK]! - scanned).toBeGreaterThan(0);
    b.check();
  });

  it('an unmovable request in a pageblock full of movable pages takes one block and leaves the type', () => {
    const { b } = zone(4096, [[0, 512]]);
    expect([b.alloc(8, MOV), b.alloc(7, MOV), b.alloc(6, MOV), b.alloc(5, MOV), b.alloc(4, MOV)]).toEqual([0, 256, 384, 448, 480]);
    // 16 free + 0 alike (496 movable pages) < 256: single block steal
    expect(b.alloc(0, UNM)).toBe(496);
    expect(types(b)).toEqual([0, 8, 0, 0]);
    expect(lists(b, MOV)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]); // remainders stay Movable
    expect(b.counters()).toMatchObject({
      extfrag_events: 1, extfrag_fragmenting: 1, extfrag_change_ownership: 0, pageblock_steals: 0, single_block_steals: 1,
    });
    // with 256 more pages free the same request claims the block (271 ≥ 256)
    b.free(0, 8);
    expect(b.alloc(0, UNM)).toBe(497);
    expect(types(b)).toEqual([1, 7, 0, 0]);
    expect(b.counters()).toMatchObject({ pageblock_steals: 1, extfrag_change_ownership: 1, extfrag_events: 2 });
    b.check();
  });

  it('a movable order-0 request that may not claim steals the smallest block and leaves the type', () => {
    const { b } = zone(4096, [[0, 512]]);
    expect(b.alloc(0, UNM)).toBe(0); // order-9 fallback: the pageblock is Unmovable now
    expect([b.alloc(8, UNM), b.alloc(7, UNM), b.alloc(6, UNM), b.alloc(5, UNM), b.alloc(4, UNM)]).toEqual([256, 128, 64, 32, 16]);
    // left: Unmovable 1 (o0), 2 (o1), 4 (o2), 8 (o3); the largest, order 3 < 4, cannot be claimed
    expect(b.alloc(0, MOV)).toBe(1); // find_smallest, not 8
    expect(types(b)).toEqual([1, 7, 0, 0]);
    expect(lists(b, UNM)).toEqual([0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(b.counters()).toMatchObject({
      extfrag_events: 2, extfrag_fragmenting: 1, extfrag_change_ownership: 1, pageblock_steals: 1, single_block_steals: 1,
    });
    b.check();
  });

  it('a movable request whose fallback block has order ≥ 4 claims a mostly free pageblock', () => {
    const { b } = zone(4096, [[0, 512]]);
    expect(b.alloc(0, UNM)).toBe(0); // pageblock Unmovable, 511 free
    expect(b.alloc(0, MOV)).toBe(1);
    expect(types(b)).toEqual([0, 8, 0, 0]);
    expect(lists(b, MOV)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect(b.counters()).toMatchObject({ extfrag_events: 2, pageblock_steals: 2, single_block_steals: 0, extfrag_change_ownership: 2 });
    b.check();
  });

  it('a movable request whose order-4 fallback lacks free or movable pages takes only the block', () => {
    const { b } = zone(4096, [[0, 512]]);
    expect(b.alloc(0, UNM)).toBe(0);
    expect([b.alloc(8, UNM), b.alloc(7, UNM), b.alloc(6, UNM), b.alloc(5, UNM)]).toEqual([256, 128, 64, 32]);
    // 31 free, 0 movable: 31 < 256
    expect(b.alloc(0, MOV)).toBe(16);
    expect(types(b)).toEqual([1, 7, 0, 0]);
    expect(lists(b, UNM)).toEqual([2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0]);
    expect(b.counters()).toMatchObject({ single_block_steals: 1, pageblock_steals: 1 });
    b.check();
  });

  it('searches fallbacks from the largest order down', () => {
    const { b } = zone(4096, [[0, 512], [1024, 1536]]);
    expect(b.alloc(0, MOV)).toBe(0); // Movable free: 1..256 (orders 0..8) and 1024 (order 9)
    expect(b.alloc(0, UNM)).toBe(1024); // not 1
    expect(types(b)).toEqual([1, 7, 0, 0]);
    b.check();
  });

  it('tries fallback types in the table order (reclaimable: Unmovable before Movable)', () => {
    const { b } = zone(4096, [[0, 512], [1024, 1536], [2048, 2560]]);
    expect(b.alloc(9, UNM)).toBe(0);
    b.free(0, 9); // back on the Unmovable list: pageblock 0 is Unmovable now
    expect(lists(b, UNM)[9]).toBe(1);
    expect(lists(b, MOV)[9]).toBe(2);
    expect(b.alloc(9, RCL)).toBe(0);
    expect(b.alloc(9, MOV)).toBe(1024);
    expect(types(b)).toEqual([0, 7, 1, 0]);
    b.check();
  });

  it('merging across pageblocks of different types gives the merged block the freed page\'s type', () => {
    const { b } = zone(4096, [[0, 1024]]);
    expect(b.alloc(9, MOV)).toBe(0); // leaves 512 (order 9, Movable)
    expect(b.alloc(9, UNM)).toBe(512); // claims pageblock 1
    expect(types(b)).toEqual([1, 7, 0, 0]);
    b.free(0, 9);
    b.free(512, 9); // Unmovable, merges with the Movable buddy at 0
    expect(types(b)).toEqual([2, 6, 0, 0]);
    expect(lists(b, UNM)[10]).toBe(1);
    expect(lists(b, MOV)[10]).toBe(0);
    b.check();
  });

  it('disables grouping on a zone smaller than pageblock_nr_pages * MIGRATE_TYPES', () => {
    const { b } = zone(2047, [[0, 2047]]);
    expect(b.counters().mobility_grouping).toBe(0);
    expect(types(b)).toEqual([4, 0, 0, 0]);
    expect(b.alloc(0, MOV)).toBe(2046); // the hand-over's last, order-0 block: no per-type lists
    expect(b.alloc(0, RCL)).toBe(2044);
    expect(lists(b, MOV).reduce((x, y) => x + y, 0)).toBe(0);
    expect(lists(b, RCL).reduce((x, y) => x + y, 0)).toBe(0);
    expect(b.counters().extfrag_events).toBe(0);
    const big = zone(2048, [[0, 2048]]).b;
    expect(big.counters().mobility_grouping).toBe(1);
    expect(types(big)).toEqual([0, 4, 0, 0]);
  });
});

describe('mixed pageblocks', () => {
  it('counts a pageblock once a single-block steal puts a movable page into an Unmovable pageblock', () => {
    const { b } = zone(4096, [[0, 4096]]);
    // eight order-9 unmovable allocations claim every pageblock as Unmovable
    const blocks = Array.from({ length: 8 }, () => b.alloc(9, UNM));
    expect(types(b)).toEqual([8, 0, 0, 0]);
    // give one back and take 256 + 128 unmovable pages of it again: 128 free pages remain there
    b.free(blocks[3]!, 9);
    b.alloc(8, UNM);
    b.alloc(7, UNM);
    expect(b.counters().mixed_pageblocks).toBe(0);
    // a movable page: fallback to the order-7 Unmovable block; 128 free + 0 movable < 256, so the
    // block is stolen alone and the pageblock stays Unmovable, now holding a movable page
    const steals = b.counters().single_block_steals!;
    const pfn = b.alloc(0, MOV);
    expect(pfn >>> 9).toBe(blocks[3]! >>> 9);
    expect(b.counters().single_block_steals).toBe(steals + 1);
    expect(types(b)).toEqual([8, 0, 0, 0]);
    expect(b.counters().mixed_pageblocks).toBe(1);
    b.free(pfn, 0);
    expect(b.counters().mixed_pageblocks).toBe(0);
  });
});

describe('pre-trace memory in a pageblock scan (markAllocated)', () => {
  // one Movable pageblock (pages 0..511): 64 pages free at 448..511, the rest pre-trace memory that
  // was never handed over; an unmovable request must fall back into it (order 6 < pageblock_order)
  const start = (preTraceMt: number | null): BuddyAllocator => {
    const { b } = zone(4096, [[448, 512]]);
    if (preTraceMt !== null) for (let p = 0; p < 448; p++) b.markAllocated(p, 0, preTraceMt);
    b.check();
    return b;
  };
  it('pre-trace page cache (marked Movable) keeps an unmovable fallback from claiming the pageblock, as PageLRU pages do', () => {
    const b = start(MOV);
    expect(b.alloc(0, UNM)).toBeGreaterThanOrEqual(448);
    // 64 free + 0 alike < 256: not claimed (6.1/6.12 steal_suitable_fallback())
    expect(types(b)).toEqual([0, 8, 0, 0]);
    expect(b.counters()).toMatchObject({ extfrag_events: 1, extfrag_change_ownership: 0 });
    b.check();
  });
  it('pre-trace kernel memory (marked Unmovable) counts as alike: 64 free + 448 alike claims it', () => {
    const b = start(UNM);
    b.alloc(0, UNM);
    expect(types(b)).toEqual([1, 7, 0, 0]);
    expect(b.counters()).toMatchObject({ extfrag_events: 1, extfrag_change_ownership: 1 });
  });
  it('a marked pre-trace block\'s free is an ordinary free: it merges with its free buddy', () => {
    const { b } = zone(4096, [[448, 512]]);
    for (let p = 0; p < 384; p++) b.markAllocated(p, 0, MOV);
    b.markAllocated(384, 6, MOV); // a block the trace frees: marked with its own order
    b.free(384, 6);
    expect(lists(b, MOV)[7]).toBe(1);
    b.check();
  });
});
