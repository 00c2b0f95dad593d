/**
 * `node --import tsx bench/cell-rate.ts TRACE PAGE OBJECT [CELLS] [SAMPLES]`: the replay of one cell
 * as `allocbench run` does it (runCell: latency recorded, SAMPLES time-series samples, default 100),
 * CELLS times in this process on machine mem=4G. Prints per cell the replay's wall and CPU time per
 * event (CPU time from the cell's start hook to its inspect hook: the replay plus a little setup),
 * then the best of the warm cells (all but the first). For profiling: `node --cpu-prof --import tsx ...`.
 * Compare figures of interleaved processes: this VM's two cores are shared.
 */
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { loadTrace } from '../src/trace/load.js';

const [file, page = 'buddy', object = 'kmalloc-pow2', cellsArg = '6', samplesArg = '100'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: cell-rate.ts TRACE PAGE OBJECT [CELLS] [SAMPLES]');
const trace = loadTrace(file);
const machine = loadMachine('mem=4G');
const cells = Number(cellsArg), samples = Number(samplesArg);
let bestWall = Infinity, bestCpu = Infinity;
for (let k = 0; k < cells; k++) {
  let c0 = 0, c1 = 0;
  const r = runCell({ trace: trace.name, machine: 'mem=4G', page, object, seed: 1 }, trace, machine, {
    samples,
    onStart: () => { const u = process.cpuUsage(); c0 = u.user + u.system; },
    inspect: () => { const u = process.cpuUsage(); c1 = u.user + u.system; },
  });
  if (r.status !== 'ok') throw new Error(`cell failed: ${r.error}`);
  const wallNs = (r.wall.replay_ms * 1e6) / r.events, cpuNs = ((c1 - c0) * 1e3) / r.events;
  if (k > 0) { bestWall = Math.min(bestWall, wallNs); bestCpu = Math.min(bestCpu, cpuNs); }
  console.log(`cell ${k}: wall ${wallNs.toFixed(1)} ns/event  cpu ${cpuNs.toFixed(1)} ns/event`);
}
console.log(`${page}/${object} ${file}: best warm wall ${bestWall.toFixed(1)} ns/event, cpu ${bestCpu.toFixed(1)} ns/event`);
