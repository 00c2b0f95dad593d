import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, __GFP_RECLAIMABLE } from '../src/machine/gfp.js';
import { KP_OTHER, KP_SLAB } from '../src/machine/start-state.js';
import { newSteps } from '../src/machine/steps.js';
import { preTraceSlabObjects, startObjectLayer } from '../src/object/slab-start.js';
import { createSlub } from '../src/object/slub.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { OP_CACHE_FREE, OP_KFREE } from '../src/trace/ops.js';
import type { CacheDef, Trace } from '../src/trace/trace.js';
import { recordedMachine } from '../src/machine/recorded-machine.js';
import { startInputFor } from '../src/metrics/fidelity.js';
import { runCell } from '../src/run/cell.js';
import { loadTrace } from '../src/trace/load.js';
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
/** a trace with these caches and no events (the start's rows hold no pre-trace frees to match) */
const noFrees = (caches: CacheDef[]): Trace => ({ ...parseKernelTrace('', 'empty.ftrace'), caches });

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
    expect(startObjectLayer(slub, objs, k, noFrees(CACHES))).toEqual({ pages: 3, slabs: 3, frees: 0 });
    expect(slub.counters()).toMatchObject({ slabs_cpu_partial: 3, partial_slabs: 0 });
    slub.check();
    // CPU 1 allocates from its slabs in the order it first reached them
    expect([slub.alloc(50, GFP_KERNEL), slub.alloc(50, GFP_KERNEL), slub.alloc(50, GFP_KERNEL)]).toEqual([1004 * 4096, 1004 * 4096 + 64, 1006 * 4096]);
    cursor.cpu = 0;
    expect(slub.alloc(50, GFP_KERNEL)).toBe(1005 * 4096);
    expect(pages.allocs).toHaveLength(0);
    // without them, all three sit on the node partial list
    const off = createSlub({ pages: new FakePages(4096), steps: newSteps(), cpus: 2, variant: 'cpu-partial=off' });
    startObjectLayer(off, objs, k, noFrees(CACHES));
    expect(off.counters()).toMatchObject({ partial_slabs: 3 });
    expect(off.counters().slabs_cpu_partial).toBeUndefined(); // reported with cpu-partial=on only
  });

  it('SLUB takes the pre-trace partial slab before a new slab (___slab_alloc), its pages pre-trace memory', () => {
    const pages = new FakePages(4096);
    const slub = createSlub({ pages, steps: newSteps(), cpus: 1 });
    const k = kpage();
    expect(startObjectLayer(slub, preTraceSlabObjects(TEXT, k), k, noFrees(CACHES))).toEqual({ pages: 2, slabs: 2, frees: 0 });
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
    expect(startObjectLayer(slub, preTraceSlabObjects(TEXT, kpage()), k, noFrees(CACHES))).toEqual({ pages: 1, slabs: 1, frees: 0 });
  });
});

const cacheFree = (pfn: number, off: number, name: string): string => line('kmem_cache_free', `call_site=f+0x1/0x2 ptr=${ptr(pfn, off)} name=${name}`);
const kfree = (pfn: number, off: number): string => line('kfree', `call_site=f+0x1/0x2 ptr=${ptr(pfn, off)}`);

describe('frees of pre-trace objects in pre-trace slabs', () => {
  // page 1000: a cache-192 slab full at the start; the trace frees a pre-trace object in it (its
  // cache named by the free: cred_jar, which the trace's own cred_jar objects show as cache-192),
  // then allocates: the kernel reuses the freed slot, no new slab. Page 1001: a kmalloc-64 slab whose
  // first slot the trace kfree()s (cache unknown: the page's allocation names it) and whose second it
  // allocates. Page 1002: a kfree only (no cache known): not adopted, the free stays a trace error.
  const text = [
    cacheFree(1000, 192, 'cred_jar'),
    kfree(1001, 0),
    kfree(1002, 0),
    cacheAlloc(1000, 192),
    kmalloc(1001, 64),
    cacheFree(1000, 192, 'cred_jar'), // a free of the trace's own object: names cred_jar's cache
    cacheFree(1000, 192, 'cred_jar'), // freed again without an allocation the trace shows (kmem_cache_alloc_bulk): not a slot free
  ].join('\n');

  it('finds them in trace order, numbered as the loader\'s frees of ids never allocated', () => {
    const s = preTraceSlabObjects(text, kpage());
    expect(s.cache).toEqual(['cache-192', null, null, 'cache-192', '', 'cache-192']);
    expect([...s.seq]).toEqual([0, 1, 2, -1, -1, 3]);
    expect(s.unknownFrees).toBe(4);
    expect([...s.pfn]).toEqual([1000, 1001, 1002, 1000, 1001, 1000]);
  });

  it('a freed slot is a real free: the allocation after it reuses it without a new slab', () => {
    const k = kpage();
    const s = preTraceSlabObjects(text, k);
    const t = parseKernelTrace(text, 'pre-trace-frees.ftrace');
    const pages = new FakePages(4096);
    const slub = createSlub({ pages, steps: newSteps(), cpus: 1 });
    // page 1000 (one pre-trace object freed, the slab full before) and 1001 (slot 1 free, slot 0 freed)
    expect(startObjectLayer(slub, s, k, t)).toEqual({ pages: 2, slabs: 2, frees: 2 });
    slub.check();
    // the trace ids of the first two frees, at the addresses of their slots
    const frees = [...t.op.keys()].filter((e) => t.op[e] === OP_KFREE || t.op[e] === OP_CACHE_FREE);
    expect([...slub.preTraceObjects!.ids]).toEqual([t.id[frees[0]!], t.id[frees[1]!]]);
    expect([...slub.preTraceObjects!.addr]).toEqual([1000 * 4096 + 192, 1001 * 4096]);
    const cache192 = t.caches.findIndex((c) => c.name === 'cache-192');
    expect(slub.counters()).toMatchObject({ slabs: 2, partial_slabs: 0, slabs_cpu_partial: 1 }); // 1000 full (on no list), 1001 partial
    slub.free(1000 * 4096 + 192); // __slab_free() of a full slab: onto the CPU's partial list
    slub.free(1001 * 4096);
    expect(slub.cacheAlloc(cache192, GFP_KERNEL)).toBe(1000 * 4096 + 192);
    // kmalloc-64's free list: slot 0 (freed last, LIFO) on top of slot 1 (free at the start)
    expect([slub.alloc(50, GFP_KERNEL), slub.alloc(50, GFP_KERNEL)]).toEqual([1001 * 4096, 1001 * 4096 + 64]);
    expect(pages.allocs).toHaveLength(0);
    slub.check();
  });
});

describe('a replay from a recorded before-state', () => {
  it('frees a pre-trace object in a pre-trace slab without a trace error, and reuses its slot', () => {
    const tracePath = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    // the recording's own takes and refills say nothing of this handmade trace
    const input = { ...startInputFor(tracePath, true)!, takes: undefined, refilled: undefined };
    const k = input.kpage!;
    let p = 0;
    while (k[p] !== KP_SLAB) p++; // a pre-trace slab page of build-compress's before/kpageflags
    const text = [cacheFree(p, 192, 'cred_jar'), cacheAlloc(p, 192), cacheFree(p, 192, 'cred_jar')].join('\n');
    const t = parseKernelTrace(text, 'pre-trace-free.ftrace');
    const cfg = recordedMachine(tracePath, 'build-compress')!.config;
    const cell = { trace: 'pre-trace-free', machine: cfg.name, page: 'buddy-mobility', object: 'slub', seed: 1 };
    const r = runCell(cell, t, cfg, { check: true, start: { ...input, slabObjects: preTraceSlabObjects(text, k) }, startEmpty: false });
    expect(r.trace_errors).toBe(0);
    expect(r.metrics.start).toMatchObject({ slab_start_slabs: 1, slab_start_frees: 1 });
    expect(r.metrics.object_counters).toMatchObject({ slabs_allocated: 0, frees: 2, allocs: 1, unknown_free: 0 });
    // the same trace without the pre-trace slab: the first free is a trace error, the allocation a new slab
    const bare = runCell(cell, t, cfg, { check: true, start: { ...input, slabObjects: undefined }, startEmpty: false });
    expect(bare.trace_errors).toBe(1);
    expect(bare.metrics.object_counters).toMatchObject({ slabs_allocated: 1 });
  });
});

describe('fork-fragment (6.1, 1 CPU): its frees of pre-trace objects', () => {
  it('are real frees where their slab was adopted: the trace errors fall by as many', () => {
    const tracePath = 'traces/kernel/fork-fragment/fork-fragment.ftrace.gz';
    const input = startInputFor(tracePath, true)!;
    const s = input.slabObjects!;
    // measured: 3917 object frees of ids the trace never allocated, all in before/kpageflags KPF_SLAB
    // pages untouched by page events (one frees a task_struct)
    expect(s.unknownFrees).toBe(3917);
    expect([...s.seq].filter((q) => q >= 0)).toHaveLength(3917);
    const t = loadTrace(tracePath, { layers: 'all' }); // as run and fidelity replay it by default
    const cfg = recordedMachine(tracePath, 'fork-fragment')!.config;
    const cell = { trace: 'fork-fragment', machine: cfg.name, page: 'buddy-mobility', object: 'slub', seed: 1 };
    const r = runCell(cell, t, cfg, { start: input, startEmpty: false });
    const without = runCell(cell, t, cfg, { start: { ...input, slabObjects: undefined }, startEmpty: false });
    // 146 of them free a slot of an adopted slab (most of the others are maple nodes freed again and
    // again in the same slots: kmem_cache_alloc_bulk() has no trace event)
    expect(r.metrics.start).toMatchObject({ slab_start_frees: 146 });
    expect(without.metrics.start).not.toHaveProperty('slab_start_frees');
    expect(r.trace_errors).toBe(without.trace_errors - 146);
    // task_struct (cache-8448, order-3 slabs of 3): the kernel's slabinfo shows no new slab, and
    // with its pre-trace slabs adopted the model takes none either (it took 3 without them)
    expect(r.metrics.object_counters).toMatchObject({ slab_min_order_fallback: 0 });
    expect((r.metrics.caches as { name: string }[]).some((c) => c.name === 'cache-8448')).toBe(true);
    expect(r.metrics.object_counters).toMatchObject({ slabs_freed: 0 });
  });
});

describe('kernel caches of one size told apart (splitCaches)', () => {
  const at = (site: string, pfn: number, off: number): string =>
    line('kmem_cache_alloc', `call_site=${site}+0x29/0x1d0 ptr=${ptr(pfn, off)} bytes_req=184 bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 accounted=true`);
  const freed = (pfn: number, off: number, name: string): string =>
    line('kmem_cache_free', `call_site=g+0x1/0x2 ptr=${ptr(pfn, off)} name=${name}`);
  const text = [
    // an in-trace Reclaimable slab page for the dentry's allocation (allocate_slab() with __GFP_RECLAIMABLE)
    line('mm_page_alloc', 'page=fffff8f980060080 pfn=0x5dc order=0 migratetype=2 gfp_flags=GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_RECLAIMABLE'),
    at('__d_alloc', 1500, 0),
    at('prepare_creds', 1000, 0),
    at('never_freed', 1000, 192), // a site never seen freed: its page's cache
    freed(1500, 0, 'dentry'),
    freed(1000, 0, 'cred_jar'),
  ].join('\n');

  it('gives each kmem_cache_alloc its call site\'s cache, named as kmem_cache_free names it, reclaimable by its slab pages', () => {
    const s = preTraceSlabObjects(text, kpage());
    expect(s.split?.alloc).toEqual(['dentry', 'cred_jar', 'cred_jar']);
    expect(s.split?.defs).toEqual([
      { name: 'dentry', from: 'cache-192', size: 192, reclaimable: true },
      { name: 'cred_jar', from: 'cache-192', size: 192, reclaimable: false },
    ]);
    // the pre-trace slab's rows are cred_jar's
    expect(s.cache).toEqual(['cred_jar', 'cred_jar']);
    // a site never freed whose objects share no page with a named cache's: one more cache, the loader's
    const rest = preTraceSlabObjects([at('anon_vma_clone', 1000, 0), at('alloc_vmap_area', 1001, 0), freed(1000, 0, 'anon_vma_chain')].join('\n'), kpage());
    expect(rest.split?.alloc).toEqual(['anon_vma_chain', null]);
    expect(rest.split?.defs.map((d) => d.name)).toEqual(['anon_vma_chain']);
    // one cache per size when every allocation is one cache's: no split
    expect(preTraceSlabObjects([at('prepare_creds', 1000, 0), freed(1000, 0, 'cred_jar')].join('\n'), kpage()).split).toBeUndefined();
  });

  it('SLUB allocates each kmem_cache_alloc from its kernel cache: the dentry a new Reclaimable slab, the cred a pre-trace slab', () => {
    const k = kpage();
    const s = preTraceSlabObjects(text, k);
    const trace = parseKernelTrace(text, 'split.ftrace');
    const pages = new FakePages(4096);
    const slub = createSlub({ pages, steps: newSteps(), cpus: 1 });
    startObjectLayer(slub, s, k, trace);
    const c192 = trace.caches.findIndex((c) => c.name === 'cache-192');
    slub.cacheAlloc(c192, GFP_KERNEL);
    expect(pages.allocs).toHaveLength(1);
    expect(pages.allocs[0]!.gfp & __GFP_RECLAIMABLE).toBe(__GFP_RECLAIMABLE);
    // the merged cache would have served it from the pre-trace slab's free slots
    expect(Math.floor(slub.cacheAlloc(c192, GFP_KERNEL) / 4096)).toBe(1000);
    expect(pages.allocs).toHaveLength(1);
    expect(slub.caches().filter((c) => c.numObjs > 0).map((c) => c.name).sort()).toEqual(['cred_jar', 'dentry']);
    slub.check();
  });
});
