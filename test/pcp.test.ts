import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine/machine.js';
import { recordedMachine } from '../src/machine/recorded-machine.js';
import { MIGRATE_MOVABLE, MIGRATE_UNMOVABLE } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { RULES_6_1, RULES_6_12, rulesForKernel } from '../src/page/kernel-version.js';
import { pagesetValues, zoneBatchsize } from '../src/page/pcp.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { pcpZone } from './support/pcp-zone.js';

/** Per zone: managed, low and each CPU's pageset high/batch of a /proc/zoneinfo. */
function pagesets(text: string): Map<string, { managed: number; low: number; high: number[]; batch: number[] }> {
  const out = new Map<string, { managed: number; low: number; high: number[]; batch: number[] }>();
  let z: { managed: number; low: number; high: number[]; batch: number[] } | undefined;
  for (const line of text.split('\n')) {
    const zm = /^Node\s+\d+,\s+zone\s+(\S+)/.exec(line);
    if (zm) { z = { managed: 0, low: 0, high: [], batch: [] }; out.set(zm[1]!, z); continue; }
    if (z === undefined) continue;
    // watermarks "low 42" / "high 50" have no colon, the pagesets' "high: 42" / "batch: 1" do
    const m = /^\s+(managed|low|high:|batch:)\s+(\d+)\s*$/.exec(line);
    if (m === null) continue;
    if (m[1] === 'managed') z.managed = Number(m[2]);
    else if (m[1] === 'low') z.low = Number(m[2]);
    else if (m[1] === 'high:') z.high.push(Number(m[2]));
    else z.batch.push(Number(m[2]));
  }
  return out;
}

const recordings = readdirSync('traces/kernel', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe('pcp batch and high as the kernel computes them', () => {
  it('zone_batchsize() of a few zone sizes', () => {
    expect(zoneBatchsize(3840)).toBe(0); // DMA: max(1, …) makes it 1
    expect(zoneBatchsize(48844)).toBe(15);
    expect(zoneBatchsize(243782)).toBe(63);
    expect(zoneBatchsize(4 << 20)).toBe(63); // capped at 1 MiB of pages
  });

  it.each(recordings)('%s: the simulated machine sets the pagesets of its zoneinfo', (name) => {
    const dir = join('traces/kernel', name);
    const machineJson = JSON.parse(readFileSync(join(dir, 'machine.json'), 'utf8')) as { kernel_version: string; cpus: number };
    const rules = rulesForKernel(machineJson.kernel_version)!;
    expect(rules).toBeDefined();
    const rec = recordedMachine(join(dir, `${name}.ftrace.gz`), name)!;
    expect(rec.config.kernel).toBe(machineJson.kernel_version);
    // the machine's kernel picks the rule set of a buddy spec without a version
    const m = new Machine(rec.config, pageStrategyFactory('buddy-mobility'));
    for (const z of m.zones) expect(z.strategy.rules).toBe(rules);
    // zoneinfo's "low" includes watermark_boost (fork-fragment after: 1028); the pagesets were set
    // from the unboosted low, as in the before snapshot
    const boot = pagesets(readFileSync(join(dir, 'before', 'zoneinfo'), 'utf8'));
    for (const snap of ['before', 'after']) {
      const real = pagesets(readFileSync(join(dir, snap, 'zoneinfo'), 'utf8'));
      for (const z of m.zones) {
        const r = { ...real.get(z.name)!, low: boot.get(z.name)!.low };
        const sim = (z.strategy as BuddyAllocator).perCpuPages()!;
        expect(r.batch.length).toBe(machineJson.cpus);
        for (const b of r.batch) expect(sim.batch).toBe(b);
        // the simulated machine's low watermark is within a few pages of the kernel's (DMA 217 vs 220; DMA32 of the 1 GiB guests ~4% low),
        // so its high is too; from the recorded managed and low, the values are exact
        expect(Math.abs(sim.highMin - pagesetValues(r.managed, r.low, machineJson.cpus, rules.pcp).highMin)).toBeLessThanOrEqual(Math.max(2, Math.ceil(0.04 * sim.highMin)));
        const pcp = pagesetValues(r.managed, r.low, machineJson.cpus, rules.pcp);
        expect(pcp.batch).toBe(sim.batch);
        if (rules === RULES_6_1) for (const h of r.high) expect(pcp.highMin).toBe(h);
        else {
          // 6.7+ auto-tunes pcp->high between high_min and high_max; idle after a workload it decays to high_min
          for (const h of r.high) { expect(h).toBeGreaterThanOrEqual(pcp.highMin); expect(h).toBeLessThanOrEqual(pcp.highMax); }
          if (snap === 'after') expect(Math.min(...r.high)).toBe(pcp.highMin);
        }
      }
    }
  });
});


describe('per-CPU page lists', () => {
  it('refills batch blocks, reuses the list LIFO, and leaves the pages out of buddyinfo', () => {
    const b = pcpZone();
    const pcp = b.perCpuPages()!;
    expect([pcp.batch, pcp.highMin]).toEqual([3, 40]);
    const a = b.alloc(0, MIGRATE_MOVABLE);
    expect(pcp.refills).toBe(1);
    expect(pcp.refillBlocks).toBe(3);
    expect(pcp.pages()).toBe(2);
    expect(b.freePages()).toBe(2048 - 3);
    const x = b.alloc(0, MIGRATE_MOVABLE);
    b.free(a, 0);
    b.free(x, 0);
    expect(b.alloc(0, MIGRATE_MOVABLE)).toBe(x); // last freed, first reused
    expect(b.alloc(0, MIGRATE_MOVABLE)).toBe(a);
    expect(pcp.refills).toBe(1);
    const area = new Float64Array(4 * 11);
    b.freeArea(area);
    let listed = 0;
    for (let o = 0; o < 11; o++) for (let mt = 0; mt < 4; mt++) listed += area[mt * 11 + o]! << o;
    expect(listed).toBe(b.freePages()); // pcp pages are not in buddyinfo
    b.check();
  });

  it('drains batch pages, the oldest first, when count reaches high', () => {
    const b = pcpZone();
    const pcp = b.perCpuPages()!;
    const got: number[] = [];
    for (let i = 0; i < 45; i++) got.push(b.alloc(0, MIGRATE_MOVABLE));
    b.alloc(0, MIGRATE_MOVABLE); // an allocation between the frees and the refills resets free_factor
    const pagesBefore = pcp.pages();
    let freed = 0;
    while (pcp.drains === 0) { b.free(got[freed]!, 0); freed++; }
    // the drain fired when count reached high (40), and gave back batch (3) pages
    expect(pagesBefore + freed).toBe(40);
    expect(pcp.drainBlocks).toBe(3);
    expect(pcp.pages()).toBe(37);
    b.check();
    // drain_all_pages() empties the lists before reclaim/OOM
    expect(b.drainPcp()).toBe(37);
    expect(pcp.pages()).toBe(0);
    b.check();
  });

  it('6.1: the drain fires at this CPU\'s pcp->high as a recording\'s start sets it, not at zone_highsize()', () => {
    const b = pcpZone();
    const pcp = b.perCpuPages()!;
    b.setPcpHigh(0, 30); // before/zoneinfo's high: 10 below the model's 40 (fork-fragment: 516 against 518)
    const got: number[] = [];
    for (let i = 0; i < 45; i++) got.push(b.alloc(0, MIGRATE_MOVABLE));
    b.alloc(0, MIGRATE_MOVABLE);
    const pagesBefore = pcp.pages();
    let freed = 0;
    while (pcp.drains === 0) { b.free(got[freed]!, 0); freed++; }
    expect(pagesBefore + freed).toBe(30);
    b.check();
  });

  it('6.1 (Debian 6.1.y): free_factor stops at CONFIG_PCP_BATCH_SCALE_MAX, so a long run of frees drains batch << 5 at most', () => {
    const b = pcpZone();
    const pcp = b.perCpuPages()!;
    b.setPcpHigh(0, 400); // high - batch = 397, above batch << 6 = 192
    const got: number[] = [];
    for (let i = 0; i < 1200; i++) got.push(b.alloc(0, MIGRATE_MOVABLE));
    b.alloc(0, MIGRATE_MOVABLE);
    const sizes: number[] = [];
    let drained = pcp.drainBlocks;
    for (const p of got) {
      b.free(p, 0);
      if (pcp.drainBlocks !== drained) { sizes.push(pcp.drainBlocks - drained); drained = pcp.drainBlocks; }
    }
    expect(sizes.slice(0, 8)).toEqual([3, 6, 12, 24, 48, 96, 96, 96]); // without the cap: ..., 96, 192, 192
    b.check();
  });

  it('pcp=off frees straight to the free lists', () => {
    const b = pcpZone(RULES_6_12, false);
    expect(b.perCpuPages()).toBeNull();
    const a = b.alloc(0, MIGRATE_MOVABLE);
    expect(b.freePages()).toBe(2047);
    b.free(a, 0);
    expect(b.freePages()).toBe(2048);
    expect(b.counters().pcp_refills).toBe(0);
  });

  it('6.12 auto-tunes high upwards on refills (nr_pcp_alloc), 6.1 keeps it', () => {
    for (const [rules, grows] of [[RULES_6_1, false], [RULES_6_12, true]] as const) {
      const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules, pcp: true });
      for (let pfn = 0; pfn < 2048; pfn += 1024) b.free(pfn, 10);
      b.setupPcp(16384, 40, 1, { cpu: 0 });
      const pcp = b.perCpuPages()!;
      b.alloc(0, MIGRATE_MOVABLE);
      expect(pcp.highOf(0) > pcp.highMin).toBe(grows);
    }
    // 6.12's high_max: managed / 8 split over the CPUs
    expect(pagesetValues(243782, 13858, 2, RULES_6_12.pcp)).toEqual({ batch: 63, highMin: 6929, highMax: 15236 });
  });

  it("the event's CPU picks the list", () => {
    const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules: RULES_6_1, pcp: true });
    for (let pfn = 0; pfn < 2048; pfn += 1024) b.free(pfn, 10);
    const cursor = { cpu: 0 };
    b.setupPcp(16384, 40, 2, cursor);
    const a = b.alloc(0, MIGRATE_MOVABLE);
    cursor.cpu = 1;
    b.free(a, 0);
    const c = b.alloc(0, MIGRATE_MOVABLE);
    expect(c).toBe(a); // CPU 1's list holds only a
    cursor.cpu = 0;
    expect(b.alloc(0, MIGRATE_MOVABLE)).not.toBe(a);
    expect(b.perCpuPages()!.refills).toBe(1);
    b.check();
  });
});

describe('kernel-version rule sets of buddy-mobility', () => {
  /** Pageblock 0 handed over, then filled with movable pages until `left` pages remain free. */
  function movableBlock(rules: typeof RULES_6_1, left: number): BuddyAllocator {
    const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules, pcp: false });
    b.free(0, 9);
    for (let i = 0; i < 512 - left; i++) b.alloc(0, MIGRATE_MOVABLE);
    return b;
  }
  const listed = (b: BuddyAllocator, mt: number): number => {
    const area = new Float64Array(4 * 11);
    b.freeArea(area);
    let n = 0;
    for (let o = 0; o < 11; o++) n += area[mt * 11 + o]! << o;
    return n;
  };

  it('steal_suitable_fallback(): 6.1 moves every free block of the pageblock even without claiming it, 6.12 only the stolen block (its remainders keep the block type)', () => {
    for (const rules of [RULES_6_1, RULES_6_12]) {
      const b = movableBlock(rules, 12);
      b.alloc(0, MIGRATE_UNMOVABLE); // 12 free < 256, 500 movable: the block is not claimed
      const pb = new Float64Array(4);
      b.pageblockTypes(pb);
      expect(pb[MIGRATE_MOVABLE]).toBe(4);
      expect(listed(b, MIGRATE_UNMOVABLE)).toBe(rules === RULES_6_1 ? 11 : 0);
      b.check();
    }
  });

  it('single-block steal: the split remainder joins the request type (6.1) or stays with the block type (6.12)', () => {
    for (const rules of [RULES_6_1, RULES_6_12]) {
      const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules, pcp: false });
      b.setPageblockType(0, MIGRATE_UNMOVABLE);
      b.free(0, 3); // one order-3 block in an Unmovable pageblock; nothing else free
      b.alloc(0, MIGRATE_MOVABLE); // movable, order 3 < pageblock_order / 2: no whole-block steal
      expect(listed(b, MIGRATE_MOVABLE)).toBe(rules === RULES_6_1 ? 7 : 0);
      expect(listed(b, MIGRATE_UNMOVABLE)).toBe(rules === RULES_6_1 ? 0 : 7);
      b.check();
    }
  });

  it('__free_one_page(): a merge across pageblocks retypes the buddy on 6.12, not on 6.1', () => {
    for (const rules of [RULES_6_1, RULES_6_12]) {
      const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules, pcp: false });
      b.setPageblockType(0, MIGRATE_UNMOVABLE);
      b.free(512, 9); // pageblock 1, Movable
      b.free(0, 9); // pageblock 0, Unmovable: merges into an order-10 block on the Unmovable list
      const pb = new Float64Array(4);
      b.pageblockTypes(pb);
      expect(pb[MIGRATE_UNMOVABLE]).toBe(rules === RULES_6_1 ? 1 : 2);
      expect(listed(b, MIGRATE_UNMOVABLE)).toBe(1024);
      b.check();
    }
  });

  it('spec parsing and the recording hook', async () => {
    const { parseBuddyVariant } = await import('../src/page/kernel-version.js');
    expect(parseBuddyVariant('buddy-mobility', undefined)).toEqual({ rules: RULES_6_12, pcp: true });
    expect(parseBuddyVariant('buddy-mobility', 'pcp=off,6.1')).toEqual({ rules: RULES_6_1, pcp: false });
    expect(() => parseBuddyVariant('buddy-mobility', '5.10')).toThrow(/unknown option "5.10"/);
    // without a version, the machine's kernel's rules (a version the models lack: the newest); a named version wins
    expect(parseBuddyVariant('buddy-mobility', undefined, '6.1').rules).toBe(RULES_6_1);
    expect(parseBuddyVariant('buddy', 'pcp=off', '6.1.0-56-amd64')).toEqual({ rules: RULES_6_1, pcp: false });
    expect(parseBuddyVariant('buddy-mobility', undefined, '5.10').rules).toBe(RULES_6_12);
    expect(parseBuddyVariant('buddy-mobility', '6.12', '6.1').rules).toBe(RULES_6_12);
  });
});

describe('recorded pcp traffic', () => {
  it('counts percpu_refill=1 zone-locked blocks and pcpu drains of an ftrace file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { recordedPcpTraffic } = await import('../src/metrics/pcp-traffic.js');
    const dir = mkdtempSync(join(tmpdir(), 'pcp-'));
    const f = join(dir, 'x.ftrace');
    writeFileSync(f, [
      '  sh-1 [000] d..3. 1.0: mm_page_alloc_zone_locked: page=0 pfn=0x1 order=0 migratetype=1 percpu_refill=1',
      '  sh-1 [000] d..3. 1.1: mm_page_alloc_zone_locked: page=0 pfn=0x2 order=0 migratetype=1 percpu_refill=1',
      '  sh-1 [000] d..3. 1.2: mm_page_alloc_zone_locked: page=0 pfn=0x400 order=10 migratetype=1 percpu_refill=0',
      '  sh-1 [000] d..3. 1.3: mm_page_pcpu_drain: page=0 pfn=0x1 order=0 migratetype=1',
    ].join('\n'));
    expect(recordedPcpTraffic(f)).toEqual({ refill_blocks: 2, drain_blocks: 1 });
    expect(recordedPcpTraffic(join(dir, 'x.perf'))).toBeUndefined();
  });
});
