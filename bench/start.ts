/**
 * `npm run bench:start [-- --rounds N]`: `npm start` (every experiment of experiments/, the
 * findings and the HTML report) on 1 worker and on 2, interleaved, through bin/allocbench.js as a
 * user runs it (process start-up, input loading and generation, the pool, writing results, the
 * report). Each worker count runs in a directory of its own (results/latest/, reports/latest.html
 * there), whose compiled-trace cache the later rounds reuse, as a second `npm start` does.
 * Best of the rounds each; the speed-up is time(1 worker) / time(2 workers).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const i = process.argv.indexOf('--rounds');
const ROUNDS = i >= 0 ? Number(process.argv[i + 1]) : 3;
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-start-'));
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });

const best = new Map<number, number>([[1, Infinity], [2, Infinity]]);
const all = new Map<number, number[]>([[1, []], [2, []]]);
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const workers of [1, 2]) {
      const cwd = join(tmp, `w${workers}`);
      mkdirSync(cwd, { recursive: true });
      const t0 = performance.now();
      execFileSync(process.execPath, [join(ROOT, 'bin/allocbench.js'), 'start', '--workers', String(workers)], { cwd, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 2 ** 20 } /* progress lines; a failure throws with them */);
      const ms = performance.now() - t0;
      all.get(workers)!.push(ms);
      best.set(workers, Math.min(best.get(workers)!, ms));
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS}: 1 worker ${(all.get(1)!.at(-1)! / 1000).toFixed(1)} s, 2 workers ${(all.get(2)!.at(-1)! / 1000).toFixed(1)} s\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const one = best.get(1)!, two = best.get(2)!;
console.log(`npm start (allocbench start: every experiment, findings, HTML report), best of ${ROUNDS} interleaved rounds`);
console.log(`1 worker   ${(one / 1000).toFixed(2)} s   (rounds: ${all.get(1)!.map((t) => (t / 1000).toFixed(1)).join(' ')})`);
console.log(`2 workers  ${(two / 1000).toFixed(2)} s   (rounds: ${all.get(2)!.map((t) => (t / 1000).toFixed(1)).join(' ')})`);
console.log(`speed-up   ${(one / two).toFixed(2)}x (target >= 1.6x) ${one / two >= 1.6 ? 'ok' : 'BELOW'}`);
