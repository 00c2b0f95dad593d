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
import type { Trace } from '../trace/trace.js';
import { CACHE_UNKNOWN, type ObjectStrategy } from './strategy.js';

const GIB = 2 ** 30;
const PAGE = 4096;
/** kmalloc above this is kmalloc_large(): pages, not a slab */
const KMALLOC_MAX_CACHE_SIZE = 8192;

const EVENT = /(kmem_cache_alloc|kmalloc|kmem_cache_free|kfree)(?:_node)?: call_site=\S+ ptr=([0-9a-f]+)(?: bytes_req=(\d+) bytes_alloc=(\d+) gfp_flags=(\S+))?([^\n]*)|mm_page_(?:alloc|free|free_batched|pcpu_drain): page=\S+ pfn=0x([0-9a-f]+) order=(\d+)/g;
const NAME = /\bname=(\S+)/;

/**
 * The CPU column (`comm-pid [003] flags ts:`) of the line holding text offset `at`: the last `[digits]`
 * followed by a blank between the line's start and `at` (a task name may hold brackets itself, as
 * trace/kernel.ts findTimestamp() reads it); 0 without one. Reads only that stretch of the line.
 */
function cpuColumn(text: string, at: number): number {
  const head = text.slice(text.lastIndexOf('\n', at) + 1, at);
  let cpu = 0;
  for (const m of head.matchAll(/\[(\d+)\]\s/g)) cpu = Number(m[1]);
  return cpu;
}

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
export function preTraceSlabObjects(text: string, kpage: Uint8Array): PreTraceSlabObjects {
  const n = kpage.length;
  const touched = new Uint8Array(n);
  const ptrGib: number[] = [], inGib: number[] = [], bytes: number[] = [], gfp: number[] = [], cpu: number[] = [];
  /** per row: its cache ('' kmalloc), or for a free the kmem_cache_free name ('' for kfree); -1 or the free's sequence number */
  const cache: string[] = [], seq: number[] = [];
  /** pointer → the cache of the live object there (loader order) */
  const live = new Map<string, string>();
  /** kmem_cache_free name → the cache of the trace's objects freed with it (null: two disagree) */
  const named = new Map<string, string | null>();
  let frees = 0;
  for (const m of text.matchAll(EVENT)) {
    if (m[7] !== undefined) {
      const pfn = parseInt(m[7], 16), end = Math.min(n, pfn + (1 << Number(m[8])));
      touched.fill(1, Math.min(pfn, n), end);
      continue;
    }
    const p = m[2]!;
    if (/^0+$/.test(p)) continue; // NULL: a failed allocation or kfree(NULL), both skipped by the loader
    const isAlloc = m[4] !== undefined;
    const name = NAME.exec(m[6]!)?.[1];
    let c: string;
    if (isAlloc) {
      // the loader's cache: by name= (6.12), else one per bytes_alloc (6.1, cacheFor())
      c = m[1] === 'kmalloc' ? '' : name ?? `cache-${m[4]}`;
      live.set(p, c);
      if (c === '' && Number(m[4]) > KMALLOC_MAX_CACHE_SIZE) continue; // kmalloc_large(): pages, no slab
    } else {
      const was = live.get(p);
      if (was !== undefined) {
        live.delete(p);
        if (name !== undefined && was !== '') named.set(name, named.has(name) && named.get(name) !== was ? null : was);
        continue;
      }
      c = m[1] === 'kfree' ? '' : name ?? '';
    }
    if (p.length > 16) continue;
    const hi = parseInt(p.slice(0, -8) || '0', 16), lo = parseInt(p.slice(-8), 16);
    ptrGib.push(hi * 4 + Math.floor(lo / GIB)); inGib.push(lo % GIB);
    cache.push(c);
    seq.push(isAlloc ? -1 : frees);
    if (!isAlloc) frees++;
    bytes.push(!isAlloc ? 0 : m[1] === 'kmalloc' ? Number(m[3]) : Number(m[4]));
    // what chooses a kmalloc cache's type (kmalloc_type()): the DMA and reclaimable bits
    gfp.push(isAlloc ? parseGfpLenient(m[5]!) & (__GFP_DMA | __GFP_RECLAIMABLE) : 0);
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
  const out = { cache: [] as (string | null)[], bytes: [] as number[], gfp: [] as number[], pfn: [] as number[], off: [] as number[], cpu: [] as number[], free: [] as number[] };
  for (let k = 0; best > 0 && k < ptrGib.length; k++) {
    const byte = (ptrGib[k]! - base) * GIB + inGib[k]!;
    const pfn = Math.floor(byte / PAGE);
    if (pfn < 0 || pfn >= n || kpage[pfn] !== KP_SLAB || touched[pfn] === 1) continue;
    // a free's cache: its name's as the trace's own objects show it; kfree or an unknown name: null
    const c = seq[k]! < 0 ? cache[k]! : cache[k] === '' ? null : named.get(cache[k]!) ?? null;
    out.cache.push(c); out.bytes.push(bytes[k]!); out.gfp.push(gfp[k]!); out.pfn.push(pfn); out.off.push(byte - pfn * PAGE); out.cpu.push(cpu[k]!);
    out.free.push(seq[k]!);
  }
  const excluded: number[] = [];
  for (let p = 0; p < n; p++) if (touched[p] === 1 && kpage[p] === KP_SLAB) excluded.push(p);
  return {
    cache: out.cache, bytes: Int32Array.from(out.bytes), gfp: Int32Array.from(out.gfp), pfn: Int32Array.from(out.pfn),
    off: Int32Array.from(out.off), cpu: Int32Array.from(out.cpu), seq: Int32Array.from(out.free), unknownFrees: frees,
    excluded: Int32Array.from(excluded),
  };
}

/**
 * Gives `objects` the pre-trace slabs of `s` (kpage: the same digest) before the replay of `trace`
 * (its cache definitions: a named cache by its index). A pre-trace free in an adopted slab becomes a
 * real free of its slot: its trace id is the loader's object free of an id never allocated with the
 * same place in trace order (trace/attribution.ts preTraceObjectFrees()), taken only when the two
 * orders agree in length and, where the trace has a cpu column, in every free's CPU. Returns the
 * pages and slabs adopted and the pre-trace objects whose frees the replay will make (0 for a
 * strategy without a slab start).
 */
export function startObjectLayer(objects: ObjectStrategy, s: PreTraceSlabObjects, kpage: Uint8Array, trace: Trace): { pages: number; slabs: number; frees: number } {
  if (objects.startSlabs === undefined) return { pages: 0, slabs: 0, frees: 0 };
  const caches = trace.caches;
  const byName = new Map(caches.map((c, i) => [c.name, i]));
  const index = Int32Array.from(s.cache, (c) => (c === null ? CACHE_UNKNOWN : c === '' ? -1 : byName.get(c) ?? -2));
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
