import type { ObjectUsage } from '../object/strategy.js';
import { PAGE_SIZE } from '../page/strategy.js';

/**
 * Internal waste and utilization of the object layer (DESIGN.md §5):
 * rounding = bytes reserved for live objects − bytes requested (size classes, kmalloc_large order rounding);
 * slack    = bytes of pages held − bytes reserved (empty slots, slab leftovers, empty slabs kept);
 * utilization = peak live requested bytes / peak bytes held from the page allocator (malloc-lab's U).
 */
export interface WasteMetrics {
  bytes_requested: number;
  bytes_reserved: number;
  pages_held: number;
  rounding_bytes: number;
  slack_bytes: number;
  internal_waste_bytes: number;
  /** internal waste as a fraction of the bytes held (0 when nothing is held) */
  internal_waste_fraction: number;
  peak_bytes_requested: number;
  peak_pages_held: number;
  utilization: number;
}

export function wasteMetrics(usage: ObjectUsage, requestedLive: number, peakRequested: number, peakPages: number): WasteMetrics {
  const held = usage.pagesHeld * PAGE_SIZE;
  const waste = held - requestedLive;
  return {
    bytes_requested: requestedLive,
    bytes_reserved: usage.bytesReserved,
    pages_held: usage.pagesHeld,
    rounding_bytes: usage.bytesReserved - requestedLive,
    slack_bytes: held - usage.bytesReserved,
    internal_waste_bytes: waste,
    internal_waste_fraction: held === 0 ? 0 : round6(waste / held),
    peak_bytes_requested: peakRequested,
    peak_pages_held: peakPages,
    utilization: peakPages === 0 ? 0 : round6(peakRequested / (peakPages * PAGE_SIZE)),
  };
}

/** Fixed decimal places so results are byte-identical across platforms and runs. */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
