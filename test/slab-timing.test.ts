import { describe, expect, it } from 'vitest';
import { __GFP_RECLAIMABLE } from '../src/machine/gfp.js';
import { compareSlabAllocs, modelSlabAlloc, recordedSlabAllocs } from '../src/metrics/slab-timing.js';

// direct-map base 2 GiB above 0xffff800000000000
const ptr = (pfn: number, off: number): string => (0xffff800000000000n + (2n << 30n) + BigInt(pfn * 4096 + off)).toString(16);
const line = (ev: string, rest: string): string => `  t-1 [000] ..... 1.000000: ${ev}: ${rest}`;
const cacheAlloc = (pfn: number, off: number): string =>
  line('kmem_cache_alloc', `call_site=f+0x1/0x2 ptr=${ptr(pfn, off)} bytes_req=184 bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 accounted=false`);
const kmalloc = (pfn: number, off: number, bytes = 50, gfp = 'GFP_KERNEL'): string =>
  line('kmalloc', `call_site=f+0x1/0x2 ptr=${ptr(pfn, off)} bytes_req=${bytes} bytes_alloc=${bytes > 8192 ? 12288 : 64} gfp_flags=${gfp} node=-1 accounted=false`);
const pageAlloc = (pfn: number, order: number, mt: number): string =>
  line('mm_page_alloc', `page=fffff8f980060080 pfn=0x${pfn.toString(16)} order=${order} migratetype=${mt} gfp_flags=GFP_KERNEL`);

describe('slab timing diagnostic', () => {
  const text = [
    kmalloc(10, 0), // a pre-trace slab: no recorded page
    pageAlloc(20, 0, 2),
    cacheAlloc(20, 0), // allocation #1 needed slab 20
    cacheAlloc(20, 192),
    pageAlloc(30, 1, 0),
    kmalloc(31, 64, 40, 'GFP_KERNEL|__GFP_RECLAIMABLE'), // #3: kmalloc-rcl-64 in an order-1 block
    line('mm_page_free', 'page=fffff8f980060080 pfn=0x14 order=0'),
    pageAlloc(20, 0, 1),
    kmalloc(20, 0, 9000), // kmalloc_large(): the page itself, no slab
  ].join('\n');

  it('finds the recorded slab pages, their cache and the allocation that needed them', () => {
    const { slabs, lines } = recordedSlabAllocs(text, 2);
    expect(slabs).toEqual([{ pos: 1, order: 0, mt: 2, cache: 'cache-192' }, { pos: 3, order: 1, mt: 0, cache: 'kmalloc-rcl-64' }]);
    expect(lines).toEqual([1, 3, 4, 6, 9]);
    // with the split caches, a kmem_cache_alloc's kernel cache
    expect(recordedSlabAllocs(text, 2, ['dentry', null]).slabs[0]!.cache).toBe('dentry');
  });

  it('pairs k-th with k-th per cache and says where and why they first part', () => {
    const { slabs, lines } = recordedSlabAllocs(text, 2);
    const model = [modelSlabAlloc('cache-192', 0, __GFP_RECLAIMABLE, 1), modelSlabAlloc('kmalloc-rcl-64', 0, 0, 4), modelSlabAlloc('kmalloc-8', 0, 0, 4)];
    const t = compareSlabAllocs(slabs, model, lines);
    expect(t.real).toBe(2);
    expect(t.model).toBe(3);
    const by = new Map(t.caches.map((c) => [c.cache, c]));
    expect(by.get('cache-192')).toMatchObject({ first: -1, sameOrder: 1, sameMt: 1, samePos: 1 });
    expect(by.get('kmalloc-rcl-64')).toMatchObject({ first: 0, sameOrder: 0, samePos: 0 });
    expect(by.get('kmalloc-rcl-64')!.why).toBe('order real 1 model 0; real first: real at alloc #3 (line 6), model at alloc #4 (line 9)');
    expect(by.get('kmalloc-8')!.why).toBe('real allocates no slab #0; model at alloc #4 (line 9)');
    // the earliest first difference first
    expect(t.caches[0]!.cache).toBe('kmalloc-rcl-64');
  });
});
