import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GFP_DMA32, GFP_HIGHUSER_MOVABLE, GFP_KERNEL, MIGRATE_TYPES } from '../src/machine/gfp.js';
import { Machine } from '../src/machine/machine.js';
import { flatMachine, loadMachine, parseSize } from '../src/machine/memory-map.js';
import { computeWatermarks, watermarksFor } from '../src/machine/watermarks.js';
import { NR_ORDERS, type PageStrategy, type PageStrategyOptions } from '../src/page/strategy.js';

/** A stand-in page strategy: records the hand-over and serves pages from a counter (no placement). */
class Recording implements PageStrategy {
  readonly name = 'recording';
  readonly pages: number;
  blocks: [number, number][] = [];
  free_ = 0;
  next = 0;
  constructor(o: PageStrategyOptions) { this.pages = o.pages; }
  alloc(order: number): number {
    if (this.free_ < 1 << order) return -1;
    this.free_ -= 1 << order;
    const p = this.next; this.next += 1 << order; return p;
  }
  free(pfn: number, order: number): void { this.blocks.push([pfn, order]); this.free_ += 1 << order; }
  freePages(): number { return this.free_; }
  freeArea(out: Float64Array): void { for (const [, o] of this.blocks) out[o]! += 1; }
  pageblockTypes(): void {}
  counters(): Record<string, number> { return {}; }
  check(): void {}
  metadataBytes(): number { return 0; }
}
const recording = (o: PageStrategyOptions) => new Recording(o);

describe('machine boot', () => {
  it('splits the desktop map into DMA, DMA32 and Normal at 16 MiB and 4 GiB', () => {
    const m = new Machine(loadMachine('desktop'), recording);
    expect(m.zones.map((z) => [z.name, z.startPfn, z.spanned])).toEqual([
      ['DMA', 0, 4096],
      ['DMA32', 4096, 1048576 - 4096],
      ['Normal', 1048576, 262144],
    ]);
  });

  it('hands DMA over in the kernel\'s blocks: the first 1 MiB reserved, then orders 8, 9, 10, 10, 10 as in a real buddyinfo', () => {
    const m = new Machine(loadMachine('desktop'), recording);
    const dma = m.zones[0]!.strategy as Recording;
    expect(dma.blocks).toEqual([[256, 8], [512, 9], [1024, 10], [2048, 10], [3072, 10]]);
    // this machine's real /proc/buddyinfo shows the same DMA line at rest
    expect(readFileSync('test/fixtures/proc/buddyinfo', 'utf8')).toMatch(/zone\s+DMA\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+1\s+1\s+3\s*\n/);
    expect(m.zones[0]!.managed).toBe(3840);
  });

  it('reserves the kernel image and a top-down memmap of 64 bytes per page of every present section', () => {
    const m = new Machine(loadMachine('desktop'), recording);
    const memmap = m.memblock.reserved.find((r) => r.label.startsWith('memmap'))!;
    // 24 sections below 3 GiB + 8 above 4 GiB, 2 MiB of struct pages each, at the very top of RAM
    expect(memmap.end - memmap.start).toBe(32 * 2 * 2 ** 20);
    expect(memmap.end).toBe(5 * 2 ** 30);
    const normal = m.zones[2]!;
    expect(normal.managed).toBe(262144 - 16384);
    const pages = m.zones.reduce((s, z) => s + z.managed, 0);
    expect(m.freePageCount()).toBe(pages);
  });

  it('never hands over holes or reserved ranges: every block lies inside a free memblock range', () => {
    const m = new Machine(loadMachine('small'), recording);
    const free = m.memblock.freeRanges();
    for (const z of m.zones) {
      for (const [pfn, order] of (z.strategy as Recording).blocks) {
        const s = (z.startPfn + pfn) * 4096, e = s + 4096 * 2 ** order;
        expect(free.some((r) => r.start <= s && e <= r.end)).toBe(true);
        expect((z.startPfn + pfn) % 2 ** order).toBe(0);
      }
    }
  });

  it('carves ZONE_MOVABLE from the top of the highest zone for movablecore=, aligned to MAX_ORDER pages', () => {
    const m = new Machine(loadMachine('desktop:movablecore=512M'), recording);
    const names = m.zones.map((z) => z.name);
    expect(names).toEqual(['DMA', 'DMA32', 'Normal', 'Movable']);
    const movable = m.zones[3]!;
    expect(movable.startPfn % 1024).toBe(0);
    expect(movable.startPfn + movable.spanned).toBe(1310720);
    expect(Math.abs(movable.present - 131072)).toBeLessThanOrEqual(1024);
  });
});

describe('watermarks', () => {
  it('reproduce this machine\'s /proc/zoneinfo min/low/high and protection from its managed pages', () => {
    // managed pages from test/fixtures/proc/zoneinfo; min_free_kbytes 67584 is khugepaged's recommendation for 3 zones
    const managed = [3840, 772917, 196608, 0];
    const w = computeWatermarks(managed, true);
    expect(w.minFreeKbytes).toBe(67584);
    expect(w.wmark.slice(0, 3)).toEqual([[66, 82, 98], [13416, 16770, 20124], [3412, 4265, 5118]]);
    expect(w.wmark[3]).toEqual([32, 32, 32]);
    expect(w.lowmemReserve[0]).toEqual([0, 3019, 3787, 3787]);
    expect(w.lowmemReserve[1]).toEqual([0, 0, 768, 768]);
  });

  it('without THP use int_sqrt(lowmem_kbytes * 16), clamped to [128, 262144]', () => {
    expect(computeWatermarks([3840, 772917, 196608, 0], false).minFreeKbytes).toBe(Math.floor(Math.sqrt(973365 * 4 * 16)));
    expect(computeWatermarks([100, 0, 0, 0], false).minFreeKbytes).toBe(128);
    expect(watermarksFor([1000], 400).wmark[0]![0]).toBe(100);
  });
});

describe('zone fallback', () => {
  it('serves GFP_KERNEL from Normal, then DMA32, never from DMA while its lowmem_reserve protects it', () => {
    const m = new Machine(flatMachine(parseSize('6G')), recording);
    const normal = m.zones.find((z) => z.name === 'Normal')!;
    const pfn = m.allocPages(0, GFP_KERNEL);
    expect(pfn).toBeGreaterThanOrEqual(normal.startPfn);
    let last = pfn;
    while (last >= normal.startPfn) last = m.allocPages(9, GFP_KERNEL);
    const dma32 = m.zones.find((z) => z.name === 'DMA32')!;
    expect(last).toBeGreaterThanOrEqual(dma32.startPfn);
    // Normal stopped at its low watermark, not at zero
    expect(normal.strategy.freePages()).toBeGreaterThan(0);
  });

  it('lets only __GFP_MOVABLE|__GFP_HIGHMEM requests into ZONE_MOVABLE and __GFP_DMA32 start at DMA32', () => {
    const m = new Machine(loadMachine('desktop:movablecore=512M'), recording);
    const movable = m.zones[3]!;
    expect(m.allocPages(0, GFP_KERNEL)).toBeLessThan(movable.startPfn);
    expect(m.allocPages(0, GFP_HIGHUSER_MOVABLE)).toBeGreaterThanOrEqual(movable.startPfn);
    expect(m.allocPages(0, GFP_DMA32)).toBeLessThan(1048576);
  });

  it('returns -1 when every zone is below its watermarks: out of memory is a result', () => {
    const m = new Machine(loadMachine('small'), recording);
    let n = 0;
    while (m.allocPages(10, GFP_KERNEL) >= 0) n++;
    expect(n).toBeGreaterThan(0);
    expect(m.allocPages(10, GFP_KERNEL)).toBe(-1);
    expect(m.freeState()[0]!.freeArea.length).toBe(MIGRATE_TYPES * NR_ORDERS);
  });
});
