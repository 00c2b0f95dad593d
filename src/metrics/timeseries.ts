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

  constructor(private readonly machine: Machine, private readonly usage: () => ObjectUsage) {
    this.mainZone = machine.zones.reduce((a, b) => (b.managed > a.managed ? b : a)).name;
  }

  /** `requested`: bytes requested by the live objects at this point of the replay */
  sample(event: number, label: string, requested: number): void {
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
  }
}
