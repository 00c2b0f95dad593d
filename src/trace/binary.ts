/**
 * The compiled binary trace format (`.abt`, "allocbench trace"): a Trace's columns stored as raw
 * little-endian typed-array bytes, so loading one is a file read plus a checksum, with no per-event
 * work. Layout (all integers little-endian):
 *
 *   0   magic      8 bytes  89 'A' 'B' 'T' 0d 0a 1a 0a  (PNG-style: catches 7-bit and CRLF mangling)
 *   8   u32        format version (BINARY_VERSION)
 *   12  u32        CRC-32 (zlib) of bytes [16, file length)
 *   16  u32        header bytes (HEADER_BYTES)
 *   20  u32        flags: FLAG_CPU (the cpu column is present), FLAG_TID (the tid column is present)
 *   24  u64        file length in bytes
 *   32  u64        event count
 *   40  u32        idCount
 *   44  u32        pidCount
 *   48  9 × (u64 offset, u64 bytes): op, id, lo, hi, aux, extra (Float64 rows), meta (UTF-8 JSON),
 *       cpu, tid (Int32; 0 bytes when the flag says the column is absent)
 *   192 sections, each starting on an 8-byte boundary (zero padding between), so every column is a
 *       typed-array view over the file buffer in place.
 *
 * Version 1 (before the cpu and tid columns) had 7 sections and a 160-byte header; it is still read
 * (no cpu/tid). A version-1 reader refuses version 2 files with "format version 2, this allocbench
 * reads version 1".
 *
 * The meta JSON holds name, source, caches, strings, stats and opCounts (events per op code, so a
 * streamed replay knows them before its first event; files written before it have none and a
 * stream counts the op column first). The extra side table is a raw Float64 section rather than
 * JSON: exact, and viewed in place like the columns. Sections may lie in any order: the streamed
 * writer (binary-stream.ts) puts extra and meta last, after the columns it writes as they come.
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { AllocbenchError } from '../errors.js';
import { traceProblem } from './invariants.js';
import { OP_COUNT } from './ops.js';
import { opCounts, type CacheDef, type Trace } from './trace.js';

export const BINARY_MAGIC = Uint8Array.of(0x89, 0x41, 0x42, 0x54, 0x0d, 0x0a, 0x1a, 0x0a);
export const BINARY_VERSION = 2;
export const HEADER_BYTES = 192;
export const SECTIONS = 9;
export const S_OP = 0, S_ID = 1, S_LO = 2, S_HI = 3, S_AUX = 4, S_EXTRA = 5, S_META = 6, S_CPU = 7, S_TID = 8;
const SECTION_NAMES = ['op', 'id', 'lo', 'hi', 'aux', 'extra', 'meta', 'cpu', 'tid'];
/** header flags */
export const FLAG_CPU = 1, FLAG_TID = 2;
/** Per readable version: its sections and header bytes (version 1: no cpu/tid). */
const LAYOUTS: Record<number, { sections: number; headerBytes: number }> = {
  1: { sections: 7, headerBytes: 160 },
  2: { sections: SECTIONS, headerBytes: HEADER_BYTES },
};
/** Column bytes per event: op 1 + id 4 + lo 4 + hi 2 + aux 4. */
export const COLUMN_BYTES_PER_EVENT = 15;

/** Whether `buf` starts with the .abt magic (also used to sniff a file with no known extension). */
export function isBinaryTrace(buf: Uint8Array): boolean {
  if (buf.length < BINARY_MAGIC.length) return false;
  for (let i = 0; i < BINARY_MAGIC.length; i++) if (buf[i] !== BINARY_MAGIC[i]) return false;
  return true;
}

/**
 * The same check on text that was decoded as UTF-8 (load.ts sniffs text): 0x89 is not valid UTF-8,
 * so it decodes as U+FFFD and the rest of the magic is ASCII.
 */
export function looksLikeBinaryText(text: string): boolean {
  return text.startsWith('\uFFFDABT\r\n\x1a\n');
}

function checkHost(): void {
  // The columns are viewed in place, which needs a little-endian host (x86-64, arm64 Linux).
  if (endianness() !== 'LE') throw new AllocbenchError('the .abt binary trace format needs a little-endian host');
}

export const align8 = (n: number): number => Math.ceil(n / 8) * 8; // not `& ~7`: offsets pass 2^31

export interface Meta {
  name: string;
  source: string;
  caches: CacheDef[];
  strings: string[];
  stats?: Record<string, number>;
  /** events per op code (OP_COUNT numbers); absent in files written before streaming */
  opCounts?: number[];
}

/** A file's header, checked: what its sections are and where they lie. */
export interface Layout {
  version: number;
  headerBytes: number;
  flags: number;
  fileBytes: number;
  events: number;
  idCount: number;
  pidCount: number;
  /** per section (SECTIONS of them; version 1: the cpu and tid sections are empty): offset and bytes */
  off: number[];
  len: number[];
}

/** The meta JSON's bytes for `t` (`counts`: its events per op code). */
export function metaBytes(t: Omit<Meta, 'opCounts'>, counts: readonly number[]): Uint8Array {
  const meta: Meta = { name: t.name, source: t.source, caches: t.caches, strings: t.strings, ...(t.stats ? { stats: t.stats } : {}), opCounts: [...counts] };
  return new TextEncoder().encode(JSON.stringify(meta));
}

/** The whole .abt file of `t` as one buffer. */
export function encodeBinaryTrace(t: Trace): Uint8Array {
  checkHost();
  const meta = metaBytes(t, opCounts(t));
  const n = t.length;
  const none = new Int32Array(0);
  const cols: ArrayBufferView[] = [t.op.subarray(0, n), t.id.subarray(0, n), t.lo.subarray(0, n), t.hi.subarray(0, n), t.aux.subarray(0, n), t.extra, meta,
    t.cpu?.subarray(0, n) ?? none, t.tid?.subarray(0, n) ?? none];
  const offsets: number[] = [];
  let pos = HEADER_BYTES;
  for (const c of cols) {
    offsets.push(pos);
    pos = align8(pos + c.byteLength);
  }
  const total = pos;
  const out = new Uint8Array(total);
  writeHeader(out, { version: BINARY_VERSION, headerBytes: HEADER_BYTES, flags: (t.cpu ? FLAG_CPU : 0) | (t.tid ? FLAG_TID : 0), fileBytes: total,
    events: n, idCount: t.idCount, pidCount: t.pidCount, off: offsets, len: cols.map((c) => c.byteLength) });
  for (let s = 0; s < SECTIONS; s++) {
    const c = cols[s]!;
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), offsets[s]!);
  }
  new DataView(out.buffer).setUint32(12, crc32(out.subarray(16)), true);
  return out;
}

/** Writes the header of `l` into `out`'s first HEADER_BYTES (all but the checksum at 12). */
export function writeHeader(out: Uint8Array, l: Layout): void {
  const dv = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  out.set(BINARY_MAGIC, 0);
  dv.setUint32(8, l.version, true);
  dv.setUint32(16, l.headerBytes, true);
  dv.setUint32(20, l.flags, true);
  dv.setBigUint64(24, BigInt(l.fileBytes), true);
  dv.setBigUint64(32, BigInt(l.events), true);
  dv.setUint32(40, l.idCount, true);
  dv.setUint32(44, l.pidCount, true);
  for (let s = 0; s < SECTIONS; s++) {
    dv.setBigUint64(48 + s * 16, BigInt(l.off[s]!), true);
    dv.setBigUint64(56 + s * 16, BigInt(l.len[s]!), true);
  }
}

/**
 * The header of a file of `fileBytes` bytes (`head`: at least its first HEADER_BYTES, or all of a
 * shorter file), checked: magic, version, sizes, flags, and sections inside the file, of the sizes
 * the event count gives, disjoint. `bad` words an error.
 */
export function parseLayout(head: Uint8Array, fileBytes: number, bad: (why: string) => AllocbenchError): Layout {
  if (!isBinaryTrace(head)) throw bad('not an allocbench binary trace (bad magic bytes)');
  if (fileBytes < LAYOUTS[1]!.headerBytes || head.length < LAYOUTS[1]!.headerBytes) throw bad(`truncated: ${fileBytes} bytes, shorter than any header`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = dv.getUint32(8, true);
  const layout = LAYOUTS[version];
  if (layout === undefined) throw bad(`format version ${version}, this allocbench reads versions 1 to ${BINARY_VERSION} (convert the original trace again)`);
  const headerBytes = dv.getUint32(16, true);
  if (headerBytes !== layout.headerBytes) throw bad(`header size ${headerBytes}, expected ${layout.headerBytes} for version ${version}`);
  if (fileBytes < headerBytes || head.length < headerBytes) throw bad(`truncated: ${fileBytes} bytes, shorter than the ${headerBytes}-byte header`);
  const flags = version === 1 ? 0 : dv.getUint32(20, true);
  if ((flags & ~(FLAG_CPU | FLAG_TID)) !== 0) throw bad(`unknown header flags 0x${flags.toString(16)}`);
  const fileLen = Number(dv.getBigUint64(24, true));
  if (fileBytes < fileLen) throw bad(`truncated: the header says ${fileLen} bytes, the file has ${fileBytes}`);
  if (fileBytes > fileLen) throw bad(`${fileBytes - fileLen} bytes of trailing data after the ${fileLen} the header says`);
  const n = Number(dv.getBigUint64(32, true));
  const idCount = dv.getUint32(40, true);
  const pidCount = dv.getUint32(44, true);
  const expectBytes = [n, n * 4, n * 4, n * 2, n * 4, -8, -1, flags & FLAG_CPU ? n * 4 : 0, flags & FLAG_TID ? n * 4 : 0];
  const off: number[] = [];
  const len: number[] = [];
  for (let s = 0; s < layout.sections; s++) {
    const o = Number(dv.getBigUint64(48 + s * 16, true));
    const b = Number(dv.getBigUint64(56 + s * 16, true));
    const e = expectBytes[s]!;
    if (o % 8 !== 0 || o < headerBytes || o + b > fileLen) throw bad(`section ${SECTION_NAMES[s]} at ${o}+${b} lies outside the file or is misaligned`);
    if ((e >= 0 && b !== e) || (e === -8 && b % 16 !== 0)) throw bad(`section ${SECTION_NAMES[s]} has ${b} bytes, expected ${e >= 0 ? e : 'whole rows'}`);
    off.push(o);
    len.push(b);
  }
  for (let s = layout.sections; s < SECTIONS; s++) { off.push(headerBytes); len.push(0); }
  // Sections are disjoint: two columns over the same bytes pass every size check above.
  const order = off.map((_, s) => s).filter((s) => len[s]! > 0).sort((a, b) => off[a]! - off[b]!);
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1]!, b = order[k]!;
    if (off[a]! + len[a]! > off[b]!) throw bad(`sections ${SECTION_NAMES[a]} and ${SECTION_NAMES[b]} overlap`);
  }
  return { version, headerBytes, flags, fileBytes: fileLen, events: n, idCount, pidCount, off, len };
}

/** The meta JSON section's bytes, checked (but for opCounts: opCountsProblem). */
export function parseMeta(bytes: Uint8Array, bad: (why: string) => AllocbenchError): Meta {
  let meta: Meta;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes)) as Meta;
  } catch (e) {
    throw bad(`metadata is not valid JSON (${(e as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null || typeof meta.name !== 'string' || typeof meta.source !== 'string' || !Array.isArray(meta.caches) || !Array.isArray(meta.strings)) {
    throw bad('metadata lacks name, source, caches or strings');
  }
  if (meta.stats !== undefined && (typeof meta.stats !== 'object' || meta.stats === null || Array.isArray(meta.stats) || Object.values(meta.stats).some((v) => typeof v !== 'number'))) {
    throw bad('metadata stats are not a table of numbers');
  }
  return meta;
}

/**
 * Views a Trace over an .abt file's bytes (`buf` is the whole file, already gunzipped). No
 * per-event work: the columns are typed-array views over `buf` (copied once only when `buf` is not
 * 8-byte aligned). `file` names the file in errors. `name`, when given, replaces the stored name
 * (loadTrace names traces after their file, as for every format). Bad magic, unknown version, a
 * truncated file, a checksum mismatch, inconsistent or overlapping sections, or contents no loader
 * could have produced (invariants.ts: op codes, ids, pids, caches, indexes) → AllocbenchError (exit 2).
 */
export function readBinaryTrace(buf: Uint8Array, file: string, name?: string): Trace {
  checkHost();
  const bad = (why: string): AllocbenchError => new AllocbenchError(`cannot read binary trace ${file}: ${why}`);
  if (!isBinaryTrace(buf)) throw bad('not an allocbench binary trace (bad magic bytes)');
  if (buf.byteOffset % 8 !== 0) {
    // Views of Int32/Float64 need aligned offsets; only an odd caller's buffer gets here.
    const shared = buf.buffer instanceof SharedArrayBuffer;
    const copy = new Uint8Array(shared ? new SharedArrayBuffer(buf.length) : new ArrayBuffer(buf.length));
    copy.set(buf);
    buf = copy;
  }
  const l = parseLayout(buf, buf.length, bad);
  const want = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(12, true);
  const got = crc32(buf.subarray(16));
  if (got !== want) throw bad(`checksum mismatch (stored crc32 ${want.toString(16).padStart(8, '0')}, computed ${got.toString(16).padStart(8, '0')}): the file is corrupt`);
  const { events: n, idCount, pidCount, flags, off, len } = l;
  const meta = parseMeta(buf.subarray(off[S_META]!, off[S_META]! + len[S_META]!), bad);
  const ab = buf.buffer;
  const base = buf.byteOffset;
  const t: Trace = {
    name: name ?? meta.name,
    source: meta.source,
    length: n,
    op: new Uint8Array(ab, base + off[S_OP]!, n),
    id: new Int32Array(ab, base + off[S_ID]!, n),
    lo: new Uint32Array(ab, base + off[S_LO]!, n),
    hi: new Uint16Array(ab, base + off[S_HI]!, n),
    aux: new Int32Array(ab, base + off[S_AUX]!, n),
    idCount,
    pidCount,
    caches: meta.caches,
    strings: meta.strings,
    extra: new Float64Array(ab, base + off[S_EXTRA]!, len[S_EXTRA]! / 8),
    ...(flags & FLAG_CPU ? { cpu: new Int32Array(ab, base + off[S_CPU]!, n) } : {}),
    ...(flags & FLAG_TID ? { tid: new Int32Array(ab, base + off[S_TID]!, n) } : {}),
    ...(meta.stats ? { stats: meta.stats } : {}),
  };
  // Beyond the checksum: a file written by hand or by a buggy tool can be consistent and wrong.
  const problem = traceProblem(t) ?? opCountsProblem(meta.opCounts, opCounts(t));
  if (problem !== undefined) throw bad(`corrupt contents: ${problem}`);
  return t;
}

/** Whether the op counts a file's metadata states (if any) are those of its op column. */
export function opCountsProblem(stated: unknown, counted: readonly number[]): string | undefined {
  if (stated === undefined) return undefined;
  // a file written before the last op codes were added states fewer counts: theirs are 0
  if (!Array.isArray(stated) || stated.length > OP_COUNT) return `the metadata's opCounts are not up to ${OP_COUNT} counts`;
  const k = counted.findIndex((c, o) => c !== (stated[o] ?? 0));
  return k < 0 ? undefined : `the metadata says ${stated[k]} events of op code ${k}, the op column has ${counted[k]}`;
}

/**
 * Reads a whole file into a fresh 8-byte-aligned buffer, on a SharedArrayBuffer when `shared` (so
 * shareTrace has nothing to copy). Gzip content (any file starting 1f 8b) is gunzipped.
 */
export function readFileAligned(path: string, shared: boolean): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new AllocbenchError(`cannot read trace ${path}: ${why}`);
  }
  let out: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    out = new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
    let pos = 0;
    while (pos < size) {
      const r = readSync(fd, out, pos, size - pos, pos);
      if (r === 0) break;
      pos += r;
    }
    if (pos < size) out = out.subarray(0, pos);
  } catch (e) {
    throw new AllocbenchError(`cannot read trace ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
  if (out.length >= 2 && out[0] === 0x1f && out[1] === 0x8b) {
    let raw: Buffer;
    try {
      raw = gunzipSync(out);
    } catch (e) {
      throw new AllocbenchError(`cannot read trace ${path}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
    out = new Uint8Array(shared ? new SharedArrayBuffer(raw.length) : new ArrayBuffer(raw.length));
    out.set(raw);
  }
  return out;
}

/** Loads an .abt or .abt.gz file (columns on a SharedArrayBuffer unless `shared` is false). */
export function readBinaryFile(path: string, opts: { shared?: boolean; name?: string } = {}): Trace {
  return readBinaryTrace(readFileAligned(path, opts.shared ?? true), path, opts.name);
}

/**
 * Writes `t` as an .abt file (gzipped when `path` ends in .gz). The bytes go to a temporary file
 * that is then renamed, so a reader (another run sharing a cache directory) never sees half a file.
 */
export function writeBinaryFile(path: string, t: Trace): void {
  let bytes = encodeBinaryTrace(t);
  if (/\.gz$/i.test(path)) bytes = gzipSync(bytes);
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* never written */ }
    throw new AllocbenchError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Reads the first bytes of a file (to sniff the magic) without reading the rest. */
export function fileStartsWithMagic(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const head = new Uint8Array(8);
      const r = readSync(fd, head, 0, 8, 0);
      return r === 8 && isBinaryTrace(head);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}
