import { describe, expect, it } from 'vitest';
import { MIGRATE_MOVABLE, ZONE_DMA32, ZONE_MOVABLE } from '../src/machine/gfp.js';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { newSteps } from '../src/machine/steps.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { RULES_6_1, RULES_6_12 } from '../src/page/kernel-version.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { pcpZone } from './support/pcp-zone.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { objectPageSource, replay } from '../src/run/replay.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { OP_PCP_DRAIN, OP_RECLAIM_BEGIN, OP_RECLAIM_END } from '../src/trace/ops.js';


/** Frees `got` one by one; the list's page count when the first drain fires, and the drain's size. */
function firstDrain(b: BuddyAllocator, got: number[]): { at: number; size: number } {
  const pcp = b.perCpuPages()!;
  const d0 = pcp.drains, blocks0 = pcp.drainBlocks;
  for (const p of got) {
    const before = pcp.pages();
    b.free(p, 0);
    if (pcp.drains !== d0) return { at: before + 1, size: pcp.drainBlocks - blocks0 };
  }
  throw new Error('no drain');
}

describe('ZONE_RECLAIM_ACTIVE: while kswapd balances, nr_pcp_high() caps the per-CPU lists (5.14+)', () => {
  // 6.1 nr_pcp_free(): batch << free_factor (0 after an allocation); 6.12: the run of frees (12), both within [batch, high - batch]
  for (const [name, rules, size] of [['6.1', RULES_6_1, 3], ['6.12', RULES_6_12, 9]] as const) {
    it(`${name}: a list drains at batch << 2 while reclaim is active, at high once it ends`, () => {
      const b = pcpZone(rules);
      const got: number[] = [];
      for (let i = 0; i < 90; i++) got.push(b.alloc(0, MIGRATE_MOVABLE));
      b.alloc(0, MIGRATE_MOVABLE); // an allocation after the refills resets the free run
      b.drainPcp();
      b.setReclaimActive(true);
      expect(firstDrain(b, got.slice(0, 40))).toEqual({ at: 12, size }); // batch << 2
      b.check();
      b.setReclaimActive(false);
      b.alloc(0, MIGRATE_MOVABLE);
      b.drainPcp();
      // without reclaim the list holds up to high (40; 6.12 raises it further on a run of frees)
      const drains = b.perCpuPages()!.drains;
      for (const p of got.slice(40, 79)) b.free(p, 0);
      expect(b.perCpuPages()!.drains).toBe(drains);
      b.check();
    });
  }

  it('the machine sets it on the zones up to the highest kswapd balances, and clears it on all', () => {
    const m = new Machine(loadMachine('mem=8G'), pageStrategyFactory('buddy-mobility'));
    const active = (): boolean[] => m.zones.map((z) => (z.strategy as BuddyAllocator).perCpuPages()!.reclaimActive);
    m.setReclaimActive(ZONE_DMA32, true);
    expect(m.zones.map((z) => z.name)).toEqual(['DMA', 'DMA32', 'Normal']);
    expect(active()).toEqual([true, true, false]);
    m.setReclaimActive(-1, false);
    expect(active()).toEqual([false, false, false]);
  });
});

describe('kernel recordings: kswapd and kcompactd', () => {
  let ts = 0;
  const line = (task: string, ev: string, fields: string): string => `  ${task} [000] ..... ${(8 + ++ts / 1e6).toFixed(6)}: ${ev}: ${fields}`;
  const TEXT = [
    line('kswapd0-38', 'mm_vmscan_kswapd_wake', 'nid=0 order=0'),
    line('kswapd0-38', 'balance_pgdat_ret', '(kswapd+0x1f0/0x3a0 <- balance_pgdat) ret=0'),
    line('kswapd0-38', 'mm_vmscan_kswapd_sleep', 'nid=0'), // balance_pgdat() already returned: nothing more
    line('kswapd0-38', 'mm_vmscan_kswapd_wake', 'nid=0 zid=1 order=3'),
    line('kswapd0-38', 'mm_vmscan_kswapd_sleep', 'nid=0'), // no kretprobe: the sleep ends it
    line('kcompactd0-28', 'mm_compaction_end', 'zone_start=0x1 migrate_pfn=0x1 free_pfn=0xe00 zone_end=0x1000, mode=sync status=success'),
    line('kcompactd0-28', 'mm_compaction_end', 'zone_start=0x1000 migrate_pfn=0x6c00 free_pfn=0x6c00 zone_end=0xffdc, mode=sync status=complete'),
    line('kcompactd0-28', 'mm_compaction_end', 'zone_start=0x1000 migrate_pfn=0xfe00 free_pfn=0xfe00 zone_end=0xffdc, mode=sync status=partial_skipped'),
    line('kcompactd0-28', 'mm_compaction_end', 'zone_start=0x1000 migrate_pfn=0x2400 free_pfn=0x6f40 zone_end=0xffdc, mode=sync status=contended'),
    line('sh-136', 'mm_compaction_end', 'zone_start=0x1000 migrate_pfn=0xc000 free_pfn=0xc000 zone_end=0xffdc, mode=sync status=complete'),
  ].join('\n') + '\n';

  it('kswapd\'s balancing and kcompactd\'s drains become ops; direct compaction and other outcomes do not drain', () => {
    const t = parseKernelTrace(TEXT, 'reclaim.ftrace');
    const ops: [number, number][] = [];
    for (let e = 0; e < t.length; e++) ops.push([t.op[e]!, t.aux[e]!]);
    expect(ops).toEqual([
      [OP_RECLAIM_BEGIN, ZONE_MOVABLE], // no zid=: every zone
      [OP_RECLAIM_END, 0],
      [OP_RECLAIM_BEGIN, ZONE_DMA32],
      [OP_RECLAIM_END, 0],
      [OP_PCP_DRAIN, ZONE_DMA32], // complete
      [OP_PCP_DRAIN, ZONE_DMA32], // partial_skipped
    ]);
    expect(t.stats).toMatchObject({ kswapd_runs: 2, kcompactd_drains: 2 });
  });
});

describe('replaying a kernel recording with a kswapd run and a kcompactd drain', () => {
  // 200 order-0 pages of DMA32 allocated, then freed; `window` puts the frees inside a kswapd run,
  // `drain` ends with kcompactd's drain of DMA32
  const text = (window: boolean, drain: boolean): string => {
    let ts = 0;
    const line = (task: string, ev: string, fields: string): string => `  ${task} [000] ..... ${(8 + ++ts / 1e6).toFixed(6)}: ${ev}: ${fields}`;
    const pfn = (k: number): string => `0x${(0x5000 + k).toString(16)}`;
    const page = (k: number): string => (0xffffea0000000000n + BigInt(0x5000 + k) * 64n).toString(16);
    const out: string[] = [];
    for (let k = 0; k < 200; k++) out.push(line('sh-1', 'mm_page_alloc', `page=${page(k)} pfn=${pfn(k)} order=0 migratetype=0 gfp_flags=GFP_KERNEL`));
    if (window) out.push(line('kswapd0-38', 'mm_vmscan_kswapd_wake', 'nid=0 order=0'));
    for (let k = 0; k < 200; k++) out.push(line('sh-1', 'mm_page_free', `page=${page(k)} pfn=${pfn(k)} order=0`));
    if (window) out.push(line('kswapd0-38', 'balance_pgdat_ret', '(kswapd+0x1f0/0x3a0 <- balance_pgdat) ret=0'));
    if (drain) out.push(line('kcompactd0-28', 'mm_compaction_end', 'zone_start=0x1000 migrate_pfn=0x1000 free_pfn=0x1000 zone_end=0x10000, mode=sync status=complete'));
    return out.join('\n') + '\n';
  };
  const run = (window: boolean, drain: boolean): { drains: number; onLists: number } => {
    const m = new Machine(loadMachine('mem=256M'), pageStrategyFactory('buddy:6.1'));
    const source = objectPageSource(m);
    const objects = objectStrategyFactory('slub')({ pages: source, steps: m.steps, cpus: m.cpus, cpuCursor: m.cpuCursor });
    replay(parseKernelTrace(text(window, drain), 'k.ftrace'), m, objects, source);
    const pcp = (m.zones.find((z) => z.name === 'DMA32')!.strategy as BuddyAllocator).perCpuPages()!;
    return { drains: pcp.drains, onLists: pcp.pages() };
  };

  it('caps the lists while kswapd runs, and kcompactd\'s drain empties them', () => {
    const plain = run(false, false), capped = run(true, false), drained = run(false, true);
    // 6.1 on 256 MiB: high 516, batch 15; 200 frees stay on the list without kswapd
    expect(plain.drains).toBe(0);
    expect(plain.onLists).toBeGreaterThanOrEqual(200);
    // with it, a drain each time the count reaches batch << 2 = 60 (15, 30, then 45 pages: the
    // free_factor doubling, clamped to high - batch): the list never holds more
    expect(capped.drains).toBe(5);
    expect(capped.onLists).toBeLessThan(60);
    expect(drained.onLists).toBe(0);
  });
});
