#!/usr/bin/env node
// Slab timing diagnostic (src/metrics/slab-timing.ts): per recording folder, the recorded slab page
// allocations beside the model SLUB's new_slab() calls in `--layers all`, per cache, k-th with k-th.
// Usage: node scripts/slab-timing.mjs DIR... [--object slub] [--page buddy-mobility] [--no-split]
import { basename } from 'node:path';
const build = new URL('./build.mjs', import.meta.url);
await (await import(build.href)).buildStale();
const d = (p) => import(new URL(`../dist/${p}`, import.meta.url).href);
const { recordingTrace } = await d('cli/fidelity.js');
const { loadTrace } = await d('trace/load.js');
const { recordedMachine } = await d('machine/recorded-machine.js');
const { loadMachine } = await d('machine/memory-map.js');
const { startInputFor } = await d('metrics/fidelity.js');
const { ftraceText } = await d('metrics/pcp-traffic.js');
const { runCell } = await d('run/cell.js');
const { newSlabProbe } = await d('object/slub.js');
const { recordedSlabAllocs, modelSlabAlloc, compareSlabAllocs, formatSlabTiming } = await d('metrics/slab-timing.js');

const args = process.argv.slice(2);
const opt = (k, v) => { const i = args.indexOf(k); if (i < 0) return v; const x = args[i + 1]; args.splice(i, 2); return x; };
const noSplit = args.includes('--no-split');
if (noSplit) args.splice(args.indexOf('--no-split'), 1);
const object = opt('--object', 'slub'), page = opt('--page', 'buddy-mobility');
for (const dir of args) {
  const tracePath = recordingTrace(dir);
  const trace = loadTrace(tracePath, { layers: 'all', layersIfKernel: true });
  const rec = recordedMachine(tracePath, trace.name);
  const config = rec?.config ?? loadMachine('desktop');
  const text = ftraceText(tracePath);
  const start = startInputFor(tracePath, rec !== undefined, text);
  // --no-split: the loader's caches as they are (one per bytes_alloc), as before splitCaches()
  if (noSplit && start.slabObjects !== undefined) delete start.slabObjects.split;
  const { slabs, lines } = recordedSlabAllocs(text, trace.stats.direct_map_base_gib, start.slabObjects?.split?.alloc);
  const model = [];
  newSlabProbe.fn = (cache, order, gfp, pos) => model.push(modelSlabAlloc(cache, order, gfp, pos));
  runCell({ trace: trace.name, machine: config.name, page, object, seed: 1 }, trace, config, { start, samples: 0, startEmpty: false, inspect: () => { newSlabProbe.fn = undefined; } });
  newSlabProbe.fn = undefined;
  console.log(formatSlabTiming(basename(dir.replace(/\/+$/, '')), compareSlabAllocs(slabs, model, lines)));
}
