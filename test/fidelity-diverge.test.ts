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

