import { describe, expect, it } from 'vitest';
import { NR_ORDERS } from '../src/machine/page-geometry.js';
import { newSteps } from '../src/machine/steps.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { objectPageSource, replay } from '../src/run/replay.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { compactionTargetGfp, GFP_COMPACTION_TARGET } from '../src/trace/ops.js';

// the handmade kernel recording's lines (as in kernel-recordings-compaction.test.ts)
const VMEMMAP = 0xfffffc8b00000000n;
const page = (pfn: number): string => `0x${(VMEMMAP + BigInt(pfn) * 64n).toString(16)}`;
let ts = 0;
const line = (ev: string, fields: string): string => `      kcompactd0-28      [000] d..1.  ${(10 + ++ts / 1e6).toFixed(6)}: ${ev}: ${fields}`;
const alloc = (pfn: number): string => line('mm_page_alloc', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE`);
const free = (pfn: number): string => line('mm_page_free', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=0`);
const isolate = (pfn: number): string => [
  line('isolate_free_page', `(__isolate_free_page+0x0/0x2b0) page=${page(pfn)} order=0 vmemmap_base=0x${VMEMMAP.toString(16)}`),
  line('isolate_free_page_ret', '(isolate_freepages_block+0x261/0x410 <- __isolate_free_page) ret=1'),
].join('\n');

/**
 * 1024 movable pages fill two pageblocks of the model's layout, the lower (P1) first; P1 keeps its
 * first 128, P2 every other page (256 single free pages, buddies of held ones: no merging). Then
 * 128 recorded order-0 isolations take P2's top 128 holes as targets, and the recording frees the
 * pages the kernel migrated from: 128 held pages of P2 in the model's layout. The kernel's migrate
 * scanner took the zone's lowest movable pages, so the model frees P1's 128 instead (their data
 * takes the freed pages' places): P1 becomes free whole, P2 gets no new holes.
 */
const trace = (isolatedAt: number): string => [
  ...Array.from({ length: 1024 }, (_, k) => alloc(0x1000 + k)),
  ...Array.from({ length: 384 }, (_, k) => free(0x1000 + 128 + k)),
  ...Array.from({ length: 256 }, (_, k) => free(0x1000 + 512 + 2 * k + 1)),
  ...Array.from({ length: 128 }, (_, k) => isolate(isolatedAt + k)),
  ...Array.from({ length: 128 }, (_, k) => free(0x1000 + 512 + 2 * k)),
].join('\n') + '\n';
/** the kernel isolated its targets in DMA32 (the zone whose pages the recording then frees) */
const TRACE = trace(0x8000);

function freeBlocks(withModel: boolean, text = TRACE): { perOrder: number[]; free: number; live: number } {
  const t = parseKernelTrace(text, 'compaction.ftrace');
  expect(t.stats).toMatchObject({ compaction_isolations: 128 });
  if (!withModel) delete t.stats!.compaction_isolations;
  const m = new Machine(loadMachine('small'), pageStrategyFactory('buddy-mobility:pcp=off'));
  const source = objectPageSource(m);
  const objects = objectStrategyFactory('slub')({ pages: source, steps: m.steps, cpus: m.cpus, cpuCursor: m.cpuCursor });
  const counts = replay(t, m, objects, source, { checkEvery: 64 });
  const top = m.freeState().at(-1)!;
  const perOrder = Array.from({ length: NR_ORDERS }, (_, o) => {
    let n = 0;
    for (let i = o; i < top.freeArea.length; i += NR_ORDERS) n += top.freeArea[i]!;
    return n;
  });
  return { perOrder, free: m.freePageCount(), live: counts.page_block_pages_live! };
}

describe('the model\'s own compaction for a recording with compaction (run/compaction-replay.ts)', () => {
  it('frees the model\'s lowest movable blocks for the recorded sources: the low pageblock becomes free whole', () => {
    const on = freeBlocks(true), off = freeBlocks(false);
    // the pages in use do not change: blocks are only renamed
    expect(on.free).toBe(off.free);
    expect(on.live).toBe(off.live);
    // without the model the sources' frees leave holes in P2 (single pages among others)
    expect(off.perOrder[0]).toBeGreaterThan(0);
    expect(on.perOrder[0]).toBe(0);
    // P1 is free whole: 512 more pages in free blocks of pageblock order or more (it merged with its free buddy)
    const large = (r: { perOrder: number[] }): number => r.perOrder[9]! * 512 + r.perOrder[10]! * 1024;
    expect(large(on) - large(off)).toBe(512);
  });

  it('compacts each zone on its own: targets isolated in DMA make no DMA32 free a migration source', () => {
    // the same frees, but the kernel's isolations were in ZONE_DMA (pfn < 0x1000): it compacted
    // DMA, so DMA32's frees are the trace's own and stay where they are
    const dma = freeBlocks(true, trace(0x800)), off = freeBlocks(false, trace(0x800));
    expect(dma.perOrder).toEqual(off.perOrder);
    expect(dma.free).toBe(off.free);
  });

  it('a recorded target is taken in the zone the kernel isolated it in (compact_zone() scans one zone)', () => {
    const m = new Machine(loadMachine('small'), pageStrategyFactory('buddy-mobility:pcp=off'));
    const [dma, dma32] = m.zones;
    for (const [recorded, zone] of [[0x800, dma!], [0x8000, dma32!]] as const) {
      const pfn = m.allocCompactionTarget(2, compactionTargetGfp(recorded));
      expect(pfn).toBeGreaterThanOrEqual(zone.startPfn);
      expect(pfn).toBeLessThan(zone.startPfn + zone.spanned);
    }
    // an aux without zone bits (traces compiled before targets carried them): the highest zone
    expect(m.allocCompactionTarget(2, GFP_COMPACTION_TARGET)).toBeGreaterThanOrEqual(dma32!.startPfn);
  });

  it('its free scanner never takes a free block of pageblock order or more (suitable_migration_target())', () => {
    const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true);
    for (let p = 0; p < 2048; p += 1024) b.free(p, 10);
    expect(b.allocCompactionTarget(3, false)).toBe(-1);
    // a recorded target (large: the kernel did take a block there) is cut from the top of one
    expect(b.allocCompactionTarget(3)).toBe(2040);
    expect(b.allocCompactionTarget(3, false)).toBe(2032);
    b.check();
  });
});
