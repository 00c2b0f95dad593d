import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { alignedFreeMask, freeOrderAround } from '../src/page/bitset.js';

/** The aligned free groups of 2^order bits of v, bit by bit. */
function refAlignedFreeMask(v: number, order: number): number {
  const size = 1 << order;
  let m = 0;
  for (let b = 0; b < 32; b += size) {
    let all = true;
    for (let q = b; q < b + size; q++) if (((v >>> q) & 1) === 0) all = false;
    if (all) m |= 1 << b;
  }
  return m;
}

/** The largest order k ≤ 5 whose aligned block of 2^k bits around bit b is all ones, bit by bit. */
function refFreeOrderAround(u: number, b: number): number {
  let best = -1;
  for (let k = 0; k <= 5; k++) {
    const start = b & ~((1 << k) - 1);
    let all = true;
    for (let q = start; q < start + (1 << k); q++) if (((u >>> q) & 1) === 0) all = false;
    if (all) best = k;
  }
  return best;
}

// words with long runs of ones and zeros, as a bitmap has them, and plain random ones
const word = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.tuple(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 32 })).map(([s, len]) => (len === 32 ? -1 : (((1 << len) - 1) << s) | 0)),
  fc.constantFrom(0, -1, 0x7fffffff, -2, 1, 0x80000000 | 0),
);

describe('bitset word tricks', () => {
  it('alignedFreeMask (every fold step, no loop) finds exactly the aligned all-ones groups', () => {
    fc.assert(fc.property(word, fc.integer({ min: 0, max: 5 }), (v, order) => {
      expect(alignedFreeMask(v, order) | 0).toBe(refAlignedFreeMask(v, order) | 0);
    }), { numRuns: 3000 });
  });

  it('freeOrderAround gives the largest aligned all-ones block around a set bit', () => {
    fc.assert(fc.property(word, fc.integer({ min: 0, max: 31 }), (w, b) => {
      const u = w | (1 << b);
      expect(freeOrderAround(u, b)).toBe(refFreeOrderAround(u, b));
    }), { numRuns: 3000 });
    expect(freeOrderAround(-1, 0)).toBe(5);
    expect(freeOrderAround(-1, 31)).toBe(5);
    expect(freeOrderAround(0x7fffffff, 0)).toBe(4); // bit 31 used: the low half is the largest block around bit 0
    expect(freeOrderAround(1, 0)).toBe(0);
  });
});
