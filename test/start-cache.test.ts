import { cpSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { startInputFor } from '../src/metrics/fidelity.js';
import { startCachePath, startCacheStats, startInputCached } from '../src/run/start-cache.js';

// a copy of a bundled recording (trace and before/), whose files the test may touch
const dir = mkdtempSync(join(tmpdir(), 'allocbench-start-cache-'));
cpSync('traces/kernel/build-compress', join(dir, 'build-compress'), { recursive: true });
const trace = join(dir, 'build-compress', 'build-compress.ftrace.gz');
const cacheDir = join(dir, 'trace-cache');
/** the state made without the cache (the copy's files only change their times below, not their content) */
let madeOnce: ReturnType<typeof startInputFor> | null = null;
const made = (): ReturnType<typeof startInputFor> => (madeOnce ??= startInputFor(trace, true));

describe('the start-state cache (run/start-cache.ts)', () => {
  it('gives back what startInputFor makes, reading the recording once', () => {
    expect(made()?.kpage).toBeInstanceOf(Uint8Array);
    const { hits, misses } = startCacheStats;
    const first = startInputCached(trace, cacheDir);
    const second = startInputCached(trace, cacheDir);
    expect(startCacheStats.misses - misses).toBe(1);
    expect(startCacheStats.hits - hits).toBe(1);
    expect(first).toEqual(made());
    expect(second).toEqual(made());
    expect(second!.kpage).toBeInstanceOf(Uint8Array); // typed arrays come back as typed arrays
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('makes a new entry when the trace or a before/ file changes, and again when an entry cannot be read', () => {
    const was = startCachePath(trace, cacheDir);
    const kp = join(dir, 'build-compress', 'before', 'kpageflags.gz');
    expect(startCachePath(trace, cacheDir)).toBe(was); // nothing changed
    const t = statSync(kp).mtime;
    utimesSync(kp, t, new Date(t.getTime() + 5000));
    const touched = startCachePath(trace, cacheDir);
    expect(touched).not.toBe(was);
    utimesSync(trace, t, new Date(t.getTime() + 7000));
    expect(startCachePath(trace, cacheDir)).not.toBe(touched);
    const now = startCachePath(trace, cacheDir);
    expect(startInputCached(trace, cacheDir)).toEqual(made());
    writeFileSync(now, 'not a v8 value');
    const misses = startCacheStats.misses;
    expect(startInputCached(trace, cacheDir)).toEqual(made());
    expect(startCacheStats.misses - misses).toBe(1);
    expect(startInputCached(trace, cacheDir)).toEqual(made());
    expect(startCacheStats.misses - misses).toBe(1); // rewritten whole
  });

  it('still gives the start state when its cache cannot be written (a file where the directory should be)', () => {
    const blocked = join(dir, 'not-a-dir');
    writeFileSync(blocked, '');
    const warn = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(startInputCached(trace, join(blocked, 'trace-cache'))).toEqual(made());
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/start-state cache not written/);
    } finally {
      warn.mockRestore();
    }
  });
});
