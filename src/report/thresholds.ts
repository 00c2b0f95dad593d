import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';

/** One gated metric: a dotted path (with `*` wildcards), the better direction and the tolerated worsening. */
export interface Threshold {
  path: string;
  better: 'lower' | 'higher';
  /** tolerated worsening in the metric's own unit */
  abs?: number;
  /** tolerated worsening as a fraction of |base| */
  rel?: number;
}

export interface Thresholds {
  file: string;
  metrics: Threshold[];
}

/** compare-thresholds.json at the package root, found from this file so any working directory works. */
export const DEFAULT_THRESHOLDS_FILE = fileURLToPath(new URL('../../compare-thresholds.json', import.meta.url));

export function loadThresholds(file: string = DEFAULT_THRESHOLDS_FILE): Thresholds {
  if (!existsSync(file)) throw new AllocbenchError(`thresholds file ${file} not found`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AllocbenchError(`cannot read thresholds ${file}: ${(e as Error).message}`);
  }
  return { file, metrics: parseThresholds(v, file) };
}

/** Validates a thresholds document: { "metrics": [ { path, better, abs?, rel? }, ... ] }. */
export function parseThresholds(v: unknown, file = 'thresholds'): Threshold[] {
  const list = (v as { metrics?: unknown } | null)?.metrics;
  if (!Array.isArray(list)) throw new AllocbenchError(`${file}: expected {"metrics": [...]}`);
  return list.map((t, i) => {
    const o = t as Record<string, unknown>;
    const where = `${file}: metrics[${i}]`;
    if (typeof o !== 'object' || o === null || typeof o.path !== 'string' || o.path === '') throw new AllocbenchError(`${where}: needs a "path" string`);
    if (o.path === 'wall' || o.path.startsWith('wall.')) throw new AllocbenchError(`${where}: ${o.path} is a wall-clock figure; those are shown but never gate`);
    if (o.better !== 'lower' && o.better !== 'higher') throw new AllocbenchError(`${where}: "better" must be "lower" or "higher"`);
    for (const k of ['abs', 'rel'] as const) {
      if (o[k] !== undefined && (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) < 0)) throw new AllocbenchError(`${where}: "${k}" must be a number >= 0`);
    }
    const th: Threshold = { path: o.path, better: o.better };
    if (o.abs !== undefined) th.abs = o.abs as number;
    if (o.rel !== undefined) th.rel = o.rel as number;
    return th;
  });
}
