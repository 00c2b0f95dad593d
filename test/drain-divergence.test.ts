import { describe, expect, it } from 'vitest';
import { compareDrains, recordedDrains } from '../src/run/drain-divergence.js';

const ev = (cpu: number, name: string, pfn: number, order = 0): string => `  sh-1 [00${cpu}] d..3.  1.0: ${name}: page=ffff pfn=0x${pfn.toString(16)} order=${order}${name === 'mm_page_pcpu_drain' ? ' migratetype=1' : ''}`;

describe('per-CPU list drains of a recording beside the model\'s (fidelity --diverge)', () => {
  it('a drain is a run of mm_page_pcpu_drain lines of one CPU; another page event of that CPU ends it, another CPU\'s does not', () => {
    const text = [
      ev(0, 'mm_page_pcpu_drain', 0x1000), ev(1, 'mm_page_alloc', 0x5000), ev(0, 'mm_page_pcpu_drain', 0x1002, 1),
      ev(0, 'mm_page_alloc', 0x2000),
      ev(0, 'mm_page_pcpu_drain', 0x3000), ev(1, 'mm_page_pcpu_drain', 0x4000),
    ].join('\n');
    const d = recordedDrains(text);
    expect(d.map((x) => [x.cpu, x.pages, x.pfn, x.line])).toEqual([[0, 3, 0x1000, 1], [0, 1, 0x3000, 5], [1, 1, 0x4000, 6]]);
  });

  it('compares the zone\'s drains k-th with k-th: pages, then first page', () => {
    const at = (pages: number, pfn: number, line = 0): { pages: number; pfn: number; line: number; cpu: number } => ({ pages, pfn, line, cpu: 0 });
    const real = [at(15, 0x1000, 10), at(480, 0x1100, 20), at(15, 0x90, 30), at(30, 0x1200, 40)];
    const model = [at(15, 0x1000), at(501, 0x1100), at(15, 0x90), at(30, 0x1201)];
    const c = compareDrains(real, model, 5, 0x1000, 0x2000); // the DMA drain at 0x90 is another zone's
    expect(c).toMatchObject({ real: 3, model: 3, same_pages: 2 / 3, same_first: 1 / 3, first: 1 });
    expect(c.examples).toEqual(['drain #1 line 20 cpu0: real 480 pages from 0x1100, model 501 from 0x1100', 'drain #2 line 40 cpu0: real 30 pages from 0x1200, model 30 from 0x1201']);
  });
});
