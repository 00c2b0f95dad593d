import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  __GFP_COMP, __GFP_DMA, __GFP_MOVABLE, __GFP_RECLAIMABLE, GFP_KERNEL, gfpMigratetype, MIGRATE_RECLAIMABLE,
  MIGRATE_UNMOVABLE,
} from '../src/machine/gfp.js';
import { newSteps, STEP_CALL, STEP_OBJ_FAST, STEP_OBJ_SLOW } from '../src/machine/steps.js';
import { formatSlabinfo, formatSlabinfoLine, parseSlabinfo } from '../src/object/slabinfo.js';
import { createSlub } from '../src/object/slub.js';
import type { ObjectStrategy } from '../src/object/strategy.js';
import { FakePages } from './support/fake-pages.js';
import { CACHE_RECLAIMABLE } from '../src/trace/ops.js';
import { TraceFormatError } from '../src/errors.js';

function make(pages = new FakePages(1 << 14), cpus = 2, variant?: string): { s: ObjectStrategy; pages: FakePages; steps: Float64Array } {
  const steps = newSteps();
  return { s: createSlub({ pages, steps, cpus, ...(variant === undefined ? {} : { variant }) }), pages, steps };
}
/** CONFIG_SLUB_CPU_PARTIAL=y: per-CPU partial lists (the default) */
const makeCpuPartial = (): ReturnType<typeof make> => make(undefined, 2, 'cpu-partial=on');
/** CONFIG_SLUB_CPU_PARTIAL=n: full slabs made partial go straight to the node partial list */
const makeNodeOnly = (): ReturnType<typeof make> => make(undefined, 2, 'cpu-partial=off');

const stat = (s: ObjectStrategy, name: string) => s.caches().find((c) => c.name === name)!;

describe('slub kmalloc', () => {
  it('rounds requests to the kmalloc cache sizes', () => {
    const { s } = make();
    const sizes = [1, 8, 9, 24, 65, 96, 100, 129, 200, 1000, 5000, 8192];
    const want = [8, 8, 16, 32, 96, 96, 128, 192, 256, 1024, 8192, 8192];
    let total = 0;
    for (let i = 0; i < sizes.length; i++) {
      expect(s.alloc(sizes[i]!, GFP_KERNEL)).toBeGreaterThanOrEqual(0);
      total += want[i]!;
      expect(s.usage().bytesReserved, `size ${sizes[i]}`).toBe(total);
    }
    s.check();
  });

  it('hands out a new slab in address order and takes pages with the cache geometry', () => {
    const { s, pages } = make();
    const a = [0, 1, 2].map(() => s.alloc(8, GFP_KERNEL));
    const pfn = pages.allocs[0]!.pfn;
    expect(a).toEqual([pfn * 4096, pfn * 4096 + 8, pfn * 4096 + 16]);
    s.alloc(2048, GFP_KERNEL); // kmalloc-2k: 16 objects in 8 pages
    expect(pages.allocs[1]!.order).toBe(3);
    expect(stat(s, 'kmalloc-2k')).toMatchObject({ objperslab: 16, pagesperslab: 8, numObjs: 16, numSlabs: 1 });
    expect(s.usage().pagesHeld).toBe(9);
  });

  it('slab pages are unmovable GFP_KERNEL, compound above order 0; the caller mobility bits are stripped', () => {
    const { s, pages } = make();
    s.alloc(16, GFP_KERNEL | __GFP_MOVABLE);
    s.alloc(1024, GFP_KERNEL);
    expect(gfpMigratetype(pages.allocs[0]!.gfp)).toBe(MIGRATE_UNMOVABLE);
    expect(pages.allocs[0]!.gfp & __GFP_COMP).toBe(0);
    expect(pages.allocs[1]!.order).toBe(2);
    expect(pages.allocs[1]!.gfp & __GFP_COMP).toBe(__GFP_COMP);
    expect(gfpMigratetype(pages.allocs[1]!.gfp)).toBe(MIGRATE_UNMOVABLE);
  });

  it('__GFP_RECLAIMABLE requests go to kmalloc-rcl-* on reclaimable pages, __GFP_DMA to dma-kmalloc-*', () => {
    const { s, pages } = make();
    s.alloc(100, GFP_KERNEL | __GFP_RECLAIMABLE);
    expect(stat(s, 'kmalloc-rcl-128').numObjs).toBe(32);
    expect(stat(s, 'kmalloc-128').numObjs).toBe(0);
    expect(gfpMigratetype(pages.allocs[0]!.gfp)).toBe(MIGRATE_RECLAIMABLE);
    s.alloc(100, GFP_KERNEL | __GFP_DMA);
    expect(stat(s, 'dma-kmalloc-128').numObjs).toBe(32);
    expect(pages.allocs[1]!.gfp & __GFP_DMA).toBe(__GFP_DMA);
  });

  it('kmalloc above 8 KiB is a compound page block of get_order(size), freed straight back', () => {
    const { s, pages } = make();
    const a = s.alloc(8193, GFP_KERNEL | __GFP_RECLAIMABLE);
    expect(pages.allocs[0]).toMatchObject({ order: 2 });
    expect(pages.allocs[0]!.gfp & __GFP_COMP).toBe(__GFP_COMP);
    expect(gfpMigratetype(pages.allocs[0]!.gfp)).toBe(MIGRATE_RECLAIMABLE);
    expect(a).toBe(pages.allocs[0]!.pfn * 4096);
    expect(s.usage()).toEqual({ bytesReserved: 16384, pagesHeld: 4 });
    s.check();
    s.free(a);
    expect(pages.frees).toEqual([{ pfn: pages.allocs[0]!.pfn, order: 2 }]);
    expect(s.usage()).toEqual({ bytesReserved: 0, pagesHeld: 0 });
    s.check();
  });

  it('counts fast and slow paths', () => {
    const { s, steps } = make();
    const a = s.alloc(64, GFP_KERNEL); // new slab: slow
    const b = s.alloc(64, GFP_KERNEL); // cpu slab: fast
    s.free(b); // cpu slab: fast
    s.free(a);
    expect(steps[STEP_CALL]).toBe(4);
    expect(steps[STEP_OBJ_SLOW]).toBe(1);
    expect(steps[STEP_OBJ_FAST]).toBe(3);
  });
});

describe('slub slab lists', () => {
  it('without per-CPU partial lists, keeps min_partial empty slabs on the partial list and discards the rest', () => {
    const { s, pages } = makeNodeOnly();
    const objs: number[] = [];
    for (let i = 0; i < 512 * 10; i++) objs.push(s.alloc(8, GFP_KERNEL));
    expect(s.usage().pagesHeld).toBe(10);
    for (const a of objs) s.free(a);
    // kmalloc-8: min_partial = max(5, ilog2(8) / 2) = 5. __slab_free() discards an empty slab when
    // n->nr_partial >= min_partial, and nr_partial counts the slab itself, so 4 empty slabs stay on
    // the partial list, plus the (empty) cpu slab
    expect(s.usage().pagesHeld).toBe(5);
    expect(pages.frees.length).toBe(5);
    expect(stat(s, 'kmalloc-8')).toMatchObject({ numSlabs: 5, numObjs: 2560, activeObjs: 512 });
    expect(s.counters().partial_slabs).toBe(4);
    s.check();
  });

  it('without per-CPU partial lists, a free into a full slab puts it on the node partial list, which the next refill uses before new pages', () => {
    const { s, pages } = makeNodeOnly();
    const first: number[] = [];
    for (let i = 0; i < 16; i++) first.push(s.alloc(256, GFP_KERNEL)); // slab A full
    s.alloc(256, GFP_KERNEL); // slab B is the cpu slab now
    s.free(first[5]!); // A: full → partial (tail)
    expect(s.counters().partial_slabs).toBe(1);
    for (let i = 1; i < 16; i++) s.alloc(256, GFP_KERNEL); // fill B
    const again = s.alloc(256, GFP_KERNEL); // B exhausted: take A from the partial list
    expect(again).toBe(first[5]);
    expect(pages.allocs.length).toBe(2);
    expect(s.counters().partial_taken).toBe(1);
    s.check();
  });

  it('a free into a full slab puts it on the freeing CPU\'s partial list, which the next refill takes first', () => {
    const { s, pages } = makeCpuPartial();
    const first: number[] = [];
    for (let i = 0; i < 16; i++) first.push(s.alloc(256, GFP_KERNEL)); // slab A full
    s.alloc(256, GFP_KERNEL); // slab B is the cpu slab now
    s.free(first[5]!); // A: full → this CPU's partial list, not the node's
    expect(s.counters()).toMatchObject({ partial_slabs: 0, slabs_cpu_partial: 1 });
    for (let i = 1; i < 16; i++) s.alloc(256, GFP_KERNEL); // fill B
    expect(s.alloc(256, GFP_KERNEL)).toBe(first[5]); // B exhausted: A from the CPU's list
    expect(pages.allocs.length).toBe(2);
    expect(s.counters()).toMatchObject({ cpu_partial_alloc: 1, partial_taken: 0, slabs_cpu_partial: 0 });
    s.check();
  });

  it('a CPU\'s partial list at cpu_partial_slabs goes to the node, its empty slabs past min_partial discarded in one burst', () => {
    const { s, pages } = makeCpuPartial();
    // kmalloc-256: 16 objects per order-0 slab, cpu_partial_slabs = ceil(2 * 52 / 16) = 7, min_partial 5
    const objs: number[] = [];
    for (let i = 0; i < 16 * 9; i++) objs.push(s.alloc(256, GFP_KERNEL));
    const slabPfn = pages.allocs.map((a) => a.pfn); // S1..S9, S9 the cpu slab
    for (let i = 0; i < 16 * 7; i++) s.free(objs[i]!); // S1..S7 onto the CPU's list, emptied there
    expect(pages.frees.length).toBe(0);
    expect(s.counters()).toMatchObject({ slabs_cpu_partial: 7, partial_slabs: 0 });
    s.free(objs[16 * 7]!); // S8's first free: the list is full, so S7..S1 go to the node first
    // the walk from the head: S7..S3 fill the node list to min_partial, S2 and S1 are discarded,
    // the last met first
    expect(pages.frees.map((f) => f.pfn)).toEqual([slabPfn[0], slabPfn[1]]);
    expect(s.counters()).toMatchObject({ cpu_partial_drain: 1, slabs_cpu_partial: 1, partial_slabs: 5 });
    s.check();
    // a slab on a CPU's list stays there when it empties
    for (let i = 16 * 7 + 1; i < 16 * 8; i++) s.free(objs[i]!);
    expect(pages.frees.length).toBe(2);
    s.check();
  });

  it('a refill from the node partial list moves more than half of cpu_partial_slabs onto the CPU\'s list', () => {
    const { s } = makeCpuPartial();
    const objs: number[] = [];
    for (let i = 0; i < 16 * 9; i++) objs.push(s.alloc(256, GFP_KERNEL));
    for (let k = 0; k < 8; k++) s.free(objs[16 * k]!); // one free in each of S1..S8: S8 drains S7..S1 to the node
    expect(s.counters()).toMatchObject({ partial_slabs: 7, slabs_cpu_partial: 1 });
    s.alloc(256, GFP_KERNEL); // S9 exhausted: S8 from the CPU's list
    s.alloc(256, GFP_KERNEL); // S8 exhausted: the node list's head, then 4 more (> 7 / 2) onto the CPU's list
    expect(s.counters()).toMatchObject({ partial_taken: 1, partial_slabs: 2, slabs_cpu_partial: 4 });
    s.check();
  });

  it('refuses an unknown option', () => {
    expect(() => make(undefined, 2, 'cpu-partial=maybe')).toThrow(/unknown option/);
  });

  it('has per-CPU partial lists by default (CONFIG_SLUB_CPU_PARTIAL=y, as Debian builds it)', () => {
    const [on, off] = [make(), makeNodeOnly()].map(({ s }) => {
      const first: number[] = [];
      for (let i = 0; i < 16; i++) first.push(s.alloc(256, GFP_KERNEL)); // slab A full
      s.alloc(256, GFP_KERNEL); // slab B is the cpu slab now
      s.free(first[5]!); // A: full → partial, on the CPU's list or the node's
      return s.counters();
    });
    expect(on).toMatchObject({ slabs_cpu_partial: 1, partial_slabs: 0 });
    expect(off).toMatchObject({ partial_slabs: 1 });
    expect(off!.slabs_cpu_partial).toBeUndefined();
  });

  it('reuses the most recently freed object first (LIFO free list)', () => {
    const { s } = make();
    const a = s.alloc(32, GFP_KERNEL);
    const b = s.alloc(32, GFP_KERNEL);
    s.free(a);
    s.free(b);
    expect(s.alloc(32, GFP_KERNEL)).toBe(b);
    expect(s.alloc(32, GFP_KERNEL)).toBe(a);
  });

  it('falls back to the minimum order when the preferred slab order cannot be had', () => {
    const pages = new FakePages(1 << 14);
    pages.failOrderAbove = 0;
    const { s } = make(pages);
    const a: number[] = [];
    for (let i = 0; i < 5; i++) a.push(s.alloc(1024, GFP_KERNEL));
    // kmalloc-1k prefers order 2 (16 objects); s->min is order 0 with 4 objects
    expect(pages.allocs.map((x) => x.order)).toEqual([0, 0]);
    expect(stat(s, 'kmalloc-1k')).toMatchObject({ numObjs: 8, numSlabs: 2, objperslab: 16, pagesperslab: 4 });
    expect(s.counters().slab_min_order_fallback).toBe(2);
    s.check();
    for (const x of a) s.free(x);
    s.check();
  });

  it('returns -1 without throwing when the machine is out of memory', () => {
    const { s } = make(new FakePages(1 << 14, 2));
    const got: number[] = [];
    for (let i = 0; i < 3 * 32; i++) got.push(s.alloc(128, GFP_KERNEL));
    expect(got.filter((a) => a < 0).length).toBe(32);
    expect(s.alloc(9000, GFP_KERNEL)).toBe(-1);
    expect(s.counters().oom).toBe(33);
    s.check();
  });
});

describe('slub named caches', () => {
  it('uses the cache geometry and reclaimable pages for SLAB_RECLAIM_ACCOUNT', () => {
    const { s, pages } = make();
    s.createCache(0, { name: 'dentry', size: 192, align: 8, flags: CACHE_RECLAIMABLE });
    s.createCache(1, { name: 'odd', size: 20, align: 0, flags: 0 });
    const a = s.cacheAlloc(0, GFP_KERNEL);
    expect(gfpMigratetype(pages.allocs[0]!.gfp)).toBe(MIGRATE_RECLAIMABLE);
    expect(stat(s, 'dentry')).toMatchObject({ objsize: 192, slotSize: 192, objperslab: 21, pagesperslab: 1, numObjs: 21, activeObjs: 21 });
    const b = s.cacheAlloc(1, GFP_KERNEL);
    const c = s.cacheAlloc(1, GFP_KERNEL);
    expect(c - b).toBe(24);
    expect(s.usage().bytesReserved).toBe(192 + 48);
    s.cacheFree(0, a);
    expect(stat(s, 'dentry').numObjs).toBe(21);
    expect(s.cacheAlloc(7, GFP_KERNEL)).toBe(-1);
    s.check();
  });

  it('an exact-size cache loses only the slab leftover', () => {
    const { s } = make();
    s.createCache(0, { name: 'x', size: 200, align: 0, flags: 0 }); // 20 per 4096-byte slab, 96 left over
    for (let i = 0; i < 20 * 7; i++) s.cacheAlloc(0, GFP_KERNEL);
    const u = s.usage();
    expect(u.bytesReserved).toBe(200 * 140);
    expect(u.pagesHeld * 4096 - u.bytesReserved).toBe(7 * (4096 % 200));
  });
});

describe('krealloc', () => {
  it('keeps the object while ksize covers the new size, else moves it', () => {
    const { s } = make();
    const a = s.alloc(100, GFP_KERNEL); // kmalloc-128
    expect(s.realloc(a, 128, GFP_KERNEL)).toBe(a);
    expect(s.realloc(a, 10, GFP_KERNEL)).toBe(a);
    const b = s.realloc(a, 129, GFP_KERNEL);
    expect(b).not.toBe(a);
    expect(s.usage().bytesReserved).toBe(192);
    const c = s.realloc(b, 20000, GFP_KERNEL);
    expect(s.usage().bytesReserved).toBe(32768);
    expect(s.realloc(c, 30000, GFP_KERNEL)).toBe(c);
    s.check();
  });

  it('leaves the old object live when the new one cannot be had', () => {
    const { s } = make(new FakePages(1 << 14, 1));
    const a = s.alloc(100, GFP_KERNEL);
    expect(s.realloc(a, 5000, GFP_KERNEL)).toBe(-1);
    expect(s.usage().bytesReserved).toBe(128);
    s.check();
  });
});

describe('slabinfo', () => {
  const text = readFileSync(new URL('./fixtures/proc/slabinfo', import.meta.url), 'utf8');

  it('formats the real fixture byte for byte from its parse', () => {
    expect(formatSlabinfo(parseSlabinfo(text, 'slabinfo'))).toBe(text);
  });

  it('prints the model with the kernel column widths', () => {
    const { s } = make();
    for (let i = 0; i < 1000; i++) s.alloc(96, GFP_KERNEL);
    const line = formatSlabinfoLine(stat(s, 'kmalloc-96'));
    expect(line).toBe('kmalloc-96          1008   1008     96   42    1 : tunables    0    0    0 : slabdata     24     24      0');
    const out = formatSlabinfo(s.caches());
    expect(out.startsWith('slabinfo - version: 2.1\n# name            <active_objs>')).toBe(true);
    expect(parseSlabinfo(out, 'model').length).toBe(39);
  });

  it('rejects a malformed line naming the file and line', () => {
    expect(() => parseSlabinfo('slabinfo - version: 2.1\nfoo 1 2\n', 'bad.txt')).toThrow(TraceFormatError);
    expect(() => parseSlabinfo('slabinfo - version: 2.1\nfoo 1 2\n', 'bad.txt')).toThrow(/bad\.txt:2/);
  });
});

describe('slub under memory pressure', () => {
  it('shrink() gives back the empty slabs kept on partial lists, and nothing that holds objects', () => {
    const { s, pages } = make();
    // fill 10 slabs of kmalloc-512, then free all objects but one
    const per = stat(s, 'kmalloc-512').objperslab;
    const addrs: number[] = [];
    for (let i = 0; i < per * 10; i++) addrs.push(s.alloc(512, 0));
    const keep = addrs.pop()!; // one object stays: its slab must survive
    for (const a of addrs) s.free(a);
    const held = s.usage().pagesHeld;
    expect(held).toBeGreaterThan(stat(s, 'kmalloc-512').pagesperslab); // min_partial empty slabs were kept
    const freed = s.shrink!();
    expect(freed).toBeGreaterThan(0);
    expect(s.usage().pagesHeld).toBe(held - freed);
    expect(pages.used).toBe(s.usage().pagesHeld);
    s.check();
    expect(s.usage().bytesReserved).toBe(512); // the kept object's slab survived
    s.free(keep);
    s.check();
  });
});
