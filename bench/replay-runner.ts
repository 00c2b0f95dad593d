/**
 * The replay of one cell as runCell does it (machine mem=4G, latency recorded, 100 time-series
 * samples), without the end-of-run metrics, as a plain Node script over the built code in dist/:
 * `node runner.mjs TRACE PAGE OBJECT REPLAYS [time]`. Plain JavaScript so that it runs where tsx
 * cannot (under valgrind: bench/instructions.ts) and in a process of its own (bench/native.ts).
 *
 * PAGE may be `null`, a page strategy that does nothing (each allocation the next aligned block of a
 * power-of-two range, frees ignored): what is left is the harness itself, the replay loop, the
 * per-id state that counts trace errors, the machine's zonelist and watermark test, latency and
 * samples. With `time`, each replay after the first prints its wall milliseconds to stderr.
 */
import { join } from 'node:path';

export function replayRunner(root: string): string {
  const dist = (m: string): string => JSON.stringify(join(root, 'dist', m));
  return `
import { Machine } from ${dist('machine/machine.js')};
import { keepArrays, releaseKept } from ${dist('machine/kept-arrays.js')};
import { loadMachine } from ${dist('machine/memory-map.js')};
import { loadCostTable } from ${dist('machine/cost.js')};
import { LatencyRecorder } from ${dist('metrics/latency.js')};
import { TimeSeries } from ${dist('metrics/timeseries.js')};
import { objectStrategyFactory } from ${dist('object/registry.js')};
import { pageStrategyFactory, PAGE_STRATEGIES } from ${dist('page/registry.js')};
import { eventCpus } from ${dist('run/event-cpu.js')};
import { objectPageSource, replay } from ${dist('run/replay.js')};
import { loadTrace } from ${dist('trace/load.js')};
class NullPages {
  constructor(o) { this.name = 'null'; this.pages = o.pages; this.next = 0; }
  alloc(order) { return (this.next = (this.next + (1 << order)) & ((1 << (31 - Math.clz32(this.pages))) - 1)) & -(1 << order); }
  free() {} freePages() { return this.pages; } freeArea() {} pageblockTypes() {} counters() { return {}; } check() {} metadataBytes() { return 0; }
}
PAGE_STRATEGIES.null = (o) => new NullPages(o);
const [file, page, object, replays, time] = process.argv.slice(2);
const trace = loadTrace(file), cfg = loadMachine('mem=4G'), weights = loadCostTable();
for (let k = 0; k < Number(replays); k++) {
  const t0 = performance.now();
  keepArrays();
  const machine = new Machine(cfg, pageStrategyFactory(page));
  const source = objectPageSource(machine);
  const cpuOf = eventCpus(trace, machine.cpus);
  const objects = objectStrategyFactory(object)({ pages: source, steps: machine.steps, cpus: machine.cpus, cpuCursor: machine.cpuCursor });
  const recorder = new LatencyRecorder(), series = new TimeSeries(machine, () => objects.usage());
  replay(trace, machine, objects, source, {
    ...(cpuOf !== undefined ? { cpu: { of: cpuOf, cursor: machine.cpuCursor } } : {}),
    latency: { weights, recorder },
    sampleEvery: Math.ceil(trace.length / 100), onSample: (e, l, r) => series.sample(e, l, r),
  });
  recorder.totalNs();
  releaseKept();
  if (time === 'time' && k > 0) console.error((performance.now() - t0).toFixed(3));
}
console.log(trace.length);
`;
}
