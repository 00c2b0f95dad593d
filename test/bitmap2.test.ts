import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Bitmap2Strategy } from '../src/page/bitmap2.js';
import { BitmapStrategy } from '../src/page/bitmap.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { newSteps, STEP_WORD } from '../src/machine/steps.js';
import { NR_ORDERS } from '../src/page/strategy.js';

function make(pages: number, ranges: Array<[number, number]>, steps = newSteps()): Bitmap2Strategy {
  const b = new Bitmap2Strategy({ pages, steps });
  for (const [s, e] of ranges) forEachAlignedBlock(s, e, (pfn, order) => b.free(pfn, order));
  return b;
}

/** A 64 Ki-page zone (2 super-blocks) fully allocated as order-0 pages. */
function full(steps = newSteps()): Bitmap2Strategy {
  const b = make(65536, [[0, 65536]], steps);
  for (let i = 0; i < 65536; i++) b.alloc(0, 0);
  expect(b.freePages()).toBe(0);
  return b;
}

describe('bitmap2', () => {
  it('keeps the block and super-block summaries exact after order-0 frees build up an order-3 group', () => {
    const steps = newSteps();
    const b = full(steps);
    // free 8 aligned pages one by one far from the hint: the order-3 count must follow the bitmap
    for (let p = 40000; p < 40008; p++) b.free(p, 0);
    b.check();
    const before = steps[STEP_WORD]!;
    expect(b.alloc(3, 0)).toBe(40000);
    // hint is word 0: summaries skip everything but the one block; a plain scan would read 1250 words
    expect(steps[STEP_WORD]! - before).toBeLessThan(40);
    b.check();
  });

  it('an order-0 search skips full blocks and super-blocks but finds a lone free page', () => {
    const steps = newSteps();
    const b = full(steps);
    b.free(65535, 0);
    const before = steps[STEP_WORD]!;
    expect(b.alloc(0, 0)).toBe(65535);
    // the hint's word + 2 super-block sums + 64 block sums + 16 words of the last block; a plain scan reads 2048 words
    expect(steps[STEP_WORD]! - before).toBeLessThanOrEqual(1 + 2 + 64 + 16);
    expect(b.alloc(0, 0)).toBe(-1);
    b.check();
  });

  it('a free of a large block updates every block it spans', () => {
    const b = full();
    b.free(2048, 10); // one order-10 free spans two 512-page blocks
    b.check();
    expect(b.alloc(9, 0)).toBe(2048);
    expect(b.alloc(9, 0)).toBe(2560);
    expect(b.alloc(9, 0)).toBe(-1);
    b.check();
  });

  it('order-3 alignment holds in a fragmented block, and the summary is not fooled by misaligned runs', () => {
    const b = make(1024, [[1, 8], [9, 17], [24, 32]]);
    b.check();
    expect(b.alloc(3, 0)).toBe(24);
    expect(b.alloc(3, 0)).toBe(-1);
    b.check();
  });

  it('the next-fit hint wraps around to the zone start', () => {
    const b = make(128, [[0, 64]]);
    expect(b.alloc(5, 0)).toBe(0);
    expect(b.alloc(5, 0)).toBe(32);
    b.free(0, 0);
    expect(b.alloc(0, 0)).toBe(0);
    expect(b.hintWord).toBe(0);
  });

  it('metadata stays near 1/8 byte per page', () => {
    const b = make(1 << 22, []);
    const perPage = b.metadataBytes() / (1 << 22);
    expect(perPage).toBeGreaterThan(0.125);
    expect(perPage).toBeLessThan(0.145);
  });

  it('makes exactly the placements bitmap makes and the same free-page set, with exact summaries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40000 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 20000 })), { maxLength: 6 }),
        fc.array(fc.oneof(
          fc.record({ a: fc.constantFrom(0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10) }),
          fc.record({ f: fc.nat() }),
        ), { maxLength: 200 }),
        (pages, ranges, ops) => {
          const handed = new Uint8Array(pages);
          for (const [s0, len] of ranges) handed.fill(1, s0 % pages, Math.min(pages, (s0 % pages) + len));
          const b2 = new Bitmap2Strategy({ pages, steps: newSteps() });
          const b1 = new BitmapStrategy({ pages, steps: newSteps() });
          for (let p = 0; p < pages;) {
            if (!handed[p]) { p++; continue; }
            let e = p;
            while (e < pages && handed[e]) e++;
            forEachAlignedBlock(p, e, (pfn, order) => { b1.free(pfn, order); b2.free(pfn, order); });
            p = e;
          }
          const live: Array<[number, number]> = [];
          for (const op of ops) {
            if ('a' in op) {
              const got = b2.alloc(op.a, 0);
              expect(got).toBe(b1.alloc(op.a, 0));
              if (got >= 0) live.push([got, op.a]);
            } else if (live.length > 0) {
              const [p, o] = live.splice(op.f % live.length, 1)[0]!;
              b1.free(p, o);
              b2.free(p, o);
            }
          }
          b2.check();
          expect(b2.freePages()).toBe(b1.freePages());
          expect(Buffer.from(b2.freeMap()).equals(Buffer.from(b1.freeMap()))).toBe(true);
          const a1 = new Float64Array(4 * NR_ORDERS), a2 = new Float64Array(4 * NR_ORDERS);
          b1.freeArea(a1);
          b2.freeArea(a2);
          expect(Array.from(a2)).toEqual(Array.from(a1));
        },
      ),
      { numRuns: 100 },
    );
  });
});
