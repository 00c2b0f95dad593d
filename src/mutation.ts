import { AllocbenchError } from './errors.js';

/**
 * Deliberate bugs for the gate's mutation check (test/mutation.test.ts): each one breaks a rule a
 * strategy depends on, and the gate matrix (baseline/gate.json) must notice every one of them.
 * Test-only: set ALLOCBENCH_MUTATION=NAME in the environment (worker threads inherit it). A strategy
 * reads its switch once, in its constructor, into a readonly field, so the replay loop pays a field
 * read at most and nothing when the switch is off.
 */
export const MUTATIONS = {
  'buddy-merge-cap': 'buddy: __free_one_page() stops merging at order 8 (below MAX_ORDER)',
  'buddy-no-tail': 'buddy: buddy_merge_likely() tail placement removed (every free block goes to the head)',
  'bitmap-hint-frozen': 'bitmap, bitmap2: the next-fit hint is never advanced (first fit from word 0)',
  'slub-no-partial': 'slub: the slow path never takes a slab from the node partial list',
  'freelist-no-coalesce': 'freelist: free() never merges an extent with its free neighbours',
  'fallback-reversed': 'buddy-mobility: each row of the migratetype fallback table is tried in reverse',
} as const;

export type Mutation = keyof typeof MUTATIONS;

/** True when the environment injects this mutation. An unknown name is refused, so a typo cannot pass silently. */
export function mutation(name: Mutation): boolean {
  const v = process.env.ALLOCBENCH_MUTATION;
  if (v === undefined || v === '') return false;
  if (!(v in MUTATIONS)) throw new AllocbenchError(`ALLOCBENCH_MUTATION=${v}: unknown mutation (known: ${Object.keys(MUTATIONS).join(', ')})`);
  return v === name;
}
