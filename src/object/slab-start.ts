/**
 * The object layer's start state (issue 13, DESIGN.md §11): the slabs that existed before a kernel
 * recording began. Without them the simulated SLUB starts with no slabs and takes new slab pages for
 * objects the real kernel put in partial slabs it already had: 6.1/6.12 mm/slub.c ___slab_alloc()
 * takes the cpu slab's free list, then the per-CPU partial list (c->partial), then the node partial
 * list (get_partial() → get_partial_node()), and calls new_slab() only when all are empty.
 *
 * From the recording alone: every `kmem_cache_alloc`/`kmalloc` whose pointer lies in a page that
 * `before/kpageflags` marks KPF_SLAB (the direct-map base inferred as the 1 GiB-aligned base that
 * puts the most pointers in such pages) was served by a pre-trace slab, and every `kfree`/
 * `kmem_cache_free` of an object the trace never allocated whose pointer lies in one freed an object
 * of a pre-trace slab. Each such slab is given to the object strategy, on its own pre-trace pages
 * (the page is pre-trace memory: it moves from the replay's pre-trace account to the object
 * layer's, never counted twice; when SLUB discards it empty, that is a real free of pre-trace
 * memory), and each such free is a real free of its slot (the replay's id of the freed object maps
 * to the strategy's object: ObjectStrategy.preTraceObjects, run/object-events.ts), no trace error.
 * What cannot be known, and the choice made:
 * - which slots were free at the start: a slot the trace first allocates was (free when the kernel
 *   handed it out), a slot it first frees was not (it held the freed object), every slot the trace
 *   never reaches is taken to be in use by an object the trace never shows;
 * - objects the trace never shows allocated: 6.1 and 6.12 trace no kmem_cache_alloc_bulk() (maple
 *   tree nodes come from it), so a slot may be freed again with no allocation between: only its
 *   first free is a slot free, the later ones stay trace errors (unknown frees);
 * - the slab's order and size: the model's geometry of that cache (slab-geometry.ts), the slab
 *   starting at the page's pfn aligned down to it (alloc_pages() blocks are aligned);
 * - the cache of a page: the first row's that names one (a page whose rows name two caches is
 *   refused); a kmem_cache_free names its cache, mapped to the loader's cache through the trace's
 *   own objects freed under that name; a kfree names none, and a page only kfree()d is not adopted;
 * - the caches' names (6.1 and 6.12 print no name= on allocations): one cache per bytes_alloc, as the
 *   loader's `cache-N` (trace/kernel.ts cacheFor()), so two kernel caches of one size are one here.
 * Refused: a page any recorded page event touches (the kernel freed or reused it: its recorded free
 * stays a page event), and a slab whose pages are not all pre-trace KPF_SLAB pages.
 * Left out: a kmalloc above KMALLOC_MAX_CACHE_SIZE (8 KiB): kmalloc_large() pages, no slab. A
 * kmem_cache's objects above it (task_struct, 8448 bytes: order-3 slabs of 3) are slab objects and
 * are in: session 9 left them out for a while, when adopting their slabs measured worse on every
 * recording; with vmalloc's untraced pages (trace/vmalloc-areas.ts) it is closer in the take
 * agreement of all four and in the end state of three (docs/fidelity.md).
 */
import { __GFP_DMA, __GFP_RECLAIMABLE, parseGfpLenient } from '../machine/gfp.js';
import { KP_SLAB, type PreTraceSlabObjects } from '../machine/start-state.js';
import { preTraceObjectFrees } from '../trace/attribution.js';
import { CACHE_RECLAIMABLE, OP_CACHE_ALLOC } from '../trace/ops.js';
import type { CacheDef, Trace } from '../trace/trace.js';
import { CACHE_UNKNOWN, type ObjectStrategy } from './strategy.js';

const GIB = 2 ** 30;
const PAGE = 4096;
/** kmalloc above this is kmalloc_large(): pages, not a slab */
const KMALLOC_MAX_CACHE_SIZE = 8192;

const EVENT = /(kmem_cache_alloc|kmalloc|kmem_cache_free|kfree)(?:_node)?: call_site=(\S+) ptr=([0-9a-f]+)(?: bytes_req=(\d+) bytes_alloc=(\d+) gfp_flags=(\S+))?([^\n]*)|mm_page_(alloc|free|free_batched|pcpu_drain): page=\S+ pfn=0x([0-9a-f]+) order=(\d+)(?: migratetype=(\d+))?/g;
const NAME = /\bname=(\S+)/;

/**
 * The CPU column (`comm-pid [003] flags ts:`) of the line holding text offset `at`: the last `[digits]`
 * followed by a blank between the line's start and `at` (a task name may hold brackets itself, as
 * trace/kernel.ts findTimestamp() reads it); 0 without one. Reads only that stretch of the line.
 */
function cpuColumn(text: string, at: number): number {
  const start = text.lastIndexOf('\n', at) + 1;
  // the last match of /\[(\d+)\]\s/ in [start, at) is the one that starts last (two cannot overlap)
  for (let close = text.lastIndexOf(']', at - 2); close > start; close = text.lastIndexOf(']', close - 1)) {
    if (close + 1 >= at || !isSpace(text.charCodeAt(close + 1))) continue;
    let d = close - 1;
    while (d >= start && text.charCodeAt(d) >= 48 && text.charCodeAt(d) <= 57) d--;
    if (d < close - 1 && d >= start && text.charCodeAt(d) === 91) return Number(text.slice(d + 1, close));
  }
  return 0;
}

/** Whether a character is one of /\s/ (the trace text is latin1: tab to carriage return, space, no-break space). */
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || c === 160 || (c > 255 && /\s/.test(String.fromCharCode(c)));

/**
 * The objects a recording's trace text allocates, and the pre-trace objects it frees, in pre-trace
 * slab pages of `kpage` (a kpageflags digest). Pointers are followed as the loader follows them
 * (trace/kernel.ts: an allocation makes a pointer live, a free of a live pointer ends it, a free of
 * any other is a pre-trace object's, NULL is skipped), so the n-th such free here is the loader's
 * n-th object free of an id never allocated (`unknownFrees` counts them all, in slab pages or not).
 * A free's cache: kmem_cache_free's name= (6.1 and 6.12 print it) as the trace's own objects of that
 * name show it (6.1: `cache-N` of the bytes_alloc of the objects freed with that name, when all
 * agree); a kfree's is unknown (null): its page's other rows decide.
 */
export function preTraceSlabObjects(text: string, kpage: Uint8Array): SlabStartObjects {
  const n = kpage.length;
  const touched = new Uint8Array(n);
  const ptrGib: number[] = [], inGib: number[] = [], bytes: number[] = [], gfp: number[] = [], cpu: number[] = [];
  /** per row: its cache ('' kmalloc), or for a free the kmem_cache_free name ('' for kfree); -1 or the free's sequence number */
  const cache: string[] = [], seq: number[] = [];
  /** per row of a kmem_cache_alloc: its place among them (-1 otherwise) */
  const allocOf: number[] = [];
  /** pointer → the live object there (loader order): its allocation's row of liveCache (its cache) and liveAlloc (its kmem_cache_alloc's place, -1: kmalloc) */
  const live = new Map<string, number>();
  const liveCache: string[] = [], liveAlloc: number[] = [];
  /** kmem_cache_free name → the cache of the trace's objects freed with it (null: two disagree) */
  const named = new Map<string, string | null>();
  // per kmem_cache_alloc (loader order): its call site, loader cache and pointer; the page events and
  // the allocations in trace order (page alloc: pfn * 64 + order * 4 + mt; free: -1 - (pfn * 64 + order); alloc: its place), for splitCaches()
  // (a call site by its number, in the order first seen, and each cache name one string: the lookups
  // of splitCaches() then hash a small integer or compare one string with itself, not text from the
  // trace again each time: 0.7 s of the four bundled recordings' start states)
  const site: number[] = [], allocCache: string[] = [], allocGib: number[] = [], allocIn: number[] = [];
  const siteNumber = new Map<string, number>(), cacheName = new Map<string, string>();
  const freedAs: (string | undefined)[] = [];
  const sequence: number[] = [], isPage: number[] = [];
  let frees = 0;
  for (const m of text.matchAll(EVENT)) {
    if (m[9] !== undefined) {
      const pfn = parseInt(m[9], 16), order = Number(m[10]), end = Math.min(n, pfn + (1 << order));
      touched.fill(1, Math.min(pfn, n), end);
      if (m[8] === 'alloc') { sequence.push(pfn * 64 + order * 4 + (Number(m[11] ?? 0) & 3)); isPage.push(1); }
      else if (m[8] !== 'pcpu_drain') { sequence.push(-1 - (pfn * 64 + order * 4)); isPage.push(1); }
      continue;
    }
    const p = m[3]!;
    if (/^0+$/.test(p)) continue; // NULL: a failed allocation or kfree(NULL), both skipped by the loader
    const isAlloc = m[5] !== undefined;
    const name = NAME.exec(m[7]!)?.[1];
    let c: string;
    let k = -1;
    if (isAlloc) {
      // the loader's cache: by name= (6.12), else one per bytes_alloc (6.1, cacheFor())
      c = m[1] === 'kmalloc' ? '' : name ?? `cache-${m[5]}`;
      if (m[1] !== 'kmalloc') {
        k = site.length;
        site.push(numberOf(siteNumber, m[2]!)); allocCache.push(oneString(cacheName, c)); freedAs.push(undefined);
        const hi = parseInt(p.slice(0, -8) || '0', 16), lo = parseInt(p.slice(-8), 16);
        allocGib.push(p.length > 16 ? NaN : hi * 4 + Math.floor(lo / GIB)); allocIn.push(lo % GIB);
        sequence.push(k); isPage.push(0);
      }
      live.set(p, liveCache.length);
      liveCache.push(c); liveAlloc.push(k);
      if (c === '' && Number(m[5]) > KMALLOC_MAX_CACHE_SIZE) continue; // kmalloc_large(): pages, no slab
    } else {
      const j = live.get(p);
      if (j !== undefined) {
        live.delete(p);
        const was = liveCache[j]!, a = liveAlloc[j]!;
        if (name !== undefined && a >= 0) freedAs[a] = name;
        if (name !== undefined && was !== '') named.set(name, named.has(name) && named.get(name) !== was ? null : was);
        continue;
      }
      c = m[1] === 'kfree' ? '' : name ?? '';
    }
    if (p.length > 16) continue;
    const hi = parseInt(p.slice(0, -8) || '0', 16), lo = parseInt(p.slice(-8), 16);
    ptrGib.push(hi * 4 + Math.floor(lo / GIB)); inGib.push(lo % GIB);
    cache.push(c);
    allocOf.push(k);
    seq.push(isAlloc ? -1 : frees);
    if (!isAlloc) frees++;
    bytes.push(!isAlloc ? 0 : m[1] === 'kmalloc' ? Number(m[4]) : Number(m[5]));
    // what chooses a kmalloc cache's type (kmalloc_type()): the DMA and reclaimable bits
    gfp.push(isAlloc ? parseGfpLenient(m[6]!) & (__GFP_DMA | __GFP_RECLAIMABLE) : 0);
    cpu.push(cpuColumn(text, m.index!));
  }
  // the direct-map base (randomised per boot, 1 GiB aligned): the one that puts most pointers on KPF_SLAB pages
  const span = Math.ceil((n * PAGE) / GIB);
  const votes = new Map<number, number>();
  for (let k = 0; k < ptrGib.length; k++) {
    for (let g = ptrGib[k]! - span; g <= ptrGib[k]!; g++) {
      const pfn = Math.floor(((ptrGib[k]! - g) * GIB + inGib[k]!) / PAGE);
      if (pfn < n && kpage[pfn] === KP_SLAB) votes.set(g, (votes.get(g) ?? 0) + 1);
    }
  }
  let base = 0, best = 0;
  for (const [g, v] of votes) if (v > best || (v === best && g < base)) { base = g; best = v; }
  const split = splitCaches({ site, cache: allocCache, freedAs, gib: allocGib, inGib: allocIn, sequence, isPage }, best > 0 ? base : undefined, n);
  const out = { cache: [] as (string | null)[], bytes: [] as number[], gfp: [] as number[], pfn: [] as number[], off: [] as number[], cpu: [] as number[], free: [] as number[] };
  for (let k = 0; best > 0 && k < ptrGib.length; k++) {
    const byte = (ptrGib[k]! - base) * GIB + inGib[k]!;
    const pfn = Math.floor(byte / PAGE);
    if (pfn < 0 || pfn >= n || kpage[pfn] !== KP_SLAB || touched[pfn] === 1) continue;
    // a free's cache: its name's as the trace's own objects show it (a split cache's own name); kfree or an unknown name: null
    const c = seq[k]! < 0 ? (allocOf[k]! >= 0 ? split.alloc[allocOf[k]!] ?? cache[k]! : cache[k]!)
      : cache[k] === '' ? null : split.defs.some((d) => d.name === cache[k]) ? cache[k]! : named.get(cache[k]!) ?? null;
    out.cache.push(c); out.bytes.push(bytes[k]!); out.gfp.push(gfp[k]!); out.pfn.push(pfn); out.off.push(byte - pfn * PAGE); out.cpu.push(cpu[k]!);
    out.free.push(seq[k]!);
  }
  const excluded: number[] = [];
  for (let p = 0; p < n; p++) if (touched[p] === 1 && kpage[p] === KP_SLAB) excluded.push(p);
  return {
    cache: out.cache, bytes: Int32Array.from(out.bytes), gfp: Int32Array.from(out.gfp), pfn: Int32Array.from(out.pfn),
    off: Int32Array.from(out.off), cpu: Int32Array.from(out.cpu), seq: Int32Array.from(out.free), unknownFrees: frees,
    excluded: Int32Array.from(excluded),
    ...(split.defs.length > 0 ? { split } : {}),
  };
}

/**
 * Kernel caches of one size told apart (6.1 prints no cache name on kmem_cache_alloc, so the loader
 * makes one `cache-<bytes_alloc>` of e.g. dentry and cred_jar, trace/kernel.ts cacheFor()). The
 * kernel never merges them: 6.1 mm/slab_common.c find_mergeable() refuses a cache whose
 * SLAB_MERGE_SAME flags (SLAB_RECLAIM_ACCOUNT among them) differ, and slab_unmergeable() every
 * cache with a constructor; so dentry (SLAB_RECLAIM_ACCOUNT) has its own slabs, Reclaimable pages,
 * allocated when dentry, not cred_jar, runs out. Each call site allocates from one cache (a
 * kmem_cache_alloc(cachep) of a static cache), and kmem_cache_free prints the cache's name: a call
 * site's cache is the name most of its objects are freed under; a site never seen freed, the cache
 * whose objects share its slab pages; the sites left are one more cache (the loader's). A loader
 * cache that holds two or more caches so is split, each allocation to its call site's cache, named
 * as the kernel names it (the sites left stay in the loader's cache). A split cache is
 * reclaimable (SLAB_RECLAIM_ACCOUNT: allocate_slab() ORs __GFP_RECLAIMABLE) when most of its
 * allocations that land in a slab page the trace allocated land in a Reclaimable one.
 */
function splitCaches(
  a: { site: number[]; cache: string[]; freedAs: (string | undefined)[]; gib: number[]; inGib: number[]; sequence: number[]; isPage: number[] },
  base: number | undefined, n: number,
): CacheSplit {
  const bySite = new Map<number, Map<string, number>>();
  for (let k = 0; k < a.site.length; k++) {
    const f = a.freedAs[k];
    if (f === undefined) continue;
    vote(bySite, a.site[k]!, f, 1);
  }
  const siteCache = new Map<number, string>();
  for (const [s, v] of bySite) siteCache.set(s, mostVoted(v));
  // the loader caches whose allocations name two or more kernel caches
  const names = new Map<string, Set<string>>();
  for (let k = 0; k < a.site.length; k++) {
    const kc = siteCache.get(a.site[k]!);
    if (kc === undefined || !a.cache[k]!.startsWith('cache-')) continue;
    let x = names.get(a.cache[k]!);
    if (x === undefined) names.set(a.cache[k]!, (x = new Set()));
    x.add(kc);
  }
  // a call site never seen freed, in a cache that splits: the cache whose objects share its slab
  // pages (a slab page belongs to one cache), when the direct map's base is known
  if (base !== undefined) {
    const pageOf = (k: number): number => (Number.isNaN(a.gib[k]!) ? -1 : Math.floor(((a.gib[k]! - base) * GIB + a.inGib[k]!) / PAGE));
    const onPage = new Map<number, Map<string, number>>();
    for (let k = 0; k < a.site.length; k++) {
      const kc = siteCache.get(a.site[k]!);
      if (kc === undefined || !names.has(a.cache[k]!)) continue;
      vote(onPage, pageOf(k), kc, 1);
    }
    const siteVotes = new Map<number, Map<string, number>>();
    for (let k = 0; k < a.site.length; k++) {
      if (siteCache.has(a.site[k]!) || !names.has(a.cache[k]!)) continue;
      const v = onPage.get(pageOf(k));
      if (v === undefined) continue;
      for (const [kc, c] of v) vote(siteVotes, a.site[k]!, kc, c);
    }
    for (const [s, v] of siteVotes) siteCache.set(s, mostVoted(v));
  }
  // the sites still without a cache are one more cache (the loader's, kept): vmap_area's objects,
  // never freed in the trace, beside anon_vma_chain's in cache-64 (6.1: SLAB_ACCOUNT differs)
  const kinds = new Map<string, number>();
  for (const [c, x] of names) kinds.set(c, x.size);
  const rest = new Set<string>();
  for (let k = 0; k < a.site.length; k++) if (names.has(a.cache[k]!) && !siteCache.has(a.site[k]!)) rest.add(a.cache[k]!);
  for (const c of rest) kinds.set(c, kinds.get(c)! + 1);
  const alloc: (string | null)[] = new Array<string | null>(a.site.length).fill(null);
  const defs = new Map<string, { name: string; from: string; size: number; votes: number }>();
  for (let k = 0; k < a.site.length; k++) {
    const kc = siteCache.get(a.site[k]!), from = a.cache[k]!;
    if (kc === undefined || (kinds.get(from) ?? 0) < 2) continue;
    alloc[k] = kc;
    if (!defs.has(kc)) defs.set(kc, { name: kc, from, size: Number(from.slice(6)), votes: 0 });
  }
  // reclaimable: the migratetype of the recorded slab page each allocation lands in
  if (base !== undefined && defs.size > 0) {
    const mt = new Int8Array(n).fill(-1);
    for (let j = 0; j < a.sequence.length; j++) {
      const v = a.sequence[j]!;
      if (a.isPage[j] === 1) {
        const x = v >= 0 ? v : -1 - v, pfn = Math.floor(x / 64), order = Math.floor((x % 64) / 4);
        if (pfn < n) mt.fill(v >= 0 ? x & 3 : -1, pfn, Math.min(n, pfn + (1 << order)));
        continue;
      }
      const kc = alloc[v];
      if (kc === null || kc === undefined || Number.isNaN(a.gib[v]!)) continue;
      const pfn = Math.floor(((a.gib[v]! - base) * GIB + a.inGib[v]!) / PAGE);
      const t = pfn >= 0 && pfn < n ? mt[pfn]! : -1;
      if (t >= 0) defs.get(kc)!.votes += t === 2 ? 1 : -1;
    }
  }
  return { alloc, defs: [...defs.values()].map(({ name, from, size, votes }) => ({ name, from, size, reclaimable: votes > 0 })) };
}

/** The number of `key` in `numbers`, numbered in the order first seen. */
function numberOf(numbers: Map<string, number>, key: string): number {
  let k = numbers.get(key);
  if (k === undefined) numbers.set(key, (k = numbers.size));
  return k;
}

/** `s` as the first string equal to it that `strings` was given. */
function oneString(strings: Map<string, string>, s: string): string {
  const first = strings.get(s);
  if (first !== undefined) return first;
  strings.set(s, s);
  return s;
}

/** Adds `n` votes for `name` under `key`. */
function vote<K>(votes: Map<K, Map<string, number>>, key: K, name: string, n: number): void {
  let v = votes.get(key);
  if (v === undefined) votes.set(key, (v = new Map()));
  v.set(name, (v.get(name) ?? 0) + n);
}

/** The name with the most votes (ties: the first by name). */
function mostVoted(v: Map<string, number>): string {
  let name = '', most = 0;
  for (const [x, c] of v) if (c > most || (c === most && x < name)) { name = x; most = c; }
  return name;
}

/** The split of the loader's caches (splitCaches()): per kmem_cache_alloc in trace order its kernel cache or null, and the new caches. */
export interface CacheSplit {
  alloc: (string | null)[];
  defs: { name: string; from: string; size: number; reclaimable: boolean }[];
}

/** PreTraceSlabObjects with the cache split the object layer applies (startObjectLayer()). */
export type SlabStartObjects = PreTraceSlabObjects & { split?: CacheSplit };

/**
 * Gives `objects` the pre-trace slabs of `s` (kpage: the same digest) before the replay of `trace`
 * (its cache definitions: a named cache by its index). A pre-trace free in an adopted slab becomes a
 * real free of its slot: its trace id is the loader's object free of an id never allocated with the
 * same place in trace order (trace/attribution.ts preTraceObjectFrees()), taken only when the two
 * orders agree in length and, where the trace has a cpu column, in every free's CPU. Returns the
 * pages and slabs adopted and the pre-trace objects whose frees the replay will make (0 for a
 * strategy without a slab start).
 */
export function startObjectLayer(objects: ObjectStrategy, s: SlabStartObjects, kpage: Uint8Array, trace: Trace): { pages: number; slabs: number; frees: number } {
  if (objects.startSlabs === undefined) return { pages: 0, slabs: 0, frees: 0 };
  let caches: readonly CacheDef[] = trace.caches;
  // the split caches (splitCaches()) after the trace's own; each kmem_cache_alloc to its kernel cache,
  // when the trace's allocations are the text's (same count) and the strategy can follow it
  const split = s.split, remapping = objects as ObjectStrategy & { remapCacheAllocs?: (remap: Int32Array) => void };
  let splitOn = false;
  if (split !== undefined && remapping.remapCacheAllocs !== undefined) {
    let allocs = 0;
    for (let e = 0; e < trace.length; e++) if (trace.op[e] === OP_CACHE_ALLOC) allocs++;
    if (allocs === split.alloc.length) {
      splitOn = true;
      caches = [...caches, ...split.defs.map((d) => ({ name: d.name, size: d.size, align: 0, flags: d.reclaimable ? CACHE_RECLAIMABLE : 0 }))];
      for (let i = trace.caches.length; i < caches.length; i++) objects.createCache(i, caches[i]!);
      const at = new Map(caches.map((c, i) => [c.name, i]));
      remapping.remapCacheAllocs(Int32Array.from(split.alloc, (c) => (c === null ? -1 : at.get(c)!)));
    }
  }
  const byName = new Map(caches.map((c, i) => [c.name, i]));
  // without the split, a split cache's rows are its loader cache's
  const fromOf = new Map((splitOn ? [] : split?.defs ?? []).map((d) => [d.name, d.from]));
  const index = Int32Array.from(s.cache, (c) => (c === null ? CACHE_UNKNOWN : c === '' ? -1 : byName.get(fromOf.get(c) ?? c) ?? -2));
  const excluded = new Set(s.excluded);
  const slabPage = (pfn: number): boolean => pfn < kpage.length && kpage[pfn] === KP_SLAB && !excluded.has(pfn);
  const f = preTraceObjectFrees(trace);
  let agree = f.ids.length === s.unknownFrees;
  for (let k = 0; agree && k < s.seq.length; k++) {
    const q = s.seq[k]!;
    if (q >= 0 && f.cpus[q]! >= 0 && f.cpus[q] !== s.cpu[k]) agree = false;
  }
  const id = Int32Array.from(s.seq, (q) => (q < 0 ? -1 : agree ? f.ids[q]! : -2));
  const r = objects.startSlabs({ index, bytes: s.bytes, gfp: s.gfp, pfn: s.pfn, off: s.off, cpu: s.cpu, id }, caches, slabPage);
  return { pages: r.pages, slabs: r.slabs, frees: objects.preTraceObjects?.ids.length ?? 0 };
}
