import { OP_FREE, OP_MALLOC } from '../ops.js';
import type { Trace } from '../trace.js';
import { builderFor, type Generator, IdPool, num, resolveParams } from './generator.js';

/**
 * The "binary" traces of the CMU malloc lab (binary-bal.rep, binary2-bal.rep): interleave two sizes,
 * free all of one, then ask for something bigger than the holes. Here the pair is 2^k and 2^k + 1
 * bytes: the second just misses a power of two, so any allocator that rounds to powers of two
 * (buddy, McKusick-Karels kmalloc) wastes half of it, and after those are freed the holes sit
 * between live 2^k blocks where no 2^(k+1)-byte request fits without coalescing across a live block.
 *
 * One round (pid 0): n pairs malloc(2^k), malloc(2^k + 1); free every 2^k + 1 block; malloc n blocks
 * of 2^(k+1) bytes; free every 2^k block; free the 2^(k+1) blocks. Rounds repeat until `events`;
 * deterministic, no random draws.
 */
export const binary: Generator = {
  name: 'binary',
  description:
    'malloc-lab "binary" pattern: n pairs of malloc(2^k) and malloc(2^k+1) (the +1 defeats power-of-two rounding), free the 2^k+1 blocks, malloc n blocks of 2^(k+1) that do not fit the holes, free the rest; repeated until `events`.\n' +
    'After the CMU malloc-lab binary-bal / binary2-bal traces (Bryant & O\'Hallaron, CS:APP malloc lab).',
  params: {
    events: { default: 100_000, doc: 'number of events' },
    k: { default: 6, doc: 'log2 of the small size (2^k and 2^k+1 bytes)' },
    n: { default: 2000, doc: 'pairs per round' },
  },
  generate(given, seed): Trace {
    const p = resolveParams(binary, given);
    const events = num(binary, p, 'events', 0, 2 ** 31 - 1, true);
    const k = num(binary, p, 'k', 0, 40, true);
    const n = num(binary, p, 'n', 1, 1 << 24, true);
    const small = 2 ** k;
    const b = builderFor(binary, given, seed, events);
    b.notePid(0);
    const smalls = new IdPool(n);
    const odd = new IdPool(n);
    const big = new IdPool(n);
    const full = (): boolean => b.length >= events;
    while (!full()) {
      smalls.clear(); odd.clear(); big.clear();
      for (let i = 0; i < n && !full(); i++) {
        const a = b.newId();
        b.push(OP_MALLOC, a, small, 0);
        smalls.push(a, 0);
        if (full()) break;
        const c = b.newId();
        b.push(OP_MALLOC, c, small + 1, 0);
        odd.push(c, 0);
      }
      for (let i = 0; i < odd.size && !full(); i++) b.push(OP_FREE, odd.ids[i]!, 0, 0);
      for (let i = 0; i < n && !full(); i++) {
        const c = b.newId();
        b.push(OP_MALLOC, c, 2 * small, 0);
        big.push(c, 0);
      }
      for (let i = 0; i < smalls.size && !full(); i++) b.push(OP_FREE, smalls.ids[i]!, 0, 0);
      for (let i = 0; i < big.size && !full(); i++) b.push(OP_FREE, big.ids[i]!, 0, 0);
    }
    return b.finish();
  },
};
