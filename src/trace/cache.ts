/**
 * The compiled trace cache: a text trace is parsed once and kept as an .abt file (binary.ts), so
 * later runs load it in milliseconds. The cache file is named
 * `<cacheDir>/<trace name>-<hash>.abt`, the hash covering the absolute path, size and mtime of the
 * input and LOADER_VERSION: editing, replacing or touching the input, or changing a parser, picks a
 * new name, so a stale entry is never read (old entries are left for the user to delete).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { BINARY_VERSION, fileStartsWithMagic, readBinaryFile, writeBinaryFile } from './binary.js';
import { openBinaryStream } from './binary-stream.js';
import type { TraceStream } from './stream.js';
import { memoryBudget } from '../memory-budget.js';
import { loadTrace, traceName, type LoadOptions } from './load.js';
import type { Trace } from './trace.js';

/**
 * Bump when any text loader (mtrace, csv, rep, kernel) changes what it produces for the same
 * input, so caches written by the old loaders are not reused.
 */
export const LOADER_VERSION = 12; // 12: kernel traces: kswapd's balancing (vmscan events, OP_RECLAIM_BEGIN/END) and kcompactd's drain_all_pages(zone) (OP_PCP_DRAIN); 11: kernel traces: the pages of each vmalloc area, which __alloc_pages_bulk() takes untraced, are allocated at its page array's kmalloc (vmalloc-areas.ts); 10: kernel traces with snapshot markers replay only the events between the before- and after-state reads (snapshot-window.ts); 9: kernel traces: a compaction target carries the zone it was isolated in (ops.ts compactionTargetGfp); 8: kernel traces: a cache whose objects lie in recorded __GFP_RECLAIMABLE slab pages is reclaimable (attribution.ts); 7: kernel traces: compaction isolations (isolate_free_page kprobes) become target allocations, their parts piece frees; 6: kernel text has a tick event at each whole second of its timestamps; 5: layer views of a kernel trace free a pfn first seen by an alloc or mm_page_pcpu_drain (aux -pfn); 2: kernel text and CSV carry cpu/tid columns; 3: a kernel free of a pre-trace block carries its pfn in aux; 4: mtrace and CSV give a freed address or token allocated again its old id

/** Counts of what loadTraceCached did, for tests (a warm load must not parse the text). */
export const cacheStats = { hits: 0, misses: 0, textParses: 0, rejected: 0 };

/** The cache file for `path` as it is now on disk (throws AllocbenchError when it cannot be read). */
export function cachePath(path: string, cacheDir: string, options: LoadOptions = {}): string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AllocbenchError(`cannot read trace ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}`);
  }
  if (st.isDirectory()) throw new AllocbenchError(`cannot read trace ${path}: is a directory`);
  // the layer view of a kernel recording is its own compiled trace
  const layers = options.layers === undefined ? '' : `\0layers=${options.layers}`;
  return cacheEntryPath(cacheDir, path, `${resolve(path)}\0${st.size}\0${st.mtimeMs}\0${LOADER_VERSION}\0${BINARY_VERSION}${layers}`, '.abt');
}

/**
 * A cache entry's file for the trace at `path`: `<cacheDir>/<trace name>-<hash of key><suffix>`,
 * `key` naming everything the entry is made of (this cache's compiled traces, `.abt`; run/start-cache.ts's
 * start states, `.start.v8`).
 */
export function cacheEntryPath(cacheDir: string, path: string, key: string, suffix: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  const base = traceName(path).replace(/[^A-Za-z0-9._-]/g, '_');
  return join(cacheDir, `${base}-${hash}${suffix}`);
}

const isBinaryPath = (path: string): boolean => /\.abt(\.gz)?$/i.test(path);

/**
 * Loads a trace through the compiled cache in `cacheDir`: a valid cache entry is read (columns on
 * a SharedArrayBuffer, so shareTrace copies nothing); otherwise the text is parsed and the
 * compiled copy written. An input that is already .abt is read directly. A corrupt cache entry is
 * not an error: it is parsed again and rewritten. Errors in the input itself throw as loadTrace's.
 */
export function loadTraceCached(path: string, cacheDir: string, options: LoadOptions = {}): Trace {
  if (isBinaryPath(path) || fileStartsWithMagic(path)) return readBinaryFile(path, { name: traceName(path) });
  const file = cachePath(path, cacheDir, options);
  try {
    const t = readBinaryFile(file);
    cacheStats.hits++;
    return t;
  } catch (e) {
    // ENOENT is the usual miss; a corrupt or older entry is rejected the same way and rewritten.
    if (!(e instanceof AllocbenchError)) throw e;
    if (!/no such file/.test(e.message)) cacheStats.rejected++;
  }
  cacheStats.misses++;
  cacheStats.textParses++;
  const t = loadTrace(path, options);
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeBinaryFile(file, t);
  } catch (e) {
    // A cache that cannot be written (read-only results dir, full disk) costs speed, not results.
    process.stderr.write(`allocbench: warning: trace cache not written: ${(e as Error).message}\n`);
  }
  return t;
}

/**
 * Bytes above which an uncompressed .abt input is replayed from disk in chunks instead of read
 * whole: a quarter of the memory budget (the whole file is one buffer, shared by the workers, beside
 * each worker's machine and per-id state), and never above 2 GiB (one buffer of a 15 GB file is not
 * even possible: V8 caps an ArrayBuffer below that on some hosts, and reading it would take minutes
 * before the first event). ALLOCBENCH_MEMORY lowers it with the budget.
 */
export function streamThreshold(): number {
  return Math.min(Math.floor(memoryBudget() / 4), 2 ** 31);
}

/**
 * loadTraceCached, except that an uncompressed .abt input larger than streamThreshold() is opened
 * as a TraceStream (binary-stream.ts: header and metadata read and checked now, the events as a
 * replay asks for them).
 */
export function openTraceCached(path: string, cacheDir: string, options: LoadOptions = {}): Trace | TraceStream {
  if (fileStartsWithMagic(path)) {
    let size = 0;
    try { size = statSync(path).size; } catch { /* loadTraceCached names the problem */ }
    if (size > streamThreshold()) return openBinaryStream(path, { name: traceName(path) });
  }
  return loadTraceCached(path, cacheDir, options);
}
