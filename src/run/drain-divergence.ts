import { lineCounter } from '../metrics/pcp-traffic.js';
import type { BuddyAllocator } from '../page/buddy.js';

/**
 * The per-CPU list drains of a kernel recording beside the model's, for `fidelity --diverge`: a
 * drain (free_pcppages_bulk(), 6.1/6.12) gives blocks back from the lists' tails, one
 * mm_page_pcpu_drain each, so the recording's drains are its runs of such lines on one CPU with no
 * other page event of that CPU between. Drains fire when a list's count reaches pcp->high, and give
 * back what nr_pcp_free() says, so the first drain that differs in size says when the count or
 * the free_factor parted, and one of the same size from another first page that the lists' order
 * did (session 9 found the 6.1 model draining at its own zone_highsize() this way).
 */
export interface DrainDivergence {
  /** the zone compared (the one with the most recorded drains) */
  zone: string;
  real: number;
  model: number;
  /** drains of the same number of pages, k-th with k-th */
  same_pages: number;
  /** of those, from the same first page */
  same_first: number;
  /** rank of the first drain that differs (-1: none) */
  first: number;
  examples: string[];
}

interface Drain { pages: number; pfn: number; line: number; cpu: number }

const PAGE_EVENT = /^[^\n]*?\[(\d+)\][^\n]*? (mm_page_pcpu_drain|mm_page_alloc|mm_page_free|mm_page_free_batched|mm_page_alloc_zone_locked): page=\S+ pfn=0x([0-9a-f]+) order=(\d+)/gm;

/** The recording's drains in trace order. */
export function recordedDrains(text: string): Drain[] {
  const out: Drain[] = [];
  const lineOf = lineCounter(text);
  /** per CPU, the drain being read (undefined once another page event of that CPU ended it) */
  const open = new Map<number, Drain>();
  for (const m of text.matchAll(PAGE_EVENT)) {
    const cpu = Number(m[1]);
    if (m[2] !== 'mm_page_pcpu_drain') { open.delete(cpu); continue; }
    let d = open.get(cpu);
    if (d === undefined) {
      d = { pages: 0, pfn: parseInt(m[3]!, 16), line: lineOf(m.index), cpu };
      open.set(cpu, d);
      out.push(d);
    }
    d.pages += 1 << Number(m[4]);
  }
  return out;
}

/**
 * Records the model's drains: every block a zone's buddy gives back from a per-CPU list tail
 * (pcpGiveTail), a drain being the blocks given back within one call of the strategy (a free past
 * high, a tick's decay, a drain of all lists).
 */
export function watchDrains(buddies: { startPfn: number; b: BuddyAllocator }[], cpu: () => number): Drain[] {
  const out: Drain[] = [];
  let epoch = 0, last = -1;
  for (const { startPfn, b } of buddies) {
    const alloc = b.alloc.bind(b), free = b.free.bind(b), give = b.pcpGiveTail.bind(b);
    const decay = b.decayPcp.bind(b), drainAll = b.drainPcp.bind(b);
    b.alloc = (order: number, mt: number): number => { epoch++; return alloc(order, mt); };
    b.free = (pfn: number, order: number): void => { epoch++; free(pfn, order); };
    b.decayPcp = (): number => { epoch++; return decay(); };
    b.drainPcp = (): number => { epoch++; return drainAll(); };
    b.pcpGiveTail = (ring: Int32Array, first: number, len: number, k: number, order: number): void => {
      if (k > 0) {
        if (last !== epoch) {
          out.push({ pages: 0, pfn: startPfn + ring[(first + len - 1) & (ring.length - 1)]!, line: 0, cpu: cpu() });
          last = epoch;
        }
        out[out.length - 1]!.pages += k << order;
      }
      give(ring, first, len, k, order);
    };
  }
  return out;
}

/**
 * The drains of the zone [start, end) (pfns) compared k-th with k-th; the first `n` that differ
 * described. (Each zone has its own lists: drains of two zones interleave differently.)
 */
export function compareDrains(allReal: Drain[], allModel: Drain[], n: number, start: number, end: number): DrainDivergence {
  const real = allReal.filter((d) => d.pfn >= start && d.pfn < end), model = allModel.filter((d) => d.pfn >= start && d.pfn < end);
  let samePages = 0, sameFirst = 0, first = -1;
  const examples: string[] = [];
  for (let k = 0; k < Math.min(real.length, model.length); k++) {
    const r = real[k]!, m = model[k]!;
    const same = r.pages === m.pages;
    if (same) samePages++;
    if (same && r.pfn === m.pfn) { sameFirst++; continue; }
    if (first < 0) first = k;
    if (examples.length < n) examples.push(`drain #${k} line ${r.line} cpu${r.cpu}: real ${r.pages} pages from 0x${r.pfn.toString(16)}, model ${m.pages} from 0x${m.pfn.toString(16)}`);
  }
  const pairs = Math.min(real.length, model.length);
  return { zone: '', real: real.length, model: model.length, same_pages: pairs === 0 ? 0 : samePages / pairs, same_first: pairs === 0 ? 0 : sameFirst / pairs, first, examples };
}
