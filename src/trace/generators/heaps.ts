/**
 * Size-distribution heaps: user-space malloc/free/realloc (pid 0) with sizes from a uniform,
 * exponential or power-law (Pareto) distribution and lifetimes from an exponential, uniform or
 * lognormal one. These are the synthetic workloads of the allocator-survey literature (Wilson,
 * Johnstone, Neely & Boles, "Dynamic Storage Allocation: A Survey and Critical Review", IWMM 1995,
 * §3.1 discusses why such random traces are optimistic; Zorn & Grunwald 1992 fit real programs with
 * them). Deaths are kept in a binary min-heap on typed arrays, keyed by death time.
 */
import { OP_FREE, OP_MALLOC, OP_REALLOC } from '../ops.js';
import type { Trace } from '../trace.js';
import { builderFor, type Generator, type GeneratorParam, num, resolveParams, Rng } from './generator.js';

const SIZE_KINDS = ['uniform', 'exponential', 'power-law'] as const;
type SizeKind = (typeof SIZE_KINDS)[number];
const LIFETIMES = ['exp', 'uniform', 'lognormal'] as const;

const commonParams: Record<string, GeneratorParam> = {
  events: { default: 1_000_000, doc: 'number of events' },
  min: { default: 16, doc: 'smallest request (bytes)' },
  max: { default: 4096, doc: 'largest request (bytes; K/M suffixes)' },
  lifetime: { default: 'exp', doc: 'lifetime distribution, in allocations: exp, uniform (1..2·life) or lognormal (σ = 1)', choices: LIFETIMES },
  life: { default: 1000, doc: 'mean lifetime in allocations (by Little\'s law also the mean live count)' },
  realloc: { default: 0.05, doc: 'probability that an allocation step reallocs a random live block instead' },
};

function makeHeap(kind: SizeKind, description: string, extra: Record<string, GeneratorParam>): Generator {
  const gen: Generator = {
    name: kind,
    description,
    params: { ...commonParams, ...extra },
    generate(given, seed): Trace {
      const p = resolveParams(gen, given);
      const events = num(gen, p, 'events', 0, 2 ** 31 - 1, true);
      const min = num(gen, p, 'min', 1, 2 ** 40, true);
      const max = num(gen, p, 'max', min, 2 ** 40, true);
      const life = num(gen, p, 'life', 1, 2 ** 40);
      const pRealloc = num(gen, p, 'realloc', 0, 0.99);
      const lifetime = p.lifetime as string;
      const rng = new Rng(seed);

      // Size sampler parameters (inverse CDFs of the distributions truncated to [min, max]).
      const mean = kind === 'exponential' ? num(gen, p, 'mean', 1, 2 ** 40) : 0;
      const alpha = kind === 'power-law' ? num(gen, p, 'alpha', 0.01, 100) : 0;
      const expTail = kind === 'exponential' ? 1 - Math.exp(-(max - min + 1) / mean) : 0;
      const paretoTail = kind === 'power-law' ? 1 - Math.pow(min / (max + 1), alpha) : 0;
      const size = (): number => {
        if (kind === 'uniform') return rng.range(min, max);
        const u = rng.float();
        const x = kind === 'exponential'
          ? min - mean * Math.log(1 - u * expTail)
          : min * Math.pow(1 - u * paretoTail, -1 / alpha);
        return Math.min(max, Math.floor(x));
      };
      // lognormal with mean `life`: mu = ln(life) - sigma²/2, sigma = 1
      const mu = Math.log(life) - 0.5;
      const lifeOf = (): number => {
        if (lifetime === 'uniform') return rng.range(1, Math.max(1, Math.round(2 * life - 1)));
        if (lifetime === 'lognormal') return Math.exp(mu + rng.normal());
        return rng.exp(life);
      };

      const b = builderFor(gen, given, seed, events);
      b.notePid(0);
      // Min-heap of deaths (time, id) and the live set (for a random realloc victim); pos[id] is
      // the id's index in `live`, kept so a death removes it in O(1).
      let cap = 1024;
      let hTime = new Float64Array(cap);
      let hId = new Int32Array(cap);
      let live = new Int32Array(cap);
      let pos = new Int32Array(cap);
      let n = 0; // heap size = live size
      let now = 0;
      while (b.length < events) {
        if (n > 0 && hTime[0]! <= now) {
          const id = hId[0]!;
          b.push(OP_FREE, id, 0, 0);
          // pop the heap
          n--;
          const t = hTime[n]!, i2 = hId[n]!;
          let j = 0;
          for (;;) {
            let c = 2 * j + 1;
            if (c >= n) break;
            if (c + 1 < n && hTime[c + 1]! < hTime[c]!) c++;
            if (hTime[c]! >= t) break;
            hTime[j] = hTime[c]!; hId[j] = hId[c]!; j = c;
          }
          hTime[j] = t; hId[j] = i2;
          // remove from the live set (swap with the last)
          const k = pos[id]!, lastId = live[n]!;
          live[k] = lastId; pos[lastId] = k;
          continue;
        }
        now++;
        if (n > 0 && rng.float() < pRealloc) {
          b.push(OP_REALLOC, live[rng.int(n)]!, size(), 0);
          continue;
        }
        const id = b.newId();
        b.push(OP_MALLOC, id, size(), 0);
        if (n === cap || id >= pos.length) {
          if (n === cap) {
            cap *= 2;
            const t = new Float64Array(cap); t.set(hTime); hTime = t;
            const h = new Int32Array(cap); h.set(hId); hId = h;
            const l = new Int32Array(cap); l.set(live); live = l;
          }
          if (id >= pos.length) { const q = new Int32Array(Math.max(pos.length * 2, id + 1)); q.set(pos); pos = q; }
        }
        live[n] = id; pos[id] = n;
        // push the death into the heap (ties keep insertion order irrelevant: ids are unique)
        const death = now + lifeOf();
        let j = n++;
        while (j > 0) {
          const parent = (j - 1) >> 1;
          if (hTime[parent]! <= death) break;
          hTime[j] = hTime[parent]!; hId[j] = hId[parent]!; j = parent;
        }
        hTime[j] = death; hId[j] = id;
      }
      return b.finish();
    },
  };
  return gen;
}

export const uniformHeap = makeHeap('uniform',
  'user heap (malloc/free/realloc, pid 0) with sizes uniform in [min, max] and lifetimes from `lifetime` with mean `life` allocations.\n' +
  'The classic random-trace model of the allocator literature (Wilson et al. 1995 §3.1 on its limits).',
  {});

export const exponentialHeap = makeHeap('exponential',
  'user heap with sizes min + Exp(mean), truncated at max: many small blocks, a thin tail of large ones.\n' +
  'Exponential size and lifetime models after Zorn & Grunwald, "Evaluating models of memory allocation" (1992).',
  { mean: { default: 128, doc: 'scale of the exponential above min (bytes)' } });

export const powerLawHeap = makeHeap('power-law',
  'user heap with Pareto sizes (P(size > x) = (min/x)^alpha, truncated at max): the heavy-tailed size mix of real programs.\n' +
  'Heavy-tailed object sizes as measured for C/C++ programs (e.g. Johnstone & Wilson, ISMM 1998).',
  { alpha: { default: 1.2, doc: 'tail exponent of the Pareto distribution' } });
