import { describe, it, expect } from 'vitest';
import { FreelistStrategy, extentCapacity } from '../src/page/freelist.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { newSteps, STEP_LIST } from '../src/machine/steps.js';
import { AllocbenchError } from '../src/errors.js';

/**
 * The index of FreelistStrategy (bitmaps, hierarchical bitsets, Fenwick counts) against the plain
 * model it stands for: an address-ordered array of extents walked linearly. Same blocks and the
 * same STEP_LIST charges, on zones large enough for three bitset levels (> 1024 chunks).
 */
class ListModel {
  ext: Array<[number, number]> = []; // [start, len], sorted, coalesced
  rover = 0;
  steps = 0;
  constructor(readonly pages: number, readonly policy: string) {}

  private fits(i: number, k: number): boolean {
    const [s, len] = this.ext[i]!;
    return extentCapacity(s, len) >= k;
  }

  alloc(k: number): number {
    const z = 1 << k, n = this.ext.length;
    let i = -1, a = -1, visited = n;
    if (this.policy === 'first') {
      for (let j = 0; j < n; j++) if (this.fits(j, k)) { i = j; break; }
      if (i >= 0) visited = i + 1;
    } else if (this.policy === 'best') {
      let bestLen = Infinity;
      for (let j = 0; j < n; j++) {
        if (!this.fits(j, k)) continue;
        const len = this.ext[j]![1];
        if (len < bestLen) { i = j; bestLen = len; }
        if (len === z) { visited = j + 1; break; }
      }
    } else {
      const r = this.rover;
      let from = this.ext.filter(([s]) => s < r).length;
      const p = from - 1;
      if (p >= 0 && this.ext[p]![0] + this.ext[p]![1] > r) {
        from--;
        const ar = (r + z - 1) & -z;
        if (ar + z <= this.ext[p]![0] + this.ext[p]![1]) { i = p; a = ar; visited = 1; }
      }
      if (i < 0) {
        for (let j = 0; j < n; j++) if (this.ext[j]![0] >= r && this.fits(j, k)) { i = j; break; }
        if (i >= 0) visited = i - from + 1;
        else {
          for (let j = 0; j < n; j++) if (this.fits(j, k)) { i = j; break; }
          if (i >= 0) visited = n - from + i + 1;
        }
      }
    }
    this.steps += visited;
    if (i < 0) return -1;
    const [s, len] = this.ext[i]!;
    if (a < 0) a = (s + z - 1) & -z;
    const parts: Array<[number, number]> = [];
    if (a > s) parts.push([s, a - s]); else this.steps++;
    if (s + len > a + z) { parts.push([a + z, s + len - a - z]); this.steps++; }
    this.ext.splice(i, 1, ...parts);
    if (this.policy === 'next') this.rover = a + z >= this.pages ? 0 : a + z;
    return a;
  }

  free(pfn: number, k: number): void {
    let s = pfn, e = pfn + (1 << k);
    const li = this.ext.findIndex(([x, len]) => x + len === pfn);
    const ri = this.ext.findIndex(([x]) => x === e);
    if (ri >= 0) { e += this.ext[ri]![1]; this.ext.splice(ri, 1); this.steps++; }
    if (li >= 0) { s = this.ext[li]![0]; this.ext[li] = [s, e - s]; } else {
      let j = 0;
      while (j < this.ext.length && this.ext[j]![0] < s) j++;
      this.ext.splice(j, 0, [s, e - s]);
      this.steps++;
    }
  }
}

function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

describe('freelist index matches the linear address-ordered list', () => {
  for (const policy of ['first', 'best', 'next']) {
    it(`${policy} fit: same blocks and list steps on a 3-level zone with holes`, () => {
      const pages = 70_000;
      const steps = newSteps();
      const f = new FreelistStrategy({ pages, steps, variant: policy });
      const m = new ListModel(pages, policy);
      const r = rng(12345);
      // hand over a few ranges around never-freed holes
      for (const [a, b] of [[3, 20_000], [20_001, 45_000], [45_700, 69_999]] as const) {
        forEachAlignedBlock(a, b, (pfn, order) => { f.free(pfn, order); m.free(pfn, order); });
      }
      expect(steps[STEP_LIST]).toBe(m.steps);
      const live: Array<[number, number]> = [];
      for (let e = 0; e < 6000; e++) {
        const u = r();
        if (live.length === 0 || u < 0.55) {
          const k = u < 0.02 ? 10 : u < 0.05 ? 6 : Math.floor(r() * 4);
          const p = f.alloc(k, 0);
          expect(p).toBe(m.alloc(k));
          if (p >= 0) live.push([p, k]);
        } else {
          const [p, k] = live.splice(Math.floor(r() * live.length), 1)[0]!;
          f.free(p, k);
          m.free(p, k);
        }
        expect(steps[STEP_LIST]).toBe(m.steps);
        if (e % 1000 === 0) f.check();
      }
      const got: Array<[number, number]> = [];
      f.forEachExtent((s, len) => got.push([s, len]));
      expect(got).toEqual(m.ext);
      f.check();
    });
  }

  it('refuses a zone whose extent lengths would not fit the packed start tag (2^27 pages)', () => {
    expect(() => new FreelistStrategy({ pages: 1 << 27, steps: newSteps() })).toThrow(AllocbenchError);
  });
});
