import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

/**
 * The worker threads a run's pool (pool.ts) hands its tasks to. Apart from the pool so that a
 * command can start them before it loads the simulator's code itself (cli/start.ts): each thread
 * then loads its modules while the main thread loads its own, instead of after. This file imports
 * piscina only.
 */

export const defaultWorkers = (): number => availableParallelism();

/**
 * The module each worker thread loads: worker.js beside this file when it runs compiled (dist/, the
 * CLI); when this file runs as TypeScript source (vitest, the benches under tsx), worker-entry.mjs,
 * which loads worker.ts through tsx, so tests exercise the sources they import, never a stale build.
 */
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.js', import.meta.url).href;

function newThreads(workers: number): Piscina {
  return new Piscina({
    filename: WORKER_FILE,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 1000,
    // worker-entry.mjs registers the TypeScript loader itself; dist/ needs none
    execArgv: [],
    // results and traces are small next to the default; workers need room for big machines
    resourceLimits: { maxOldGenerationSizeMb: 8192 },
  });
}

/** threads started by startThreadsEarly() that no pool has taken yet */
let early: { threads: Piscina; workers: number } | null = null;

/** Starts `workers` threads now; the next pool of as many workers takes them (threadsFor). */
export function startThreadsEarly(workers: number): void {
  if (workers > 0 && early === null) early = { threads: newThreads(workers), workers };
}

/** Ends threads started early that no pool took (a run refused before it began). */
export async function dropEarlyThreads(): Promise<void> {
  const e = early;
  early = null;
  await e?.threads.destroy();
}

/** `workers` threads for a pool: those started early when their number matches, else new ones. */
export function threadsFor(workers: number): Piscina {
  if (early !== null && early.workers === workers) {
    const t = early.threads;
    early = null;
    return t;
  }
  return newThreads(workers);
}
