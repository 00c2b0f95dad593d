import type { Machine } from '../machine/machine.js';
import type { ObjectUsage } from '../object/strategy.js';
import { PAGE_SIZE, PAGEBLOCK_ORDER } from '../page/strategy.js';
import { fillContigPageInfo, fragmentationIndex, largestFreeOrder, unusableFreeIndex } from './fragmentation.js';
import { round6 } from './waste.js';

/** Parallel arrays, one entry per sample (every N events and at each mark). */
export interface TimeSeriesData {
  event: number[];
  label: string[];
  free_pages: number[];
  largest_free_order: number[];
  /** unusable free space index at pageblock order, of the zone with the most managed pages */
  unusable_index_9: number[];
  extfrag_index_9: number[];
  internal_waste_bytes: number[];
  utilization: number[];
}

/**
 * Samples the machine's fragmentation and the object layer's waste while a trace replays, so
 * reports can show how a strategy degrades over time rather than only its end state.
 */
export class TimeSeries {
  readonly data: TimeSeriesData = {
    event: [], label: [], free_pages: [], largest_free_order: [], unusable_index_9: [], extfrag_index_9: [],
    internal_waste_bytes: [], utilization: [],
  };
  private readonly mainZone: string;
  /**
   * Every `stride`-th sample request is taken: 1 until the series is first halved, then doubled at
   * each halving, so the points requested stay as dense as the points kept. A trace of 20 M marks
   * asks for 20 M samples; each costs a walk of every zone's free state (~10 us), minutes of samples
   * that downsample() would throw away. The price: an extreme between two taken samples is not seen.
   */
  private stride = 1;
  private requests = 0;

  constructor(private readonly machine: Machine, private readonly usage: () => ObjectUsage) {
    this.mainZone = machine.zones.reduce((a, b) => (b.managed > a.managed ? b : a)).name;
  }

  /** `requested`: bytes requested by the live objects at this point of the replay */
  sample(event: number, label: string, requested: number): void {
    if (++this.requests < this.stride) return;
    this.requests = 0;
    const d = this.data;
    let largest = -1;
    let free = 0;
    for (const z of this.machine.freeState()) {
      largest = Math.max(largest, largestFreeOrder(z.freeArea));
      const info = fillContigPageInfo(z.freeArea, PAGEBLOCK_ORDER);
      free += info.freePages;
      if (z.zone === this.mainZone) {
        d.unusable_index_9.push(unusableFreeIndex(info, PAGEBLOCK_ORDER) / 1000);
        d.extfrag_index_9.push(fragmentationIndex(info, PAGEBLOCK_ORDER) / 1000);
      }
    }
    const u = this.usage();
    const held = u.pagesHeld * PAGE_SIZE;
    const req = requested;
    d.event.push(event);
    d.label.push(label);
    d.free_pages.push(free);
    d.largest_free_order.push(largest);
    d.internal_waste_bytes.push(held - req);
    // instantaneous live/held; the end-of-run utilization in `waste` is peak over peak
    d.utilization.push(held === 0 ? 0 : round6(req / held));
    if (d.event.length >= 2 * MAX_SAMPLES) {
      downsample(d);
      this.stride *= 2;
    }
  }
}

/**
 * Samples kept per cell at most (between MAX_SAMPLES and twice that). A sample is taken at every
 * mark as well as every N events, so a trace of 20 M marks (or --sample-every 1) made a result
 * line of 86 MB and a report past V8's longest string; ~4000 points of ~60 bytes stay well under
 * a megabyte whatever the trace.
 */
export const MAX_SAMPLES = 2048;

/**
 * Halves the series in place, deterministically (it depends on the samples only): the first and
 * the last sample stay, and of each run of 4 samples between them those holding the run's least
 * and most free pages, and its least and most largest free order (extremes, not averages: a dip
 * to zero free pages must survive).
 */
export function downsample(d: TimeSeriesData): void {
  const n = d.event.length;
  if (n <= 2) return;
  const keep: number[] = [0];
  for (let s = 1; s < n - 1; s += 4) {
    const e = Math.min(s + 4, n - 1);
    let loF = s, hiF = s, loO = s, hiO = s;
    for (let i = s + 1; i < e; i++) {
      if (d.free_pages[i]! < d.free_pages[loF]!) loF = i;
      if (d.free_pages[i]! > d.free_pages[hiF]!) hiF = i;
      if (d.largest_free_order[i]! < d.largest_free_order[loO]!) loO = i;
      if (d.largest_free_order[i]! > d.largest_free_order[hiO]!) hiO = i;
    }
    // at most 2 of every 4 (free-page extremes); the order extremes only when they are one of them or the run has room
    const picked = [...new Set([loF, hiF])];
    for (const o of [loO, hiO]) if (picked.length < 2 && !picked.includes(o)) picked.push(o);
    keep.push(...picked.sort((a, b) => a - b));
  }
  keep.push(n - 1);
  for (const k of Object.keys(d) as (keyof TimeSeriesData)[]) {
    const col = d[k] as unknown[];
    if (col.length !== n) continue; // a zone-less series (unusable/extfrag) is empty
    for (let j = 0; j < keep.length; j++) col[j] = col[keep[j]!];
    col.length = keep.length;
  }
}
