import type { CellTask } from './worker.js';

/**
 * Which worker thread a task should run on (policy only: the thread never changes a result).
 *
 * Each worker thread is a V8 isolate of its own: it interprets, profiles and compiles (TurboFan, on
 * the process's background threads) every function it runs, and deoptimises and compiles again each
 * time a call site meets a class it has not seen. On 2 workers that handed out tasks as they came,
 * both threads ran every strategy, so all of that was done twice: 1209 TurboFan compilations where
 * 1 worker needs 729 (`--trace-opt`, the default `npm start`), a quarter of the 2-worker run's CPU
 * time on the background compiler threads. Giving each thread the tasks of some strategies only
 * keeps most of that code (and its deoptimisations) on one isolate.
 *
 * A task's family is its page strategy (the code that differs most between cells: buddy, bitmap,
 * freelist...); a family that alone would take more than one thread's share of the work is split
 * by object strategy. Families go to threads costliest first, each to the least loaded thread
 * (longest processing time first), so each thread's share of the estimated work is about equal.
 */
export interface Placed {
  task: CellTask;
  /** estimated cost (cell-cost.ts) */
  cost: number;
}

/** A strategy's name without its variant options (buddy:pcp=off is buddy). */
const base = (spec: string): string => spec.split(':')[0]!;

/** The thread (0..threads-1) of each task, in the order given. */
export function homeThreads(tasks: Placed[], threads: number): number[] {
  if (threads <= 1) return tasks.map(() => 0);
  const total = tasks.reduce((s, t) => s + t.cost, 0);
  const byPage = sumBy(tasks, (t) => base(t.task.cell.page));
  const family = (t: Placed): string => {
    const page = base(t.task.cell.page);
    return byPage.get(page)! > total / threads ? `${page}|${base(t.task.cell.object)}` : page;
  };
  const families = sumBy(tasks, family);
  const load = new Array<number>(threads).fill(0);
  const home = new Map<string, number>();
  // costliest family first, to the least loaded thread; ties by name, so the placement is the same on every run
  for (const [f, cost] of [...families].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    const k = load.indexOf(Math.min(...load));
    home.set(f, k);
    load[k]! += cost;
  }
  return tasks.map((t) => home.get(family(t))!);
}

function sumBy(tasks: Placed[], key: (t: Placed) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tasks) m.set(key(t), (m.get(key(t)) ?? 0) + t.cost);
  return m;
}
