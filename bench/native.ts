/**
 * `npm run bench:native [-- --rounds N] [--native DIR]`: replay speed through the real `run` path
 * next to the native C reference models (../shared/native, README there), on the same 1 M events.
 *
 * The native folder may be read-only: it is copied to a temporary directory and built with `make`.
 * `./gen page` and `./gen obj` write its 1 M-event traces (seed 1), native2csv.py turns them into this
 * project's CSV. Each round then runs, one after another:
 *   ./replay -m buddy page.txt, -m bitmap page.txt, -m slab obj.txt   (best timed pass of 3, after 1 warm-up)
 *   allocbench run --trace page.csv --page buddy --object kmalloc-pow2 --machine mem=4G  (then --page bitmap)
 *   allocbench run --trace obj.csv  --page buddy --object slub           --machine mem=4G
 * and the plain JavaScript port of the native buddy (bench/js-buddy.ts: the language's share of the gap),
 * and the harness's floor: the cell's replay with a page strategy that does nothing (bench/replay-runner.ts,
 * in a process of its own: what is left of the time 0.33x allows for any page strategy);
 * each allocbench run through bin/allocbench.js (dist/, a worker thread, default sampling: 100
 * time-series samples), with WARM cells of each kind (the same 4 GiB machine under three spellings,
 * mem=4G, mem=4096M and mem=4194304K, repeats each cell: a recorded trace has no seed axis):
 * the rate is the best `wall.events_per_sec` (replay only: no boot, no load, no end metrics) of a
 * cell that is not its worker's first. Figures are the best over the interleaved rounds, since this
 * shared VM has slow spells that last about a minute; the ratios are what is compared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayRunner } from './replay-runner.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const ROUNDS = Number(arg('rounds', '5'));
/** one 4 GiB machine spelled three ways: three cells per strategy in one run, all but the worker's first warm */
const MACHINES = ['mem=4G', 'mem=4096M', 'mem=4194304K'];
/** ../shared/native beside the checkout (or beside a folder above it: git worktrees sit deeper) */
const NATIVE_SRC = process.argv.includes('--native') ? arg('native', '') : findUp(ROOT, 'shared/native');

function findUp(from: string, rel: string): string {
  for (let d = resolve(from); ; d = dirname(d)) {
    if (existsSync(join(d, '..', rel))) return resolve(d, '..', rel);
    if (dirname(d) === d) throw new Error(`no ../${rel} above ${from}: give --native DIR`);
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'allocbench-native-'));
const dir = join(tmp, 'native');
const sh = (cmd: string, args: string[], cwd = dir): string => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });

interface Pair { what: string; native: number; ours: number }

try {
  cpSync(NATIVE_SRC, dir, { recursive: true });
  sh('chmod', ['-R', 'u+w', dir]);
  sh('make', ['-s', 'replay', 'gen']);
  sh('./gen', ['page', '-n', '1000000', '-s', '1', '-o', 'page.txt']);
  sh('./gen', ['obj', '-n', '1000000', '-s', '1', '-o', 'obj.txt']);
  sh('python3', ['native2csv.py', 'page.txt', 'page.csv']);
  sh('python3', ['native2csv.py', 'obj.txt', 'obj.csv']);
  sh(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], ROOT);

  /** The best timed pass of `replay -v` (events/s). */
  const native = (model: string, trace: string): number => {
    // -v writes the per-pass times to stderr
    const outText = sh('sh', ['-c', `./replay -m ${model} -r 3 -v ${trace} 2>&1`]);
    const events = Number(/events=(\d+)/.exec(outText)?.[1]);
    const passes = [...outText.matchAll(/^pass [1-9]\d*: ([\d.]+) s/gm)].map((m) => Number(m[1]));
    if (!events || passes.length === 0) throw new Error(`cannot read replay output:\n${outText}`);
    return events / Math.min(...passes);
  };

  /** One `allocbench run`: the best warm-cell events/s per page/object pair. */
  const ours = (trace: string, pages: string, object: string): Map<string, number> => {
    const out = join(tmp, `out-${object}`);
    sh(process.execPath, [join(ROOT, 'bin/allocbench.js'), 'run', '--trace', join(dir, trace), '--page', pages, '--object', object,
      ...MACHINES.flatMap((m) => ['--machine', m]), '--workers', '1', '--quiet', '--out', out], ROOT);
    const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {
      cell: { page: string; object: string; machine: string }; status: string; events: number; trace_errors: number; wall: { events_per_sec: number };
    });
    const best = new Map<string, number>();
    // results.jsonl is sorted by cell; in the worker the cells ran in matrix order (machine, page,
    // object), so the first cell of the run is the cold one
    const first = lines.reduce((a, b) => (order(a.cell) <= order(b.cell) ? a : b));
    for (const r of lines) {
      if (r.status !== 'ok' || r.trace_errors !== 0 || r.events !== 1_000_000) throw new Error(`${r.cell.page}/${r.cell.object}: ${r.status}, ${r.events} events, ${r.trace_errors} trace errors`);
      if (r === first && lines.length > 1) continue;
      const key = `${r.cell.page}/${r.cell.object}`;
      best.set(key, Math.max(best.get(key) ?? 0, r.wall.events_per_sec));
    }
    return best;
    function order(c: { page: string; machine: string }): number { return MACHINES.indexOf(c.machine) * 1000 + pages.split(',').indexOf(c.page); }
  };

  /**
   * The plain JavaScript port of the native buddy (bench/js-buddy.ts) on the same trace: events/s of
   * its best of 3 passes, as `replay -r 3`; refused unless its lists end as the native replay's.
   */
  const nativeLists = /list_blocks=([\d,]+)/.exec(sh('./replay', ['-m', 'buddy', 'page.txt']))?.[1];
  const jsPort = (trace: string): number => {
    const outText = sh(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/js-buddy.ts'), join(dir, trace)], ROOT);
    const m = /events=(\d+) best_s=([\d.e-]+) list_blocks=([\d,]+)/.exec(outText);
    if (m === null) throw new Error(`cannot read js-buddy output:\n${outText}`);
    if (m[3] !== nativeLists) throw new Error(`js-buddy ends with lists ${m[3]}, the native replay with ${nativeLists}: the port is wrong`);
    return Number(m[1]) / Number(m[2]);
  };
  let port = 0;

  /**
   * The harness's own floor: the replay of a cell as runCell does it (bench/replay-runner.ts:
   * latency, 100 samples, the per-id state, the machine's zonelist and watermarks) with a page
   * strategy that does nothing, in a process of its own; events/s of its best warm replay.
   */
  writeFileSync(join(tmp, 'runner.mjs'), replayRunner(ROOT));
  const harnessFloor = (trace: string): number => {
    const r = spawnSync(process.execPath, [join(tmp, 'runner.mjs'), join(dir, trace), 'null', 'kmalloc-pow2', '4', 'time'], { encoding: 'utf8' });
    const ms = r.stderr.trim().split('\n').map(Number).filter((x) => x > 0);
    if (r.status !== 0 || ms.length === 0) throw new Error(`the harness-floor replay failed:\n${r.stderr}`);
    return Number(r.stdout.trim()) / (Math.min(...ms) / 1000);
  };
  let harness = 0;

  const pairs: Pair[] = [
    { what: 'buddy  (page-1m)  vs native buddy ', native: 0, ours: 0 },
    { what: 'slub   (obj-1m)   vs native slab  ', native: 0, ours: 0 },
    { what: 'bitmap (page-1m)  vs native bitmap', native: 0, ours: 0 },
  ];
  const [buddy, slub, bitmap] = pairs as [Pair, Pair, Pair];
  for (let r = 0; r < ROUNDS; r++) {
    buddy.native = Math.max(buddy.native, native('buddy', 'page.txt'));
    bitmap.native = Math.max(bitmap.native, native('bitmap', 'page.txt'));
    slub.native = Math.max(slub.native, native('slab', 'obj.txt'));
    // one run per page strategy: a worker of the default run is a lane that runs one strategy
    // family (run/affinity.ts), so its call sites see one strategy class, as here
    buddy.ours = Math.max(buddy.ours, ours('page.csv', 'buddy', 'kmalloc-pow2').get('buddy/kmalloc-pow2') ?? 0);
    bitmap.ours = Math.max(bitmap.ours, ours('page.csv', 'bitmap', 'kmalloc-pow2').get('bitmap/kmalloc-pow2') ?? 0);
    slub.ours = Math.max(slub.ours, ours('obj.csv', 'buddy', 'slub').get('buddy/slub') ?? 0);
    port = Math.max(port, jsPort('page.txt'));
    harness = Math.max(harness, harnessFloor('page.csv'));
    process.stderr.write(`round ${r + 1}/${ROUNDS}: ${pairs.map((p) => (p.ours / p.native).toFixed(3)).join(' ')}\n`);
  }

  const targets = [0.33, 0.33, 0.2];
  console.log(`1 M events (native gen seed 1), machine mem=4G, allocbench warm cells with default sampling; best of ${ROUNDS} interleaved rounds`);
  console.log('                                     allocbench      native C     ratio   target');
  pairs.forEach((p, i) => {
    const ratio = p.ours / p.native;
    console.log(`${p.what}  ${(p.ours / 1e6).toFixed(2).padStart(8)} M/s  ${(p.native / 1e6).toFixed(2).padStart(8)} M/s  ${ratio.toFixed(3).padStart(7)}x  >= ${targets[i]}x ${ratio >= targets[i]! ? 'ok' : 'BELOW'}`);
  });
  // where the buddy gap is: JavaScript itself (the plain port) against what the model does on top
  console.log(`plain JS port of the native buddy (bench/js-buddy.ts, no zones, pcp lists, migratetypes, prices, samples): ${(port / 1e6).toFixed(2)} M/s = ${(port / buddy.native).toFixed(3)}x native; `
    + `allocbench buddy = ${(buddy.ours / port).toFixed(3)}x the port (${(1e9 / buddy.ours).toFixed(1)} vs ${(1e9 / port).toFixed(1)} ns/event)`);
  // what is left for a page strategy: the harness with one that does nothing already takes this share of the target's time
  console.log(`harness floor (bench/replay-runner.ts: the cell's replay with a do-nothing page strategy, page-1m, in-process): ${(harness / 1e6).toFixed(2)} M/s = ${(harness / buddy.native).toFixed(3)}x native buddy `
    + `(${(1e9 / harness).toFixed(1)} ns/event, of the ${(1e9 / (0.33 * buddy.native)).toFixed(1)} ns/event that 0.33x allows)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
