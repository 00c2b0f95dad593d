import { TraceFormatError } from '../errors.js';
import { AddrIdMap } from './mtrace.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC } from './ops.js';
import { TraceBuilder, isStorableValue, type Trace } from './trace.js';

/**
 * Firefox logalloc logs (mozilla memory/replace/logalloc, LogAlloc.cpp and README): one call a line,
 *
 *   <pid> <tid> <function>(<args>)[=<result>]
 *
 *   malloc(SIZE)=P   calloc(N,SIZE)=P   realloc(OLD,SIZE)=P   free(P)
 *   memalign(ALIGN,SIZE)=P   posix_memalign(ALIGN,SIZE)=P   aligned_alloc(ALIGN,SIZE)=P   valloc(SIZE)=P
 *
 * with sizes in decimal and pointers as printed by %p (`0x7f90495120e0`, `(nil)` or `0` for NULL)
 * or, in logs preprocessed by logalloc_munge.py, as slot numbers `#12`. Other calls of the same
 * shape (`jemalloc_stats()`, added as stats markers) are skipped and counted in
 * stats.skipped_calls. tid is pthread_self() (a pointer-sized number), so threads become dense
 * numbers 0, 1, ... in order of first appearance (the trace's tid column); pids become dense pids
 * in order of first appearance, each with its own pointer namespace. NULL results are failed calls
 * (stats.recorded_failed_allocs); free(NULL) is nothing; realloc(P,0)=NULL frees P. A free or
 * realloc of a pointer that is not live is a trace error (fresh id), as in the other loaders.
 */

function defaultName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.gz$/i, '').replace(/\.logalloc$/i, '');
}

/** Whether text starts like a logalloc log: `<pid> <tid> name(...)` on its first non-blank line. */
export function looksLikeLogalloc(text: string): boolean {
  return /^\s*\d+ \d+ [A-Za-z_][A-Za-z0-9_]*\([^)\n]*\)(=\S+)?\r?\n/.test(text.slice(0, 4096));
}

const SP = 0x20, NL = 0x0a, CR = 0x0d, LP = 0x28, RP = 0x29, COMMA = 0x2c, EQ = 0x3d, HASH = 0x23;
/** munged slot numbers live above every real address (below 2^53, exact in a double) */
const SLOT_BASE = 2 ** 52;

// function codes
const F_MALLOC = 1, F_CALLOC = 2, F_REALLOC = 3, F_FREE = 4, F_ALIGNED = 5, F_VALLOC = 6, F_OTHER = 0;
const FUNCS: Record<string, number> = {
  malloc: F_MALLOC, calloc: F_CALLOC, realloc: F_REALLOC, free: F_FREE,
  memalign: F_ALIGNED, posix_memalign: F_ALIGNED, aligned_alloc: F_ALIGNED, valloc: F_VALLOC,
};
const ARGS = [0, 1, 2, 2, 1, 2, 1]; // argument count by function code

const EXPECTED = 'a logalloc line "<pid> <tid> function(args)[=result]"';

/** A cursor over one line of the log: decimal numbers and pointers (fields, not closures: hot path). */
class LineScanner {
  i = 0;
  e = 0;
  start = 0;
  line = 0;
  constructor(readonly buf: Uint8Array, readonly file: string) {}

  fail(expected: string): never {
    const text = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.start, this.e - this.start).toString('utf8');
    throw new TraceFormatError(this.file, this.line, text, expected);
  }

  /** A decimal number at i. */
  decimal(what: string): number {
    const buf = this.buf, e = this.e;
    let i = this.i, v = 0;
    const from = i;
    for (; i < e; i++) {
      const c = buf[i]! - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
    }
    if (i === from || i - from > 15) this.fail(`${EXPECTED} with a decimal ${what}`);
    this.i = i;
    return v;
  }

  /** A pointer at i: 0xHEX, (nil), 0, or a munged #SLOT; 0 for NULL. */
  pointer(): number {
    const buf = this.buf, e = this.e;
    let i = this.i;
    const c = buf[i]!;
    if (c === 0x30 && (buf[i + 1]! | 0x20) === 0x78) {
      i += 2;
      const from = i;
      let v = 0;
      for (; i < e; i++) {
        const x = buf[i]!;
        let d = x - 0x30;
        if (d < 0 || d > 9) {
          d = (x | 0x20) - 0x57;
          if (d < 10 || d > 15) break;
        }
        v = v * 16 + d;
      }
      if (i === from || i - from > 13) this.fail(`${EXPECTED} with a pointer below 2^52`);
      this.i = i;
      return v;
    }
    if (c === HASH) { this.i = i + 1; return SLOT_BASE + this.decimal('slot number'); }
    if (c === LP && i + 5 <= e && buf[i + 1] === 0x6e && buf[i + 2] === 0x69 && buf[i + 3] === 0x6c && buf[i + 4] === RP) { this.i = i + 5; return 0; }
    if (c === 0x30) { this.i = i + 1; return 0; }
    return this.fail(`${EXPECTED} with a pointer (0x..., (nil) or #slot)`);
  }

  /** Expects byte c at i and steps over it. */
  expect(c: number, expected: string): void {
    if (this.buf[this.i] !== c) this.fail(expected);
    this.i++;
  }
}

/** Parses a logalloc log from its bytes (UTF-8 / ASCII). */
export function parseLogalloc(buf: Uint8Array, file: string, name: string = defaultName(file)): Trace {
  const n = buf.length;
  const b = new TraceBuilder(name, file, Math.max(16, (n / 36) | 0));
  b.useTid();
  // pid / tid → dense number (typed-array hash maps: a log's lines alternate between threads)
  const pidIndex = new AddrIdMap(64);
  const tidIndex = new AddrIdMap(256);
  const maps: AddrIdMap[] = [];
  const funcCache = new Map<string, number>();
  let failed = 0, skipped = 0;
  let pos = 0;
  let a0 = 0, a1 = 0;
  let lastPid = -1, lastPidIdx = 0, lastTid = -1, lastTidIdx = 0;
  const s = new LineScanner(buf, file);

  while (pos < n) {
    s.line++;
    const start = pos;
    let end = buf.indexOf(NL, pos);
    if (end < 0) end = n;
    pos = end + 1;
    let e = end;
    if (e > start && buf[e - 1] === CR) e--;
    if (e === start) continue;
    s.start = start; s.e = e; s.i = start;
    const pid = s.decimal('pid');
    s.expect(SP, EXPECTED);
    const tid = s.decimal('tid');
    s.expect(SP, EXPECTED);
    const nameStart = s.i;
    let i = nameStart;
    while (i < e && buf[i] !== LP) i++;
    if (i === e || i === nameStart) s.fail(EXPECTED);
    // function name: malloc and free by their first byte and length, the rest through a Map
    const len = i - nameStart;
    const c0 = buf[nameStart]!;
    let f: number;
    if (len === 6 && c0 === 0x6d && buf[nameStart + 1] === 0x61) f = F_MALLOC;
    else if (len === 4 && c0 === 0x66 && buf[nameStart + 1] === 0x72) f = F_FREE;
    else {
      const key = Buffer.from(buf.buffer, buf.byteOffset + nameStart, len).toString('latin1');
      f = funcCache.get(key) ?? -1;
      if (f < 0) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) s.fail(EXPECTED);
        f = FUNCS[key] ?? F_OTHER;
        funcCache.set(key, f);
      }
    }
    s.i = i + 1; // after (
    if (f === F_OTHER) {
      // another call (jemalloc_stats()): skipped, but it must still be a well-formed line
      i = s.i;
      while (i < e && buf[i] !== RP) i++;
      if (i === e) s.fail(`${EXPECTED}: a closing parenthesis`);
      skipped++;
      continue;
    }
    if (f === F_FREE || f === F_REALLOC) a0 = s.pointer();
    else a0 = s.decimal('size');
    if (ARGS[f] === 2) { s.expect(COMMA, `${EXPECTED}: 2 arguments`); a1 = s.decimal('size'); }
    s.expect(RP, `${EXPECTED}: ${ARGS[f]} argument${ARGS[f] === 1 ? '' : 's'} and ")"`);
    let result = 0;
    if (f !== F_FREE) {
      s.expect(EQ, `${EXPECTED}: "=result" after the call`);
      result = s.pointer();
    }
    if (s.i !== e) s.fail(`${EXPECTED}: nothing after the call`);

    // dense pid and tid (most lines repeat the previous ones)
    let p = lastPidIdx;
    if (pid !== lastPid) {
      p = pidIndex.get(pid);
      if (p < 0) { p = pidIndex.size; pidIndex.set(pid, p); maps.push(new AddrIdMap(1 << 10)); b.notePid(p); }
      lastPid = pid; lastPidIdx = p;
    }
    if (tid !== lastTid) {
      let t = tidIndex.get(tid);
      if (t < 0) { t = tidIndex.size; tidIndex.set(tid, t); }
      lastTid = tid; lastTidIdx = t;
    }
    b.curTid = lastTidIdx;
    const live = maps[p]!;

    if (f === F_FREE) {
      if (a0 === 0) continue;
      let id = live.take(a0);
      if (id < 0) id = b.newId();
      b.push(OP_FREE, id, 0, p);
    } else if (f === F_REALLOC) {
      const old = a0, size = a1;
      if (!isStorableValue(size)) s.fail(`${EXPECTED} with a size below 2^48`);
      if (result === 0) {
        // realloc(P, 0) = NULL frees P; any other NULL is a failure that leaves P live
        if (size === 0 && old !== 0) { let id = live.take(old); if (id < 0) id = b.newId(); b.push(OP_FREE, id, 0, p); } else failed++;
        continue;
      }
      let id = old === 0 ? -1 : live.take(old);
      const op = old === 0 ? OP_MALLOC : OP_REALLOC; // realloc(NULL, n) is malloc(n)
      if (id < 0) id = b.newId();
      live.set(result, id);
      b.push(op, id, size, p);
    } else {
      if (result === 0) { failed++; continue; }
      const size = f === F_CALLOC ? a0 * a1 : f === F_ALIGNED ? a1 : a0;
      if (!isStorableValue(size)) s.fail(`${EXPECTED} with a size below 2^48`);
      const id = b.newId();
      live.set(result, id);
      b.push(OP_MALLOC, id, size, p);
    }
  }
  b.stats = { skipped_calls: skipped, recorded_failed_allocs: failed, threads: tidIndex.size };
  return b.finish();
}
