/**
 * Primitive step counters (DESIGN.md §6). Strategies only count; the cost model (a JSON table of
 * nanoseconds per step) turns counts into simulated time. One Float64Array per machine, indexed by
 * these constants, is shared by every layer.
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

/**
 * The counters, then at STEP_NS the priced total (tenths of a simulated ns, PRICE_SCALE) and at
 * STEP_PRICE + k the price of step k in those units. Every count goes through tick()/ticks(), which add the step's price to the total as well,
 * so an event's simulated latency is the change of one number (a replay used to take the dot product
 * of all the counters with the cost table after every event: a tenth of a buddy replay). The prices
 * are zero until a replay that records latency sets them (setPrices); the counters alone are what the
 * strategies' tests and the cells' `steps` read.
 */
export type Steps = Float64Array;
/**
 * Priced units per simulated ns: the cost tables price steps in multiples of a tenth of a ns (5.5,
 * 0.5), so an event's priced change is a whole number a latency histogram takes as it is, without a
 * rounding per event (and sums of whole numbers are exact).
 */
export const PRICE_SCALE = 10;
export const STEP_NS = STEP_COUNT;
export const STEP_PRICE = STEP_COUNT + 1;

export function newSteps(): Steps {
  return new Float64Array(STEP_PRICE + STEP_COUNT);
}

/**
 * STEP_NS and STEP_PRICE as private constants for tick()/ticks() (issue 17): optimized code reads an
 * exported binding through its module cell, with a check for the temporal dead zone, even in this
 * module's own functions (every tick inlined into a strategy paid two such loads and an overflow
 * check); a constant that is not exported is folded into the code.
 */
const NS = STEP_NS, PRICE = STEP_PRICE;

/** One step of kind k. */
export function tick(s: Steps, k: number): void {
  s[k]!++;
  s[NS]! += s[PRICE + k]!;
}

/** n steps of kind k. */
export function ticks(s: Steps, k: number, n: number): void {
  s[k]! += n;
  s[NS]! += n * s[PRICE + k]!;
}

/**
 * The priced total, set back to 0: what the steps since the last call cost (the replay takes it after
 * every event, so an event's latency is what it leaves there; run/replay.ts).
 */
export function takePriced(s: Steps): number {
  const v = s[NS]!;
  s[NS] = 0;
  return v;
}

/** Prices the steps from now on (ns per step, indexed like the counters: machine/cost.ts), rounded to PRICE_SCALE units. */
export function setPrices(s: Steps, ns: Float64Array): void {
  for (let k = 0; k < STEP_COUNT; k++) s[STEP_PRICE + k] = Math.round(ns[k]! * PRICE_SCALE);
}
