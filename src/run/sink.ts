import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cellKey, type CellResult } from './cell.js';
import { summaryCsv } from './columns.js';

export const RESULTS_FILE = 'results.jsonl';
export const SUMMARY_FILE = 'summary.csv';
export const RUN_FILE = 'run.json';

/**
 * Writes results as they complete: each finished cell is appended to results.jsonl at once (one
 * complete line per write, so an interrupted run leaves only whole lines). finish() rewrites the
 * file sorted by cell and writes summary.csv, so the output does not depend on completion order.
 */
export class ResultSink {
  readonly results: CellResult[] = [];

  constructor(readonly dir: string, resume = false) {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, RESULTS_FILE);
    if (resume && existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try { this.results.push(JSON.parse(line) as CellResult); } catch { /* a torn last line from a kill: dropped */ }
      }
    } else {
      writeFileSync(file, '');
    }
  }

  done(): Set<string> {
    return new Set(this.results.filter((r) => r.status === 'ok').map((r) => cellKey(r.cell)));
  }

  add(r: CellResult): void {
    this.results.push(r);
    appendFileSync(join(this.dir, RESULTS_FILE), JSON.stringify(r) + '\n');
  }

  finish(): CellResult[] {
    // keep the last result per cell (a resumed run may retry a failed cell)
    const byKey = new Map<string, CellResult>();
    for (const r of this.results) byKey.set(cellKey(r.cell), r);
    const sorted = [...byKey.values()].sort((a, b) => compareCells(a, b));
    const tmp = join(this.dir, `${RESULTS_FILE}.tmp`);
    writeFileSync(tmp, sorted.map((r) => JSON.stringify(r) + '\n').join(''));
    renameSync(tmp, join(this.dir, RESULTS_FILE));
    writeFileSync(join(this.dir, SUMMARY_FILE), summaryCsv(sorted));
    return sorted;
  }
}

/** Orders cells field by field (trace, machine, page, object, then seed numerically). */
export function compareCells(a: CellResult, b: CellResult): number {
  for (const k of ['trace', 'machine', 'page', 'object'] as const) {
    if (a.cell[k] !== b.cell[k]) return a.cell[k] < b.cell[k] ? -1 : 1;
  }
  return a.cell.seed - b.cell.seed;
}
