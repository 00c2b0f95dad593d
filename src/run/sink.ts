import { existsSync, readFileSync, statSync } from 'node:fs';
import { AllocbenchError } from '../errors.js';
import { join } from 'node:path';
import { cellKey, type CellResult } from './cell.js';
import { summaryCsv } from './columns.js';
import { appendLine, ensureDir, ioError, writeFileAtomic } from './output.js';
import { parseResultLines } from './result-line.js';

export const RESULTS_FILE = 'results.jsonl';
export const SUMMARY_FILE = 'summary.csv';
export const RUN_FILE = 'run.json';

/** Reads DIR/results.jsonl (every line checked, a torn last line dropped); exit 2 on anything else. */
export function readResultsFile(file: string): { results: CellResult[]; torn: boolean } {
  let text: string;
  try {
    // a device or a pipe (a link to /dev/zero) would be read forever
    if (!statSync(file).isFile()) throw new AllocbenchError(`${file}: not a regular file`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw e instanceof AllocbenchError ? e : ioError(e, 'read', file);
  }
  return parseResultLines(text, file);
}

/**
 * Writes results as they complete: each finished cell is appended to results.jsonl at once (one
 * complete line per write, so an interrupted run leaves only whole lines, at worst a torn last one).
 * finish() replaces the file, sorted by cell, and summary.csv, each through a temporary file renamed
 * into place, so the output does not depend on completion order and a full disk leaves the previous
 * complete files. On --resume a torn last line is cut off before anything is appended after it.
 */
export class ResultSink {
  readonly results: CellResult[] = [];

  constructor(readonly dir: string, resume = false) {
    ensureDir(dir);
    const file = join(dir, RESULTS_FILE);
    if (resume && existsSync(file)) {
      const { results, torn } = readResultsFile(file);
      this.results.push(...results);
      if (torn) writeFileAtomic(file, results.map((r) => JSON.stringify(r) + '\n').join(''));
    } else {
      writeFileAtomic(file, '');
    }
  }

  done(): Set<string> {
    return new Set(this.results.filter((r) => r.status === 'ok').map((r) => cellKey(r.cell)));
  }

  add(r: CellResult): void {
    this.results.push(r);
    appendLine(join(this.dir, RESULTS_FILE), JSON.stringify(r));
  }

  finish(): CellResult[] {
    // keep the last result per cell (a resumed run may retry a failed cell)
    const byKey = new Map<string, CellResult>();
    for (const r of this.results) byKey.set(cellKey(r.cell), r);
    const sorted = [...byKey.values()].sort((a, b) => compareCells(a, b));
    writeFileAtomic(join(this.dir, RESULTS_FILE), sorted.map((r) => JSON.stringify(r) + '\n').join(''));
    writeFileAtomic(join(this.dir, SUMMARY_FILE), summaryCsv(sorted));
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
