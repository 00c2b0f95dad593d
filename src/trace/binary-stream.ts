/**
 * An .abt file (binary.ts) read and written a chunk of events at a time, for traces larger than
 * memory: the reader holds one chunk of each column (15 bytes an event, plus cpu/tid), the writer
 * the chunk it is given. Same format and checks as the whole-file reader:
 *
 * - Reading: the header, metadata and side table are read and checked when the file is opened
 *   (TraceStream: everything but the columns up front); each chunk's events are checked against the
 *   loaders' rules (invariants.ts) before the replay sees them; the checksum and the metadata's op
 *   counts are verified as the chunks go by, and a mismatch throws after the last chunk (the file's
 *   bytes are read once, not once to check and once to replay).
 * - Writing: the event count is given first, so every column's place in the file is known; each
 *   chunk's rows go to their columns at once (pwrite), and the side table and metadata, known only
 *   at the end (a generator interns strings as it goes), follow the columns. The checksum is
 *   combined from the columns' own (crc32-combine.ts).
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { AllocbenchError } from '../errors.js';
import {
  align8, BINARY_VERSION, FLAG_CPU, FLAG_TID, HEADER_BYTES, metaBytes, opCountsProblem, parseLayout, parseMeta, S_AUX, S_CPU, S_EXTRA, S_HI, S_ID, S_LO, S_META, S_OP, S_TID, SECTIONS, writeHeader, type Layout,
} from './binary.js';
import { crc32Combine } from './crc32-combine.js';
import { eventsProblem, infoProblem } from './invariants.js';
import { OP_COUNT } from './ops.js';
import type { EventChunk, TraceInfo, TraceStream } from './stream.js';

/** Events a chunk holds by default: 1 Mi events, 15 MiB of columns. */
export const DEFAULT_CHUNK_EVENTS = 1 << 20;

/** The event columns in file order of their sections, with their element sizes. */
const COLUMNS = [
  { s: S_OP, key: 'op', bytes: 1, make: (n: number) => new Uint8Array(n) },
  { s: S_ID, key: 'id', bytes: 4, make: (n: number) => new Int32Array(n) },
  { s: S_LO, key: 'lo', bytes: 4, make: (n: number) => new Uint32Array(n) },
  { s: S_HI, key: 'hi', bytes: 2, make: (n: number) => new Uint16Array(n) },
  { s: S_AUX, key: 'aux', bytes: 4, make: (n: number) => new Int32Array(n) },
  { s: S_CPU, key: 'cpu', bytes: 4, make: (n: number) => new Int32Array(n) },
  { s: S_TID, key: 'tid', bytes: 4, make: (n: number) => new Int32Array(n) },
] as const;
type ColumnKey = (typeof COLUMNS)[number]['key'];
type Column = Uint8Array | Int32Array | Uint32Array | Uint16Array;

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Reads exactly `into.length` bytes at `pos` (false at a premature end of file). */
function readFully(fd: number, into: Uint8Array, pos: number): boolean {
  let got = 0;
  while (got < into.length) {
    const r = readSync(fd, into, got, into.length - got, pos + got);
    if (r === 0) return false;
    got += r;
  }
  return true;
}

function writeFully(fd: number, from: Uint8Array, pos: number): void {
  let put = 0;
  while (put < from.length) put += writeSync(fd, from, put, from.length - put, pos + put);
}

/** The CRC-32 of `len` bytes of `fd` at `pos`, read in pieces. */
function crcOfRange(fd: number, pos: number, len: number, file: string, bad: (why: string) => AllocbenchError): number {
  let crc = 0;
  const buf = new Uint8Array(Math.min(len, 1 << 20));
  for (let done = 0; done < len;) {
    const piece = buf.subarray(0, Math.min(buf.length, len - done));
    if (!readFully(fd, piece, pos + done)) throw bad(`truncated while reading ${file}`);
    crc = crc32(piece, crc);
    done += piece.length;
  }
  return crc;
}

/**
 * Opens an uncompressed .abt file as a TraceStream of chunks of `chunkEvents` events. The header,
 * metadata and side table are read and checked now (AllocbenchError, exit 2, naming the file);
 * the events as the chunks are read. `name` replaces the stored name, as readBinaryFile's does.
 */
export function openBinaryStream(path: string, opts: { name?: string; chunkEvents?: number } = {}): TraceStream {
  const bad = (why: string): AllocbenchError => new AllocbenchError(`cannot read binary trace ${path}: ${why}`);
  let fd: number;
  let size: number;
  try {
    fd = openSync(path, 'r');
    size = fstatSync(fd).size;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new AllocbenchError(`cannot read trace ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code ?? err.message}`);
  }
  try {
    const head = new Uint8Array(Math.min(size, HEADER_BYTES));
    readFully(fd, head, 0);
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) throw bad('a gzipped .abt is not read in chunks: gunzip it first');
    const l = parseLayout(head, size, bad);
    const storedCrc = new DataView(head.buffer).getUint32(12, true);
    const metaRaw = new Uint8Array(l.len[S_META]!);
    if (!readFully(fd, metaRaw, l.off[S_META]!)) throw bad('truncated metadata');
    const meta = parseMeta(metaRaw, bad);
    const extra = new Float64Array(l.len[S_EXTRA]! / 8);
    if (!readFully(fd, bytesOf(extra), l.off[S_EXTRA]!)) throw bad('truncated side table');
    const info: TraceInfo = {
      name: opts.name ?? meta.name, source: meta.source, length: l.events, idCount: l.idCount, pidCount: l.pidCount,
      caches: meta.caches, strings: meta.strings, extra, ...(meta.stats ? { stats: meta.stats } : {}),
    };
    const problem = infoProblem(info);
    if (problem !== undefined) throw bad(`corrupt contents: ${problem}`);
    const stated: unknown = meta.opCounts;
    if (stated !== undefined && (!Array.isArray(stated) || stated.length > OP_COUNT || stated.some((c) => !Number.isInteger(c) || c < 0)
      || stated.reduce((a: number, b: number) => a + b, 0) !== l.events)) {
      throw bad(`corrupt contents: the metadata's opCounts are not up to ${OP_COUNT} counts summing to the ${l.events} events`);
    }
    // Everything but the columns is checksummed now: the header's tail, the gaps between sections,
    // the metadata and the side table (in file order, as pieces the columns' CRCs are combined with).
    const regions = fileRegions(l);
    const fixedCrc = regions.map((r) => (columnOf(r) < 0 ? crcOfRange(fd, r.off, r.len, path, bad) : 0));
    // padded: a file written before the last op codes were added states fewer counts
    const counts = stated === undefined ? countOps(fd, l, bad) : Array.from({ length: OP_COUNT }, (_, o) => (stated as number[])[o] ?? 0);
    closeSync(fd);
    return {
      ...info,
      opCounts: counts,
      hasCpu: (l.flags & FLAG_CPU) !== 0,
      hasTid: (l.flags & FLAG_TID) !== 0,
      chunks: () => readChunks(path, l, info, regions, fixedCrc, storedCrc, counts, opts.chunkEvents ?? DEFAULT_CHUNK_EVENTS, bad),
    };
  } catch (e) {
    try { closeSync(fd); } catch { /* closed already */ }
    throw e;
  }
}

/** A piece of the file after the checksum field: a section (S_*), or bytes between them (null). */
interface Region { off: number; len: number; section: number | null }

/** The index in COLUMNS of a region that is an event column, else -1. */
const columnOf = (r: Region): number => COLUMNS.findIndex((c) => c.s === r.section);

/** The file's bytes from offset 16 on, in order, as column sections and the rest. */
function fileRegions(l: Layout): Region[] {
  const out: Region[] = [];
  const sections = Array.from({ length: SECTIONS }, (_, s) => s).filter((s) => l.len[s]! > 0).sort((a, b) => l.off[a]! - l.off[b]!);
  let pos = 16;
  for (const s of sections) {
    if (l.off[s]! > pos) out.push({ off: pos, len: l.off[s]! - pos, section: null });
    out.push({ off: l.off[s]!, len: l.len[s]!, section: s });
    pos = l.off[s]! + l.len[s]!;
  }
  if (l.fileBytes > pos) out.push({ off: pos, len: l.fileBytes - pos, section: null });
  return out;
}

/** Events per op code from the op column (a file written before the metadata carried them). */
function countOps(fd: number, l: Layout, bad: (why: string) => AllocbenchError): number[] {
  const c = new Array<number>(OP_COUNT).fill(0);
  const buf = new Uint8Array(Math.min(l.events, DEFAULT_CHUNK_EVENTS));
  for (let done = 0; done < l.events;) {
    const piece = buf.subarray(0, Math.min(buf.length, l.events - done));
    if (!readFully(fd, piece, l.off[S_OP]! + done)) throw bad('truncated op column');
    for (let e = 0; e < piece.length; e++) { const o = piece[e]!; if (o < OP_COUNT) c[o]!++; }
    done += piece.length;
  }
  return c;
}

function* readChunks(
  path: string, l: Layout, info: TraceInfo, regions: Region[], fixedCrc: number[], storedCrc: number,
  stated: readonly number[], chunkEvents: number, bad: (why: string) => AllocbenchError,
): Generator<EventChunk> {
  const n = l.events;
  const k = Math.max(1, Math.min(chunkEvents, n));
  // cpu and tid only when the file has them
  const bufs = COLUMNS.map((c) => (l.len[c.s]! > 0 || (c.s !== S_CPU && c.s !== S_TID) ? c.make(k) : null));
  const crcs = COLUMNS.map(() => 0);
  const counted = new Array<number>(OP_COUNT).fill(0);
  const created = new Uint8Array(info.caches.length);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new AllocbenchError(`cannot read trace ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    for (let start = 0; start < n || start === 0; start += k) {
      const len = Math.min(k, n - start);
      const cols: Partial<Record<ColumnKey, Column>> = {};
      for (let j = 0; j < COLUMNS.length; j++) {
        const buf = bufs[j];
        if (buf === null || buf === undefined) continue;
        const col = COLUMNS[j]!;
        const view = buf.subarray(0, len);
        const raw = bytesOf(view);
        if (!readFully(fd, raw, l.off[col.s]! + start * col.bytes)) throw bad(`truncated ${col.key} column`);
        crcs[j] = crc32(raw, crcs[j]);
        cols[col.key] = view;
      }
      const op = cols.op as Uint8Array;
      const chunk: EventChunk = {
        start, length: len, op, id: cols.id as Int32Array, lo: cols.lo as Uint32Array, hi: cols.hi as Uint16Array, aux: cols.aux as Int32Array,
        ...(cols.cpu ? { cpu: cols.cpu as Int32Array } : {}), ...(cols.tid ? { tid: cols.tid as Int32Array } : {}),
      };
      const problem = eventsProblem(info, chunk, created);
      if (problem !== undefined) throw bad(`corrupt contents: ${problem}`);
      for (let e = 0; e < len; e++) counted[op[e]!]!++;
      yield chunk;
      if (n === 0) break;
    }
    let crc = 0;
    regions.forEach((r, j) => { const c = columnOf(r); crc = crc32Combine(crc, c < 0 ? fixedCrc[j]! : crcs[c]!, r.len); });
    if (crc !== storedCrc) throw bad(`checksum mismatch (stored crc32 ${storedCrc.toString(16).padStart(8, '0')}, computed ${crc.toString(16).padStart(8, '0')}): the file is corrupt`);
    const p = opCountsProblem(stated, counted);
    if (p !== undefined) throw bad(`corrupt contents: ${p}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes an .abt file of exactly `events` events, given chunk by chunk (write), then the rest of
 * the trace (finish). The bytes go to a temporary file renamed into place by finish, so a reader
 * never sees half a file; abort() removes it.
 */
export class BinaryTraceWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private readonly layout: Layout;
  private written = 0;
  private readonly crcs = COLUMNS.map(() => 0);
  private readonly counts = new Array<number>(OP_COUNT).fill(0);
  private done = false;

  constructor(private readonly path: string, private readonly events: number, private readonly columns: { cpu?: boolean; tid?: boolean } = {}) {
    if (/\.gz$/i.test(path)) throw new AllocbenchError(`cannot write ${path}: a streamed .abt is not gzipped (write ${path.replace(/\.gz$/i, '')})`);
    const off = new Array<number>(SECTIONS).fill(HEADER_BYTES);
    const len = new Array<number>(SECTIONS).fill(0);
    let pos = HEADER_BYTES;
    for (const c of COLUMNS) {
      if ((c.s === S_CPU && !columns.cpu) || (c.s === S_TID && !columns.tid)) continue;
      off[c.s] = pos;
      len[c.s] = events * c.bytes;
      pos = align8(pos + len[c.s]!);
    }
    off[S_EXTRA] = pos; off[S_META] = pos; // placed by finish
    this.layout = { version: BINARY_VERSION, headerBytes: HEADER_BYTES, flags: (columns.cpu ? FLAG_CPU : 0) | (columns.tid ? FLAG_TID : 0), fileBytes: pos, events, idCount: 0, pidCount: 0, off, len };
    this.tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      throw new AllocbenchError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  /** Appends the first `c.length` rows of the chunk's columns (its cpu/tid only if the writer has them). */
  write(c: Omit<EventChunk, 'start'>): void {
    const len = c.length;
    if (this.written + len > this.events) throw new AllocbenchError(`cannot write ${this.path}: more than the ${this.events} events declared`);
    try {
      for (let j = 0; j < COLUMNS.length; j++) {
        const col = COLUMNS[j]!;
        if (this.layout.len[col.s] === 0 && (col.s === S_CPU || col.s === S_TID)) continue;
        const src = c[col.key];
        if (src === undefined) throw new AllocbenchError(`cannot write ${this.path}: a chunk without its ${col.key} column`);
        const raw = bytesOf(src.subarray(0, len));
        writeFully(this.fd, raw, this.layout.off[col.s]! + this.written * col.bytes);
        this.crcs[j] = crc32(raw, this.crcs[j]);
      }
    } catch (e) {
      if (e instanceof AllocbenchError) throw e;
      throw new AllocbenchError(`cannot write ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const op = c.op, counts = this.counts;
    for (let e = 0; e < len; e++) counts[op[e]!]!++;
    this.written += len;
  }

  /** Writes the side table, metadata and header, and renames the file into place. */
  finish(info: Omit<TraceInfo, 'length'>): void {
    if (this.written !== this.events) throw new AllocbenchError(`cannot write ${this.path}: ${this.written} events written of the ${this.events} declared`);
    const l = this.layout;
    l.idCount = info.idCount;
    l.pidCount = info.pidCount;
    const meta = metaBytes(info, this.counts);
    const extra = bytesOf(info.extra);
    l.off[S_EXTRA] = l.fileBytes;
    l.len[S_EXTRA] = extra.length;
    l.off[S_META] = align8(l.off[S_EXTRA]! + extra.length);
    l.len[S_META] = meta.length;
    l.fileBytes = l.off[S_META]! + meta.length;
    const head = new Uint8Array(HEADER_BYTES);
    writeHeader(head, l);
    // the checksum of everything after it, in file order: the zero gaps are padding
    const bytesAt: Record<number, Uint8Array> = { [S_EXTRA]: extra, [S_META]: meta };
    let crc = crc32(head.subarray(16));
    for (const r of fileRegions(l)) {
      if (r.off < HEADER_BYTES) continue; // the header's tail, counted above
      const c = columnOf(r);
      // a gap between sections is alignment padding: zeros (a hole in the file)
      const piece = c >= 0 ? this.crcs[c]! : crc32(r.section === null ? new Uint8Array(r.len) : bytesAt[r.section]!);
      crc = crc32Combine(crc, piece, r.len);
    }
    new DataView(head.buffer).setUint32(12, crc, true);
    try {
      writeFully(this.fd, head, 0);
      for (const s of [S_EXTRA, S_META]) if (bytesAt[s]!.length > 0) writeFully(this.fd, bytesAt[s]!, l.off[s]!);
      closeSync(this.fd);
      this.done = true;
      renameSync(this.tmp, this.path);
    } catch (e) {
      this.abort();
      throw new AllocbenchError(`cannot write ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  /** Gives up: the temporary file is removed. */
  abort(): void {
    if (!this.done) { try { closeSync(this.fd); } catch { /* closed */ } this.done = true; }
    try { unlinkSync(this.tmp); } catch { /* gone */ }
  }
}
