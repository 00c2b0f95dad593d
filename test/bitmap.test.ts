import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BitmapStrategy } from '../src/page/bitmap.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { newSteps, STEP_WORD, STEP_CALL } from '../src/machine/steps.js';
import { NR_ORDERS } from '../src/page/strategy.js';
import { AllocbenchError } from '../src/errors.js';

function make(pages: number, ranges: Array<[number, number]>, steps = newSteps()): BitmapStrategy {
  const b = new BitmapStrategy({ pages, steps });
  for (const [s, e] of ranges) forEachAlignedBlock(s, e, (pfn, order) => b.free(pfn, order));
  return b;
}

/** bitmap's placement rule restated on a plain byte-per-page array: cyclic next fit by word from the hint. */
function refNextFit(free: Uint8Array, hint: number, order: number): number {
  const pages = free.length;
  const n = (pages + 31) >>> 5;
  const size = 1 << order;
  const fits = (p: number): boolean => {
    if (p + size > pages) return false;
    for (let q = p; q < p + size; q++) if (!free[q]) return false;
    return true;
  };
  if (order <= 5) {
    for (let i = 0; i < n; i++) {
      const w = (hint + i) % n;
      for (let b = 0; b < 32; b += size) if (fits(w * 32 + b)) return w * 32 + b;
    }
  } else {
    const nw = size >>> 5;
    const groups = Math.floor(n / nw);
    let g0 = Math.floor(hint / nw);
    if (g0 >= groups) g0 = 0;
    for (let i = 0; i < groups; i++) {
      const p = ((g0 + i) % groups) * size;
      if (fits(p)) return p;
    }
  }
  return -1;
}

describe('bitmap', () => {
  it('a new instance has nothing free until the hand-over frees memory', () => {
    const b = make(100, []);
    expect(b.freePages()).toBe(0);
    expect(b.alloc(0, 0)).toBe(-1);
    b.free(64, 5);
    expect(b.freePages()).toBe(32);
    b.check();
  });

  it('serves an order-3 request only from an 8-aligned fully free group in a fragmented bitmap', () => {
    // free runs: [1,8) misaligned 7 pages, [9,17) 8 pages but misaligned, [24,32) aligned
    const b = make(64, [[1, 8], [9, 17], [24, 32]]);
    expect(b.alloc(3, 0)).toBe(24);
    expect(b.freePages()).toBe(15);
    // the rest holds no aligned 8-page group: OOM is -1 and changes nothing
    expect(b.alloc(3, 0)).toBe(-1);
    expect(b.freePages()).toBe(15);
    expect(b.alloc(2, 0)).toBe(4); // [4,8) is the first aligned 4-group from the hint (word 0 after wrap)
    b.check();
  });

  it('the next-fit hint starts after the last allocation and wraps around to the zone start', () => {
    // only [0, 64) handed over; words 2 and 3 (pages 64..127) are a never-freed hole
    const steps = newSteps();
    const b = make(128, [[0, 64]], steps);
    expect(b.alloc(5, 0)).toBe(0);
    expect(b.alloc(5, 0)).toBe(32);
    expect(b.hintWord).toBe(2);
    b.free(0, 0);
    const before = steps[STEP_WORD]!;
    expect(b.alloc(0, 0)).toBe(0); // words 2, 3 scanned, then wrap to word 0
    expect(steps[STEP_WORD]! - before).toBe(3);
    expect(b.hintWord).toBe(0);
  });

  it('next fit resumes after the previous allocation rather than at the lowest free page', () => {
    const b = make(256, [[0, 256]]);
    expect(b.alloc(0, 0)).toBe(0);
    expect(b.alloc(5, 0)).toBe(32); // hint word 0 has no full word-aligned 32-group (page 0 used)
    b.free(0, 0);
    expect(b.alloc(0, 0)).toBe(64); // hint is word 2, page 0 is behind it
  });

  it('large orders need whole free words and stay naturally aligned', () => {
    const b = make(4096, [[0, 4096]]);
    expect(b.alloc(0, 0)).toBe(0);
    expect(b.alloc(10, 0)).toBe(1024);
    expect(b.alloc(7, 0)).toBe(2048);
    expect(b.alloc(6, 0)).toBe(2176);
    b.check();
    b.free(1024, 10);
    expect(b.freePages()).toBe(4096 - 1 - 128 - 64);
  });

  it('freeArea decomposes maximal free runs into aligned blocks as Unmovable', () => {
    const b = make(64, [[3, 20]]);
    const out = new Float64Array(4 * NR_ORDERS);
    b.freeArea(out);
    // [3,20) → 3(0) 4(2) 8(3) 16(2)
    expect(Array.from(out.slice(0, 4))).toEqual([1, 0, 2, 1]);
    expect(out.slice(NR_ORDERS).every((x) => x === 0)).toBe(true);
    const pb = new Float64Array(4);
    b.pageblockTypes(pb);
    expect(Array.from(pb)).toEqual([1, 0, 0, 0]);
  });

  it('counts a call per alloc and free and metadata is one bit per page', () => {
    const steps = newSteps();
    const b = new BitmapStrategy({ pages: 1 << 20, steps });
    b.free(0, 10);
    b.alloc(0, 0);
    expect(steps[STEP_CALL]).toBe(2);
    expect(b.metadataBytes()).toBe((1 << 20) / 8);
  });

  it('rejects a variant', () => {
    expect(() => new BitmapStrategy({ pages: 64, steps: newSteps(), variant: 'x' })).toThrow(AllocbenchError);
  });

  it('matches a byte-per-page reference model: same placements, same free-page set, -1 only when nothing fits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 700 })), { maxLength: 6 }),
        fc.array(fc.oneof(
          fc.record({ a: fc.constantFrom(0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 9, 10) }),
          fc.record({ f: fc.nat() }),
        ), { maxLength: 120 }),
        (pages, ranges, ops) => {
          const handed = new Uint8Array(pages);
          for (const [s0, len] of ranges) handed.fill(1, s0 % pages, Math.min(pages, (s0 % pages) + len));
          const runs: Array<[number, number]> = [];
          for (let p = 0; p < pages;) {
            if (!handed[p]) { p++; continue; }
            let e = p;
            while (e < pages && handed[e]) e++;
            runs.push([p, e]);
            p = e;
          }
          const b = make(pages, runs);
          const ref = handed.slice();
          const n = (pages + 31) >>> 5;
          let hint = 0;
          const live: Array<[number, number]> = [];
          for (const op of ops) {
            if ('a' in op) {
              const want = refNextFit(ref, hint, op.a);
              const got = b.alloc(op.a, 0);
              expect(got).toBe(want);
              if (got >= 0) {
                ref.fill(0, got, got + (1 << op.a));
                live.push([got, op.a]);
                hint = (got + (1 << op.a)) >>> 5;
                if (hint >= n) hint = 0;
              }
            } else if (live.length > 0) {
              const [p, o] = live.splice(op.f % live.length, 1)[0]!;
              b.free(p, o);
              ref.fill(1, p, p + (1 << o));
            }
          }
          expect(Array.from(b.freeMap())).toEqual(Array.from(ref));
          b.check();
        },
      ),
      { numRuns: 150 },
    );
  });
});
