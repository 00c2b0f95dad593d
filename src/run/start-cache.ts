/**
 * The run's cache of recordings' before-states (metrics/fidelity.ts startInputFor on the recording's
 * own machine), beside the compiled traces in `<out>/trace-cache/` (NAME-HASH.start.v8): a start
 * state reads the recording's whole trace text (the ftrace log gunzipped and scanned by five
 * parsers, 0.7-1 s a recording here), and `npm start` makes four of them, a third of its worker's
 * CPU time. A second run with the same inputs and the same code reads them back in milliseconds.
 *
 * The entry's name hashes what the state is made of: the absolute path, size and mtime of the trace
 * and of the before/ files startInputFor reads, and the content of every code file of this build
 * (the state comes from a dozen modules, so a version number bumped by hand, as trace/cache.ts has
 * for the loaders, would go stale as soon as one of them changed without it). Any change picks a
 * new name; a stale entry is never read. Entries are v8-serialized (the structured clone a worker
 * sends the state through already) and written whole before they are renamed into place, so a
 * reader never sees half of one; an unreadable entry is made again.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import type { StartInput } from '../machine/start-state.js';
import { startInputFor } from '../metrics/fidelity.js';
import { cacheEntryPath } from '../trace/cache.js';

/** Counts of what startInputCached did, for tests. */
export const startCacheStats = { hits: 0, misses: 0 };

/** The before/ files startInputFor reads beside a recording's trace. */
const BEFORE_FILES = ['pagetypeinfo', 'kpageflags.gz', 'zoneinfo'];

/** startInputFor(path, true), through the cache in `cacheDir`. */
export function startInputCached(path: string, cacheDir: string): StartInput | undefined {
  const file = startCachePath(path, cacheDir);
  try {
    const got = deserialize(readFileSync(file)) as { start?: StartInput | null } | null;
    if (got !== null && typeof got === 'object' && 'start' in got) {
      startCacheStats.hits++;
      return got.start ?? undefined;
    }
  } catch {
    // no entry yet, or one that cannot be read: made again below
  }
  startCacheStats.misses++;
  const start = startInputFor(path, true);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(tmp, serialize({ start: start ?? null }));
    renameSync(tmp, file);
  } catch (e) {
    // as trace/cache.ts: a cache that cannot be written (read-only results dir, full disk) costs speed, not results
    try { rmSync(tmp, { force: true }); } catch { /* nothing was written */ }
    process.stderr.write(`allocbench: warning: start-state cache not written: ${(e as Error).message}\n`);
  }
  return start;
}

/** The cache entry for `path`'s start state as its files and this build's code are now. */
export function startCachePath(path: string, cacheDir: string): string {
  const dir = join(dirname(path), 'before');
  const parts = [resolve(path), ...BEFORE_FILES.map((f) => join(dir, f))].map((f) => {
    try {
      const st = statSync(f);
      return `${f}\0${st.size}\0${st.mtimeMs}`;
    } catch {
      return `${f}\0absent`;
    }
  });
  return cacheEntryPath(cacheDir, path, parts.join('\0') + codeHash(), '.start.v8');
}

let code: string | null = null;

/** A hash of every code file of this build (dist/, or src/ when run from the TypeScript), once per thread. */
function codeHash(): string {
  if (code !== null) return code;
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(js|ts|json)$/.test(e.name)) h.update(p.slice(root.length)).update('\0').update(readFileSync(p));
    }
  };
  walk(root);
  return (code = h.digest('hex'));
}
