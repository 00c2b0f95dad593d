/**
 * The machine's page allocator as the layers above see it (alloc_pages()/__free_pages() over all
 * zones): what object strategies and user heaps take their backing pages from. Machine implements
 * it; the replay wraps it to count pages (run/replay.ts).
 */
export interface PageSource {
  /** alloc_pages(): a global pfn, or -1 when the machine is out of memory */
  allocPages(order: number, gfp: number): number;
  freePages(pfn: number, order: number): void;
  /** pfns are 0..totalPfns-1, so per-page metadata can be a typed array of this length */
  readonly totalPfns: number;
}
