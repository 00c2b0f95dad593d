import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { cellKey, mainZone, mainZoneName, type CellResult } from '../run/cell.js';
import { readResultsFile, RESULTS_FILE, RUN_FILE } from '../run/sink.js';

/** A results directory as `allocbench run` wrote it: run.json (may be absent for hand-made dirs) and the cells. */
export interface LoadedRun {
  dir: string;
  run: Record<string, unknown> | null;
  results: CellResult[];
}

/** Reads DIR/results.jsonl and DIR/run.json; anything unreadable is a user error (exit 2), never a stack. */
export function loadResults(dir: string): LoadedRun {
  const file = join(dir, RESULTS_FILE);
  if (!existsSync(file)) throw new AllocbenchError(`${dir}: not a results directory (no ${RESULTS_FILE})`);
  // one reader for --resume, merge, compare and report (result-line.ts): null, {} or no `wall` is exit 2
  const { results } = readResultsFile(file);
  let run: Record<string, unknown> | null = null;
  const runFile = join(dir, RUN_FILE);
  if (existsSync(runFile)) {
    try {
      const v: unknown = JSON.parse(readFileSync(runFile, 'utf8'));
      run = typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null;
    } catch (e) {
      throw new AllocbenchError(`cannot read ${runFile}: ${(e as Error).message}`);
    }
  }
  // last result per cell wins, as in ResultSink.finish (a resumed run may append a retry)
  const byKey = new Map<string, CellResult>();
  for (const r of results) byKey.set(cellKey(r.cell), r);
  const sorted = [...byKey.values()].sort((a, b) => (cellKey(a.cell) < cellKey(b.cell) ? -1 : cellKey(a.cell) > cellKey(b.cell) ? 1 : 0));
  return { dir, run, results: sorted };
}

export { mainZone, mainZoneName };

/** Reads a dotted path (`metrics.waste.utilization`, `metrics.zones.Normal.unusable_index.9`); undefined if absent. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/**
 * Expands a dotted path with `*` segments against one or more objects (the union of their keys),
 * e.g. `metrics.latency.*.p99` → `metrics.latency.page_alloc.p99`, ... Concrete paths pass through.
 */
export function expandPath(pattern: string, objs: unknown[]): string[] {
  const segs = pattern.split('.');
  let prefixes: string[][] = [[]];
  for (const seg of segs) {
    if (seg !== '*') {
      prefixes = prefixes.map((p) => [...p, seg]);
      continue;
    }
    const next: string[][] = [];
    for (const p of prefixes) {
      const keys = new Set<string>();
      for (const o of objs) {
        const v = p.length === 0 ? o : getPath(o, p.join('.'));
        if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) keys.add(k);
      }
      for (const k of [...keys].sort()) next.push([...p, k]);
    }
    prefixes = next;
  }
  return prefixes.map((p) => p.join('.'));
}

/** A result seen with derived top-level figures added (unusable_index_9 / extfrag_index_9 of the main zone). */
export function withDerived(r: CellResult): Record<string, unknown> {
  const z = mainZone(r);
  return { ...r, unusable_index_9: z?.unusable_index?.[9], extfrag_index_9: z?.extfrag_index?.[9] };
}
