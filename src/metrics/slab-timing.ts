/**
 * Slab timing (issues 13/14 diagnostic): the slab pages a kernel recording allocated, per cache,
 * set k-th beside k-th with the slabs the model SLUB allocates when the object events drive it
 * (`--layers all`), by when (the object allocation that needed the slab), order and migratetype.
 * Where they first part says which SLUB rule differs: the slab's order (calculate_order), a cache's
 * objects per slab, the per-CPU/partial handling (a slab reused instead of a new one, or the
 * reverse), pre-trace slabs adopted at the start (object/slab-start.ts), frees the model misses.
 *
 * The recorded side, from the trace text (the snapshot window, metrics/pcp-traffic.ts ftraceText):
 * a `mm_page_alloc` block is a slab when the first object allocation whose pointer falls in it
 * while it is live comes from kmem_cache_alloc or kmalloc (at most KMALLOC_MAX_CACHE_SIZE: above,
 * kmalloc_large() hands out the block itself); the slab's time is that allocation's ordinal among
 * the window's object allocations (6.1/6.12 mm/slub.c: allocate_slab() runs inside the allocation
 * that needed it, so the recorded block is followed by that object at once). The direct-map base
 * is the attribution's (trace/attribution.ts, stats.direct_map_base_gib). Caches as the loader
 * names them: `cache-<bytes_alloc>` for kmem_cache_alloc (6.1 prints no cache name on
 * allocations; `split`: the kernel cache of each kmem_cache_alloc where object/slab-start.ts
 * splitCaches() tells the caches of one size apart), kmalloc-/kmalloc-rcl-/dma-kmalloc- by
 * kmalloc_type() and the size index.
 */
import { gfpMigratetype, parseGfpLenient, __GFP_DMA, __GFP_RECLAIMABLE } from '../machine/gfp.js';
import { lineCounter } from './pcp-traffic.js';
import { kmallocIndex, kmallocSuffix, KMALLOC_MAX_CACHE_SIZE } from '../object/slab-geometry.js';

export interface SlabAlloc {
  /** ordinal (0-based) of the object allocation that needed the slab, among the replayed ones */
  pos: number;
  order: number;
  /** migratetype of the page allocation (0 Unmovable, 1 Movable, 2 Reclaimable) */
  mt: number;
  cache: string;
}

export interface CacheTiming {
  cache: string;
  real: number;
  model: number;
  /** pairs (k-th with k-th) whose order / migratetype / position agree */
  sameOrder: number;
  sameMt: number;
  samePos: number;
  /** the first pair that differs in anything (-1: none within the shorter list), and why */
  first: number;
  why: string;
  /** position of that first difference (the earlier of the two sides), for sorting */
  at: number;
}

export interface SlabTiming {
  real: number;
  model: number;
  caches: CacheTiming[];
}

const EVENT = /(kmem_cache_alloc|kmalloc)(?:_node)?: call_site=\S+ ptr=([0-9a-f]+) bytes_req=(\d+) bytes_alloc=(\d+) gfp_flags=(\S+)|mm_page_(alloc|free|free_batched): page=\S+ pfn=0x([0-9a-f]+) order=(\d+)(?: migratetype=(\d+))?/g;

const DIRECT_MAP_BOTTOM = 0xffff800000000000n;

/** The kmalloc cache a kmalloc(bytes, gfp) uses, named as object/slub.ts names it (kmalloc_type(): DMA, then RECLAIM). */
export function kmallocCacheName(bytes: number, gfp: number): string {
  const prefix = gfp & __GFP_DMA ? 'dma-kmalloc-' : gfp & __GFP_RECLAIMABLE ? 'kmalloc-rcl-' : 'kmalloc-';
  return prefix + kmallocSuffix(kmallocIndex(bytes < 1 ? 1 : bytes));
}

/**
 * The recording's slab page allocations in trace order, and the trace line of each object
 * allocation by ordinal (for the report). `baseGib`: the direct map's base, GiB above
 * 0xffff800000000000.
 */
export function recordedSlabAllocs(text: string, baseGib: number, split?: readonly (string | null)[]): { slabs: SlabAlloc[]; lines: number[] } {
  const base = DIRECT_MAP_BOTTOM + BigInt(baseGib) * (1n << 30n);
  const owner = new Map<number, { order: number; mt: number; done: boolean }>();
  const slabs: SlabAlloc[] = [];
  const lines: number[] = [];
  const lineOf = lineCounter(text);
  let ordinal = 0, cacheAllocs = 0;
  for (const m of text.matchAll(EVENT)) {
    if (m[1] !== undefined) {
      const pos = ordinal++;
      lines.push(lineOf(m.index));
      const kernelCache = m[1] === 'kmem_cache_alloc' && !/^0+$/.test(m[2]!) ? split?.[cacheAllocs++] ?? undefined : undefined;
      const bytesReq = Number(m[3]), bytesAlloc = Number(m[4]);
      if (m[1] === 'kmalloc' && bytesAlloc > KMALLOC_MAX_CACHE_SIZE) continue;
      const pfn = Number((BigInt('0x' + m[2]!) - base) >> 12n);
      const b = owner.get(pfn);
      if (b === undefined || b.done) continue;
      b.done = true;
      const cache = kernelCache !== undefined ? kernelCache : m[1] === 'kmem_cache_alloc' ? `cache-${bytesAlloc}` : kmallocCacheName(bytesReq, parseGfpLenient(m[5]!));
      slabs.push({ pos, order: b.order, mt: b.mt, cache });
      continue;
    }
    const pfn = parseInt(m[7]!, 16), order = Number(m[8]);
    if (m[6] === 'alloc') {
      const b = { order, mt: Number(m[9] ?? 0), done: false };
      for (let p = pfn; p < pfn + (1 << order); p++) owner.set(p, b);
    } else {
      for (let p = pfn; p < pfn + (1 << order); p++) owner.delete(p);
    }
  }
  return { slabs, lines };
}

/** The model's new_slab() as a SlabAlloc (object/slub.ts newSlabProbe gives the page allocation's gfp). */
export function modelSlabAlloc(cache: string, order: number, gfp: number, pos: number): SlabAlloc {
  return { pos, order, mt: gfpMigratetype(gfp), cache };
}

/** Per cache, k-th recorded slab beside the model's k-th; caches ordered by their first difference. */
export function compareSlabAllocs(real: SlabAlloc[], model: SlabAlloc[], lines: number[] = []): SlabTiming {
  const group = (l: SlabAlloc[]): Map<string, SlabAlloc[]> => {
    const g = new Map<string, SlabAlloc[]>();
    for (const s of l) { let x = g.get(s.cache); if (x === undefined) g.set(s.cache, (x = [])); x.push(s); }
    return g;
  };
  const r = group(real), mo = group(model);
  const lineOf = (pos: number): string => (lines[pos] === undefined ? `alloc #${pos}` : `alloc #${pos} (line ${lines[pos]})`);
  const caches: CacheTiming[] = [];
  for (const cache of new Set([...r.keys(), ...mo.keys()])) {
    const a = r.get(cache) ?? [], b = mo.get(cache) ?? [];
    const n = Math.min(a.length, b.length);
    let sameOrder = 0, sameMt = 0, samePos = 0, first = -1, why = '', at = Infinity;
    for (let k = 0; k < n; k++) {
      const x = a[k]!, y = b[k]!;
      const o = x.order === y.order, t = x.mt === y.mt, p = x.pos === y.pos;
      if (o) sameOrder++;
      if (t) sameMt++;
      if (p) samePos++;
      if (first < 0 && !(o && t && p)) {
        first = k;
        at = Math.min(x.pos, y.pos);
        why = [!o ? `order real ${x.order} model ${y.order}` : '', !t ? `mt real ${x.mt} model ${y.mt}` : '',
          !p ? `${x.pos < y.pos ? 'real first' : 'model first'}: real at ${lineOf(x.pos)}, model at ${lineOf(y.pos)}` : ''].filter((s) => s !== '').join('; ');
      }
    }
    if (first < 0 && a.length !== b.length) {
      first = n;
      const extra = a.length > b.length ? a[n]! : b[n]!;
      at = extra.pos;
      why = a.length > b.length ? `model allocates no slab #${n}; real at ${lineOf(extra.pos)}` : `real allocates no slab #${n}; model at ${lineOf(extra.pos)}`;
    }
    caches.push({ cache, real: a.length, model: b.length, sameOrder, sameMt, samePos, first, why, at });
  }
  caches.sort((x, y) => x.at - y.at || (x.cache < y.cache ? -1 : 1));
  return { real: real.length, model: model.length, caches };
}

/** The text report: totals, then one line per cache, the earliest first difference first. */
export function formatSlabTiming(name: string, t: SlabTiming): string {
  const rows = t.caches.map((c) => `  ${c.cache.padEnd(20)} real ${String(c.real).padStart(4)} model ${String(c.model).padStart(4)}`
    + `  same order ${c.sameOrder} mt ${c.sameMt} time ${c.samePos}` + (c.first >= 0 ? `  first differs: #${c.first}: ${c.why}` : '  (all agree)'));
  return `${name}: slab allocations real ${t.real}, model ${t.model}\n${rows.join('\n')}`;
}
