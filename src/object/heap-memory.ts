import { GFP_HIGHUSER_MOVABLE } from '../machine/gfp.js';
import type { PageSource } from '../machine/page-source.js';

export const HEAP_PAGE = 4096;

/**
 * The seam between a user heap and the memory it lives in: the two system calls dlmalloc uses
 * (MORECORE = sbrk and MMAP/MUNMAP, malloc.c) plus a resident-page count. Today the default
 * implementation backs pages eagerly from the page allocator; the process model will later give
 * the heap a process's real brk/mmap VMAs with demand faults behind the same interface.
 */
export interface HeapMemory {
  /** grow/shrink the brk heap by whole pages (delta a page multiple, may be 0); old break or -1 */
  sbrk(delta: number): number;
  /** a separate page run (len a page multiple); address or -1 */
  mmap(len: number): number;
  munmap(addr: number, len: number): void;
  residentPages(): number;
}

/** Where the brk heap starts (a typical x86-64 PIE heap address) and where mmap regions go. */
export const BRK_BASE = 0x5555_5556_0000;
export const MMAP_BASE = 0x7f00_0000_0000;

/**
 * HeapMemory over a PageSource: every virtual page the heap grows into is backed at once by one
 * order-0 page allocated GFP_HIGHUSER_MOVABLE (anonymous user memory is movable, as a write fault
 * in do_anonymous_page() would allocate it); shrinking the break and munmap free them. The
 * virtual→physical page tables are Int32Arrays indexed by the virtual page number within the brk
 * area and within the mmap area. Freed mmap ranges are reused first fit (sorted free virtual runs),
 * so the mmap page table stays as large as the peak mapped extent.
 */
export class PageBackedHeapMemory implements HeapMemory {
  /** brk area: pfn of each virtual page below the break */
  private brkPfn = new Int32Array(64);
  private brkPages = 0;
  /** mmap area: pfn of each virtual page, -1 when unmapped */
  private mmPfn = new Int32Array(64).fill(-1);
  /** virtual pages of the mmap area ever used (bump pointer) */
  private mmTop = 0;
  /** free virtual runs below mmTop, sorted by start (pages); mmaps are rare, so plain arrays */
  private readonly holeStart: number[] = [];
  private readonly holeLen: number[] = [];
  private resident = 0;

  constructor(private readonly pages: PageSource, private readonly gfp = GFP_HIGHUSER_MOVABLE) {}

  sbrk(delta: number): number {
    const old = BRK_BASE + this.brkPages * HEAP_PAGE;
    if (delta === 0) return old;
    if (delta % HEAP_PAGE !== 0) return -1;
    const n = delta / HEAP_PAGE;
    if (n < 0) {
      if (this.brkPages + n < 0) return -1;
      for (let i = this.brkPages - 1; i >= this.brkPages + n; i--) this.pages.freePages(this.brkPfn[i]!, 0);
      this.brkPages += n;
      this.resident += n;
      return old;
    }
    const need = this.brkPages + n;
    if (need > this.brkPfn.length) {
      const t = new Int32Array(Math.max(need, this.brkPfn.length * 2));
      t.set(this.brkPfn.subarray(0, this.brkPages));
      this.brkPfn = t;
    }
    for (let i = this.brkPages; i < need; i++) {
      const pfn = this.pages.allocPages(0, this.gfp);
      if (pfn < 0) {
        // brk() either moves the break by the whole amount or fails (ENOMEM): undo.
        for (let j = i - 1; j >= this.brkPages; j--) this.pages.freePages(this.brkPfn[j]!, 0);
        return -1;
      }
      this.brkPfn[i] = pfn;
    }
    this.brkPages = need;
    this.resident += n;
    return old;
  }

  mmap(len: number): number {
    if (len <= 0 || len % HEAP_PAGE !== 0) return -1;
    const n = len / HEAP_PAGE;
    let start = -1;
    let hole = -1;
    for (let h = 0; h < this.holeStart.length; h++) {
      if (this.holeLen[h]! >= n) { start = this.holeStart[h]!; hole = h; break; }
    }
    if (start < 0) {
      start = this.mmTop;
      if (start + n > this.mmPfn.length) {
        const t = new Int32Array(Math.max(start + n, this.mmPfn.length * 2)).fill(-1);
        t.set(this.mmPfn.subarray(0, this.mmTop));
        this.mmPfn = t;
      }
    }
    for (let i = 0; i < n; i++) {
      const pfn = this.pages.allocPages(0, this.gfp);
      if (pfn < 0) {
        for (let j = i - 1; j >= 0; j--) { this.pages.freePages(this.mmPfn[start + j]!, 0); this.mmPfn[start + j] = -1; }
        return -1;
      }
      this.mmPfn[start + i] = pfn;
    }
    if (hole >= 0) {
      if (this.holeLen[hole] === n) { this.holeStart.splice(hole, 1); this.holeLen.splice(hole, 1); }
      else { this.holeStart[hole] = start + n; this.holeLen[hole] = this.holeLen[hole]! - n; }
    } else {
      this.mmTop = start + n;
    }
    this.resident += n;
    return MMAP_BASE + start * HEAP_PAGE;
  }

  munmap(addr: number, len: number): void {
    const start = (addr - MMAP_BASE) / HEAP_PAGE;
    const n = len / HEAP_PAGE;
    for (let i = start; i < start + n; i++) {
      this.pages.freePages(this.mmPfn[i]!, 0);
      this.mmPfn[i] = -1;
    }
    this.resident -= n;
    // Return the virtual range: insert sorted, merge with neighbours, drop a hole that reaches mmTop.
    let h = 0;
    while (h < this.holeStart.length && this.holeStart[h]! < start) h++;
    this.holeStart.splice(h, 0, start);
    this.holeLen.splice(h, 0, n);
    if (h + 1 < this.holeStart.length && start + n === this.holeStart[h + 1]) {
      this.holeLen[h] = this.holeLen[h]! + this.holeLen[h + 1]!;
      this.holeStart.splice(h + 1, 1); this.holeLen.splice(h + 1, 1);
    }
    if (h > 0 && this.holeStart[h - 1]! + this.holeLen[h - 1]! === start) {
      this.holeLen[h - 1] = this.holeLen[h - 1]! + this.holeLen[h]!;
      this.holeStart.splice(h, 1); this.holeLen.splice(h, 1);
      h--;
    }
    if (this.holeStart[h]! + this.holeLen[h]! === this.mmTop) {
      this.mmTop = this.holeStart[h]!;
      this.holeStart.splice(h, 1); this.holeLen.splice(h, 1);
    }
  }

  residentPages(): number {
    return this.resident;
  }

  /** The physical page behind a heap virtual address, or -1 when none (for the process model and tests). */
  pfnOf(addr: number): number {
    if (addr >= BRK_BASE && addr < BRK_BASE + this.brkPages * HEAP_PAGE) return this.brkPfn[Math.floor((addr - BRK_BASE) / HEAP_PAGE)]!;
    if (addr >= MMAP_BASE && addr < MMAP_BASE + this.mmTop * HEAP_PAGE) return this.mmPfn[Math.floor((addr - MMAP_BASE) / HEAP_PAGE)]!;
    return -1;
  }
}
