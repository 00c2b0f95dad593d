import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllocbenchError } from '../src/errors.js';
import { __GFP_MOVABLE, __GFP_RECLAIMABLE, GFP_KERNEL, gfpMigratetype } from '../src/machine/gfp.js';
import { MAX_ORDER } from '../src/page/strategy.js';
import {
  MAP_ANONYMOUS, MAP_PRIVATE, parseNumber, PROT_READ, PROT_WRITE,
} from '../src/trace/generators/generator.js';
import { GENERATORS, parseGenSpec } from '../src/trace/generators/index.js';
import * as O from '../src/trace/ops.js';
import { opCounts, type Trace, valueAt } from '../src/trace/trace.js';

/** Small parameters per generator so every test stays fast. */
const SMALL: Record<string, Record<string, number | string>> = {
  'page-mix': { events: 20000, mem: 64 * 1024 * 1024 },
  uniform: { events: 20000, life: 300 },
  exponential: { events: 20000, lifetime: 'lognormal' },
  'power-law': { events: 20000, lifetime: 'uniform' },
  'kernel-mix': { events: 20000, phase: 5000, objects: 2000, kmallocs: 500, pagecache: 1000 },
  'fork-cow': { events: 20000, pages: 32 },
  'buddy-adversarial': { mem: 16 * 1024 * 1024 },
  binary: { events: 20000, n: 500 },
  'highalloc-stress': { mem: 64 * 1024 * 1024 },
  'page-churn': { events: 20000, mem: 16 * 1024 * 1024, objects: 500 },
};
/** Generators that give a freed id to a later allocation (the id count is the peak live set). */
const RECYCLES_IDS = new Set(['page-churn']);
/** Generators that draw no random numbers: the seed only changes the source. */
const DETERMINISTIC = new Set(['buddy-adversarial', 'binary']);

const ALLOC_KIND: Record<number, number> = {
  [O.OP_PAGE_ALLOC]: 1, [O.OP_KMALLOC]: 2, [O.OP_CACHE_ALLOC]: 3, [O.OP_MALLOC]: 4,
};
const FREE_KIND: Record<number, number> = {
  [O.OP_PAGE_FREE]: 1, [O.OP_KFREE]: 2, [O.OP_CACHE_FREE]: 3, [O.OP_FREE]: 4,
};

interface Walk { allocs: number; frees: number; liveAtMark: Map<string, number[]> }

/**
 * Replays a trace's bookkeeping and throws on the first invalid event: an alloc of an id already
 * used, a free of an id that is not live or of another kind, a page_free whose recorded order is
 * not the alloc's, a cache op on an undefined cache, a process event of an unknown or exited pid,
 * a fault outside every mapping of its process, an index outside the string or extra tables.
 */
function validate(t: Trace): Walk {
  const kind = new Int8Array(t.idCount); // 0 never used, >0 live of that kind, -1 freed
  const orderOf = new Int8Array(t.idCount);
  const cacheOf = new Int32Array(t.idCount);
  let cachesCreated = 0;
  const pidAlive = new Uint8Array(Math.max(1, t.pidCount));
  const pidSeen = new Uint8Array(Math.max(1, t.pidCount));
  const maps = new Map<number, [number, number][]>();
  if (t.pidCount > 0) { pidAlive[0] = 1; pidSeen[0] = 1; }
  let allocs = 0, frees = 0;
  const liveAtMark = new Map<string, number[]>();
  const fail = (e: number, why: string): never => {
    throw new Error(`${t.name} event ${e} (${O.OP_NAMES[t.op[e]!]} id ${t.id[e]}): ${why}`);
  };
  for (let e = 0; e < t.length; e++) {
    const op = t.op[e]!, id = t.id[e]!, v = valueAt(t, e), aux = t.aux[e]!;
    if (op >= O.OP_COUNT) fail(e, 'unknown op');
    const ak = ALLOC_KIND[op], fk = FREE_KIND[op];
    if (ak !== undefined) {
      if (id < 0 || id >= t.idCount) fail(e, 'id out of range');
      if (kind[id]! > 0 || (kind[id] !== 0 && !RECYCLES_IDS.has(t.name.split('_')[0]!))) fail(e, 'alloc of an id already used');
      kind[id] = ak; allocs++;
      if (op === O.OP_PAGE_ALLOC) {
        if (v > MAX_ORDER) fail(e, 'order above MAX_ORDER');
        if (gfpMigratetype(aux) > 2) fail(e, 'gfp with both mobility bits');
        orderOf[id] = v;
      } else if (op === O.OP_CACHE_ALLOC) {
        if (aux < 0 || aux >= cachesCreated) fail(e, 'cache not created yet');
        cacheOf[id] = aux;
      } else if (v <= 0) fail(e, 'zero-byte request');
      if (op === O.OP_MALLOC && aux !== 0) fail(e, 'user heap pid is not 0');
    } else if (fk !== undefined) {
      if (id < 0 || id >= t.idCount || kind[id]! !== fk) fail(e, 'free of an id that is not live (or of another kind)');
      if (op === O.OP_PAGE_FREE && v !== orderOf[id]) fail(e, `recorded order ${v} is not the alloc's ${orderOf[id]}`);
      if (op === O.OP_CACHE_FREE && aux !== cacheOf[id]) fail(e, 'cache_free names another cache');
      kind[id] = -1; frees++;
    } else if (op === O.OP_REALLOC) {
      if (kind[id] !== ALLOC_KIND[O.OP_MALLOC]) fail(e, 'realloc of an id that is not a live malloc');
      if (v <= 0) fail(e, 'zero-byte realloc');
    } else if (op === O.OP_CACHE_CREATE) {
      if (id !== cachesCreated || id >= t.caches.length) fail(e, 'cache_create out of order');
      cachesCreated++;
    } else if (op === O.OP_MARK) {
      const label = t.strings[aux];
      if (label === undefined) fail(e, 'mark label out of range');
      const live: number[] = [];
      for (let i = 0; i < t.idCount; i++) if (kind[i]! > 0) live.push(i);
      liveAtMark.set(label!, live);
    } else if (op === O.OP_FORK) {
      if (!pidAlive[id]) fail(e, 'fork by a pid that is not alive');
      if (aux <= 0 || aux >= t.pidCount || pidSeen[aux]) fail(e, 'fork child pid not fresh');
      pidAlive[aux] = 1; pidSeen[aux] = 1;
      maps.set(aux, (maps.get(id) ?? []).map((m) => [m[0], m[1]] as [number, number]));
    } else if (op === O.OP_EXIT) {
      if (!pidAlive[id]) fail(e, 'exit of a pid that is not alive');
      pidAlive[id] = 0; maps.delete(id);
    } else if (op === O.OP_MMAP || op === O.OP_MUNMAP) {
      if (!pidAlive[id]) fail(e, 'mmap/munmap by a dead pid');
      if (aux < 0 || 2 * aux + 1 >= t.extra.length) fail(e, 'extra row out of range');
      const len = t.extra[2 * aux]!;
      if (len <= 0 || len % 4096 !== 0 || v % 4096 !== 0) fail(e, 'unaligned mapping');
      if (op === O.OP_MMAP) {
        const list = maps.get(id) ?? [];
        list.push([v, v + len]);
        maps.set(id, list);
      } else {
        const list = maps.get(id) ?? [];
        const k = list.findIndex((m) => m[0] === v && m[1] === v + len);
        if (k < 0) fail(e, 'munmap of a range that is not mapped');
        list.splice(k, 1);
      }
    } else if (op === O.OP_FAULT) {
      if (!pidAlive[id]) fail(e, 'fault in a dead pid');
      if (aux !== 0 && aux !== 1) fail(e, 'fault aux is not 0/1');
      if (!(maps.get(id) ?? []).some((m) => v >= m[0] && v < m[1])) fail(e, 'fault outside every mapping');
    } else {
      fail(e, 'op a generator should not emit');
    }
  }
  return { allocs, frees, liveAtMark };
}

function gen(name: string, seed: number, extra: Record<string, number | string> = {}): Trace {
  return GENERATORS[name]!.generate({ ...SMALL[name], ...extra }, seed);
}

function sameColumns(a: Trace, b: Trace): boolean {
  const eq = (x: ArrayLike<number>, y: ArrayLike<number>): boolean => {
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  return a.length === b.length && eq(a.op, b.op) && eq(a.id, b.id) && eq(a.lo, b.lo) && eq(a.hi, b.hi)
    && eq(a.aux, b.aux) && eq(a.extra, b.extra) && a.idCount === b.idCount && a.pidCount === b.pidCount
    && JSON.stringify([a.caches, a.strings]) === JSON.stringify([b.caches, b.strings]);
}

describe('every generator', () => {
  it('has a small parameter set in this test and documented params', () => {
    expect(Object.keys(SMALL).sort()).toEqual(Object.keys(GENERATORS).sort());
    for (const g of Object.values(GENERATORS)) {
      expect(g.description.length).toBeGreaterThan(40);
      for (const p of Object.values(g.params)) expect(p.doc.length).toBeGreaterThan(5);
    }
  });

  for (const name of Object.keys(GENERATORS)) {
    it(`${name}: same seed gives identical columns, another seed ${DETERMINISTIC.has(name) ? 'only another source' : 'different events'}`, () => {
      const a = gen(name, 7), b = gen(name, 7), c = gen(name, 8);
      expect(sameColumns(a, b)).toBe(true);
      expect(sameColumns(a, c)).toBe(DETERMINISTIC.has(name));
      expect(c.source).not.toBe(a.source);
    });

    it(`${name}: frees only live ids, allocs never reuse an id, allocs >= frees`, () => {
      const t = gen(name, 3);
      expect(t.length).toBeGreaterThan(100);
      const w = validate(t);
      expect(w.allocs).toBeGreaterThanOrEqual(w.frees);
      if ('events' in GENERATORS[name]!.params) expect(t.length).toBe(SMALL[name]!.events);
    });
  }

  it('stay valid for arbitrary seeds and sizes (property)', () => {
    const names = ['page-mix', 'uniform', 'exponential', 'power-law', 'kernel-mix', 'fork-cow', 'binary'];
    fc.assert(fc.property(
      fc.constantFrom(...names), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 3000 }),
      (name, seed, events) => {
        const t = gen(name, seed, { events });
        expect(t.length).toBe(events);
        const w = validate(t);
        expect(w.allocs).toBeGreaterThanOrEqual(w.frees);
      }), { numRuns: 60 });
  });
});

describe('the validator of these tests', () => {
  it('rejects a free of a freed id and an alloc of a used id', () => {
    const t = gen('page-mix', 1);
    const firstFree = t.op.indexOf(O.OP_PAGE_FREE);
    const doubled = { ...t, op: t.op.slice(), id: t.id.slice(), lo: t.lo.slice() };
    const j = doubled.op.indexOf(O.OP_PAGE_ALLOC, firstFree + 1);
    doubled.op[j] = O.OP_PAGE_FREE; doubled.id[j] = t.id[firstFree]!; doubled.lo[j] = t.lo[firstFree]!;
    expect(() => validate(doubled)).toThrow(/not live/);
    const reused = { ...t, id: t.id.slice() };
    reused.id[1] = t.id[0]!;
    expect(() => validate(reused)).toThrow(/already used/);
  });
});

describe('trace name and source', () => {
  it('are the spec in a file-name-safe form and gen:<spec>#seed', () => {
    const { name, params } = parseGenSpec('page-mix:events=1000,fill=0.25');
    const t = GENERATORS[name]!.generate(params, 42);
    expect(t.name).toBe('page-mix_events=1000_fill=0.25');
    expect(t.source).toBe('gen:page-mix:events=1000,fill=0.25#42');
    expect(GENERATORS['binary']!.generate({ events: 10 }, 1).name).toBe('binary_events=10');
    const sized = parseGenSpec('highalloc-stress:mem=64M,fill=0.5');
    const h = GENERATORS[sized.name]!.generate(sized.params, 3);
    expect(h.name).toBe('highalloc-stress_mem=64M_fill=0.5');
    expect(h.source).toBe('gen:highalloc-stress:mem=64M,fill=0.5#3');
    // the source's spec parses back to the same params
    expect(parseGenSpec(h.source.slice(4, h.source.indexOf('#')))).toEqual(sized);
    expect(GENERATORS['binary']!.generate({}, 1).name).toBe('binary');
  });
});

describe('parseGenSpec', () => {
  it('reads a bare name and key=value pairs with K/M/G size suffixes', () => {
    expect(parseGenSpec('page-mix')).toEqual({ name: 'page-mix', params: {} });
    expect(parseGenSpec('page-mix:events=1M,mem=4G,fill=0.5')).toEqual({
      name: 'page-mix', params: { events: 1024 ** 2, mem: 4 * 1024 ** 3, fill: 0.5 },
    });
    expect(parseGenSpec('uniform:lifetime=lognormal,max=64K').params).toEqual({ lifetime: 'lognormal', max: 65536 });
    expect(parseNumber('2MiB')).toBe(2 * 1024 * 1024);
    expect(parseNumber('1e6')).toBe(1e6);
    expect(parseNumber('12x')).toBeNaN();
  });

  it('rejects an unknown generator, listing the known ones', () => {
    expect(() => parseGenSpec('nope')).toThrow(AllocbenchError);
    expect(() => parseGenSpec('nope:events=1')).toThrow(/unknown generator "nope".*page-mix.*highalloc-stress/);
    expect(() => parseGenSpec('toString')).toThrow(/unknown generator/);
  });

  it('rejects an unknown parameter, listing the valid ones', () => {
    expect(() => parseGenSpec('page-mix:evnts=10')).toThrow(/no parameter "evnts" \(valid: events, mem, fill/);
    expect(() => GENERATORS['page-mix']!.generate({ bogus: 1 }, 1)).toThrow(AllocbenchError);
  });

  it('rejects malformed pairs, non-numbers, bad choices and out-of-range values', () => {
    expect(() => parseGenSpec('page-mix:events')).toThrow(/key=value/);
    expect(() => parseGenSpec('page-mix:events=lots')).toThrow(/not a number/);
    expect(() => parseGenSpec('page-mix:events=1,events=2')).toThrow(/twice/);
    expect(() => parseGenSpec('uniform:lifetime=weibull')).toThrow(/exp, uniform, lognormal/);
    expect(() => GENERATORS['page-mix']!.generate({ fill: 2 }, 1)).toThrow(/fill=2 must be/);
    expect(() => GENERATORS['uniform']!.generate({ min: 100, max: 10 }, 1)).toThrow(AllocbenchError);
  });
});

describe('page-mix', () => {
  it('uses orders 0-3 with order 0 most common, and churns around the fill target', () => {
    const t = GENERATORS['page-mix']!.generate({ events: 200000, mem: 64 * 1024 * 1024, fill: 0.5 }, 1);
    const byOrder = [0, 0, 0, 0, 0];
    let live = 0;
    const ord = new Int8Array(t.idCount);
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_PAGE_ALLOC) { byOrder[t.lo[e]!]!++; ord[t.id[e]!] = t.lo[e]!; live += 1 << t.lo[e]!; }
      else live -= 1 << ord[t.id[e]!]!;
    }
    expect(byOrder[4]).toBe(0);
    expect(byOrder[0]!).toBeGreaterThan(byOrder[1]! * 3);
    expect(byOrder[3]!).toBeGreaterThan(0);
    const target = (64 * 1024 * 1024 / 4096) * 0.5;
    expect(live).toBeGreaterThan(target * 0.8);
    expect(live).toBeLessThan(target * 1.2);
  });
});

describe('size-distribution heaps', () => {
  it('keep sizes within [min, max] and the exponential mean near min + mean', () => {
    for (const name of ['uniform', 'exponential', 'power-law']) {
      const t = GENERATORS[name]!.generate({ events: 20000, min: 32, max: 2048 }, 5);
      let sum = 0, n = 0, lo = Infinity, hi = 0;
      for (let e = 0; e < t.length; e++) {
        if (t.op[e] === O.OP_MALLOC || t.op[e] === O.OP_REALLOC) {
          lo = Math.min(lo, t.lo[e]!); hi = Math.max(hi, t.lo[e]!);
          sum += t.lo[e]!; n++;
        }
      }
      expect(lo).toBeGreaterThanOrEqual(32);
      expect(hi).toBeLessThanOrEqual(2048);
      expect(hi).toBeGreaterThan(1024); // the tail is reached
      if (name === 'exponential') expect(Math.abs(sum / n - (32 + 128))).toBeLessThan(10);
      if (name === 'uniform') expect(Math.abs(sum / n - 1040)).toBeLessThan(30);
    }
  });

  it('hold about `life` blocks live (Little\'s law)', () => {
    const t = GENERATORS['uniform']!.generate({ events: 60000, life: 500, realloc: 0 }, 2);
    const c = opCounts(t);
    expect(c[O.OP_MALLOC]! - c[O.OP_FREE]!).toBeGreaterThan(400);
    expect(c[O.OP_MALLOC]! - c[O.OP_FREE]!).toBeLessThan(600);
  });
});

describe('kernel-mix', () => {
  it('creates reclaimable and unmovable caches, mixes every class and marks phases', () => {
    const t = gen('kernel-mix', 1);
    expect(t.caches.find((c) => c.name === 'dentry')).toEqual({ name: 'dentry', size: 192, align: 0, flags: O.CACHE_RECLAIMABLE });
    expect(t.caches.find((c) => c.name === 'task_struct')!.flags & O.CACHE_RECLAIMABLE).toBe(0);
    const c = opCounts(t);
    for (const op of [O.OP_CACHE_ALLOC, O.OP_CACHE_FREE, O.OP_KMALLOC, O.OP_KFREE, O.OP_PAGE_ALLOC, O.OP_PAGE_FREE]) expect(c[op]).toBeGreaterThan(0);
    expect(c[O.OP_MARK]).toBe(4);
    expect(t.strings).toContain('phase-3');
    let high = 0;
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_PAGE_ALLOC && t.lo[e]! > 0) {
        high++;
        expect(t.lo[e]!).toBeGreaterThanOrEqual(2);
        expect(t.lo[e]!).toBeLessThanOrEqual(4);
        expect(t.aux[e]).toBe(GFP_KERNEL);
      }
    }
    expect(high).toBeGreaterThan(0);
  });
});

describe('fork-cow', () => {
  it('maps private anonymous read-write memory, faults it with writes, forks and takes COW writes in parent and child', () => {
    const t = gen('fork-cow', 1);
    expect(t.extra[1]).toBe((PROT_READ | PROT_WRITE) | (MAP_PRIVATE | MAP_ANONYMOUS) << 8);
    const c = opCounts(t);
    expect(c[O.OP_FORK]).toBeGreaterThan(10);
    expect(c[O.OP_EXIT]).toBeGreaterThan(5);
    // a write fault by a pid created by a fork of a non-zero pid is a child's COW write
    const childOf = new Int32Array(t.pidCount).fill(-1);
    let childWrites = 0, reads = 0;
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_FORK) childOf[t.aux[e]!] = t.id[e]!;
      if (t.op[e] === O.OP_FAULT && t.aux[e] === 1 && childOf[t.id[e]!]! > 0) childWrites++;
      if (t.op[e] === O.OP_FAULT && t.aux[e] === 0) reads++;
    }
    expect(childWrites).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(0);
  });
});

describe('buddy-adversarial', () => {
  it('leaves every other block of the fill allocated, then asks for every higher order', () => {
    const t = gen('buddy-adversarial', 1);
    const w = validate(t);
    const pages = 16 * 1024 * 1024 / 4096;
    expect(w.liveAtMark.get('adversarial')!.length).toBe(pages / 2);
    // live ids alternate: the survivors are the even-numbered allocations
    expect(w.liveAtMark.get('adversarial')!.every((id) => id % 2 === 0)).toBe(true);
    const orders = new Set<number>();
    let inPhase = false;
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_MARK) inPhase = t.strings[t.aux[e]!] === 'adversarial';
      else if (inPhase && t.op[e] === O.OP_PAGE_ALLOC) orders.add(t.lo[e]!);
    }
    expect([...orders].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // each order's requests are given back before the next order asks (every order sees one state)
    let outstanding = 0, lastOrder = 0;
    inPhase = false;
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_MARK) { inPhase = t.strings[t.aux[e]!] !== 'fill' && t.strings[t.aux[e]!] !== 'checkerboard'; continue; }
      if (!inPhase || t.lo[e] === 0) continue;
      if (t.op[e] === O.OP_PAGE_ALLOC) {
        if (t.lo[e] !== lastOrder) { expect(outstanding).toBe(0); lastOrder = t.lo[e]!; }
        outstanding++;
      } else outstanding--;
    }
    expect(outstanding).toBe(0);
    expect(w.liveAtMark.get('released')!.length).toBe(0);
  });
});

describe('binary', () => {
  it('pairs 2^k and 2^k+1 byte requests, then asks for 2^(k+1)', () => {
    const t = GENERATORS['binary']!.generate({ events: 5000, k: 5, n: 100 }, 1);
    const sizes = new Set<number>();
    for (let e = 0; e < t.length; e++) if (t.op[e] === O.OP_MALLOC) sizes.add(t.lo[e]!);
    expect([...sizes].sort((a, b) => a - b)).toEqual([32, 33, 64]);
    expect(t.lo[0]).toBe(32);
    expect(t.lo[1]).toBe(33);
  });
});

describe('highalloc-stress', () => {
  const mem = 256 * 1024 * 1024;
  const pages = mem / 4096;
  const t = GENERATORS['highalloc-stress']!.generate({ mem }, 1);
  const w = validate(t);
  const ord = new Int8Array(t.idCount);
  const gfp = new Int32Array(t.idCount);
  for (let e = 0; e < t.length; e++) if (t.op[e] === O.OP_PAGE_ALLOC) { ord[t.id[e]!] = t.lo[e]!; gfp[t.id[e]!] = t.aux[e]!; }
  const livePages = (label: string, mask: number): number =>
    w.liveAtMark.get(label)!.reduce((s, id) => s + ((gfp[id]! & (__GFP_MOVABLE | __GFP_RECLAIMABLE)) === mask ? 1 << ord[id]! : 0), 0);

  it('runs the phases load, under_load, reclaim, at_rest in that order', () => {
    const marks: string[] = [];
    for (let e = 0; e < t.length; e++) if (t.op[e] === O.OP_MARK) marks.push(t.strings[t.aux[e]!]!);
    expect(marks).toEqual(['load', 'under_load', 'reclaim', 'at_rest']);
  });

  it('fills memory with about 12% unmovable, 10% reclaimable and the rest of `fill` movable', () => {
    const u = livePages('under_load', 0) / pages;
    const r = livePages('under_load', __GFP_RECLAIMABLE) / pages;
    const m = livePages('under_load', __GFP_MOVABLE) / pages;
    expect(u).toBeGreaterThan(0.11); expect(u).toBeLessThan(0.13);
    expect(r).toBeGreaterThan(0.09); expect(r).toBeLessThan(0.11);
    expect(u + r + m).toBeGreaterThan(0.88); expect(u + r + m).toBeLessThan(0.92);
  });

  it('interleaves unmovable allocations with movable churn through the whole load', () => {
    // unmovable allocations keep coming after the first movable frees (they land in their holes)
    let firstMovableFree = -1, unmovableAfter = 0;
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_PAGE_FREE && firstMovableFree < 0 && gfp[t.id[e]!]! & __GFP_MOVABLE) firstMovableFree = e;
      if (firstMovableFree >= 0 && t.op[e] === O.OP_PAGE_ALLOC && t.aux[e] === GFP_KERNEL) unmovableAfter++;
      if (t.op[e] === O.OP_MARK && t.strings[t.aux[e]!] === 'under_load') break;
    }
    expect(firstMovableFree).toBeGreaterThan(0);
    expect(unmovableAfter).toBeGreaterThan(1000);
  });

  it('stays valid with movable pages in groups, and frees every movable page by the at_rest mark', () => {
    const g = GENERATORS['highalloc-stress']!.generate({ mem: 64 * 1024 * 1024, group: 8 }, 2);
    const wg = validate(g);
    const gf = new Int32Array(g.idCount);
    for (let e = 0; e < g.length; e++) if (g.op[e] === O.OP_PAGE_ALLOC) gf[g.id[e]!] = g.aux[e]!;
    expect(wg.liveAtMark.get('at_rest')!.filter((id) => gf[id]! & (__GFP_MOVABLE | __GFP_RECLAIMABLE)).length).toBe(0);
    // groups change the events: not the same trace as independent pages
    expect(sameColumns(g, GENERATORS['highalloc-stress']!.generate({ mem: 64 * 1024 * 1024 }, 2))).toBe(false);
  });

  it('leaves only unmovable memory live at rest and asks for one order-9 block per pageblock in each phase', () => {
    expect(livePages('at_rest', __GFP_MOVABLE) + livePages('at_rest', __GFP_RECLAIMABLE)).toBe(0);
    expect(livePages('at_rest', 0)).toBeGreaterThan(0.1 * pages);
    let attempts = 0, phase = '';
    for (let e = 0; e < t.length; e++) {
      if (t.op[e] === O.OP_MARK) phase = t.strings[t.aux[e]!]!;
      else if (t.op[e] === O.OP_PAGE_ALLOC && t.lo[e] === 9) {
        expect(phase === 'under_load' || phase === 'at_rest').toBe(true);
        attempts++;
      }
    }
    expect(attempts).toBe(2 * (pages / 512));
  });
});
