/**
 * Primitive step counters (DESIGN.md §6). Strategies only count; the cost model (a JSON table of
 * nanoseconds per step) turns counts into simulated time. One Float64Array per machine, indexed by
 * these constants, is shared by every layer so a replay can read the delta of one event cheaply.
 */
export const STEP_CALL = 0; //        one entry into an allocator (fixed overhead)
export const STEP_WORD = 1; //        one bitmap/summary word read
export const STEP_LIST = 2; //        one free-list node visited, inserted or removed
export const STEP_SPLIT = 3; //       one buddy split (expand)
export const STEP_MERGE = 4; //       one buddy merge
export const STEP_PAGEBLOCK = 5; //   one page looked at while scanning a pageblock (move_freepages_block)
export const STEP_FALLBACK = 6; //    one migratetype fallback taken
export const STEP_OBJ_FAST = 7; //    one object alloc/free served from a per-CPU slab / bucket
export const STEP_OBJ_SLOW = 8; //    one slow-path object op (partial list, new slab)
export const STEP_PT_PAGE = 9; //     one page-table page allocated or freed
export const STEP_ZERO = 10; //       one page zeroed
export const STEP_COPY = 11; //       one page copied (COW)
export const STEP_FAULT = 12; //      one page fault taken
export const STEP_ZONE = 13; //       one zone tried in the zonelist
export const STEP_COUNT = 14;

export const STEP_NAMES: readonly string[] = [
  'call', 'word', 'list', 'split', 'merge', 'pageblock', 'fallback', 'obj_fast', 'obj_slow',
  'pt_page', 'zero', 'copy', 'fault', 'zone',
];

export type Steps = Float64Array;

export function newSteps(): Steps {
  return new Float64Array(STEP_COUNT);
}
