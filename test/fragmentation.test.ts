import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE } from '../src/machine/gfp.js';
import { NR_ORDERS } from '../src/page/strategy.js';
import {
  fillContigPageInfo, fragmentationIndex, largestFreeOrder, unusableFreeIndex, zoneFragMetrics, type ZoneFreeState,
} from '../src/metrics/fragmentation.js';

/** nr_free per order from {order: count}. */
function perOrder(blocks: Record<number, number>): Float64Array {
  const a = new Float64Array(NR_ORDERS);
  for (const [o, n] of Object.entries(blocks)) a[Number(o)] = n;
  return a;
}

function zone(byType: Record<number, Record<number, number>>): ZoneFreeState {
  const freeArea = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
  for (const [mt, blocks] of Object.entries(byType)) {
    for (const [o, n] of Object.entries(blocks)) freeArea[Number(mt) * NR_ORDERS + Number(o)] = n;
  }
  return { node: 0, zone: 'Normal', freeArea, pageblocks: new Float64Array(MIGRATE_TYPES) };
}

describe('fillContigPageInfo (mm/vmstat.c fill_contig_page_info)', () => {
  it('counts free pages, blocks, and blocks of order >= j as 2^(o-j) suitable blocks', () => {
    const info = fillContigPageInfo(perOrder({ 0: 3, 2: 2, 5: 1 }), 2);
    expect(info).toEqual({ freePages: 3 + 8 + 32, freeBlocksTotal: 6, freeBlocksSuitable: 2 + 8 });
  });

  it('sums every migratetype of an mt * NR_ORDERS + order array, as zone->free_area[order].nr_free does', () => {
    const z = zone({ [MIGRATE_UNMOVABLE]: { 1: 2 }, [MIGRATE_MOVABLE]: { 1: 1, 3: 1 }, [MIGRATE_RECLAIMABLE]: { 0: 5 } });
    expect(fillContigPageInfo(z.freeArea, 1)).toEqual({ freePages: 6 + 8 + 5, freeBlocksTotal: 9, freeBlocksSuitable: 3 + 4 });
  });
});

describe('unusableFreeIndex (kernel integer arithmetic, x1000)', () => {
  it('is 1000 when nothing is free', () => {
    expect(unusableFreeIndex(fillContigPageInfo(perOrder({}), 3), 3)).toBe(1000);
  });

  it('is 0 when every free page sits in a suitable block', () => {
    expect(unusableFreeIndex(fillContigPageInfo(perOrder({ 4: 3 }), 2), 2)).toBe(0);
  });

  it('truncates like div_u64: 1 of 3 free pages unusable gives 333, and 256/3840 gives 66 not 67', () => {
    expect(unusableFreeIndex(fillContigPageInfo(perOrder({ 0: 1, 1: 1 }), 1), 1)).toBe(333);
    // the DMA zone of this machine's buddyinfo at order 9: (3840 - 7*512) * 1000 / 3840 = 66.67
    expect(unusableFreeIndex(fillContigPageInfo(perOrder({ 8: 1, 9: 1, 10: 3 }), 9), 9)).toBe(66);
  });
});

describe('fragmentationIndex (__fragmentation_index, x1000)', () => {
  it('is 0 when there are no free blocks at all', () => {
    expect(fragmentationIndex(fillContigPageInfo(perOrder({}), 4), 4)).toBe(0);
  });

  it('is -1000 as soon as one suitable block exists', () => {
    expect(fragmentationIndex(fillContigPageInfo(perOrder({ 0: 1000, 4: 1 }), 4), 4)).toBe(-1000);
    expect(fragmentationIndex(fillContigPageInfo(perOrder({ 10: 1 }), 0), 0)).toBe(-1000);
  });

  it('is 1 - (1 + free/2^j) / blocks when the request would fail: 4 single pages at order 1 give 250', () => {
    expect(fragmentationIndex(fillContigPageInfo(perOrder({ 0: 4 }), 1), 1)).toBe(250);
  });

  it('divides in the kernel order: 3 single pages at order 2 give 1000 - 1750/3 = 417 (the real-number formula floors to 416)', () => {
    const info = fillContigPageInfo(perOrder({ 0: 3 }), 2);
    expect(fragmentationIndex(info, 2)).toBe(417);
    expect(Math.floor(1000 * (1 - (1 + 3 / 4) / 3))).toBe(416);
  });

  it('goes negative when free memory is short rather than scattered: one order-2 block at order 3 gives -500', () => {
    expect(fragmentationIndex(fillContigPageInfo(perOrder({ 2: 1 }), 3), 3)).toBe(-500);
    expect(fragmentationIndex(fillContigPageInfo(perOrder({ 0: 1, 1: 1 }), 2), 2)).toBe(125);
  });

  it('matches the kernel formula in exact integers (BigInt) for large zones', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: NR_ORDERS, maxLength: NR_ORDERS }),
      fc.integer({ min: 0, max: NR_ORDERS - 1 }),
      (counts, j) => {
        const a = Float64Array.from(counts);
        const info = fillContigPageInfo(a, j);
        let fp = 0n, total = 0n, suit = 0n;
        counts.forEach((c, o) => {
          total += BigInt(c);
          fp += BigInt(c) << BigInt(o);
          if (o >= j) suit += BigInt(c) << BigInt(o - j);
        });
        expect(info.freePages).toBe(Number(fp));
        expect(info.freeBlocksSuitable).toBe(Number(suit));
        const unusable = fp === 0n ? 1000n : ((fp - (suit << BigInt(j))) * 1000n) / fp;
        const frag = total === 0n ? 0n : suit > 0n ? -1000n : 1000n - (1000n + (fp * 1000n) / (1n << BigInt(j))) / total;
        expect(unusableFreeIndex(info, j)).toBe(Number(unusable));
        expect(fragmentationIndex(info, j)).toBe(Number(frag));
      },
    ));
  });

  it('stays within [0, 1000] for unusable, and is -1000 exactly when a suitable block exists', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: NR_ORDERS, maxLength: NR_ORDERS }),
      fc.integer({ min: 0, max: NR_ORDERS - 1 }),
      (counts, j) => {
        const info = fillContigPageInfo(Float64Array.from(counts), j);
        const u = unusableFreeIndex(info, j);
        expect(u).toBeGreaterThanOrEqual(0);
        expect(u).toBeLessThanOrEqual(1000);
        expect(fragmentationIndex(info, j) === -1000).toBe(info.freeBlocksSuitable > 0);
      },
    ));
  });
});

describe('largestFreeOrder', () => {
  it('is -1 with nothing free and otherwise the highest order holding a block of any type', () => {
    expect(largestFreeOrder(new Float64Array(MIGRATE_TYPES * NR_ORDERS))).toBe(-1);
    expect(largestFreeOrder(zone({ [MIGRATE_UNMOVABLE]: { 3: 1 }, [MIGRATE_RECLAIMABLE]: { 7: 2 } }).freeArea)).toBe(7);
  });
});

describe('zoneFragMetrics', () => {
  it('reports buddyinfo-style totals and the indices as decimals', () => {
    const z = zone({ [MIGRATE_UNMOVABLE]: { 0: 2 }, [MIGRATE_MOVABLE]: { 0: 1, 1: 1 } });
    z.pageblocks[MIGRATE_MOVABLE] = 3;
    const m = zoneFragMetrics(z);
    expect(m.free_pages).toBe(5);
    expect(m.free_blocks).toEqual([3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.largest_free_order).toBe(1);
    // order 1: (5 - 2) * 1000 / 5 = 600; order 2: 1000 - (1000 + 5000/4) / 4 = 1000 - 562 = 438
    expect(m.unusable_index.slice(0, 3)).toEqual([0, 0.6, 1]);
    expect(m.extfrag_index.slice(0, 3)).toEqual([-1, -1, 0.438]);
    expect(m.pageblocks).toEqual({ Unmovable: 0, Movable: 3, Reclaimable: 0, HighAtomic: 0 });
    expect(m.free_pages_by_type).toEqual({ Unmovable: 2, Movable: 3, Reclaimable: 0, HighAtomic: 0 });
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('of an empty zone: no free pages, largest -1, unusable 1 and extfrag 0 everywhere', () => {
    const m = zoneFragMetrics(zone({}));
    expect(m.free_pages).toBe(0);
    expect(m.largest_free_order).toBe(-1);
    expect(m.unusable_index).toEqual(new Array(NR_ORDERS).fill(1));
    expect(m.extfrag_index).toEqual(new Array(NR_ORDERS).fill(0));
  });

  it('counts extra migratetypes (Isolate, CMA) of a parsed zone, as nr_free does', () => {
    const z = zone({ [MIGRATE_MOVABLE]: { 0: 1 } });
    z.extraTypes = [{ name: 'Isolate', freeArea: perOrder({ 3: 1 }), pageblocks: 1 }];
    const m = zoneFragMetrics(z);
    expect(m.free_pages).toBe(9);
    expect(m.largest_free_order).toBe(3);
    expect(m.pageblocks.Isolate).toBe(1);
  });
});
