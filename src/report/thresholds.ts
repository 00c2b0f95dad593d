import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';
import { readJsonFile } from '../json-file.js';

/** One gated metric: a dotted path (with `*` wildcards), the better direction and the tolerated worsening. */
export interface Threshold {
  path: string;
  better: 'lower' | 'higher';
  /** tolerated worsening in the metric's own unit */
  abs?: number;
  /** tolerated worsening as a fraction of |base| */
  rel?: number;
  /**
   * the metric exists only for some workloads (e.g. highorder_success.at_rest needs a trace with an
   * at_rest phase): compare does not refuse the entry when no result has it. The path must still be
   * one the result schema allows.
   */
  optional?: boolean;
}

export interface Thresholds {
  file: string;
  metrics: Threshold[];
}

/** compare-thresholds.json at the package root, found from this file so any working directory works. */
export const DEFAULT_THRESHOLDS_FILE = fileURLToPath(new URL('../../compare-thresholds.json', import.meta.url));

export function loadThresholds(file: string = DEFAULT_THRESHOLDS_FILE): Thresholds {
  return { file, metrics: parseThresholds(readJsonFile(file, 'thresholds', 'thresholds file'), file) };
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
    if (o.optional !== undefined && typeof o.optional !== 'boolean') throw new AllocbenchError(`${where}: "optional" must be true or false`);
    if (!schemaAllows(o.path)) throw new AllocbenchError(`${where}: ${o.path} is not a path of a result line (schema/result-line.schema.json)`);
    const th: Threshold = { path: o.path, better: o.better };
    if (o.abs !== undefined) th.abs = o.abs as number;
    if (o.rel !== undefined) th.rel = o.rel as number;
    if (o.optional === true) th.optional = true;
    return th;
  });
}

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
}

let resultSchema: SchemaNode | undefined;

/** Figures compare derives from a result (load-results.ts withDerived), not in the schema. */
const DERIVED = new Set(['unusable_index_9', 'extfrag_index_9']);

/**
 * Whether a dotted path (with `*` and array indices) can name something in a results.jsonl line, per
 * schema/result-line.schema.json. Objects the schema leaves open (no properties listed, or
 * additionalProperties not false) accept any key below them, so this catches misspellings only where
 * the schema is strict; compare also refuses a path no result has.
 */
export function schemaAllows(path: string): boolean {
  if (DERIVED.has(path)) return true;
  resultSchema ??= JSON.parse(readFileSync(new URL('../../schema/result-line.schema.json', import.meta.url), 'utf8')) as SchemaNode;
  let node: SchemaNode = resultSchema;
  for (const seg of path.split('.')) {
    const isArray = node.type === 'array' || node.items !== undefined;
    if (isArray) {
      if (seg !== '*' && !/^\d+$/.test(seg)) return false;
      node = node.items ?? {};
    } else if (node.properties?.[seg]) {
      node = node.properties[seg]!;
    } else if (typeof node.additionalProperties === 'object') {
      node = node.additionalProperties;
    } else if (node.additionalProperties === false || (node.type !== undefined && node.type !== 'object' && !(Array.isArray(node.type) && node.type.includes('object')))) {
      return false;
    } else {
      node = {};
    }
  }
  return true;
}
