import { createRequire } from 'node:module';
import { AllocbenchError, TraceFormatError } from '../errors.js';
import { AddrIdMap, hexDigit } from './mtrace.js';
import { OP_FREE, OP_MALLOC } from './ops.js';
import { MAX_VALUE, TraceBuilder, type Trace } from './trace.js';

/**
 * heaptrack files (KDE heaptrack 1.x: `heaptrack.NAME.PID.zst`, `.gz` before 1.2), one line per
 * record, a mode character then hex fields:
 *
 *   raw (heaptrack -r, libheaptrack.cpp):     `+ SIZE TRACE PTR`   malloc (realloc: `- OLD` then `+`)
 *                                             `- PTR`              free
 *   interpreted (heaptrack_interpret.cpp):    `a SIZE TRACE`       defines allocation info 0, 1, 2, ...
 *                                             `+ INFO`             malloc of an object with that info
 *                                             `- INFO`             free of a live object with that info
 *
 * and lines this loader skips: `v` version, `x`/`X` executable and command line, `I` page size and
 * pages, `m` modules, `t` trace nodes, `i` instruction pointers, `s` strings, `c` timestamps, `R` RSS,
 * `A` attached, `S` suppressions, `#` comments, and the lines after `X` that are not records (an
 * argument holding newlines: libheaptrack writes the command line as it is). heaptrack records no
 * thread and no mmap/brk.
 *
 * Interpreted files do not name the object a free releases, only its allocation info (size and
 * call stack): heaptrack_interpret dropped the pointers. Pairing rule: a free releases the most
 * recently allocated object still live with that info (LIFO, which pairs the temporaries that
 * heaptrack counts as an allocation immediately freed exactly). When more than one object with that
 * info is live the choice is a guess: such frees are counted in stats.ambiguous_frees (the requested
 * bytes are right either way, since all have the same size; the placement in the heap may not be).
 * A free with no live object of its info is a trace error (fresh id), as an unknown pointer is.
 */

const ZSTD_MAGIC = 0xfd2fb528; // little-endian 28 b5 2f fd

/** Whether `bytes` start with a zstd frame. */
export function isZstd(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && (bytes[0]! | bytes[1]! << 8 | bytes[2]! << 16 | bytes[3]! << 24) >>> 0 === ZSTD_MAGIC;
}

/**
 * Decompresses zstd (fzstd: pure JavaScript, all frames of the file). Corrupt data: AllocbenchError.
 * fzstd is loaded on the first .zst file only, so every other trace loads without it.
 */
export function unzstd(bytes: Uint8Array, file: string): Uint8Array {
  let decompress: (b: Uint8Array) => Uint8Array;
  try {
    decompress = (createRequire(import.meta.url)('fzstd') as typeof import('fzstd')).decompress;
  } catch {
    throw new AllocbenchError(`cannot read trace ${file}: zstd needs the npm package fzstd (npm ci installs it)`);
  }
  try {
    return decompress(bytes);
  } catch (e) {
    throw new AllocbenchError(`cannot read trace ${file}: corrupt or truncated zstd data (${(e as Error).message})`);
  }
}

/** Whether text starts like a heaptrack file: its first line is `v HEAPTRACK_VERSION FILE_VERSION`. */
export function looksLikeHeaptrack(text: string): boolean {
  return /^v [0-9a-f]+ [0-9a-f]+\r?\n/.test(text);
}

function defaultName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.(gz|zst)$/i, '');
}

const SKIPPED = new Set('vxXImtiscRAS#'.split('').map((c) => c.charCodeAt(0)));
const PLUS = 0x2b, MINUS = 0x2d, A = 0x61, X = 0x58, SP = 0x20, NL = 0x0a, CR = 0x0d;

/** Parses a heaptrack file (raw or interpreted, optionally zstd- or gzip-compressed bytes: gzip is undone by load.ts). */
export function parseHeaptrack(input: Uint8Array, file: string, name: string = defaultName(file)): Trace {
  const buf = isZstd(input) ? unzstd(input, file) : input;
  const n = buf.length;
  const b = new TraceBuilder(name, file, Math.max(16, (n / 24) | 0));
  const live = new AddrIdMap(1 << 12);
  // interpreted: per allocation info, a LIFO stack of live ids (head by info, next by id)
  let infoCount = 0;
  let head = new Int32Array(1024).fill(-1), liveOfInfo = new Int32Array(1024), infoSize = new Float64Array(1024);
  let next = new Int32Array(1 << 16);
  let ambiguous = 0, reused = 0;
  let format = 0; // 0 unknown, 1 raw, 2 interpreted
  let inCommandLine = false;
  let line = 0;
  let pos = 0;
  // fields of the current line
  const field = new Float64Array(4);

  const fail = (start: number, expected: string): never => {
    let end = buf.indexOf(NL, start);
    if (end < 0) end = n;
    const text = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8').replace(/\r$/, '');
    throw new TraceFormatError(file, line, text, expected);
  };

  while (pos < n) {
    line++;
    const start = pos;
    let end = buf.indexOf(NL, pos);
    if (end < 0) end = n;
    pos = end + 1;
    let e = end;
    if (e > start && buf[e - 1] === CR) e--;
    if (e === start) continue; // blank line
    const mode = buf[start]!;
    if (mode !== PLUS && mode !== MINUS && mode !== A) {
      const known = SKIPPED.has(mode) && (e === start + 1 || buf[start + 1] === SP);
      // libheaptrack writes the command line (X) as it is: an argument holding newlines continues it
      if (known) { inCommandLine = mode === X; continue; }
      if (inCommandLine) continue;
      fail(start, 'a heaptrack line: "+ SIZE TRACE PTR", "- PTR", "a SIZE TRACE", "+ INFO", "- INFO" or a v/x/X/I/m/t/i/s/c/R/A/S/# line');
    }
    inCommandLine = false;
    // hex fields: " h h h"
    let k = 0;
    let i = start + 1;
    while (i < e) {
      if (buf[i] !== SP || k === 4) fail(start, 'hex fields separated by single spaces');
      i++;
      let v = 0, digits = 0;
      for (; i < e; i++) {
        const d = hexDigit(buf[i]!);
        if (d < 0) break;
        v = v * 16 + d;
        digits++;
      }
      if (digits === 0 || (i < e && buf[i] !== SP)) fail(start, 'hex fields separated by single spaces');
      if (digits > 13 || (k === 0 && mode !== MINUS && v > MAX_VALUE)) fail(start, 'a hex number below 2^52 (sizes below 2^48)');
      field[k++] = v;
    }
    if (mode === A) {
      if (k !== 2) fail(start, '"a SIZE TRACE" (an allocation info of heaptrack_interpret)');
      if (infoCount === head.length) {
        const h = new Int32Array(head.length * 2).fill(-1); h.set(head); head = h;
        const l = new Int32Array(head.length); l.set(liveOfInfo); liveOfInfo = l;
        const s = new Float64Array(head.length); s.set(infoSize); infoSize = s;
      }
      infoSize[infoCount++] = field[0]!;
      continue;
    }
    if (format === 0) {
      if (mode === PLUS && k !== 3 && k !== 1) fail(start, '"+ SIZE TRACE PTR" (raw heaptrack file) or "+ INFO" (interpreted)');
      format = mode === PLUS ? (k === 3 ? 1 : 2) : (infoCount > 0 ? 2 : 1);
    }
    if (format === 1) {
      if (mode === PLUS) {
        if (k !== 3) fail(start, '"+ SIZE TRACE PTR" (raw heaptrack file)');
        const old = live.take(field[2]!);
        if (old >= 0) { reused++; b.push(OP_FREE, old, 0, 0); }
        const id = b.newId();
        live.set(field[2]!, id);
        b.push(OP_MALLOC, id, field[0]!, 0);
      } else {
        if (k !== 1) fail(start, '"- PTR" (raw heaptrack file)');
        let id = live.take(field[0]!);
        if (id < 0) id = b.newId(); // unknown pointer: the replay counts a trace error
        b.push(OP_FREE, id, 0, 0);
      }
    } else {
      if (k !== 1) fail(start, mode === PLUS ? '"+ INFO" (interpreted heaptrack file)' : '"- INFO" (interpreted heaptrack file)');
      const info = field[0]!;
      if (info >= infoCount) fail(start, `an allocation info index below ${infoCount} (defined by an earlier "a" line)`);
      if (mode === PLUS) {
        const id = b.newId();
        if (id >= next.length) { const x = new Int32Array(next.length * 2); x.set(next); next = x; }
        next[id] = head[info]!;
        head[info] = id;
        liveOfInfo[info]!++;
        b.push(OP_MALLOC, id, infoSize[info]!, 0);
      } else {
        let id = head[info]!;
        if (id < 0) id = b.newId();
        else {
          if (liveOfInfo[info]! > 1) ambiguous++;
          head[info] = next[id]!;
          liveOfInfo[info]!--;
        }
        b.push(OP_FREE, id, 0, 0);
      }
    }
  }
  if (b.length > 0) b.notePid(0);
  b.stats = format === 2 ? { ambiguous_frees: ambiguous, allocation_infos: infoCount } : { reused_live_pointers: reused };
  return b.finish();
}
