import { AllocbenchError } from '../errors.js';
import type { MemRange } from './memory-map.js';

/** A byte range [start, end) with a label saying why it is reserved. */
export interface Region {
  start: number;
  end: number;
  label: string;
}

const PAGE = 4096;

/**
 * The boot-time allocator (mm/memblock.c): `memory` holds the usable RAM from the firmware map,
 * `reserved` what the kernel claimed before the page allocator exists. memblock_alloc() is
 * top-down (memblock's default direction since 3.x on x86-64). Everything in memory and not in
 * reserved is handed to the page allocator at the end of boot (handover.ts).
 */
export class Memblock {
  readonly memory: Region[] = [];
  readonly reserved: Region[] = [];

  constructor(map: readonly MemRange[]) {
    for (const r of map) {
      if (r.type !== 'usable') continue;
      // e820 ranges are trimmed to whole pages, as e820__memblock_setup() / memblock's page-granular users do.
      const start = Math.ceil(r.start / PAGE) * PAGE;
      const end = Math.floor(r.end / PAGE) * PAGE;
      if (end > start) this.memory.push({ start, end, label: 'usable' });
    }
    this.memory.sort((a, b) => a.start - b.start);
    if (this.memory.length === 0) throw new AllocbenchError('the memory map has no usable RAM');
  }

  /** Highest usable byte address + 1 (max_pfn << PAGE_SHIFT). */
  get end(): number {
    return this.memory[this.memory.length - 1]!.end;
  }

  /** memblock_reserve(): overlapping and adjacent reservations are kept as given; queries merge them. */
  reserve(start: number, size: number, label: string): void {
    if (size <= 0) return;
    this.reserved.push({ start, end: start + size, label });
    this.reserved.sort((a, b) => a.start - b.start || a.end - b.end);
  }

  /** The free ranges: memory minus reserved, page-aligned inward, ascending. */
  freeRanges(): Region[] {
    const out: Region[] = [];
    for (const m of this.memory) {
      let cur = m.start;
      for (const r of this.reserved) {
        if (r.end <= cur || r.start >= m.end) continue;
        if (r.start > cur) out.push({ start: cur, end: r.start, label: 'free' });
        cur = Math.max(cur, r.end);
        if (cur >= m.end) break;
      }
      if (cur < m.end) out.push({ start: cur, end: m.end, label: 'free' });
    }
    return out
      .map((r) => ({ start: Math.ceil(r.start / PAGE) * PAGE, end: Math.floor(r.end / PAGE) * PAGE, label: r.label }))
      .filter((r) => r.end > r.start);
  }

  /**
   * memblock_alloc(size, align): the highest free range that fits, taken from its top, reserved.
   * Throws when nothing fits: at boot that is a panic, i.e. a machine config too small for its kernel.
   */
  alloc(size: number, align: number, label: string): number {
    const free = this.freeRanges();
    for (let i = free.length - 1; i >= 0; i--) {
      const r = free[i]!;
      const start = Math.floor((r.end - size) / align) * align;
      if (start >= r.start) {
        this.reserve(start, size, label);
        return start;
      }
    }
    throw new AllocbenchError(`memblock: cannot allocate ${size} bytes for ${label}: the machine has too little memory`);
  }
}
