import { InvariantError } from '../errors.js';
import { BRK_BASE, type HeapMemory } from './heap-memory.js';
import type { CpuCursor } from '../machine/cpu-cursor.js';
import type { ObjectStrategy, ObjectStrategyFactory, ObjectUsage } from './strategy.js';
import type { PageSource } from '../machine/page-source.js';
import { forEachAlignedBlock } from '../machine/decompose.js';
import { pageStrategyFactory } from '../page/registry.js';
import type { PageStrategy } from '../page/strategy.js';
import { GFP_USER } from '../machine/gfp.js';
import { newSteps } from '../machine/steps.js';
import type { Vm } from '../machine/vm.js';

const PAGE = 4096;
const RW_PRIVATE_ANON = (0x1 | 0x2) | (0x02 | 0x20) << 8; // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
/** the same with MAP_NORESERVE: a size-class heap reserves its whole region up front (as mimalloc and jemalloc reserve address space) and commits it by faults */
const RW_PRIVATE_ANON_NORESERVE = RW_PRIVATE_ANON | 0x4000 << 8;

/** Bytes mapped by every user heap now and at peak (brk extent + mmapped regions / size-class pages handed out). */
export class HeapFootprint {
  bytes = 0;
  peak = 0;
  add(delta: number): void {
    this.bytes += delta;
    if (this.bytes > this.peak) this.peak = this.bytes;
  }
}

/**
 * HeapMemory over one process's address space (the seam dlmalloc was built with): sbrk moves the
 * process's break (brk VMA), mmap/munmap make anonymous private VMAs. Nothing is backed here: the
 * pages are populated by demand faults when the replay touches the memory malloc handed out.
 */
export class ProcessHeapMemory implements HeapMemory {
  constructor(private readonly vm: Vm, private readonly pid: number, private readonly footprint: HeapFootprint) {}

  sbrk(delta: number): number {
    const p = this.vm.process(this.pid);
    if (p === null) return -1;
    if (p.brkStart < 0) this.vm.brk(this.pid, BRK_BASE);
    const old = p.brk;
    if (delta === 0) return old;
    if (delta % PAGE !== 0 || !this.vm.brk(this.pid, old + delta)) return -1;
    this.footprint.add(delta);
    return old;
  }

  mmap(len: number): number {
    if (len <= 0 || len % PAGE !== 0) return -1;
    const a = this.vm.mmap(this.pid, 0, len, RW_PRIVATE_ANON);
    if (a >= 0) this.footprint.add(len);
    return a;
  }

  munmap(addr: number, len: number): void {
    this.vm.munmap(this.pid, addr, len);
    this.footprint.add(-len);
  }

  residentPages(): number {
    return this.vm.procs[this.pid]?.rss ?? 0;
  }
}

/**
 * A PageSource whose "pages" are virtual pages of one process, for the page-based object
 * strategies (slub, kmalloc-pow2) run as user heaps (a size-class malloc on mmap'd memory). One
 * anonymous region of `pages` virtual pages is mmap'd at the first allocation; blocks of it are
 * placed by a private buddy instance (naturally aligned, as the strategies expect), so "pfns" are
 * compact indices 0..pages-1 and the strategies' per-page metadata stays `pages` long instead of
 * the machine's pfn count. Freeing a block discards its pages (madvise(MADV_DONTNEED)-like: the VMA
 * stays, the pages go back to the page allocator). Its own placement steps are not priced.
 */
export class VirtualPageSource implements PageSource {
  base = -1;
  private readonly buddy: PageStrategy;
  constructor(private readonly vm: Vm, private readonly pid: number, readonly totalPfns: number, private readonly footprint: HeapFootprint) {
    this.buddy = pageStrategyFactory('buddy')({ pages: totalPfns, steps: newSteps() });
    forEachAlignedBlock(0, totalPfns, (pfn, order) => this.buddy.free(pfn, order));
  }

  allocPages(order: number, _gfp: number): number {
    if (this.base < 0) {
      this.base = this.vm.mmap(this.pid, 0, this.totalPfns * PAGE, RW_PRIVATE_ANON_NORESERVE);
      if (this.base < 0) return -1;
    }
    const idx = this.buddy.alloc(order, 0);
    if (idx >= 0) this.footprint.add(PAGE << order);
    return idx;
  }

  freePages(pfn: number, order: number): void {
    this.buddy.free(pfn, order);
    this.footprint.add(-(PAGE << order));
    this.vm.discard(this.pid, this.base + pfn * PAGE, PAGE << order);
  }
}

/** Compact region size of a size-class user heap: 4 GiB of virtual pages at most, never more than the machine has. */
export function sizeClassHeapPages(managedPages: number): number {
  let n = 1 << 10;
  while (n < managedPages && n < 1 << 20) n <<= 1;
  return n;
}

/**
 * The user heaps of a replay: one object-strategy instance per pid, made on the pid's first malloc
 * event. dlmalloc gets a ProcessHeapMemory (brk + mmap); slub and kmalloc-pow2 get a
 * VirtualPageSource. `base[pid]` turns a heap address into the process's virtual address (0 for
 * dlmalloc, whose addresses are virtual already); `header[pid]` bytes before an object are written
 * with it (dlmalloc's chunk header).
 */
export class UserHeaps {
  heaps: (ObjectStrategy | undefined)[] = [];
  sources: (VirtualPageSource | undefined)[] = [];
  /** bumped when a pid's heap goes away (exit), so late frees of its objects are recognised */
  gen = new Int32Array(16);
  readonly footprint = new HeapFootprint();
  created = 0;

  constructor(
    private readonly vm: Vm,
    private readonly factory: ObjectStrategyFactory,
    private readonly kind: 'memory' | 'pages',
    private readonly cpus: number,
    private readonly regionPages: number,
    /** the replay's CPU of the current event, for the heaps' per-CPU state (SLUB as a user heap) */
    private readonly cpuCursor?: CpuCursor,
  ) {}

  /** The heap of pid, made on first use; null when the process cannot be created (OOM). */
  heap(pid: number): ObjectStrategy | null {
    const h = this.heaps[pid];
    if (h !== undefined) return h;
    const p = this.vm.process(pid);
    if (p === null) return null;
    this.vm.markHeap(p);
    let heap: ObjectStrategy;
    if (this.kind === 'memory') {
      heap = this.factory({ pages: NO_PAGES, steps: this.vm.machineSteps(), cpus: this.cpus, heap: new ProcessHeapMemory(this.vm, pid, this.footprint), ...(this.cpuCursor ? { cpuCursor: this.cpuCursor } : {}) });
    } else {
      const src = new VirtualPageSource(this.vm, pid, this.regionPages, this.footprint);
      this.sources[pid] = src;
      heap = this.factory({ pages: src, steps: this.vm.machineSteps(), cpus: this.cpus, ...(this.cpuCursor ? { cpuCursor: this.cpuCursor } : {}) });
    }
    this.heaps[pid] = heap;
    if (pid >= this.gen.length) { const g = new Int32Array(Math.max(pid + 1, this.gen.length * 2)); g.set(this.gen); this.gen = g; }
    this.created++;
    return heap;
  }

  /** Write-faults the bytes of an object just handed out (and its header). Returns pages that could not be had. */
  touch(pid: number, addr: number, bytes: number): number {
    const p = this.vm.procs[pid];
    if (p === undefined) return 0;
    const src = this.sources[pid];
    if (src !== undefined) return this.vm.touch(p, src.base + addr, Math.max(1, bytes));
    return this.vm.touch(p, addr - DL_HEADER, Math.max(1, bytes) + DL_HEADER);
  }

  /** The process exited: its heap goes with its address space. */
  drop(pid: number): void {
    if (this.heaps[pid] === undefined) return;
    this.heaps[pid] = undefined;
    this.sources[pid] = undefined;
    this.gen[pid]!++;
  }

  usage(): ObjectUsage {
    let bytes = 0;
    for (const h of this.heaps) if (h !== undefined) bytes += h.usage().bytesReserved;
    return { bytesReserved: bytes, pagesHeld: this.vm.heapRss };
  }

  check(): void {
    for (let pid = 0; pid < this.heaps.length; pid++) {
      const h = this.heaps[pid];
      if (h === undefined) continue;
      h.check();
      const src = this.sources[pid];
      if (src !== undefined && h.usage().pagesHeld * PAGE > this.footprint.bytes) {
        throw new InvariantError(`user heap of pid ${pid} holds ${h.usage().pagesHeld} pages, footprint ${this.footprint.bytes} bytes`);
      }
    }
  }
}

/** dlmalloc's chunk header before the user pointer (prev_foot + head, malloc.c) */
const DL_HEADER = 16;

/** A heap on HeapMemory never asks for pages; this source says so loudly if it ever does. */
const NO_PAGES: PageSource = {
  totalPfns: 0,
  allocPages(): number { throw new InvariantError('a HeapMemory user heap asked the page allocator directly'); },
  freePages(): void { throw new InvariantError('a HeapMemory user heap freed to the page allocator directly'); },
};

export { GFP_USER };
