/**
 * A trace file's bytes in chunks, gunzipped on the fly when the file is gzip (by its magic bytes,
 * not its name): a loader that reads chunks holds one chunk and a line, never the whole file (a
 * file above ~2 GiB cannot even be one Buffer). The gunzip is fflate's streaming Gunzip: Node's
 * zlib has no synchronous streaming API, and the loaders are synchronous.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Gunzip } from 'fflate';
import { AllocbenchError } from '../errors.js';

/** Bytes a chunk holds (more when a gzip block inflates past it). */
const CHUNK_BYTES = 8 << 20;

export interface FileChunks {
  /** the next chunk (a fresh Buffer: chunks handed out earlier stay valid), null at the end */
  next(): Buffer | null;
  /** the file's bytes after any gunzip, or an estimate (gzip: the size its trailer records) */
  size: number;
}

function openError(path: string, e: unknown): AllocbenchError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
  return new AllocbenchError(`cannot read trace ${path}: ${why}`);
}

/** Opens `path` for reading in chunks (AllocbenchError, exit 2, when it cannot be read). */
export function fileChunks(path: string): FileChunks {
  if (path === '') throw new AllocbenchError('no trace file given');
  let fd: number;
  let fileSize: number;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (st.isDirectory()) { closeSync(fd); throw Object.assign(new Error('is a directory'), { code: 'EISDIR' }); }
    fileSize = st.size;
  } catch (e) {
    throw openError(path, e);
  }
  let pos = 0;
  let closed = false;
  const read = (n: number): Buffer | null => {
    if (closed) return null;
    const buf = Buffer.allocUnsafe(n);
    let got: number;
    try {
      got = readSync(fd, buf, 0, n, pos);
    } catch (e) {
      closeSync(fd); closed = true;
      throw new AllocbenchError(`cannot read trace ${path}: ${(e as Error).message}`);
    }
    pos += got;
    if (got === 0) { closeSync(fd); closed = true; return null; }
    return got < n ? buf.subarray(0, got) : buf;
  };
  const head = Buffer.alloc(2);
  const isGzip = fileSize >= 2 && readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!isGzip) return { next: () => read(CHUNK_BYTES), size: fileSize };

  // gzip: ISIZE, the last 4 bytes, is the inflated size mod 2^32 (of the last member)
  const tail = Buffer.alloc(4);
  let size = fileSize * 8;
  if (fileSize >= 18 && readSync(fd, tail, 0, 4, fileSize - 4) === 4) size = Math.max(tail.readUInt32LE(0), fileSize);
  const out: Uint8Array[] = [];
  let outBytes = 0;
  let ended = false;
  const gz = new Gunzip((data, final) => {
    if (data.length > 0) { out.push(data); outBytes += data.length; }
    if (final) ended = true;
  });
  const corrupt = (why: string): AllocbenchError => new AllocbenchError(`cannot read trace ${path}: corrupt or truncated gzip data (${why})`);
  const next = (): Buffer | null => {
    while (outBytes < CHUNK_BYTES && !ended) {
      const c = read(1 << 20);
      try {
        if (c === null) { gz.push(new Uint8Array(0), true); if (!ended) throw new Error('unexpected end of file'); }
        else gz.push(c, false);
      } catch (e) {
        if (!closed) { closeSync(fd); closed = true; }
        ended = true;
        throw corrupt((e as Error).message);
      }
    }
    if (outBytes === 0) {
      if (!closed) { closeSync(fd); closed = true; }
      return null;
    }
    const chunk = out.length === 1 ? Buffer.from(out[0]!.buffer, out[0]!.byteOffset, out[0]!.byteLength) : Buffer.concat(out, outBytes);
    out.length = 0;
    outBytes = 0;
    return chunk;
  };
  return { next, size };
}

/**
 * A window over chunks of a file: the bytes not yet read of one chunk and the next, for a loader
 * that reads lines. `more(pos)` drops the bytes before `pos` and appends the next chunk (false, the
 * window unchanged, at the end of the file), so a line cut at a chunk's end is read whole.
 */
export class ByteWindow {
  bytes: Buffer = Buffer.alloc(0);
  /** no chunk after the window */
  eof = false;

  constructor(private readonly next: () => Buffer | null) {
    this.more(0);
  }

  more(pos: number): boolean {
    if (this.eof) return false;
    const c = this.next();
    if (c === null) { this.eof = true; return false; }
    this.bytes = pos === this.bytes.length ? c : Buffer.concat([this.bytes.subarray(pos), c]);
    return true;
  }
}

/** A single buffer as chunks (a loader that reads chunks given bytes already in memory). */
export function oneChunk(bytes: Buffer): () => Buffer | null {
  let given = false;
  return () => (given ? null : (given = true, bytes));
}
