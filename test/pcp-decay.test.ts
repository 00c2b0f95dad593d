import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATE_MOVABLE } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { RULES_6_1, RULES_6_12, type BuddyRules } from '../src/page/kernel-version.js';
import { GFP_KERNEL } from '../src/machine/gfp.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { OP_PAGE_ALLOC, OP_PAGE_FREE, OP_TICK } from '../src/trace/ops.js';
import { TraceBuilder } from '../src/trace/trace.js';
import { loadTrace } from '../src/trace/load.js';

/** 4 pageblocks handed over; pcp batch 3, high_min 40 (6.12: high_max 2048), 1 CPU; high watermark `highWmark`. */
function zone(rules: BuddyRules, highWmark?: number): BuddyAllocator {
  const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules, pcp: true });
  for (let pfn = 0; pfn < 2048; pfn += 1024) b.free(pfn, 10);
  b.setupPcp(16384, 40, 1, { cpu: 0 }, highWmark);
  return b;
}

/** Allocates n order-0 pages, then frees them all: the list ends with most of them. */
function allocThenFree(b: BuddyAllocator, n: number): void {
  const got: number[] = [];
  for (let i = 0; i < n; i++) got.push(b.alloc(0, MIGRATE_MOVABLE));
  for (const p of got) b.free(p, 0);
}

describe('6.7+ decay_pcp_high() once a second (vmstat_update)', () => {
  it('6.12: high falls by an eighth a tick towards high_min and the pages above it drain; 6.1 has no decay', () => {
    const b = zone(RULES_6_12);
    const pcp = b.perCpuPages()!;
    allocThenFree(b, 400);
    const high0 = pcp.highOf(0);
    const count0 = pcp.pages();
    expect(high0).toBeGreaterThan(300); // auto-tuned up by the refills and the run of frees
    expect(count0).toBeGreaterThan(pcp.highMin);
    const drainsBefore = pcp.drainBlocks;
    b.decayPcp();
    // max3(count - (batch << 5), high - high / 8, high_min)
    const high1 = Math.max(count0 - (3 << 5), high0 - (high0 >> 3), pcp.highMin);
    expect(pcp.highOf(0)).toBe(high1);
    expect(pcp.pages()).toBe(Math.min(count0, high1));
    for (let t = 0; t < 60; t++) b.decayPcp();
    expect(pcp.highOf(0)).toBe(pcp.highMin);
    expect(pcp.pages()).toBeLessThanOrEqual(pcp.highMin);
    expect(pcp.drainBlocks).toBeGreaterThan(drainsBefore);
    b.check();

    const old = zone(RULES_6_1);
    allocThenFree(old, 400);
    const before = old.perCpuPages()!.pages();
    expect(old.decayPcp()).toBe(0);
    expect(old.perCpuPages()!.pages()).toBe(before);
    expect(old.perCpuPages()!.highOf(0)).toBe(40);
  });

  it('6.12 ZONE_BELOW_HIGH: below the high watermark, refills stop raising high and frees shrink it', () => {
    const above = zone(RULES_6_12, 0); // the zone never falls below a high watermark of 0
    const below = zone(RULES_6_12, 4096); // always below
    allocThenFree(above, 400);
    allocThenFree(below, 400);
    expect(above.perCpuPages()!.highOf(0)).toBeGreaterThan(300);
    expect(below.perCpuPages()!.highOf(0)).toBe(40);
    expect(below.perCpuPages()!.pages()).toBeLessThanOrEqual(40);
    below.check();
  });
});

describe('6.8+ PCPF_FREE_HIGH_BATCH (free_unref_page_commit)', () => {
  it('6.12: a run of order-1 frees drains the list only while it holds at least batch pages; without the flag it drains to empty', () => {
    const run = (rules: BuddyRules): number => {
      const b = zone(rules);
      const got: number[] = [];
      for (let i = 0; i < 8; i++) got.push(b.alloc(1, MIGRATE_MOVABLE));
      for (const p of got) b.free(p, 1);
      b.check();
      return b.perCpuPages()!.pages();
    };
    const noFlag: BuddyRules = { ...RULES_6_12, pcp: { ...RULES_6_12.pcp, freeHighBatch: false } };
    expect(run(noFlag)).toBe(0); // the last free: free_high with 2 pages on the list, all drained
    const kept = run(RULES_6_12);
    expect(kept).toBeGreaterThan(0); // 2 pages < batch 3: no free_high, the block stays
    expect(kept).toBeLessThan(3);
  });
});

describe('tick events of a kernel recording', () => {
  it('the replay runs vmstat_update() at each tick: the lists of a 6.12 model shrink, a 6.1 model keeps them', () => {
    const pcpPages = (page: string, ticks: number): number => {
      const b = new TraceBuilder('ticks', 'test', 8000);
      const ids: number[] = [];
      for (let i = 0; i < 3000; i++) { const id = b.newId(); ids.push(id); b.push(OP_PAGE_ALLOC, id, 0, GFP_KERNEL); }
      for (const id of ids) b.push(OP_PAGE_FREE, id, 0, 0);
      for (let i = 0; i < ticks; i++) b.push(OP_TICK, 0, 0, 0);
      const t = b.finish();
      const r = runCell({ trace: t.name, machine: 'small', page, object: 'slub', seed: 1 }, t, loadMachine('small'), { samples: 0 });
      return (r.metrics.page_counters as Record<string, number>).pcp_pages!;
    };
    const kept = pcpPages('buddy:6.12', 0);
    expect(pcpPages('buddy:6.12', 40)).toBeLessThan(kept);
    expect(pcpPages('buddy:6.1', 40)).toBe(pcpPages('buddy:6.1', 0));
  });

  it('the loader emits one tick per whole second its timestamps cross, before the line that crosses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tick-'));
    const f = join(dir, 't.ftrace');
    writeFileSync(f, [
      '  sh-1 [000] ..... 1.500000: mm_page_alloc: page=fffff84c4000400c0 pfn=0x100 order=0 migratetype=1 gfp_flags=GFP_KERNEL',
      '  sh-1 [000] ..... 1.900000: mm_page_alloc: page=fffff84c4000410c0 pfn=0x101 order=0 migratetype=1 gfp_flags=GFP_KERNEL',
      '  sh-1 [001] ..... 2.100000: mm_page_alloc: page=fffff84c4000420c0 pfn=0x102 order=0 migratetype=1 gfp_flags=GFP_KERNEL',
      '  sh-1 [000] ..... 4.300000: mm_page_alloc: page=fffff84c4000430c0 pfn=0x103 order=0 migratetype=1 gfp_flags=GFP_KERNEL',
      '',
    ].join('\n'));
    const t = loadTrace(f);
    const ops = Array.from(t.op.subarray(0, t.length));
    expect(ops).toEqual([OP_PAGE_ALLOC, OP_PAGE_ALLOC, OP_TICK, OP_PAGE_ALLOC, OP_TICK, OP_TICK, OP_PAGE_ALLOC]);
    expect(t.cpu![2]).toBe(-1); // a tick runs on every CPU
    expect(t.tid![2]).toBe(-1); // in no traced task
    // a gap of a million seconds: at most 64 ticks, enough for any decay to reach high_min
    writeFileSync(f, [
      '  sh-1 [000] ..... 1.500000: mm_page_alloc: page=fffff84c400040c0 pfn=0x100 order=0 migratetype=1 gfp_flags=GFP_KERNEL',
      '  sh-1 [000] ..... 1000001.5: mm_page_alloc: page=fffff84c400041c0 pfn=0x101 order=0 migratetype=1 gfp_flags=GFP_KERNEL',
      '',
    ].join('\n'));
    const g = loadTrace(f);
    expect(Array.from(g.op.subarray(0, g.length)).filter((o) => o === OP_TICK).length).toBe(64);
  });
});
