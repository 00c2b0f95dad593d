import { CsvError, parse } from 'csv-parse/sync';
import { TraceFormatError } from '../errors.js';
import { GFP_KERNEL, ZONE_NAMES, parseGfp } from '../machine/gfp.js';
import { ByteWindow, oneChunk } from './chunks.js';
import { AddrMap } from './kernel-events.js';
import * as O from './ops.js';
import { MAX_VALUE, TraceBuilder, type Trace } from './trace.js';

/**
 * The native CSV trace format (docs/trace-formats.md). A header row names the columns, in any
 * order; every column is optional except `op`, and empty cells take the defaults below. Lines
 * starting with `#` are comments. `tid` and `cpu` fill the trace's optional per-event columns
 * (an empty cell is -1, unknown); `time` (a recorder's timestamp) is accepted and not read. The
 * writer (csv-writer.ts) emits all columns in this order.
 */
export const CSV_COLUMNS = [
  'op', 'id', 'pid', 'size', 'order', 'gfp', 'cache', 'align', 'flags', 'addr', 'len', 'prot',
  'write', 'child', 'label', 'alloc_order', 'alloc_mt', 'fallback_mt', 'fragmenting', 'change_ownership',
  'tid', 'cpu', 'time', 'zone',
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** Symbolic names accepted in `flags` for cache_create (mm/slab.h). */
export const CACHE_FLAG_NAMES: Record<string, number> = {
  reclaimable: O.CACHE_RECLAIMABLE, SLAB_RECLAIM_ACCOUNT: O.CACHE_RECLAIMABLE,
  hwcache_align: O.CACHE_HWCACHE_ALIGN, SLAB_HWCACHE_ALIGN: O.CACHE_HWCACHE_ALIGN,
};
/** Symbolic names accepted in `prot` and `flags` of mmap (include/uapi/asm-generic/mman*.h, x86-64 values). */
export const PROT_NAMES: Record<string, number> = { PROT_NONE: 0, PROT_READ: 1, PROT_WRITE: 2, PROT_EXEC: 4 };
export const MAP_NAMES: Record<string, number> = {
  MAP_SHARED: 0x01, MAP_PRIVATE: 0x02, MAP_FIXED: 0x10, MAP_ANONYMOUS: 0x20, MAP_ANON: 0x20,
  MAP_GROWSDOWN: 0x100, MAP_DENYWRITE: 0x800, MAP_EXECUTABLE: 0x1000, MAP_LOCKED: 0x2000,
  MAP_NORESERVE: 0x4000, MAP_POPULATE: 0x8000, MAP_NONBLOCK: 0x10000, MAP_STACK: 0x20000,
  MAP_HUGETLB: 0x40000, MAP_FIXED_NOREPLACE: 0x100000,
};

/** csv-parse's options: the rows the byte scanner does not take go through it, with these. */
const CSV_PARSE_OPTIONS = {
  relax_column_count: true, skip_empty_lines: true, trim: true,
  comment: '#', comment_no_infix: true,
} as const;

const TWO32 = 4294967296;
/** the op names as bytes, for the byte compare of an op cell */
const OP_BYTES = O.OP_NAMES.map((n) => Buffer.from(n, 'latin1'));

function defaultName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.gz$/i, '').replace(/\.csv$/i, '');
}

/** Token kinds (TokenSpace): canonical decimal or 0x hex numbers go to typed-array maps. */
const TOK_STR = 0, TOK_DEC = 1, TOK_HEX = 2;
let tokHi = 0, tokLo = 0;

/**
 * The kind of token s[a, b) and, for a number, its 64-bit key in tokHi/tokLo. Only canonical
 * spellings are numbers (decimal without leading zeros, up to 15 digits; `0x` then 1 to 16
 * lower-case hex digits without leading zeros): "16", "0x10" and "016" stay three tokens, as
 * strings they are.
 */
function tokenKind(s: Buffer, a: number, b: number): number {
  const n = b - a;
  const c0 = s[a]!;
  if (n >= 3 && c0 === 48 && s[a + 1] === 120) {
    if (n > 18 || (s[a + 2] === 48 && n > 3)) return TOK_STR;
    let hi = 0, lo = 0;
    for (let i = a + 2; i < b; i++) {
      const c = s[i]!;
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) return TOK_STR;
      hi = (hi * 16 + (lo >>> 28)) >>> 0;
      lo = ((lo << 4) | d) >>> 0;
    }
    tokHi = hi | 0; tokLo = lo | 0;
    return TOK_HEX;
  }
  if (n > 15 || (c0 === 48 && n > 1)) return TOK_STR;
  let v = 0;
  for (let i = a; i < b; i++) {
    const d = s[i]! - 48;
    if (d < 0 || d > 9) return TOK_STR;
    v = v * 10 + d;
  }
  tokHi = Math.floor(v / TWO32) | 0; tokLo = v | 0;
  return TOK_DEC;
}

/**
 * One namespace of id tokens (page blocks, kernel objects, one pid's heap): every token seen, with
 * its id while live, or its old id (stored as -2 - id) once freed and not allocated again: a
 * second free of it is a double free of that id. One map entry per token, updated in place.
 * Canonical numbers are keyed in typed-array maps, other tokens by string.
 */
class TokenSpace {
  private readonly nums: (AddrMap | null)[] = [null, null, null];
  private readonly strs = new Map<string, number>();

  private map(k: number): AddrMap {
    return this.nums[k] ?? (this.nums[k] = new AddrMap(1024));
  }

  /**
   * An allocation: the token's id. A freed token allocated again takes its old id back (nothing
   * can name that id any more: a later free of the token means the new allocation), so a trace
   * numbers the tokens it saw, not its allocations; otherwise `fresh()` (a live token reused just
   * takes a new id: its old allocation is never freed).
   */
  alloc(s: Buffer, a: number, b: number, fresh: () => number): number {
    const k = tokenKind(s, a, b);
    if (k === TOK_STR) {
      const key = s.toString('utf8', a, b);
      const v = this.strs.get(key);
      const id = v !== undefined && v < 0 ? -2 - v : fresh();
      this.strs.set(key, id);
      return id;
    }
    const m = this.map(k);
    const i = m.lookup(tokHi, tokLo);
    if (i >= 0) {
      const v = m.valueAt(i);
      const id = v < 0 ? -2 - v : fresh();
      m.setAt(i, id);
      return id;
    }
    const hi = tokHi, lo = tokLo;
    const id = fresh();
    m.insertAt(-1 - i, hi, lo, id);
    return id;
  }

  /** A free: the live id, else the old id of a freed token (double free), else -1 (never allocated). */
  release(s: Buffer, a: number, b: number): number {
    const k = tokenKind(s, a, b);
    if (k === TOK_STR) {
      const key = s.toString('utf8', a, b);
      const v = this.strs.get(key);
      if (v === undefined) return -1;
      if (v >= 0) { this.strs.set(key, -2 - v); return v; }
      return -2 - v;
    }
    const m = this.nums[k];
    if (!m) return -1;
    const i = m.lookup(tokHi, tokLo);
    if (i < 0) return -1;
    const v = m.valueAt(i);
    if (v >= 0) { m.setAt(i, -2 - v); return v; }
    return -2 - v;
  }

  /** A realloc: the live id, else (of a token not live) an id made live as by alloc. */
  keep(s: Buffer, a: number, b: number, fresh: () => number): number {
    const k = tokenKind(s, a, b);
    if (k === TOK_STR) {
      const v = this.strs.get(s.toString('utf8', a, b));
      if (v !== undefined && v >= 0) return v;
    } else {
      const m = this.nums[k];
      const i = m ? m.lookup(tokHi, tokLo) : -1;
      if (i >= 0 && m!.valueAt(i) >= 0) return m!.valueAt(i);
    }
    return this.alloc(s, a, b, fresh);
  }
}

/** Thrown inside the scanner when the file must be read by csv-parse as a whole (a line ending it cannot follow). */
class WholeFile extends Error {}

/**
 * Parses the native CSV format, from its bytes (UTF-8) or its text. Id tokens are the user's own
 * strings (pointers, names, numbers), mapped to dense ids as the mtrace loader maps pointers: an
 * allocation takes a new id, a free retires its token, a realloc keeps the id; a free/realloc of a
 * token that is not live gets a fresh never-allocated id, which the replay counts as a trace error
 * (a second free of a freed token frees its old id again: a double free). Tokens live in three
 * namespaces: page blocks, kernel objects (kmalloc and cache objects: kfree may free either), and
 * each pid's user heap. Any malformed row throws TraceFormatError with its line number.
 *
 * Speed: a byte scanner reads the common rows (no quote, no control or non-ASCII byte, no comment
 * after blanks) in place: cells are byte ranges, numbers are read from the bytes, canonical numeric
 * tokens are keyed in typed-array maps. A row it does not take (quoted cells, other blanks) is
 * parsed by csv-parse on its own, with the same options, so every row reads as csv-parse reads
 * it, with the same line numbers; a file whose line endings csv-parse would read differently
 * (bare CR, or CRLF then a bare LF) is parsed by csv-parse as a whole.
 */
export function parseCsv(input: string | Uint8Array, file: string, name: string = defaultName(file)): Trace {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8')
    : Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return parseCsvChunks(oneChunk(bytes), () => bytes, bytes.length, file, name);
}

/**
 * parseCsv over a file's bytes in chunks (`next()` gives the next one, null at the end; `whole()`
 * the whole file, read only on the rare paths: a file csv-parse must read whole, and the error
 * path), `size` bytes in all (an estimate is enough): memory holds one chunk and a line, not the file.
 */
export function parseCsvChunks(next: () => Buffer | null, whole: () => Buffer, size: number, file: string, name: string = defaultName(file)): Trace {
  try {
    return new CsvParser(next, whole, size, file, name).run(false);
  } catch (e) {
    if (!(e instanceof WholeFile)) throw e;
  }
  const all = whole();
  return new CsvParser(oneChunk(all), () => all, size, file, name).run(true);
}

class CsvParser {
  private readonly b: TraceBuilder;
  /** the window of the file's bytes being read: the end of a chunk and the next (or the whole file) */
  private readonly win: ByteWindow;
  /** lines of the file before the window */
  private winLine = 0;
  /** the bytes cells are read from: the window, or `slow` for a row csv-parse read */
  private src: Buffer;
  /** a row csv-parse read, its cells' UTF-8 one after another */
  private slow: Buffer = Buffer.alloc(256);
  /** per cell of the current row: start and end in src (trimmed) */
  private cs = new Int32Array(64);
  private ce = new Int32Array(64);
  private ncells = 0;
  /** line number of the current row (csv-parse's: the line its record ends on) */
  private ln = 0;
  /** header: column → cell index (-1 when absent), and the header's width */
  private readonly col = new Int32Array(CSV_COLUMNS.length).fill(-1);
  private width = 0;
  private readonly pages = new TokenSpace();
  private readonly kernel = new TokenSpace();
  private readonly users = new Map<number, TokenSpace>();
  private lastPid = -1;
  private lastUser: TokenSpace | null = null;
  private readonly cacheByName = new Map<string, number>();
  private readonly newId = (): number => this.b.newId();

  constructor(next: () => Buffer | null, private readonly whole: () => Buffer, size: number, private readonly file: string, name: string) {
    this.win = new ByteWindow(next);
    this.src = this.win.bytes;
    this.b = new TraceBuilder(name, file, estimateRows(this.win.bytes, size));
  }

  private get bytes(): Buffer {
    return this.win.bytes;
  }

  private get eof(): boolean {
    return this.win.eof;
  }

  private more(pos: number): boolean {
    return this.win.more(pos);
  }

  run(wholeFile: boolean): Trace {
    let s = this.bytes;
    let pos = s.length >= 3 && s[0] === 0xef && s[1] === 0xbb && s[2] === 0xbf ? 3 : 0; // csv-parse's bom option
    if (wholeFile) {
      this.slowRecords(s.toString('utf8', pos), 0);
      return this.b.finish();
    }
    // csv-parse takes the first line ending as the record delimiter of the whole file
    let crlf: boolean;
    for (;;) {
      const le = this.lineEnding(pos);
      if (le >= 0 || !this.more(0)) { crlf = le === 1; break; }
    }
    s = this.bytes;
    let line = 0;
    this.winLine = 0;
    for (;;) {
      const n = s.length;
      if (pos >= n) {
        if (!this.more(pos)) break;
        this.winLine = line; pos = 0; s = this.bytes; continue;
      }
      let nl = s.indexOf(10, pos);
      if (nl < 0) {
        if (this.more(pos)) { this.winLine = line; pos = 0; s = this.bytes; continue; }
        nl = n;
      }
      line++;
      let e = nl;
      if (e > pos && s[e - 1] === 13) e--;
      else if (crlf && nl < n) throw new WholeFile(); // a bare LF inside a CRLF file is a field's text to csv-parse
      if (!this.scanLine(pos, e)) {
        // csv-parse reads this record: from this line to the line end outside quotes
        const end = this.recordEnd(pos, crlf);
        // a record that goes on in the next chunk: read it again with more of the file
        if (end === n && this.more(pos)) { line--; this.winLine = line; pos = 0; s = this.bytes; continue; }
        line += this.slowRecords(s.toString('utf8', pos, end), line - 1, crlf ? '\r\n' : '\n');
        pos = end + 1;
        continue;
      }
      if (this.ncells > 0) { this.ln = line; this.row(); }
      pos = nl + 1;
    }
    return this.b.finish();
  }

  /**
   * 1 when the file's records end in CRLF, 0 in LF, -1 when the window holds no line end yet. A
   * bare CR or a quote before the first line end leaves the file to csv-parse (WholeFile).
   */
  private lineEnding(pos: number): number {
    const s = this.bytes;
    for (let i = pos; i < s.length; i++) {
      const c = s[i]!;
      if (c === 10) return 0;
      if (c === 13) {
        if (i + 1 === s.length && !this.eof) return -1;
        if (s[i + 1] === 10) return 1;
        throw new WholeFile();
      }
      if (c === 34) throw new WholeFile();
    }
    return this.eof ? 0 : -1;
  }

  /**
   * Splits line [p, e) into trimmed cells (ncells = 0: a blank or comment line to skip); false when
   * csv-parse must read it (a quote, a control or non-ASCII byte, a comment after blanks).
   */
  private scanLine(p: number, e: number): boolean {
    const s = this.bytes;
    this.src = s;
    this.ncells = 0;
    if (p === e) return true;
    if (s[p] === 35) return true; // '#' comment (comment_no_infix: only at a line start)
    let cs = this.cs, ce = this.ce;
    let k = 0;
    let a = p;
    for (let i = p; ; i++) {
      const c = i < e ? s[i]! : 44;
      if (c === 44) {
        // trim blanks (space, tab) at both ends of the cell [a, i)
        let x = a, y = i;
        while (x < y && (s[x] === 32 || s[x] === 9)) x++;
        while (y > x && (s[y - 1] === 32 || s[y - 1] === 9)) y--;
        if (k === cs.length) { this.growCells(); cs = this.cs; ce = this.ce; }
        cs[k] = x; ce[k] = y; k++;
        if (i >= e) break;
        a = i + 1;
      } else if (c < 32 ? c !== 9 : c > 126 || c === 34) return false;
    }
    if (k === 1 && cs[0] === ce[0]) return true; // a blank line (skip_empty_lines)
    if (k >= 1 && cs[0]! > p && s[cs[0]!] === 35) return false; // '#' after blanks: csv-parse decides
    this.ncells = k;
    return true;
  }

  private growCells(): void {
    const cs = new Int32Array(this.cs.length * 2); cs.set(this.cs); this.cs = cs;
    const ce = new Int32Array(this.ce.length * 2); ce.set(this.ce); this.ce = ce;
  }

  /** End (the LF, or the file's end) of the record starting at p: the first line end outside quotes. */
  private recordEnd(p: number, crlf: boolean): number {
    const s = this.bytes;
    let quoted = false;
    for (let i = p; i < s.length; i++) {
      const c = s[i]!;
      if (c === 34) quoted = !quoted;
      else if (c === 10 && !quoted && (!crlf || s[i - 1] === 13)) return i;
    }
    return s.length;
  }

  /**
   * Rows of `text` (records starting at line `before` + 1) read by csv-parse, each then taken as a
   * scanned row; returns the lines `text` spans beyond its first. csv-parse's errors become
   * TraceFormatError at the file's line.
   */
  private slowRecords(text: string, before: number, delimiter?: string): number {
    const rows: { r: string[]; ln: number }[] = [];
    try {
      parse(text, {
        ...CSV_PARSE_OPTIONS,
        ...(delimiter !== undefined ? { record_delimiter: delimiter } : {}),
        on_record: (r: string[], ctx: { lines: number }) => { rows.push({ r, ln: ctx.lines }); return null; },
      });
    } catch (e) {
      if (e instanceof CsvError) {
        this.syntaxFirst(); // the whole file's first error, in csv-parse's words (its message has line numbers)
        const ln = before + (typeof e.lines === 'number' ? e.lines : 0);
        throw new TraceFormatError(this.file, ln, this.lineText(ln), `well-formed CSV (${e.message})`);
      }
      throw e;
    }
    for (const { r, ln } of rows) {
      this.setSlowCells(r);
      this.ln = before + ln;
      this.row();
    }
    let lines = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    return lines;
  }

  /** Makes a csv-parse record the current row: its cells' bytes in `slow`. */
  private setSlowCells(r: string[]): void {
    let total = 0;
    for (const c of r) total += Buffer.byteLength(c);
    if (total > this.slow.length) this.slow = Buffer.alloc(Math.max(total, this.slow.length * 2));
    while (this.cs.length < r.length) this.growCells();
    let at = 0;
    for (let k = 0; k < r.length; k++) {
      this.cs[k] = at;
      at += this.slow.write(r[k]!, at);
      this.ce[k] = at;
    }
    this.src = this.slow;
    this.ncells = r.length;
  }

  // ---- cells ----

  private fail(expected: string): never {
    this.syntaxFirst();
    throw new TraceFormatError(this.file, this.ln, this.lineText(this.ln), expected);
  }

  /**
   * csv-parse reads the whole file before a row is taken, so a malformed quote anywhere was
   * reported before any row's problem: on the error path, the file is read by csv-parse as a whole
   * first (up to 64 MiB) and its error, if any, is the one thrown.
   */
  private syntaxFirst(): void {
    const s = this.eof && this.winLine === 0 ? this.bytes : this.whole();
    if (s.length > 64 << 20 || s.indexOf(34) < 0) return;
    const bom = s.length >= 3 && s[0] === 0xef && s[1] === 0xbb && s[2] === 0xbf ? 3 : 0;
    try {
      parse(s.toString('utf8', bom), CSV_PARSE_OPTIONS);
    } catch (e) {
      if (e instanceof CsvError) {
        const ln = typeof e.lines === 'number' ? e.lines : 0;
        throw new TraceFormatError(this.file, ln, lineText(s, ln, 0), `well-formed CSV (${e.message})`);
      }
    }
  }

  /** The text of the file's 1-based line `ln` (error path only): from the window when it holds it. */
  private lineText(ln: number): string {
    return ln > this.winLine ? lineText(this.bytes, ln, this.winLine) : lineText(this.whole(), ln, 0);
  }

  /** The cell of column index c (-1: absent) as a string. */
  private cell(c: number): string {
    return c < 0 || c >= this.ncells ? '' : this.src.toString('utf8', this.cs[c]!, this.ce[c]!);
  }

  private isEmpty(c: number): boolean {
    return c < 0 || c >= this.ncells || this.cs[c] === this.ce[c];
  }

  /** The op cell (for messages). */
  private opText(): string {
    return this.cell(this.col[0]!);
  }

  /** The cell of column c, which must not be empty: its start in src (end: this.ce[c]). */
  private need(c: number, what: string): number {
    if (this.isEmpty(c)) this.fail(`a value in column "${what}" for ${this.opText()}`);
    return this.cs[c]!;
  }

  /** A decimal or 0x-hex number s[a, b), or NaN (csv.ts NUM: `0x` needs a digit). */
  private static number(s: Buffer, a: number, b: number): number {
    let v = 0;
    if (b - a >= 3 && s[a] === 48 && (s[a + 1] === 120 || s[a + 1] === 88)) {
      for (let i = a + 2; i < b; i++) {
        const c = s[i]!;
        const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (d < 0) return NaN;
        v = v * 16 + d;
      }
      return v;
    }
    if (a === b) return NaN;
    for (let i = a; i < b; i++) {
      const d = s[i]! - 48;
      if (d < 0 || d > 9) return NaN;
      v = v * 10 + d;
    }
    return v;
  }

  /** A number from column c: `dflt` when empty (dflt < 0: required), at most `max`. */
  private num(c: number, what: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
    if (this.isEmpty(c)) {
      if (dflt < 0) this.fail(`a value in column "${what}" for ${this.opText()}`);
      return dflt;
    }
    const v = CsvParser.number(this.src, this.cs[c]!, this.ce[c]!);
    if (v !== v) this.fail(`a number (decimal or 0x hex) in column "${what}"`);
    if (v > MAX_VALUE || v > max) this.fail(`a number in column "${what}" from 0 to ${max}`);
    return v;
  }

  /** `zone`: a zone's index (0 DMA, 1 DMA32, 2 Normal, 3 Movable) or its name as /proc/zoneinfo prints it */
  private zone(c: number): number {
    const i = (ZONE_NAMES as readonly string[]).indexOf(this.cell(c).trim());
    return i >= 0 ? i : this.num(c, 'zone', -1, ZONE_NAMES.length - 1);
  }

  /** tid and cpu: an empty cell is -1 (not recorded for this event) */
  private optionalNum(c: number, what: string): number {
    return this.isEmpty(c) ? -1 : this.num(c, what, 0, 0x7fffffff);
  }

  private symbolic(c: number, what: string, names: Record<string, number>): number {
    if (this.isEmpty(c)) return 0;
    const v = CsvParser.number(this.src, this.cs[c]!, this.ce[c]!);
    if (v === v) {
      if (v > 0xffffff) this.fail(`a value in column "${what}" below 2^24`);
      return v;
    }
    let out = 0;
    for (const part of this.cell(c).split('|')) {
      const x = names[part.trim()];
      if (x === undefined) this.fail(`a number or ${Object.keys(names).join('|')} in column "${what}"`);
      out |= x!;
    }
    return out;
  }

  private gfpOf(c: number): number {
    if (this.isEmpty(c)) return GFP_KERNEL;
    const v = CsvParser.number(this.src, this.cs[c]!, this.ce[c]!);
    if (v === v) {
      if (v > 0xffffffff) this.fail('gfp flags below 2^32 in column "gfp"');
      return v | 0;
    }
    const g = parseGfp(this.cell(c));
    if (g === -1) this.fail('gfp flags in column "gfp": a number, 0x hex or names like GFP_KERNEL|__GFP_ZERO');
    return g;
  }

  private pidOf(c: number, what: string, dflt: number): number {
    const p = this.num(c, what, dflt, 0x7fffffff);
    this.b.notePid(p);
    return p;
  }

  /** The user-heap token space of `pid`. */
  private user(pid: number): TokenSpace {
    if (pid === this.lastPid) return this.lastUser!;
    let u = this.users.get(pid);
    if (u === undefined) { u = new TokenSpace(); this.users.set(pid, u); }
    this.lastPid = pid; this.lastUser = u;
    return u;
  }

  /** The op code of the op cell, or -1. */
  private opCode(): number {
    const c = this.col[0]!;
    if (this.isEmpty(c)) return -1;
    const s = this.src, a = this.cs[c]!, n = this.ce[c]! - a;
    for (let o = 0; o < OP_BYTES.length; o++) {
      const w = OP_BYTES[o]!;
      if (w.length !== n || w[0] !== s[a]) continue;
      let i = 1;
      while (i < n && s[a + i] === w[i]) i++;
      if (i === n) return o;
    }
    return -1;
  }

  // ---- rows ----

  /** Takes the current row: the header (the first row), else an event. */
  private row(): void {
    if (this.width === 0) { this.header(); return; }
    const b = this.b, col = this.col;
    const width = this.width;
    for (let k = width; k < this.ncells; k++) if (this.cs[k] !== this.ce[k]) this.fail(`at most ${width} cells, as many as the header has`);
    const cTid = col[20]!, cCpu = col[21]!;
    if (cTid >= 0) b.curTid = this.optionalNum(cTid, 'tid');
    if (cCpu >= 0) b.curCpu = this.optionalNum(cCpu, 'cpu');
    const op = this.opCode();
    const cId = col[1]!, cPid = col[2]!, cSize = col[3]!, cOrder = col[4]!, cGfp = col[5]!, cCache = col[6]!;
    const s = this.src;
    switch (op) {
      case O.OP_PAGE_ALLOC: {
        const order = this.num(cOrder, 'order', -1, 63);
        const gfp = this.gfpOf(cGfp);
        const a = this.need(cId, 'id');
        b.push(op, this.pages.alloc(s, a, this.ce[cId]!, this.newId), order, gfp);
        break;
      }
      case O.OP_PAGE_FREE: {
        const order = this.num(cOrder, 'order', 0, 63);
        const a = this.need(cId, 'id');
        b.push(op, this.freeId(this.pages.release(s, a, this.ce[cId]!)), order, 0);
        break;
      }
      case O.OP_KMALLOC: {
        const size = this.num(cSize, 'size', -1);
        const gfp = this.gfpOf(cGfp);
        const a = this.need(cId, 'id');
        b.push(op, this.kernel.alloc(s, a, this.ce[cId]!, this.newId), size, gfp);
        break;
      }
      case O.OP_KFREE: {
        const a = this.need(cId, 'id');
        b.push(op, this.freeId(this.kernel.release(s, a, this.ce[cId]!)), 0, 0);
        break;
      }
      case O.OP_CACHE_CREATE: {
        this.need(cCache, 'cache');
        const cname = this.cell(cCache);
        const size = this.num(cSize, 'size', -1, 0x7fffffff);
        const align = this.num(col[7]!, 'align', 0, 0x7fffffff);
        const flags = this.symbolic(col[8]!, 'flags', CACHE_FLAG_NAMES);
        const idx = b.addCache({ name: cname, size, align, flags });
        this.cacheByName.set(cname, idx); // a later cache of the same name takes the name over
        b.push(op, idx, 0, 0);
        break;
      }
      case O.OP_CACHE_ALLOC:
      case O.OP_CACHE_FREE: {
        this.need(cCache, 'cache');
        const idx = this.cacheByName.get(this.cell(cCache));
        if (idx === undefined) this.fail(`the name of a cache created earlier by cache_create in column "cache"`);
        const a = this.need(cId, 'id');
        const z = this.ce[cId]!;
        b.push(op, op === O.OP_CACHE_ALLOC ? this.kernel.alloc(s, a, z, this.newId) : this.freeId(this.kernel.release(s, a, z)), 0, idx!);
        break;
      }
      case O.OP_MALLOC:
      case O.OP_REALLOC: {
        const pid = this.pidOf(cPid, 'pid', 0);
        const size = this.num(cSize, 'size', -1);
        const a = this.need(cId, 'id');
        const u = this.user(pid);
        // realloc keeps the id; of a token not live it gets a fresh id that then stays live
        const id = op === O.OP_MALLOC ? u.alloc(s, a, this.ce[cId]!, this.newId) : u.keep(s, a, this.ce[cId]!, this.newId);
        b.push(op, id, size, pid);
        break;
      }
      case O.OP_FREE: {
        const pid = this.pidOf(cPid, 'pid', 0);
        const a = this.need(cId, 'id');
        b.push(op, this.freeId(this.user(pid).release(s, a, this.ce[cId]!)), 0, pid);
        break;
      }
      case O.OP_MMAP: {
        const pid = this.pidOf(cPid, 'pid', 0);
        const addr = this.num(col[9]!, 'addr', -1);
        const len = this.num(col[10]!, 'len', -1);
        const prot = this.symbolic(col[11]!, 'prot', PROT_NAMES);
        if (prot > 0xff) this.fail('prot below 256');
        const flags = this.symbolic(col[8]!, 'flags', MAP_NAMES);
        b.push(op, pid, addr, b.addExtra(len, prot + flags * 256));
        break;
      }
      case O.OP_MUNMAP: {
        const pid = this.pidOf(cPid, 'pid', 0);
        const addr = this.num(col[9]!, 'addr', -1);
        const len = this.num(col[10]!, 'len', -1);
        b.push(op, pid, addr, b.addExtra(len, 0));
        break;
      }
      case O.OP_BRK: {
        const pid = this.pidOf(cPid, 'pid', 0);
        b.push(op, pid, this.num(col[9]!, 'addr', -1), 0);
        break;
      }
      case O.OP_FAULT: {
        const pid = this.pidOf(cPid, 'pid', 0);
        const addr = this.num(col[9]!, 'addr', -1);
        b.push(op, pid, addr, this.num(col[12]!, 'write', 0, 1));
        break;
      }
      case O.OP_FORK: {
        const pid = this.pidOf(cPid, 'pid', 0);
        b.push(op, pid, 0, this.pidOf(col[13]!, 'child', -1));
        break;
      }
      case O.OP_EXIT:
        b.push(op, this.pidOf(cPid, 'pid', 0), 0, 0);
        break;
      case O.OP_MARK:
        b.push(op, 0, 0, b.intern(this.cell(col[14]!)));
        break;
      case O.OP_TICK:
      case O.OP_RECLAIM_END:
        b.push(op, 0, 0, 0);
        break;
      case O.OP_RECLAIM_BEGIN:
      case O.OP_PCP_DRAIN:
        b.push(op, 0, 0, this.zone(col[23]!));
        break;
      case O.OP_EXTFRAG: {
        const fallbackOrder = this.num(cOrder, 'order', -1, 15);
        const aux = O.packExtfrag(
          this.num(col[15]!, 'alloc_order', -1, 15), this.num(col[16]!, 'alloc_mt', 0, 15), this.num(col[17]!, 'fallback_mt', 0, 15),
          this.num(col[18]!, 'fragmenting', 0, 1) === 1, this.num(col[19]!, 'change_ownership', 0, 1) === 1);
        b.push(op, 0, fallbackOrder, aux);
        break;
      }
      default:
        this.fail(`an op name (${O.OP_NAMES.join(', ')})`);
    }
  }

  /** A free's id: the released one, or a fresh never-allocated id for an unknown token. */
  private freeId(id: number): number {
    return id >= 0 ? id : this.b.newId();
  }

  /** Header: column name → cell index. */
  private header(): void {
    const col = this.col;
    for (let k = 0; k < this.ncells; k++) {
      const h = this.cell(k);
      const c = (CSV_COLUMNS as readonly string[]).indexOf(h);
      if (c < 0 || col[c] !== -1) {
        this.fail(`a header row of distinct column names from ${CSV_COLUMNS.join(',')} (bad or repeated column ${JSON.stringify(h)})`);
      }
      col[c] = k;
    }
    if (col[0]! < 0) this.fail('a header row with an "op" column');
    this.width = this.ncells;
    if (col[20]! >= 0) this.b.useTid();
    if (col[21]! >= 0) this.b.useCpu();
  }
}

/** The text of 1-based line `ln` of a file whose bytes `s` start at the start of line `before` + 1. */
function lineText(s: Buffer, ln: number, before: number): string {
  let p = 0;
  for (let k = before + 1; k < ln && p >= 0; k++) {
    p = s.indexOf(10, p);
    if (p >= 0) p++;
  }
  if (p < 0 || ln < 1) return '';
  let e = s.indexOf(10, p);
  if (e < 0) e = s.length;
  if (e > p && s[e - 1] === 13) e--;
  return s.toString('utf8', p, e);
}

/**
 * Rows in a file of `size` bytes starting with `s`, estimated from its first MiB (the builder's
 * capacity: a close estimate keeps the columns from being copied as they grow, or allocated far
 * too large).
 */
function estimateRows(s: Buffer, size: number): number {
  const m = Math.min(s.length, 1 << 20);
  let lines = 0;
  for (let p = s.indexOf(10); p >= 0 && p < m; p = s.indexOf(10, p + 1)) lines++;
  return Math.max(16, Math.ceil(m >= size ? lines + 1 : (lines * 1.05 * size) / Math.max(1, m)) + 16);
}
