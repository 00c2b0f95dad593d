import { TraceFormatError } from '../errors.js';
import { ByteWindow, oneChunk } from './chunks.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC } from './ops.js';
import { TraceBuilder, isStorableValue, type Trace } from './trace.js';

/**
 * glibc mtrace(3) logs, as written by malloc/mtrace.c (glibc 2.34+ ships it in libc_malloc_debug.so):
 *
 *   = Start
 *   @ CALLER + 0xADDR 0xSIZE     malloc / calloc / memalign / realloc(NULL, n)   (ADDR `(nil)` when it failed)
 *   @ CALLER - 0xADDR            free, and realloc(p, 0)
 *   @ CALLER < 0xOLD             realloc that moved or resized p: always followed by
 *   @ CALLER > 0xNEW 0xSIZE
 *   @ CALLER ! 0xOLD 0xSIZE      failed realloc (the old block stays live)
 *   = End
 *
 * tr_where() prints CALLER as `FILE:[0xOFF]`, `FILE:(SYM+OFF)[0xOFF]` (SYM-OFF when the caller sits
 * below the symbol) or `[0xADDR]` when dladdr() knows nothing; with a NULL caller it prints no `@`
 * part at all. FILE is dli_fname, a path that may contain spaces, and may be empty (`@ :[0x..]`), so
 * the caller is taken to end at the line's last `]` (the record after it never holds one). The size
 * is printed with `%#lx`, which gives a bare `0` for zero.
 */

const TWO32 = 4294967296;
/** Addresses are kept below 2^52 so a double holds them exactly; x86-64 user space is below 2^47 (2^56 with LA57). */
const ADDR_LIMIT = 2 ** 52;

/**
 * Address → live id, open addressing with linear probing and backward-shift deletion over typed
 * arrays: the loader's per-line path does no Map operations and allocates nothing.
 */
export class AddrIdMap {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1 << 12) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Float64Array(cap).fill(-1);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private hash(k: number): number {
    // Heap pointers are 16-byte aligned: drop the low bits, fold the high word in, then mix.
    let h = Math.imul(((k >>> 4) ^ Math.imul((k / TWO32) | 0, 0x85ebca6b)) | 0, 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The id stored for `k`, or -1. */
  get(k: number): number {
    const keys = this.keys;
    let i = this.hash(k);
    for (;;) {
      const x = keys[i]!;
      if (x === k) return this.vals[i]!;
      if (x === -1) return -1;
      i = (i + 1) & this.mask;
    }
  }

  set(k: number, v: number): void {
    const keys = this.keys;
    let i = this.hash(k);
    for (;;) {
      const x = keys[i]!;
      if (x === k) { this.vals[i] = v; return; }
      if (x === -1) break;
      i = (i + 1) & this.mask;
    }
    keys[i] = k;
    this.vals[i] = v;
    if (++this.size * 2 > keys.length) this.rehash();
  }

  /** Removes `k` and returns its id, or -1 when it was not there. */
  take(k: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.hash(k);
    for (;;) {
      const x = keys[i]!;
      if (x === k) break;
      if (x === -1) return -1;
      i = (i + 1) & mask;
    }
    const v = this.vals[i]!;
    this.size--;
    // Backward-shift deletion (Knuth 6.4 algorithm R): pull later entries of the cluster into the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = keys[j]!;
      if (x === -1) break;
      const h = this.hash(x);
      const between = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!between) {
        keys[i] = x;
        this.vals[i] = this.vals[j]!;
        i = j;
      }
    }
    keys[i] = -1;
    return v;
  }

  /** Calls `fn` with every key (any order). */
  forEachKey(fn: (k: number) => void): void {
    for (const k of this.keys) if (k !== -1) fn(k);
  }

  private rehash(): void {
    const oldK = this.keys;
    const oldV = this.vals;
    this.keys = new Float64Array(oldK.length * 2).fill(-1);
    this.vals = new Int32Array(oldK.length * 2);
    this.mask = this.keys.length - 1;
    this.size = 0;
    for (let i = 0; i < oldK.length; i++) if (oldK[i]! !== -1) this.set(oldK[i]!, oldV[i]!);
  }
}

const EXPECTED_RECORD = 'an mtrace record: "= Start", "= End" or "[@ CALLER ]OP 0xADDR[ 0xSIZE]" with OP one of + - < > !';

/** Default trace name: the file name without directories, `.gz` and `.mtrace`. */
function defaultName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.gz$/i, '').replace(/\.mtrace$/i, '');
}

/**
 * Parses an mtrace log into a Trace of malloc/free/realloc events of pid 0. Pointers become dense
 * ids: `+` takes a new id, `-` looks the address up and retires it, `<`/`>` keeps the id and moves
 * it to the new address. A free or realloc of an address that is not live (allocated before
 * tracing began, or a double free) still emits its event, with a fresh id that was never
 * allocated, so the replay counts it as a trace error. Failed calls (`+ (nil)`, `!`) change no
 * state and emit nothing. A malformed line throws TraceFormatError naming file and line.
 */
export function parseMtrace(input: string | Uint8Array, file: string, name: string = defaultName(file)): Trace {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8')
    : Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return parseMtraceChunks(oneChunk(bytes), () => bytes, bytes.length, file, name);
}

/**
 * parseMtrace over a file's bytes in chunks (chunks.ts: `next()` gives the next, null at the end;
 * `whole()` the whole file, read only to quote an earlier line in an error), `size` bytes in all
 * (an estimate is enough): memory holds the trace, one chunk and a line, never the file.
 */
export function parseMtraceChunks(next: () => Buffer | null, whole: () => Buffer, size: number, file: string, name: string = defaultName(file)): Trace {
  const win = new ByteWindow(next);
  let text = win.bytes;
  let n = text.length;
  const b = new TraceBuilder(name, file, Math.max(16, (size / 48) | 0));
  const live = new AddrIdMap(1 << 12);
  // Addresses freed and not handed out again, with the id they had: a second free of one is a
  // double free of that id (the replay counts it as such), not a free of an unknown pointer.
  const freed = new AddrIdMap();
  let pos = 0;
  let line = 0;
  let pendingOld = -1; // address of a `<` line waiting for its `>`; -2 = `< (nil)`
  let pendingLine = 0;
  let start = 0;
  let end = 0;

  const fail = (expected: string): never => {
    throw new TraceFormatError(file, line, text.toString('utf8', start, end), expected);
  };
  /** the error of a `<` line with no `>` after it: that line, which may lie before the window */
  const failPending = (): never => {
    line = pendingLine;
    text = whole();
    start = lineStart(text, pendingLine);
    end = lineEnd(text, start);
    return fail('a "> 0xNEW 0xSIZE" line right after this "<" line');
  };

  for (;;) {
    if (pos >= n) {
      if (!win.more(pos)) break;
      pos = 0; text = win.bytes; n = text.length;
    }
    let nl = text.indexOf(10, pos);
    if (nl < 0) {
      if (win.more(pos)) { pos = 0; text = win.bytes; n = text.length; continue; }
      nl = n;
    }
    line++;
    start = pos;
    end = nl;
    pos = nl + 1;
    if (end > start && text[end - 1]! === 13) end--; // CRLF
    if (end === start) continue;

    let p = start;
    let c = text[p]!;
    if (c === 61 /* = */) {
      const len = end - start;
      if ((len === 7 && bytesAt(text, start, START)) || (len === 5 && bytesAt(text, start, END))) continue;
      fail(EXPECTED_RECORD);
    }
    if (c === 64 /* @ */) {
      if (text[p + 1]! !== 32) fail('"@ " then the caller');
      const rb = text.lastIndexOf(93, end - 1);
      if (rb <= p + 2 || text[rb + 1]! !== 32) fail('a caller ending in "[0xADDR] " (FILE:[0xOFF], FILE:(SYM+OFF)[0xOFF] or [0xADDR])');
      const lb = text.lastIndexOf(91, rb);
      if (lb < p + 2) fail('a caller with "[0xADDR]"');
      if (lb > p + 2) {
        const before = text[lb - 1]!;
        if (before !== 58 /* : */ && before !== 41 /* ) */) fail('a caller FILE:[0xOFF] or FILE:(SYM+OFF)[0xOFF]');
      }
      if (rb - lb < 4 || text[lb + 1]! !== 48 || (text[lb + 2]! | 32) !== 120) fail('a hex caller address "[0x...]"');
      for (let q = lb + 3; q < rb; q++) if (hexDigit(text[q]!) < 0) fail('a hex caller address "[0x...]"');
      p = rb + 2;
      c = text[p]!;
    }
    if (p + 2 >= end || text[p + 1]! !== 32) fail(EXPECTED_RECORD);
    const opc = c;
    // Pointer: `(nil)` (glibc's %p of NULL) or 0xHEX.
    let q = p + 2;
    let addr: number;
    if (text[q]! === 40 /* ( */) {
      if (!bytesAt(text, q, NIL)) fail('a pointer 0xADDR or (nil)');
      addr = -2;
      q += 5;
    } else {
      if (text[q]! !== 48 || (text[q + 1]! | 32) !== 120) fail('a pointer 0xADDR or (nil)');
      q += 2;
      const s = q;
      addr = 0;
      while (q < end) {
        const d = hexDigit(text[q]!);
        if (d < 0) break;
        if (addr >= ADDR_LIMIT / 16) fail('a pointer below 2^52');
        addr = addr * 16 + d;
        q++;
      }
      if (q === s) fail('a pointer 0xADDR or (nil)');
    }
    // Size (for + > !): %#lx, i.e. 0xHEX or a bare 0. A failed call may print any size_t (malloc(SIZE_MAX)),
    // so the range is checked only where the size is stored.
    let size = -1;
    if (opc === 43 /* + */ || opc === 62 /* > */ || opc === 33 /* ! */) {
      if (q >= end || text[q]! !== 32) fail('a size after the pointer');
      q++;
      if (text[q]! === 48 && (text[q + 1]! | 32) === 120) {
        q += 2;
        const s = q;
        size = 0;
        while (q < end) {
          const d = hexDigit(text[q]!);
          if (d < 0) break;
          size = size * 16 + d; // inexact past 2^53, but then it is rejected or unused
          q++;
        }
        if (q === s) fail('a hex size 0xSIZE');
      } else if (text[q]! === 48) {
        size = 0;
        q++;
      } else fail('a hex size 0xSIZE');
      if ((opc === 62 || (opc === 43 && addr !== -2)) && !isStorableValue(size)) fail('a size below 2^48');
    }
    if (q !== end) fail('end of line after the record');

    if (pendingOld !== -1 && opc !== 62) failPending();

    switch (opc) {
      case 43: { // + malloc
        if (addr === -2) break; // failed allocation: nothing became live
        // A freed address handed out again takes its old id back (nothing can name that id any
        // more), so ids number the addresses seen, not the allocations. A live address handed out
        // again means its free was not traced: it takes a new id, and the old one stays unfreed.
        let id = freed.take(addr);
        if (id < 0) id = b.newId();
        live.set(addr, id);
        b.push(OP_MALLOC, id, size, 0);
        break;
      }
      case 45: { // - free (also realloc(p, 0))
        if (addr === -2) break;
        let id = live.take(addr);
        if (id >= 0) freed.set(addr, id);
        else {
          id = freed.get(addr); // double free: the freed id again
          if (id < 0) id = b.newId(); // unknown pointer: a never-allocated id
        }
        b.push(OP_FREE, id, 0, 0);
        break;
      }
      case 60: // < first half of a realloc
        pendingOld = addr;
        pendingLine = line;
        break;
      case 62: { // > second half
        if (pendingOld === -1) fail('a "<" line before this ">" line');
        let id = pendingOld === -2 ? -1 : live.take(pendingOld);
        pendingOld = -1;
        if (id < 0 && addr !== -2) id = freed.take(addr); // not live: as malloc, a freed address's old id
        if (id < 0) id = b.newId(); // realloc of an address that is not live: counted by the replay
        if (addr !== -2) { live.set(addr, id); freed.take(addr); }
        b.push(OP_REALLOC, id, size, 0);
        break;
      }
      case 33: // ! failed realloc: the old block stays live and unchanged
        break;
      default:
        fail(EXPECTED_RECORD);
    }
  }
  if (pendingOld !== -1) failPending();
  if (b.length > 0) b.notePid(0);
  return b.finish();
}

export function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Offset of 1-based line `ln` (only on the error path). */
function lineStart(text: Buffer, ln: number): number {
  let p = 0;
  for (let k = 1; k < ln; k++) p = text.indexOf(10, p) + 1;
  return p;
}

function lineEnd(text: Buffer, s: number): number {
  let e = text.indexOf(10, s);
  if (e < 0) e = text.length;
  if (e > s && text[e - 1] === 13) e--;
  return e;
}

const START = Buffer.from('= Start'), END = Buffer.from('= End'), NIL = Buffer.from('(nil)');

/** Whether `word` starts at p. */
function bytesAt(s: Buffer, p: number, word: Buffer): boolean {
  if (p + word.length > s.length) return false;
  for (let i = 0; i < word.length; i++) if (s[p + i] !== word[i]) return false;
  return true;
}
