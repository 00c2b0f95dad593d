import { readFileSync } from 'node:fs';
import { AllocbenchError } from '../errors.js';
import { PRICE_SCALE, STEP_COUNT, STEP_NAMES } from './steps.js';

const DEFAULT_TABLE = new URL('./cost-table.json', import.meta.url);

/** Nanoseconds per step, indexed like the step counters. */
export type CostWeights = Float64Array;

/**
 * Reads a cost table ({"ns": {step name: nanoseconds}}); every step must be priced, so a table
 * written for an older step set fails loudly instead of pricing new steps at zero.
 */
export function loadCostTable(file?: string): CostWeights {
  const path = file ?? DEFAULT_TABLE;
  let json: { ns?: Record<string, unknown> };
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as typeof json;
  } catch (e) {
    throw new AllocbenchError(`cost table ${String(path)}: ${(e as Error).message}`);
  }
  const w = new Float64Array(STEP_COUNT);
  STEP_NAMES.forEach((name, k) => {
    const v = json.ns?.[name];
    if (typeof v !== 'number' || !(v >= 0)) throw new AllocbenchError(`cost table ${String(path)}: "ns.${name}" must be a non-negative number`);
    // the replay prices in whole tenths of a ns (steps.ts PRICE_SCALE)
    if (Math.abs(v * PRICE_SCALE - Math.round(v * PRICE_SCALE)) > 1e-9) throw new AllocbenchError(`cost table ${String(path)}: "ns.${name}" must be a multiple of ${1 / PRICE_SCALE} ns, got ${v}`);
    w[k] = v;
  });
  return w;
}
