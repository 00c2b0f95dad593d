import { describe, it, expect } from 'vitest';
import { BuddyAllocator } from '../src/page/buddy.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { MAX_ORDER, NR_ORDERS } from '../src/page/strategy.js';
import { MIGRATE_TYPES, MIGRATE_UNMOVABLE } from '../src/machine/gfp.js';
import { newSteps, setPrices, STEP_CALL, STEP_COUNT, STEP_LIST, STEP_MERGE, STEP_NS, STEP_SPLIT } from '../src/machine/steps.js';

function buddy(pages: number, ranges: Array<[number, number]>) {
  const steps = newSteps();
  const b = new BuddyAllocator({ pages, steps }, false);
  for (const [a, e] of ranges) forEachAlignedBlock(a, e, (pfn, order) => b.free(pfn, order));
  b.check();
  return { b, steps };
}

/** nr_free per order (everything is Unmovable without mobility) */
function area(b: BuddyAllocator): number[] {
  const out = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
  b.freeArea(out);
  for (let i = NR_ORDERS; i < out.length; i++) expect(out[i]).toBe(0);
  return Array.from(out.subarray(MIGRATE_UNMOVABLE * NR_ORDERS, NR_ORDERS));
}

describe('buddy allocator without mobility', () => {
  it('splits an order-10 block keeping the low half and listing one upper half per order', () => {
    const { b, steps } = buddy(2048, [[0, 1024]]);
    expect(b.alloc(0, 1)).toBe(0);
    expect(steps[STEP_SPLIT]).toBe(10);
    expect(area(b)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    // the upper halves are at 1, 2, 4, ..., 512
    expect(b.alloc(0, 0)).toBe(1);
    expect(b.alloc(1, 0)).toBe(2);
    expect(b.alloc(2, 0)).toBe(4);
    expect(b.alloc(9, 0)).toBe(512);
    b.check();
  });

  it('merges back to MAX_ORDER when the last piece of a split block is freed', () => {
    const { b, steps } = buddy(2048, [[0, 1024]]);
    const got = [b.alloc(0, 0), b.alloc(0, 0), b.alloc(1, 0), b.alloc(3, 0)];
    expect(got).toEqual([0, 1, 2, 8]);
    b.free(8, 3);
    b.free(1, 0);
    b.free(2, 1);
    expect(steps[STEP_MERGE]).toBe(0); // every buddy is still in use
    b.free(0, 0);
    expect(steps[STEP_MERGE]).toBe(10); // 0+1, +2, +4, +8, +16, ..., +512
    b.check();
    expect(area(b)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(b.freePages()).toBe(1024);
    expect(b.alloc(MAX_ORDER, 0)).toBe(0);
  });

  it('reuses the most recently freed block first (LIFO list head)', () => {
    const { b } = buddy(2048, [[0, 1024]]);
    for (let i = 0; i < 4; i++) expect(b.alloc(0, 0)).toBe(i);
    b.free(2, 0); // buddy 3 in use; parent's buddy (0, order 1) in use: head
    b.free(0, 0); // buddy 1 in use; parent's buddy (2, order 1) is not a free order-1 block: head
    expect(b.alloc(0, 0)).toBe(0);
    expect(b.alloc(0, 0)).toBe(2);
  });

  it('puts a freed block at the list tail when the buddy of its parent is free (buddy_merge_likely)', () => {
    const { b } = buddy(2048, [[0, 1024]]);
    expect(b.alloc(0, 0)).toBe(0);
    expect(b.alloc(0, 0)).toBe(1);
    expect(b.alloc(1, 0)).toBe(2);
    expect(b.alloc(0, 0)).toBe(4); // leaves 5 (order 0) and 6 (order 1) free
    b.free(2, 1); // buddy 0 in use; parent's buddy 4 (order 2) in use: head of order 1
    b.free(0, 0); // buddy 1 in use; parent 0's buddy 2 is a free order-1 block: tail
    expect(b.alloc(0, 0)).toBe(5); // with head placement this would be 0
    expect(b.alloc(0, 0)).toBe(0);
    b.check();
  });

  it('does not use the tail rule at orders ≥ MAX_ORDER - 1', () => {
    const { b } = buddy(4096, [[0, 4096]]);
    expect(b.alloc(MAX_ORDER, 0)).toBe(0);
    expect(b.alloc(9, 0)).toBe(1024); // leaves 1536 (order 9)
    expect(b.alloc(9, 0)).toBe(1536);
    expect(b.alloc(9, 0)).toBe(2048); // leaves 2560 (order 9)
    b.free(0, MAX_ORDER);
    // 1024's buddy 1536 is in use; its parent's buddy (0, order 10) is free, but order 9 is exempt
    b.free(1024, 9);
    expect(b.alloc(9, 0)).toBe(1024);
    b.check();
  });

  it('serves boot hand-over blocks in address order (__free_pages_core frees to the tail)', () => {
    const { b } = buddy(4096, [[0, 4096]]);
    expect(b.alloc(MAX_ORDER, 0)).toBe(0);
    expect(b.alloc(MAX_ORDER, 0)).toBe(1024);
    expect(b.alloc(MAX_ORDER, 0)).toBe(2048);
  });

  it('never merges across a hole or past the zone end', () => {
    const { b } = buddy(1536, [[0, 512], [514, 1536]]);
    // [0,512) is order 9, its buddy [512,1024) contains the hole at 512..513
    expect(area(b)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0]);
    const a = b.alloc(9, 0);
    expect(a).toBe(0);
    b.free(a, 9);
    const c = b.alloc(1, 0);
    expect(c).toBe(514);
    b.free(c, 1);
    b.check();
    expect(area(b)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0]);
    expect(b.alloc(MAX_ORDER, 0)).toBe(-1);
    // 1024 (order 9) has its buddy at 1536, outside the zone
    expect(b.alloc(9, 0)).toBe(0);
    expect(b.alloc(9, 0)).toBe(1024);
    b.free(1024, 9);
    b.check();
    expect(area(b)[9]).toBe(1);
  });

  it('counts one call per alloc and free and fails out of range orders', () => {
    const { b, steps } = buddy(2048, [[0, 2048]]);
    const before = steps[STEP_CALL]!;
    expect(b.alloc(MAX_ORDER + 1, 0)).toBe(-1);
    const p = b.alloc(3, 0);
    b.free(p, 3);
    expect(steps[STEP_CALL]! - before).toBe(3);
    expect(b.counters().extfrag_events).toBe(0);
    const types = new Float64Array(MIGRATE_TYPES);
    b.pageblockTypes(types);
    expect(Array.from(types)).toEqual([4, 0, 0, 0]);
  });
});

describe('buddy step counts', () => {
  it('counts the list steps of each operation as the kernel walks the lists', () => {
    const { b, steps } = buddy(2048, [[0, 1024]]);
    steps.fill(0, 0, STEP_COUNT);
    expect(b.alloc(0, 0)).toBe(0);
    // 10 empty lists looked at, the removal of the order-10 block, 10 halves listed
    expect([steps[STEP_CALL], steps[STEP_LIST], steps[STEP_SPLIT], steps[STEP_MERGE]]).toEqual([1, 21, 10, 0]);
    b.free(0, 0);
    // 10 buddies taken off their lists, the merged block listed
    expect([steps[STEP_CALL], steps[STEP_LIST], steps[STEP_SPLIT], steps[STEP_MERGE]]).toEqual([2, 32, 10, 10]);
  });

  it('keeps the priced total equal to the counters times their prices after every call, per-CPU lists and fallbacks included', () => {
    const steps = newSteps();
    const b = new BuddyAllocator({ pages: 16384, steps }, true);
    forEachAlignedBlock(0, 16384, (pfn, order) => b.free(pfn, order));
    b.setupPcp(16384, 40, 2, { cpu: 0 }, 60);
    // distinct prices, so that a step counted under the wrong kind or without its price shows
    setPrices(steps, Float64Array.from({ length: STEP_COUNT }, (_, k) => 0.1 * (2 * k + 3)));
    const priced = (): number => {
      let ns = 0;
      for (let k = 0; k < STEP_COUNT; k++) ns += steps[k]! * Math.round(0.1 * (2 * k + 3) * 10);
      return ns;
    };
    steps.fill(0, 0, STEP_COUNT + 1);
    let x = 12345;
    const rand = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
    const live: Array<[number, number]> = [];
    for (let i = 0; i < 20000; i++) {
      if (live.length > 0 && rand() < 0.48) {
        const j = Math.floor(rand() * live.length);
        const [pfn, order] = live[j]!;
        live[j] = live[live.length - 1]!;
        live.pop();
        b.free(pfn, order);
      } else {
        const u = rand();
        const order = u < 0.6 ? 0 : u < 0.8 ? 1 : u < 0.9 ? 3 : u < 0.97 ? 4 : 9;
        const pfn = b.alloc(order, Math.floor(rand() * 3));
        if (pfn >= 0) live.push([pfn, order]);
      }
      if (i % 5000 === 4999) b.drainPcp();
      expect(steps[STEP_NS]).toBe(priced());
    }
    b.check();
    expect(steps[STEP_MERGE]).toBeGreaterThan(0);
    expect(steps[STEP_SPLIT]).toBeGreaterThan(0);
    expect(b.counters().pcp_refills).toBeGreaterThan(0);
    expect(b.counters().extfrag_events).toBeGreaterThan(0);
  });
});
