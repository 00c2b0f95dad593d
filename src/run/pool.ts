import type { Piscina } from 'piscina';
import { failedCell, withStartEmpty, type CellResult } from './cell.js';
import type { Trace } from '../trace/trace.js';
import type { TraceStream } from '../trace/stream.js';
import type { CellTask, TaskOutput } from './worker.js';
import { runCellInThread } from './in-thread.js';
import { lanesFor } from './threads.js';
import { homeThreads } from './affinity.js';
import { inputTrace, makeInput, makeStartInput, startInput, type InputOutput, type InputRequest, type StartOutput, type StartRequest } from './input-task.js';
import type { StartInput } from '../machine/start-state.js';

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
  /** the thread whose strategies it runs (affinity.ts): it goes there unless that thread is busy and another has none of its own left */
  home: number;
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

/** A job on a lane: a cell task, or a run's input (the worker's task `name`: CellPool.input, startInput). */
type Job = { task: CellTask; done: (o: TaskOutput) => void } | { name: 'input' | 'start'; req: InputRequest | StartRequest; done: (o: unknown) => void; fail: (e: unknown) => void };

/**
 * Runs cell tasks on worker threads and reports each result as it completes. Each thread is a lane
 * (threads.ts) this pool hands one task at a time, so it chooses which thread runs which task. A
 * cell past its timeout is aborted, which ends its thread; the lane starts another.
 */
export class CellPool {
  /** the worker threads; null: tasks run in this thread */
  private readonly lanes: Piscina[] | null;
  private readonly busy: boolean[];
  /** run inputs waiting for a free lane (they go before cells) */
  private readonly inputs: Job[] = [];
  /** runAll's choice of the next cell task for a free lane, while runAll runs */
  private next: ((lane: number) => Job | null) | null = null;
  private stopped = false;
  private closed = false;
  private readonly aborts = new Set<AbortController>();

  constructor(private readonly opts: PoolOptions) {
    this.lanes = opts.workers > 0 ? lanesFor(opts.workers) : null;
    this.busy = new Array<boolean>(this.lanes?.length ?? 1).fill(false);
  }

  /**
   * Runs every task, reporting each result as it arrives.
   *
   * Order: a free thread gets the costliest task that can start (`cost`, the runner's estimate:
   * cell-cost.ts; equal costs keep the given order) among those of its own strategies (affinity.ts),
   * so each thread compiles and tunes the code of some strategies only; with none of its own left, the
   * costliest of any other, so the run does not end on one long cell with a thread idle. One task per
   * thread at a time, so a task that becomes ready late (below) still goes before cheaper ones.
   *
   * Split cells: a cell that starts from a recorded state is two replays (the cell, and the
   * fidelity scorecard's start-empty replay of it); they run as two tasks, and are joined into the
   * one result line a single replay writes (withStartEmpty).
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
        queue.push({ task, cost: cost(task), cell: { parts: 1 }, home: 0 });
        continue;
      }
      const cell: Joined = { parts: 2 };
      for (const part of ['apart', 'only'] as const) {
        const t: CellTask = { ...task, startEmpty: part };
        queue.push({ task: t, cost: cost(t), cell, home: 0 });
      }
    }
    homeThreads(queue, this.busy.length).forEach((k, i) => { queue[i]!.home = k; });
    queue.sort((a, b) => b.cost - a.cost); // stable: equal costs keep the given order
    /** per generated trace (spec#seed): being made, made, or null (not brought back: each task makes its own) */
    const made = new Map<string, Trace | null | 'making'>();
    const genKey = (t: CellTask): string | undefined => (t.gen === undefined || t.trace !== undefined ? undefined : `${t.gen.spec}#${t.gen.seed}`);
    const ready = (u: Unit): boolean => { const k = genKey(u.task); return k === undefined || made.get(k) !== 'making'; };
    let running = 0;
    await new Promise<void>((resolve, reject) => {
      this.next = (lane) => {
        if (this.stopped) return null;
        let i = queue.findIndex((u) => u.home === lane && ready(u));
        if (i < 0) i = queue.findIndex(ready);
        if (i < 0) return null;
        const u = queue.splice(i, 1)[0]!;
        const key = genKey(u.task);
        const m = key === undefined ? undefined : made.get(key);
        const makes = key !== undefined && m === undefined;
        if (makes) made.set(key, 'making');
        running++;
        return {
          task: typeof m === 'object' && m !== null ? { ...u.task, trace: m } : u.task,
          done: (o: TaskOutput) => {
            running--;
            if (makes) made.set(key, o.trace ?? null);
            try {
              if (!this.stopped) this.deliver(u, o, onResult);
            } catch (e) {
              reject(e);
            }
            // nothing running: nothing left (or stopped), since a queued task always waits on a running one
            if (running === 0 && (this.stopped || !queue.some(ready))) { this.next = null; resolve(); }
          },
        };
      };
      this.dispatch();
      if (running === 0) { this.next = null; resolve(); }
    });
  }

  /** Reports a unit's result, a split cell's once both of its halves are in. */
  private deliver(u: Unit, o: TaskOutput, onResult: (r: CellResult) => void): void {
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
    return inputTrace(req, this.lanes === null ? makeInput(req) : ((await this.onWorker('input', req)) as InputOutput));
  }

  /** A recording's before-state (metrics/fidelity.ts startInputFor) made on a worker, in this thread without workers; throws its error. */
  async startInput(req: StartRequest): Promise<StartInput | undefined> {
    return startInput(this.lanes === null ? makeStartInput(req) : ((await this.onWorker('start', req)) as StartOutput));
  }

  /** A worker task `name` on the next free lane, before any cell. */
  private onWorker(name: 'input' | 'start', req: InputRequest | StartRequest): Promise<unknown> {
    return new Promise((done, fail) => { this.inputs.push({ name, req, done, fail }); this.dispatch(); });
  }

  /** Gives each free lane its next job: a waiting input first, else runAll's choice of cell. */
  private dispatch(): void {
    for (let lane = 0; lane < this.busy.length; lane++) {
      if (this.busy[lane]) continue;
      const job = this.inputs.shift() ?? this.next?.(lane) ?? null;
      if (job === null) continue;
      this.busy[lane] = true;
      const free = (): void => { this.busy[lane] = false; this.dispatch(); };
      if ('req' in job) {
        this.lanes![lane]!.run(job.req, { name: job.name }).then((o: unknown) => { free(); job.done(o); }, (e: unknown) => { free(); job.fail(e); });
      } else if (this.lanes === null) {
        // in this thread: one cell per turn of the event loop, so Ctrl-C gets in between cells
        setImmediate(() => { const o = this.runHere(job.task); this.busy[lane] = false; job.done(o); this.dispatch(); });
      } else {
        void this.runOn(this.lanes[lane]!, job.task).then((o) => { this.busy[lane] = false; job.done(o); this.dispatch(); });
      }
    }
  }

  /** One task in this thread, with --cell-timeout and Ctrl-C still honoured (in-thread.ts). */
  private runHere(t: CellTask): TaskOutput {
    if (this.stopped) return {};
    return runCellInThread(t, this.opts.cellTimeout, () => { process.emit('SIGINT', 'SIGINT'); this.stop(); });
  }

  /** One task on a lane; a task that threw or was aborted is a failed result. */
  private async runOn(lane: Piscina, t: CellTask): Promise<TaskOutput> {
    const ac = new AbortController();
    this.aborts.add(ac);
    const timer = this.opts.cellTimeout > 0 ? setTimeout(() => ac.abort(new Error(`cell exceeded --cell-timeout ${this.opts.cellTimeout}s`)), this.opts.cellTimeout * 1000) : null;
    try {
      return (await lane.run(t, { signal: ac.signal })) as TaskOutput;
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
    if (this.lanes) await Promise.all(this.lanes.map((l) => l.destroy()));
  }
}
