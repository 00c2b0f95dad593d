/**
 * `node --import tsx bench/instructions.ts TRACE [PAGE] [OBJECT]`: machine instructions per replayed
 * event, counted by valgrind (cachegrind, no cache simulation), of the replay as runCell does it
 * (machine mem=4G, latency recorded, 100 time-series samples; built code from dist/, V8 with
 * --single-threaded). Two processes run 2 and 4 replays of the trace; their difference is 2 warm
 * replays, so loading, the first (cold) replay and start-up cancel out.
 *
 * Why: this shared VM's wall and CPU times move by ±20% from one minute to the next, so a change of
 * a few percent needs many interleaved rounds to show; instruction counts repeat to about ±2% (V8's
 * tiering decisions vary a little), a few ns of work per event is visible in one pair of runs. They
 * do not see memory stalls (the free's reference miss, about a quarter of a buddy replay): time a
 * change too (bench/cell-rate.ts). PAGE may be `null`, a strategy that does nothing: the cost of the
 * loop, the machine's allocation path and the pricing alone. About a minute per trace (valgrind).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayRunner } from './replay-runner.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [file, page = 'buddy', object = 'kmalloc-pow2'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: instructions.ts TRACE [PAGE] [OBJECT]');
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'ignore' });

const runner = replayRunner(ROOT);
const dir = mkdtempSync(join(tmpdir(), 'allocbench-instr-'));
try {
  writeFileSync(join(dir, 'runner.mjs'), runner);
  // cachegrind prints its total (I refs) to stderr, the runner the trace's events to stdout
  const irOf = (replays: number): { ir: number; events: number } => {
    const text = execFileSync('sh', ['-c', `valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "${process.execPath}" --single-threaded "${join(dir, 'runner.mjs')}" "${resolve(file)}" ${page} ${object} ${replays} 2>&1`], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const m = /I\s+refs:\s+([\d,]+)/.exec(text);
    if (m === null) throw new Error(`no instruction count in valgrind's output:\n${text.slice(-2000)}`);
    return { ir: Number(m[1]!.replace(/,/g, '')), events: Number(/^(\d+)$/m.exec(text)?.[1]) };
  };
  const two = irOf(2), four = irOf(4);
  console.log(`${page}/${object} ${file}: ${((four.ir - two.ir) / (2 * two.events)).toFixed(0)} instructions per replayed event (2 warm replays of ${two.events} events; ${two.ir} and ${four.ir} in all)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
