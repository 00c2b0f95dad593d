import { AllocbenchError } from '../errors.js';
import { PCP_RULES_6_1, PCP_RULES_6_12, type PcpRules } from './pcp.js';

/**
 * The buddy allocator rules that changed between the kernels allocbench models and that change
 * where pages end up. `buddy-mobility:6.1` / `:6.12` select one; without, the machine's kernel's
 * (MachineConfig.kernel: a recording's machine.json "kernel_version"), else the newest.
 */
export interface BuddyRules {
  readonly version: string;
  /**
   * 6.10+ __free_one_page()/split_large_buddy(): a freed block joins the list of its pageblock's
   * type (after merging; a buddy of another type at order ≥ pageblock_order is retyped). 6.1
   * __free_one_page(page, pfn, zone, order, migratetype): the list of the migratetype the caller
   * passed (__free_pages_ok: the pageblock's type at free time; free_pcppages_bulk: the type the
   * page had when it was put on the pcp list), and a merge never retypes the buddy's pageblock.
   */
  readonly freeToBlockType: boolean;
  /**
   * 6.10+ steal_suitable_fallback() single_page: page_del_and_expand(…, block_type), the split
   * remainders stay on the pageblock's own type. 6.1: move_to_free_list(page, …, start_type), then
   * __rmqueue_smallest() expands with the request's type: the remainders join the request's lists.
   */
  readonly remainderKeepsBlockType: boolean;
  /**
   * 6.10+ prep_move_freepages_block() counts first and moves the free blocks only when the block is
   * claimed. 6.1 move_freepages_block() moves every free block of the pageblock to the request's
   * lists whenever whole_block (can_steal_fallback()) holds, and only the pageblock type waits for
   * the free + alike ≥ pageblock_nr_pages / 2 test.
   */
  readonly moveOnlyOnClaim: boolean;
  /**
   * How a recording of this kernel shows a fallback's take (what a reader of its buddy-level takes
   * must know, metrics/pcp-traffic.ts recordedBuddyTakes()). 6.1 __rmqueue(): after
   * __rmqueue_fallback() moved the stolen block to the request's lists, `goto retry` takes it with
   * __rmqueue_smallest(), which emits mm_page_alloc_zone_locked. 6.10+ __rmqueue_fallback() returns
   * the page steal_suitable_fallback() took itself (del + expand, no tracepoint), so the take is seen
   * only as mm_page_alloc_extfrag, whose page is the taken block; only a claimed block's take goes
   * through __rmqueue_smallest() (traced just before the extfrag event, on the same pfn).
   */
  readonly fallbackTakeTraced: boolean;
  /** per-CPU page list rules */
  readonly pcp: PcpRules;
}

export const RULES_6_1: BuddyRules = { version: '6.1', freeToBlockType: false, remainderKeepsBlockType: false, moveOnlyOnClaim: false, fallbackTakeTraced: true, pcp: PCP_RULES_6_1 };
export const RULES_6_12: BuddyRules = { version: '6.12', freeToBlockType: true, remainderKeepsBlockType: true, moveOnlyOnClaim: true, fallbackTakeTraced: false, pcp: PCP_RULES_6_12 };
export const BUDDY_RULES: Record<string, BuddyRules> = { '6.1': RULES_6_1, '6.12': RULES_6_12 };
export const NEWEST_RULES = RULES_6_12;

export interface BuddyVariant { rules: BuddyRules; pcp: boolean }

/**
 * Parses `6.1`, `6.12`, `pcp=on|off` (comma-separated, any order) after `buddy:` / `buddy-mobility:`;
 * without a version, the rule set of `kernel` (the machine's), else the newest.
 */
export function parseBuddyVariant(name: string, variant: string | undefined, kernel?: string): BuddyVariant {
  const out: BuddyVariant = { rules: rulesForKernel(kernel) ?? NEWEST_RULES, pcp: true };
  if (variant === undefined) return out;
  for (const item of variant.split(',')) {
    const r = BUDDY_RULES[item];
    if (r !== undefined) out.rules = r;
    else if (item === 'pcp=off' || item === 'pcp=on') out.pcp = item === 'pcp=on';
    else throw new AllocbenchError(`page strategy "${name}:${variant}": unknown option "${item}" (valid: ${Object.keys(BUDDY_RULES).join(', ')}, pcp=on, pcp=off)`);
  }
  return out;
}

/** The rule set for a recording's kernel_version ("6.1", "6.12.57" → 6.12), or undefined. */
export function rulesForKernel(version: string | undefined): BuddyRules | undefined {
  if (version === undefined) return undefined;
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m === null ? undefined : BUDDY_RULES[`${m[1]}.${m[2]}`];
}

