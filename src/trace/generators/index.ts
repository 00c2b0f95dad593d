/**
 * The registry of synthetic workload generators and the parser of generator specs
 * (`name` or `name:key=val,key=val`), used by `allocbench gen` and `run --gen`.
 */
import { AllocbenchError } from '../../errors.js';
import { binary } from './binary.js';
import { buddyAdversarial } from './buddy-adversarial.js';
import { forkCow } from './fork-cow.js';
import { type Generator, parseNumber } from './generator.js';
import { exponentialHeap, powerLawHeap, uniformHeap } from './heaps.js';
import { highallocStress } from './highalloc-stress.js';
import { kernelMix } from './kernel-mix.js';
import { pageChurn } from './page-churn.js';
import { pageMix } from './page-mix.js';

export type { Generator, GeneratorParam } from './generator.js';

export const GENERATORS: Record<string, Generator> = {
  [pageMix.name]: pageMix,
  [uniformHeap.name]: uniformHeap,
  [exponentialHeap.name]: exponentialHeap,
  [powerLawHeap.name]: powerLawHeap,
  [kernelMix.name]: kernelMix,
  [forkCow.name]: forkCow,
  [buddyAdversarial.name]: buddyAdversarial,
  [binary.name]: binary,
  [highallocStress.name]: highallocStress,
  [pageChurn.name]: pageChurn,
};

/**
 * Parses `name` or `name:key=val,key=val`. Numeric params accept sizes with binary K/M/G/T suffixes
 * (`mem=4G`); an unknown generator or parameter, a malformed pair or a non-numeric value for a
 * numeric parameter is an AllocbenchError that lists the valid ones.
 */
export function parseGenSpec(spec: string): { name: string; params: Record<string, number | string> } {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const gen = Object.hasOwn(GENERATORS, name) ? GENERATORS[name] : undefined;
  if (!gen) throw new AllocbenchError(`unknown generator "${name}" (known: ${Object.keys(GENERATORS).join(', ')})`);
  const params: Record<string, number | string> = {};
  if (colon < 0) return { name, params };
  const body = spec.slice(colon + 1).trim();
  if (body === '') return { name, params };
  for (const pair of body.split(',')) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const p = Object.hasOwn(gen.params, key) ? gen.params[key] : undefined;
    if (!p) throw new AllocbenchError(`generator "${name}" has no parameter "${key}" (valid: ${Object.keys(gen.params).join(', ')})`);
    if (eq < 0) throw new AllocbenchError(`generator spec "${spec}": expected key=value, got "${pair}"`);
    if (key in params) throw new AllocbenchError(`generator spec "${spec}": "${key}" given twice`);
    const text = pair.slice(eq + 1).trim();
    if (typeof p.default === 'number') {
      const v = parseNumber(text);
      if (!Number.isFinite(v)) throw new AllocbenchError(`generator "${name}": ${key}=${text} is not a number (sizes take K/M/G suffixes)`);
      params[key] = v;
    } else {
      if (p.choices && !p.choices.includes(text)) {
        throw new AllocbenchError(`generator "${name}": ${key}=${text} is not one of ${p.choices.join(', ')}`);
      }
      params[key] = text;
    }
  }
  return { name, params };
}
