import type { Piscina } from 'piscina';
import { failedCell, withStartEmpty, type CellResult } from './cell.js';
import type { Trace } from '../trace/trace.js';
import type { TraceStream } from '../trace/stream.js';
import type { CellTask, TaskOutput } from './worker.js';
import { runCellInThread } from './in-thread.js';
import { threadsFor } from './threads.js';
import { inputTrace, makeInput, type InputOutput, type InputRequest } from './input-task.js';

export interface PoolOptions {
  /** worker threads; 0 runs cells in this thread (debugging, tiny runs) */
  workers: number;
  /** a cell running longer than this many seconds is stopped and recorded as failed (0 = no limit) */
  cellTimeout: number;
}

/** A task in the pool's queue. */
interface Unit {
  task: CellTask;
  /** estimated cost: the costliest ready unit runs first */
  cost: number;
  /** the cell it is (a split cell: one of its two halves) */
  cell: Joined;
}

/** A cell's result as its tasks bring it in. */
interface Joined {
  /** tasks still running or queued */
  parts: number;
  result?: CellResult;
  /** the start-empty half's figures (metrics.start_empty) */
  startEmpty?: Record<string, unknown>;
  /** the start-empty half's failed result */
  failed?: CellResult;
}

export { defaultWorkers } from './threads.js';

/**
 * Runs cell tasks on a piscina pool and reports each result as it completes. A cell past its
 * timeout is aborted, which ends its worker thread; the pool starts another.
 */
export class CellPool {
  private readonly pool: Piscina | null;
  private stopped = false;
  private closed = false;
  private readonly aborts = new Set<AbortController>();

  constructor(private readonly opts: PoolOptions) {
    this.pool = opts.workers > 0 ? threadsFor(opts.workers) : null;
  }

  /**
   * Runs every task, reporting each result as it arrives.
   *
   * Order: the queue hands a free worker the costliest task that can start (`cost`, the runner's
   * estimate: cell-cost.ts; equal costs keep the given order), so the run does not end on one long
   * cell with the other workers idle. Only as many tasks as workers are on the pool at a time, so
   * a task that becomes ready late (below) still goes before cheaper ones.
   *
   * Split cells: a cell that starts from a recorded state is two replays (the cell, and the
   * fidelity scorecard's start-empty replay of it); they run as two tasks, on two workers when
   * both are free, and are joined into the one result line a single replay writes (withStartEmpty).
   *
   * Generated traces: tasks that generate their trace (`gen`) share it. The first task of a spec
   * and seed generates it in its worker and sends it back in shared memory; the other tasks of that
   * trace wait for it (the workers run other tasks meanwhile) and replay it as given. When the first
   * brought no trace back (it timed out), each generates its own.
   */
  async runAll(tasks: CellTask[], onResult: (r: CellResult) => void, cost: (t: CellTask) => number = () => 0): Promise<void> {
    const queue: Unit[] = [];
    for (const task of tasks) {
      if (task.start === undefined || task.startEmpty !== undefined) {
        queue.push({ task, cost: cost(task), cell: { parts: 1 } });
        continue;
      }
      const cell: Joined = { parts: 2 };
      for (const part of ['apart', 'only'] as const) {
        const t: CellTask = { ...task, startEmpty: part };
        queue.push({ task: t, cost: cost(t), cell });
      }
    }
    queue.sort((a, b) => b.cost - a.cost); // stable: equal costs keep the given order
    /** per generated trace (spec#seed): being made, made, or null (not brought back: each task makes its own) */
    const made = new Map<string, Trace | null | 'making'>();
    const genKey = (t: CellTask): string | undefined => (t.gen === undefined || t.trace !== undefined ? undefined : `${t.gen.spec}#${t.gen.seed}`);
    const ready = (u: Unit): boolean => { const k = genKey(u.task); return k === undefined || made.get(k) !== 'making'; };
    const slots = this.pool === null ? 1 : this.opts.workers;
    let running = 0;
    await new Promise<void>((resolve, reject) => {
      const next = (): void => {
        while (!this.stopped && running < slots) {
          const i = queue.findIndex(ready);
          if (i < 0) break;
          const u = queue.splice(i, 1)[0]!;
          const key = genKey(u.task);
          const m = key === undefined ? undefined : made.get(key);
          const makes = key !== undefined && m === undefined;
          if (makes) made.set(key, 'making');
          const task = typeof m === 'object' && m !== null ? { ...u.task, trace: m } : u.task;
          running++;
          void this.runOne(task).then((o) => {
            running--;
            if (makes) made.set(key, o?.trace ?? null);
            this.deliver(u, o, onResult);
            // in this thread: let Ctrl-C in between cells
            if (this.pool === null) setImmediate(next); else next();
          }, reject);
        }
        if (running === 0) resolve(); // nothing left (or stopped): a queued task always waits on a running one
      };
      next();
    });
  }

  /** Reports a unit's result, a split cell's once both of its halves are in. */
  private deliver(u: Unit, o: TaskOutput | null, onResult: (r: CellResult) => void): void {
    if (o === null || this.stopped) return;
    const c = u.cell;
    if (o.startEmpty !== undefined) c.startEmpty = o.startEmpty;
    else if (u.task.startEmpty === 'only') c.failed = o.result; // the start-empty replay threw: the cell fails with its error
    else c.result = o.result;
    if (--c.parts > 0) return;
    const r = c.result!;
    onResult(r.status !== 'ok' ? r : c.failed ?? (c.startEmpty !== undefined ? withStartEmpty(r, c.startEmpty) : r));
  }

  /** A run's input (a trace file, a generated trace) made on a worker, in this thread without workers; throws its error. */
  async input(req: InputRequest): Promise<Trace | TraceStream> {
    return inputTrace(req, this.pool === null ? makeInput(req) : ((await this.pool.run(req, { name: 'input' })) as InputOutput));
  }

  /** One task on the pool (in this thread without workers); null once stopped. */
  private async runOne(t: CellTask): Promise<TaskOutput | null> {
    if (this.stopped) return null;
    if (this.pool === null) {
      // in-thread, with --cell-timeout and Ctrl-C still honoured (in-thread.ts)
      const o = runCellInThread(t, this.opts.cellTimeout, () => { process.emit('SIGINT', 'SIGINT'); this.stop(); });
      return this.stopped ? null : o;
    }
    const ac = new AbortController();
    this.aborts.add(ac);
    const timer = this.opts.cellTimeout > 0 ? setTimeout(() => ac.abort(new Error(`cell exceeded --cell-timeout ${this.opts.cellTimeout}s`)), this.opts.cellTimeout * 1000) : null;
    try {
      return (await this.pool.run(t, { signal: ac.signal })) as TaskOutput;
    } catch (e) {
      return { result: failedCell(t.cell, ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : e) };
    } finally {
      if (timer) clearTimeout(timer);
      this.aborts.delete(ac);
    }
  }

  /** Stops handing out cells and reporting results (Ctrl-C); running cells are abandoned. */
  stop(): void {
    this.stopped = true;
    for (const ac of this.aborts) ac.abort(new Error('interrupted'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pool) await this.pool.destroy();
  }
}
