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
 * The module each worker thread loads, from dist/ (the CLI) or beside the sources (vitest, the benches
 * under tsx): it imports worker.js or worker.ts (its comment says how, and why not directly).
 */
export const WORKER_FILE = new URL('./worker-thread.cjs', import.meta.url).href;

/**
 * One worker thread: a piscina pool of exactly one thread (a "lane"), so that the run's pool, not
 * piscina, chooses which thread runs which task (pool.ts keeps the tasks of one code family on one
 * thread). A lane whose task is aborted (--cell-timeout) ends its thread and starts another.
 */
function newLane(): Piscina {
  return new Piscina({
    filename: WORKER_FILE,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: 1000,
    // worker-thread.cjs registers the TypeScript loader itself beside the sources; dist/ needs none
    execArgv: [],
    // results and traces are small next to the default; workers need room for big machines. A
    // young generation of 96 MB (V8's default is 16 MB semi-spaces): a cell's short-lived objects
    // (metrics, results, a generated trace's builder) die in far fewer scavenges, whose parallel
    // helpers compete with the other worker for the second core: npm start on 2 workers 11.43 ->
    // 10.49 s (best of 4 interleaved pairs, each faster), on 1 worker unchanged within the noise
    resourceLimits: { maxOldGenerationSizeMb: 8192, maxYoungGenerationSizeMb: 96 },
  });
}

const newLanes = (workers: number): Piscina[] => Array.from({ length: workers }, newLane);

/** lanes started by startThreadsEarly() that no pool has taken yet */
let early: Piscina[] | null = null;

/** Starts `workers` threads now; the next pool of as many workers takes them (lanesFor). */
export function startThreadsEarly(workers: number): void {
  if (workers > 0 && early === null) early = newLanes(workers);
}

/** Ends threads started early that no pool took (a run refused before it began). */
export async function dropEarlyThreads(): Promise<void> {
  const e = early;
  early = null;
  await Promise.all((e ?? []).map((l) => l.destroy()));
}

/** `workers` lanes for a pool: those started early when their number matches, else new ones. */
export function lanesFor(workers: number): Piscina[] {
  if (early !== null && early.length === workers) {
    const l = early;
    early = null;
    return l;
  }
  return newLanes(workers);
}
