import { AllocbenchError, InvariantError } from '../errors.js';
import * as gfpModule from './gfp.js';
import { KERNEL_IMAGE_BYTES, type Machine } from './machine.js';
import * as pageTable from './page-table.js';
import { PageTable, type TablePages } from './page-table.js';
import * as processModule from './process.js';
import { Process } from './process.js';
import * as stepsModule from './steps.js';
import type { Steps } from './steps.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { GFP_HIGHUSER_MOVABLE } = gfpModule;
const { GFP_PGTABLE_USER, PTE_SHARED, PTE_WRITE, pteEntry, ptePfn, PTRS_PER_TABLE } = pageTable;
const { MMAP_TOP, STACK_GUARD_GAP, VM_ANON, VM_GROWSDOWN, VM_HEAP, VM_READ, VM_SHARED, VM_WRITE } = processModule;
const { STEP_COPY, STEP_FAULT, STEP_PT_PAGE, STEP_ZERO, tick } = stepsModule;

// mmap prot/flags (include/uapi/asm-generic/mman-common.h, x86-64 values; as generators write them)
const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;
const MAP_ANONYMOUS = 0x20;
const MAP_GROWSDOWN = 0x0100;
const MAP_NORESERVE = 0x4000;

const PAGE = 4096;
const REGION = PAGE * PTRS_PER_TABLE; // bytes mapped by one PTE table (2 MiB)
/** user address space top: 47-bit, TASK_SIZE_MAX on x86-64 with 4-level tables */
const TASK_SIZE = 2 ** 47 - PAGE;

/** Fault outcomes (the kinds counted per cell). */
export const FAULT_ZERO = 0; //      read of untouched anonymous memory: the shared zero page mapped (do_anonymous_page)
export const FAULT_NEW = 1; //       a zeroed page allocated (write to untouched memory, or to the zero page)
export const FAULT_COW_COPY = 2; //  write to a page other mappings share: copied (wp_page_copy)
export const FAULT_COW_REUSE = 3; // write to a write-protected page with one mapper: made writable (wp_page_reuse)
export const FAULT_SPURIOUS = 4; //  the access was already allowed (a replayed fault on a present page): nothing to do
export const FAULT_SEGV = 5; //      no VMA, or the VMA forbids the access
export const FAULT_OOM = 6; //       a page or page-table page could not be had: counted, the access is dropped
export const FAULT_KINDS = 7;
export const FAULT_NAMES = ['zero_page', 'new_page', 'cow_copy', 'cow_reuse', 'spurious', 'segfault', 'oom'] as const;

/**
 * The shared zero page: the kernel's empty_zero_page is a page of the kernel image's bss
 * (arch/x86/kernel/head_64.S), not a page-allocator page. We use the last page of the reserved
 * kernel image range (machine.ts reserves [16 MiB, 16 MiB + KERNEL_IMAGE_BYTES)): never allocated,
 * never freed, and its map count is not tracked (the kernel does not count zero-page mappings in
 * the page's mapcount or in RSS either).
 */
export const ZERO_PAGE_PFN = (16 * 2 ** 20 + KERNEL_IMAGE_BYTES) / PAGE - 1;

/**
 * PID_MAX_LIMIT on 64-bit (include/linux/threads.h: 4 * 1024 * 1024): /proc/sys/kernel/pid_max
 * cannot be set higher, so no recorded pid exceeds it. The process tables are indexed by pid;
 * bounding the pid bounds them (4 Mi slots, ~100 MB at most) whatever the trace says.
 */
export const PID_MAX_LIMIT = 4 * 1024 * 1024;

/** Refuses (exit 2) a trace whose highest pid + 1 (`pidCount`) is above PID_MAX_LIMIT. */
export function checkPidCount(pidCount: number, what: string): void {
  if (pidCount > PID_MAX_LIMIT + 1) {
    throw new AllocbenchError(`${what}: pid ${pidCount - 1} is above Linux's largest pid_max (${PID_MAX_LIMIT}, PID_MAX_LIMIT in include/linux/threads.h)`);
  }
}

export interface VmOptions {
  /**
   * Recorded traces without address-space events: a fault outside every VMA creates an anonymous
   * private read-write VMA around it (the 2 MiB-aligned region holding the address, clipped to its
   * neighbours) instead of counting a segfault. A documented simplification: the recording did not
   * see the mmaps that made the address valid.
   */
  autoVma?: boolean;
  /** pids expected (sizes the process table; it grows if a larger pid appears) */
  pids?: number;
}

/**
 * The process table and the fault handler on one machine (mm/memory.c handle_mm_fault for
 * anonymous memory): demand paging with the shared zero page, copy-on-write after fork, and
 * per-page map counts in an Int32Array indexed by global pfn. User pages come from the machine as
 * GFP_HIGHUSER_MOVABLE order-0 pages (so they may use ZONE_MOVABLE); page-table pages as
 * GFP_PGTABLE_USER (unmovable). Fault handling allocates nothing on the JS heap.
 *
 * Simplifications (docs/processes.md): anonymous memory only (file mappings are modelled as
 * anonymous), no swap, no THP, no mprotect/mremap; a shared anonymous mapping (shmem) allocates its
 * page on the first access, read or write, and is never copied.
 */
export class Vm implements TablePages {
  readonly mapCount: Int32Array;
  readonly zeroPfn = ZERO_PAGE_PFN;
  /** faults by kind (FAULT_*) */
  readonly faults = new Float64Array(FAULT_KINDS);
  procs: (Process | undefined)[];
  readonly segfaultsByPid = new Map<number, number>();
  /** page-table pages held now, at peak, ever allocated, ever freed */
  ptLive = 0;
  ptPeak = 0;
  ptAllocs = 0;
  ptFrees = 0;
  /** user pages (anonymous, not the zero page) held now and at peak */
  userPages = 0;
  userPeak = 0;
  /** rss of the processes that run a user heap */
  heapRss = 0;
  created = 0;
  exited = 0;
  forkFailed = 0;
  brkFailed = 0;
  mmapFailed = 0;
  private readonly steps: Steps;
  private readonly autoVma: boolean;

  /** managed pages of every zone: totalram_pages() */
  private readonly totalram: number;

  constructor(private readonly machine: Machine, opts: VmOptions = {}) {
    this.totalram = machine.zones.reduce((s, z) => s + z.managed, 0);
    this.mapCount = new Int32Array(machine.totalPfns);
    this.steps = machine.steps;
    this.autoVma = opts.autoVma ?? false;
    checkPidCount(opts.pids ?? 1, 'the trace');
    this.procs = new Array<Process | undefined>(Math.max(1, opts.pids ?? 1)).fill(undefined);
  }

  // --- TablePages: page-table pages from the page allocator ---

  allocTable(): number {
    const pfn = this.machine.allocPages(0, GFP_PGTABLE_USER);
    if (pfn < 0) return -1;
    tick(this.steps, STEP_PT_PAGE);
    this.ptAllocs++;
    if (++this.ptLive > this.ptPeak) this.ptPeak = this.ptLive;
    return pfn;
  }

  freeTable(pfn: number): void {
    tick(this.steps, STEP_PT_PAGE);
    this.ptFrees++;
    this.ptLive--;
    this.machine.freePages(pfn, 0);
  }

  // --- processes ---

  /** The live process `pid`; one that was never forked exists from the start of the trace (like init). Null when its PGD cannot be had. */
  process(pid: number): Process | null {
    const p = this.procs[pid];
    if (p !== undefined) return p;
    const q = new Process(pid, this);
    if (q.pt.pgd < 0) return null;
    if (pid >= this.procs.length) {
      const old = this.procs.length;
      this.procs.length = Math.max(pid + 1, old * 2);
      this.procs.fill(undefined, old);
    }
    this.procs[pid] = q;
    this.created++;
    return q;
  }

  /**
   * fork(): the child gets a copy of the VMAs and of every present PTE (copy_page_range); private
   * writable pages are write-protected in both (copy_present_pte) and their map counts go up.
   * A child pid that is still alive is exited first (the trace reused it). False when memory for
   * the child's page tables ran out: the fork fails (ENOMEM) and nothing of the child is left.
   */
  fork(pid: number, child: number): boolean {
    const parent = this.process(pid);
    if (parent === null) { this.forkFailed++; return false; }
    if (this.procs[child] !== undefined) this.exit(child);
    const c = this.process(child);
    if (c === null) { this.forkFailed++; return false; }
    c.copyLayout(parent);
    const ppt = parent.pt, cpt = c.pt, mc = this.mapCount, zero = this.zeroPfn;
    for (let s = 0; s < ppt.slotTop; s++) {
      if (!ppt.isPteSlot(s)) continue;
      const cs = cpt.ensurePte(ppt.regionOfSlot(s));
      if (cs < 0) { this.exit(child); this.created--; this.exited--; this.forkFailed++; return false; }
      const base = s * PTRS_PER_TABLE;
      for (let i = 0; i < PTRS_PER_TABLE; i++) {
        let e = ppt.pte[base + i]!;
        if (e === 0) continue;
        if ((e & (PTE_SHARED | PTE_WRITE)) === PTE_WRITE) { e &= ~PTE_WRITE; ppt.pte[base + i] = e; }
        cpt.set(cs, i, e);
        const pfn = ptePfn(e);
        if (pfn !== zero) { mc[pfn]!++; c.rss++; }
      }
    }
    return true;
  }

  /** exit(): every mapping zapped, every table freed (exit_mmap), the pid forgotten. */
  exit(pid: number): void {
    const p = this.procs[pid];
    if (p === undefined) return;
    const pt = p.pt;
    for (let s = 0; s < pt.slotTop; s++) if (pt.isPteSlot(s)) this.zapSlot(p, s, 0, PTRS_PER_TABLE);
    pt.destroy();
    this.procs[pid] = undefined;
    this.exited++;
  }

  /**
   * mmap(): an address-less request takes the highest free gap below MMAP_TOP
   * (arch_get_unmapped_area_topdown); an address is taken as MAP_FIXED (what was mapped there is
   * unmapped first). Returns the address, or -1 (bad length, no room).
   */
  mmap(pid: number, addr: number, len: number, protFlags: number): number {
    const p = this.process(pid);
    len = Math.ceil(len / PAGE) * PAGE;
    if (p === null || len <= 0 || len > TASK_SIZE) { this.mmapFailed++; return -1; }
    const prot = protFlags & 0xff, flags = protFlags >>> 8;
    let vf = 0;
    if (prot & PROT_READ) vf |= VM_READ;
    if (prot & PROT_WRITE) vf |= VM_WRITE | VM_READ; // x86 cannot map write-only
    if (flags & MAP_SHARED) vf |= VM_SHARED;
    if (flags & MAP_ANONYMOUS) vf |= VM_ANON;
    if (flags & MAP_GROWSDOWN) vf |= VM_GROWSDOWN;
    // accountable_mapping(): private writable mappings are charged against the commit limit
    // (MAP_NORESERVE opts out while overcommit is not 'never': VM_NORESERVE, mm/mmap.c)
    if ((vf & (VM_WRITE | VM_SHARED)) === VM_WRITE && (flags & MAP_NORESERVE) === 0 && !this.enoughMemory(len)) { this.mmapFailed++; return -1; }
    if (addr !== 0) {
      addr = Math.floor(addr / PAGE) * PAGE;
      if (addr + len > TASK_SIZE) { this.mmapFailed++; return -1; }
      this.unmapRange(p, addr, addr + len);
    } else {
      addr = this.topDownGap(p, len);
      if (addr < 0) { this.mmapFailed++; return -1; }
    }
    p.insert(addr, addr + len, vf);
    return addr;
  }

  /**
   * __vm_enough_memory() under the default heuristic overcommit (mm/util.c, OVERCOMMIT_GUESS, 6.x):
   * one brk growth or private writable mapping of more pages than the machine's RAM (plus swap:
   * none here) fails with ENOMEM; anything smaller is allowed and faulted in on demand.
   */
  private enoughMemory(len: number): boolean {
    return len / PAGE <= this.totalram;
  }

  private topDownGap(p: Process, len: number): number {
    let end = MMAP_TOP;
    for (;;) {
      const start = end - len;
      if (start < PAGE * 16) return -1;
      const i = p.firstAbove(start);
      if (i >= p.nVma || p.vmaStart[i]! >= end) return start;
      end = p.vmaStart[i]!;
    }
  }

  munmap(pid: number, addr: number, len: number): void {
    const p = this.procs[pid];
    if (p === undefined || len <= 0) return;
    const start = Math.floor(addr / PAGE) * PAGE;
    this.unmapRange(p, start, Math.ceil((addr + len) / PAGE) * PAGE);
  }

  /**
   * brk(): the first call of a process sets start_brk (the heap starts empty there); later calls
   * grow the heap VMA (failing, as the kernel does, if a mapping is in the way) or shrink it,
   * zapping the pages above the new break. Returns whether the break moved to `newBrk`.
   */
  brk(pid: number, newBrk: number): boolean {
    const p = this.process(pid);
    if (p === null) { this.brkFailed++; return false; }
    const end = Math.ceil(newBrk / PAGE) * PAGE;
    if (p.brkStart < 0) { p.brkStart = end; p.brk = end; return true; }
    const old = p.brk;
    if (end < p.brkStart || end > TASK_SIZE) { this.brkFailed++; return false; }
    if (end > old) {
      if (!p.isFree(old, end) || !this.enoughMemory(end - old)) { this.brkFailed++; return false; }
      const v = old > p.brkStart ? p.find(old - 1) : -1;
      if (v >= 0 && (p.vmaFlags[v]! & VM_HEAP) !== 0 && p.vmaEnd[v] === old) p.vmaEnd[v] = end;
      else p.insert(old, end, VM_READ | VM_WRITE | VM_ANON | VM_HEAP);
    } else if (end < old) {
      this.unmapRange(p, end, old);
    }
    p.brk = end;
    return true;
  }

  // --- faults ---

  /**
   * handle_mm_fault() for one access of `addr` by `pid` (write: a store). Returns the FAULT_* kind.
   * Read of an untouched private page maps the zero page read-only; a write allocates a zeroed
   * movable page (do_anonymous_page); a write to a write-protected page reuses it when this is its
   * only mapping, else copies it (do_wp_page). A write to the zero page allocates a fresh zeroed
   * page (wp_page_copy with the zero page as source; counted as a new page).
   */
  fault(pid: number, addr: number, write: boolean): number {
    const p = this.procs[pid] ?? this.process(pid);
    if (p === null) return this.count(FAULT_OOM);
    return this.faultIn(p, addr, write);
  }

  faultIn(p: Process, addr: number, write: boolean): number {
    tick(this.steps, STEP_FAULT);
    let v = p.find(addr);
    if (v < 0) {
      v = this.noVma(p, addr);
      if (v < 0) return this.segv(p);
    }
    const fl = p.vmaFlags[v]!;
    if (write ? (fl & VM_WRITE) === 0 : (fl & VM_READ) === 0) return this.segv(p);
    const pt = p.pt;
    const r = Math.floor(addr / REGION);
    const i = Math.floor((addr - r * REGION) / PAGE);
    let s = pt.pteSlot(r);
    const e = s >= 0 ? pt.pte[s * PTRS_PER_TABLE + i]! : 0;
    if (e === 0) {
      if (s < 0) {
        s = pt.ensurePte(r);
        if (s < 0) return this.count(FAULT_OOM);
      }
      if (!write && (fl & VM_SHARED) === 0) {
        pt.set(s, i, pteEntry(this.zeroPfn, 0));
        return this.count(FAULT_ZERO);
      }
      const pfn = this.newPage(p);
      if (pfn < 0) { pt.releaseIfEmpty(s); return this.count(FAULT_OOM); }
      pt.set(s, i, pteEntry(pfn, ((fl & VM_WRITE) !== 0 ? PTE_WRITE : 0) | ((fl & VM_SHARED) !== 0 ? PTE_SHARED : 0)));
      return this.count(FAULT_NEW);
    }
    if (!write || (e & PTE_WRITE) !== 0) return this.count(FAULT_SPURIOUS);
    const old = ptePfn(e);
    const k = s * PTRS_PER_TABLE + i;
    if (old === this.zeroPfn) {
      const pfn = this.newPage(p);
      if (pfn < 0) return this.count(FAULT_OOM);
      pt.pte[k] = pteEntry(pfn, PTE_WRITE);
      return this.count(FAULT_NEW);
    }
    if (this.mapCount[old] === 1) {
      pt.pte[k] = e | PTE_WRITE;
      return this.count(FAULT_COW_REUSE);
    }
    const pfn = this.machine.allocPages(0, GFP_HIGHUSER_MOVABLE);
    if (pfn < 0) return this.count(FAULT_OOM);
    tick(this.steps, STEP_COPY);
    if (++this.userPages > this.userPeak) this.userPeak = this.userPages;
    this.mapCount[pfn] = 1;
    this.mapCount[old]!--;
    pt.pte[k] = pteEntry(pfn, PTE_WRITE);
    return this.count(FAULT_COW_COPY);
  }

  /**
   * Write-faults every page of [addr, addr + len) that is not yet mapped writable: what a program
   * that writes the memory it was given does. Returns the pages that could not be had (OOM).
   */
  touch(p: Process, addr: number, len: number): number {
    let oom = 0;
    const end = addr + len;
    const pt = p.pt;
    for (let a = Math.floor(addr / PAGE) * PAGE; a < end; a += PAGE) {
      if ((pt.entry(a) & PTE_WRITE) !== 0) continue;
      if (this.faultIn(p, a, true) === FAULT_OOM) oom++;
    }
    return oom;
  }

  private count(kind: number): number {
    this.faults[kind]!++;
    return kind;
  }

  private segv(p: Process): number {
    p.segfaults++;
    this.segfaultsByPid.set(p.pid, (this.segfaultsByPid.get(p.pid) ?? 0) + 1);
    return this.count(FAULT_SEGV);
  }

  /** A zeroed GFP_HIGHUSER_MOVABLE page mapped once by p, or -1. */
  private newPage(p: Process): number {
    const pfn = this.machine.allocPages(0, GFP_HIGHUSER_MOVABLE);
    if (pfn < 0) return -1;
    tick(this.steps, STEP_ZERO);
    this.mapCount[pfn] = 1;
    if (++this.userPages > this.userPeak) this.userPeak = this.userPages;
    p.rss++;
    if (p.hasHeap) this.heapRss++;
    return pfn;
  }

  /**
   * No VMA holds addr: a stack VMA just above grows down to it (expand_stack, keeping the guard
   * gap from the mapping below); in auto-VMA mode an anonymous VMA is made around it. Else -1.
   */
  private noVma(p: Process, addr: number): number {
    if (addr < 0 || addr >= TASK_SIZE) return -1;
    const i = p.firstAbove(addr);
    const prevEnd = i > 0 ? p.vmaEnd[i - 1]! : 0;
    const page = Math.floor(addr / PAGE) * PAGE;
    if (i < p.nVma && (p.vmaFlags[i]! & VM_GROWSDOWN) !== 0 && (i === 0 || page - prevEnd >= STACK_GUARD_GAP)) {
      p.vmaStart[i] = page;
      return i;
    }
    if (!this.autoVma) return -1;
    const start = Math.max(Math.floor(addr / REGION) * REGION, prevEnd);
    const end = Math.min(Math.floor(addr / REGION) * REGION + REGION, i < p.nVma ? p.vmaStart[i]! : TASK_SIZE);
    p.insert(start, end, VM_READ | VM_WRITE | VM_ANON);
    return p.find(addr);
  }

  // --- unmapping ---

  /** Zaps the pages of [start, end) (page aligned) and removes the range from the VMAs (do_munmap). */
  private unmapRange(p: Process, start: number, end: number): void {
    const pt = p.pt;
    const r0 = Math.floor(start / REGION), r1 = Math.ceil(end / REGION);
    if (r1 - r0 > pt.slotTop) {
      for (let s = 0; s < pt.slotTop; s++) {
        if (!pt.isPteSlot(s)) continue;
        const r = pt.regionOfSlot(s);
        if (r >= r0 && r < r1) this.zapRegion(p, s, r, start, end);
      }
    } else {
      for (let r = r0; r < r1; r++) {
        const s = pt.pteSlot(r);
        if (s >= 0) this.zapRegion(p, s, r, start, end);
      }
    }
    p.removeRange(start, end);
  }

  private zapRegion(p: Process, s: number, r: number, start: number, end: number): void {
    const base = r * REGION;
    const i0 = start > base ? (start - base) / PAGE : 0;
    const i1 = end < base + REGION ? (end - base) / PAGE : PTRS_PER_TABLE;
    this.zapSlot(p, s, i0, i1);
  }

  /** Clears entries [i0, i1) of PTE slot s (zap_pte_range): map counts drop, unmapped pages are freed. */
  private zapSlot(p: Process, s: number, i0: number, i1: number): void {
    const pt = p.pt, mc = this.mapCount;
    const base = s * PTRS_PER_TABLE;
    for (let i = i0; i < i1; i++) {
      const e = pt.pte[base + i]!;
      if (e === 0) continue;
      const pfn = ptePfn(e);
      if (pfn !== this.zeroPfn) {
        p.rss--;
        if (p.hasHeap) this.heapRss--;
        if (--mc[pfn]! === 0) { this.machine.freePages(pfn, 0); this.userPages--; }
      }
      pt.set(s, i, 0); // frees the table (and emptied parents) with its last entry
      if (pt.slotCount[s] === 0 && !pt.isPteSlot(s)) return;
    }
  }

  /** madvise(MADV_DONTNEED): zaps the pages of [addr, addr + len), keeping the VMAs. */
  discard(pid: number, addr: number, len: number): void {
    const p = this.procs[pid];
    if (p === undefined || len <= 0) return;
    const start = Math.floor(addr / PAGE) * PAGE, end = Math.ceil((addr + len) / PAGE) * PAGE;
    const pt = p.pt;
    for (let r = Math.floor(start / REGION); r < Math.ceil(end / REGION); r++) {
      const s = pt.pteSlot(r);
      if (s >= 0) this.zapRegion(p, s, r, start, end);
    }
  }

  /** The machine's step counters (user heaps count their steps there). */
  machineSteps(): Steps {
    return this.steps;
  }

  /** Marks p as running a user heap (its rss counts into heapRss from now on). */
  markHeap(p: Process): void {
    if (p.hasHeap) return;
    p.hasHeap = true;
    this.heapRss += p.rss;
  }

  /** Pages the VM holds from the page allocator (user pages + page-table pages). */
  pagesHeld(): number {
    return this.userPages + this.ptLive;
  }

  /**
   * --check: every table's counts; every present PTE lies in a VMA and points to a user page with a
   * positive map count (or is the read-only zero page); a page's map count equals the PTEs that
   * point to it; rss, user-page and table-page totals match.
   */
  check(): void {
    const refs = new Int32Array(this.mapCount.length);
    let tables = 0;
    let heapRss = 0;
    for (const p of this.procs) {
      if (p === undefined) continue;
      const pt = p.pt;
      pt.check();
      tables += pt.tables;
      let rss = 0;
      for (let s = 0; s < pt.slotTop; s++) {
        if (!pt.isPteSlot(s)) continue;
        const r = pt.regionOfSlot(s);
        for (let i = 0; i < PTRS_PER_TABLE; i++) {
          const e = pt.pte[s * PTRS_PER_TABLE + i]!;
          if (e === 0) continue;
          const addr = r * REGION + i * PAGE;
          if (p.find(addr) < 0) throw new InvariantError(`pid ${p.pid}: PTE for 0x${addr.toString(16)} outside every VMA`);
          const pfn = ptePfn(e);
          if (pfn === this.zeroPfn) {
            if (e & PTE_WRITE) throw new InvariantError(`pid ${p.pid}: zero page mapped writable at 0x${addr.toString(16)}`);
            continue;
          }
          if (pfn < 0 || pfn >= refs.length) throw new InvariantError(`pid ${p.pid}: PTE points to pfn ${pfn} outside memory`);
          if (this.mapCount[pfn]! <= 0) throw new InvariantError(`pid ${p.pid}: PTE at 0x${addr.toString(16)} points to pfn ${pfn} with map count ${this.mapCount[pfn]}`);
          if ((e & PTE_WRITE) && (e & PTE_SHARED) === 0 && this.mapCount[pfn] !== 1) throw new InvariantError(`pid ${p.pid}: private page ${pfn} writable with map count ${this.mapCount[pfn]}`);
          refs[pfn]!++;
          rss++;
        }
      }
      if (rss !== p.rss) throw new InvariantError(`pid ${p.pid}: rss ${p.rss}, ${rss} pages mapped`);
      if (p.hasHeap) heapRss += rss;
    }
    let pages = 0;
    for (let pfn = 0; pfn < refs.length; pfn++) {
      if (refs[pfn] !== this.mapCount[pfn]) throw new InvariantError(`page ${pfn}: map count ${this.mapCount[pfn]}, ${refs[pfn]} PTEs point to it`);
      if (refs[pfn]! > 0) pages++;
    }
    if (pages !== this.userPages) throw new InvariantError(`${this.userPages} user pages counted, ${pages} mapped`);
    if (tables !== this.ptLive) throw new InvariantError(`${this.ptLive} page-table pages counted, processes hold ${tables}`);
    if (heapRss !== this.heapRss) throw new InvariantError(`heap rss ${this.heapRss}, heap processes map ${heapRss}`);
  }

  /** Per-cell figures. */
  metrics(): Record<string, unknown> {
    const faults: Record<string, number> = {};
    FAULT_NAMES.forEach((n, k) => { faults[n] = this.faults[k]!; });
    const minor = this.faults[FAULT_ZERO]! + this.faults[FAULT_NEW]! + this.faults[FAULT_COW_COPY]! + this.faults[FAULT_COW_REUSE]!;
    const segv: Record<string, number> = {};
    for (const [pid, n] of [...this.segfaultsByPid].sort((a, b) => a[0] - b[0])) segv[String(pid)] = n;
    return {
      minor_faults: minor,
      faults,
      segfaults: this.faults[FAULT_SEGV]!,
      segfaults_by_pid: segv,
      page_table_pages: this.ptPeak,
      page_table_pages_live: this.ptLive,
      page_table_allocs: this.ptAllocs,
      page_table_frees: this.ptFrees,
      user_pages_live: this.userPages,
      peak_user_pages: this.userPeak,
      processes_created: this.created,
      processes_exited: this.exited,
      fork_failed: this.forkFailed,
      mmap_failed: this.mmapFailed,
      brk_failed: this.brkFailed,
    };
  }
}

export { PageTable };
