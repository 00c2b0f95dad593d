import { AllocbenchError } from './errors.js';

/**
 * Resolves a strategy spec `name` or `name:variant` (e.g. `freelist:best`) against a registry, for
 * both layers: the factory, with the variant passed as options.variant. An unknown name is bad
 * usage naming the known ones; the strategy itself rejects an unknown variant.
 */
export function resolveStrategy<O extends { variant?: string }, S>(
  layer: string, spec: string, registry: Record<string, (opts: O) => S>, extra?: (name: string) => ((opts: O) => S) | undefined,
): (opts: O) => S {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const f = (Object.hasOwn(registry, name) ? registry[name] : undefined) ?? extra?.(name);
  if (!f) throw new AllocbenchError(`unknown ${layer} strategy "${spec}" (known: ${Object.keys(registry).join(', ')})`);
  if (colon < 0) return f;
  const variant = spec.slice(colon + 1);
  return (opts) => f({ ...opts, variant });
}
