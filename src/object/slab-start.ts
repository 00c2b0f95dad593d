/**
 * The object layer's start state (issue 13, DESIGN.md §11): the slabs that existed before a kernel
 * recording began. Without them the simulated SLUB starts with no slabs and takes new slab pages for
 * objects the real kernel put in partial slabs it already had: 6.1/6.12 mm/slub.c ___slab_alloc()
 * takes the cpu slab's free list, then the per-CPU partial list (c->partial), then the node partial
 * list (get_partial() → get_partial_node()), and calls new_slab() only when all are empty.
 *
 * From the recording alone: every `kmem_cache_alloc`/`kmalloc` whose pointer lies in a page that
 * `before/kpageflags` marks KPF_SLAB (the direct-map base inferred as the 1 GiB-aligned base that
 * puts the most pointers in such pages) was served by a pre-trace slab. Each such slab is given to
 * the object strategy as a partial slab of that object's cache, on its own pre-trace pages (the
 * page is pre-trace memory: it moves from the replay's pre-trace account to the object layer's,
 * never counted twice; when SLUB discards it empty, that is a real free of pre-trace memory).
 * What cannot be known, and the choice made:
 * - which slots were free at the start: the slots the trace allocates there are (each was free
 *   when the kernel handed it out; a slot the trace frees first and allocates again is counted free,
 *   an overestimate), every other slot is in use by an object the trace never shows;
 * - the slab's order and size: the model's geometry of that cache (slab-geometry.ts), the slab
 *   starting at the page's pfn aligned down to it (alloc_pages() blocks are aligned);
 * - the cache of a page: the first object's (a page whose objects name two caches is refused);
 * - the caches' names (6.1 and 6.12 print no name=): one cache per bytes_alloc, as the loader's
 *   `cache-N` (trace/kernel.ts cacheFor()).
 * Refused: a page any recorded page event touches (the kernel freed or reused it: its recorded free
 * stays a page event), and a slab whose pages are not all pre-trace KPF_SLAB pages.
 */
import { __GFP_DMA, __GFP_RECLAIMABLE, parseGfpLenient } from '../machine/gfp.js';
import { KP_SLAB, type PreTraceSlabObjects } from '../machine/start-state.js';
import type { CacheDef } from '../trace/trace.js';
import type { ObjectStrategy } from './strategy.js';

const GIB = 2 ** 30;
const PAGE = 4096;
/** kmalloc above this is kmalloc_large(): pages, not a slab */
const KMALLOC_MAX_CACHE_SIZE = 8192;

const EVENT = /(kmem_cache_alloc|kmalloc)(?:_node)?: call_site=\S+ ptr=([0-9a-f]{16}) bytes_req=(\d+) bytes_alloc=(\d+) gfp_flags=(\S+)|mm_page_(?:alloc|free|free_batched|pcpu_drain): page=\S+ pfn=0x([0-9a-f]+) order=(\d+)/g;

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

/** The objects a recording's trace text allocates in pre-trace slab pages of `kpage` (a kpageflags digest). */
export function preTraceSlabObjects(text: string, kpage: Uint8Array): PreTraceSlabObjects {
  const n = kpage.length;
  const touched = new Uint8Array(n);
  const ptrGib: number[] = [], inGib: number[] = [], cache: string[] = [], bytes: number[] = [], gfp: number[] = [], cpu: number[] = [];
  for (const m of text.matchAll(EVENT)) {
    if (m[6] !== undefined) {
      const pfn = parseInt(m[6], 16), end = Math.min(n, pfn + (1 << Number(m[7])));
      touched.fill(1, Math.min(pfn, n), end);
      continue;
    }
    const alloc = Number(m[4]);
    if (alloc > KMALLOC_MAX_CACHE_SIZE) continue;
    const hi = parseInt(m[2]!.slice(0, 8), 16), lo = parseInt(m[2]!.slice(8), 16);
    ptrGib.push(hi * 4 + Math.floor(lo / GIB)); inGib.push(lo % GIB);
    const flags = m[5]!;
    cache.push(m[1] === 'kmalloc' ? '' : `cache-${alloc}`);
    bytes.push(m[1] === 'kmalloc' ? Number(m[3]) : alloc);
    // what chooses a kmalloc cache's type (kmalloc_type()): the DMA and reclaimable bits
    gfp.push(parseGfpLenient(flags) & (__GFP_DMA | __GFP_RECLAIMABLE));
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
  const out = { cache: [] as string[], bytes: [] as number[], gfp: [] as number[], pfn: [] as number[], off: [] as number[], cpu: [] as number[] };
  for (let k = 0; best > 0 && k < ptrGib.length; k++) {
    const byte = (ptrGib[k]! - base) * GIB + inGib[k]!;
    const pfn = Math.floor(byte / PAGE);
    if (pfn < 0 || pfn >= n || kpage[pfn] !== KP_SLAB || touched[pfn] === 1) continue;
    out.cache.push(cache[k]!); out.bytes.push(bytes[k]!); out.gfp.push(gfp[k]!); out.pfn.push(pfn); out.off.push(byte - pfn * PAGE); out.cpu.push(cpu[k]!);
  }
  const excluded: number[] = [];
  for (let p = 0; p < n; p++) if (touched[p] === 1 && kpage[p] === KP_SLAB) excluded.push(p);
  return {
    cache: out.cache, bytes: Int32Array.from(out.bytes), gfp: Int32Array.from(out.gfp), pfn: Int32Array.from(out.pfn),
    off: Int32Array.from(out.off), cpu: Int32Array.from(out.cpu), excluded: Int32Array.from(excluded),
  };
}

/**
 * Gives `objects` the pre-trace slabs of `s` (kpage: the same digest) before the replay; `caches`:
 * the trace's cache definitions (a named cache by its index). Returns the pages adopted (0 for a
 * strategy without a slab start).
 */
export function startObjectLayer(objects: ObjectStrategy, s: PreTraceSlabObjects, kpage: Uint8Array, caches: readonly CacheDef[]): { pages: number; slabs: number } {
  if (objects.startSlabs === undefined) return { pages: 0, slabs: 0 };
  const byName = new Map(caches.map((c, i) => [c.name, i]));
  const index = Int32Array.from(s.cache, (c) => (c === '' ? -1 : byName.get(c) ?? -2));
  const excluded = new Set(s.excluded);
  const slabPage = (pfn: number): boolean => pfn < kpage.length && kpage[pfn] === KP_SLAB && !excluded.has(pfn);
  return objects.startSlabs({ index, bytes: s.bytes, gfp: s.gfp, pfn: s.pfn, off: s.off, cpu: s.cpu }, caches, slabPage);
}
