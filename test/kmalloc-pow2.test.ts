import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { __GFP_COMP, __GFP_RECLAIMABLE, GFP_KERNEL, gfpMigratetype, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { bucketIndex, createKmallocPow2 } from '../src/object/kmalloc-pow2.js';
import { createSlub } from '../src/object/slub.js';
import type { ObjectStrategy } from '../src/object/strategy.js';
import { FakePages } from './support/fake-pages.js';

function make(variant?: string, pages = new FakePages()): { s: ObjectStrategy; pages: FakePages } {
  return { s: createKmallocPow2({ pages, steps: newSteps(), cpus: 2, variant }), pages };
}

describe('kmalloc-pow2 buckets', () => {
  it('rounds every request to a power of two, at least 16 bytes', () => {
    expect([1, 16, 17, 32, 33, 100, 4096, 4097, 8192].map(bucketIndex)).toEqual([4, 4, 5, 5, 6, 7, 12, 13, 13]);
    const { s } = make();
    s.alloc(0, GFP_KERNEL);
    s.alloc(17, GFP_KERNEL);
    s.alloc(96, GFP_KERNEL);
    s.alloc(5000, GFP_KERNEL);
    expect(s.usage().bytesReserved).toBe(16 + 32 + 128 + 8192);
    s.check();
  });

  it('carves a page into the bucket free list from the top down', () => {
    const { s, pages } = make();
    const a = [0, 1, 2].map(() => s.alloc(64, GFP_KERNEL));
    const base = pages.allocs[0]!.pfn * 4096;
    expect(a).toEqual([base + 4096 - 64, base + 4096 - 128, base + 4096 - 192]);
    expect(pages.allocs[0]!.order).toBe(0);
  });

  it('appends freed blocks at the tail of the list (4.4BSD kb_last)', () => {
    const { s, pages } = make();
    const a = s.alloc(512, GFP_KERNEL);
    const b = s.alloc(512, GFP_KERNEL);
    s.free(a);
    const base = pages.allocs[0]!.pfn * 4096;
    // 6 blocks left below b; a comes back only after them
    const next: number[] = [];
    for (let i = 0; i < 7; i++) next.push(s.alloc(512, GFP_KERNEL));
    expect(next.slice(0, 6)).toEqual([5, 4, 3, 2, 1, 0].map((i) => base + i * 512));
    expect(next[6]).toBe(a);
    expect(b).toBe(base + 6 * 512);
    expect(pages.allocs.length).toBe(1);
  });

  it('8 KiB blocks come from a 2-page chunk; larger requests straight from pages with order rounding', () => {
    const { s, pages } = make();
    s.alloc(4097, GFP_KERNEL);
    expect(pages.allocs[0]).toMatchObject({ order: 1 });
    const big = s.alloc(8193, GFP_KERNEL | __GFP_RECLAIMABLE);
    expect(pages.allocs[1]).toMatchObject({ order: 2 });
    expect(pages.allocs[1]!.gfp & __GFP_COMP).toBe(__GFP_COMP);
    expect(gfpMigratetype(pages.allocs[1]!.gfp)).toBe(MIGRATE_RECLAIMABLE);
    expect(s.usage().pagesHeld).toBe(6);
    s.free(big);
    expect(pages.frees).toEqual([{ pfn: pages.allocs[1]!.pfn, order: 2 }]);
    expect(s.usage().pagesHeld).toBe(2);
    s.check();
  });

  it('bucket pages are unmovable whatever the caller asked for (one bucket serves every caller)', () => {
    const { s, pages } = make();
    s.alloc(100, GFP_KERNEL | __GFP_RECLAIMABLE);
    expect(gfpMigratetype(pages.allocs[0]!.gfp)).toBe(MIGRATE_UNMOVABLE);
  });

  it('never gives bucket pages back, as 4.4BSD; the :return variant gives back empty chunks', () => {
    for (const [variant, after] of [[undefined, 16], ['return', 0]] as const) {
      const { s } = make(variant);
      const a: number[] = [];
      for (let i = 0; i < 64 * 16; i++) a.push(s.alloc(64, GFP_KERNEL));
      expect(s.usage().pagesHeld).toBe(16);
      for (const x of a) s.free(x);
      s.check();
      expect(s.usage().pagesHeld, String(variant)).toBe(after);
      expect(s.usage().bytesReserved).toBe(0);
      // the held pages are reused without new page allocations
      for (let i = 0; i < 64; i++) s.alloc(64, GFP_KERNEL);
      s.check();
      expect(s.usage().pagesHeld).toBe(variant === undefined ? 16 : 1);
    }
  });

  it('named-cache requests are plain power-of-two mallocs of the cache size', () => {
    const { s } = make();
    s.createCache(3, { name: 'dentry', size: 192, align: 8, flags: 0 });
    const a = s.cacheAlloc(3, GFP_KERNEL);
    expect(s.usage().bytesReserved).toBe(256);
    s.cacheFree(3, a);
    expect(s.usage().bytesReserved).toBe(0);
    expect(s.cacheAlloc(4, GFP_KERNEL)).toBe(-1);
    expect(s.caches().find((c) => c.name === 'kmalloc-pow2-256')).toMatchObject({ numObjs: 16, activeObjs: 0, numSlabs: 1 });
  });

  it('realloc stays in place within the block, else moves', () => {
    const { s } = make();
    const a = s.alloc(40, GFP_KERNEL);
    expect(s.realloc(a, 64, GFP_KERNEL)).toBe(a);
    const b = s.realloc(a, 65, GFP_KERNEL);
    expect(b).not.toBe(a);
    expect(s.usage().bytesReserved).toBe(128);
    s.check();
  });

  it('returns -1 when out of memory and stays consistent', () => {
    const { s } = make(undefined, new FakePages(1 << 15, 1));
    expect(s.alloc(2048, GFP_KERNEL)).toBeGreaterThanOrEqual(0);
    expect(s.alloc(2048, GFP_KERNEL)).toBeGreaterThanOrEqual(0);
    expect(s.alloc(2048, GFP_KERNEL)).toBe(-1);
    expect(s.alloc(20000, GFP_KERNEL)).toBe(-1);
    expect(s.counters().oom).toBe(2);
    s.check();
  });
});

describe('internal waste, analytically', () => {
  it('sizes uniform over (2^k, 2^(k+1)] lose 25% ± 2 points to power-of-two rounding', () => {
    fc.assert(fc.property(fc.integer({ min: 5, max: 11 }), fc.integer({ min: 1, max: 1 << 30 }), (k, seed) => {
      const { s } = make();
      let requested = 0;
      let x = seed;
      for (let i = 0; i < 2000; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const size = (1 << k) + 1 + (x % (1 << k));
        requested += size;
        s.alloc(size, GFP_KERNEL);
      }
      const lost = 1 - requested / s.usage().bytesReserved;
      expect(lost).toBeGreaterThan(0.23);
      expect(lost).toBeLessThan(0.27);
    }), { numRuns: 20 });
  });

  it('slub with an exact-size named cache reserves exactly what was requested', () => {
    const pages = new FakePages();
    const s = createSlub({ pages, steps: newSteps(), cpus: 2 });
    s.createCache(0, { name: 'exact', size: 176, align: 0, flags: 0 });
    for (let i = 0; i < 1000; i++) s.cacheAlloc(0, GFP_KERNEL);
    const u = s.usage();
    expect(u.bytesReserved).toBe(176 * 1000);
    // 23 objects per page: the rest is the 48-byte leftover per slab and the empty slots of the last
    const slabs = Math.ceil(1000 / 23);
    expect(u.pagesHeld).toBe(slabs);
    expect(u.pagesHeld * 4096 - u.bytesReserved).toBe(slabs * (4096 % 176) + (slabs * 23 - 1000) * 176);
  });
});
