import { describe, expect, it } from 'vitest';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { OP_KFREE, OP_KMALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';
import { vmallocAreas } from '../src/trace/vmalloc-areas.js';

const VMEMMAP = 0xfffffc8b00000000n;
const page = (pfn: number): string => `0x${(VMEMMAP + BigInt(pfn) * 64n).toString(16)}`;
let ts = 0;
const line = (task: string, cpu: number, ev: string, fields: string): string => `  ${task} [00${cpu}] .....  ${(10 + ++ts / 1e6).toFixed(6)}: ${ev}: ${fields}`;
const alloc = (pfn: number): string => line('sh-137', 0, 'mm_page_alloc', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO`);
const free = (pfn: number, task = 'sh-137', cpu = 0): string => line(task, cpu, 'mm_page_free', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=0`);
const batched = (pfn: number): string => line('sh-137', 0, 'mm_page_free_batched', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=0`);
/** the page array of a vmalloc area of `pages` pages (6.1: __vmalloc_node_range) */
const array = (ptr: string, pages: number): string => line('sh-137', 0, 'kmalloc', `call_site=__vmalloc_node_range+0x1ce/0x880 ptr=${ptr} bytes_req=${8 * pages} bytes_alloc=${8 * pages} gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false`);
const kfree = (ptr: string, site: string, task = 'kworker/0:0-7', cpu = 0): string => line(task, cpu, 'kfree', `call_site=${site} ptr=${ptr}`);
const kmalloc = (ptr: string): string => line('sh-137', 0, 'kmalloc', `call_site=tomoyo_encode2+0x65/0x100 ptr=${ptr} bytes_req=25 bytes_alloc=32 gfp_flags=GFP_NOFS node=-1 accounted=false`);

const A = 'ffff89d202a40f80', B = 'ffff89d202a40220';
/**
 * Pages 0x6d3f and 0x6d40 were allocated and freed (their pcp list's head); a fork vmallocs a stack
 * of two pages at array A, which takes them untraced; A's address is reused by another kmalloc
 * only after the area's vfree (a kworker frees both pages, another CPU's free in between, then A).
 * Array B's area is never freed.
 */
const TEXT = [
  alloc(0x6d3f), alloc(0x6d40), free(0x6d3f), free(0x6d40), batched(0x6d3f), batched(0x6d40),
  array(A, 2),
  array(B, 3),
  free(0x6d40, 'kworker/0:0-7'), free(0x9000, 'sh-2', 1), free(0x6d3f, 'kworker/0:0-7'), kfree(A, '__vunmap+0x2d4/0x340'),
  kmalloc(A), kfree(A, 'tomoyo_find_next_domain+0x263/0x860', 'sh-137'),
].join('\n') + '\n';

describe('vmalloc areas: the pages __alloc_pages_bulk() takes untraced', () => {
  it('finds each area by its page array, its pages by the vfree that frees the array', () => {
    const b = Buffer.from(TEXT, 'latin1');
    const areas = [...vmallocAreas(b, 0, b.length).values()];
    expect(areas).toEqual([
      { pfns: [0x6d40, 0x6d3f], orders: [0, 0], unknown: 0 }, // the kworker's frees before kfree(A), in order; not cpu 1's
      { pfns: [], orders: [], unknown: 3 }, // B: never freed, 3 pages of unknown pfns
    ]);
  });

  it('a page a traced allocation took after the array is not one of the bulk pages (the bulk gave up under pressure)', () => {
    const C = 'ffff89d202a41000';
    const text = [array(C, 2), alloc(0x7001), free(0x7000, 'kworker/0:0-7'), free(0x7001, 'kworker/0:0-7'), kfree(C, '__vunmap+0x2d4/0x340')].join('\n') + '\n';
    const b = Buffer.from(text, 'latin1');
    expect([...vmallocAreas(b, 0, b.length).values()]).toEqual([{ pfns: [0x7000], orders: [0], unknown: 0 }]);
  });

  it('a page\'s last event is its own pfn only (0x70010 or 0x07001 is another page), its last one counts (a free after the allocation)', () => {
    const C = 'ffff89d202a41000';
    const other = (pfn: string): string => line('sh-137', 0, 'mm_page_alloc', `page=${page(0x70010)} pfn=0x${pfn} order=0 migratetype=0 gfp_flags=GFP_KERNEL`);
    const text = [array(C, 3), other('70010'), other('07001'), alloc(0x7002), free(0x7002, 'sh-9', 1),
      free(0x7000, 'kworker/0:0-7'), free(0x7001, 'kworker/0:0-7'), free(0x7002, 'kworker/0:0-7'), kfree(C, '__vunmap+0x2d4/0x340')].join('\n') + '\n';
    const b = Buffer.from(text, 'latin1');
    // 0x7002: a traced allocation took it and CPU 1 freed it after the array; its last event before the
    // vfree's free is that free, not an allocation, so the bulk took it again (as the search back found)
    expect([...vmallocAreas(b, 0, b.length).values()]).toEqual([{ pfns: [0x7000, 0x7001, 0x7002], orders: [0, 0, 0], unknown: 0 }]);
  });

  it('the loader allocates them at the array, so the vfree frees them: no double free, no trace error', () => {
    const t = parseKernelTrace(TEXT, 'vmalloc.ftrace', 'vmalloc', { layers: 'pages' });
    const ops = Array.from(t.op.subarray(0, t.length));
    // 2 traced allocations, then at A 2 and at B 3 bulk pages; frees: 2 traced, the vfree's 2 and 0x9000 (pre-trace)
    expect(ops.filter((o) => o === OP_PAGE_ALLOC)).toHaveLength(2 + 2 + 3);
    expect(ops.filter((o) => o === OP_PAGE_FREE).length).toBeGreaterThanOrEqual(5);
    expect(t.stats).toMatchObject({ vmalloc_areas: 2, vmalloc_bulk_pages: 5, duplicate_batched_frees: 2 });
    // each vfree free names the id its bulk allocation got
    const allocIds = new Set<number>(), freedIds: number[] = [];
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === OP_PAGE_ALLOC) allocIds.add(t.id[e]!);
      if (t.op[e] === OP_PAGE_FREE) freedIds.push(t.id[e]!);
    }
    const lastTwoFrees = freedIds.filter((id) => allocIds.has(id)).slice(-2);
    expect(lastTwoFrees).toHaveLength(2);
    expect(new Set(lastTwoFrees).size).toBe(2);
    // the object events stay (the arrays are kmallocs and kfrees of their own)
    const full = parseKernelTrace(TEXT, 'vmalloc.ftrace', 'vmalloc');
    const fops = Array.from(full.op.subarray(0, full.length));
    expect(fops.filter((o) => o === OP_KMALLOC)).toHaveLength(3);
    expect(fops.filter((o) => o === OP_KFREE)).toHaveLength(2);
  });
});
