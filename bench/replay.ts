// npm run bench:replay — replay speed of every strategy through the full machine (one core).
// Page layer: the 1 M-event page-mix workload (orders 0-3, random lifetimes) on the desktop machine.
// Object layer: a warm alloc+free mix of kmalloc sizes (slub, kmalloc-pow2) and of malloc sizes (dlmalloc).
import { performance } from 'node:perf_hooks';
import { Machine } from '../src/machine/machine.js';
import { GFP_KERNEL } from '../src/machine/gfp.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { OBJECT_STRATEGIES, objectStrategyFactory } from '../src/object/registry.js';
import { PAGE_STRATEGIES, pageStrategyFactory } from '../src/page/registry.js';
import { objectPageSource, replay } from '../src/run/replay.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC } from '../src/trace/ops.js';
import { TraceBuilder, type Trace } from '../src/trace/trace.js';
import { Rng } from '../src/trace/generators/generator.js';
import { Vm } from '../src/machine/vm.js';
import { UserHeaps } from '../src/machine/process-heap.js';

const desktop = loadMachine('desktop');
const ROUNDS = 3;

function bestRate(trace: Trace, page: string, object: string): number {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const m = new Machine(desktop, pageStrategyFactory(page));
    const src = objectPageSource(m);
    const objects = objectStrategyFactory(object)({ pages: src, steps: m.steps, cpus: m.cpus });
    const t0 = performance.now();
    const c = replay(trace, m, objects, src);
    const ms = performance.now() - t0;
    if (c.trace_errors !== 0) throw new Error(`${page}/${object}: ${c.trace_errors} trace errors in a clean workload`);
    best = Math.max(best, trace.length / ms / 1000);
  }
  return best;
}

/** Warm caches, then 1 M events alternating a free of a random live object and a new allocation. */
function objectMix(op: number, freeOp: number, sizes: number[], events = 1_000_000, live = 20_000): Trace {
  const b = new TraceBuilder(`object-mix-${op}`, 'bench', events + live);
  const rng = new Rng(42);
  const pick = (n: number): number => rng.int(n);
  const ids = new Int32Array(live);
  const alloc = (slot: number): void => {
    const id = b.newId();
    ids[slot] = id;
    b.push(op, id, sizes[pick(sizes.length)]!, op === OP_MALLOC ? 0 : GFP_KERNEL);
  };
  for (let i = 0; i < live; i++) alloc(i);
  for (let e = 0; e < events; e += 2) {
    const slot = pick(live);
    b.push(freeOp, ids[slot]!, 0, 0);
    alloc(slot);
  }
  if (op === OP_MALLOC) b.notePid(0);
  return b.finish();
}

const line = (what: string, rate: number, target: number): string =>
  `${what.padEnd(40)} ${rate.toFixed(2).padStart(7)} M events/s  (target >= ${target}) ${rate >= target ? 'ok' : 'BELOW TARGET'}`;

const pageMix = GENERATORS['page-mix']!.generate({ events: 1_000_000 }, 1);
console.log(`page-mix: ${pageMix.length} events on ${desktop.name}; best of ${ROUNDS}`);
for (const page of Object.keys(PAGE_STRATEGIES)) {
  const target = page === 'buddy' || page === 'bitmap' ? 5 : 3;
  console.log(line(`page ${page}`, bestRate(pageMix, page, 'kmalloc-pow2'), target));
}

// fork-cow: processes, page tables, zero-page/new/COW faults on the whole machine (target >= 2 M events/s with buddy)
{ const fc = GENERATORS['fork-cow']!.generate({ events: 1_000_000 }, 1); let best = 0; for (let r = 0; r < ROUNDS; r++) { const m = new Machine(desktop, pageStrategyFactory('buddy')); const src = objectPageSource(m); const o = objectStrategyFactory('slub')({ pages: src, steps: m.steps, cpus: m.cpus }); const vm = new Vm(m, { pids: fc.pidCount }); const t0 = performance.now(); replay(fc, m, o, src, { processes: { vm, heaps: new UserHeaps(vm, objectStrategyFactory('slub'), 'pages', m.cpus, 1024) } }); best = Math.max(best, fc.length / (performance.now() - t0) / 1000); } console.log(line('fork-cow buddy', best, 2)); }

const kmallocSizes = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048];
const kmix = objectMix(OP_KMALLOC, OP_KFREE, kmallocSizes);
const mallocSizes = [16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 256, 512, 1024, 4096];
const umix = objectMix(OP_MALLOC, OP_FREE, mallocSizes);
console.log(`object mix: ${kmix.length} events (kmalloc), ${umix.length} events (malloc), page strategy buddy`);
for (const object of Object.keys(OBJECT_STRATEGIES)) {
  const user = object === 'dlmalloc';
  console.log(line(`object ${object}`, bestRate(user ? umix : kmix, 'buddy', object), user ? 3 : 10));
}
