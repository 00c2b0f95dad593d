import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cellKey, mainZone, type CellResult } from './cell.js';

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

/** The summary's deterministic columns and how to read each from a result; wall columns come last. */
const COLUMNS: [string, (r: CellResult) => unknown][] = [
  ['trace', (r) => r.cell.trace],
  ['machine', (r) => r.cell.machine],
  ['page', (r) => r.cell.page],
  ['object', (r) => r.cell.object],
  ['seed', (r) => r.cell.seed],
  ['status', (r) => r.status],
  ['events', (r) => r.events],
  ['trace_errors', (r) => r.trace_errors],
  ['failed_allocs', (r) => r.failed_allocs],
  ['free_pages', (r) => r.metrics.free_pages],
  ['largest_free_order', (r) => r.metrics.largest_free_order],
  ['unusable_index_9', (r) => mainZone(r)?.unusable_index?.[9] ?? ''],
  ['extfrag_index_9', (r) => mainZone(r)?.extfrag_index?.[9] ?? ''],
  ['highorder_rate', (r) => (r.metrics.highorder as { rate?: number } | undefined)?.rate],
  ['probe_order9_fraction', (r) => (r.metrics.probe_order9 as { fraction?: number } | undefined)?.fraction],
  ['internal_waste_bytes', (r) => (r.metrics.waste as { internal_waste_bytes?: number } | undefined)?.internal_waste_bytes],
  ['utilization', (r) => (r.metrics.waste as { utilization?: number } | undefined)?.utilization],
  ['wall_events_per_sec', (r) => r.wall.events_per_sec],
];

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function summaryCsv(results: CellResult[]): string {
  const lines = [COLUMNS.map((c) => c[0]).join(',')];
  for (const r of results) lines.push(COLUMNS.map(([, f]) => csvCell(f(r))).join(','));
  return lines.join('\n') + '\n';
}
