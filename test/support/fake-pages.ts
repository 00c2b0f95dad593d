import type { PageSource } from '../../src/machine/page-source.js';

/**
 * A page source for object-layer tests: a bump allocator of naturally aligned pfn blocks with a
 * page limit (to simulate out of memory) that records every call. Frees are counted, not reused.
 */
export class FakePages implements PageSource {
  used = 0;
  next = 0;
  /** allocations above this order fail, to drive fallbacks */
  failOrderAbove = 99;
  readonly allocs: { pfn: number; order: number; gfp: number }[] = [];
  readonly frees: { pfn: number; order: number }[] = [];

  constructor(readonly totalPfns = 1 << 15, readonly limit = totalPfns) {}

  allocPages(order: number, gfp: number): number {
    const n = 1 << order;
    if (order > this.failOrderAbove || this.used + n > this.limit) return -1;
    const pfn = Math.ceil(this.next / n) * n;
    if (pfn + n > this.totalPfns) return -1;
    this.next = pfn + n;
    this.used += n;
    this.allocs.push({ pfn, order, gfp });
    return pfn;
  }

  freePages(pfn: number, order: number): void {
    this.used -= 1 << order;
    this.frees.push({ pfn, order });
  }
}
