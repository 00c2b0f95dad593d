import { PageTable, type TablePages } from './page-table.js';

/** VMA flags (a subset of include/linux/mm.h VM_*; our own bit values). */
export const VM_READ = 1;
export const VM_WRITE = 2;
export const VM_SHARED = 4;
export const VM_ANON = 8;
/** a stack: a fault just below it grows it down (expand_stack) */
export const VM_GROWSDOWN = 16;
/** the brk heap */
export const VM_HEAP = 32;

/** Bytes of guard gap a growing stack keeps from the mapping below (stack_guard_gap = 256 pages, mm/mmap.c). */
export const STACK_GUARD_GAP = 256 * 4096;
/** Top of the mmap area for address-less mmaps (mmap_base below a 128 MiB stack gap at 2^47). */
export const MMAP_TOP = 0x7f00_0000_0000;

/**
 * One process: pid, its VMAs (sorted, non-overlapping [start, end) ranges in parallel typed arrays
 * — processes have few VMAs and they change only on mmap/munmap/brk, so insertion shifts the
 * arrays), brk, its page table and counters. Page mapping lives in vm.ts.
 */
export class Process {
  readonly pt: PageTable;
  vmaStart = new Float64Array(8);
  vmaEnd = new Float64Array(8);
  vmaFlags = new Int32Array(8);
  nVma = 0;
  private lastVma = 0;
  /** start_brk / brk (page aligned); -1 until the first brk */
  brkStart = -1;
  brk = -1;
  /** next address for an address-less mmap (top-down, as arch_get_unmapped_area_topdown) */
  mmapNext = MMAP_TOP;
  /** anonymous pages mapped (MM_ANONPAGES: zero-page mappings not counted) */
  rss = 0;
  segfaults = 0;
  /** the process has a user heap: its rss counts as heap memory */
  hasHeap = false;

  constructor(readonly pid: number, tables: TablePages) {
    this.pt = new PageTable(tables);
  }

  /** Index of the VMA containing addr, or -1 (find_vma + a start check). */
  find(addr: number): number {
    const l = this.lastVma;
    if (l < this.nVma && addr >= this.vmaStart[l]! && addr < this.vmaEnd[l]!) return l;
    let lo = 0, hi = this.nVma - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addr < this.vmaStart[mid]!) hi = mid - 1;
      else if (addr >= this.vmaEnd[mid]!) lo = mid + 1;
      else { this.lastVma = mid; return mid; }
    }
    return -1;
  }

  /** Index of the first VMA whose end is above addr (find_vma), nVma when none. */
  firstAbove(addr: number): number {
    let lo = 0, hi = this.nVma;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.vmaEnd[mid]! <= addr) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Whether [start, end) overlaps no VMA. */
  isFree(start: number, end: number): boolean {
    const i = this.firstAbove(start);
    return i >= this.nVma || this.vmaStart[i]! >= end;
  }

  /** Inserts [start, end) (callers made the range free first). */
  insert(start: number, end: number, flags: number): void {
    if (this.nVma === this.vmaStart.length) {
      const n = this.nVma * 2;
      const s = new Float64Array(n); s.set(this.vmaStart); this.vmaStart = s;
      const e = new Float64Array(n); e.set(this.vmaEnd); this.vmaEnd = e;
      const f = new Int32Array(n); f.set(this.vmaFlags); this.vmaFlags = f;
    }
    const i = this.firstAbove(start);
    this.vmaStart.copyWithin(i + 1, i, this.nVma);
    this.vmaEnd.copyWithin(i + 1, i, this.nVma);
    this.vmaFlags.copyWithin(i + 1, i, this.nVma);
    this.vmaStart[i] = start; this.vmaEnd[i] = end; this.vmaFlags[i] = flags;
    this.nVma++;
  }

  /** Removes [start, end) from the VMA list, trimming and splitting VMAs (the VMA part of munmap). */
  removeRange(start: number, end: number): void {
    this.lastVma = 0;
    let i = this.firstAbove(start);
    while (i < this.nVma && this.vmaStart[i]! < end) {
      const s = this.vmaStart[i]!, e = this.vmaEnd[i]!;
      if (s < start && e > end) { // split: keep both ends
        this.vmaEnd[i] = start;
        this.insert(end, e, this.vmaFlags[i]!);
        return;
      }
      if (s < start) { this.vmaEnd[i] = start; i++; continue; }
      if (e > end) { this.vmaStart[i] = end; return; }
      this.vmaStart.copyWithin(i, i + 1, this.nVma);
      this.vmaEnd.copyWithin(i, i + 1, this.nVma);
      this.vmaFlags.copyWithin(i, i + 1, this.nVma);
      this.nVma--;
    }
  }

  /** Copies the address-space layout of `parent` (dup_mmap's VMA part). */
  copyLayout(parent: Process): void {
    this.vmaStart = parent.vmaStart.slice();
    this.vmaEnd = parent.vmaEnd.slice();
    this.vmaFlags = parent.vmaFlags.slice();
    this.nVma = parent.nVma;
    this.brkStart = parent.brkStart;
    this.brk = parent.brk;
    this.mmapNext = parent.mmapNext;
  }
}
