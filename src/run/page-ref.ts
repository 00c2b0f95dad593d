/**
 * A live page block's reference in the replay's per-id state (run/replay.ts Replay.ref): negative,
 * -(2 pfn + 2^order). Blocks are naturally aligned (the PageStrategy contract), so the lowest set
 * bit of 2 pfn + 2^order is the order, and every pfn of a machine (below 2^30, 4 TiB) fits. The
 * replay and the model's compaction (run/compaction-replay.ts), which moves live blocks, share it.
 */
import { InvariantError } from '../errors.js';

/** A live page block's reference; a block that is not naturally aligned is a page strategy's bug. */
export function alignedPageRef(pfn: number, order: number): number {
  // the error built out of line: its message template is most of the bytecode V8 would otherwise
  // inline into the replay's loop at every page_alloc, against its inlining budget (issue 17)
  if ((pfn & ((1 << order) - 1)) !== 0) notAligned(pfn, order);
  return -(2 * pfn + (1 << order));
}

function notAligned(pfn: number, order: number): never {
  throw new InvariantError(`page block ${pfn} of order ${order} is not naturally aligned`);
}
/** The order of a live page block's reference v (< 0): the lowest set bit of -v. */
export function refOrder(v: number): number {
  const c = -v;
  return 31 - Math.clz32(c & -c);
}
/** The pfn of a live page block's reference v (< 0) of order `order`. */
export function refPfn(v: number, order: number): number {
  return (-v - (1 << order)) >>> 1;
}
