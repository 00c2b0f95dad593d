import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load per use).
const { STEP_CALL, tick } = stepsModule;

/** What a size-class allocator gives the shared realloc rule. */
export interface SizeClassHeap {
  alloc(bytes: number, gfp: number): number;
  free(addr: number): void;
}

/**
 * realloc for allocators whose blocks come in size classes (krealloc in mm/slab_common.c, 4.4BSD
 * kern_realloc): the same block while its usable size covers the new size, otherwise a new block
 * (the copy is not priced) and the old one freed. -1 when the new block cannot be had; the old one
 * then stays live. `usable` is -1 for an address the allocator does not know.
 */
export function reallocInSizeClass(
  heap: SizeClassHeap, steps: Steps, ctr: { realloc_in_place: number; realloc_moved: number },
  addr: number, usable: number, newBytes: number, gfp: number,
): number {
  if (usable >= 0 && newBytes <= usable) {
    tick(steps, STEP_CALL);
    ctr.realloc_in_place++;
    return addr;
  }
  const n = heap.alloc(newBytes, gfp);
  if (n < 0) return -1;
  if (usable >= 0) heap.free(addr);
  ctr.realloc_moved++;
  return n;
}
