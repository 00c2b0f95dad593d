import { describe, expect, it } from 'vitest';
import { fidelityDivergence } from '../src/cli/fidelity.js';
import { recordedBuddyTakes } from '../src/metrics/pcp-traffic.js';
import { recordedTargets } from '../src/run/take-divergence.js';

describe('fidelity --diverge: the model\'s buddy-level takes against the recording\'s', () => {
  it('build-compress: every recorded take counted, most matched by rank, the first differences described', () => {
    const [d] = fidelityDivergence(['traces/kernel/build-compress'], { pages: ['buddy-mobility'], object: 'slub', layers: 'all' }, 3);
    const real = recordedBuddyTakes('traces/kernel/build-compress/build-compress.ftrace.gz')!;
    expect(d!.real_takes).toBe(real.pfn.length);
    expect(d!.real_takes).toBe(13520); // the mm_page_alloc_zone_locked lines between the snapshot markers (recording.txt: 14067 in the file)
    expect(d!.rules).toBe('6.1'); // the recorded machine's kernel (machine.json kernel_version)
    expect(Object.values(d!.by_class).reduce((a, [r]) => a + r, 0)).toBe(d!.real_takes);
    expect(Object.values(d!.by_class).reduce((a, [, m]) => a + m, 0)).toBe(d!.model_takes);
    expect(d!.same_rank).toBeGreaterThan(0.8);
    expect(d!.same_rank).toBeLessThan(1);
    expect(d!.first).toBeGreaterThanOrEqual(0);
    expect(d!.examples).toHaveLength(3);
    for (const e of d!.examples) expect(e).toMatch(/^#\d+ line \d+ cpu\d+ order \d+ mt\d: real 0x[0-9a-f]+ \[model: .+; recording's last event on it: .+\] model 0x[0-9a-f]+ order \d+ mt\d/);
    // compaction's targets: the 28 recorded isolations (recording.txt) against the model's free scanner
    // (measured: 5 at the kernel's pfn, 20 in the kernel's pageblock; the first 3 others described)
    expect(d!.targets).toMatchObject({ real: 28, model: 28, same_pfn: 5 / 28, same_pageblock: 20 / 28 });
    expect(d!.targets.examples).toHaveLength(3);
    for (const e of d!.targets.examples) expect(e).toMatch(/^#\d+ line \d+ \S+ order \d+: real 0x[0-9a-f]+ \(pageblock \d+\) \[model: .+\] model 0x[0-9a-f]+ order \d+ \(pageblock \d+\)$/);
  }, 60_000);

  it('a compaction isolation the kernel refused (its return is 0 on its CPU) is no target, as the loader drops it', () => {
    const iso = (cpu: number, page: string): string => `  kcompactd0-28 [00${cpu}] d..1.  15.2: isolate_free_page: (__isolate_free_page+0x0/0x2b0) page=0x${page} order=0 vmemmap_base=0xfffff4fe80000000`;
    const ret = (cpu: number, v: string): string => `  kcompactd0-28 [00${cpu}] d..1.  15.2: isolate_free_page_ret: (isolate_freepages_block+0x261/0x410 <- __isolate_free_page) ret=${v}`;
    // pfns 1, 2, 3: the second refused; CPU 1's return does not answer CPU 0's entry
    const text = [iso(0, 'fffff4fe80000040'), ret(0, '0x1'), iso(0, 'fffff4fe80000080'), iso(1, 'fffff4fe800000c0'), ret(1, '0x1'), ret(0, '0')].join('\n');
    expect(recordedTargets(text).map((t) => t.pfn)).toEqual([1, 3]);
  });
});


describe('a recording\'s buddy-level takes by its kernel\'s tracing', () => {
  const line = (cpu: number, body: string): string => `  sh-1024 [00${cpu}] d..3.  19.4: ${body}`;
  const take = (cpu: number, pfn: string, order: number, mt: number): string => line(cpu, `mm_page_alloc_zone_locked: page=fffff18d80f60000 pfn=0x${pfn} order=${order} migratetype=${mt} percpu_refill=${order <= 3 ? 1 : 0}`);
  const steal = (cpu: number, pfn: string, order: number, mt: number): string => line(cpu, `mm_page_alloc_extfrag: page=fffff18d80f60000 pfn=0x${pfn} alloc_order=${order} fallback_order=10 pageblock_order=9 alloc_migratetype=${mt} fallback_migratetype=1 fragmenting=0 change_ownership=1`);
  // 6.12: a stolen block's take untraced (seen only as extfrag), then its batch; a claimed block's
  // take traced just before its extfrag on the same CPU; a take on CPU 1 in between
  const text = [
    steal(0, '3d800', 2, 0), take(0, '3d804', 2, 0),
    take(1, '3dc40', 0, 2), take(0, '3e000', 0, 2), steal(0, '3e000', 0, 2),
    '',
  ].join('\n');
  it('6.10+: a fallback\'s take is read from mm_page_alloc_extfrag unless __rmqueue_smallest() traced it', () => {
    const t = recordedBuddyTakes('x.ftrace', text, '6.12')!;
    expect(Array.from(t.pfn)).toEqual([0x3d800, 0x3d804, 0x3dc40, 0x3e000]);
    expect(Array.from(t.order)).toEqual([2, 2, 0, 0]);
    expect(Array.from(t.migratetype)).toEqual([0, 0, 2, 2]);
    expect(Array.from(t.refill)).toEqual([1, 1, 1, 1]);
    expect(Array.from(t.line)).toEqual([1, 2, 3, 4]);
  });
  it('6.1: every take is traced (the retry after __rmqueue_fallback()), extfrag adds none', () => {
    expect(Array.from(recordedBuddyTakes('x.ftrace', text, '6.1')!.pfn)).toEqual([0x3d804, 0x3dc40, 0x3e000]);
    expect(Array.from(recordedBuddyTakes('x.ftrace', text, undefined)!.pfn)).toEqual([0x3d804, 0x3dc40, 0x3e000]);
  });
  it('the bundled 6.12 recording\'s two fallbacks are takes', () => {
    const p = 'traces/kernel/fork-fragment-smp/fork-fragment-smp.ftrace.gz';
    const t = recordedBuddyTakes(p)!, traced = recordedBuddyTakes(p, undefined, '6.1')!;
    expect(t.pfn.length - traced.pfn.length).toBe(2); // recording.txt: 2 mm_page_alloc_extfrag, neither a claim traced before it
    expect(Array.from(t.pfn)).toContain(0x3d800);
  }, 30_000);
});
