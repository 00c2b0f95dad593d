import { GFP_KERNEL } from '../../machine/gfp.js';
import { MAX_ORDER } from '../../page/strategy.js';
import { OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../ops.js';
import type { Trace } from '../trace.js';
import { builderFor, type Generator, num, PAGE_BYTES, resolveParams } from './generator.js';

/**
 * Knuth's worst case for the binary buddy system (TAOCP vol. 1, §2.5, the discussion after
 * Algorithm R and exercise 2.5-31 on buddy fragmentation): fill memory with blocks of 2^order pages,
 * then free every other one. Half of memory is free, yet no two free blocks are buddies, so no
 * merge happens and every request for a block twice as large fails. A buddy allocator hands out a
 * fresh region in address order (expand() keeps the low half and queues the upper halves, which the
 * next request takes), so "every other in allocation order" is "every other in address order".
 * Address-ordered first-fit allocators are hurt the same way (no two free neighbours); the point is
 * to show that half of memory free can mean zero usable higher-order blocks.
 *
 * Phases (marks): fill, checkerboard, adversarial (requests of orders order+1..maxorder, which
 * should all fail when mem covers the machine), released (the rest freed: the same requests now
 * succeed). Deterministic: the generator draws no random numbers.
 */
export const buddyAdversarial: Generator = {
  name: 'buddy-adversarial',
  description:
    "Knuth's worst case for the binary buddy system (TAOCP vol. 1 §2.5): fill mem with order-`order` blocks, free every other one (half of memory free, no buddy pairs), then request `attempts` blocks of each order order+1..maxorder, each order given back before the next (they fail), free the rest and repeat (they succeed).\n" +
    'Marks: fill, checkerboard, adversarial, released. Use mem = the machine size so the fill leaves nothing else free.',
  params: {
    mem: { default: 4 * 1024 ** 3, doc: 'memory to fill (bytes; K/M/G suffixes)' },
    order: { default: 0, doc: 'order of the filling blocks' },
    maxorder: { default: 9, doc: 'largest order requested in the adversarial phase' },
    attempts: { default: 16, doc: 'requests per order in each request phase' },
  },
  generate(given, seed): Trace {
    const p = resolveParams(buddyAdversarial, given);
    const mem = num(buddyAdversarial, p, 'mem', PAGE_BYTES, 2 ** 44);
    const order = num(buddyAdversarial, p, 'order', 0, MAX_ORDER - 1, true);
    const maxorder = num(buddyAdversarial, p, 'maxorder', order + 1, MAX_ORDER, true);
    const attempts = num(buddyAdversarial, p, 'attempts', 0, 1 << 20, true);
    const n = Math.floor(mem / PAGE_BYTES / (1 << order));
    const requests = (maxorder - order) * attempts;
    const b = builderFor(buddyAdversarial, given, seed, 2 * n + 4 * requests + 8);

    b.push(OP_MARK, 0, 0, b.intern('fill'));
    const first = b.idCount;
    for (let k = 0; k < n; k++) b.push(OP_PAGE_ALLOC, b.newId(), order, GFP_KERNEL);
    b.push(OP_MARK, 0, 0, b.intern('checkerboard'));
    for (let k = 1; k < n; k += 2) b.push(OP_PAGE_FREE, first + k, order, 0);

    const requestPhase = (label: string): void => {
      b.push(OP_MARK, 0, 0, b.intern(label));
      // Each order probes the same state: its requests are given back before the next order asks
      // (a free of a failed request is a no-op in the replay).
      for (let o = order + 1; o <= maxorder; o++) {
        const start = b.idCount;
        for (let a = 0; a < attempts; a++) b.push(OP_PAGE_ALLOC, b.newId(), o, GFP_KERNEL);
        for (let a = 0; a < attempts; a++) b.push(OP_PAGE_FREE, start + a, o, 0);
      }
    };
    requestPhase('adversarial');
    for (let k = 0; k < n; k += 2) b.push(OP_PAGE_FREE, first + k, order, 0);
    requestPhase('released');
    return b.finish();
  },
};
