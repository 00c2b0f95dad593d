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
 * Speed: the parser reads the file's bytes, not a JS string: a byte costs about half a charCodeAt
 * here, and the UTF-8 decode of the whole file (~100 ns a line) disappears (a string argument is
 * encoded once). Buffer.indexOf with a string needle costs twice a string indexOf, so only the
 * line end is found with indexOf (memchr); the fields of a line are read in one pass of
 * tokens (field), each value once (scanPtr / scanNum), names and repeated tokens by byte compares
 * (knownEvent, TokenCache.getToken). knownEvent reads the common events' names as ftrace and
 * trace-cmd print them (`kmalloc:`) and as perf script does (`kmem:kmalloc:`,
 * `exceptions:page_fault_user:`); every other event token takes the general path (eventName /
 * eventCode: a Map lookup per candidate name): other tracepoints, which are counted and skipped,
 * the rarer events (kmem_cache_alloc_node, extfrag, marks, pre-3.3 names), perf's period column and
 * other subsystem prefixes. Text that leaves the parser (cache names, marks, gfp names, the line
 * of an error) is decoded as UTF-8, token by token, so it is the text a decoded string would have
 * given.
 */
import { STRUCT_PAGE_BYTES } from '../machine/page-geometry.js';
import { AllocbenchError, TraceFormatError } from '../errors.js';
import { parseGfpLenient, __GFP_RECLAIMABLE, ZONE_MOVABLE } from '../machine/gfp.js';
import { zoneOfPfn } from '../machine/zones.js';
import {
  CACHE_RECLAIMABLE, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_EXTFRAG, OP_FAULT, OP_TICK, OP_KFREE,
  OP_KMALLOC, OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_PCP_DRAIN, OP_RECLAIM_BEGIN, OP_RECLAIM_END, PAGE_PIECE,
  compactionTargetGfp, packExtfrag,
} from './ops.js';
import { CompactionTargets } from './compaction-targets.js';
import { snapshotWindow } from './snapshot-window.js';
import { vmallocAreas, type VmallocArea } from './vmalloc-areas.js';
import { TraceBuilder, isStorableValue, type Trace } from './trace.js';
import { AttributionInput, attribute, layerView, type KernelLayers } from './attribution.js';
import {
  AddrMap, PTR, PTR_BAD, PTR_NULL, PTR_OK, TokenCache, bytesAt, bytesIs, fieldValueBytes as fieldValue, isBlank,
  parseDecBytes as parseDec, scanEnd, scanNum, scanPtr, skipBlankBytes as skipBlanks, tokenEndBytes as tokenEnd,
  type Bytes,
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

/**
 * Ticks emitted for one gap between timestamps: 64 decay_pcp_high() steps of an eighth take pcp->high
 * from high_max to high_min for any high_max/high_min below (8/7)^64 ≈ 5000 (a 1 TiB zone's is ~800),
 * after which further ticks change nothing.
 */
const MAX_TICKS = 64;

/** Events the parser handles (EV_NONE: any other name). */
const EV_NONE = 0, EV_CACHE_ALLOC = 1, EV_CACHE_FREE = 2, EV_KMALLOC = 3, EV_KFREE = 4, EV_PAGE_ALLOC = 5,
  EV_PAGE_FREE = 6, EV_PAGE_FREE_BATCHED = 7, EV_EXTFRAG = 8, EV_FAULT = 9, EV_MARK = 10, EV_PCPU_DRAIN = 11,
  EV_ISOLATE = 12, EV_ISOLATE_RET = 13, EV_KSWAPD_WAKE = 14, EV_KSWAPD_SLEEP = 15, EV_BALANCE_RET = 16,
  EV_COMPACTION_END = 17;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const ascii = (t: string): Buffer => Buffer.from(t, 'latin1');

/** The token of each event that knownEvent reads (EV_ code → `name:`). */
const EVENT_TOKENS = ['', 'kmem_cache_alloc:', 'kmem_cache_free:', 'kmalloc:', 'kfree:', 'mm_page_alloc:', 'mm_page_free:',
  'mm_page_free_batched:', '', 'page_fault_user:', '', 'mm_page_pcpu_drain:'].map(ascii);

/** Field keys the handlers read (K_* index them). */
const KEYS = ['ptr=', 'bytes_req=', 'bytes_alloc=', 'gfp_flags=', 'name=', 'page=', 'pfn=', 'order=', 'address=',
  'error_code=', 'alloc_order=', 'fallback_order=', 'alloc_migratetype=', 'fallback_migratetype=', 'fragmenting=',
  'change_ownership=', 'vmemmap_base=', 'ret=', 'zid=', 'zone_start=', 'status='];
const KEY_BYTES = KEYS.map(ascii);
/** per first byte of a field: the K_ codes of the keys starting with it */
const KEYS_BY_FIRST: number[][] = Array.from({ length: 256 }, (_, c) => KEYS.flatMap((k, i) => (k.charCodeAt(0) === c ? [i] : [])));
const K_PTR = 0, K_BYTES_REQ = 1, K_BYTES_ALLOC = 2, K_GFP = 3, K_NAME = 4, K_PAGE = 5, K_PFN = 6, K_ORDER = 7,
  K_ADDRESS = 8, K_ERROR_CODE = 9, K_ALLOC_ORDER = 10, K_FALLBACK_ORDER = 11, K_ALLOC_MT = 12, K_FALLBACK_MT = 13,
  K_FRAGMENTING = 14, K_CHANGE = 15, K_VMEMMAP_BASE = 16, K_RET = 17, K_ZID = 18, K_ZONE_START = 19, K_STATUS = 20;

/** TokenCache call sites (TokenCache.getToken) */
const SITE_KMALLOC = 0, SITE_CACHE_ALLOC = 1, SITE_PAGE_ALLOC = 2, SITE_CACHE_FREE = 3;

const EXPECT_PREFIX = 'a trace line "comm-pid [cpu] secs.usecs: event: fields"';

/**
 * Lines in `text`, estimated from the first MiB, plus slack: the builder's capacity. A close
 * estimate matters: the columns are large array buffers, and allocating far more than needed
 * (external memory) makes V8 run full collections of the whole heap during the parse.
 */
function estimateLines(text: Bytes): number {
  const n = text.length;
  const m = Math.min(n, 1 << 20);
  let lines = 0;
  for (let p = text.indexOf(10); p >= 0 && p < m; p = text.indexOf(10, p + 1)) lines++;
  return Math.max(1024, Math.ceil(m === n ? lines + 1 : (lines * 1.05 * n) / m) + 1024);
}

const WORDS = new Map<string, Buffer>();

/** The bytes of `word` (ASCII), made once: a Map lookup per call, so not for the fast path. */
function wordBytes(word: string): Buffer {
  let w = WORDS.get(word);
  if (w === undefined) { w = ascii(word); WORDS.set(word, w); }
  return w;
}

/** Whether s[p, e) equals `word` (ASCII; a Map lookup per call: eventCode, the general path). */
function is(s: Bytes, p: number, e: number, word: string): boolean {
  return bytesIs(s, p, e, wordBytes(word));
}

/** Whether `word` (ASCII) starts at p (a Map lookup per call: headers, marks, odd pfns). */
function startsWith(s: Bytes, word: string, p: number): boolean {
  return bytesAt(s, p, wordBytes(word));
}

/** Whether `word` occurs within s[p, e). */
function occursIn(s: Bytes, p: number, e: number, word: Uint8Array): boolean {
  for (let i = p; i + word.length <= e; i++) if (bytesAt(s, i, word)) return true;
  return false;
}

const IS_EMPTY = ascii(' is empty');
const KCOMPACTD = ascii('kcompactd');
const STATUS_PARTIAL_SKIPPED = ascii('partial_skipped');
const STATUS_COMPLETE = ascii('complete');
/** perf script's subsystem prefixes of the events knownEvent reads */
const KMEM = ascii('kmem:');
const EXCEPTIONS = ascii('exceptions:');
const BUF_KEY = ascii('buf=');

/** EV_ code of the event name s[ns, ne). */
function eventCode(s: Bytes, ns: number, ne: number): number {
  switch (ne - ns) {
    case 16:
      if (is(s, ns, ne, 'kmem_cache_alloc')) return EV_CACHE_ALLOC;
      break;
    case 15:
      if (is(s, ns, ne, 'kmem_cache_free')) return EV_CACHE_FREE;
      if (is(s, ns, ne, 'page_fault_user')) return EV_FAULT;
      break;
    case 21:
      if (is(s, ns, ne, 'kmem_cache_alloc_node')) return EV_CACHE_ALLOC;
      if (is(s, ns, ne, 'mm_page_alloc_extfrag')) return EV_EXTFRAG;
      if (is(s, ns, ne, 'isolate_free_page_ret')) return EV_ISOLATE_RET;
      if (is(s, ns, ne, 'mm_vmscan_kswapd_wake')) return EV_KSWAPD_WAKE;
      break;
    case 22:
      if (is(s, ns, ne, 'mm_vmscan_kswapd_sleep')) return EV_KSWAPD_SLEEP;
      break;
    case 7:
      if (is(s, ns, ne, 'kmalloc')) return EV_KMALLOC;
      break;
    case 12:
      if (is(s, ns, ne, 'kmalloc_node')) return EV_KMALLOC;
      if (is(s, ns, ne, 'mm_page_free')) return EV_PAGE_FREE;
      break;
    case 5:
      if (is(s, ns, ne, 'kfree')) return EV_KFREE;
      if (is(s, ns, ne, 'print')) return EV_MARK;
      break;
    case 13:
      if (is(s, ns, ne, 'mm_page_alloc')) return EV_PAGE_ALLOC;
      break;
    case 20:
      if (is(s, ns, ne, 'mm_page_free_batched')) return EV_PAGE_FREE_BATCHED;
      break;
    case 19:
      if (is(s, ns, ne, 'mm_page_free_direct')) return EV_PAGE_FREE; // name before 3.3
      break;
    case 14:
      if (is(s, ns, ne, 'mm_pagevec_free')) return EV_PAGE_FREE_BATCHED; // name before 3.3
      break;
    case 17:
      if (is(s, ns, ne, 'page_fault_kernel')) return EV_FAULT;
      if (is(s, ns, ne, 'isolate_free_page')) return EV_ISOLATE;
      if (is(s, ns, ne, 'balance_pgdat_ret')) return EV_BALANCE_RET;
      if (is(s, ns, ne, 'mm_compaction_end')) return EV_COMPACTION_END;
      break;
    case 18:
      if (is(s, ns, ne, 'tracing_mark_write')) return EV_MARK;
      if (is(s, ns, ne, 'mm_page_pcpu_drain')) return EV_PCPU_DRAIN;
      break;
  }
  return EV_NONE;
}

/**
 * Whether `head` (the start of a file) looks like kernel tracepoint text: used by the format table's
 * content sniff for `.txt` and other ambiguous names.
 */
export function looksLikeKernelTrace(head: string): boolean {
  if (/^# tracer:/m.test(head) || /^cpus=\d+/m.test(head)) return true;
  return /\[\d+\][^\n]*?\d+(\.\d+)?: +(\w+:)?(mm_page_\w+|kmalloc\w*|kfree|kmem_cache_\w+|page_fault_\w+|tracing_mark_write|print):/.test(head);
}

export type { KernelLayers };

export interface KernelTraceOptions {
  /**
   * attribute the recorded page allocations and keep that layer view (attribution.ts: 'all',
   * 'pages', 'objects', or 'none' for every event with the attribution counts); undefined: every
   * event, no attribution
   */
  layers?: KernelLayers;
}

/**
 * The largest input the parser reads, in bytes (2 GiB - 4). Offsets are int32: the word scans shift
 * an offset plus the word base (up to 3) by 2 both ways (`>> 2`, `<< 2`), and TokenCache keeps
 * offsets in an Int32Array, so a longer input (a .gz inflating to 2-4 GiB: a Buffer may reach 4 GiB)
 * would make negative offsets.
 */
export const KERNEL_TRACE_MAX_BYTES = 2 ** 31 - 4;

/**
 * Throws AllocbenchError when an input of `byteLength` bytes (after gunzip) is too long for the
 * parser (KERNEL_TRACE_MAX_BYTES): a file-level error, like an unreadable file.
 */
export function checkKernelTraceSize(byteLength: number, file: string): void {
  if (byteLength > KERNEL_TRACE_MAX_BYTES) {
    throw new AllocbenchError(`cannot read trace ${file}: ${byteLength} bytes of text, more than the kernel trace loader reads (${KERNEL_TRACE_MAX_BYTES} bytes, 2 GiB - 4); split the recording`);
  }
}

class KernelParser {
  readonly b: TraceBuilder;
  /** recorded pfns and object pointers by event index, for attribution (only with a layers option) */
  private readonly attr: AttributionInput | null;
  /** whether the last pageKey() read a pfn= field (not a struct page pointer) */
  private keyIsPfn = false;
  private pfnSeen = false;
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
  private pcpStartFrees = 0;
  /** layer views with page events emit pcpStartFree's candidates ('none' keeps every event as recorded) */
  private readonly pcpCandidates: boolean;
  private impliedFrees = 0;
  private nullFrees = 0;
  private callchainLines = 0;
  private unknownGfpNames = 0;
  // compaction targets (isolate / isolateRet)
  private readonly targets = new CompactionTargets();
  /** per cpu + 1: the pfn and order of an __isolate_free_page() entry awaiting its return (-1: none) */
  private isolatePfn = new Float64Array(8).fill(-1);
  private isolateOrder = new Int32Array(8);
  /** kswapd is balancing (an OP_RECLAIM_BEGIN without its end yet) */
  private reclaimActive = false;
  private kswapdRuns = 0;
  private kcompactdDrains = 0;
  private isolations = 0;
  private isolatedPages = 0;
  private isolationsRefused = 0;
  private isolationReturnsUnpaired = 0;
  private isolationConflicts = 0;
  private targetPieceFrees = 0;
  /** vmalloc areas by the line offset of their page array's kmalloc (trace/vmalloc-areas.ts), once run() knows the window */
  private vmalloc: Map<number, VmallocArea> | null = null;
  private vmallocAreaCount = 0;
  private vmallocPageCount = 0;

  constructor(readonly text: Bytes, readonly file: string, name: string, private readonly layers?: KernelLayers) {
    const events = estimateLines(text);
    this.b = new TraceBuilder(name, file, events);
    this.info = new Int32Array(events); // ids are at most events (implied frees aside): setInfo grows it then
    this.attr = layers !== undefined ? new AttributionInput(events) : null;
    this.pcpCandidates = layers === 'all' || layers === 'pages';
    const base = text.byteOffset & 3;
    this.wordBase = base;
    // a view, no copy; int32 offset arithmetic: parseKernelTrace checked the length (KERNEL_TRACE_MAX_BYTES)
    this.words = new Int32Array(text.buffer, text.byteOffset - base, (text.length + base) >> 2);
  }

  /**
   * the file's bytes as aligned 32-bit words, and the offset of byte 0 in them: skipSpaces, findByte
   * and stopAt read them as little-endian lanes (byte p is lane p & 3 from the low end), so a
   * big-endian host parses with BytewiseParser, whose scans go a byte at a time and never read them
   */
  protected readonly words: Int32Array;
  protected readonly wordBase: number;

  /**
   * First index in [p, e) whose byte is not a space (e when none), 4 bytes at a time: ftrace pads
   * the task column with spaces on the left (tabs, rare, are left to skipBlanks).
   */
  protected skipSpaces(p: number, e: number): number {
    const words = this.words;
    const base = this.wordBase;
    const q = p + base;
    let i = q >> 2;
    const last = (e + base) >> 2; // words wholly before e are [.., last)
    if (i >= last) { while (p < e && this.text[p] === 32) p++; return p; }
    // lanes that are not a space are non-zero in x; the ones before p are cleared
    let x = (words[i]! ^ 0x20202020) & ~((1 << ((q & 3) << 3)) - 1);
    for (;;) {
      if (x !== 0) return (i << 2) + ((31 - Math.clz32(x & -x)) >> 3) - base;
      if (++i >= last) break;
      x = words[i]! ^ 0x20202020;
    }
    p = (i << 2) - base;
    while (p < e && this.text[p] === 32) p++;
    return p;
  }

  /** First index in [p, e) whose byte is b (e when none), 4 bytes at a time (the lowest lane flagged by haszero is exact). */
  protected findByte(p: number, e: number, b: number): number {
    const words = this.words;
    const base = this.wordBase;
    const q = p + base;
    let i = q >> 2;
    const last = (e + base) >> 2;
    if (i < last) {
      const pat = Math.imul(b, 0x01010101);
      // lanes before p are made non-matching (x lane 0xff)
      let x = (words[i]! ^ pat) | ((1 << ((q & 3) << 3)) - 1);
      for (;;) {
        const t = (x - 0x01010101) & ~x & 0x80808080;
        if (t !== 0) return (i << 2) + ((31 - Math.clz32(t & -t)) >> 3) - base;
        if (++i >= last) break;
        x = words[i]! ^ pat;
      }
      p = (i << 2) - base;
    }
    const s = this.text;
    while (p < e && s[p] !== b) p++;
    return p;
  }

  /**
   * First index at or after p whose byte is at most 32 (a blank, CR, LF, a control char), or the
   * file's length: the end of a token, found 4 bytes at a time (SWAR: a byte b < 0x21 is the
   * lowest one flagged in (w - 0x21212121) & ~w & 0x80808080; bytes ≥ 0x80 are never flagged).
   */
  protected stopAt(p: number): number {
    const s = this.text;
    const words = this.words;
    const base = this.wordBase;
    const q = p + base;
    let i = q >> 2;
    if (i >= words.length) { while (s[p]! > 32) p++; return p < s.length ? p : s.length; }
    const sh = (q & 3) << 3;
    // the bytes before p in its word count as token bytes
    let w = sh === 0 ? words[i]! : words[i]! | ((1 << sh) - 1);
    for (;;) {
      const t = (w - 0x21212121) & ~w & 0x80808080;
      if (t !== 0) return (i << 2) + ((31 - Math.clz32(t & -t)) >> 3) - base;
      if (++i >= words.length) break;
      w = words[i]!;
    }
    p = (i << 2) - base;
    while (s[p]! > 32) p++;
    return p < s.length ? p : s.length;
  }

  private fail(expected: string): never {
    throw new TraceFormatError(this.file, this.line, this.text.toString('utf8', this.lineStart, this.lineEnd), expected);
  }

  run(): Trace {
    const s = this.text;
    let n = s.length;
    let pos = 0;
    // a UTF-8 BOM from an editor is not part of the first line
    if (n >= 3 && s[0] === 0xef && s[1] === 0xbb && s[2] === 0xbf) pos = 3;
    // a recording with snapshot markers replays what lies between its before- and after-state
    const window = snapshotWindow(s);
    let outside = 0;
    if (window !== null) {
      outside = this.skipLines(pos, window.start, true) + this.skipLines(window.end, n, false);
      pos = Math.max(pos, window.start);
      n = window.end;
    }
    this.vmalloc = vmallocAreas(Buffer.from(s.buffer, s.byteOffset, s.length), pos, n);
    while (pos < n) {
      let end = s.indexOf(10, pos);
      if (end < 0) end = s.length;
      this.line++;
      let e = end;
      if (e > pos && s[e - 1]! === 13) e--;
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
      pcp_start_frees: this.pcpStartFrees,
      implied_frees: this.impliedFrees,
      null_frees: this.nullFrees,
      callchain_lines: this.callchainLines,
      unknown_gfp_names: this.unknownGfpNames,
      ...(this.vmallocAreaCount > 0 ? { vmalloc_areas: this.vmallocAreaCount, vmalloc_bulk_pages: this.vmallocPageCount } : {}),
      ...(window !== null ? { events_outside_snapshots: outside } : {}),
      ...(this.kswapdRuns + this.kcompactdDrains > 0 ? { kswapd_runs: this.kswapdRuns, kcompactd_drains: this.kcompactdDrains } : {}),
      ...(this.isolations + this.isolationsRefused + this.isolationReturnsUnpaired > 0 ? {
        compaction_isolations: this.isolations,
        compaction_isolated_pages: this.isolatedPages,
        compaction_isolations_refused: this.isolationsRefused,
        compaction_isolation_returns_unpaired: this.isolationReturnsUnpaired,
        compaction_isolation_conflicts: this.isolationConflicts,
        compaction_target_piece_frees: this.targetPieceFrees,
        compaction_target_pages_held_at_end: this.targets.heldPages(),
      } : {}),
    };
    // recorded isolations replace the layer views' guess of the targets from kcompactd's frees
    if (this.isolations > 0 && this.attr !== null) this.attr.migration.length = 0;
    const t = b.finish();
    if (this.attr === null || this.layers === undefined) return t;
    return layerView(t, attribute(t, this.attr, this.pfnSeen), this.layers);
  }

  /**
   * The event lines in [p, e) (not blank, not a `#` header), which the snapshot window leaves out;
   * `counted`: they come before the window, so the line numbers of later errors go on from them.
   */
  private skipLines(p: number, e: number, counted: boolean): number {
    const s = this.text;
    let events = 0;
    while (p < e) {
      let end = s.indexOf(10, p);
      if (end < 0 || end > e) end = e;
      if (counted) this.line++;
      const q = skipBlanks(s, p, end);
      if (q < end && s[q] !== 35 && s[q] !== 13) events++;
      p = end + 1;
    }
    return events;
  }

  /** Whether s[p, te) is a timestamp token `digits[.digits]:`. */
  private static isTimestamp(s: Bytes, p: number, te: number): boolean {
    if (te - p < 2 || s[te - 1]! !== 58) return false;
    let dot = false;
    for (let i = p; i < te - 1; i++) {
      const c = s[i]!;
      if (c === 46) { if (dot || i === p) return false; dot = true; } else if (c < 48 || c > 57) return false;
    }
    return s[te - 2]! !== 46;
  }

  /**
   * End of the token at t when it is a timestamp `digits[.digits]:` (as isTimestamp would judge
   * it), else -1: one pass over the token instead of tokenEnd then isTimestamp.
   */
  private static timestampEnd(s: Bytes, t: number, e: number): number {
    let i = t;
    let c = 0;
    while (i < e) { c = s[i]!; if (c < 48 || c > 57) break; i++; }
    if (i === t || i === e) return -1;
    if (c === 46) {
      const d = ++i;
      while (i < e) { c = s[i]!; if (c < 48 || c > 57) break; i++; }
      if (i === d || i === e) return -1;
    }
    if (c !== 58) return -1;
    i++;
    return i === e || isBlank(s[i]!) ? i : -1;
  }

  /**
   * Finds the timestamp; returns the index just past its ':' (or -1) and sets prefixStart/End to the
   * task part (comm and pid/tid, with any `(tgid)` column) for faults to read their pid from.
   */
  private findTimestamp(s: Bytes, p: number, e: number): number {
    // With a `[cpu]` column: the timestamp is the next token, or the one after a flags column.
    let q = this.findByte(p, e, 91);
    while (q < e) {
      let r = q + 1;
      let cpu = 0;
      while (r < e) { const c = s[r]!; if (c < 48 || c > 57) break; cpu = cpu * 10 + c - 48; r++; }
      if (r > q + 1 && r < e && s[r]! === 93 && r + 1 < e && isBlank(s[r + 1]!)) {
        let t = skipBlanks(s, r + 1, e);
        for (let k = 0; k < 2 && t < e; k++) {
          const te = KernelParser.timestampEnd(s, t, e);
          if (te >= 0) {
            this.prefixStart = p; this.prefixEnd = q; this.tsStart = t;
            this.lineCpu = cpu <= 0x7fffffff ? cpu : -1;
            return te;
          }
          t = skipBlanks(s, tokenEnd(s, t, e), e);
        }
      }
      q++;
      while (q < e && s[q] !== 91) q++;
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
          const c0 = s[prevStart]!;
          const c1 = s[prevStart + 1]!;
          // latency column: cpu digit(s) then irq flag chars, e.g. `0d.h1`, `3...1`
          if (c0 >= 48 && c0 <= 57 && !(c1 >= 48 && c1 <= 57) && c1 !== 47) pe = prevStart;
        }
        this.prefixStart = p; this.prefixEnd = pe; this.tsStart = t;
        this.lineCpu = -1;
        return te;
      }
      prevStart = t;
      t = te;
    }
    return -1;
  }

  private parseLine(p0: number, e: number): void {
    const s = this.text;
    const p = skipBlanks(s, this.skipSpaces(p0, e), e);
    if (p === e) return;
    const c = s[p]!;
    if (c === 35) return; // '#' comment and header lines of ftrace
    const ts = this.findTimestamp(s, p, e);
    if (ts < 0) {
      if (c === 67 && startsWith(s, 'CPU ', p) && occursIn(s, p, e, IS_EMPTY)) return; // trace-cmd `CPU 3 is empty`
      if (c === 99 && startsWith(s, 'cpus=', p)) return; // trace-cmd header
      if (startsWith(s, 'version = ', p)) return; // trace-cmd header
      if (p > p0 && this.isCallchain(s, p, e)) { this.callchainLines++; return; }
      this.fail(EXPECT_PREFIX);
    }
    this.noteCpuTid();
    this.noteSecond(s);
    const q = skipBlanks(s, ts, e);
    let ev = this.knownEvent(s, q, e);
    let f = this.nameEnd; // the fields' start: a blank or the line end, as field() needs (no key starts at it)
    if (ev === EV_NONE) {
      f = this.eventName(s, q, e);
      ev = this.nameEvent;
    }
    switch (ev) {
      case EV_CACHE_ALLOC: return this.cacheAlloc(s, f, e);
      case EV_CACHE_FREE: return this.cacheFree(s, f, e);
      case EV_KMALLOC: return this.kmalloc(s, f, e);
      case EV_KFREE: return this.kfree(s, f, e);
      case EV_PAGE_ALLOC: return this.pageAlloc(s, f, e);
      case EV_PAGE_FREE: return this.pageFree(s, f, e, false);
      case EV_PAGE_FREE_BATCHED: return this.pageFree(s, f, e, true);
      case EV_EXTFRAG: return this.extfrag(s, f, e);
      case EV_FAULT: return this.fault(s, f, e);
      case EV_MARK: return this.mark(s, f, e);
      case EV_PCPU_DRAIN: return this.pcpuDrain(s, f, e);
      case EV_ISOLATE: return this.isolate(s, f, e);
      case EV_ISOLATE_RET: return this.isolateRet(s, f, e);
      case EV_KSWAPD_WAKE: return this.kswapdWake(s, f, e);
      case EV_KSWAPD_SLEEP: case EV_BALANCE_RET: return this.reclaimEnd();
      case EV_COMPACTION_END: return this.compactionEnd(s, f, e);
    }
    this.unknownEvents++;
  }

  private nameEnd = 0;
  private nameEvent = EV_NONE;
  /** where the current line's timestamp starts (findTimestamp) */
  private tsStart = 0;
  /** the whole second of the last timestamp, -1 before the first */
  private second = -1;

  /**
   * One OP_TICK per whole second the timestamps cross (before this line's events): the kernel's
   * vmstat_update() runs every sysctl_stat_interval (HZ) on each busy CPU, at whole seconds
   * (round_jiffies_relative()), and decays the per-CPU page lists there on 6.7+. A clock that
   * goes back (per-CPU buffers merged out of order) emits nothing; a gap emits at most MAX_TICKS
   * (a hostile timestamp must not make billions of events).
   */
  private noteSecond(s: Bytes): void {
    let sec = 0;
    for (let i = this.tsStart; ; i++) {
      const c = s[i]!;
      if (c < 48 || c > 57) break;
      sec = sec * 10 + c - 48;
    }
    if (sec <= this.second) return;
    if (this.second >= 0) {
      // no CPU and no task: the work runs on every CPU, in no traced task
      const b = this.b, cpu = b.curCpu, tid = b.curTid;
      b.curCpu = -1;
      b.curTid = -1;
      for (let k = this.second, n = 0; k < sec && n < MAX_TICKS; k++, n++) b.push(OP_TICK, 0, 0, 0);
      b.curCpu = cpu;
      b.curTid = tid;
    }
    this.second = sec;
  }
  /** the `[cpu]` column of the current line, -1 when its layout has none (findTimestamp) */
  private lineCpu = -1;

  /**
   * The trace's cpu and tid columns for the events of this line: the `[cpu]` column, and the
   * thread id, which is the last number of the task part in every layout (ftrace `comm-tid`, perf
   * `tid` or `pid/tid`; a `(tgid)` column after it is skipped). A column is made on its first value.
   */
  private noteCpuTid(): void {
    const b = this.b;
    const cpu = this.lineCpu;
    if (cpu >= 0 && b.cpu === undefined) b.useCpu();
    b.curCpu = cpu;
    const s = this.text;
    const p = this.prefixStart;
    let e = this.prefixEnd;
    while (e > p && isBlank(s[e - 1]!)) e--;
    if (e > p && s[e - 1]! === 41) { // ')': ftrace's `(tgid)` column
      while (e > p && s[e - 1] !== 40) e--;
      e--;
      while (e > p && isBlank(s[e - 1]!)) e--;
    }
    let t = e;
    let tid = 0;
    let scale = 1;
    while (t > p && scale <= 1e9) {
      const c = s[t - 1]!;
      if (c < 48 || c > 57) break;
      tid += (c - 48) * scale;
      scale *= 10;
      t--;
    }
    if (t === e || tid > 0x7fffffff || (t > p && s[t - 1]! >= 48 && s[t - 1]! <= 57)) tid = -1;
    if (tid >= 0 && b.tid === undefined) b.useTid();
    b.curTid = tid;
  }

  /**
   * The common event token, read with a few compares: a bare `name:` at q (ftrace, trace-cmd) or
   * perf script's `kmem:name:` / `exceptions:name:` (no period column), for the names in
   * EVENT_TOKENS. Returns its EV_ code, with nameEnd set just past the ':'. EV_NONE leaves the
   * token to eventName, which reads every layout (and gives the same answer for these tokens: it
   * ignores the subsystem).
   */
  private knownEvent(s: Bytes, q: number, e: number): number {
    let c0 = s[q]!;
    // perf's subsystem prefix (the names starting with 'k' have no ':' at 4)
    if (c0 === 107 && s[q + 4] === 58 && bytesAt(s, q, KMEM)) { q += 5; c0 = s[q]!; }
    else if (c0 === 101 && bytesAt(s, q, EXCEPTIONS)) { q += 11; c0 = s[q]!; }
    // a few chars pick the one candidate, then a byte compare confirms the whole name
    let ev = EV_NONE;
    let len = 0;
    if (c0 === 107) { // k
      const c2 = s[q + 2]!;
      if (c2 === 101) { // kmem_cache_alloc: / kmem_cache_free:
        if (s[q + 16]! === 58) { ev = EV_CACHE_ALLOC; len = 17; }
        else if (s[q + 15]! === 58) { ev = EV_CACHE_FREE; len = 16; }
      } else if (c2 === 97) { ev = EV_KMALLOC; len = 8; } // kmalloc:
      else if (c2 === 114) { ev = EV_KFREE; len = 6; } // kfree:
    } else if (c0 === 109) { // mm_page_alloc: / mm_page_free: / mm_page_free_batched:
      const c8 = s[q + 8]!;
      if (c8 === 97) { ev = EV_PAGE_ALLOC; len = 14; }
      else if (c8 === 102) {
        if (s[q + 12]! === 58) { ev = EV_PAGE_FREE; len = 13; }
        else { ev = EV_PAGE_FREE_BATCHED; len = 21; }
      } else if (c8 === 112) { ev = EV_PCPU_DRAIN; len = 19; } // mm_page_pcpu_drain:
    } else if (c0 === 112) { ev = EV_FAULT; len = 16; } // page_fault_user:
    if (ev === EV_NONE) return EV_NONE;
    // the token must end right after the ':'
    const z = q + len;
    if (z < e && !isBlank(s[z]!)) return EV_NONE;
    if (!bytesAt(s, q, EVENT_TOKENS[ev]!)) return EV_NONE;
    this.nameEnd = z;
    return ev;
  }

  /** The event token at q in any layout: returns where the fields start, with nameEvent set to its EV_ code. */
  private eventName(s: Bytes, q: number, e: number): number {
    // event name: optional perf period column, then `[subsys:]name:`
    let te = tokenEnd(s, q, e);
    if (te < e && te > q && s[te - 1]! !== 58 && parseDec(s, q, te) >= 0) {
      q = skipBlanks(s, te, e);
      te = tokenEnd(s, q, e);
    }
    if (te === q || s[te - 1]! !== 58) this.fail('an event name ending in ":" after the timestamp');
    let ns = q;
    const ne = te - 1;
    for (let i = ne - 1; i > q; i--) if (s[i]! === 58) { ns = i + 1; break; }
    this.nameEvent = eventCode(s, ns, ne);
    return te;
  }

  /** A perf callchain line: an address in hex, then a symbol (`ffffffff811a3b4c __alloc_pages+0x1ac (...)`). */
  private isCallchain(s: Bytes, p: number, e: number): boolean {
    const te = tokenEnd(s, p, e);
    if (te === p || te === e) return false;
    for (let i = p; i < te; i++) {
      const c = s[i]! | 32;
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
    }
    return true;
  }

  // ---- field access ----

  /**
   * fieldValue(s, KEYS[k], from, end): the value of the line's first field with that key (a key
   * starts a field: after a blank), or -1. One pass over the line's fields however many keys the
   * handler asks for, in whatever order: the fields are read token by token from the cursor `cur`
   * on, and every key met is remembered for the line (keyLine/keyVal), so no byte is scanned twice
   * (a value a handler parses moves the cursor past it: consumed). `from` is the same for every
   * call on a line (the fields' start, a blank or the line end, so no key starts at it).
   */
  private field(s: Bytes, k: number, from: number, end: number): number {
    const line = this.line;
    const keyLine = this.keyLine;
    if (keyLine[k] === line) return this.keyVal[k]!;
    let p = from;
    if (this.curLine === line) p = this.cur;
    else this.curLine = line;
    for (;;) {
      // the rest of the token at p (a value nobody read), then the blanks before the next field;
      // one compare a byte: the byte at `end` (CR, LF or past the file) also stops the first loop,
      // and a control char inside a token (rare) only costs another round of it
      for (;;) {
        p = this.stopAt(p);
        if (p >= end || isBlank(s[p]!)) break;
        p++;
      }
      while (p < end && isBlank(s[p]!)) p++;
      if (p >= end) { this.cur = end; return -1; }
      const keys = KEYS_BY_FIRST[s[p]!]!;
      for (let j = 0; j < keys.length; j++) {
        const c = keys[j]!;
        const w = KEY_BYTES[c]!;
        const n = w.length;
        if (p + n > end) continue;
        let i = 1;
        while (i < n && s[p + i] === w[i]) i++;
        if (i < n) continue;
        // no key is a prefix of another ('=' ends each), so this is the field's only key
        if (keyLine[c] !== line) { keyLine[c] = line; this.keyVal[c] = p + n; }
        if (c === k) { this.cur = p + n; return p + n; }
        break;
      }
    }
  }

  /** per K_ code: the line where it was last met by field (keyLine) and its value's start there (keyVal) */
  private readonly keyLine = new Int32Array(KEYS.length).fill(-1);
  private readonly keyVal = new Float64Array(KEYS.length);
  /** field's cursor in the fields of line curLine */
  private cur = 0;
  private curLine = -1;

  /** A handler read the value at v up to z: field's cursor, when it stands at v, skips it. */
  private consumed(v: number, z: number): void {
    if (v === this.cur) this.cur = z;
  }

  /** Start of a required field's value. */
  private at(s: Bytes, k: number, f: number, e: number): number {
    const v = this.field(s, k, f, e);
    if (v < 0) this.fail(`a ${KEYS[k]!} field`);
    return v;
  }

  private num(s: Bytes, k: number, f: number, e: number): number {
    return this.numAt(s, k, this.at(s, k, f, e), e);
  }

  /** The unsigned integer value at v of field `key` (one pass: scanNum finds its end as it parses). */
  private numAt(s: Bytes, k: number, v: number, e: number): number {
    const x = scanNum(s, v, e);
    this.consumed(v, scanEnd);
    if (!(x >= 0) || !Number.isSafeInteger(x)) this.fail(`${KEYS[k]!} an unsigned integer below 2^53`);
    return x;
  }

  private order(s: Bytes, k: number, f: number, e: number): number {
    return this.orderAt(s, k, this.at(s, k, f, e), e);
  }

  private orderAt(s: Bytes, k: number, v: number, e: number): number {
    const o = this.numAt(s, k, v, e);
    if (o > MAX_RECORDED_ORDER) this.fail(`${KEYS[k]!} a page order 0..${MAX_RECORDED_ORDER}`);
    return o;
  }

  /** gfp_flags= of the line; `site` (SITE_*) says which event reads it, for TokenCache.getToken. */
  private gfp(s: Bytes, f: number, e: number, site: number): number {
    const v = this.at(s, K_GFP, f, e);
    const cache = this.gfpCache;
    const cached = cache.getToken(s, v, e, site);
    const ve = cache.end;
    this.consumed(v, ve);
    if (cached === cached) return cached; // not NaN
    // flags newer than gfp.ts knows are dropped (counted), not fatal
    const g = parseGfpLenient(s.toString('utf8', v, ve), () => { this.unknownGfpNames++; });
    cache.put(s, v, ve, g, site);
    return g;
  }

  /** Parses a pointer field into PTR; returns PTR_OK / PTR_NULL (fails the line when malformed). */
  private ptr(s: Bytes, k: number, f: number, e: number): number {
    const v = this.at(s, k, f, e);
    const r = scanPtr(s, v, e);
    this.consumed(v, scanEnd);
    if (r === PTR_BAD) this.fail(`${KEYS[k]!} a pointer (hex, (null) or 0x0)`);
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
  private pageKey(s: Bytes, f: number, e: number): boolean {
    const v = this.field(s, K_PFN, f, e);
    this.keyIsPfn = v >= 0;
    if (v >= 0) {
      const c = s[v]!;
      // failed alloc: 6.x prints pfn=0x0 (pfn -1UL mapped to 0), older kernels pfn=0 or a raw -1
      if (c === 45) { if (is(s, v, tokenEnd(s, v, e), '-1')) return false; this.fail('pfn= an unsigned integer'); }
      const r = c === 48 && (s[v + 1]! | 32) === 120 ? scanPtr(s, v, e) : -2;
      if (r === -2) {
        // decimal (no sign, no 0x here, so scanNum reads it as parseDec would)
        const x = scanNum(s, v, e);
        if (!(x >= 0) || !Number.isSafeInteger(x)) {
          if (scanEnd - v === 20 && startsWith(s, '18446744073709551615', v)) return false;
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
    return this.ptr(s, K_PAGE, f, e) !== PTR_NULL;
  }

  private pageAlloc(s: Bytes, f: number, e: number): void {
    const ord = this.order(s, K_ORDER, f, e);
    const gfp = this.gfp(s, f, e, SITE_PAGE_ALLOC);
    const pageField = this.field(s, K_PAGE, f, e);
    if (pageField >= 0) {
      const r = scanPtr(s, pageField, e);
      if (r === PTR_NULL) { this.failedAllocs++; return; }
    }
    if (!this.pageKey(s, f, e)) { this.failedAllocs++; return; }
    this.allocBlock(ord, gfp);
  }

  /** An allocation of the block PTR names (a pfn or struct page key, keyIsPfn says which). */
  private allocBlock(ord: number, gfp: number): void {
    if (this.targets.liveBlocks > 0 && this.keyIsPfn && PTR[0] === 0 && this.targets.find(PTR[1]!, ord)) {
      // pages a compaction target still holds are allocated again: their free was not seen
      this.isolationConflicts++;
      this.targetPieceFree(ord);
    }
    const b = this.b;
    const pages = this.pages;
    const slot = pages.lookup(PTR[0]!, PTR[1]!);
    if (slot < 0) this.pcpStartFree(ord);
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
    this.notePage(b.length - 1);
  }

  /**
   * mm_page_free / mm_page_free_batched. One free can be reported twice: free_unref_page_list()
   * (free_unref_folios() from 6.9) runs free_pages_prepare() → trace_mm_page_free() over the whole
   * list first and then logs trace_mm_page_free_batched() per page as it commits it to the pcp
   * list; kernels before 4.15 (free_hot_cold_page_list) logged them the other way round. So a
   * report of the other kind for a block just freed by the first kind is the same free, swallowed.
   */
  private pageFree(s: Bytes, f: number, e: number, batched: boolean): void {
    // mm_page_free_batched prints order=0 (older ones print none); the alloc's order is what replays
    const ov = this.field(s, K_ORDER, f, e);
    const ord = ov >= 0 ? this.orderAt(s, K_ORDER, ov, e) : 0;
    if (!this.pageKey(s, f, e)) this.fail('pfn= a non-zero page frame number');
    const pages = this.pages;
    const slot = pages.lookup(PTR[0]!, PTR[1]!);
    const st = slot >= 0 ? pages.valueAt(slot) : FREED_PAIRED;
    const b = this.b;
    const freed = batched ? FREED_BATCHED : FREED_PLAIN;
    // kcompactd frees the pages it migrated away from (their targets were taken without a trace event)
    const migration = this.attr !== null && startsWith(s, 'kcompactd', this.prefixStart);
    if (migration && st !== (batched ? FREED_PLAIN : FREED_BATCHED)) this.attr!.flagMigration(b.length);
    if (st >= 0) {
      b.push(OP_PAGE_FREE, st, ord, 0);
      this.notePage(b.length - 1);
      pages.setAt(slot, freed);
      return;
    }
    if (st === (batched ? FREED_PLAIN : FREED_BATCHED)) {
      pages.setAt(slot, FREED_PAIRED);
      this.duplicateBatched++;
      return;
    }
    if (this.targets.liveBlocks > 0 && this.keyIsPfn && PTR[0] === 0 && this.targets.find(PTR[1]!, ord)) {
      // a piece of a compaction target: a migrated page freed, or an unused piece given back
      this.targetPieceFrees++;
      this.targetPieceFree(ord);
      if (slot >= 0) pages.setAt(slot, freed);
      else pages.insertAt(-1 - slot, PTR[0]!, PTR[1]!, freed);
      return;
    }
    // not live: still a free, of an id never allocated, which the replay counts as a trace error
    // a block the trace never allocated (allocated before tracing began): its pfn in aux, so a start
    // state from the before-snapshot can make it pre-trace memory and the free a real one (start-state.ts)
    // (only the first time the pfn is seen: a second free of a pfn the trace freed is a double free)
    const pfnAux = slot < 0 && this.keyIsPfn && PTR[0] === 0 && PTR[1]! < 0x80000000 ? PTR[1]! : 0;
    b.push(OP_PAGE_FREE, b.newId(), ord, pfnAux);
    this.notePage(b.length - 1);
    if (slot >= 0) pages.setAt(slot, freed);
    else pages.insertAt(-1 - slot, PTR[0]!, PTR[1]!, freed);
  }

  /**
   * A page on a per-CPU list when tracing began is free to the kernel but not in buddyinfo, so the
   * before-state holds it as pre-trace memory; the trace then allocates it from the pcp list, or
   * mm_page_pcpu_drain gives it back to the buddy lists, with no mm_page_free (6.1/6.12
   * rmqueue_pcplist(), free_pcppages_bulk()). At the first sight of a pfn by either event (layer
   * views with page events: all, pages), a free of a new id with aux = -pfn: a start state from kpageflags makes that block
   * pre-trace memory when the snapshot has it allocated (machine/start-state.ts), so the page
   * leaves pre-trace memory then; otherwise (a block free in the snapshot, or no start state) the
   * replay skips the free silently. PTR holds the pfn key.
   */
  private pcpStartFree(ord: number): void {
    if (!this.pcpCandidates || !this.keyIsPfn || PTR[0] !== 0 || PTR[1]! >= 0x80000000) return;
    const b = this.b;
    b.push(OP_PAGE_FREE, b.newId(), ord, -PTR[1]!);
    this.pcpStartFrees++;
  }

  /** mm_page_pcpu_drain: a block leaves a pcp list for the buddy lists (only a first sight of its pfn replays). */
  private pcpuDrain(s: Bytes, f: number, e: number): void {
    if (!this.pcpCandidates) { this.unknownEvents++; return; } // read by layer views with page events only, skipped otherwise
    const ord = this.order(s, K_ORDER, f, e);
    if (!this.pageKey(s, f, e)) return;
    const slot = this.pages.lookup(PTR[0]!, PTR[1]!);
    if (slot >= 0) return;
    this.pcpStartFree(ord);
    this.pages.insertAt(-1 - slot, PTR[0]!, PTR[1]!, FREED_PAIRED);
  }

  /**
   * A kprobe on __isolate_free_page()'s entry (scripts/kernel-init.sh): compaction is taking the
   * free block at page= of order= off the free lists as migration targets, unless its return
   * (isolateRet, the next event of this CPU: zone->lock is held with interrupts off in between)
   * says the watermark check refused it. pfn = (page - vmemmap_base) / sizeof(struct page).
   */
  private isolate(s: Bytes, f: number, e: number): void {
    const ord = this.order(s, K_ORDER, f, e);
    if (this.ptr(s, K_PAGE, f, e) !== PTR_OK) this.fail('page= a struct page pointer');
    const hi = PTR[0]!, lo = PTR[1]!;
    if (this.ptr(s, K_VMEMMAP_BASE, f, e) !== PTR_OK) this.fail('vmemmap_base= the struct page array\'s address');
    const off = (hi - PTR[0]!) * TWO32 + (lo - PTR[1]!);
    const pfn = off / STRUCT_PAGE_BYTES;
    if (!(pfn >= 0 && pfn < 0x80000000 && Number.isInteger(pfn))) this.fail(`page= a struct page (${STRUCT_PAGE_BYTES} bytes each) at or above vmemmap_base=`);
    const k = this.cpuSlot();
    if (this.isolatePfn[k]! >= 0) this.isolationReturnsUnpaired++; // the entry before had no return
    this.isolatePfn[k] = pfn;
    this.isolateOrder[k] = ord;
  }

  /** The kretprobe of __isolate_free_page(): ret= 2^order when the block was taken, 0 when refused. */
  private isolateRet(s: Bytes, f: number, e: number): void {
    const ret = this.num(s, K_RET, f, e);
    const k = this.cpuSlot();
    const pfn = this.isolatePfn[k]!;
    if (pfn < 0) { this.isolationReturnsUnpaired++; return; }
    this.isolatePfn[k] = -1;
    const ord = this.isolateOrder[k]!;
    if (ret === 0) { this.isolationsRefused++; return; }
    if (ret !== 1 << ord) this.fail(`ret= 0 or ${1 << ord} (2^order of the isolate_free_page before it)`);
    this.forgetIsolated(pfn, ord);
    // the block is allocated now as the targets are (post_alloc_hook(page, order, __GFP_MOVABLE))
    const b = this.b;
    const id = b.newId();
    this.setInfo(id, ord);
    b.push(OP_PAGE_ALLOC, id, ord, compactionTargetGfp(pfn));
    PTR[0] = 0; PTR[1] = pfn; this.keyIsPfn = true;
    this.notePage(b.length - 1);
    this.targets.add(id, pfn, ord);
    this.isolations++;
    this.isolatedPages += 1 << ord;
  }

  // ---- kswapd and kcompactd ----

  /**
   * mm_vmscan_kswapd_wake (scripts/kernel-init.sh enables the vmscan events): kswapd() calls
   * balance_pgdat() right after it, which sets ZONE_RECLAIM_ACTIVE on the zones up to zid (its
   * highest_zoneidx; every zone when the line has no zid=) until it returns.
   */
  private kswapdWake(s: Bytes, f: number, e: number): void {
    const zid = this.field(s, K_ZID, f, e) >= 0 ? this.num(s, K_ZID, f, e) : ZONE_MOVABLE;
    if (zid > ZONE_MOVABLE) this.fail(`zid= a zone index 0..${ZONE_MOVABLE}`);
    this.b.push(OP_RECLAIM_BEGIN, 0, 0, zid);
    this.reclaimActive = true;
    this.kswapdRuns++;
  }

  /**
   * balance_pgdat()'s return (a kretprobe: clear_reclaim_active() just ran) or, when that probe
   * is missing, mm_vmscan_kswapd_sleep (up to HZ/10 later: kswapd_try_to_sleep() naps first).
   */
  private reclaimEnd(): void {
    if (!this.reclaimActive) return;
    this.b.push(OP_RECLAIM_END, 0, 0, 0);
    this.reclaimActive = false;
  }

  /**
   * mm_compaction_end of kcompactd's run: kcompactd_do_work() drains the zone's per-CPU lists
   * (drain_all_pages(zone)) when the run ended COMPACT_PARTIAL_SKIPPED or COMPACT_COMPLETE, "buddy
   * pages may become stranded on pcps that could otherwise coalesce" (6.1 and 6.12 mm/compaction.c).
   * Direct and /proc compaction do not drain there.
   */
  private compactionEnd(s: Bytes, f: number, e: number): void {
    if (!occursIn(s, this.prefixStart, this.prefixEnd, KCOMPACTD)) return;
    const v = this.field(s, K_STATUS, f, e);
    if (v < 0 || !(bytesAt(s, v, STATUS_PARTIAL_SKIPPED) || bytesAt(s, v, STATUS_COMPLETE))) return;
    const start = this.num(s, K_ZONE_START, f, e);
    this.b.push(OP_PCP_DRAIN, 0, 0, zoneOfPfn(start));
    this.kcompactdDrains++;
  }

  /** Index of the current line's CPU in the isolate arrays (0 for a layout without a cpu column). */
  private cpuSlot(): number {
    const k = this.lineCpu + 1;
    if (k >= this.isolatePfn.length) {
      const n = Math.max(k + 1, this.isolatePfn.length * 2);
      const p = new Float64Array(n).fill(-1); p.set(this.isolatePfn); this.isolatePfn = p;
      const o = new Int32Array(n); o.set(this.isolateOrder); this.isolateOrder = o;
    }
    return k;
  }

  /**
   * The pages of a block compaction just isolated were free: what the pfn map remembers of them
   * (freed states) goes, so their next frees pair with the target; a page the trace still has
   * allocated, or a target still holds, lost its free: it is freed first (a conflict, counted).
   */
  private forgetIsolated(pfn: number, ord: number): void {
    const pages = this.pages;
    for (let q = pfn; q < pfn + (1 << ord); q++) {
      const slot = pages.lookup(0, q);
      if (slot >= 0) {
        const v = pages.valueAt(slot);
        if (v >= 0) { this.isolationConflicts++; this.b.push(OP_PAGE_FREE, v, this.info[v]!, 0); }
        pages.removeAt(slot);
      }
      if (this.targets.find(q, 0)) {
        this.isolationConflicts++;
        PTR[0] = 0; PTR[1] = q; this.keyIsPfn = true;
        this.targetPieceFree(0);
      }
    }
  }

  /** Frees the piece of a compaction target that targets.find() found (PTR holds its pfn). */
  private targetPieceFree(ord: number): void {
    const t = this.targets;
    const id = t.foundId, off = t.foundOffset;
    const last = t.take(ord);
    this.b.push(OP_PAGE_FREE, id, PAGE_PIECE + ord, last ? ~off : off);
    this.notePage(this.b.length - 1);
  }

  /** Records event e's pfn for attribution (the key pageKey just read, when it was a pfn). */
  private notePage(e: number): void {
    if (this.attr === null || !this.keyIsPfn) return;
    this.pfnSeen = true;
    this.attr.note(e, PTR[0]!, PTR[1]!);
  }

  private extfrag(s: Bytes, f: number, e: number): void {
    const allocOrder = this.order(s, K_ALLOC_ORDER, f, e);
    const fallbackOrder = this.order(s, K_FALLBACK_ORDER, f, e);
    const allocMt = this.num(s, K_ALLOC_MT, f, e);
    const fallbackMt = this.num(s, K_FALLBACK_MT, f, e);
    const fragmenting = this.num(s, K_FRAGMENTING, f, e);
    const change = this.field(s, K_CHANGE, f, e) >= 0 ? this.num(s, K_CHANGE, f, e) : 0;
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

  private kmalloc(s: Bytes, f: number, e: number): void {
    const r = this.ptr(s, K_PTR, f, e);
    const bytes = this.num(s, K_BYTES_REQ, f, e);
    if (!isStorableValue(bytes)) this.fail('bytes_req= a size below 2^48');
    const gfp = this.gfp(s, f, e, SITE_KMALLOC);
    if (r === PTR_NULL) { this.failedAllocs++; return; }
    const hi = PTR[0]!, lo = PTR[1]!;
    const id = this.newObject(-1);
    this.b.push(OP_KMALLOC, id, bytes, gfp);
    this.attr?.note(this.b.length - 1, hi, lo);
    const area = this.vmalloc?.get(this.lineStart);
    if (area !== undefined) this.vmallocPages(area, gfp);
  }

  /**
   * The pages of a vmalloc area, which __alloc_pages_bulk() took untraced right after this page
   * array (trace/vmalloc-areas.ts): each an allocation of the block its vfree frees (so that free
   * is its free), or of a new id when the trace does not free the area. Their gfp is the array's
   * (6.1/6.12 __vmalloc_area_node(): the array with the caller's gfp & GFP_RECLAIM_MASK, the
   * pages with the caller's gfp: GFP_KERNEL-based for stacks, so both Unmovable).
   */
  private vmallocPages(area: VmallocArea, gfp: number): void {
    this.vmallocAreaCount++;
    this.vmallocPageCount += area.pfns.length + area.unknown;
    const key = this.keyIsPfn;
    for (let k = 0; k < area.pfns.length; k++) {
      PTR[0] = 0; PTR[1] = area.pfns[k]!;
      this.keyIsPfn = true;
      this.allocBlock(area.orders[k]!, gfp);
    }
    for (let k = 0; k < area.unknown; k++) {
      const b = this.b, id = b.newId();
      this.setInfo(id, 0);
      b.push(OP_PAGE_ALLOC, id, 0, gfp);
    }
    this.keyIsPfn = key;
  }

  private kfree(s: Bytes, f: number, e: number): void {
    if (this.ptr(s, K_PTR, f, e) === PTR_NULL) { this.nullFrees++; return; } // kfree(NULL) is a no-op
    const id = this.objects.take(PTR[0]!, PTR[1]!);
    if (id >= 0) this.emitObjectFree(id);
    else this.b.push(OP_KFREE, this.b.newId(), 0, 0);
  }

  /** Cache index for a kmem_cache_alloc: by `name=` (6.x) or, without it, one cache per bytes_alloc. */
  private cacheFor(s: Bytes, f: number, e: number, bytesAlloc: number, allocAt: number, gfp: number): number {
    const b = this.b;
    const v = this.field(s, K_NAME, f, e);
    let p: number, cache: TokenCache, name: string;
    if (v >= 0) {
      p = v; cache = this.nameCache;
      const hit = cache.getToken(s, p, e, SITE_CACHE_ALLOC);
      if (hit === hit) return hit;
      name = s.toString('utf8', p, cache.end);
    } else {
      p = allocAt; cache = this.sizeCache; // the bytes_alloc= value
      const hit = cache.getToken(s, p, e, SITE_CACHE_ALLOC);
      if (hit === hit) return hit;
      name = `cache-${bytesAlloc}`;
    }
    const pe = cache.end;
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

  private cacheAlloc(s: Bytes, f: number, e: number): void {
    const r = this.ptr(s, K_PTR, f, e);
    const bytesReq = this.num(s, K_BYTES_REQ, f, e);
    const allocAt = this.at(s, K_BYTES_ALLOC, f, e);
    const bytesAlloc = this.numAt(s, K_BYTES_ALLOC, allocAt, e);
    if (!isStorableValue(bytesAlloc) || !isStorableValue(bytesReq)) this.fail('bytes_req=/bytes_alloc= sizes below 2^48');
    const gfp = this.gfp(s, f, e, SITE_CACHE_ALLOC);
    if (r === PTR_NULL) { this.failedAllocs++; return; }
    const hi = PTR[0]!, lo = PTR[1]!;
    const cache = this.cacheFor(s, f, e, bytesAlloc, allocAt, gfp);
    const id = this.newObject(cache);
    this.b.push(OP_CACHE_ALLOC, id, 0, cache);
    this.attr?.note(this.b.length - 1, hi, lo);
  }

  private cacheFree(s: Bytes, f: number, e: number): void {
    if (this.ptr(s, K_PTR, f, e) === PTR_NULL) { this.nullFrees++; return; }
    const id = this.objects.take(PTR[0]!, PTR[1]!);
    if (id >= 0) { this.emitObjectFree(id); return; }
    // unknown object: a counted error in the replay; name its cache when the trace defined it
    const b = this.b;
    const v = this.field(s, K_NAME, f, e);
    const c = v >= 0 ? this.nameCache.getToken(s, v, e, SITE_CACHE_FREE) : NaN;
    if (c === c) b.push(OP_CACHE_FREE, b.newId(), 0, c);
    else b.push(OP_KFREE, b.newId(), 0, 0);
  }

  // ---- faults and marks ----

  private fault(s: Bytes, f: number, e: number): void {
    const r = this.ptr(s, K_ADDRESS, f, e);
    const code = this.num(s, K_ERROR_CODE, f, e);
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
    while (e > p && isBlank(s[e - 1]!)) e--;
    if (e > p && s[e - 1]! === 41) { // ')' : ftrace's `(tgid)` column (options/record-tgid)
      let open = e - 1;
      while (open >= p && s[open] !== 40) open--;
      if (open >= p) {
        const a = skipBlanks(s, open + 1, e - 1);
        let z = e - 1;
        while (z > a && isBlank(s[z - 1]!)) z--;
        const tgid = parseDec(s, a, z);
        e = open;
        while (e > p && isBlank(s[e - 1]!)) e--;
        if (tgid >= 0) return this.mapPid(tgid);
      }
    }
    let t = e;
    while (t > p && !isBlank(s[t - 1]!)) t--;
    let pid = parseDec(s, t, e);
    if (!(pid >= 0) && t > p) {
      let slash = t;
      while (slash < e && s[slash] !== 47) slash++;
      if (slash > t && slash < e) pid = parseDec(s, t, slash); // perf `pid/tid`: the process
    }
    if (!(pid >= 0) || t === p) {
      let dash = e - 1;
      while (dash >= t && s[dash] !== 45) dash--;
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

  private mark(s: Bytes, f: number, e: number): void {
    let p = skipBlanks(s, f, e);
    // trace-cmd / perf show the print event as `print: tracing_mark_write: text` or `ip=... buf=text`
    if (startsWith(s, 'tracing_mark_write: ', p)) p += 20;
    else {
      const buf = fieldValue(s, BUF_KEY, p, e);
      if (startsWith(s, 'ip=', p) && buf >= 0) p = buf;
    }
    let z = e;
    while (z > p && isBlank(s[z - 1]!)) z--;
    if (z - p >= 2 && s[z - 2]! === 92 && s[z - 1]! === 110) z -= 2; // a printed "\n"
    this.b.push(OP_MARK, 0, 0, this.b.intern(s.toString('utf8', p, z)));
  }
}

/**
 * KernelParser for a big-endian host, where a word's lanes are the bytes in the other order: the
 * three word scans go a byte at a time (the same answers: the word scans' own tails).
 */
class BytewiseParser extends KernelParser {
  protected override skipSpaces(p: number, e: number): number {
    const s = this.text;
    while (p < e && s[p] === 32) p++;
    return p;
  }

  protected override findByte(p: number, e: number, b: number): number {
    const s = this.text;
    while (p < e && s[p] !== b) p++;
    return p;
  }

  protected override stopAt(p: number): number {
    const s = this.text;
    while (s[p]! > 32) p++;
    return p < s.length ? p : s.length;
  }
}

/**
 * Parses ftrace / perf script / trace-cmd report text into a Trace (`options.layers`: see
 * KernelLayers; the default keeps every event). `text` is the file's bytes (UTF-8, as read and
 * gunzipped: loadTrace passes them undecoded) or its decoded text, which is encoded once (a
 * string with unpaired surrogates, which no decoded file has, gets U+FFFD for them). Malformed
 * lines throw TraceFormatError; unknown events, failed recorded allocations, kernel-address faults
 * and the second report of a batched page free are skipped and counted in `trace.stats`. A
 * recording with snapshot markers keeps only the events between its before- and after-state
 * (snapshot-window.ts; the others are counted in `events_outside_snapshots`). Input
 * longer than KERNEL_TRACE_MAX_BYTES throws AllocbenchError (checkKernelTraceSize).
 */
export function parseKernelTrace(text: string | Uint8Array, file: string, name?: string, options: KernelTraceOptions = {}): Trace {
  return parseWith(LITTLE_ENDIAN ? KernelParser : BytewiseParser, text, file, name, options);
}

/**
 * parseKernelTrace as a big-endian host runs it (BytewiseParser: no word scans), on any host: for
 * tests, which run on little-endian hosts. The same Trace, stats and errors as parseKernelTrace.
 */
export function parseKernelTraceBytewise(text: string | Uint8Array, file: string, name?: string, options: KernelTraceOptions = {}): Trace {
  return parseWith(BytewiseParser, text, file, name, options);
}

function parseWith(Parser: typeof KernelParser, text: string | Uint8Array, file: string, name: string | undefined, options: KernelTraceOptions): Trace {
  const base = name ?? (file.split(/[\\/]/).pop() ?? file).replace(/\.(perf|ftrace|trace|txt)(\.gz)?$/, '');
  // one kind of Buffer for every caller, so the parser's byte reads stay monomorphic
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8')
    : Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  checkKernelTraceSize(bytes.length, file);
  return new Parser(bytes, file, base, options.layers).run();
}
