import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PAGE_STRATEGIES } from '../src/page/registry.js';
import { countAlignedBlocks, forEachAlignedBlock } from '../src/machine/decompose.js';
import { MAX_ORDER, NR_ORDERS, type PageStrategy } from '../src/page/strategy.js';
import { MIGRATE_TYPES } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';

/**
 * One suite for every page-layer strategy in the registry: a zone with holes, memory arriving only
 * through the hand-over, random alloc/free sequences checked against a shadow page map.
 */
const PAGES = 8192;
/** handed-over ranges; everything else (holes, reserved, the zone's last pages) is never free */
const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 100], [130, 1029], [1624, 3000], [3072, 4000], [4096, 6144], [6200, 8000],
];

const BUDDY_LIKE = new Set(['buddy', 'buddy-mobility']);
const FREE = 1;
const USED = 2;

interface Zone {
  s: PageStrategy;
  shadow: Uint8Array; // 0 never handed over, 1 free, 2 allocated
  handed: number;
  maxBlocks: number;
}

function boot(name: string): Zone {
  const s = PAGE_STRATEGIES[name]!({ pages: PAGES, steps: newSteps() });
  const shadow = new Uint8Array(PAGES);
  let handed = 0;
  let maxBlocks = 0;
  for (const [a, b] of RANGES) {
    forEachAlignedBlock(a, b, (pfn, order) => {
      s.free(pfn, order);
      if (order === MAX_ORDER) maxBlocks++;
    });
    shadow.fill(FREE, a, b);
    handed += b - a;
  }
  return { s, shadow, handed, maxBlocks };
}

function freeAreaOf(s: PageStrategy): Float64Array {
  const out = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
  s.freeArea(out);
  return out;
}

function byOrder(area: Float64Array): number[] {
  const r = new Array<number>(NR_ORDERS).fill(0);
  for (let mt = 0; mt < MIGRATE_TYPES; mt++) for (let o = 0; o < NR_ORDERS; o++) r[o]! += area[mt * NR_ORDERS + o]!;
  return r;
}

function areaPages(area: Float64Array): number {
  let n = 0;
  for (let mt = 0; mt < MIGRATE_TYPES; mt++) for (let o = 0; o < NR_ORDERS; o++) n += area[mt * NR_ORDERS + o]! * (1 << o);
  return n;
}

/** The decomposition of the shadow's maximal free runs, as the buddy allocator would hold them. */
function shadowDecomposition(shadow: Uint8Array): number[] {
  const counts = new Float64Array(NR_ORDERS);
  let p = 0;
  while (p < shadow.length) {
    if (shadow[p] !== FREE) { p++; continue; }
    let e = p;
    while (e < shadow.length && shadow[e] === FREE) e++;
    countAlignedBlocks(p, e, counts);
    p = e;
  }
  return Array.from(counts);
}

/** Is there a naturally aligned run of 2^order free pages anywhere? (then alloc must not fail) */
function fits(shadow: Uint8Array, order: number): boolean {
  const size = 1 << order;
  for (let base = 0; base + size <= shadow.length; base += size) {
    let ok = true;
    for (let p = base; p < base + size; p++) if (shadow[p] !== FREE) { ok = false; break; }
    if (ok) return true;
  }
  return false;
}

function countFree(shadow: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < shadow.length; p++) if (shadow[p] === FREE) n++;
  return n;
}

type Cmd = { alloc: true; order: number; mt: number } | { alloc: false; pick: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ alloc: fc.constant(true as const), order: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_ORDER })), mt: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ alloc: fc.constant(false as const), pick: fc.nat() }) },
);

const names = Object.keys(PAGE_STRATEGIES);

describe.each(names)('page strategy %s conforms', (name) => {
  it('hand-over makes exactly the handed-over pages free, with consistent free_area', () => {
    const { s, shadow, handed, maxBlocks } = boot(name);
    expect(maxBlocks).toBe(2);
    s.check();
    expect(s.freePages()).toBe(handed);
    const area = freeAreaOf(s);
    expect(areaPages(area)).toBe(handed);
    if (BUDDY_LIKE.has(name)) expect(byOrder(area)).toEqual(shadowDecomposition(shadow));
  });

  it('keeps metadata within 16 bytes per page', () => {
    const { s } = boot(name);
    expect(s.metadataBytes()).toBeGreaterThan(0);
    expect(s.metadataBytes()).toBeLessThanOrEqual(16 * PAGES + 4096);
  });

  it('allocates every handed-over page and nothing else, then reports out of memory without changing state', () => {
    const { s, shadow, handed } = boot(name);
    let n = 0;
    for (;;) {
      const pfn = s.alloc(0, n % 3);
      if (pfn < 0) break;
      expect(shadow[pfn]).toBe(FREE);
      shadow[pfn] = USED;
      n++;
    }
    expect(n).toBe(handed);
    expect(s.freePages()).toBe(0);
    const before = freeAreaOf(s);
    expect(s.alloc(0, 1)).toBe(-1);
    expect(s.alloc(MAX_ORDER, 0)).toBe(-1);
    expect(Array.from(freeAreaOf(s))).toEqual(Array.from(before));
    s.check();
  });

  it('freeing every page of a fully split zone, in scrambled order, rebuilds all MAX_ORDER blocks', () => {
    const { s, handed, maxBlocks } = boot(name);
    const initial = byOrder(freeAreaOf(s));
    const pfns: number[] = [];
    for (let pfn = s.alloc(0, 0); pfn >= 0; pfn = s.alloc(0, pfns.length % 3)) pfns.push(pfn);
    expect(pfns.length).toBe(handed);
    // a fixed multiplicative permutation (7919 is prime, coprime with the count unless it divides it)
    const n = pfns.length;
    expect(n % 7919).not.toBe(0);
    for (let i = 0; i < n; i++) s.free(pfns[(i * 7919) % n]!, 0);
    s.check();
    expect(s.freePages()).toBe(handed);
    if (BUDDY_LIKE.has(name)) expect(byOrder(freeAreaOf(s))).toEqual(initial);
    let got = 0;
    while (s.alloc(MAX_ORDER, 1) >= 0) got++;
    expect(got).toBe(maxBlocks);
  });

  it('random alloc/free sequences keep blocks aligned, disjoint, out of holes, and restore everything when freed', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 150 }), (cmds) => {
        const z = boot(name);
        const { s, shadow } = z;
        const initialArea = freeAreaOf(s);
        const live: Array<[number, number]> = [];
        for (const c of cmds) {
          if (c.alloc) {
            const beforeFree = s.freePages();
            const beforeArea = freeAreaOf(s);
            const pfn = s.alloc(c.order, c.mt);
            if (pfn < 0) {
              expect(pfn).toBe(-1);
              // out of memory only when no aligned block of that size is free anywhere
              expect(fits(shadow, c.order)).toBe(false);
              expect(s.freePages()).toBe(beforeFree);
              expect(Array.from(freeAreaOf(s))).toEqual(Array.from(beforeArea));
            } else {
              expect(pfn % (1 << c.order)).toBe(0);
              expect(pfn + (1 << c.order)).toBeLessThanOrEqual(PAGES);
              for (let p = pfn; p < pfn + (1 << c.order); p++) {
                expect(shadow[p]).toBe(FREE); // not a hole, not already allocated
                shadow[p] = USED;
              }
              live.push([pfn, c.order]);
            }
          } else if (live.length > 0) {
            const i = c.pick % live.length;
            const [pfn, order] = live[i]!;
            live[i] = live[live.length - 1]!;
            live.pop();
            s.free(pfn, order);
            shadow.fill(FREE, pfn, pfn + (1 << order));
          }
          s.check();
          const area = freeAreaOf(s);
          expect(s.freePages()).toBe(countFree(shadow));
          expect(areaPages(area)).toBe(s.freePages());
          // buddy lists merge fully; the others keep per-order counts of their maximal aligned free blocks
          expect(byOrder(area)).toEqual(shadowDecomposition(shadow));
        }
        for (const [pfn, order] of live) s.free(pfn, order);
        s.check();
        expect(s.freePages()).toBe(z.handed);
        if (name === 'buddy') expect(Array.from(freeAreaOf(s))).toEqual(Array.from(initialArea));
        if (BUDDY_LIKE.has(name)) expect(byOrder(freeAreaOf(s))).toEqual(byOrder(initialArea));
        // the free page set is whole again: every MAX_ORDER block of the hand-over can be had back
        let got = 0;
        while (s.alloc(MAX_ORDER, got % 3) >= 0) got++;
        expect(got).toBe(z.maxBlocks);
      }),
      { numRuns: 25, seed: 20240601 },
    );
  });

  it('reports pageblock types covering the whole zone', () => {
    const { s } = boot(name);
    const out = new Float64Array(MIGRATE_TYPES);
    s.pageblockTypes(out);
    expect(out.reduce((a, b) => a + b, 0)).toBe(Math.ceil(PAGES / 512));
  });
});
