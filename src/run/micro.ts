import { Bench } from 'tinybench';
import { GFP_KERNEL, GFP_HIGHUSER_MOVABLE } from '../machine/gfp.js';
import { Machine } from '../machine/machine.js';
import { loadMachine } from '../machine/memory-map.js';
import { OBJECT_STRATEGIES, objectStrategyFactory } from '../object/registry.js';
import { PAGE_STRATEGIES, pageStrategyFactory } from '../page/registry.js';
import { objectPageSource } from './replay.js';

/** One micro-benchmark: wall-clock nanoseconds per alloc+free pair of one strategy, warm. */
export interface MicroResult {
  layer: 'page' | 'object';
  strategy: string;
  what: string;
  ns_per_pair: number;
  pairs_per_sec: number;
  rme_percent: number;
  samples: number;
}

const BATCH = 1000;

/**
 * tinybench micro-benchmarks of each strategy's alloc/free on a warm machine (the desktop preset,
 * half full): a batch of 1000 allocations then their 1000 frees per iteration, so the timer's
 * resolution does not dominate. Wall-clock figures: reported, never compared tightly.
 */
export async function microBenchmarks(timeMs = 300): Promise<MicroResult[]> {
  const bench = new Bench({ time: timeMs, warmup: true });
  const meta: Omit<MicroResult, 'ns_per_pair' | 'pairs_per_sec' | 'rme_percent' | 'samples'>[] = [];
  const held = new Float64Array(BATCH);
  const desktop = loadMachine('desktop');
  for (const name of Object.keys(PAGE_STRATEGIES)) {
    const m = new Machine(desktop, pageStrategyFactory(name));
    // warm: fill about half of memory with order-0 movable pages, freeing every other one
    const keep: number[] = [];
    const target = m.managedPages() / 2;
    for (let i = 0; i < target; i++) {
      const p = m.allocPages(0, GFP_HIGHUSER_MOVABLE);
      if (p < 0) break;
      if (i % 2) m.freePages(p, 0); else keep.push(p);
    }
    for (const order of [0, 3]) {
      const what = `alloc_pages(order ${order}) + free`;
      meta.push({ layer: 'page', strategy: name, what });
      bench.add(`${name} ${what}`, () => {
        for (let i = 0; i < BATCH; i++) held[i] = m.allocPages(order, GFP_KERNEL);
        for (let i = 0; i < BATCH; i++) if (held[i]! >= 0) m.freePages(held[i]!, order);
      });
    }
  }
  for (const name of Object.keys(OBJECT_STRATEGIES)) {
    const m = new Machine(desktop, pageStrategyFactory('buddy'));
    const src = objectPageSource(m);
    const o = objectStrategyFactory(name)({ pages: src, steps: m.steps, cpus: m.cpus });
    for (const size of [64, 700]) {
      const what = `alloc(${size}) + free`;
      meta.push({ layer: 'object', strategy: name, what });
      bench.add(`${name} ${what}`, () => {
        for (let i = 0; i < BATCH; i++) held[i] = o.alloc(size, GFP_KERNEL);
        for (let i = 0; i < BATCH; i++) if (held[i]! >= 0) o.free(held[i]!);
      });
    }
  }
  const tasks = await bench.run();
  return tasks.map((t, i) => {
    const r = t.result as unknown as { period: number; latency: { rme: number; samplesCount?: number; samples?: number[] } };
    const nsPerPair = (r.period * 1e6) / BATCH;
    return {
      ...meta[i]!,
      ns_per_pair: Math.round(nsPerPair * 10) / 10,
      pairs_per_sec: Math.round(1e9 / nsPerPair),
      rme_percent: Math.round(r.latency.rme * 10) / 10,
      samples: r.latency.samplesCount ?? r.latency.samples?.length ?? 0,
    };
  });
}
