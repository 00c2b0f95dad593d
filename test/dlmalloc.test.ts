import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GFP_HIGHUSER_MOVABLE, GFP_USER } from '../src/machine/gfp.js';
import { newSteps, STEP_CALL, STEP_MERGE, STEP_SPLIT } from '../src/machine/steps.js';
import { DEFAULT_GRANULARITY, Dlmalloc, treeIndex, type DlmallocOptions } from '../src/object/dlmalloc.js';
import { BRK_BASE, MMAP_BASE, PageBackedHeapMemory } from '../src/object/heap-memory.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import type { PageSource } from '../src/machine/page-source.js';

/** Order-0 page source with a page limit; pfns are recycled; records the gfp of every call. */
class LimitedPages implements PageSource {
  readonly totalPfns = 1 << 20;
  used = 0;
  private next = 0;
  private readonly freed: number[] = [];
  readonly live = new Set<number>();
  gfps = new Set<number>();
  constructor(readonly limit = Infinity) {}
  allocPages(order: number, gfp: number): number {
    expect(order).toBe(0);
    this.gfps.add(gfp);
    if (this.used + 1 > this.limit) return -1;
    const pfn = this.freed.pop() ?? this.next++;
    this.used++;
    this.live.add(pfn);
    return pfn;
  }
  freePages(pfn: number, order: number): void {
    expect(order).toBe(0);
    expect(this.live.delete(pfn)).toBe(true);
    this.used--;
    this.freed.push(pfn);
  }
}

function heap(dl: DlmallocOptions = {}, limit = Infinity): { h: Dlmalloc; pages: LimitedPages; steps: Float64Array } {
  const pages = new LimitedPages(limit);
  const steps = newSteps();
  const h = new Dlmalloc({ pages, steps, cpus: 2 }, dl);
  return { h, pages, steps };
}

const KiB = 1024;

describe('dlmalloc chunk geometry', () => {
  it('returns 16-byte aligned heap addresses with 8 bytes of overhead and a 32-byte minimum chunk', () => {
    const { h } = heap();
    const a = h.alloc(1, GFP_USER);
    const b = h.alloc(24, GFP_USER);
    const c = h.alloc(25, GFP_USER);
    expect(a % 16).toBe(0);
    expect(a).toBe(BRK_BASE + 16); // chunk2mem of the first chunk at the heap base
    expect(b - a).toBe(32); // MIN_CHUNK_SIZE
    expect(c - b).toBe(32); // 24 + 8 = 32
    expect(h.usableSize(c)).toBe(40); // 25 + 8 -> 48, usable 40
    expect(h.usage().bytesReserved).toBe(32 + 32 + 48);
    h.check();
  });

  it('puts sizes in treebins as compute_tree_index does', () => {
    expect(treeIndex(256)).toBe(0);
    expect(treeIndex(384)).toBe(1);
    expect(treeIndex(512)).toBe(2);
    expect(treeIndex(768)).toBe(3);
    expect(treeIndex(1 << 20)).toBe(24);
    expect(treeIndex(12 * 1024 * 1024)).toBe(31);
    expect(treeIndex(2 ** 40)).toBe(31);
  });

  it('is registered as dlmalloc and backs the heap with movable user pages', () => {
    const pages = new LimitedPages();
    const s = objectStrategyFactory('dlmalloc')({ pages, steps: newSteps(), cpus: 2 });
    expect(s.name).toBe('dlmalloc');
    expect(s.alloc(100, GFP_USER)).toBeGreaterThan(0);
    expect([...pages.gfps]).toEqual([GFP_HIGHUSER_MOVABLE]);
    expect(s.usage().pagesHeld).toBe(DEFAULT_GRANULARITY / 4096);
    expect(s.caches()).toEqual([]);
  });
});

describe('dlmalloc bins, dv and coalescing', () => {
  it('splits a larger smallbin chunk and makes the remainder the designated victim', () => {
    const { h, steps } = heap();
    const a = h.alloc(200, GFP_USER); // chunk 208
    const guard = h.alloc(16, GFP_USER);
    h.free(a); // into smallbin 26
    expect(h.inspect().dv).toBe(-1);
    const splits = steps[STEP_SPLIT]!;
    const b = h.alloc(40, GFP_USER); // chunk 48: no exact bin, next non-empty smallbin
    expect(b).toBe(a);
    expect(steps[STEP_SPLIT]!).toBe(splits + 1);
    expect(h.inspect()).toMatchObject({ dv: a - 16 + 48, dvSize: 160 });
    const c = h.alloc(40, GFP_USER); // served by splitting dv
    expect(c).toBe(a + 48);
    expect(h.inspect()).toMatchObject({ dv: a - 16 + 96, dvSize: 112 });
    const d = h.alloc(100, GFP_USER); // 112: exhausts dv
    expect(d).toBe(a + 96);
    expect(h.inspect().dv).toBe(-1);
    expect(guard).toBe(a + 208);
    h.check();
  });

  it('takes an exact-size smallbin chunk LIFO before anything else', () => {
    const { h } = heap();
    const x = h.alloc(64, GFP_USER);
    h.alloc(16, GFP_USER);
    const y = h.alloc(64, GFP_USER);
    h.alloc(16, GFP_USER);
    h.free(x);
    h.free(y);
    expect(h.alloc(64, GFP_USER)).toBe(y);
    expect(h.alloc(64, GFP_USER)).toBe(x);
    h.check();
  });

  it('coalesces a freed chunk with its free left neighbour', () => {
    const { h, steps } = heap();
    const a = h.alloc(100, GFP_USER), b = h.alloc(100, GFP_USER);
    h.alloc(16, GFP_USER);
    h.free(a);
    const m = steps[STEP_MERGE]!;
    h.free(b);
    expect(steps[STEP_MERGE]!).toBe(m + 1);
    h.check();
    expect(h.alloc(224 - 8, GFP_USER)).toBe(a); // one free chunk of 112 + 112
  });

  it('coalesces a freed chunk with its free right neighbour', () => {
    const { h, steps } = heap();
    const a = h.alloc(100, GFP_USER), b = h.alloc(100, GFP_USER);
    h.alloc(16, GFP_USER);
    h.free(b);
    const m = steps[STEP_MERGE]!;
    h.free(a);
    expect(steps[STEP_MERGE]!).toBe(m + 1);
    h.check();
    expect(h.alloc(224 - 8, GFP_USER)).toBe(a);
  });

  it('coalesces with both neighbours into one large (treebin) chunk', () => {
    const { h, steps } = heap();
    const a = h.alloc(200, GFP_USER), b = h.alloc(200, GFP_USER), c = h.alloc(200, GFP_USER);
    h.alloc(16, GFP_USER);
    h.free(a);
    h.free(c);
    const m = steps[STEP_MERGE]!;
    h.free(b);
    expect(steps[STEP_MERGE]!).toBe(m + 2);
    h.check();
    expect(h.alloc(3 * 208 - 8, GFP_USER)).toBe(a);
    h.check();
  });

  it('merges a chunk freed next to top into top', () => {
    const { h } = heap();
    const a = h.alloc(1000, GFP_USER);
    const before = h.inspect().topSize;
    h.free(a);
    expect(h.inspect()).toMatchObject({ top: a - 16, topSize: before + 1008 });
    h.check();
  });

  it('serves large requests best fit from the treebins', () => {
    const { h } = heap();
    const sizes = [1024, 2048, 1536, 4096, 1600];
    const blocks = sizes.map((s) => { const p = h.alloc(s - 8, GFP_USER); h.alloc(16, GFP_USER); return p; });
    for (const p of blocks) h.free(p);
    h.check();
    expect(h.alloc(1500 - 8, GFP_USER)).toBe(blocks[2]); // 1536 is the best fit (remainder 32 -> binned)
    expect(h.alloc(1590, GFP_USER)).toBe(blocks[4]); // 1600
    expect(h.alloc(3000, GFP_USER)).toBe(blocks[3]); // 4096
    expect(h.alloc(2000, GFP_USER)).toBe(blocks[1]); // 2048
    h.check();
  });

  it('finds the best fit in an untaken right subtree of the trie (tmalloc_large rst)', () => {
    const { h } = heap();
    const p512 = h.alloc(512 - 8, GFP_USER); h.alloc(16, GFP_USER);
    const p704 = h.alloc(704 - 8, GFP_USER); h.alloc(16, GFP_USER);
    const p1024 = h.alloc(1024 - 8, GFP_USER); h.alloc(16, GFP_USER);
    h.free(p512); // root of treebin 2
    h.free(p704); // its right child (bit 7 set)
    h.free(p1024); // treebin 4
    // 560 has bit 7 clear: the path goes left to nothing; 704 waits in the right subtree
    expect(h.alloc(560 - 8, GFP_USER)).toBe(p704);
    h.check();
  });

  it('keeps many same-size and different-size tree chunks consistent through unlink from the middle', () => {
    const { h } = heap();
    const ps: number[] = [];
    for (let i = 0; i < 200; i++) { ps.push(h.alloc(256 + ((i * 37) % 13) * 48, GFP_USER)); h.alloc(16, GFP_USER); }
    for (let i = 0; i < ps.length; i += 2) h.free(ps[i]!);
    h.check();
    for (let i = 1; i < ps.length; i += 4) h.free(ps[i]!); // coalesces both sides: unlinks tree nodes
    h.check();
    for (let i = 0; i < 50; i++) h.alloc(300 + i * 16, GFP_USER);
    h.check();
  });
});

describe('dlmalloc top, sbrk and trim', () => {
  it('grows top with sbrk in granularity steps', () => {
    const { h, pages } = heap();
    h.alloc(100, GFP_USER);
    expect(h.inspect().heapBytes).toBe(64 * KiB);
    expect(pages.used).toBe(16);
    const big = h.alloc(100 * KiB, GFP_USER); // below the mmap threshold: grows top
    expect(big).toBeLessThan(MMAP_BASE);
    // granularity_align(nb - topsize + SYS_ALLOC_PADDING) on top of the first 64 KiB
    expect(h.inspect().heapBytes % DEFAULT_GRANULARITY).toBe(0);
    expect(h.inspect().heapBytes).toBe(128 * KiB);
    expect(pages.used).toBe(32);
    expect(h.counters()['sbrk_calls']).toBe(2);
    h.check();
  });

  it('trims top above the trim threshold and returns all memory above the initial heap', () => {
    const { h, pages } = heap();
    const ps: number[] = [];
    for (let i = 0; i < 400; i++) ps.push(h.alloc(10 * KiB + (i % 7) * 100, GFP_USER));
    expect(h.inspect().heapBytes).toBeGreaterThan(3 * 1024 * KiB);
    h.check();
    // free in a scattered order so coalescing, bins and top all take part
    for (let i = 0; i < ps.length; i += 3) h.free(ps[i]!);
    for (let i = 1; i < ps.length; i += 3) h.free(ps[i]!);
    h.check();
    for (let i = 2; i < ps.length; i += 3) h.free(ps[i]!);
    h.check();
    expect(h.counters()['trims']).toBeGreaterThan(0);
    expect(h.inspect().heapBytes).toBe(64 * KiB); // back to the first granule of the heap
    expect(pages.used).toBe(16);
    expect(h.usage()).toEqual({ bytesReserved: 0, pagesHeld: 16 });
  });

  it('does not trim while top stays below the trim threshold', () => {
    const { h } = heap();
    const ps = Array.from({ length: 100 }, () => h.alloc(10 * KiB, GFP_USER));
    const heapBytes = h.inspect().heapBytes;
    expect(heapBytes).toBeLessThan(2 * 1024 * KiB);
    for (const p of ps) h.free(p);
    expect(h.inspect().heapBytes).toBe(heapBytes);
    expect(h.counters()['trims']).toBe(0);
    expect(h.trim()).toBe(1); // malloc_trim(0) releases it on request
    expect(h.inspect().heapBytes).toBe(64 * KiB);
    h.check();
  });
});

describe('dlmalloc mmapped chunks', () => {
  it('maps requests at or above the mmap threshold as separate chunks and unmaps them on free', () => {
    const { h, pages } = heap();
    h.alloc(16, GFP_USER);
    const heapPages = pages.used;
    const p = h.alloc(300 * KiB, GFP_USER);
    expect(p).toBeGreaterThanOrEqual(MMAP_BASE);
    expect(p % 16).toBe(0);
    // mmap_align(nb + 6 words + 15): 300 KiB + 8 -> chunk 307216, mapping 76 pages
    expect(pages.used - heapPages).toBe(Math.ceil((300 * KiB + 16 + 48 + 15) / 4096));
    expect(h.usableSize(p)).toBeGreaterThanOrEqual(300 * KiB);
    expect(h.counters()['mmaps']).toBe(1);
    h.check();
    h.free(p);
    expect(pages.used).toBe(heapPages);
    expect(h.counters()['munmaps']).toBe(1);
    expect(h.usage().bytesReserved).toBe(32);
    h.check();
  });

  it('serves a large request from free heap memory first, as sys_alloc is the last resort', () => {
    const { h } = heap();
    const ps = Array.from({ length: 20 }, () => h.alloc(64 * KiB, GFP_USER));
    for (const p of ps) h.free(p); // ~1.3 MiB of top, below the trim threshold
    const p = h.alloc(300 * KiB, GFP_USER);
    expect(p).toBeLessThan(MMAP_BASE);
    expect(h.counters()['mmaps']).toBe(0);
    h.check();
  });

  it('reuses unmapped virtual ranges', () => {
    const { h } = heap();
    h.alloc(16, GFP_USER);
    const a = h.alloc(400 * KiB, GFP_USER);
    const b = h.alloc(400 * KiB, GFP_USER);
    h.free(a);
    expect(h.alloc(300 * KiB, GFP_USER)).toBe(a);
    expect(b).toBeGreaterThan(a);
    h.check();
  });
});

describe('dlmalloc realloc', () => {
  it('grows in place into top', () => {
    const { h, steps } = heap();
    const a = h.alloc(100, GFP_USER);
    const calls = steps[STEP_CALL]!;
    expect(h.realloc(a, 5000, GFP_USER)).toBe(a);
    expect(steps[STEP_CALL]!).toBe(calls + 1);
    expect(h.usableSize(a)).toBeGreaterThanOrEqual(5000);
    expect(h.counters()['realloc_in_place']).toBe(1);
    h.check();
  });

  it('grows in place into a free next chunk', () => {
    const { h } = heap();
    const a = h.alloc(100, GFP_USER), b = h.alloc(1000, GFP_USER);
    h.alloc(16, GFP_USER);
    h.free(b);
    expect(h.realloc(a, 600, GFP_USER)).toBe(a);
    h.check();
    expect(h.usage().bytesReserved).toBe(608 + 32);
  });

  it('shrinks in place and frees the tail', () => {
    const { h } = heap();
    const a = h.alloc(2000, GFP_USER);
    h.alloc(16, GFP_USER);
    expect(h.realloc(a, 100, GFP_USER)).toBe(a);
    expect(h.usableSize(a)).toBe(104);
    h.check();
    expect(h.alloc(1800, GFP_USER)).toBe(a + 112); // the freed tail
  });

  it('moves (malloc, copy, free) when the next chunk is in use', () => {
    const { h } = heap();
    const a = h.alloc(100, GFP_USER);
    h.alloc(100, GFP_USER);
    const b = h.realloc(a, 1000, GFP_USER);
    expect(b).not.toBe(a);
    expect(h.counters()['realloc_moved']).toBe(1);
    h.check();
    expect(h.alloc(100, GFP_USER)).toBe(a); // the old block was freed
  });

  it('keeps the old block live when a moving realloc cannot get memory', () => {
    const { h } = heap({}, 16);
    const a = h.alloc(100, GFP_USER);
    h.alloc(100, GFP_USER);
    expect(h.realloc(a, 100 * KiB, GFP_USER)).toBe(-1);
    h.check();
    expect(h.usage().bytesReserved).toBe(224);
  });
});

describe('dlmalloc out of memory', () => {
  it('returns -1 without throwing when the page source is exhausted, and stays usable', () => {
    const { h, pages } = heap({}, 40);
    expect(h.alloc(1024 * KiB, GFP_USER)).toBe(-1); // first sys_alloc cannot sbrk 1 MiB
    expect(pages.used).toBe(0);
    const a = h.alloc(100, GFP_USER);
    expect(a).toBeGreaterThan(0);
    expect(h.alloc(200 * KiB, GFP_USER)).toBe(-1); // growing top fails
    expect(h.alloc(300 * KiB, GFP_USER)).toBe(-1); // mmap fails, then sbrk fails
    expect(pages.used).toBe(16);
    const ps: number[] = [];
    for (;;) { const p = h.alloc(4000, GFP_USER); if (p < 0) break; ps.push(p); }
    expect(pages.used).toBeLessThanOrEqual(40);
    expect(h.counters()['malloc_failed']).toBe(4);
    h.check();
    for (const p of ps) h.free(p);
    h.free(a);
    h.check();
  });
});

describe('PageBackedHeapMemory', () => {
  it('backs every page of brk and mmap with one physical page and frees them on shrink/munmap', () => {
    const pages = new LimitedPages(10);
    const m = new PageBackedHeapMemory(pages);
    expect(m.sbrk(0)).toBe(BRK_BASE);
    expect(m.sbrk(3 * 4096)).toBe(BRK_BASE);
    expect(m.pfnOf(BRK_BASE + 2 * 4096 + 5)).toBeGreaterThanOrEqual(0);
    expect(m.sbrk(8 * 4096)).toBe(-1); // all or nothing
    expect(pages.used).toBe(3);
    const a = m.mmap(2 * 4096), b = m.mmap(4096);
    expect([a, b]).toEqual([MMAP_BASE, MMAP_BASE + 2 * 4096]);
    m.munmap(a, 2 * 4096);
    expect(m.pfnOf(a)).toBe(-1);
    expect(m.mmap(4096)).toBe(a); // first fit in the hole
    expect(m.sbrk(-2 * 4096)).toBe(BRK_BASE + 3 * 4096);
    expect(m.residentPages()).toBe(pages.used);
    expect(pages.used).toBe(3);
  });
});

describe('dlmalloc random sequences (property)', () => {
  type Op = { kind: 0 | 1 | 2; size: number; pick: number };
  const sizeArb = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 6, arbitrary: fc.integer({ min: 256, max: 8192 }) },
    { weight: 1, arbitrary: fc.integer({ min: 8192, max: 600 * KiB }) },
  );
  const opArb: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom(0, 0, 1, 1, 2) as fc.Arbitrary<0 | 1 | 2>, size: sizeArb, pick: fc.nat() });

  function run(ops: Op[], dl: DlmallocOptions, limit: number): void {
    const { h, pages } = heap(dl, limit);
    const live: number[] = [];
    const req: number[] = [];
    const noOverlap = (): void => {
      const iv = live.map((a, i) => [a, a + Math.max(req[i]!, 1)] as const).sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < iv.length; i++) expect(iv[i]![0]).toBeGreaterThanOrEqual(iv[i - 1]![1]);
    };
    for (const op of ops) {
      if (op.kind === 0 || live.length === 0) {
        const a = h.alloc(op.size, GFP_USER);
        if (a >= 0) {
          expect(a % 16).toBe(0);
          expect(h.usableSize(a)).toBeGreaterThanOrEqual(op.size);
          live.push(a); req.push(op.size);
        }
      } else if (op.kind === 1) {
        const i = op.pick % live.length;
        h.free(live[i]!);
        live[i] = live[live.length - 1]!; live.pop();
        req[i] = req[req.length - 1]!; req.pop();
      } else {
        const i = op.pick % live.length;
        const a = h.realloc(live[i]!, op.size, GFP_USER);
        if (a >= 0) {
          expect(h.usableSize(a)).toBeGreaterThanOrEqual(op.size);
          live[i] = a; req[i] = op.size;
        }
      }
      h.check();
      noOverlap();
      expect(h.usage().pagesHeld).toBe(pages.used);
    }
    for (const a of live) h.free(a);
    h.check();
    expect(h.usage().bytesReserved).toBe(0);
    // all memory above the initial heap goes back once top is trimmed
    h.trim();
    expect(h.usage().pagesHeld).toBeLessThanOrEqual(DEFAULT_GRANULARITY / 4096);
    expect(pages.used).toBe(h.usage().pagesHeld);
  }

  it('keeps deep treebin tries valid through random frees and best-fit allocations', () => {
    // Many distinct sizes in a few treebins, each block fenced by an in-use guard, so the tries
    // grow deep and unlink_large_chunk replaces interior nodes by leaves from either side.
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 20, maxLength: 120 }),
      fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 120 }),
      (sizes, ops) => {
        const { h } = heap();
        const live: number[] = [];
        for (const s of sizes) { live.push(h.alloc(1024 + s * 16 - 8, GFP_USER)); h.alloc(16, GFP_USER); }
        for (const [isFree, pick, s] of ops) {
          if (isFree && live.length > 0) {
            const i = pick % live.length;
            h.free(live[i]!);
            live[i] = live[live.length - 1]!; live.pop();
          } else {
            const a = h.alloc(1024 + s * 16 - 8, GFP_USER);
            expect(a).toBeGreaterThan(0);
            live.push(a);
          }
          h.check();
        }
      }), { numRuns: 80 });
  });

  it('keeps every invariant with the default parameters', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 150 }), (ops) => run(ops, {}, Infinity)), { numRuns: 60 });
  });

  it('keeps every invariant with small trim/mmap thresholds and a page limit', () => {
    const dl = { trimThreshold: 32 * KiB, mmapThreshold: 16 * KiB, granularity: 8 * 1024 };
    fc.assert(fc.property(fc.array(opArb, { maxLength: 150 }), fc.integer({ min: 4, max: 300 }), (ops, limit) => run(ops, dl, limit)), { numRuns: 60 });
  });
});
