/**
 * `npm run bench:start [-- --rounds N]`: `npm start` (every experiment of experiments/, the
 * findings and the HTML report) on 1 worker and on 2, interleaved, through bin/allocbench.js as a
 * user runs it (process start-up, input loading and generation, the pool, writing results, the
 * report). Each worker count runs in a directory of its own (results/latest/, reports/latest.html
 * there), whose compiled-trace cache the later rounds reuse, as a second `npm start` does.
 * Best of the rounds each; the speed-up is time(1 worker) / time(2 workers).
 *
 * What bounds it (Linux): each run's CPU time per thread, read from /proc/PID/task/ while it runs,
 * as the main thread, the worker threads (the busiest others, one per worker) and the rest (V8's
 * background compiler and garbage-collector threads, libuv); and, each round, what a second thread
 * gains on this machine at all (two compute loops, ceiling.ts). On two idle cores the 1-worker run
 * takes about its main thread's and its worker's CPU time (one after the other; the other threads
 * run beside them on the second core), and the 2-worker run at least its whole CPU time over 2
 * cores: their ratio bounds the speed-up whatever the pool does. The ceiling line is the same with
 * the 1-worker run's CPU time in place of the 2-worker run's (nothing done twice): 1.6x needs the
 * background threads below a quarter of the main thread and worker's CPU time.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { platformCeiling } from './ceiling.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const i = process.argv.indexOf('--rounds');
const ROUNDS = i >= 0 ? Number(process.argv[i + 1]) : 3;
/** clock ticks per second of /proc/PID/task/TID/stat (USER_HZ: 100 on Linux x86 and arm64) */
const HZ = 100;
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-start-'));
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });

/** CPU seconds of a run by thread kind (all 0 where /proc is not there). */
interface Cpu { main: number; workers: number; other: number }
interface Run { ms: number; cpu: Cpu }

/** One `allocbench start --workers N` in `cwd`: wall time and CPU time per thread kind. */
async function startRun(workers: number, cwd: string): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin/allocbench.js'), 'start', '--workers', String(workers)], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-64 * 1024); }); // progress lines; shown on failure
  /** CPU ticks per thread id, the last value read (a thread's count only grows; an ended thread keeps its last) */
  const ticks = new Map<number, number>();
  const sample = (): void => {
    let tids: string[];
    try { tids = readdirSync(`/proc/${child.pid}/task`); } catch { return; }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state): utime, stime are fields 14, 15
        ticks.set(Number(tid), Number(f[11]) + Number(f[12]));
      } catch { /* the thread ended between the two reads */ }
    }
  };
  const timer = setInterval(sample, 50);
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  clearInterval(timer);
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`allocbench start --workers ${workers} exited with ${code}:\n${stderr}`);
  const main = (ticks.get(child.pid!) ?? 0) / HZ;
  const others = [...ticks].filter(([tid]) => tid !== child.pid).map(([, t]) => t / HZ).sort((a, b) => b - a);
  const sum = (a: number[]): number => a.reduce((s, x) => s + x, 0);
  return { ms, cpu: { main, workers: sum(others.slice(0, workers)), other: sum(others.slice(workers)) } };
}

const runs = new Map<number, Run[]>([[1, []], [2, []]]);
const ceilings: number[] = [];
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const workers of [1, 2]) {
      const cwd = join(tmp, `w${workers}`);
      mkdirSync(cwd, { recursive: true });
      runs.get(workers)!.push(await startRun(workers, cwd));
    }
    ceilings.push(await platformCeiling());
    process.stderr.write(`round ${r + 1}/${ROUNDS}: 1 worker ${(runs.get(1)!.at(-1)!.ms / 1000).toFixed(1)} s, 2 workers ${(runs.get(2)!.at(-1)!.ms / 1000).toFixed(1)} s, two compute loops ${ceilings.at(-1)!.toFixed(2)}x\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const best = (w: number): Run => runs.get(w)!.reduce((a, b) => (b.ms < a.ms ? b : a));
const one = best(1), two = best(2);
const s = (x: number): string => x.toFixed(2);
const cpu = (c: Cpu): string => `CPU ${s(c.main + c.workers + c.other)} s = main ${s(c.main)} + workers ${s(c.workers)} + other threads ${s(c.other)}`;
console.log(`npm start (allocbench start: every experiment, findings, HTML report), best of ${ROUNDS} interleaved rounds`);
console.log(`1 worker   ${s(one.ms / 1000)} s   (rounds: ${runs.get(1)!.map((x) => (x.ms / 1000).toFixed(1)).join(' ')})   ${cpu(one.cpu)}`);
console.log(`2 workers  ${s(two.ms / 1000)} s   (rounds: ${runs.get(2)!.map((x) => (x.ms / 1000).toFixed(1)).join(' ')})   ${cpu(two.cpu)}`);
const cpu2 = two.cpu.main + two.cpu.workers + two.cpu.other;
const chain1 = one.cpu.main + one.cpu.workers;
if (cpu2 > 0) console.log(`bound      (main + worker ${s(chain1)} CPU-s of 1 worker) / (${s(cpu2)} CPU-s of 2 workers / 2 cores) = ${s(chain1 / (cpu2 / 2))}x on two idle cores`);
// Even if the 2-worker run did no work twice (each worker compiles and sets up its own), it would
// need the 1-worker run's whole CPU time on the 2 cores, its background threads (V8's compiler and
// garbage collector) included, which the 1-worker run gets for free on the idle second core.
const cpu1 = chain1 + one.cpu.other;
if (cpu1 > 0) console.log(`ceiling    with no work done twice: (main + worker ${s(chain1)} CPU-s) / (${s(cpu1)} CPU-s of 1 worker / 2 cores) = ${s(chain1 / (cpu1 / 2))}x: background threads ${(100 * one.cpu.other / chain1).toFixed(0)}% of main + worker`);
console.log(`machine    two compute loops on 2 threads run ${ceilings.map(s).join(' ')}x as fast as one (2.00 on two idle cores)`);
console.log(`speed-up   ${(one.ms / two.ms).toFixed(2)}x (target >= 1.6x) ${one.ms / two.ms >= 1.6 ? 'ok' : 'BELOW'}`);
