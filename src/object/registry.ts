import { AllocbenchError } from '../errors.js';
import { resolveStrategy } from '../strategy-spec.js';
import type { ObjectStrategyFactory } from './strategy.js';
import { createSlub } from './slub.js';
import { createKmallocPow2 } from './kmalloc-pow2.js';
import { dlmallocFactory } from './dlmalloc.js';

/** Every object-layer strategy by name (variant after a colon, as for page strategies). */
export const OBJECT_STRATEGIES: Record<string, ObjectStrategyFactory> = {
  // slub has no variants: `slub:xyz` is a typo, refused like the page strategies' (bitset.ts rejectVariant)
  slub: (opts) => {
    if (opts.variant !== undefined) throw new AllocbenchError(`object strategy "slub" has no variants (got "slub:${opts.variant}")`);
    return createSlub(opts);
  },
  'kmalloc-pow2': createKmallocPow2,
  dlmalloc: dlmallocFactory,
};

export function objectStrategyFactory(spec: string): ObjectStrategyFactory {
  return resolveStrategy('object', spec, OBJECT_STRATEGIES);
}
