import { describe, expect, it } from 'vitest';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { CACHE_RECLAIMABLE, OP_CACHE_ALLOC, OP_CACHE_FREE, OP_FAULT, OP_KFREE, OP_KMALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';
import { attributionMetrics, layersOf, preTraceObjectFrees } from '../src/trace/attribution.js';
import type { Trace } from '../src/trace/trace.js';

// page_offset_base of this made-up boot: 1 GiB aligned, as KASLR places it
const BASE = 0xffff9a2140000000n;
const ptr = (pfn: number, off: number): string => (BASE + BigInt(pfn) * 4096n + BigInt(off)).toString(16);
let ts = 0;
const line = (task: string, ev: string, fields: string): string => `${task.padStart(16)} [000] .....  ${(1 + ++ts / 1e6).toFixed(6)}: ${ev}: ${fields}`;
const alloc = (task: string, pfn: number, order: number, gfp: string): string =>
  line(task, 'mm_page_alloc', `page=ffffea0000000000 pfn=0x${pfn.toString(16)} order=${order} migratetype=0 gfp_flags=${gfp}`);
const free = (task: string, pfn: number, order: number): string => line(task, 'mm_page_free', `page=ffffea0000000000 pfn=0x${pfn.toString(16)} order=${order}`);
const fault = (task: string): string => line(task, 'page_fault_user', 'address=0x4f03ca ip=0x4f03ca error_code=0x6');
const cacheAlloc = (task: string, p: string): string => line(task, 'kmem_cache_alloc', `call_site=f+0x1/0x2 ptr=${p} bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false`);
const kmalloc = (task: string, p: string): string => line(task, 'kmalloc', `call_site=f+0x1/0x2 ptr=${p} bytes_req=200 bytes_alloc=256 gfp_flags=GFP_KERNEL node=-1 accounted=false`);

/**
 * Known answers: fault pages 0x1000, 0x1002 (after a page-table page) and 0x1101 (cat's, after sh's
 * page-cache page 0x1100); slab pages 0x2000 (order 1) and 0x2400; other: 0x1001 (page table),
 * 0x1100 and 0x3000 (page cache, no fault pending), 0x3001 (sh's minor fault then a later page-cache
 * write). 0x5000 is freed before any allocation (pre-trace); an object in a pre-trace slab page
 * (0x6000) explains no recorded page.
 */
const TEXT = [
  fault('sh-100'), alloc('sh-100', 0x1000, 0, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP'),
  fault('sh-100'), alloc('sh-100', 0x1001, 0, 'GFP_KERNEL_ACCOUNT|__GFP_ZERO'), alloc('sh-100', 0x1002, 0, 'GFP_HIGHUSER_MOVABLE|__GFP_ZERO'),
  fault('cat-200'), alloc('sh-100', 0x1100, 0, 'GFP_HIGHUSER_MOVABLE'), alloc('cat-200', 0x1101, 0, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP'),
  alloc('sh-100', 0x2000, 1, 'GFP_KERNEL|__GFP_COMP'), cacheAlloc('sh-100', ptr(0x2000, 0x40)), cacheAlloc('sh-100', ptr(0x2001, 0x80)),
  alloc('sh-100', 0x2400, 0, 'GFP_KERNEL'), kmalloc('sh-100', ptr(0x2400, 0x100)),
  alloc('sh-100', 0x3000, 0, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP'),
  kmalloc('sh-100', ptr(0x6000, 0x200)),
  free('sh-100', 0x5000, 0),
  free('sh-100', 0x2000, 1), free('sh-100', 0x1000, 0),
  fault('sh-100'), line('sh-100', 'kfree', `call_site=f+0x1/0x2 ptr=${ptr(0x6000, 0x200)}`), alloc('sh-100', 0x3001, 0, 'GFP_KERNEL'),
].join('\n') + '\n';

// (recorded events: a free with a negative aux is the loader's per-CPU-list candidate before a pfn's first allocation, kernel.ts pcpStartFree)
const candidate = (t: Trace, e: number): boolean => t.op[e] === OP_PAGE_FREE && t.aux[e]! < 0;
const count = (t: Trace, op: number): number => t.op.reduce((n, o, e) => n + (o === op && !candidate(t, e) ? 1 : 0), 0);

describe('attribution of a kernel recording', () => {
  it('finds fault, slab and other pages and the direct-map base of a handmade trace', () => {
    const t = parseKernelTrace(TEXT, 'hand.ftrace', 'hand', { layers: 'none' });
    expect(t.stats).toMatchObject({
      attributed_fault_pages: 3, attributed_fault_blocks: 3,
      attributed_slab_pages: 3, attributed_slab_blocks: 2,
      attributed_other_pages: 4, attributed_other_blocks: 4,
      direct_map_base_gib: Number((BASE - 0xffff800000000000n) >> 30n),
    });
    expect(attributionMetrics(t)).toEqual({ layers: 'none', fault_pages: 3, slab_pages: 3, other_pages: 4, recorded_pages_replayed: 10 });
    // every event kept: faults and both views of the slab pages
    expect(count(t, OP_FAULT)).toBe(4);
    expect(count(t, OP_PAGE_ALLOC)).toBe(9);
  });

  it('the layer views keep each demand once', () => {
    const all = parseKernelTrace(TEXT, 'hand.ftrace', 'hand', { layers: 'all' });
    expect(layersOf(all)).toBe('all');
    expect(count(all, OP_FAULT)).toBe(0);
    expect(count(all, OP_PAGE_ALLOC)).toBe(7); // the two slab pages are the object strategy's to make
    expect(count(all, OP_PAGE_FREE)).toBe(2); // 0x1000 and the pre-trace 0x5000; the slab page's free went with it
    expect(count(all, OP_CACHE_ALLOC) + count(all, OP_KMALLOC)).toBe(4);
    expect(attributionMetrics(all)!.recorded_pages_replayed).toBe(7);
    const pages = parseKernelTrace(TEXT, 'hand.ftrace', 'hand', { layers: 'pages' });
    expect(count(pages, OP_PAGE_ALLOC)).toBe(9);
    expect(count(pages, OP_PAGE_FREE)).toBe(3);
    expect(count(pages, OP_CACHE_ALLOC) + count(pages, OP_KMALLOC) + count(pages, OP_FAULT)).toBe(0);
    const objects = parseKernelTrace(TEXT, 'hand.ftrace', 'hand', { layers: 'objects' });
    expect(count(objects, OP_PAGE_ALLOC) + count(objects, OP_PAGE_FREE) + count(objects, OP_FAULT)).toBe(0);
    expect(count(objects, OP_CACHE_ALLOC) + count(objects, OP_KMALLOC)).toBe(4);
    expect(attributionMetrics(objects)!.recorded_pages_replayed).toBe(0);
  });

  it('a cache whose objects lie in recorded __GFP_RECLAIMABLE slab pages is reclaimable (SLAB_RECLAIM_ACCOUNT)', () => {
    const obj = (p: string, bytes: number): string => line('sh-100', 'kmem_cache_alloc', `call_site=f+0x1/0x2 ptr=${p} bytes_req=${bytes} bytes_alloc=${bytes} gfp_flags=GFP_KERNEL node=-1 accounted=false`);
    const text = [
      alloc('sh-100', 0x2000, 1, '__GFP_IO|__GFP_FS|__GFP_COMP|__GFP_RECLAIMABLE'), obj(ptr(0x2000, 0xc0), 192), obj(ptr(0x2001, 0x180), 192),
      alloc('sh-100', 0x2400, 0, 'GFP_KERNEL'), obj(ptr(0x2400, 0x40), 64),
    ].join('\n') + '\n';
    const t = parseKernelTrace(text, 'rcl.ftrace', 'rcl', { layers: 'all' });
    expect(t.stats).toMatchObject({ reclaimable_caches_inferred: 1 });
    expect(t.caches.map((c) => [c.name, c.flags & CACHE_RECLAIMABLE])).toEqual([['cache-192', CACHE_RECLAIMABLE], ['cache-64', 0]]);
  });

  it('a free of a block never allocated in the trace carries its pfn (pre-trace memory)', () => {
    const t = parseKernelTrace(TEXT, 'hand.ftrace', 'hand');
    const frees = [...t.op.keys()].filter((e) => t.op[e] === OP_PAGE_FREE && !candidate(t, e)).map((e) => t.aux[e]);
    expect(frees).toEqual([0x5000, 0, 0]);
  });
});

describe('compaction in a layer view', () => {
  it('a kcompactd free gets its migration target; a later free of a seen pfn frees that target', () => {
    const text = [
      alloc('sh-100', 0x7000, 0, 'GFP_HIGHUSER_MOVABLE'),
      free('kcompactd0-30', 0x7000, 0), // migrated away: the target was taken silently
      free('sh-100', 0x7000, 0), // (a pfn seen freed and never allocated again: the target's free)
    ].join('\n');
    const l = parseKernelTrace(text, 'c.ftrace', 'c', { layers: 'pages' });
    expect(l.stats?.pcp_start_frees).toBe(1); // 0x7000's first sight: a candidate free first
    const keep = [...l.op.keys()].filter((e) => !candidate(l, e));
    const t = { ...l, op: Uint8Array.from(keep, (e) => l.op[e]!), id: Int32Array.from(keep, (e) => l.id[e]!) };
    expect(Array.from(t.op)).toEqual([OP_PAGE_ALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_PAGE_FREE]);
    const target = t.id[1]!;
    expect(target).toBe(t.idCount - 1);
    expect(t.id[2]).toBe(t.id[0]); // the source's free
    expect(t.id[3]).toBe(target); // frees the target, not an unknown id
    expect(t.stats).toMatchObject({ compaction_targets: 1, compaction_target_frees: 1 });
  });
});

describe('preTraceObjectFrees', () => {
  it('lists the object frees of ids never allocated, in trace order, whatever ids caches and ticks use', () => {
    const text = [
      // an extfrag event's id is 0, as the first object's is
      line('sh-100', 'mm_page_alloc_extfrag', 'page=ffffea0000000000 pfn=0x8000 alloc_order=0 fallback_order=3 alloc_migratetype=0 fallback_migratetype=1 fragmenting=1 change_ownership=0'),
      line('sh-100', 'kmem_cache_free', `call_site=f+0x1/0x2 ptr=${ptr(0x7000, 0)} name=filp`), // pre-trace
      cacheAlloc('sh-100', ptr(0x7000, 0x40)),
      line('sh-100', 'kmem_cache_free', `call_site=f+0x1/0x2 ptr=${ptr(0x7000, 0x40)} name=filp`), // the trace's own
      line('sh-100', 'kfree', `call_site=f+0x1/0x2 ptr=${ptr(0x7001, 0)}`), // pre-trace
      line('sh-100', 'kfree', 'call_site=f+0x1/0x2 ptr=0000000000000000'), // kfree(NULL): no event
    ].join('\n') + '\n';
    const t = parseKernelTrace(text, 'frees.ftrace');
    const frees = [...t.op.keys()].filter((e) => t.op[e] === OP_KFREE || t.op[e] === OP_CACHE_FREE);
    expect(frees).toHaveLength(3);
    expect(t.id[frees[0]!]).toBe(0);
    const f = preTraceObjectFrees(t);
    expect([...f.ids]).toEqual([t.id[frees[0]!], t.id[frees[2]!]]);
    expect([...f.cpus]).toEqual([0, 0]);
  });
});
