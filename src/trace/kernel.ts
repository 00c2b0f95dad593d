/**
 * Loader for kernel tracepoint text: ftrace (`trace`, `trace_pipe`), `perf script` and
 * `trace-cmd report` output of the kmem and x86 exceptions events (DESIGN.md §2).
 *
 * Prefixes read (task names may hold spaces and colons, so the parser anchors on `[cpu]` and the
 * `secs.usecs:` timestamp, never on the name):
 *   ftrace     `comm-pid [cpu] d..1. secs.usecs: event: fields`  (flags column optional, `(tgid)` column optional)
 *   perf       `comm tid [cpu] secs.usecs: kmem:event: fields`   (also `pid/tid`, an optional period column)
 *   trace-cmd  `comm-pid [cpu] secs.usecs: event: fields`        (latency columns optional)
 * Recorded pfns and pointers become dense ids (AddrMap on typed arrays; no per-line substrings in
 * the common path). Unknown events are skipped and counted in `trace.stats`.
 */
import { TraceFormatError } from '../errors.js';
import { parseGfp, __GFP_RECLAIMABLE } from '../machine/gfp.js';
import {
  CACHE_RECLAIMABLE, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_EXTFRAG, OP_FAULT, OP_KFREE,
  OP_KMALLOC, OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE, packExtfrag,
} from './ops.js';
import { TraceBuilder, isStorableValue, type Trace } from './trace.js';
import {
  AddrMap, PTR, PTR_BAD, PTR_NULL, TokenCache, fieldValue, isBlank, parseDec, parseNum, parsePtr,
  skipBlanks, tokenEnd,
} from './kernel-events.js';

/** States kept in the pfn map for blocks that are no longer live (live blocks store their id ≥ 0). */
const FREED_PLAIN = -3; // freed by mm_page_free; a following mm_page_free_batched is the same free
const FREED_BATCHED = -4; // freed by mm_page_free_batched; a following mm_page_free is the same free
const FREED_PAIRED = -5; // both reports seen

/** Recorded pids below this map to themselves; larger ones (pid_max up to 4M) get dense numbers above them. */
const PID_DIRECT = 1 << 20;
/** x86-64: user addresses are below 2^47; anything above is a kernel address. */
const USER_TOP_HI = 0x8000;
const TWO32 = 4294967296;
/** Orders above this are not a real buddy order on any architecture (arm64 tops out near 13). */
const MAX_RECORDED_ORDER = 20;

const EXPECT_PREFIX = 'a trace line "comm-pid [cpu] secs.usecs: event: fields"';

/**
 * Lines in `text`, estimated from the first MiB, plus slack: the builder's capacity. A close
 * estimate matters: the columns are large array buffers, and allocating far more than needed
 * (external memory) makes V8 run full collections of the whole heap during the parse.
 */
function estimateLines(text: string): number {
  const n = text.length;
  const m = Math.min(n, 1 << 20);
  let lines = 0;
  for (let p = text.indexOf('\n'); p >= 0 && p < m; p = text.indexOf('\n', p + 1)) lines++;
  return Math.max(1024, Math.ceil(m === n ? lines + 1 : (lines * 1.05 * n) / m) + 1024);
}

/** Whether s[p, e) equals `word`. */
function is(s: string, p: number, e: number, word: string): boolean {
  return e - p === word.length && s.startsWith(word, p);
}

/**
 * Whether `head` (the start of a file) looks like kernel tracepoint text: used by the format table's
 * content sniff for `.txt` and other ambiguous names.
 */
export function looksLikeKernelTrace(head: string): boolean {
  if (/^# tracer:/m.test(head) || /^cpus=\d+/m.test(head)) return true;
  return /\[\d+\][^\n]*?\d+(\.\d+)?: +(\w+:)?(mm_page_\w+|kmalloc\w*|kfree|kmem_cache_\w+|page_fault_\w+|tracing_mark_write|print):/.test(head);
}

/**
 * Which layers of a kernel recording to keep. A recording with both slab and page events holds the
 * slab allocator's own slab pages twice: as the kmem_cache_alloc/kmalloc objects and as the
 * mm_page_alloc of the slab page that holds them (allocate_slab() → alloc_pages() in mm/slub.c). A
 * replay of both through a simulated object layer, which takes its own slab pages from the
 * simulated page allocator, counts slab pages twice. Convention (docs/kernel-recordings.md):
 *   'all'     (default) every event; the trace's stats say how many page and object events it has
 *   'pages'   page events (and faults, marks, extfrag) only: the real kernel's page-level stream,
 *             slab pages included, for comparing page strategies with the real buddy allocator
 *   'objects' slab events (and faults, marks, extfrag) only: the object layer makes its own pages
 */
export type KernelLayers = 'all' | 'pages' | 'objects';

export interface KernelTraceOptions {
  layers?: KernelLayers;
}

class KernelParser {
  readonly b: TraceBuilder;
  private readonly keepPages: boolean;
  private readonly keepObjects: boolean;
  private droppedEvents = 0;
  private readonly pages = new AddrMap(1 << 14);
  private readonly objects = new AddrMap(1 << 14);
  private readonly bigPids = new AddrMap(16);
  private readonly gfpCache = new TokenCache(10);
  private readonly nameCache = new TokenCache(10);
  private readonly sizeCache = new TokenCache(8);
  /** per id: the order of a page block, or the cache index of an object (-1 for kmalloc) */
  private info: Int32Array;
  private bigPidCount = 0;
  private maxSmallPid = -1;
  private line = 0;
  private lineStart = 0;
  private lineEnd = 0;
  private prefixStart = 0;
  private prefixEnd = 0;

  // side counts (trace.stats)
  private unknownEvents = 0;
  private failedAllocs = 0;
  private kernelFaults = 0;
  private duplicateBatched = 0;
  private impliedFrees = 0;
  private nullFrees = 0;
  private callchainLines = 0;
  private unknownGfpNames = 0;

  constructor(readonly text: string, readonly file: string, name: string, layers: KernelLayers = 'all') {
    const events = estimateLines(text);
    this.b = new TraceBuilder(name, file, events);
    this.info = new Int32Array(events); // ids are at most events (implied frees aside): setInfo grows it then
    this.keepPages = layers !== 'objects';
    this.keepObjects = layers !== 'pages';
  }

  private fail(expected: string): never {
    throw new TraceFormatError(this.file, this.line, this.text.slice(this.lineStart, this.lineEnd), expected);
  }

  run(): Trace {
    const s = this.text;
    const n = s.length;
    let pos = 0;
    // a UTF-8 BOM from an editor is not part of the first line
    if (n > 0 && s.charCodeAt(0) === 0xfeff) pos = 1;
    while (pos < n) {
      let end = s.indexOf('\n', pos);
      if (end < 0) end = n;
      this.line++;
      let e = end;
      if (e > pos && s.charCodeAt(e - 1) === 13) e--;
      this.lineStart = pos;
      this.lineEnd = e;
      this.parseLine(pos, e);
      pos = end + 1;
    }
    this.finishPids();
    const b = this.b;
    b.stats = {
      skipped_unknown_events: this.unknownEvents,
      recorded_failed_allocs: this.failedAllocs,
      kernel_faults_skipped: this.kernelFaults,
      duplicate_batched_frees: this.duplicateBatched,
      implied_frees: this.impliedFrees,
      null_frees: this.nullFrees,
      callchain_lines: this.callchainLines,
      unknown_gfp_names: this.unknownGfpNames,
    };
    if (this.droppedEvents > 0) b.stats.dropped_other_layer_events = this.droppedEvents;
    return b.finish();
  }

  /** Whether s[p, te) is a timestamp token `digits[.digits]:`. */
  private static isTimestamp(s: string, p: number, te: number): boolean {
    if (te - p < 2 || s.charCodeAt(te - 1) !== 58) return false;
    let dot = false;
    for (let i = p; i < te - 1; i++) {
      const c = s.charCodeAt(i);
      if (c === 46) { if (dot || i === p) return false; dot = true; } else if (c < 48 || c > 57) return false;
    }
    return s.charCodeAt(te - 2) !== 46;
  }

  /**
   * End of the token at t when it is a timestamp `digits[.digits]:` (as isTimestamp would judge
   * it), else -1: one pass over the token instead of tokenEnd then isTimestamp.
   */
  private static timestampEnd(s: string, t: number, e: number): number {
    let i = t;
    let c = 0;
    while (i < e) { c = s.charCodeAt(i); if (c < 48 || c > 57) break; i++; }
    if (i === t || i === e) return -1;
    if (c === 46) {
      const d = ++i;
      while (i < e) { c = s.charCodeAt(i); if (c < 48 || c > 57) break; i++; }
      if (i === d || i === e) return -1;
    }
    if (c !== 58) return -1;
    i++;
    return i === e || isBlank(s.charCodeAt(i)) ? i : -1;
  }

  /**
   * Finds the timestamp; returns the index just past its ':' (or -1) and sets prefixStart/End to the
   * task part (comm and pid/tid, with any `(tgid)` column) for faults to read their pid from.
   */
  private findTimestamp(s: string, p: number, e: number): number {
    // With a `[cpu]` column: the timestamp is the next token, or the one after a flags column.
    let q = s.indexOf('[', p);
    while (q >= 0 && q < e) {
      let r = q + 1;
      while (r < e) { const c = s.charCodeAt(r); if (c < 48 || c > 57) break; r++; }
      if (r > q + 1 && r < e && s.charCodeAt(r) === 93 && r + 1 < e && isBlank(s.charCodeAt(r + 1))) {
        let t = skipBlanks(s, r + 1, e);
        for (let k = 0; k < 2 && t < e; k++) {
          const te = KernelParser.timestampEnd(s, t, e);
          if (te >= 0) {
            this.prefixStart = p; this.prefixEnd = q;
            return te;
          }
          t = skipBlanks(s, tokenEnd(s, t, e), e);
        }
      }
      q = s.indexOf('[', q + 1);
    }
    // No cpu column (some perf -F layouts, trace-cmd -l latency format): the first timestamp-shaped
    // token after the task; a latency column like `1d..1` just before it is dropped.
    let t = tokenEnd(s, p, e); // the task name's first word is never the timestamp
    let prevStart = -1;
    while (t < e) {
      t = skipBlanks(s, t, e);
      const te = tokenEnd(s, t, e);
      if (te > t && KernelParser.isTimestamp(s, t, te)) {
        let pe = t;
        if (prevStart > p) {
          const c0 = s.charCodeAt(prevStart);
          const c1 = s.charCodeAt(prevStart + 1);
          // latency column: cpu digit(s) then irq flag chars, e.g. `0d.h1`, `3...1`
          if (c0 >= 48 && c0 <= 57 && !(c1 >= 48 && c1 <= 57) && c1 !== 47) pe = prevStart;
        }
        this.prefixStart = p; this.prefixEnd = pe;
        return te;
      }
      prevStart = t;
      t = te;
    }
    return -1;
  }

  private parseLine(p0: number, e: number): void {
    const s = this.text;
    const p = skipBlanks(s, p0, e);
    if (p === e) return;
    const c = s.charCodeAt(p);
    if (c === 35) return; // '#' comment and header lines of ftrace
    const ts = this.findTimestamp(s, p, e);
    if (ts < 0) {
      if (c === 67 && s.startsWith('CPU ', p) && s.indexOf(' is empty', p) > 0) return; // trace-cmd
      if (c === 99 && s.startsWith('cpus=', p)) return; // trace-cmd header
      if (s.startsWith('version = ', p)) return; // trace-cmd header
      if (p > p0 && this.isCallchain(s, p, e)) { this.callchainLines++; return; }
      this.fail(EXPECT_PREFIX);
    }
    // event name: optional perf period column, then `[subsys:]name:`
    let q = skipBlanks(s, ts, e);
    let te = tokenEnd(s, q, e);
    if (te < e && te > q && s.charCodeAt(te - 1) !== 58 && parseDec(s, q, te) >= 0) {
      q = skipBlanks(s, te, e);
      te = tokenEnd(s, q, e);
    }
    if (te === q || s.charCodeAt(te - 1) !== 58) this.fail('an event name ending in ":" after the timestamp');
    let ns = q;
    const ne = te - 1;
    for (let i = ne - 1; i > q; i--) if (s.charCodeAt(i) === 58) { ns = i + 1; break; }
    const f = te; // fields start (leading blank is fine for fieldValue)
    const len = ne - ns;
    if (!(this.keepPages && this.keepObjects) && this.otherLayer(s, ns, ne, len)) { this.droppedEvents++; return; }
    switch (len) {
      case 16:
        if (is(s, ns, ne, 'kmem_cache_alloc')) return this.cacheAlloc(s, f, e);
        break;
      case 15:
        if (is(s, ns, ne, 'kmem_cache_free')) return this.cacheFree(s, f, e);
        if (is(s, ns, ne, 'page_fault_user')) return this.fault(s, f, e);
        break;
      case 21:
        if (is(s, ns, ne, 'kmem_cache_alloc_node')) return this.cacheAlloc(s, f, e);
        if (is(s, ns, ne, 'mm_page_alloc_extfrag')) return this.extfrag(s, f, e);
        break;
      case 7:
        if (is(s, ns, ne, 'kmalloc')) return this.kmalloc(s, f, e);
        break;
      case 12:
        if (is(s, ns, ne, 'kmalloc_node')) return this.kmalloc(s, f, e);
        if (is(s, ns, ne, 'mm_page_free')) return this.pageFree(s, f, e, false);
        break;
      case 5:
        if (is(s, ns, ne, 'kfree')) return this.kfree(s, f, e);
        if (is(s, ns, ne, 'print')) return this.mark(s, f, e);
        break;
      case 13:
        if (is(s, ns, ne, 'mm_page_alloc')) return this.pageAlloc(s, f, e);
        break;
      case 20:
        if (is(s, ns, ne, 'mm_page_free_batched')) return this.pageFree(s, f, e, true);
        break;
      case 19:
        if (is(s, ns, ne, 'mm_page_free_direct')) return this.pageFree(s, f, e, false); // name before 3.3
        break;
      case 14:
        if (is(s, ns, ne, 'mm_pagevec_free')) return this.pageFree(s, f, e, true); // name before 3.3
        break;
      case 17:
        if (is(s, ns, ne, 'page_fault_kernel')) return this.fault(s, f, e);
        break;
      case 18:
        if (is(s, ns, ne, 'tracing_mark_write')) return this.mark(s, f, e);
        break;
    }
    this.unknownEvents++;
  }

  /** Whether event name s[ns, ne) belongs to the layer that the `layers` option leaves out. */
  private otherLayer(s: string, ns: number, ne: number, len: number): boolean {
    const page = (len === 13 && is(s, ns, ne, 'mm_page_alloc')) || (len === 12 && is(s, ns, ne, 'mm_page_free')) ||
      (len === 20 && is(s, ns, ne, 'mm_page_free_batched')) || (len === 19 && is(s, ns, ne, 'mm_page_free_direct')) ||
      (len === 14 && is(s, ns, ne, 'mm_pagevec_free'));
    if (page) return !this.keepPages;
    const obj = (len === 16 && is(s, ns, ne, 'kmem_cache_alloc')) || (len === 15 && is(s, ns, ne, 'kmem_cache_free')) ||
      (len === 21 && is(s, ns, ne, 'kmem_cache_alloc_node')) || (len === 7 && is(s, ns, ne, 'kmalloc')) ||
      (len === 12 && is(s, ns, ne, 'kmalloc_node')) || (len === 5 && is(s, ns, ne, 'kfree'));
    return obj && !this.keepObjects;
  }

  /** A perf callchain line: an address in hex, then a symbol (`ffffffff811a3b4c __alloc_pages+0x1ac (...)`). */
  private isCallchain(s: string, p: number, e: number): boolean {
    const te = tokenEnd(s, p, e);
    if (te === p || te === e) return false;
    for (let i = p; i < te; i++) {
      const c = s.charCodeAt(i) | 32;
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
    }
    return true;
  }

  // ---- field access ----

  private valEnd = 0;

  /** Start of a required field's value (valEnd set to its end). */
  private req(s: string, key: string, f: number, e: number): number {
    const v = fieldValue(s, key, f, e);
    if (v < 0) this.fail(`a ${key} field`);
    this.valEnd = tokenEnd(s, v, e);
    return v;
  }

  private num(s: string, key: string, f: number, e: number): number {
    const v = this.req(s, key, f, e);
    const x = parseNum(s, v, this.valEnd);
    if (!(x >= 0) || !Number.isSafeInteger(x)) this.fail(`${key} an unsigned integer below 2^53`);
    return x;
  }

  private order(s: string, key: string, f: number, e: number): number {
    const o = this.num(s, key, f, e);
    if (o > MAX_RECORDED_ORDER) this.fail(`${key} a page order 0..${MAX_RECORDED_ORDER}`);
    return o;
  }

  private gfp(s: string, f: number, e: number): number {
    const v = this.req(s, 'gfp_flags=', f, e);
    const ve = this.valEnd;
    const cached = this.gfpCache.get(s, v, ve);
    if (cached === cached) return cached; // not NaN
    const text = s.slice(v, ve);
    let g = parseGfp(text);
    if (g === -1) {
      // flags newer than gfp.ts knows (renamed across 6.x) are dropped, not fatal
      g = 0;
      for (const part of text.split('|')) {
        // kernels before 4.10 printed the single flags without the underscores (GFP_NOWARN)
        let x = parseGfp(part);
        if (x === -1 && part.startsWith('GFP_')) x = parseGfp(`__${part}`);
        if (x === -1) this.unknownGfpNames++;
        else g |= x;
      }
    }
    this.gfpCache.put(s, v, ve, g);
    return g;
  }

  /** Parses a pointer field into PTR; returns PTR_OK / PTR_NULL (fails the line when malformed). */
  private ptr(s: string, key: string, f: number, e: number): number {
    const v = this.req(s, key, f, e);
    const r = parsePtr(s, v, this.valEnd);
    if (r === PTR_BAD) this.fail(`${key} a pointer (hex, (null) or 0x0)`);
    return r;
  }

  private setInfo(id: number, v: number): void {
    if (id >= this.info.length) {
      const a = new Int32Array(this.info.length * 2);
      a.set(this.info);
      this.info = a;
    }
    this.info[id] = v;
  }

  // ---- page events ----

  /** Sets PTR to the block key: the pfn, or the struct page pointer on kernels that print no pfn. Returns false for a failed alloc. */
  private pageKey(s: string, f: number, e: number): boolean {
    const v = fieldValue(s, 'pfn=', f, e);
    if (v >= 0) {
      const ve = tokenEnd(s, v, e);
      // failed alloc: 6.x prints pfn=0x0 (pfn -1UL mapped to 0), older kernels pfn=0 or a raw -1
      if (s.charCodeAt(v) === 45) { if (is(s, v, ve, '-1')) return false; this.fail('pfn= an unsigned integer'); }
      const r = s.charCodeAt(v) === 48 && (s.charCodeAt(v + 1) | 32) === 120 ? parsePtr(s, v, ve) : -2;
      if (r === -2) {
        const x = parseDec(s, v, ve);
        if (!(x >= 0) || !Number.isSafeInteger(x)) {
          if (ve - v === 20 && s.startsWith('18446744073709551615', v)) return false;
          this.fail('pfn= an unsigned integer below 2^53');
        }
        if (x === 0) return false;
        PTR[0] = Math.floor(x / TWO32); PTR[1] = x % TWO32;
        return true;
      }
      if (r === PTR_BAD) this.fail('pfn= a hex page frame number');
      if (r === PTR_NULL) return false;
      if (PTR[0] === 0xffffffff && PTR[1] === 0xffffffff) return false;
      return true;
    }
    return this.ptr(s, 'page=', f, e) !== PTR_NULL;
  }

  private pageAlloc(s: string, f: number, e: number): void {
    const ord = this.order(s, 'order=', f, e);
    const gfp = this.gfp(s, f, e);
    const pageField = fieldValue(s, 'page=', f, e);
    if (pageField >= 0) {
      const r = parsePtr(s, pageField, tokenEnd(s, pageField, e));
      if (r === PTR_NULL) { this.failedAllocs++; return; }
    }
    if (!this.pageKey(s, f, e)) { this.failedAllocs++; return; }
    const b = this.b;
    const pages = this.pages;
    const slot = pages.lookup(PTR[0]!, PTR[1]!);
    const id = b.newId();
    this.setInfo(id, ord);
    if (slot >= 0) {
      const old = pages.valueAt(slot);
      if (old >= 0) {
        // the block was reused, so its free was lost (ring-buffer overrun): replay the implied free
        b.push(OP_PAGE_FREE, old, this.info[old]!, 0);
        this.impliedFrees++;
      }
      pages.setAt(slot, id);
    } else pages.insertAt(-1 - slot, PTR[0]!, PTR[1]!, id);
    b.push(OP_PAGE_ALLOC, id, ord, gfp);
  }

  /**
   * mm_page_free / mm_page_free_batched. One free can be reported twice: free_unref_page_list()
   * (free_unref_folios() from 6.9) runs free_pages_prepare() → trace_mm_page_free() over the whole
   * list first and then logs trace_mm_page_free_batched() per page as it commits it to the pcp
   * list; kernels before 4.15 (free_hot_cold_page_list) logged them the other way round. So a
   * report of the other kind for a block just freed by the first kind is the same free, swallowed.
   */
  private pageFree(s: string, f: number, e: number, batched: boolean): void {
    // mm_page_free_batched prints order=0 (older ones print none); the alloc's order is what replays
    const ord = fieldValue(s, 'order=', f, e) >= 0 ? this.order(s, 'order=', f, e) : 0;
    if (!this.pageKey(s, f, e)) this.fail('pfn= a non-zero page frame number');
    const pages = this.pages;
    const slot = pages.lookup(PTR[0]!, PTR[1]!);
    const st = slot >= 0 ? pages.valueAt(slot) : FREED_PAIRED;
    const b = this.b;
    const freed = batched ? FREED_BATCHED : FREED_PLAIN;
    if (st >= 0) {
      b.push(OP_PAGE_FREE, st, ord, 0);
      pages.setAt(slot, freed);
      return;
    }
    if (st === (batched ? FREED_PLAIN : FREED_BATCHED)) {
      pages.setAt(slot, FREED_PAIRED);
      this.duplicateBatched++;
      return;
    }
    // not live: still a free, of an id never allocated, which the replay counts as a trace error
    b.push(OP_PAGE_FREE, b.newId(), ord, 0);
    if (slot >= 0) pages.setAt(slot, freed);
    else pages.insertAt(-1 - slot, PTR[0]!, PTR[1]!, freed);
  }

  private extfrag(s: string, f: number, e: number): void {
    const allocOrder = this.order(s, 'alloc_order=', f, e);
    const fallbackOrder = this.order(s, 'fallback_order=', f, e);
    const allocMt = this.num(s, 'alloc_migratetype=', f, e);
    const fallbackMt = this.num(s, 'fallback_migratetype=', f, e);
    const fragmenting = this.num(s, 'fragmenting=', f, e);
    const change = fieldValue(s, 'change_ownership=', f, e) >= 0 ? this.num(s, 'change_ownership=', f, e) : 0;
    this.b.push(OP_EXTFRAG, 0, fallbackOrder, packExtfrag(allocOrder, allocMt, fallbackMt, fragmenting !== 0, change !== 0));
  }

  // ---- object events ----

  /** Maps a new object at PTR to a fresh id (an implied free first when the address is still live). */
  private newObject(cache: number): number {
    const objects = this.objects;
    const slot = objects.lookup(PTR[0]!, PTR[1]!);
    const id = this.b.newId();
    this.setInfo(id, cache);
    if (slot >= 0) {
      // still live: its free was lost (ring-buffer overrun), so replay the implied free first
      this.emitObjectFree(objects.valueAt(slot));
      this.impliedFrees++;
      objects.setAt(slot, id);
    } else objects.insertAt(-1 - slot, PTR[0]!, PTR[1]!, id);
    return id;
  }

  /** Frees a live object with the op of its allocation (kfree of a cache object is legal since 6.4). */
  private emitObjectFree(id: number): void {
    const c = this.info[id]!;
    if (c >= 0) this.b.push(OP_CACHE_FREE, id, 0, c);
    else this.b.push(OP_KFREE, id, 0, 0);
  }

  private kmalloc(s: string, f: number, e: number): void {
    const r = this.ptr(s, 'ptr=', f, e);
    const bytes = this.num(s, 'bytes_req=', f, e);
    if (!isStorableValue(bytes)) this.fail('bytes_req= a size below 2^48');
    const gfp = this.gfp(s, f, e);
    if (r === PTR_NULL) { this.failedAllocs++; return; }
    const id = this.newObject(-1);
    this.b.push(OP_KMALLOC, id, bytes, gfp);
  }

  private kfree(s: string, f: number, e: number): void {
    if (this.ptr(s, 'ptr=', f, e) === PTR_NULL) { this.nullFrees++; return; } // kfree(NULL) is a no-op
    const id = this.objects.take(PTR[0]!, PTR[1]!);
    if (id >= 0) this.emitObjectFree(id);
    else this.b.push(OP_KFREE, this.b.newId(), 0, 0);
  }

  /** Cache index for a kmem_cache_alloc: by `name=` (6.x) or, without it, one cache per bytes_alloc. */
  private cacheFor(s: string, f: number, e: number, bytesAlloc: number, gfp: number): number {
    const b = this.b;
    const v = fieldValue(s, 'name=', f, e);
    let p: number, pe: number, cache: TokenCache, name: string;
    if (v >= 0) {
      p = v; pe = tokenEnd(s, v, e); cache = this.nameCache;
      const hit = cache.get(s, p, pe);
      if (hit === hit) return hit;
      name = s.slice(p, pe);
    } else {
      p = this.req(s, 'bytes_alloc=', f, e); pe = this.valEnd; cache = this.sizeCache;
      const hit = cache.get(s, p, pe);
      if (hit === hit) return hit;
      name = `cache-${bytesAlloc}`;
    }
    // a TokenCache slot can be evicted by a collision: fall back to a scan of the definitions
    let idx = b.caches.findIndex((c) => c.name === name);
    if (idx < 0) {
      // SLAB_RECLAIM_ACCOUNT caches allocate with __GFP_RECLAIMABLE (mm/slub.c allocate_slab via s->allocflags)
      idx = b.addCache({ name, size: bytesAlloc, align: 0, flags: gfp & __GFP_RECLAIMABLE ? CACHE_RECLAIMABLE : 0 });
      b.push(OP_CACHE_CREATE, idx, 0, 0);
    }
    cache.put(s, p, pe, idx);
    return idx;
  }

  private cacheAlloc(s: string, f: number, e: number): void {
    const r = this.ptr(s, 'ptr=', f, e);
    const bytesReq = this.num(s, 'bytes_req=', f, e);
    const bytesAlloc = this.num(s, 'bytes_alloc=', f, e);
    if (!isStorableValue(bytesAlloc) || !isStorableValue(bytesReq)) this.fail('bytes_req=/bytes_alloc= sizes below 2^48');
    const gfp = this.gfp(s, f, e);
    if (r === PTR_NULL) { this.failedAllocs++; return; }
    const cache = this.cacheFor(s, f, e, bytesAlloc, gfp);
    const id = this.newObject(cache);
    this.b.push(OP_CACHE_ALLOC, id, 0, cache);
  }

  private cacheFree(s: string, f: number, e: number): void {
    if (this.ptr(s, 'ptr=', f, e) === PTR_NULL) { this.nullFrees++; return; }
    const id = this.objects.take(PTR[0]!, PTR[1]!);
    if (id >= 0) { this.emitObjectFree(id); return; }
    // unknown object: a counted error in the replay; name its cache when the trace defined it
    const b = this.b;
    const v = fieldValue(s, 'name=', f, e);
    const c = v >= 0 ? this.nameCache.get(s, v, tokenEnd(s, v, e)) : NaN;
    if (c === c) b.push(OP_CACHE_FREE, b.newId(), 0, c);
    else b.push(OP_KFREE, b.newId(), 0, 0);
  }

  // ---- faults and marks ----

  private fault(s: string, f: number, e: number): void {
    const r = this.ptr(s, 'address=', f, e);
    const code = this.num(s, 'error_code=', f, e);
    const hi = r === PTR_NULL ? 0 : PTR[0]!, lo = r === PTR_NULL ? 0 : PTR[1]!;
    if (hi >= USER_TOP_HI) { this.kernelFaults++; return; }
    const addr = hi * TWO32 + lo;
    const pid = this.pid();
    // X86_PF_WRITE is bit 1 of the page fault error code (arch/x86/include/asm/trap_pf.h)
    this.b.push(OP_FAULT, pid, addr, code & 2 ? 1 : 0);
  }

  /** Pid of the current line: `(tgid)` column when present, else perf `pid/tid` or `tid`, else ftrace `comm-pid`. */
  private pid(): number {
    const s = this.text;
    let p = this.prefixStart;
    let e = this.prefixEnd;
    while (e > p && isBlank(s.charCodeAt(e - 1))) e--;
    if (e > p && s.charCodeAt(e - 1) === 41) { // ')' : ftrace's `(tgid)` column (options/record-tgid)
      const open = s.lastIndexOf('(', e - 1);
      if (open >= p) {
        const a = skipBlanks(s, open + 1, e - 1);
        let z = e - 1;
        while (z > a && isBlank(s.charCodeAt(z - 1))) z--;
        const tgid = parseDec(s, a, z);
        e = open;
        while (e > p && isBlank(s.charCodeAt(e - 1))) e--;
        if (tgid >= 0) return this.mapPid(tgid);
      }
    }
    let t = e;
    while (t > p && !isBlank(s.charCodeAt(t - 1))) t--;
    let pid = parseDec(s, t, e);
    if (!(pid >= 0) && t > p) {
      const slash = s.indexOf('/', t);
      if (slash > t && slash < e) pid = parseDec(s, t, slash); // perf `pid/tid`: the process
    }
    if (!(pid >= 0) || t === p) {
      const dash = s.lastIndexOf('-', e - 1);
      pid = dash >= t ? parseDec(s, dash + 1, e) : NaN;
    }
    if (!(pid >= 0) || !Number.isSafeInteger(pid)) this.fail('a task "comm-pid" or "comm pid" before the cpu column');
    return this.mapPid(pid);
  }

  private mapPid(pid: number): number {
    if (pid < PID_DIRECT) {
      if (pid > this.maxSmallPid) this.maxSmallPid = pid;
      return pid;
    }
    // parked as a negative placeholder; finishPids() numbers them above the largest direct pid
    let k = this.bigPids.get(Math.floor(pid / TWO32), pid % TWO32);
    if (k < 0) { k = this.bigPidCount++; this.bigPids.set(Math.floor(pid / TWO32), pid % TWO32, k); }
    return -1 - k;
  }

  private finishPids(): void {
    const b = this.b;
    const base = this.maxSmallPid + 1;
    let top = this.maxSmallPid;
    if (this.bigPidCount > 0) {
      for (let i = 0; i < b.length; i++) {
        if (b.op[i] === OP_FAULT && b.id[i]! < 0) b.id[i] = base + (-1 - b.id[i]!);
      }
      top = base + this.bigPidCount - 1;
    }
    if (top >= 0) b.notePid(top);
  }

  private mark(s: string, f: number, e: number): void {
    let p = skipBlanks(s, f, e);
    // trace-cmd / perf show the print event as `print: tracing_mark_write: text` or `ip=... buf=text`
    if (s.startsWith('tracing_mark_write: ', p)) p += 20;
    else {
      const buf = fieldValue(s, 'buf=', p, e);
      if (s.startsWith('ip=', p) && buf >= 0) p = buf;
    }
    let z = e;
    while (z > p && isBlank(s.charCodeAt(z - 1))) z--;
    if (z - p >= 2 && s.charCodeAt(z - 2) === 92 && s.charCodeAt(z - 1) === 110) z -= 2; // a printed "\n"
    this.b.push(OP_MARK, 0, 0, this.b.intern(s.slice(p, z)));
  }
}

/**
 * Parses ftrace / perf script / trace-cmd report text into a Trace (`options.layers`: see
 * KernelLayers; the default keeps every event). Malformed lines throw
 * TraceFormatError; unknown events, failed recorded allocations, kernel-address faults and the
 * second report of a batched page free are skipped and counted in `trace.stats`.
 */
export function parseKernelTrace(text: string, file: string, name?: string, options: KernelTraceOptions = {}): Trace {
  const base = name ?? (file.split(/[\\/]/).pop() ?? file).replace(/\.(perf|ftrace|trace|txt)(\.gz)?$/, '');
  return new KernelParser(text, file, base, options.layers ?? 'all').run();
}
