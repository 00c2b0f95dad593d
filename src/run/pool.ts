import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { CellResult } from './cell.js';
import { failedCell } from './cell.js';
import type { Trace } from '../trace/trace.js';
import type { CellTask, TaskOutput } from './worker.js';
import { runCellInThread } from './in-thread.js';

export interface PoolOptions {
  /** worker threads; 0 runs cells in this thread (debugging, tiny runs) */
  workers: number;
  /** a cell running longer than this many seconds is stopped and recorded as failed (0 = no limit) */
  cellTimeout: number;
}

export const defaultWorkers = (): number => availableParallelism();

/**
 * The module each worker thread loads: worker.js beside this file when it runs compiled (dist/, the
 * CLI); when this file runs as TypeScript source (vitest, the benches under tsx), worker-entry.mjs,
 * which loads worker.ts through tsx, so tests exercise the sources they import, never a stale build.
 */
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url).href;

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
    this.pool = opts.workers > 0
      ? new Piscina({
        filename: WORKER_FILE,
        minThreads: opts.workers,
        maxThreads: opts.workers,
        idleTimeout: 1000,
        // worker-entry.mjs registers the TypeScript loader itself; dist/ needs none
        execArgv: [],
        // results and traces are small next to the default; workers need room for big machines
        resourceLimits: { maxOldGenerationSizeMb: 8192 },
      })
      : null;
  }

  /**
   * Runs every task, reporting each result as it arrives. Tasks that generate their trace (`gen`)
   * share it: the first task of a spec and seed generates it in its worker and sends it back in
   * shared memory; the other cells of that trace wait for it and replay it as given. The first tasks
   * of all traces are queued first, so the workers generate the traces in parallel while the cells of
   * the traces already made keep them busy. A task whose first cell brought no trace back (it timed
   * out) generates its own.
   */
  async runAll(tasks: CellTask[], onResult: (r: CellResult) => void): Promise<void> {
    const made = new Map<string, Promise<Trace | undefined>>();
    const run = async (t: CellTask): Promise<void> => {
      const key = t.gen === undefined || t.trace !== undefined ? undefined : `${t.gen.spec}#${t.gen.seed}`;
      if (key === undefined) { this.report(await this.runOne(t), onResult); return; }
      const first = made.get(key);
      if (first === undefined) {
        const out = this.runOne(t);
        made.set(key, out.then((o) => o?.trace));
        this.report(await out, onResult);
        return;
      }
      const trace = await first;
      this.report(await this.runOne(trace === undefined ? t : { ...t, trace }), onResult);
    };
    if (this.pool === null) {
      for (const t of tasks) {
        if (this.stopped) return;
        await run(t);
        await new Promise((r) => setImmediate(r)); // let Ctrl-C in
      }
      return;
    }
    await Promise.all(tasks.map(run));
  }

  private report(o: TaskOutput | null, onResult: (r: CellResult) => void): void {
    if (o !== null && !this.stopped) onResult(o.result);
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
