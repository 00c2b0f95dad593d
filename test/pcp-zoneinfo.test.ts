import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GFP_HIGHUSER_MOVABLE } from '../src/machine/gfp.js';
import { Machine } from '../src/machine/machine.js';
import { recordedMachine } from '../src/machine/recorded-machine.js';
import { formatBuddyinfo, formatZoneinfo, machineZoneinfo } from '../src/metrics/procfs.js';
import { pageStrategyFactory } from '../src/page/registry.js';

const dir = 'traces/kernel/build-compress-smp';

describe('zoneinfo-style output of the per-CPU lists', () => {
  it("prints each CPU's pageset in the kernel's layout; buddyinfo leaves the pcp pages out", () => {
    const rec = recordedMachine(`${dir}/build-compress-smp.ftrace.gz`, 'build-compress-smp')!;
    const m = new Machine(rec.config, pageStrategyFactory('buddy-mobility:6.12'));
    const pfns: number[] = [];
    for (let i = 0; i < 500; i++) { m.cpuCursor.cpu = i & 1; pfns.push(m.allocPages(0, GFP_HIGHUSER_MOVABLE)); }
    m.cpuCursor.cpu = 1;
    for (const p of pfns.slice(0, 200)) m.freePages(p, 0);
    const info = machineZoneinfo(m);
    const text = formatZoneinfo(info);
    // every line has the shape of a line of the real file (digits aside)
    const shape = (l: string): string => l.replace(/\d+/g, '#');
    const real = new Set(readFileSync(`${dir}/after/zoneinfo`, 'utf8').split('\n').map(shape));
    for (const l of text.trimEnd().split('\n')) expect(real.has(shape(l)), l).toBe(true);
    const dma32 = info.find((z) => z.zone === 'DMA32')!;
    expect(dma32.pagesets.map((p) => p.batch)).toEqual([63, 63]);
    const onLists = dma32.pagesets.reduce((n, p) => n + p.count, 0);
    expect(onLists).toBeGreaterThan(0);
    expect(text).toContain(`    cpu: 1\n              count: ${dma32.pagesets[1]!.count}\n`);
    // pages free + on the lists + in use = managed; buddyinfo counts pages free only
    expect(dma32.managed - dma32.free - onLists).toBe(300);
    const buddy = formatBuddyinfo(m.freeState()).split('\n').find((l) => l.includes('DMA32'))!;
    const listed = buddy.trim().split(/\s+/).slice(4).reduce((n, c, o) => n + Number(c) * 2 ** o, 0);
    expect(listed).toBe(dma32.free);
    expect(m.freePageCount() + m.pcpPageCount()).toBe(info.reduce((n, z) => n + z.free, 0) + onLists);
  });
});
