import { describe, expect, it } from 'vitest';
import { GFP_KERNEL } from '../src/machine/gfp.js';
import { KP_OTHER, KP_SLAB } from '../src/machine/start-state.js';
import { newSteps } from '../src/machine/steps.js';
import { preTraceSlabObjects, startObjectLayer } from '../src/object/slab-start.js';
import { createSlub } from '../src/object/slub.js';
import type { CacheDef } from '../src/trace/trace.js';
import { FakePages } from './support/fake-pages.js';

// a direct-map base other than the default one: the parser must infer it
const BASE = 0xffff8f0cn << 32n;
const ptr = (pfn: number, off: number): string => (BASE + BigInt(pfn * 4096 + off)).toString(16).padStart(16, '0');
const line = (ev: string, rest: string): string => `  t-1 [000] ..... 1.000000: ${ev}: ${rest}`;
const cacheAlloc = (pfn: number, off: number): string =>
  line('kmem_cache_alloc', `call_site=f+0x1/0x2 ptr=${ptr(pfn, off)} bytes_req=184 bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 accounted=false`);
const kmalloc = (pfn: number, off: number): string =>
  line('kmalloc', `call_site=f+0x1/0x2 ptr=${ptr(pfn, off)} bytes_req=50 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false`);

function kpage(): Uint8Array {
  const k = new Uint8Array(4096).fill(KP_OTHER);
  k.fill(KP_SLAB, 1000, 1008);
  return k;
}

const TEXT = [
  cacheAlloc(1000, 2 * 192),
  kmalloc(1001, 64),
  kmalloc(1001, 64), // the same slot again (freed and reused): one free slot
  line('mm_page_free', 'page=fffff8f980060080 pfn=0x3eb order=0'), // 1003: the kernel freed that slab page
  kmalloc(1003, 0),
  kmalloc(2000, 0), // not a slab page
].join('\n');

const CACHES: CacheDef[] = [{ name: 'cache-192', size: 192, align: 0, flags: 0 }];

describe('object layer start (pre-trace slabs)', () => {
  it('finds the objects the trace allocates in pre-trace slab pages, with the inferred direct-map base', () => {
    const s = preTraceSlabObjects(TEXT, kpage());
    expect(s.cache).toEqual(['cache-192', '', '']);
    expect([...s.pfn]).toEqual([1000, 1001, 1001]);
    expect([...s.off]).toEqual([384, 64, 64]);
    expect([...s.excluded]).toEqual([1003]);
    expect([...s.cpu]).toEqual([0, 0, 0]);
    // the CPU column is the last [digits] before the event, whatever brackets the task name holds
    const odd = preTraceSlabObjects(kmalloc(1004, 0).replace('t-1 [000]', 'w[7]-3 [001]'), kpage());
    expect([...odd.cpu]).toEqual([1]);
  });

  it('with per-CPU partial lists, a pre-trace slab goes on the list of the CPU that first allocates from it', () => {
    const on = (cpu: number, l: string): string => l.replace('[000]', `[00${cpu}]`);
    // two kmalloc-64 slabs CPU 1 reaches first, one CPU 0 does
    const text = [on(1, kmalloc(1004, 0)), on(0, kmalloc(1005, 0)), on(1, kmalloc(1006, 0)), on(0, kmalloc(1004, 64))].join('\n');
    const k = kpage();
    const objs = preTraceSlabObjects(text, k);
    expect([...objs.cpu]).toEqual([1, 0, 1, 0]);
    const pages = new FakePages(4096);
    const cursor = { cpu: 1 };
    const slub = createSlub({ pages, steps: newSteps(), cpus: 2, variant: 'cpu-partial=on', cpuCursor: cursor });
    expect(startObjectLayer(slub, objs, k, CACHES)).toEqual({ pages: 3, slabs: 3 });
    expect(slub.counters()).toMatchObject({ slabs_cpu_partial: 3, partial_slabs: 0 });
    slub.check();
    // CPU 1 allocates from its slabs in the order it first reached them
    expect([slub.alloc(50, GFP_KERNEL), slub.alloc(50, GFP_KERNEL), slub.alloc(50, GFP_KERNEL)]).toEqual([1004 * 4096, 1004 * 4096 + 64, 1006 * 4096]);
    cursor.cpu = 0;
    expect(slub.alloc(50, GFP_KERNEL)).toBe(1005 * 4096);
    expect(pages.allocs).toHaveLength(0);
    // without them, all three sit on the node partial list
    const off = createSlub({ pages: new FakePages(4096), steps: newSteps(), cpus: 2, variant: 'cpu-partial=off' });
    startObjectLayer(off, objs, k, CACHES);
    expect(off.counters()).toMatchObject({ partial_slabs: 3 });
    expect(off.counters().slabs_cpu_partial).toBeUndefined(); // reported with cpu-partial=on only
  });

  it('SLUB takes the pre-trace partial slab before a new slab (___slab_alloc), its pages pre-trace memory', () => {
    const pages = new FakePages(4096);
    const slub = createSlub({ pages, steps: newSteps(), cpus: 1 });
    const k = kpage();
    expect(startObjectLayer(slub, preTraceSlabObjects(TEXT, k), k, CACHES)).toEqual({ pages: 2, slabs: 2 });
    slub.createCache(0, CACHES[0]!); // the loader's create after the start: the adopted cache stays
    expect(slub.cacheAlloc(0, GFP_KERNEL)).toBe(1000 * 4096 + 384);
    expect(slub.alloc(50, GFP_KERNEL)).toBe(1001 * 4096 + 64);
    expect(pages.allocs).toHaveLength(0); // nothing taken from the page allocator yet
    // one free slot each (the rest in use by objects the trace never shows): the next takes a new slab
    slub.alloc(50, GFP_KERNEL);
    expect(pages.allocs).toHaveLength(1);
    expect(slub.usage().pagesHeld).toBe(3);
    slub.check();
    const kmalloc64 = slub.caches().find((c) => c.name === 'kmalloc-64')!;
    expect(kmalloc64.numSlabs).toBe(2);
  });

  it('refuses a slab whose page the trace touches or that is not a pre-trace slab page', () => {
    const slub = createSlub({ pages: new FakePages(4096), steps: newSteps(), cpus: 1 });
    const k = kpage();
    k[1000] = KP_OTHER;
    expect(startObjectLayer(slub, preTraceSlabObjects(TEXT, kpage()), k, CACHES)).toEqual({ pages: 1, slabs: 1 });
  });
});
