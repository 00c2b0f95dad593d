/**
 * Attribution of a kernel recording's page allocations (issue 13 item 1, DESIGN.md §11): which
 * recorded `mm_page_alloc` served a user fault, which backs slab objects, which is something else
 * (page cache, page tables, pipe buffers...), decided from the recording alone, and the layer views
 * built from it so that every memory demand is replayed once.
 *
 * Rules (Linux 6.1; the same on 6.12):
 * - fault page: a `page_fault_user` of task T, then the next `mm_page_alloc` of T that is order 0
 *   with every GFP_HIGHUSER_MOVABLE bit (do_anonymous_page / do_cow_fault / shmem_fault allocate
 *   that way, `__GFP_COMP`/`__GFP_ZERO` added). A page-table page allocated on the way
 *   (GFP_PGTABLE_USER) does not match and stays "other". A fault with no such allocation before T's
 *   next fault (a minor fault) matches nothing.
 * - slab page: a page block that holds the pointer of a `kmem_cache_alloc`/`kmalloc` made while the
 *   block was live (allocate_slab() → alloc_pages(); kmalloc_large() hands out the page itself).
 *   A pointer p lies in pfn (p - page_offset_base) >> 12. page_offset_base, the direct map's start, is
 *   randomised per boot (KASLR, 1 GiB aligned: kernel_randomize_memory() aligns to PUD_SIZE), so it
 *   is inferred: every page allocation followed within SLAB_WINDOW events of its task by an object
 *   allocation votes for floor((ptr - pfn * 4096) / 1 GiB) * 1 GiB when the pointer lies within the
 *   block's size above that base (an unrelated pair lands in a few KiB of a GiB by chance only), and
 *   the most voted base wins (allocate_slab() is followed at once by the allocation that needed it).
 * - everything else is "other".
 *
 * Layers (`--layers`), all replay each memory demand once:
 *   all     (default) object events through the object strategy, which makes its own slab pages, and
 *           every recorded page event except the slab pages the objects explain; faults are not
 *           replayed (the pages that served them are the recorded fault pages)
 *   pages   the recorded page events only (slab and fault pages included): the page strategies see
 *           exactly the stream the real buddy allocator served; the object strategy sees nothing
 *   objects the object events only: the object strategies alone
 *   none    every recorded event as it is (slab pages and fault pages counted twice: the old replay)
 * Frees of pages allocated before tracing began are kept in `all` and `pages` (a start state from
 * the before-snapshot makes them real frees, start-state.ts).
 */
import { GFP_HIGHUSER_MOVABLE, __GFP_RECLAIMABLE } from '../machine/gfp.js';
import {
  CACHE_RECLAIMABLE, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_FAULT, OP_KFREE, OP_KMALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE, PAGE_PIECE,
} from './ops.js';
import type { Trace } from './trace.js';

export type KernelLayers = 'all' | 'pages' | 'objects' | 'none';
export const KERNEL_LAYERS: readonly KernelLayers[] = ['all', 'pages', 'objects', 'none'];
/** the layers run, fraginfo and convert use when none is given */
export const DEFAULT_LAYERS: KernelLayers = 'all';

export const CLASS_NONE = 0;
export const CLASS_FAULT = 1;
export const CLASS_SLAB = 2;
export const CLASS_OTHER = 3;

const TWO32 = 4294967296;
const GIB = 2 ** 30;
/** events after a page allocation in which an object allocation of the same task votes for the direct-map base */
const SLAB_WINDOW = 4;

/**
 * What the loader saw besides the Trace columns: per event index, the recorded pfn of a page event
 * (pfnOk 1: the line had a pfn= field) and the pointer of an object allocation, as 32-bit halves.
 */
export class AttributionInput {
  hi: Uint32Array;
  lo: Uint32Array;
  /** event indexes of page frees by kcompactd (migration sources), ascending */
  migration: number[] = [];
  constructor(capacity: number) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
  }

  /** Event `e` (about to be pushed) is a page free made by compaction. */
  flagMigration(e: number): void {
    this.migration.push(e);
  }

  /** Records the value of event `e` (a pfn or a pointer). */
  note(e: number, hi: number, lo: number): void {
    if (e >= this.hi.length) {
      const n = Math.max(this.hi.length * 2, e + 1);
      const h = new Uint32Array(n); h.set(this.hi); this.hi = h;
      const l = new Uint32Array(n); l.set(this.lo); this.lo = l;
    }
    this.hi[e] = hi;
    this.lo[e] = lo;
  }
}

export interface Attribution {
  /** event indexes of kcompactd's page frees (AttributionInput.migration) */
  migration: number[];
  /** per id of a recorded page block: CLASS_* (CLASS_NONE for ids that are not page allocations) */
  cls: Uint8Array;
  /** the inferred direct-map base as [hi, lo] 32-bit halves, or undefined (no votes) */
  directMapBase?: [number, number];
  /** pages (sum of 2^order) and blocks per class, and how many object allocations fell in a recorded page */
  stats: Record<string, number>;
}

const isUserFaultPage = (order: number, gfp: number): boolean => order === 0 && (gfp & GFP_HIGHUSER_MOVABLE) === GFP_HIGHUSER_MOVABLE;
const isObjectAlloc = (o: number): boolean => o === OP_CACHE_ALLOC || o === OP_KMALLOC;

/** Attributes every recorded page allocation of `t` (a kernel recording loaded with `input`). */
export function attribute(t: Trace, input: AttributionInput, pfnKnown: boolean): Attribution {
  const n = t.length;
  const { op, id, lo, aux } = t;
  const tid = t.tid;
  const cls = new Uint8Array(t.idCount);
  // 1. fault pages: the next matching allocation of the faulting task
  const pending = new Set<number>();
  let maxPfn = 0;
  for (let e = 0; e < n; e++) {
    const o = op[e]!;
    const task = tid !== undefined ? tid[e]! : -1;
    if (o === OP_FAULT) pending.add(task);
    else if (o === OP_PAGE_ALLOC) {
      cls[id[e]!] = CLASS_OTHER;
      if (pending.has(task) && isUserFaultPage(lo[e]!, aux[e]!)) { cls[id[e]!] = CLASS_FAULT; pending.delete(task); }
      const pfn = input.hi[e]! * TWO32 + input.lo[e]!;
      if (pfn + (1 << lo[e]!) > maxPfn) maxPfn = pfn + (1 << lo[e]!);
    }
  }
  const stats: Record<string, number> = {};
  let base: [number, number] | undefined;
  if (pfnKnown) base = directMapBase(t, input);
  if (base !== undefined && maxPfn <= 2 ** 26) { // up to 256 GiB of pfns in one Int32Array
    // 2. slab pages: who owns each pfn while the trace runs; an object pointer marks its owner
    const owner = new Int32Array(maxPfn).fill(-1);
    // per recorded block id: its allocation asked for __GFP_RECLAIMABLE; per cache: objects found in
    // such slab pages minus those found in others
    const reclaimable = new Uint8Array(t.idCount);
    const votes = new Int32Array(t.caches.length);
    let hits = 0;
    for (let e = 0; e < n; e++) {
      const o = op[e]!;
      if (o === OP_PAGE_ALLOC || o === OP_PAGE_FREE) {
        const pfn = input.hi[e]! * TWO32 + input.lo[e]!;
        if (pfn === 0 && o === OP_PAGE_FREE) continue;
        const end = Math.min(maxPfn, pfn + (1 << (lo[e]! >= PAGE_PIECE ? lo[e]! - PAGE_PIECE : lo[e]!)));
        owner.fill(o === OP_PAGE_ALLOC ? id[e]! : -1, pfn, end);
        if (o === OP_PAGE_ALLOC) reclaimable[id[e]!] = (aux[e]! & __GFP_RECLAIMABLE) !== 0 ? 1 : 0;
      } else if (isObjectAlloc(o)) {
        const off = (input.hi[e]! - base[0]) * TWO32 + (input.lo[e]! - base[1]);
        const pfn = Math.floor(off / 4096);
        if (pfn < 0 || pfn >= maxPfn) continue;
        const b = owner[pfn]!;
        if (b >= 0) {
          hits++;
          if (cls[b] !== CLASS_NONE) cls[b] = CLASS_SLAB;
          if (o === OP_CACHE_ALLOC && aux[e]! < votes.length) votes[aux[e]!]! += reclaimable[b] === 1 ? 1 : -1;
        }
      }
    }
    stats.attributed_objects_in_recorded_pages = hits;
    // A SLAB_RECLAIM_ACCOUNT cache's slab pages are allocated with __GFP_RECLAIMABLE (6.1/6.12
    // mm/slub.c calculate_sizes(): s->allocflags |= __GFP_RECLAIMABLE; allocate_slab() ORs it in),
    // but kmem_cache_alloc's own gfp_flags never show it: the recorded slab pages holding a cache's
    // objects do. A cache is reclaimable when most of its objects found in recorded pages lie in
    // reclaimable ones.
    let inferred = 0;
    for (let c = 0; c < votes.length; c++) {
      if (votes[c]! > 0 && (t.caches[c]!.flags & CACHE_RECLAIMABLE) === 0) { t.caches[c]!.flags |= CACHE_RECLAIMABLE; inferred++; }
    }
    stats.reclaimable_caches_inferred = inferred;
    stats.direct_map_base_gib = (base[0] - 0xffff8000) * (TWO32 / GIB) + base[1] / GIB; // GiB above 0xffff800000000000
  }
  const names = ['', 'fault', 'slab', 'other'];
  for (let c = 1; c <= 3; c++) { stats[`attributed_${names[c]}_pages`] = 0; stats[`attributed_${names[c]}_blocks`] = 0; }
  for (let e = 0; e < n; e++) {
    if (op[e] !== OP_PAGE_ALLOC) continue;
    const c = names[cls[id[e]!]!]!;
    stats[`attributed_${c}_pages`]! += 1 << lo[e]!;
    stats[`attributed_${c}_blocks`]!++;
  }
  return { cls, migration: input.migration, ...(base ? { directMapBase: base } : {}), stats };
}

/** The most voted 1 GiB-aligned page_offset_base (see the header), as [hi, lo], or undefined. */
function directMapBase(t: Trace, input: AttributionInput): [number, number] | undefined {
  const votes = new Map<number, number>();
  const { op, lo } = t;
  const tid = t.tid;
  const n = t.length;
  for (let e = 0; e < n; e++) {
    if (op[e] !== OP_PAGE_ALLOC) continue;
    const task = tid !== undefined ? tid[e]! : -1;
    for (let f = e + 1; f < n && f <= e + SLAB_WINDOW; f++) {
      if (!isObjectAlloc(op[f]!) || (tid !== undefined && tid[f] !== task)) continue;
      // ptr - pfn * 4096 in GiB units, exactly: the pointer's GiB index minus the page's, rounded down
      const ptrGib = input.hi[f]! * 4 + Math.floor(input.lo[f]! / GIB);
      const pageBytes = (input.hi[e]! * TWO32 + input.lo[e]!) * 4096;
      const inGib = input.lo[f]! % GIB;
      const borrow = inGib < pageBytes % GIB ? 1 : 0;
      const g = ptrGib - Math.floor(pageBytes / GIB) - borrow;
      // a vote only when the pointer lies inside the block for that base (an unrelated pair almost never does)
      const rest = inGib - (pageBytes % GIB) + borrow * GIB;
      if (rest < (1 << lo[e]!) * 4096) votes.set(g, (votes.get(g) ?? 0) + 1);
      break;
    }
  }
  let best = -1, bestVotes = 0;
  for (const [g, v] of votes) if (v > bestVotes || (v === bestVotes && g < best)) { best = g; bestVotes = v; }
  if (bestVotes === 0) return undefined;
  return [Math.floor(best / 4), (best % 4) * GIB];
}

/** Which layer an op belongs to, for a layer view (page and object events; the rest is kept). */
function keep(layers: KernelLayers, o: number, cls: number): boolean {
  switch (o) {
    case OP_FAULT: return false;
    case OP_PAGE_ALLOC:
    case OP_PAGE_FREE: return layers === 'pages' || (layers === 'all' && cls !== CLASS_SLAB);
    case OP_KMALLOC: case OP_KFREE: case OP_CACHE_ALLOC: case OP_CACHE_FREE: case OP_CACHE_CREATE:
      return layers !== 'pages';
    default: return true;
  }
}

/**
 * The layer view of a kernel recording: the events `layers` keeps (ids unchanged), with the
 * attribution's counts and `dropped_other_layer_events` in its stats. 'none' returns `t` with the
 * counts only.
 *
 * Compaction (views with page events): kcompactd migrates a page by taking a target page straight
 * from the free lists (isolate_freepages(), no mm_page_alloc) and then freeing the source, which
 * is recorded. Each recorded kcompactd free gets a synthetic order-0 Movable allocation just
 * before it (its target: a new id), so pages in use do not fall by one per migrated page; a later
 * free of a pfn the trace saw freed and never allocated again (a target being freed, aux 0) frees
 * the oldest live synthetic target. Counted in stats.compaction_targets / compaction_target_frees.
 */
export function layerView(t: Trace, a: Attribution, layers: KernelLayers): Trace {
  const stats: Record<string, number> = { ...(t.stats ?? {}), ...a.stats, layers_mode: KERNEL_LAYERS.indexOf(layers) };
  if (layers === 'none') return { ...t, stats };
  const n = t.length;
  const withPages = layers !== 'objects';
  const migration = withPages ? a.migration : [];
  const cap = n + migration.length;
  const op = new Uint8Array(cap), id = new Int32Array(cap), lo = new Uint32Array(cap), hi = new Uint16Array(cap), aux = new Int32Array(cap);
  const cpu = t.cpu ? new Int32Array(cap) : undefined, tid = t.tid ? new Int32Array(cap) : undefined;
  const allocated = new Uint8Array(t.idCount);
  const targets: number[] = [];
  let head = 0, nextId = t.idCount, mi = 0, m = 0, targetFrees = 0;
  const copy = (e: number, newId: number): void => {
    op[m] = t.op[e]!; id[m] = newId; lo[m] = t.lo[e]!; hi[m] = t.hi[e]!; aux[m] = t.aux[e]!;
    if (cpu) cpu[m] = t.cpu![e]!;
    if (tid) tid[m] = t.tid![e]!;
    m++;
  };
  for (let e = 0; e < n; e++) {
    const o = t.op[e]!;
    if (o === OP_PAGE_ALLOC) allocated[t.id[e]!] = 1;
    if (!keep(layers, o, o === OP_PAGE_ALLOC || o === OP_PAGE_FREE ? a.cls[t.id[e]!]! : 0)) { if (migration[mi] === e) mi++; continue; }
    let newId = t.id[e]!;
    if (migration[mi] === e) {
      mi++;
      copy(e, 0); // the target's allocation, made from the free's row
      m--;
      op[m] = OP_PAGE_ALLOC; id[m] = nextId; lo[m] = 0; hi[m] = 0; aux[m] = GFP_HIGHUSER_MOVABLE;
      m++;
      targets.push(nextId++);
    } else if (o === OP_PAGE_FREE && allocated[newId] === 0 && t.aux[e] === 0 && head < targets.length) {
      newId = targets[head++]!;
      targetFrees++;
    }
    copy(e, newId);
  }
  stats.dropped_other_layer_events = n - (m - targets.length);
  if (withPages) { stats.compaction_targets = targets.length; stats.compaction_target_frees = targetFrees; }
  const cut = <T extends Uint8Array | Int32Array | Uint32Array | Uint16Array>(c: T): T => c.slice(0, m) as T;
  return {
    ...t,
    length: m,
    idCount: nextId,
    op: cut(op), id: cut(id), lo: cut(lo), hi: cut(hi), aux: cut(aux),
    ...(cpu ? { cpu: cut(cpu) } : {}),
    ...(tid ? { tid: cut(tid) } : {}),
    stats,
  };
}

/** The layers name of a loaded trace's stats (undefined when the loader applied none). */
export function layersOf(t: Pick<Trace, 'stats'>): KernelLayers | undefined {
  const i = t.stats?.layers_mode;
  return i === undefined ? undefined : KERNEL_LAYERS[i];
}

/**
 * A cell's `metrics.attribution`: the layer view replayed and the recorded pages attributed to each
 * class (fault, slab, other), with how many of them the replay takes from the recording's page
 * events (the rest come from the object strategy or are not replayed). Undefined for a trace that
 * was not loaded as a layer view.
 */
export function attributionMetrics(t: Pick<Trace, 'stats'>): Record<string, number | string> | undefined {
  const layers = layersOf(t);
  if (layers === undefined) return undefined;
  const s = t.stats!;
  const fault = s.attributed_fault_pages ?? 0, slab = s.attributed_slab_pages ?? 0, other = s.attributed_other_pages ?? 0;
  const replayed = layers === 'objects' ? 0 : layers === 'all' ? fault + other : fault + slab + other;
  return { layers, fault_pages: fault, slab_pages: slab, other_pages: other, recorded_pages_replayed: replayed };
}

/**
 * The blocks a trace frees without having allocated them (allocated before tracing began), with the
 * pfn the loader put in aux (kernel.ts): pre-trace memory for a start state (machine/start-state.ts).
 * A negative pfn is a block possibly on a per-CPU list at the start (kernel.ts pcpStartFree); `cpus`
 * the CPU of each free's event (-1 without a cpu column): the list that block was on.
 */
export function preTraceFrees(t: Trace): { ids: Int32Array; pfns: Int32Array; orders: Uint8Array; cpus: Int32Array } {
  const seen = new Uint8Array(t.idCount);
  const ids: number[] = [], pfns: number[] = [], orders: number[] = [], cpus: number[] = [];
  for (let e = 0; e < t.length; e++) {
    const o = t.op[e]!, id = t.id[e]!;
    if (o === OP_PAGE_FREE && seen[id] === 0 && t.aux[e]! !== 0 && t.lo[e]! <= 10) {
      ids.push(id); pfns.push(t.aux[e]!); orders.push(t.lo[e]!); cpus.push(t.cpu?.[e] ?? -1);
    }
    seen[id] = 1;
  }
  return { ids: Int32Array.from(ids), pfns: Int32Array.from(pfns), orders: Uint8Array.from(orders), cpus: Int32Array.from(cpus) };
}

/**
 * The object frees (kfree, kmem_cache_free) of ids the trace never allocated (objects allocated
 * before tracing began), in trace order, with each event's CPU (-1 without a cpu column): matched
 * in order to a recording's pre-trace frees found in its text (object/slab-start.ts).
 */
export function preTraceObjectFrees(t: Trace): { ids: Int32Array; cpus: Int32Array } {
  const seen = new Uint8Array(t.idCount);
  const ids: number[] = [], cpus: number[] = [];
  for (let e = 0; e < t.length; e++) {
    const o = t.op[e]!, id = t.id[e]!;
    // only object events name objects (a cache creation's id is its cache index, a tick's 0)
    if (o === OP_KFREE || o === OP_CACHE_FREE) {
      if (seen[id] === 0) { ids.push(id); cpus.push(t.cpu?.[e] ?? -1); }
    } else if (!isObjectAlloc(o)) continue;
    seen[id] = 1;
  }
  return { ids: Int32Array.from(ids), cpus: Int32Array.from(cpus) };
}
