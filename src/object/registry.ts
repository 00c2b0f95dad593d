import { AllocbenchError } from '../errors.js';
import type { ObjectStrategyFactory } from './strategy.js';
import { createSlub } from './slub.js';
import { createKmallocPow2 } from './kmalloc-pow2.js';
import { dlmallocFactory } from './dlmalloc.js';

/** Every object-layer strategy by name (variant after a colon, as for page strategies). */
export const OBJECT_STRATEGIES: Record<string, ObjectStrategyFactory> = {
  slub: createSlub,
  'kmalloc-pow2': createKmallocPow2,
  dlmalloc: dlmallocFactory,
};

export function objectStrategyFactory(spec: string): ObjectStrategyFactory {
  const name = spec.split(':')[0]!;
  const f = OBJECT_STRATEGIES[name];
  if (!f) throw new AllocbenchError(`unknown object strategy "${spec}" (known: ${Object.keys(OBJECT_STRATEGIES).join(', ')})`);
  const variant = spec.includes(':') ? spec.slice(name.length + 1) : undefined;
  return variant === undefined ? f : (opts) => f({ ...opts, variant });
}
