import { keptArray } from '../machine/kept-arrays.js';
import { InvariantError } from '../errors.js';
import * as stepsModule from '../machine/steps.js';
import type { Steps } from '../machine/steps.js';
import type { CacheDef } from '../trace/trace.js';
import * as heapMemory from './heap-memory.js';
import { PageBackedHeapMemory, type HeapMemory } from './heap-memory.js';
import type { CacheStat, ObjectStrategy, ObjectStrategyFactory, ObjectStrategyOptions, ObjectUsage } from './strategy.js';

// Imported bindings as constants of this module (see page/buddy.ts: no module-cell load and
// temporal-dead-zone check per use in optimized code).
const { STEP_CALL, STEP_LIST, STEP_MERGE, STEP_SPLIT, tick } = stepsModule;
const { HEAP_PAGE } = heapMemory;

/*
 * A user heap after Doug Lea's malloc 2.8.6 (malloc.c), 64-bit, MALLOC_ALIGNMENT 16, no FOOTERS:
 * boundary-tagged chunks (head = size | PINUSE | CINUSE, prev_foot = size of a free previous
 * chunk), 32 exact-size smallbins with the smallmap, 32 treebins of bitwise tries with the
 * treemap, the designated victim (dv), a top chunk grown by MORECORE (sbrk) and trimmed, and
 * directly mmapped chunks. The code follows malloc.c's macros (insert_large_chunk,
 * unlink_large_chunk, tmalloc_small/large, sys_alloc, sys_trim, dispose_chunk, try_realloc_chunk)
 * step for step, so bin choice and split/coalesce behaviour match the real allocator.
 *
 * Chunk metadata lives in typed arrays indexed by the 16-byte granule of the chunk's start within
 * the brk heap (granule g = chunk address - heap base, / 16): csz (size / 16), flg (PINUSE, CINUSE),
 * pft (prev_foot / 16), fd/bk, and the tree fields child[0], child[1], parent, index. A chunk at
 * granule g has its user address base + 16g + 16 (chunk2mem). About 30 bytes of metadata per
 * granule, grown with the heap; the heap is limited to 2^31 granules (32 GiB).
 *
 * Simplifications, each documented where it applies: one contiguous brk segment (when sbrk fails
 * dlmalloc would try an mmapped non-contiguous segment; here the request fails with -1, which
 * happens only when the page source is out of memory anyway); no mremap for mmapped chunks
 * (HAVE_MREMAP off: a resize that cannot stay in place moves); no footprint limit; no
 * release_unused_segments (there is one segment).
 */

const PINUSE = 1;
const CINUSE = 2;
const INUSE_BITS = PINUSE | CINUSE;

const CHUNK_OVERHEAD = 8; //          in-use chunk overhead: the head word (no FOOTERS)
const MMAP_CHUNK_OVERHEAD = 16;
const CHUNK_ALIGN_MASK = 15; //       MALLOC_ALIGNMENT 16
const MIN_CHUNK_SIZE = 32; //         sizeof(struct malloc_chunk) rounded to the alignment
const MIN_REQUEST = MIN_CHUNK_SIZE - CHUNK_OVERHEAD - 1; // 23
const SMALLBIN_SHIFT = 3;
const TREEBIN_SHIFT = 8;
const NSMALLBINS = 32;
const NTREEBINS = 32;
const MIN_LARGE_SIZE = 1 << TREEBIN_SHIFT; // 256
const MAX_SMALL_SIZE = MIN_LARGE_SIZE - 1;
const MAX_SMALL_REQUEST = MAX_SMALL_SIZE - CHUNK_ALIGN_MASK - CHUNK_OVERHEAD; // 232
/** sizeof(malloc_segment) = 32, pad_request()ed to 48, plus a MIN_CHUNK_SIZE fencepost */
const TOP_FOOT_SIZE = 48 + MIN_CHUNK_SIZE; // 80
const SYS_ALLOC_PADDING = TOP_FOOT_SIZE + 16;
/** Largest brk heap the model holds (2^26 granules of 16 bytes: ~2 GB of boundary-tag arrays). */
const MAX_BRK_HEAP = 2 ** 30;
const MMAP_FOOT_PAD = 32; //          FOUR_SIZE_T_SIZES
const SIX_SIZE_T_SIZES = 48;
/** a request this large can never be met (malloc.c's MAX_REQUEST is ~2^64; keep sizes exact doubles) */
const MAX_REQUEST = 2 ** 46;

export const DEFAULT_GRANULARITY = 64 * 1024;
export const DEFAULT_TRIM_THRESHOLD = 2 * 1024 * 1024;
export const DEFAULT_MMAP_THRESHOLD = 256 * 1024;

const NONE = -1;
/** parent[] of a tree's root (malloc.c points it at the bin header) */
const ROOT = -2;

export interface DlmallocOptions {
  /** where the heap gets memory; default PageBackedHeapMemory over opts.pages */
  memory?: HeapMemory;
  granularity?: number;
  trimThreshold?: number;
  mmapThreshold?: number;
}

function padRequest(req: number): number {
  return Math.ceil((req + CHUNK_OVERHEAD) / 16) * 16;
}

function request2size(req: number): number {
  return req < MIN_REQUEST ? MIN_CHUNK_SIZE : padRequest(req);
}

/** compute_tree_index() */
export function treeIndex(s: number): number {
  if (s >= 2 ** 24) return NTREEBINS - 1; // X = S >> TREEBIN_SHIFT > 0xFFFF
  const x = s >>> TREEBIN_SHIFT;
  if (x === 0) return 0;
  const k = 31 - Math.clz32(x);
  return (k << 1) + ((s >>> (k + TREEBIN_SHIFT - 1)) & 1);
}

/** minsize_for_tree_index() */
function treeMinSize(i: number): number {
  return 2 ** ((i >> 1) + TREEBIN_SHIFT) + (i & 1) * 2 ** ((i >> 1) + TREEBIN_SHIFT - 1);
}

/** The first size bit a treebin's trie branches on (from leftshift_for_tree_index()). */
function treeTopBit(i: number): number {
  return i === NTREEBINS - 1 ? 63 : (i >> 1) + TREEBIN_SHIFT - 2;
}

function bitOf(s: number, pos: number): number {
  if (pos < 0) return 0;
  if (s < 2 ** 31) return pos > 30 ? 0 : (s >>> pos) & 1;
  return Math.floor(s / 2 ** pos) % 2;
}

export class Dlmalloc implements ObjectStrategy {
  readonly name = 'dlmalloc';
  private readonly steps: Steps;
  readonly memory: HeapMemory;
  private readonly granularity: number;
  private readonly trimThreshold: number;
  private readonly mmapThreshold: number;

  // chunk metadata by granule
  private cap = 0;
  private csz: Uint32Array = new Uint32Array(0);
  private flg: Uint8Array = new Uint8Array(0);
  private pft: Uint32Array = new Uint32Array(0);
  private fd: Int32Array = new Int32Array(0);
  private bk: Int32Array = new Int32Array(0);
  private c0: Int32Array = new Int32Array(0);
  private c1: Int32Array = new Int32Array(0);
  private par: Int32Array = new Int32Array(0);
  private tix: Uint8Array = new Uint8Array(0);

  private readonly smallHead = new Int32Array(NSMALLBINS).fill(NONE);
  private readonly treeRoot = new Int32Array(NTREEBINS).fill(NONE);
  private smallmap = 0;
  private treemap = 0;

  /** heap base address (sbrk(0) at the first sys_alloc), -1 before */
  private base = -1;
  /** bytes of the brk segment */
  private heapBytes = 0;
  private top = NONE;
  private topsize = 0;
  private dv = NONE;
  private dvsize = 0;
  private trimCheck = 0;

  /** directly mmapped chunks: open-addressing table, key = chunk page number, value = chunk size */
  private mmKeys = new Float64Array(16).fill(-1);
  private mmVals = new Float64Array(16);
  private mmCount = 0;
  private mmBytes = 0;

  private liveBytes = 0;
  private cacheSize: number[] = [];

  // counters
  private nSbrk = 0;
  private nTrim = 0;
  private nMmap = 0;
  private nMunmap = 0;
  private nFailed = 0;
  private nReallocInPlace = 0;
  private nReallocMoved = 0;
  private peakHeapBytes = 0;

  constructor(opts: ObjectStrategyOptions, dl: DlmallocOptions = {}) {
    this.steps = opts.steps;
    this.memory = dl.memory ?? new PageBackedHeapMemory(opts.pages);
    this.granularity = dl.granularity ?? DEFAULT_GRANULARITY;
    this.trimThreshold = dl.trimThreshold ?? DEFAULT_TRIM_THRESHOLD;
    this.mmapThreshold = dl.mmapThreshold ?? DEFAULT_MMAP_THRESHOLD;
    if (this.granularity % HEAP_PAGE !== 0 || this.granularity <= 0) throw new RangeError('dlmalloc granularity must be a positive page multiple');
  }

  // ---------------------------------------------------------------- public contract

  alloc(bytes: number, _gfp: number): number {
    tick(this.steps, STEP_CALL);
    const mem = this.malloc(bytes);
    if (mem < 0) this.nFailed++;
    return mem;
  }

  free(addr: number): void {
    tick(this.steps, STEP_CALL);
    this.internalFree(addr);
  }

  /**
   * dlrealloc(): try_realloc_chunk() in place (shrink with the remainder disposed, or grow into
   * top, dv or a free next chunk), else malloc-copy-free. A request of 0 bytes is treated as a
   * minimum-size realloc rather than REALLOC_ZERO_BYTES_FREES, because the contract keeps the old
   * block live unless a new address is returned.
   */
  realloc(addr: number, newBytes: number, _gfp: number): number {
    tick(this.steps, STEP_CALL);
    if (newBytes >= MAX_REQUEST) { this.nFailed++; return -1; }
    const nb = request2size(newBytes);
    if (this.inBrk(addr)) {
      const p = this.chunkOf(addr);
      const old = this.csz[p]! * 16;
      if (this.tryReallocChunk(p, nb)) {
        this.liveBytes += this.csz[p]! * 16 - old;
        this.nReallocInPlace++;
        return addr;
      }
    } else {
      // mmap_resize() without mremap: keep the chunk if big enough but not too big.
      const old = this.mmGet(addr - 16);
      if (nb >= MIN_LARGE_SIZE && old >= nb + 8 && old - nb <= 2 * this.granularity) {
        this.nReallocInPlace++;
        return addr;
      }
    }
    const mem = this.malloc(newBytes);
    if (mem < 0) { this.nFailed++; return -1; }
    this.internalFree(addr);
    this.nReallocMoved++;
    return mem;
  }

  createCache(index: number, def: CacheDef): void {
    this.cacheSize[index] = def.size;
  }

  /** A user heap has no caches: a cache is just its object size. */
  cacheAlloc(index: number, gfp: number): number {
    return this.alloc(this.cacheSize[index] ?? 0, gfp);
  }

  cacheFree(_index: number, addr: number): void {
    this.free(addr);
  }

  usage(): ObjectUsage {
    return { bytesReserved: this.liveBytes, pagesHeld: this.memory.residentPages() };
  }

  /** A heap has no slab caches, so /proc/slabinfo shows none of it: empty. */
  caches(): CacheStat[] {
    return [];
  }

  counters(): Record<string, number> {
    return {
      heap_bytes: this.heapBytes,
      heap_peak_bytes: this.peakHeapBytes,
      heap_top_bytes: this.topsize,
      sbrk_calls: this.nSbrk,
      trims: this.nTrim,
      mmaps: this.nMmap,
      munmaps: this.nMunmap,
      mmapped_live: this.mmCount,
      mmapped_bytes: this.mmBytes,
      realloc_in_place: this.nReallocInPlace,
      realloc_moved: this.nReallocMoved,
      malloc_failed: this.nFailed,
    };
  }

  /** malloc_trim(pad): give back top memory beyond pad, as sys_trim(). Returns 1 if any was released. */
  trim(pad = 0): number {
    return this.top === NONE ? 0 : this.sysTrim(pad);
  }

  /** Usable bytes of a live block (malloc_usable_size). */
  usableSize(addr: number): number {
    if (this.inBrk(addr)) return this.csz[this.chunkOf(addr)]! * 16 - CHUNK_OVERHEAD;
    return this.mmGet(addr - 16) - MMAP_CHUNK_OVERHEAD;
  }

  /** Top and dv as chunk addresses and sizes (-1 / 0 when absent), for tests and reports. */
  inspect(): { heapBytes: number; top: number; topSize: number; dv: number; dvSize: number } {
    const at = (g: number): number => (g === NONE ? -1 : this.base + g * 16);
    return { heapBytes: this.heapBytes, top: at(this.top), topSize: this.topsize, dv: at(this.dv), dvSize: this.dvsize };
  }

  /** The brk heap's extent [start, end) in the heap's address space (empty before the first malloc). */
  heapRange(): [number, number] {
    return this.base < 0 ? [0, 0] : [this.base, this.base + this.heapBytes];
  }

  // ---------------------------------------------------------------- helpers

  private inBrk(addr: number): boolean {
    return this.base >= 0 && addr > this.base && addr < this.base + this.heapBytes;
  }

  private chunkOf(mem: number): number {
    return (mem - this.base) / 16 - 1;
  }

  private memOf(g: number): number {
    return this.base + g * 16 + 16;
  }

  /** in-use chunk g is handed out: account it and return its user address */
  private give(g: number): number {
    this.liveBytes += this.csz[g]! * 16;
    return this.memOf(g);
  }

  private ensureCap(granules: number): void {
    if (granules <= this.cap) return;
    let n = Math.max(1024, this.cap);
    while (n < granules) n *= 2;
    // kept arrays (machine/kept-arrays.ts): a worker's next dlmalloc cell reuses these instead of
    // faulting in fresh zeroed memory (a kernel-mix heap's metadata doubles up to ~0.5 GB). Only the
    // new tail [old length, n) is cleared: set() writes the old contents over the rest, so clearing
    // all of it wrote that half twice (issue 17). The tail is still cleared, as `new` gave it before:
    // that every granule's tags are written before they are read (flg[p + size] | PINUSE reads a
    // neighbour's) is not proven here.
    const grow32 = (a: Uint32Array): Uint32Array => { const t = keptArray(Uint32Array, n, 0, a.length); t.set(a); return t; };
    const growI = (a: Int32Array): Int32Array => { const t = keptArray(Int32Array, n, 0, a.length); t.set(a); return t; };
    const grow8 = (a: Uint8Array): Uint8Array => { const t = keptArray(Uint8Array, n, 0, a.length); t.set(a); return t; };
    this.csz = grow32(this.csz); this.pft = grow32(this.pft);
    this.flg = grow8(this.flg); this.tix = grow8(this.tix);
    this.fd = growI(this.fd); this.bk = growI(this.bk);
    this.c0 = growI(this.c0); this.c1 = growI(this.c1); this.par = growI(this.par);
    this.cap = n;
  }

  // boundary-tag macros of malloc.c, on granules (sizes in bytes)
  private setInuseAndPinuse(p: number, s: number): void {
    this.csz[p] = s / 16; this.flg[p] = INUSE_BITS;
    this.flg[p + s / 16] = this.flg[p + s / 16]! | PINUSE;
  }
  private setSizeAndPinuseOfInuseChunk(p: number, s: number): void {
    this.csz[p] = s / 16; this.flg[p] = INUSE_BITS;
  }
  private setInuse(p: number, s: number): void {
    this.csz[p] = s / 16; this.flg[p] = (this.flg[p]! & PINUSE) | CINUSE;
    this.flg[p + s / 16] = this.flg[p + s / 16]! | PINUSE;
  }
  private setSizeAndPinuseOfFreeChunk(p: number, s: number): void {
    this.csz[p] = s / 16; this.flg[p] = PINUSE;
    this.pft[p + s / 16] = s / 16;
  }
  private setFreeWithPinuse(p: number, s: number, n: number): void {
    this.flg[n] = this.flg[n]! & ~PINUSE;
    this.setSizeAndPinuseOfFreeChunk(p, s);
  }

  // ---------------------------------------------------------------- bins

  private insertSmallChunk(p: number, s: number): void {
    const i = s >>> SMALLBIN_SHIFT;
    const h = this.smallHead[i]!;
    // LIFO at the bin head (insert_small_chunk links P right after the bin header)
    this.fd[p] = h; this.bk[p] = NONE;
    if (h !== NONE) this.bk[h] = p;
    this.smallHead[i] = p;
    this.smallmap |= 1 << i;
    tick(this.steps, STEP_LIST);
  }

  private unlinkSmallChunk(p: number, s: number): void {
    const i = s >>> SMALLBIN_SHIFT;
    const f = this.fd[p]!, b = this.bk[p]!;
    if (b === NONE) this.smallHead[i] = f; else this.fd[b] = f;
    if (f !== NONE) this.bk[f] = b;
    if (this.smallHead[i] === NONE) this.smallmap &= ~(1 << i);
    tick(this.steps, STEP_LIST);
  }

  /** insert_large_chunk(): descend the trie on the size's bits below the bin's fixed ones. */
  private insertLargeChunk(x: number, s: number): void {
    const i = treeIndex(s);
    this.tix[x] = i;
    this.c0[x] = NONE; this.c1[x] = NONE;
    tick(this.steps, STEP_LIST);
    if ((this.treemap & (1 << i)) === 0) {
      this.treemap |= 1 << i;
      this.treeRoot[i] = x;
      this.par[x] = ROOT;
      this.fd[x] = x; this.bk[x] = x;
      return;
    }
    let t = this.treeRoot[i]!;
    let pos = treeTopBit(i);
    for (;;) {
      tick(this.steps, STEP_LIST);
      if (this.csz[t]! * 16 !== s) {
        const right = bitOf(s, pos--);
        const c = right ? this.c1[t]! : this.c0[t]!;
        if (c !== NONE) { t = c; continue; }
        if (right) this.c1[t] = x; else this.c0[t] = x;
        this.par[x] = t;
        this.fd[x] = x; this.bk[x] = x;
        return;
      }
      // same size: join t's ring as a chained (non-tree) node, parent 0 in malloc.c
      const f = this.fd[t]!;
      this.fd[t] = x; this.bk[f] = x;
      this.fd[x] = f; this.bk[x] = t;
      this.par[x] = NONE;
      return;
    }
  }

  /**
   * unlink_large_chunk(): a chained node is replaced by its bk; the last node of its size is
   * replaced by its rightmost leaf descendant, keeping the trie's bit paths valid.
   */
  private unlinkLargeChunk(x: number): void {
    const xp = this.par[x]!;
    let r: number;
    tick(this.steps, STEP_LIST);
    if (this.bk[x] !== x) {
      const f = this.fd[x]!;
      r = this.bk[x]!;
      this.bk[f] = r; this.fd[r] = f;
    } else {
      let rpNode = x, rpRight = true;
      r = this.c1[x]!;
      if (r === NONE) { rpRight = false; r = this.c0[x]!; }
      if (r !== NONE) {
        for (;;) {
          tick(this.steps, STEP_LIST);
          if (this.c1[r] !== NONE) { rpNode = r; rpRight = true; r = this.c1[r]!; }
          else if (this.c0[r] !== NONE) { rpNode = r; rpRight = false; r = this.c0[r]!; }
          else break;
        }
        if (rpRight) this.c1[rpNode] = NONE; else this.c0[rpNode] = NONE;
      }
    }
    if (xp === NONE) return; // a chained node: no tree links to mend
    const i = this.tix[x]!;
    if (xp === ROOT) {
      this.treeRoot[i] = r;
      if (r === NONE) this.treemap &= ~(1 << i);
    } else if (this.c0[xp] === x) this.c0[xp] = r;
    else this.c1[xp] = r;
    if (r !== NONE) {
      this.par[r] = xp;
      const k0 = this.c0[x]!;
      if (k0 !== NONE) { this.c0[r] = k0; this.par[k0] = r; }
      const k1 = this.c1[x]!;
      if (k1 !== NONE) { this.c1[r] = k1; this.par[k1] = r; }
    }
  }

  private insertChunk(p: number, s: number): void {
    if (s < MIN_LARGE_SIZE) this.insertSmallChunk(p, s); else this.insertLargeChunk(p, s);
  }

  private unlinkChunk(p: number, s: number): void {
    if (s < MIN_LARGE_SIZE) this.unlinkSmallChunk(p, s); else this.unlinkLargeChunk(p);
  }

  /** replace_dv(): the old dv (known small here) goes to its bin, P becomes dv. */
  private replaceDv(p: number, s: number): void {
    if (this.dvsize !== 0) this.insertChunk(this.dv, this.dvsize);
    this.dv = p;
    this.dvsize = s;
  }

  private leftmostChild(t: number): number {
    const l = this.c0[t]!;
    return l !== NONE ? l : this.c1[t]!;
  }

  /** tmalloc_small(): smallest chunk of the first non-empty treebin; the remainder becomes dv. */
  private tmallocSmall(nb: number): number {
    const i = 31 - Math.clz32(this.treemap & -this.treemap);
    let v = this.treeRoot[i]!;
    let t = v;
    let rsize = this.csz[t]! * 16 - nb;
    tick(this.steps, STEP_LIST);
    while ((t = this.leftmostChild(t)) !== NONE) {
      tick(this.steps, STEP_LIST);
      const trem = this.csz[t]! * 16 - nb;
      if (trem < rsize) { rsize = trem; v = t; }
    }
    this.unlinkLargeChunk(v);
    if (rsize < MIN_CHUNK_SIZE) this.setInuseAndPinuse(v, rsize + nb);
    else {
      this.setSizeAndPinuseOfInuseChunk(v, nb);
      const r = v + nb / 16;
      this.setSizeAndPinuseOfFreeChunk(r, rsize);
      this.replaceDv(r, rsize);
      tick(this.steps, STEP_SPLIT);
    }
    return this.give(v);
  }

  /** tmalloc_large(): best fit in the trie (or the next non-empty bin), unless dv fits better. */
  private tmallocLarge(nb: number): number {
    let v = NONE;
    let rsize = Infinity;
    const idx = treeIndex(nb);
    let t = this.treeRoot[idx]!;
    if (t !== NONE) {
      let pos = treeTopBit(idx);
      let rst = NONE; // the deepest untaken right subtree
      for (;;) {
        tick(this.steps, STEP_LIST);
        const trem = this.csz[t]! * 16 - nb;
        if (trem >= 0 && trem < rsize) {
          v = t;
          if ((rsize = trem) === 0) break;
        }
        const rt = this.c1[t]!;
        t = bitOf(nb, pos--) ? this.c1[t]! : this.c0[t]!;
        if (rt !== NONE && rt !== t) rst = rt;
        if (t === NONE) { t = rst; break; }
      }
    }
    if (t === NONE && v === NONE) {
      const x = 1 << idx;
      const leftbits = ((x << 1) | -(x << 1)) & this.treemap;
      if (leftbits !== 0) t = this.treeRoot[31 - Math.clz32(leftbits & -leftbits)]!;
    }
    while (t !== NONE) {
      tick(this.steps, STEP_LIST);
      const trem = this.csz[t]! * 16 - nb;
      if (trem >= 0 && trem < rsize) { rsize = trem; v = t; }
      t = this.leftmostChild(t);
    }
    // If dv is a better fit, return -1 so malloc will use it ((size_t)(dvsize - nb) wraps when dv is smaller).
    if (v === NONE || !(this.dvsize < nb || rsize < this.dvsize - nb)) return -1;
    this.unlinkLargeChunk(v);
    if (rsize < MIN_CHUNK_SIZE) this.setInuseAndPinuse(v, rsize + nb);
    else {
      this.setSizeAndPinuseOfInuseChunk(v, nb);
      const r = v + nb / 16;
      this.setSizeAndPinuseOfFreeChunk(r, rsize);
      this.insertChunk(r, rsize);
      tick(this.steps, STEP_SPLIT);
    }
    return this.give(v);
  }

  // ---------------------------------------------------------------- malloc / free

  private malloc(bytes: number): number {
    let nb: number;
    if (bytes <= MAX_SMALL_REQUEST) {
      nb = bytes < MIN_REQUEST ? MIN_CHUNK_SIZE : padRequest(bytes);
      let idx = nb >>> SMALLBIN_SHIFT;
      const smallbits = this.smallmap >>> idx;
      if ((smallbits & 3) !== 0) {
        // Remainderless fit to a smallbin (this or the next one).
        idx += ~smallbits & 1;
        const p = this.smallHead[idx]!;
        this.unlinkSmallChunk(p, idx << SMALLBIN_SHIFT);
        this.setInuseAndPinuse(p, idx << SMALLBIN_SHIFT);
        return this.give(p);
      }
      if (nb > this.dvsize) {
        if (smallbits !== 0) {
          // Use the chunk in the next non-empty smallbin; its remainder replaces dv.
          const x = 1 << idx;
          const leftbits = (smallbits << idx) & ((x << 1) | -(x << 1));
          const i = 31 - Math.clz32(leftbits & -leftbits);
          const p = this.smallHead[i]!;
          const s = i << SMALLBIN_SHIFT;
          this.unlinkSmallChunk(p, s);
          const rsize = s - nb;
          if (rsize < MIN_CHUNK_SIZE) this.setInuseAndPinuse(p, s);
          else {
            this.setSizeAndPinuseOfInuseChunk(p, nb);
            const r = p + nb / 16;
            this.setSizeAndPinuseOfFreeChunk(r, rsize);
            this.replaceDv(r, rsize);
            tick(this.steps, STEP_SPLIT);
          }
          return this.give(p);
        }
        if (this.treemap !== 0) return this.tmallocSmall(nb);
      }
    } else if (bytes >= MAX_REQUEST) {
      return -1;
    } else {
      nb = padRequest(bytes);
      if (this.treemap !== 0) {
        const mem = this.tmallocLarge(nb);
        if (mem >= 0) return mem;
      }
    }

    if (nb <= this.dvsize) {
      const rsize = this.dvsize - nb;
      const p = this.dv;
      if (rsize >= MIN_CHUNK_SIZE) { // split dv
        const r = p + nb / 16;
        this.dv = r;
        this.dvsize = rsize;
        this.setSizeAndPinuseOfFreeChunk(r, rsize);
        this.setSizeAndPinuseOfInuseChunk(p, nb);
        tick(this.steps, STEP_SPLIT);
      } else { // exhaust dv
        const dvs = this.dvsize;
        this.dvsize = 0;
        this.dv = NONE;
        this.setInuseAndPinuse(p, dvs);
      }
      return this.give(p);
    }
    if (nb < this.topsize) return this.splitTop(nb);
    return this.sysAlloc(nb);
  }

  private splitTop(nb: number): number {
    const p = this.top;
    const rsize = (this.topsize -= nb);
    const r = p + nb / 16;
    this.top = r;
    this.csz[r] = rsize / 16; this.flg[r] = PINUSE;
    this.setSizeAndPinuseOfInuseChunk(p, nb);
    tick(this.steps, STEP_SPLIT);
    return this.give(p);
  }

  /** init_top(): top starts at granule p; the TOP_FOOT_SIZE fencepost follows it. */
  private initTop(p: number, psize: number): void {
    this.top = p;
    this.topsize = psize;
    this.csz[p] = psize / 16; this.flg[p] = PINUSE;
    const f = p + psize / 16;
    this.csz[f] = TOP_FOOT_SIZE / 16; this.flg[f] = 0;
    this.trimCheck = this.trimThreshold;
  }

  /**
   * sys_alloc(): large requests become their own mmapped chunk once the heap is initialized
   * (malloc.c only gets here when no bin, dv or top could serve the request, so a large request
   * that fits in a free chunk or top is served from the heap); otherwise grow the brk segment
   * contiguously by granularity_align(nb - topsize + SYS_ALLOC_PADDING).
   */
  private sysAlloc(nb: number): number {
    if (nb >= this.mmapThreshold && this.topsize !== 0) {
      const mem = this.mmapAlloc(nb);
      if (mem >= 0) return mem;
    }
    const g = this.granularity;
    // The model keeps boundary tags in arrays per 16-byte granule of the brk heap (~30 bytes each),
    // so it models brk heaps up to MAX_BRK_HEAP; growth past it fails like MORECORE failing (the
    // malloc returns NULL and is counted), where a typed array of that length would throw.
    if (this.heapBytes + nb + SYS_ALLOC_PADDING + g > MAX_BRK_HEAP) return -1;
    let tsize: number;
    if (this.top === NONE) {
      const base = this.memory.sbrk(0);
      tsize = Math.ceil((nb + SYS_ALLOC_PADDING) / g) * g;
      if (base < 0 || this.memory.sbrk(tsize) !== base) return -1;
      this.nSbrk++;
      this.base = base;
      this.heapBytes = tsize;
      this.ensureCap(tsize / 16 + 1);
      this.initTop(0, tsize - TOP_FOOT_SIZE);
    } else {
      tsize = Math.ceil((nb - this.topsize + SYS_ALLOC_PADDING) / g) * g;
      // MORECORE must be contiguous with the segment's end (one brk segment here).
      const br = this.memory.sbrk(tsize);
      if (br < 0) return -1;
      this.nSbrk++;
      if (br !== this.base + this.heapBytes) {
        this.memory.sbrk(-tsize);
        return -1;
      }
      this.heapBytes += tsize;
      this.ensureCap(this.heapBytes / 16 + 1);
      this.initTop(this.top, this.topsize + tsize);
    }
    if (this.heapBytes > this.peakHeapBytes) this.peakHeapBytes = this.heapBytes;
    if (nb < this.topsize) return this.splitTop(nb);
    return -1;
  }

  /** mmap_alloc(): a page-aligned mapping of nb + 6 words; the chunk starts at the mapping. */
  private mmapAlloc(nb: number): number {
    const mmsize = Math.ceil((nb + SIX_SIZE_T_SIZES + CHUNK_ALIGN_MASK) / HEAP_PAGE) * HEAP_PAGE;
    const mm = this.memory.mmap(mmsize);
    if (mm < 0) return -1;
    const psize = mmsize - MMAP_FOOT_PAD;
    this.mmPut(mm, psize);
    this.nMmap++;
    this.liveBytes += psize;
    return mm + 16;
  }

  private internalFree(mem: number): void {
    if (!this.inBrk(mem)) {
      const chunk = mem - 16;
      const psize = this.mmGet(chunk);
      if (psize < 0) return; // not ours; the replay never does this
      this.mmDel(chunk);
      this.liveBytes -= psize;
      this.memory.munmap(chunk, psize + MMAP_FOOT_PAD);
      this.nMunmap++;
      return;
    }
    const p = this.chunkOf(mem);
    const psize = this.csz[p]! * 16;
    this.liveBytes -= psize;
    if (this.disposeChunk(p, psize) && this.topsize > this.trimCheck) this.sysTrim(0);
  }

  /**
   * The body of free() and dispose_chunk(): coalesce with a free previous chunk, then with the
   * next one (top, dv or a binned chunk), and bin the result. Returns true when it merged into top.
   */
  private disposeChunk(p: number, psize: number): boolean {
    let next = p + psize / 16;
    if ((this.flg[p]! & PINUSE) === 0) {
      const prevsize = this.pft[p]! * 16;
      p -= prevsize / 16;
      psize += prevsize;
      tick(this.steps, STEP_MERGE);
      if (p !== this.dv) this.unlinkChunk(p, prevsize);
      else if ((this.flg[next]! & INUSE_BITS) === INUSE_BITS) {
        this.dvsize = psize;
        this.setFreeWithPinuse(p, psize, next);
        return false;
      }
    }
    if ((this.flg[next]! & CINUSE) === 0) {
      tick(this.steps, STEP_MERGE);
      if (next === this.top) {
        const tsize = (this.topsize += psize);
        this.top = p;
        this.csz[p] = tsize / 16; this.flg[p] = PINUSE;
        if (p === this.dv) { this.dv = NONE; this.dvsize = 0; }
        return true;
      }
      if (next === this.dv) {
        const dsize = (this.dvsize += psize);
        this.dv = p;
        this.setSizeAndPinuseOfFreeChunk(p, dsize);
        return false;
      }
      const nsize = this.csz[next]! * 16;
      psize += nsize;
      this.unlinkChunk(next, nsize);
      this.setSizeAndPinuseOfFreeChunk(p, psize);
      if (p === this.dv) { this.dvsize = psize; return false; }
    } else {
      this.setFreeWithPinuse(p, psize, next);
    }
    this.insertChunk(p, psize);
    return false;
  }

  /** sys_trim(): shrink top in granularity units, keeping at least one (and pad + TOP_FOOT_SIZE). */
  private sysTrim(pad: number): number {
    let released = 0;
    pad += TOP_FOOT_SIZE;
    if (this.topsize > pad) {
      const unit = this.granularity;
      const extra = (Math.floor((this.topsize - pad + unit - 1) / unit) - 1) * unit;
      if (extra > 0 && this.memory.sbrk(0) === this.base + this.heapBytes) {
        if (this.memory.sbrk(-extra) >= 0) released = extra;
      }
      if (released !== 0) {
        this.heapBytes -= released;
        this.initTop(this.top, this.topsize - released);
        this.nTrim++;
      }
    }
    // On failure, disable autotrim to avoid repeated failed calls.
    if (released === 0 && this.topsize > this.trimCheck) this.trimCheck = Infinity;
    return released !== 0 ? 1 : 0;
  }

  /** try_realloc_chunk() for a brk chunk; true when the block stays at p (now of size >= nb). */
  private tryReallocChunk(p: number, nb: number): boolean {
    const oldsize = this.csz[p]! * 16;
    const next = p + oldsize / 16;
    if (oldsize >= nb) { // already big enough
      const rsize = oldsize - nb;
      if (rsize >= MIN_CHUNK_SIZE) {
        const r = p + nb / 16;
        this.setInuse(p, nb);
        this.setInuse(r, rsize);
        tick(this.steps, STEP_SPLIT);
        this.disposeChunk(r, rsize);
      }
      return true;
    }
    if (next === this.top) { // extend into top
      if (oldsize + this.topsize <= nb) return false;
      const newtopsize = oldsize + this.topsize - nb;
      const newtop = p + nb / 16;
      this.setInuse(p, nb);
      this.csz[newtop] = newtopsize / 16; this.flg[newtop] = PINUSE;
      this.top = newtop;
      this.topsize = newtopsize;
      tick(this.steps, STEP_MERGE);
      return true;
    }
    if (next === this.dv) { // extend into dv
      const dvs = this.dvsize;
      if (oldsize + dvs < nb) return false;
      const dsize = oldsize + dvs - nb;
      tick(this.steps, STEP_MERGE);
      if (dsize >= MIN_CHUNK_SIZE) {
        const r = p + nb / 16;
        const n = r + dsize / 16;
        this.setInuse(p, nb);
        this.setSizeAndPinuseOfFreeChunk(r, dsize);
        this.flg[n] = this.flg[n]! & ~PINUSE;
        this.dvsize = dsize;
        this.dv = r;
        tick(this.steps, STEP_SPLIT);
      } else { // exhaust dv
        this.setInuse(p, oldsize + dvs);
        this.dvsize = 0;
        this.dv = NONE;
      }
      return true;
    }
    if ((this.flg[next]! & CINUSE) === 0) { // extend into the next free chunk
      const nextsize = this.csz[next]! * 16;
      if (oldsize + nextsize < nb) return false;
      const rsize = oldsize + nextsize - nb;
      this.unlinkChunk(next, nextsize);
      tick(this.steps, STEP_MERGE);
      if (rsize < MIN_CHUNK_SIZE) this.setInuse(p, oldsize + nextsize);
      else {
        const r = p + nb / 16;
        this.setInuse(p, nb);
        this.setInuse(r, rsize);
        tick(this.steps, STEP_SPLIT);
        this.disposeChunk(r, rsize);
      }
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- mmapped chunk table

  private mmSlot(key: number): number {
    const mask = this.mmKeys.length - 1;
    let h = Math.imul((key % 4294967296) | 0, 0x9e3779b1) >>> 0;
    h &= mask;
    while (this.mmKeys[h] !== -1 && this.mmKeys[h] !== key) h = (h + 1) & mask;
    return h;
  }

  private mmGet(chunk: number): number {
    const h = this.mmSlot(chunk / HEAP_PAGE);
    return this.mmKeys[h] === -1 ? -1 : this.mmVals[h]!;
  }

  private mmPut(chunk: number, psize: number): void {
    if ((this.mmCount + 1) * 2 > this.mmKeys.length) {
      const ok = this.mmKeys, ov = this.mmVals;
      this.mmKeys = new Float64Array(ok.length * 2).fill(-1);
      this.mmVals = new Float64Array(ok.length * 2);
      for (let i = 0; i < ok.length; i++) {
        if (ok[i] === -1) continue;
        const h = this.mmSlot(ok[i]!);
        this.mmKeys[h] = ok[i]!; this.mmVals[h] = ov[i]!;
      }
    }
    const h = this.mmSlot(chunk / HEAP_PAGE);
    this.mmKeys[h] = chunk / HEAP_PAGE;
    this.mmVals[h] = psize;
    this.mmCount++;
    this.mmBytes += psize;
  }

  private mmDel(chunk: number): void {
    const mask = this.mmKeys.length - 1;
    let h = this.mmSlot(chunk / HEAP_PAGE);
    this.mmBytes -= this.mmVals[h]!;
    this.mmCount--;
    // backward-shift deletion keeps probe chains intact without tombstones
    let j = h;
    for (;;) {
      this.mmKeys[h] = -1;
      for (;;) {
        j = (j + 1) & mask;
        const k = this.mmKeys[j]!;
        if (k === -1) return;
        const home = (Math.imul((k % 4294967296) | 0, 0x9e3779b1) >>> 0) & mask;
        // move k into the hole at h unless its home lies cyclically in (h, j]
        if (h <= j ? home <= h || home > j : home <= h && home > j) break;
      }
      this.mmKeys[h] = this.mmKeys[j]!; this.mmVals[h] = this.mmVals[j]!;
      h = j;
    }
  }

  // ---------------------------------------------------------------- check

  check(): void {
    const fail = (msg: string): never => { throw new InvariantError(`dlmalloc: ${msg}`); };
    // mmapped chunks
    let mmCount = 0, mmBytes = 0;
    for (let i = 0; i < this.mmKeys.length; i++) {
      if (this.mmKeys[i] === -1) continue;
      mmCount++;
      mmBytes += this.mmVals[i]!;
      if (this.mmGet(this.mmKeys[i]! * HEAP_PAGE) !== this.mmVals[i]) fail(`mmapped chunk table lookup broken at slot ${i}`);
    }
    if (mmCount !== this.mmCount || mmBytes !== this.mmBytes) fail(`mmapped totals ${this.mmCount}/${this.mmBytes} != table ${mmCount}/${mmBytes}`);
    if (this.top === NONE) {
      if (this.liveBytes !== mmBytes) fail(`live bytes ${this.liveBytes} but heap uninitialized and ${mmBytes} mmapped`);
      return;
    }
    const top = this.top;
    // walk every chunk from the heap start to top
    const mark = new Uint8Array(top + 1);
    let g = 0, prevInuse = true, inuseBytes = 0, freeBytes = 0, binned = 0, dvSeen = false;
    while (g < top) {
      const s = this.csz[g]! * 16;
      const f = this.flg[g]!;
      if (s < MIN_CHUNK_SIZE) fail(`chunk at granule ${g} has size ${s}`);
      const n = g + s / 16;
      if (n > top) fail(`chunk at granule ${g} size ${s} runs past top at ${top}`);
      if (((f & PINUSE) !== 0) !== prevInuse) fail(`chunk at granule ${g}: PINUSE ${f & PINUSE} but previous chunk in use = ${prevInuse}`);
      if (f & CINUSE) inuseBytes += s;
      else {
        if (!prevInuse) fail(`two adjacent free chunks ending at granule ${g}`);
        if (this.pft[n]! * 16 !== s) fail(`free chunk at granule ${g}: foot ${this.pft[n]! * 16} != size ${s}`);
        freeBytes += s;
        if (g === this.dv) dvSeen = true;
        else { mark[g] = 1; binned++; }
      }
      prevInuse = (f & CINUSE) !== 0;
      g = n;
    }
    if (g !== top) fail(`walk ended at granule ${g}, top is ${top}`);
    if (!prevInuse) fail('free chunk before top');
    if ((this.flg[top]! & INUSE_BITS) !== PINUSE) fail(`top flags ${this.flg[top]}`);
    if (this.csz[top]! * 16 !== this.topsize) fail(`top head ${this.csz[top]! * 16} != topsize ${this.topsize}`);
    if (top * 16 + this.topsize + TOP_FOOT_SIZE !== this.heapBytes) fail(`chunks + top + foot != heap bytes ${this.heapBytes}`);
    if (inuseBytes + freeBytes + this.topsize + TOP_FOOT_SIZE !== this.heapBytes) fail('byte totals do not add up');
    if (inuseBytes + mmBytes !== this.liveBytes) fail(`live bytes ${this.liveBytes} != in-use ${inuseBytes} + mmapped ${mmBytes}`);
    if ((this.dv === NONE) !== (this.dvsize === 0)) fail(`dv ${this.dv} with dvsize ${this.dvsize}`);
    if (this.dv !== NONE) {
      if (!dvSeen) fail(`dv at granule ${this.dv} is not a free chunk of the heap`);
      if (this.csz[this.dv]! * 16 !== this.dvsize) fail(`dv head ${this.csz[this.dv]! * 16} != dvsize ${this.dvsize}`);
    }
    // smallbins
    let listed = 0;
    for (let i = 0; i < NSMALLBINS; i++) {
      const h = this.smallHead[i]!;
      if (((this.smallmap & (1 << i)) !== 0) !== (h !== NONE)) fail(`smallmap bit ${i} disagrees with bin`);
      let prev = NONE;
      for (let p = h; p !== NONE; p = this.fd[p]!) {
        if (this.bk[p] !== prev) fail(`smallbin ${i}: bk link broken at granule ${p}`);
        if (p >= top || mark[p] !== 1) fail(`smallbin ${i}: granule ${p} is not a free binned chunk (or listed twice)`);
        if ((this.csz[p]! * 16) >>> SMALLBIN_SHIFT !== i) fail(`smallbin ${i} holds size ${this.csz[p]! * 16}`);
        mark[p] = 2; listed++; prev = p;
      }
    }
    // treebins
    // DFS with an explicit stack; dirs[k] is the edge taken at depth k on the path to the node
    // being looked at (a node's subtree is finished before its left sibling is popped).
    const stack: number[] = [];
    const dirs: number[] = [];
    for (let i = 0; i < NTREEBINS; i++) {
      const root = this.treeRoot[i]!;
      if (((this.treemap & (1 << i)) !== 0) !== (root !== NONE)) fail(`treemap bit ${i} disagrees with bin`);
      if (root === NONE) continue;
      if (this.par[root] !== ROOT) fail(`treebin ${i}: root parent ${this.par[root]}`);
      const lo = treeMinSize(i), hi = i === NTREEBINS - 1 ? Infinity : treeMinSize(i + 1);
      const topBit = treeTopBit(i);
      stack.length = 0;
      stack.push(root, 0, -1);
      while (stack.length > 0) {
        const dir = stack.pop()!;
        const d = stack.pop()!;
        const t = stack.pop()!;
        if (d > 0) dirs[d - 1] = dir;
        const s = this.csz[t]! * 16;
        if (s < lo || s >= hi) fail(`treebin ${i} holds size ${s}`);
        // a trie node's size agrees with every branch bit on its path (insert_large_chunk)
        for (let k = 0; k < d; k++) if (bitOf(s, topBit - k) !== dirs[k]) fail(`treebin ${i}: size ${s} on the wrong trie path`);
        // the ring of same-size chunks
        let u = t;
        do {
          if (u >= top || mark[u] !== 1) fail(`treebin ${i}: granule ${u} is not a free binned chunk (or listed twice)`);
          if (this.csz[u]! * 16 !== s || this.tix[u] !== i) fail(`treebin ${i}: ring member ${u} size/index mismatch`);
          if (this.bk[this.fd[u]!] !== u) fail(`treebin ${i}: ring link broken at ${u}`);
          if (u !== t && (this.par[u] !== NONE || this.c0[u] !== NONE || this.c1[u] !== NONE)) fail(`treebin ${i}: chained node ${u} has tree links`);
          mark[u] = 2; listed++;
          u = this.fd[u]!;
        } while (u !== t);
        const k0 = this.c0[t]!, k1 = this.c1[t]!;
        if (k0 !== NONE) {
          if (this.par[k0] !== t) fail(`treebin ${i}: child ${k0} parent ${this.par[k0]} != ${t}`);
          stack.push(k0, d + 1, 0);
        }
        if (k1 !== NONE) {
          if (this.par[k1] !== t) fail(`treebin ${i}: child ${k1} parent ${this.par[k1]} != ${t}`);
          stack.push(k1, d + 1, 1);
        }
      }
    }
    if (listed !== binned) fail(`${binned} free chunks in the heap but ${listed} in bins`);
    if (this.memory instanceof PageBackedHeapMemory) {
      let mmPages = 0;
      for (let i = 0; i < this.mmKeys.length; i++) if (this.mmKeys[i] !== -1) mmPages += (this.mmVals[i]! + MMAP_FOOT_PAD) / HEAP_PAGE;
      if (this.memory.residentPages() !== this.heapBytes / HEAP_PAGE + mmPages) fail(`resident pages ${this.memory.residentPages()} != heap ${this.heapBytes / HEAP_PAGE} + mmapped ${mmPages}`);
    }
  }
}

/**
 * Registry entry. Variants: `dlmalloc:nommap` (never mmap; every request from the brk heap) and
 * `dlmalloc:notrim` (never give top memory back), mallopt(M_MMAP_THRESHOLD / M_TRIM_THRESHOLD, -1)-like.
 */
export const dlmallocFactory: ObjectStrategyFactory = (opts) => {
  const dl: DlmallocOptions = opts.heap ? { memory: opts.heap } : {};
  for (const v of (opts.variant ?? '').split(',')) {
    if (v === 'nommap') dl.mmapThreshold = Infinity;
    else if (v === 'notrim') dl.trimThreshold = Infinity;
  }
  return new Dlmalloc(opts, dl);
};
