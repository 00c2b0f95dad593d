// npm run bench:pool — does the worker pool use both cores, and what does it cost per cell?
// 16 equal cells (page-mix, 1 M events, seeds 1..16, buddy + slub, desktop) run in this thread,
// on a pool of 1 worker and on a pool of 2, each after its start-up (reported separately), rounds
// interleaved, best of 9.
// Speed-up = time(1 worker) / time(2 workers); pool overhead per cell (trace sharing, task and
// result transfer) = (time(1 worker) − time(in-thread)) / 16, against the mean cell time.
// Sixteen rather than eight: with two workers the last cell of a round leaves one worker idle for
// about half a cell (cells are equal in work, not in time, on a shared VM); more cells amortize that
// tail, as a real matrix (195 cells by default) does.
import { performance } from 'node:perf_hooks';
import { loadMachine } from '../src/machine/memory-map.js';
import { CellPool } from '../src/run/pool.js';
import type { CellTask } from '../src/run/worker.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { shareTrace } from '../src/trace/share.js';
import { platformCeiling } from './ceiling.js';

const CELLS = 16;
const machine = loadMachine('desktop');
const tasks: CellTask[] = [];
for (let seed = 1; seed <= CELLS; seed++) {
  const trace = shareTrace(GENERATORS['page-mix']!.generate({ events: 1_000_000 }, seed));
  tasks.push({ cell: { trace: trace.name, machine: 'desktop', page: 'buddy', object: 'slub', seed }, trace, machine, check: false });
}

// 9 rounds (~75 s) outlast most of this VM's slow spells (see bench/replay.ts); 5 sometimes did not
const ROUNDS = 9;

/**
 * Start-up (thread start, loading the code, a first cell to warm the JIT) of a pool of 0 (this
 * thread), 1 and 2 workers, then the cells on each pool in turn, ROUNDS times: interleaved, so a
 * slow spell of this shared VM hits every configuration alike. The fastest round of each counts.
 */
async function timeAll(configs: number[]): Promise<{ startup: number; run: number }[]> {
  let failed = 0;
  const count = (r: { status: string }): void => { if (r.status !== 'ok') failed++; };
  const pools: CellPool[] = [];
  const out = configs.map(() => ({ startup: 0, run: Infinity }));
  for (const [k, workers] of configs.entries()) {
    const t0 = performance.now();
    const pool = new CellPool({ workers, cellTimeout: 0 });
    await pool.runAll(tasks.slice(0, Math.max(1, workers)), count);
    out[k]!.startup = performance.now() - t0;
    pools.push(pool);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, pool] of pools.entries()) {
      const t1 = performance.now();
      await pool.runAll(tasks, count);
      out[k]!.run = Math.min(out[k]!.run, performance.now() - t1);
    }
  }
  for (const pool of pools) await pool.close();
  if (failed) throw new Error(`${failed} cells failed`);
  return out;
}

const [inThreadT, oneW, twoW] = await timeAll([0, 1, 2]);
const inThread = inThreadT!.run, one = oneW!.run, two = twoW!.run;
const perCell = inThread / CELLS;
const overhead = (one - inThread) / CELLS;
console.log(`${CELLS} cells of ${tasks[0]!.trace!.length} events (page-mix, buddy + slub, desktop)`);
console.log(`in this thread  ${(inThread / 1000).toFixed(2)} s`);
console.log(`1 worker        ${(one / 1000).toFixed(2)} s`);
console.log(`2 workers       ${(two / 1000).toFixed(2)} s`);
console.log(`pool start-up (once per run: threads, code, JIT warm-up): ${(oneW!.startup / 1000).toFixed(2)} s with 1 worker, ${(twoW!.startup / 1000).toFixed(2)} s with 2`);
console.log(`the machine's own ceiling: two independent compute loops on 2 threads run ${(await platformCeiling()).toFixed(2)}x as fast as one`);
console.log(`speed-up 2 vs 1 workers: ${(one / two).toFixed(2)}x (target >= 1.7x)`);
console.log(`pool overhead per cell: ${overhead.toFixed(1)} ms = ${((overhead / perCell) * 100).toFixed(1)}% of a ${perCell.toFixed(0)} ms cell (target < 5%)`);
