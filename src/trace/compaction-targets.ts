/**
 * The blocks a kernel recording's compaction took off the free lists as migration targets, and
 * which of their pages are still held, so that the frees of their pieces pair with them.
 *
 * Compaction isolates a free buddy block whole with __isolate_free_page() (mm/page_alloc.c, called
 * from isolate_freepages_block() and fast_isolate_freepages() in mm/compaction.c), which has no
 * mm_page_alloc tracepoint; the recording script puts a kprobe on it (scripts/kernel-init.sh). The
 * block's pages then come back in pieces, each through free_pages_prepare() → mm_page_free:
 *   6.1  split_map_pages() splits every isolated block into order-0 pages at once; each one either
 *        receives a migrated page (and is freed whenever that page is) or goes back unused through
 *        release_freepages() → __free_page() at the end of the compaction run.
 *   6.12 (since 6.9, "mm/compaction: enable compacting >0 order folios") the blocks stay whole on
 *        cc->freepages[order]; compaction_alloc() cuts off an aligned piece of the migrated folio's
 *        order, and release_free_list() frees what is left as the aligned pieces of each order.
 * Either way every piece is an aligned sub-block of the isolated block. A piece freed once is gone
 * from the block (a later allocation of its pfn is an ordinary mm_page_alloc).
 */
import { AddrMap } from './kernel-events.js';

/** Orders above this are never isolated (MAX_ORDER 10 on x86-64 6.1; MAX_PAGE_ORDER 10 on 6.12). */
const MAX_BLOCK_ORDER = 10;

export class CompactionTargets {
  /** head pfn → block index */
  private readonly byHead = new AddrMap(256);
  private ids: number[] = [];
  private heads: number[] = [];
  private orders: number[] = [];
  /** per block: its pages still held (1) or already freed (0) */
  private held: Uint8Array[] = [];
  private live: number[] = [];
  /** blocks with pages still held */
  liveBlocks = 0;

  // results of the last find()
  /** the trace id of the block found */
  foundId = -1;
  /** the piece's offset in it (pages) */
  foundOffset = 0;
  private found = -1;

  /** Registers block `id`: 2^order pages from pfn `head`, all held. */
  add(id: number, head: number, order: number): void {
    const k = this.ids.length;
    this.ids.push(id); this.heads.push(head); this.orders.push(order);
    this.held.push(new Uint8Array(1 << order).fill(1));
    this.live.push(1 << order);
    this.liveBlocks++;
    this.byHead.set(0, head, k);
  }

  /**
   * Whether the 2^order pages at `pfn` are all held by one live block: then foundId and
   * foundOffset say which and where, for take().
   */
  find(pfn: number, order: number): boolean {
    this.found = -1;
    if (this.liveBlocks === 0) return false;
    for (let n = 0; n <= MAX_BLOCK_ORDER; n++) {
      const head = pfn - (pfn % (1 << n));
      const k = this.byHead.get(0, head);
      if (k < 0 || this.live[k]! === 0) continue;
      const off = pfn - head;
      if (off + (1 << order) > 1 << this.orders[k]!) continue;
      const held = this.held[k]!;
      for (let i = off; i < off + (1 << order); i++) if (held[i] === 0) return false;
      this.found = k;
      this.foundId = this.ids[k]!;
      this.foundOffset = off;
      return true;
    }
    return false;
  }

  /** Frees the piece the last find() found; returns whether it was the block's last held piece. */
  take(order: number): boolean {
    const k = this.found;
    const held = this.held[k]!;
    held.fill(0, this.foundOffset, this.foundOffset + (1 << order));
    this.live[k]! -= 1 << order;
    this.found = -1;
    if (this.live[k]! > 0) return false;
    this.liveBlocks--;
    this.byHead.take(0, this.heads[k]!);
    this.held[k] = new Uint8Array(0);
    return true;
  }

  /** Pages still held by isolated blocks (migration targets that hold data at the end of the trace). */
  heldPages(): number {
    let n = 0;
    for (const l of this.live) n += l;
    return n;
  }
}
