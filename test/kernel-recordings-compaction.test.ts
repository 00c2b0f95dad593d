import { describe, expect, it } from 'vitest';
import { MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, __GFP_DMA } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { objectPageSource, replay } from '../src/run/replay.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { GFP_COMPACTION_TARGET, isCompactionTarget, OP_PAGE_ALLOC, OP_PAGE_FREE, PAGE_PIECE } from '../src/trace/ops.js';
import type { Trace } from '../src/trace/trace.js';

// a made-up boot's vmemmap_base (KASLR places it per boot); struct page is 64 bytes
const VMEMMAP = 0xfffffc8b00000000n;
const page = (pfn: number): string => `0x${(VMEMMAP + BigInt(pfn) * 64n).toString(16)}`;
let ts = 0;
const line = (ev: string, fields: string, cpu = 0): string => `      kcompactd0-28      [00${cpu}] d..1.  ${(10 + ++ts / 1e6).toFixed(6)}: ${ev}: ${fields}`;
const isolate = (pfn: number, order: number, cpu = 0): string =>
  line('isolate_free_page', `(__isolate_free_page+0x0/0x2b0) page=${page(pfn)} order=${order} vmemmap_base=0x${VMEMMAP.toString(16)}`, cpu);
const isolated = (ret: number, cpu = 0): string => line('isolate_free_page_ret', `(isolate_freepages_block+0x261/0x410 <- __isolate_free_page) ret=${ret}`, cpu);
const alloc = (pfn: number, order: number): string => line('mm_page_alloc', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=${order} migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE`);
const free = (pfn: number, order: number): string => line('mm_page_free', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=${order}`);
const freeBatched = (pfn: number): string => line('mm_page_free_batched', `page=${page(pfn)} pfn=0x${pfn.toString(16)} order=0`);

/**
 * Compaction on two CPUs: cpu 0 isolates the order-2 block at 0x100 and cpu 1 the order-0 page at
 * 0x203 (entries and returns interleaved); an order-3 isolation is refused (ret 0). The pieces of
 * 0x100 come back as an order-0 page (freed through a list: reported twice), an order-1 piece and
 * finally the head; 0x101 is allocated again in between (an ordinary allocation). 0x203 is never
 * freed (a migration target holding data at the end). 0x900 is freed without an allocation
 * (pre-trace memory, not a piece).
 */
const TEXT = [
  alloc(0x101, 0), free(0x101, 0), // seen before the isolation: freed, so the isolation may take it
  isolate(0x100, 2, 0), isolate(0x203, 0, 1), isolated(4, 0), isolated(1, 1),
  isolate(0x400, 3, 0), isolated(0, 0),
  free(0x101, 0), freeBatched(0x101), free(0x102, 1), alloc(0x101, 0), free(0x100, 0), free(0x101, 0),
  free(0x900, 0),
].join('\n') + '\n';

const rows = (t: Trace, o: number): [number, number, number][] => {
  const out: [number, number, number][] = [];
  for (let e = 0; e < t.length; e++) if (t.op[e] === o) out.push([t.id[e]!, t.lo[e]!, t.aux[e]!]);
  return out;
};

describe('compaction targets in a kernel recording (kprobes on __isolate_free_page)', () => {
  it('each isolation is a movable allocation of its block, and its pieces\' frees pair with it', () => {
    const t = parseKernelTrace(TEXT, 'compaction.ftrace');
    const allocs = rows(t, OP_PAGE_ALLOC);
    // 0x101, the two isolations (order 2, order 0: compaction targets), 0x101 again
    expect(allocs.map(([, o, g]) => [o, isCompactionTarget(g)])).toEqual([[0, false], [2, true], [0, true], [0, false]]);
    // both isolations were in ZONE_DMA (below 16 MiB): the target names the zone compacted
    expect(allocs[1]![2]).toBe(GFP_COMPACTION_TARGET | __GFP_DMA);
    const block = allocs[1]![0];
    const frees = rows(t, OP_PAGE_FREE);
    // 0x101 plain; pieces of the block: offset 1 order 0, offset 2 order 1, then the head, its last piece (~0);
    // the reallocated 0x101 freed plainly; 0x900 pre-trace (a new id)
    expect(frees.slice(0, 4)).toEqual([
      [allocs[0]![0], 0, 0],
      [block, PAGE_PIECE, 1], [block, PAGE_PIECE + 1, 2], [block, PAGE_PIECE, ~0],
    ]);
    expect(frees[4]).toEqual([allocs[3]![0], 0, 0]);
    expect(frees[5]![0]).toBeGreaterThan(allocs[3]![0]);
    expect(frees).toHaveLength(6);
    expect(t.stats).toMatchObject({
      compaction_isolations: 2, compaction_isolated_pages: 5, compaction_isolations_refused: 1,
      compaction_isolation_returns_unpaired: 0, compaction_isolation_conflicts: 0,
      compaction_target_piece_frees: 3, compaction_target_pages_held_at_end: 1, duplicate_batched_frees: 1,
    });
  });

  // buddy frees each piece where the simulated block lies (PageStrategy.freePart); bitmap has no
  // freePart and gets the block back whole with its last piece: either way only 0x203 stays
  for (const page of ['buddy', 'buddy-mobility', 'bitmap']) {
    it(`${page}: the replay frees the pieces, only the held page stays allocated, the invariants hold after every event`, () => {
      const t = parseKernelTrace(TEXT, 'compaction.ftrace');
      const m = new Machine(loadMachine('small'), pageStrategyFactory(page));
      const start = m.freePageCount() + m.pcpPageCount();
      const source = objectPageSource(m);
      const objects = objectStrategyFactory('slub')({ pages: source, steps: m.steps, cpus: m.cpus, cpuCursor: m.cpuCursor });
      const counts = replay(t, m, objects, source, { checkEvery: 1 });
      expect(counts.trace_errors).toBe(1); // 0x900: pre-trace memory, with no start state here
      expect(counts.page_block_pages_live).toBe(1);
      expect(m.freePageCount() + m.pcpPageCount()).toBe(start - 1);
    });
  }

  it('a traced page a target still holds lost its free: freed from the target first, counted', () => {
    const t = parseKernelTrace([isolate(0x100, 1), isolated(2), alloc(0x101, 0), free(0x101, 0), free(0x100, 0)].join('\n') + '\n', 'c.ftrace');
    const [, block] = rows(t, OP_PAGE_ALLOC).map(([id]) => id);
    expect(rows(t, OP_PAGE_FREE)[0]).toEqual([rows(t, OP_PAGE_ALLOC)[0]![0], PAGE_PIECE, 1]);
    expect(block).toBeGreaterThan(rows(t, OP_PAGE_ALLOC)[0]![0]);
    expect(t.stats).toMatchObject({ compaction_isolation_conflicts: 1, compaction_target_piece_frees: 1, compaction_target_pages_held_at_end: 0 });
  });

  it('buddy takes a target where the free scanner meets one: the top free block of a suitable pageblock', () => {
    const b = new BuddyAllocator({ pages: 4096, steps: newSteps() }, true);
    // pageblock 7 (3584..4095) Unmovable: its small free blocks are no targets (suitable_migration_target())
    for (let pb = 0; pb < 8; pb++) b.setPageblockType(pb, pb === 7 ? MIGRATE_UNMOVABLE : MIGRATE_MOVABLE);
    for (let p = 0; p < 4096; p += 1024) b.free(p, 10);
    // no order-3 block: the highest order-10 block (order ≥ pageblock_order: suitable anywhere), cut from its top
    expect(b.allocCompactionTarget(3)).toBe(4088);
    // now 4080 (order 3) is free, but in the Unmovable pageblock; so are 4064 (4), 4032 (5) ... 3584 (9):
    // the highest suitable one is the order-9 block at 3584, whole, then 3072's order-9 half below it
    expect(b.allocCompactionTarget(3)).toBe(3584 - 8);
    expect(b.allocCompactionTarget(9)).toBe(2048 + 512);
    expect(b.freePages()).toBe(4096 - 8 - 8 - 512);
    b.check();
  });
});
