import { AllocbenchError } from '../errors.js';
import type { CellResult } from './cell.js';

/**
 * Reads results.jsonl text: every line one result (schema/result-line.schema.json). The one reader
 * for --resume, merge, compare and report, so a file of `null`, `{}` or lines without `wall` is
 * refused alike (exit 2, FILE:LINE) instead of failing later on a missing field.
 *
 * A last line without its newline that does not parse is a write torn by a kill: it is dropped and
 * reported in `torn` (the caller that appends repairs the file first). A bad line anywhere else
 * means a damaged or foreign file.
 */
export function parseResultLines(text: string, file: string): { results: CellResult[]; torn: boolean } {
  const results: CellResult[] = [];
  let torn = false;
  let start = 0;
  for (let n = 1; start < text.length; n++) {
    let end = text.indexOf('\n', start);
    const complete = end >= 0;
    if (!complete) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      if (!complete) { torn = true; break; }
      throw new AllocbenchError(`${file}:${n}: not a JSON result line`);
    }
    const why = resultProblem(r);
    if (why !== null) {
      if (!complete) { torn = true; break; }
      throw new AllocbenchError(`${file}:${n}: not a result line (${why})`);
    }
    results.push(r as CellResult);
  }
  return { results, torn };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a parsed line lacks to be a result, or null. */
export function resultProblem(r: unknown): string | null {
  if (!isObject(r)) return 'expected a JSON object';
  const c = r.cell;
  if (!isObject(c)) return 'no "cell" object';
  for (const k of ['trace', 'machine', 'page', 'object'] as const) if (typeof c[k] !== 'string') return `cell.${k} is not a string`;
  if (typeof c.seed !== 'number' || !Number.isSafeInteger(c.seed)) return 'cell.seed is not an integer';
  if (r.status !== 'ok' && r.status !== 'failed') return 'status is not "ok" or "failed"';
  if (!isObject(r.metrics)) return 'no "metrics" object';
  for (const k of ['events', 'trace_errors', 'failed_allocs'] as const) if (typeof r[k] !== 'number') return `${k} is not a number`;
  if (!isObject(r.wall)) return 'no "wall" object';
  return null;
}
