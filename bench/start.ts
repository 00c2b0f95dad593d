/**
 * `npm run bench:start [-- --rounds N]`: the default run (what `npm start` replays: every experiment
 * of experiments/, without the HTML report) on 1 worker and on 2, interleaved, through
 * bin/allocbench.js as a user runs it (process start-up, input loading and generation, the pool,
 * writing results). Best of the rounds each; the speed-up is time(1 worker) / time(2 workers).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const workers of [1, 2]) {
      const t0 = performance.now();
      execFileSync(process.execPath, [join(ROOT, 'bin/allocbench.js'), 'run', '--quiet', '--workers', String(workers), '--out', join(tmp, `w${workers}`)], { cwd: ROOT, stdio: 'inherit' });
      best.set(workers, Math.min(best.get(workers)!, performance.now() - t0));
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS}: 1 worker ${(best.get(1)! / 1000).toFixed(1)} s, 2 workers ${(best.get(2)! / 1000).toFixed(1)} s (best so far)\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const one = best.get(1)!, two = best.get(2)!;
console.log(`default run (allocbench run: every experiment), best of ${ROUNDS} interleaved rounds`);
console.log(`1 worker   ${(one / 1000).toFixed(2)} s`);
console.log(`2 workers  ${(two / 1000).toFixed(2)} s`);
console.log(`speed-up   ${(one / two).toFixed(2)}x (target >= 1.6x) ${one / two >= 1.6 ? 'ok' : 'BELOW'}`);
