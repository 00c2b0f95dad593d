import { AllocbenchError } from '../errors.js';
import { resolveStrategy } from '../strategy-spec.js';
import type { ObjectStrategyFactory } from './strategy.js';
import { createSlub } from './slub.js';
import { createKmallocPow2 } from './kmalloc-pow2.js';
import { dlmallocFactory } from './dlmalloc.js';

/** Every object-layer strategy by name (variant after a colon, as for page strategies). */
export const OBJECT_STRATEGIES: Record<string, ObjectStrategyFactory> = {
  // slub:cpu-partial=on|off (CONFIG_SLUB_CPU_PARTIAL, default on as in Debian's kernels); any other variant is refused by slub.ts
  slub: createSlub,
  'kmalloc-pow2': createKmallocPow2,
  dlmalloc: dlmallocFactory,
};

export function objectStrategyFactory(spec: string): ObjectStrategyFactory {
  return resolveStrategy('object', spec, OBJECT_STRATEGIES);
}
