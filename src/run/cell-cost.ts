import { readFileSync } from 'node:fs';
import type { CellTask } from './worker.js';

/**
 * What a cell is estimated to cost (events x the strategies' factors of cell-cost.json), so the
 * pool starts the longest cells first and the run does not end on one long cell while the other
 * workers idle. Policy only: the order never changes a result.
 */
interface CostTable { page: Record<string, number>; object: Record<string, number>; start_empty: number }

let table: CostTable | null = null;
const costTable = (): CostTable => (table ??= JSON.parse(readFileSync(new URL('./cell-cost.json', import.meta.url), 'utf8')) as CostTable);

/** A strategy's factor: its name without variant options (buddy:pcp=off is buddy). */
const factor = (of: Record<string, number>, spec: string): number => of[spec.split(':')[0]!] ?? 1;

/** The estimated cost of a task replaying `events` events (a start-empty task: its replay alone). */
export function cellCost(t: Pick<CellTask, 'cell' | 'startEmpty'>, events: number): number {
  const c = costTable();
  return events * factor(c.page, t.cell.page) * factor(c.object, t.cell.object) * (t.startEmpty === 'only' ? c.start_empty : 1);
}

/**
 * The estimated cost of a whole cell: its task's, and for a cell from a start state, the replay from
 * empty it also makes (pool.ts runs it as a task apart). For progress: the ETA of cli/progress.ts.
 */
export function cellWork(t: Pick<CellTask, 'cell' | 'startEmpty' | 'start'>, events: number): number {
  const apart = t.start !== undefined && t.startEmpty === undefined;
  return cellCost(t, events) + (apart ? cellCost({ cell: t.cell, startEmpty: 'only' }, events) : 0);
}
