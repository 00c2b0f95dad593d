import { AllocbenchError } from '../errors.js';
import * as gfpModule from '../machine/gfp.js';
import type { UserHeaps } from '../object/process-heap.js';
import type { ObjectStrategy } from '../object/strategy.js';
import * as opsModule from '../trace/ops.js';
import type { CacheDef } from '../trace/trace.js';
import * as states from './replay-ids.js';
import type { ReplayIds } from './replay-ids.js';

// Constants and helpers of other modules as constants of this one (issue 17; see page/buddy.ts):
// optimized code loads an imported binding through its module's cell and checks it for the
// temporal dead zone at every use, where a const of this module costs at most one load.
const { GFP_KERNEL, GFP_USER } = gfpModule;
const { OP_CACHE_ALLOC, OP_KMALLOC, OP_MALLOC } = opsModule;
const { S_FAILED, S_FREED, S_OBJECT } = states;

/** live records addressable by a slot: S_OBJECT + (slot << 2 | kind) stays a positive Int32 */
const MAX_SLOTS = 2 ** 29 - 2;
/** How the object was allocated, for the matching free. */
const K_KMALLOC = 0;
const K_CACHE = 1;
const K_USER = 2;
/** numbers per record in `rec`: 2 doubles, 16 bytes, so one never straddles a cache line */
const REC_STRIDE = 2;
/** events whose ids' reference and address are loaded at once, AHEAD events before they replay (touchAhead) */
const AHEAD = 16;

/**
 * The object family of a replay: kmalloc/kfree and kmem_cache alloc/free on the kernel object
 * layer, and malloc/free/realloc, either in the process's own user heap (with processes: its bytes
 * are written, so its pages are demand-faulted) or, without processes, on the object layer too.
 */
export class ObjectEvents {
  failed = 0;
  /** requested bytes of the live objects, and their peak */
  reqLive = 0;
  reqPeak = 0;
  /** the same for user-heap objects (with processes) */
  userLive = 0;
  userPeak = 0;
  /** pages that could not be faulted in when malloc'd memory was written (OOM) */
  oomPages = 0;
  /** frees/reallocs of objects whose process had exited (dropped) */
  droppedAfterExit = 0;
  /**
   * per record slot of a live cache object or user-heap object, REC_STRIDE numbers: its owner (the
   * cache of a cache object, the pid of a user object) and, for a user object, its heap's generation
   * at allocation (a heap gone with its process is not freed into). kmalloc objects have none.
   */
  rec: Float64Array;
  /** record slots freed for reuse (a stack), and the slots ever used */
  spare: Int32Array;
  private nSpare = 0;
  private slotsUsed = 0;
  /** the trace's event index from which the next AHEAD events' ids are loaded (touchAhead) */
  private aheadAt = 0;
  /** what the loads of touchAhead() add up to (never read: it keeps the loads) */
  private aheadSink = 0;

  /** `kept`: an earlier replay's records (grown by doubling to the peak of live objects) */
  constructor(
    private readonly ids: ReplayIds,
    private readonly objects: ObjectStrategy,
    private readonly caches: readonly CacheDef[],
    private readonly heaps: UserHeaps | null,
    kept: { rec: Float64Array; spare: Int32Array } | null,
  ) {
    this.rec = kept?.rec ?? new Float64Array(REC_STRIDE * 1024);
    this.spare = kept?.spare ?? new Int32Array(1024);
    // objects allocated before the trace that it frees, live in the object layer's start
    // (object/slab-start.ts): their frees go to the strategy as kfree()s (virt_to_slab() finds the
    // slab either way). Their requested bytes are unknown: 0, so reqLive counts the trace's objects only.
    const pre = objects.preTraceObjects;
    for (let k = 0; pre !== undefined && k < pre.ids.length; k++) {
      const i = pre.ids[k]!;
      ids.ref[i] = S_OBJECT + K_KMALLOC;
      ids.obj[2 * i] = pre.addr[k]!; ids.obj[2 * i + 1] = 0;
    }
  }

  /** A record slot for a new live object: a dead one's, else a fresh one. */
  private takeSlot(): number {
    if (this.nSpare > 0) return this.spare[--this.nSpare]!;
    const s = this.slotsUsed++;
    if (s === this.spare.length) {
      if (s >= MAX_SLOTS) throw new AllocbenchError(`the replay holds more than ${MAX_SLOTS} live objects at once`);
      const n = Math.min(Math.max(2 * s, 64), MAX_SLOTS);
      const rec = new Float64Array(REC_STRIDE * n);
      rec.set(this.rec);
      this.rec = rec;
      this.spare = new Int32Array(n); // empty now: every slot below s is in use
    }
    return s;
  }

  /** A record slot holding `owner` and `gen` (liveObject). */
  private newRecord(owner: number, gen: number): number {
    const slot = this.takeSlot();
    this.rec[REC_STRIDE * slot] = owner; this.rec[REC_STRIDE * slot + 1] = gen;
    return slot;
  }

  /** Does a live object of this kind have a record (an owner)? Cache objects, and user objects in process heaps. */
  private hasRecord(kind: number): boolean {
    return kind === K_CACHE || (kind === K_USER && this.heaps !== null);
  }

  /** Ends live object i's life (reference s): its record slot, if any, is reused. */
  private release(i: number, s: number): void {
    if (this.hasRecord((s - S_OBJECT) & 3)) this.spare[this.nSpare++] = (s - S_OBJECT) >>> 2;
    this.ids.ref[i] = S_FREED;
  }

  /**
   * Loads the reference and the address of the ids of events e + AHEAD .. e + 2 AHEAD - 1 (of this
   * chunk), once every AHEAD events: a free's reference and address are a cache miss each (the ids
   * of a trace's frees reach back at random over arrays of megabytes), and with several hundred
   * instructions between two frees the processor never has two frees' misses under way at once
   * (the native replayer's loop is short enough that it does). Loaded together here, AHEAD events'
   * misses overlap: the events then find them in the cache. Reads only: results are unchanged.
   */
  private touchAhead(e: number): void {
    const ids = this.ids, id = ids.id, ref = ids.ref, obj = ids.obj;
    this.aheadAt = ids.base + e + AHEAD;
    const to = Math.min(id.length, e + 2 * AHEAD);
    // ids outside the arrays (a mark's) read undefined: NaN, the sum is never used
    let sum = 0;
    for (let j = e + AHEAD; j < to; j++) {
      const k = id[j]!;
      sum += ref[k]! + obj[2 * k]!;
    }
    this.aheadSink += sum;
  }

  /** kmalloc, kmem_cache_alloc or malloc (`o`) of event e. */
  alloc(e: number, o: number): void {
    const ids = this.ids;
    if (ids.base + e >= this.aheadAt) this.touchAhead(e);
    const i = ids.id[e]!;
    const s = ids.ref[i]!;
    if (s < 0 || s >= S_OBJECT) { ids.allocLive++; return; }
    let addr: number;
    let bytes: number;
    let kind: number;
    let owner = 0, gen = 0;
    if (o === OP_CACHE_ALLOC) {
      const c = ids.aux[e]!;
      bytes = this.caches[c]!.size;
      addr = this.objects.cacheAlloc(c, GFP_KERNEL);
      kind = K_CACHE; owner = c;
    } else {
      bytes = ids.lo[e]! + ids.hi[e]! * 4294967296; // ids.wide(e), written out (see below)
      if (o === OP_KMALLOC) {
        addr = this.objects.alloc(bytes, ids.aux[e]!);
        kind = K_KMALLOC;
      } else if (this.heaps !== null) {
        // malloc in the process's own heap; the program then writes what it got (demand faults)
        const heaps = this.heaps;
        const pid = ids.aux[e]!;
        const h = heaps.heap(pid);
        addr = h === null ? -1 : h.alloc(bytes, GFP_USER);
        kind = K_USER; owner = pid;
        if (addr >= 0) {
          gen = heaps.gen[pid]!;
          this.oomPages += heaps.touch(pid, addr, bytes);
          this.userLive += bytes;
          if (this.userLive > this.userPeak) this.userPeak = this.userLive;
        }
      } else {
        // no processes: user heap events go straight to the object layer
        addr = this.objects.alloc(bytes, GFP_USER);
        kind = K_USER;
      }
    }
    if (addr < 0) { this.failed++; ids.ref[i] = S_FAILED; return; }
    // the new live object, written here rather than in a method of its own (and wide() and
    // hasRecord() written out above): V8 inlines at most 920 bytes of bytecode into one function, and
    // the strategy's alloc path needs them (issue 17: SLUB's, inlined into this one; an address above
    // 2^31 returned from a call that is not inlined is a heap number per allocation); the record, if
    // any, out of line
    const slot = kind === K_CACHE || (kind === K_USER && this.heaps !== null) ? this.newRecord(owner, gen) : 0; // hasRecord(kind)
    ids.ref[i] = S_OBJECT + ((slot << 2) | kind);
    ids.obj[2 * i] = addr; ids.obj[2 * i + 1] = bytes;
    this.reqLive += bytes;
    if (this.reqLive > this.reqPeak) this.reqPeak = this.reqLive;
  }

  /** kfree, kmem_cache_free or free of event e. */
  free(e: number): void {
    const ids = this.ids;
    if (ids.base + e >= this.aheadAt) this.touchAhead(e);
    const i = ids.id[e]!;
    const s = ids.ref[i]!;
    // loaded before the state is known (stale if the id is not a live object): the two loads miss together
    const addr = ids.obj[2 * i]!, req = ids.obj[2 * i + 1]!;
    if (s >= S_OBJECT) {
      const k = (s - S_OBJECT) & 3;
      const rec = this.rec, r = REC_STRIDE * ((s - S_OBJECT) >>> 2);
      if (k === K_CACHE) this.objects.cacheFree(rec[r]!, addr);
      else if (k === K_USER && this.heaps !== null) {
        const pid = rec[r]!;
        if (this.heaps.gen[pid] === rec[r + 1]!) this.heaps.heaps[pid]!.free(addr);
        else this.droppedAfterExit++; // its process exited: the memory went with it
        this.userLive -= req;
      } else this.objects.free(addr);
      this.reqLive -= req;
      this.release(i, s);
    } else if (s === S_FAILED) ids.ref[i] = S_FREED;
    else if (s === S_FREED) ids.doubleFree++;
    else ids.unknownFree++; // never allocated, or a live page block
  }

  realloc(e: number): void {
    const ids = this.ids;
    const i = ids.id[e]!;
    const bytes = ids.wide(e);
    const s = ids.ref[i]!;
    if (s >= S_OBJECT) {
      const user = ((s - S_OBJECT) & 3) === K_USER;
      const rec = this.rec, r = REC_STRIDE * ((s - S_OBJECT) >>> 2);
      const old = ids.obj[2 * i]!, req = ids.obj[2 * i + 1]!;
      let addr: number;
      if (user && this.heaps !== null) {
        const heaps = this.heaps;
        const pid = rec[r]!;
        if (heaps.gen[pid] !== rec[r + 1]!) { this.droppedAfterExit++; return; }
        addr = heaps.heaps[pid]!.realloc(old, bytes, GFP_USER);
        if (addr < 0) { this.failed++; return; }
        // the new block is written: the copied bytes (or the grown tail in place)
        this.oomPages += heaps.touch(pid, addr, bytes);
        this.userLive += bytes - req;
        if (this.userLive > this.userPeak) this.userPeak = this.userLive;
      } else {
        addr = this.objects.realloc(old, bytes, user ? GFP_USER : GFP_KERNEL);
      }
      if (addr < 0) { this.failed++; return; } // the old block stays live, as realloc() leaves it
      ids.obj[2 * i] = addr;
      ids.obj[2 * i + 1] = bytes;
      this.reqLive += bytes - req;
      if (this.reqLive > this.reqPeak) this.reqPeak = this.reqLive;
    } else {
      // realloc of a pointer that is not live: counted, then served as a malloc (as realloc(NULL, n)
      // and the malloc-lab driver do), so the trace's later free of it is not a second error.
      // After a failed allocation the program holds NULL, and realloc(NULL, n) is no error at all.
      // With processes that malloc is the process's own (it used to go to the kernel object layer
      // and its later free to the user heap: the wrong allocator).
      if (s !== S_FAILED) ids.reallocUnknown++;
      if (s < 0) return; // the id is a live page block: leave it be
      this.alloc(e, OP_MALLOC);
    }
  }
}
