// node --import tsx bench/object.ts — raw speed of the object-layer strategies alone (no machine, no
// replay loop): warm caches with 20 000 live objects, then 1 M events alternating a kfree of a random
// live object and a kmalloc of a size drawn from a mix of kmalloc sizes (mostly small, some up to 8 KiB,
// a few large ones). Pages come from a trivial per-order free-stack source so that the figure is
// the strategy's own cost. Prints the best of 5 rounds in M events/s.
import { performance } from 'node:perf_hooks';
import { GFP_KERNEL } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import type { PageSource } from '../src/machine/page-source.js';

const EVENTS = 1_000_000;
const LIVE = 20_000;
const ROUNDS = 5;

/** Per-order LIFO stacks of freed blocks over a bump pointer: O(1), allocation-free. */
class StackPages implements PageSource {
  readonly totalPfns = 1 << 20; // 4 GiB
  private next = 0;
  private readonly stacks: Int32Array[] = Array.from({ length: 11 }, () => new Int32Array(1 << 16));
  private readonly tops = new Int32Array(11);
  allocPages(order: number, _gfp: number): number {
    const t = this.tops[order]!;
    if (t > 0) {
      this.tops[order] = t - 1;
      return this.stacks[order]![t - 1]!;
    }
    const n = 1 << order;
    const pfn = Math.ceil(this.next / n) * n;
    if (pfn + n > this.totalPfns) return -1;
    this.next = pfn + n;
    return pfn;
  }
  freePages(pfn: number, order: number): void {
    const t = this.tops[order]!;
    this.stacks[order]![t] = pfn;
    this.tops[order] = t + 1;
  }
}

// the workload, generated once: sizes and victim indices
let seed = 12345;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return ((seed >>> 8) % n) | 0;
}
function size(): number {
  const r = rnd(100);
  if (r < 70) return 1 + rnd(256); //        small objects
  if (r < 95) return 257 + rnd(1792); //     up to 2 KiB
  if (r < 99) return 2049 + rnd(6144); //    up to 8 KiB
  return 8193 + rnd(24576); //               kmalloc_large
}
const warmSizes = new Int32Array(LIVE).map(() => size());
const sizes = new Int32Array(EVENTS / 2).map(() => size());
const victims = new Int32Array(EVENTS / 2).map(() => rnd(LIVE));

function round(spec: string): number {
  const s = objectStrategyFactory(spec)({ pages: new StackPages(), steps: newSteps(), cpus: 2 });
  const live = new Float64Array(LIVE);
  for (let i = 0; i < LIVE; i++) live[i] = s.alloc(warmSizes[i]!, GFP_KERNEL);
  const t0 = performance.now();
  for (let i = 0; i < EVENTS / 2; i++) {
    const v = victims[i]!;
    s.free(live[v]!);
    live[v] = s.alloc(sizes[i]!, GFP_KERNEL);
  }
  const ms = performance.now() - t0;
  s.check();
  return EVENTS / ms / 1000;
}

for (const spec of ['slub', 'kmalloc-pow2', 'kmalloc-pow2:return']) {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++) best = Math.max(best, round(spec));
  console.log(`${spec.padEnd(20)} ${best.toFixed(1).padStart(6)} M events/s  (1 M kmalloc+kfree events, ${LIVE} live, best of ${ROUNDS})`);
}
