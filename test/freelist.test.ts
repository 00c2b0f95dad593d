import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FreelistStrategy, extentCapacity } from '../src/page/freelist.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { newSteps, STEP_LIST } from '../src/machine/steps.js';
import { NR_ORDERS } from '../src/page/strategy.js';
import { AllocbenchError } from '../src/errors.js';
import { pageStrategyFactory } from '../src/page/registry.js';

function make(pages: number, ranges: Array<[number, number]>, variant?: string, steps = newSteps()): FreelistStrategy {
  const f = new FreelistStrategy({ pages, steps, ...(variant === undefined ? {} : { variant }) });
  for (const [s, e] of ranges) forEachAlignedBlock(s, e, (pfn, order) => f.free(pfn, order));
  return f;
}

function extents(f: FreelistStrategy): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  f.forEachExtent((s, len) => out.push([s, s + len]));
  return out;
}

describe('freelist', () => {
  it('the boot hand-over of a range coalesces into one extent', () => {
    const f = make(100, [[3, 97]]);
    expect(extents(f)).toEqual([[3, 97]]);
    expect(f.freePages()).toBe(94);
    f.check();
  });

  it('coalesces a freed block with its left neighbour, its right neighbour, and both', () => {
    const f = make(64, [[0, 64]]);
    const a = f.alloc(3, 0), b = f.alloc(3, 0), c = f.alloc(3, 0), d = f.alloc(3, 0);
    expect([a, b, c, d]).toEqual([0, 8, 16, 24]);
    expect(extents(f)).toEqual([[32, 64]]);
    f.free(24, 3); // left of [32,64): right-neighbour merge
    expect(extents(f)).toEqual([[24, 64]]);
    f.free(0, 3); // isolated
    expect(extents(f)).toEqual([[0, 8], [24, 64]]);
    f.free(8, 3); // right end of [0,8): left-neighbour merge
    expect(extents(f)).toEqual([[0, 16], [24, 64]]);
    f.check();
    f.free(16, 3); // fills the gap: both neighbours merge
    expect(extents(f)).toEqual([[0, 64]]);
    f.check();
  });

  it('coalesces single-page neighbours (a one-page extent has one tag for both ends)', () => {
    const f = make(16, [[0, 16]]);
    for (let i = 0; i < 16; i++) expect(f.alloc(0, 0)).toBe(i);
    f.free(4, 0);
    f.free(6, 0);
    expect(extents(f)).toEqual([[4, 5], [6, 7]]);
    f.free(5, 0);
    expect(extents(f)).toEqual([[4, 7]]);
    f.check();
  });

  it('never coalesces across a hole that was never handed over', () => {
    const f = make(32, [[0, 8], [9, 16]]); // page 8 is reserved
    expect(extents(f)).toEqual([[0, 8], [9, 16]]);
    expect(f.alloc(3, 0)).toBe(0);
    f.free(0, 3);
    expect(extents(f)).toEqual([[0, 8], [9, 16]]);
    expect(f.alloc(3, 0)).toBe(0);
    expect(f.alloc(3, 0)).toBe(-1); // [9,16) is 7 pages: no aligned 8
    expect(f.alloc(2, 0)).toBe(12);
    f.check();
  });

  it('carves an aligned block out of a misaligned extent, leaving the head and tail free', () => {
    const f = make(64, [[3, 20]]);
    expect(f.alloc(3, 0)).toBe(8);
    expect(extents(f)).toEqual([[3, 8], [16, 20]]);
    f.check();
  });

  it('first fit takes the lowest-addressed extent that fits', () => {
    const f = make(64, [[0, 8], [16, 18], [24, 28]]);
    expect(f.alloc(1, 0)).toBe(0);
  });

  it('best fit takes the smallest extent that can hold the aligned block', () => {
    const f = make(64, [[0, 8], [16, 18], [24, 28], [40, 43]]);
    // order 1: [0,8) len 8, [16,18) len 2 (exact), [24,28) len 4, [40,43) len 3
    expect(f.alloc(1, 0)).toBe(0); // first fit, for contrast
    const g = make(64, [[0, 8], [24, 28], [40, 43], [16, 18]], 'best');
    expect(g.alloc(1, 0)).toBe(16);
    // order 2 now: [0,8) len 8, [24,28) len 4, [40,43) len 3 (cannot hold an aligned 4)
    expect(g.alloc(2, 0)).toBe(24);
    // order 0 with no exact fit left: [40,43) (len 3) beats [0,8) (len 8)
    expect(g.alloc(0, 0)).toBe(40);
    g.check();
  });

  it('best fit charges the whole list unless it stops at an exact fit', () => {
    const steps = newSteps();
    const g = make(64, [[0, 8], [24, 28], [40, 42], [50, 53]], 'best', steps);
    let before = steps[STEP_LIST]!;
    expect(g.alloc(1, 0)).toBe(40); // exact fit, third in address order: 3 visited + 1 unlinked
    expect(steps[STEP_LIST]! - before).toBe(3 + 1);
    before = steps[STEP_LIST]!;
    expect(g.alloc(0, 0)).toBe(50); // no 1-page extent: all 3 visited, unlink + relink the tail
    expect(steps[STEP_LIST]! - before).toBe(3 + 2);
    g.check();
  });

  it('next fit resumes after the last allocation and wraps around', () => {
    const f = make(64, [[0, 32]], 'next');
    expect(f.alloc(0, 0)).toBe(0);
    f.free(0, 0);
    expect(f.alloc(0, 0)).toBe(1); // first fit would reuse 0
    expect(f.alloc(3, 0)).toBe(8);
    expect(f.alloc(3, 0)).toBe(16);
    expect(f.alloc(3, 0)).toBe(24);
    expect(f.alloc(2, 0)).toBe(4); // nothing at or after 32: wraps to the head, [2,8) holds [4,8)
    f.check();
  });

  it('first fit charges one list step per extent walked from the head', () => {
    const steps = newSteps();
    const f = make(64, [[0, 1], [4, 5], [8, 9], [16, 24]], undefined, steps);
    const before = steps[STEP_LIST]!;
    expect(f.alloc(3, 0)).toBe(16);
    expect(steps[STEP_LIST]! - before).toBe(4 + 1); // 4 visited, 1 unlinked
  });

  it('unknown variants are usage errors naming the valid ones; the registry passes variants', () => {
    expect(() => make(8, [], 'worst')).toThrow(AllocbenchError);
    expect(() => make(8, [], 'worst')).toThrow(/freelist:first, freelist:best, freelist:next/);
    const s = pageStrategyFactory('freelist:best')({ pages: 8, steps: newSteps() });
    expect(s.name).toBe('freelist:best');
  });

  it('extent capacity is the largest aligned order inside the extent', () => {
    expect(extentCapacity(3, 17)).toBe(3);
    expect(extentCapacity(1, 7)).toBe(2);
    expect(extentCapacity(0, 5000)).toBe(10);
    expect(extentCapacity(7, 2)).toBe(0);
  });

  it('metadata stays within 16 bytes per page (about 5.2 for any zone of a few hundred pages or more)', () => {
    for (const pages of [300, 1000, 4097, (1 << 20) + 1]) {
      expect(make(pages, []).metadataBytes()).toBeLessThanOrEqual(6 * pages);
    }
  });

  it('freeArea decomposes each extent into aligned blocks as Unmovable', () => {
    const f = make(64, [[3, 20], [40, 48]]);
    const out = new Float64Array(4 * NR_ORDERS);
    f.freeArea(out);
    expect(Array.from(out.slice(0, 4))).toEqual([1, 0, 2, 2]);
  });

  for (const variant of ['first', 'best', 'next']) {
    it(`${variant} fit matches a byte-per-page reference: aligned blocks from free pages, same free set, -1 only when nothing fits`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 3000 }),
          fc.array(fc.tuple(fc.nat(), fc.nat({ max: 700 })), { maxLength: 6 }),
          fc.array(fc.oneof(
            fc.record({ a: fc.constantFrom(0, 0, 0, 1, 2, 3, 3, 4, 5, 7, 10) }),
            fc.record({ f: fc.nat() }),
          ), { maxLength: 150 }),
          (pages, ranges, ops) => {
            const ref = new Uint8Array(pages);
            for (const [s0, len] of ranges) ref.fill(1, s0 % pages, Math.min(pages, (s0 % pages) + len));
            const runs: Array<[number, number]> = [];
            for (let p = 0; p < pages;) {
              if (!ref[p]) { p++; continue; }
              let e = p;
              while (e < pages && ref[e]) e++;
              runs.push([p, e]);
              p = e;
            }
            const f = make(pages, runs, variant);
            const live: Array<[number, number]> = [];
            for (const op of ops) {
              if ('a' in op) {
                const z = 1 << op.a;
                const got = f.alloc(op.a, 0);
                if (got < 0) {
                  for (let p = 0; p + z <= pages; p += z) expect(ref.subarray(p, p + z).every((x) => x === 1)).toBe(false);
                } else {
                  expect(got % z).toBe(0);
                  expect(ref.subarray(got, got + z).every((x) => x === 1)).toBe(true);
                  ref.fill(0, got, got + z);
                  live.push([got, op.a]);
                }
              } else if (live.length > 0) {
                const [p, o] = live.splice(op.f % live.length, 1)[0]!;
                f.free(p, o);
                ref.fill(1, p, p + (1 << o));
              }
              expect(f.freePages()).toBe(ref.reduce((a, x) => a + x, 0));
            }
            expect(Buffer.from(f.freeMap()).equals(Buffer.from(ref))).toBe(true);
            f.check();
          },
        ),
        { numRuns: 100 },
      );
    });
  }
});
