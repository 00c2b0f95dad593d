import { resolveStrategy } from '../strategy-spec.js';
import type { PageStrategyFactory } from './strategy.js';
import { BuddyAllocator } from './buddy.js';
import { createBitmap } from './bitmap.js';
import { createBitmap2 } from './bitmap2.js';
import { createFreelist } from './freelist.js';
import { FaultyAllocator } from './faulty.js';
import { parseBuddyVariant } from './kernel-version.js';

/**
 * Every page-layer strategy by name. A name may carry a variant after a colon
 * (`freelist:best`), passed to the factory as options.variant.
 */
export const PAGE_STRATEGIES: Record<string, PageStrategyFactory> = {
  buddy: (opts) => new BuddyAllocator(opts, false, parseBuddyVariant('buddy', opts.variant, opts.kernel)),
  'buddy-mobility': (opts) => new BuddyAllocator(opts, true, parseBuddyVariant('buddy-mobility', opts.variant, opts.kernel)),
  bitmap: createBitmap,
  bitmap2: createBitmap2,
  freelist: createFreelist,
};

/** Test-only strategies, looked up when the environment asks for them (worker threads share it). */
function testStrategy(name: string): PageStrategyFactory | undefined {
  return name === 'faulty' && process.env.ALLOCBENCH_TEST_FAULTS === '1' ? (opts) => new FaultyAllocator(opts) : undefined;
}

export function pageStrategyFactory(spec: string): PageStrategyFactory {
  return resolveStrategy('page', spec, PAGE_STRATEGIES, testStrategy);
}
