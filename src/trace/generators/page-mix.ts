import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_RECLAIMABLE } from '../../machine/gfp.js';
import { OP_PAGE_ALLOC, OP_PAGE_FREE } from '../ops.js';
import type { Trace } from '../trace.js';
import { builderFor, cumulative, type Generator, IdPool, num, PAGE_BYTES, resolveParams, Rng } from './generator.js';

/** Order weights of page-mix: most kernel page allocations are order 0, few reach order 3. */
const ORDER_WEIGHTS = cumulative([70, 15, 10, 5]);

/**
 * The page-layer benchmark workload: page_alloc / page_free of orders 0-3 with random lifetimes.
 * Each step frees a random live block with a probability that rises with the live page count
 * relative to the target (p = ½·(live/target)³, capped at 1), so the live set grows to about
 * `fill` × `mem` and then churns around it: a free is exactly as likely as an alloc at the target.
 */
export const pageMix: Generator = {
  name: 'page-mix',
  description:
    'page-layer churn: page_alloc of orders 0-3 (weights 70/15/10/5) and frees of random live blocks around a target of fill x mem live pages; movable/reclaimable/unmovable gfp mix.\n' +
    'The free probability ½·(live/target)³ makes the live set ramp up and then churn at the target; lifetimes are therefore geometric-like and uncorrelated with size or type.',
  params: {
    events: { default: 1_000_000, doc: 'number of events' },
    mem: { default: 4 * 1024 ** 3, doc: 'memory size the target refers to (bytes; K/M/G suffixes)' },
    fill: { default: 0.5, doc: 'target live fraction of mem' },
    movable: { default: 0.6, doc: 'fraction of allocations that are GFP_HIGHUSER_MOVABLE (page cache / anon)' },
    reclaimable: { default: 0.1, doc: 'fraction that are GFP_KERNEL|__GFP_RECLAIMABLE; the rest are GFP_KERNEL (unmovable)' },
  },
  generate(given, seed): Trace {
    const p = resolveParams(pageMix, given);
    const events = num(pageMix, p, 'events', 0, 2 ** 31 - 1, true);
    const mem = num(pageMix, p, 'mem', PAGE_BYTES, 2 ** 48);
    const fill = num(pageMix, p, 'fill', 0, 1);
    const movable = num(pageMix, p, 'movable', 0, 1);
    const reclaimable = num(pageMix, p, 'reclaimable', 0, 1 - movable);
    const target = Math.max(1, Math.floor((mem / PAGE_BYTES) * fill));
    const rng = new Rng(seed);
    const b = builderFor(pageMix, given, seed, events);
    const live = new IdPool(1 << 16);
    let livePages = 0;
    const recl = movable + reclaimable;
    while (b.length < events) {
      const r = livePages / target;
      const pFree = Math.min(1, 0.5 * r * r * r);
      if (live.size > 0 && rng.float() < pFree) {
        const k = rng.int(live.size);
        const order = live.tags[k]!;
        b.push(OP_PAGE_FREE, live.ids[k]!, order, 0);
        livePages -= 1 << order;
        live.removeAt(k);
      } else {
        const order = rng.pick(ORDER_WEIGHTS);
        const u = rng.float();
        const gfp = u < movable ? GFP_HIGHUSER_MOVABLE : u < recl ? GFP_KERNEL | __GFP_RECLAIMABLE : GFP_KERNEL;
        const id = b.newId();
        b.push(OP_PAGE_ALLOC, id, order, gfp);
        live.push(id, order);
        livePages += 1 << order;
      }
    }
    return b.finish();
  },
};
