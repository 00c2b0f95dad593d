import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllocbenchError } from '../src/errors.js';
import { crc32 } from 'node:zlib';
import { BINARY_VERSION, encodeBinaryTrace, HEADER_BYTES, readBinaryFile, readBinaryTrace, writeBinaryFile } from '../src/trace/binary.js';
import { cachePath, cacheStats, loadTraceCached } from '../src/trace/cache.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { loadTrace } from '../src/trace/load.js';
import { OP_COUNT } from '../src/trace/ops.js';
import { shareTrace } from '../src/trace/share.js';
import { opCounts, TraceBuilder, type Trace } from '../src/trace/trace.js';
import { plain } from './support/plain-trace.js';

const tmp = mkdtempSync(join(tmpdir(), 'allocbench-bin-'));

/**
 * A trace that keeps the loaders' guarantees (invariants.ts) built from arbitrary numbers: a cache
 * created first, ids and pids within range, pids 0..2 with pid 2 used last.
 */
export function legalTrace(evs: { kind: number; id: number; value: number; aux: number }[], strs: string[], nExtra: number): Trace {
  const b = new TraceBuilder('p"\u00e9', 'src\n', 16);
  b.intern('x');
  for (const s of strs) b.intern(s);
  for (let i = 0; i < nExtra; i++) b.addExtra(4096 * i, i);
  const rows = nExtra;
  b.push(4, b.addCache({ name: 'c', size: 24, align: 8, flags: 1 }), 0, 0);
  const n = evs.length + 2;
  for (const e of evs) {
    const id = e.id % n, pid = Math.abs(e.aux % 3);
    switch (e.kind) {
      case 0: b.push(0, id, e.value % 64, e.aux); break; // page_alloc
      case 1: b.push(2, id, e.value, e.aux); break; // kmalloc
      case 2: b.push(7, id, e.value, pid); break; // malloc
      case 3: b.push(16, 0, 0, Math.abs(e.aux) % b.strings.length); break; // mark
      case 4: if (rows > 0) b.push(10, pid, e.value, Math.abs(e.aux) % rows); else b.push(12, pid, e.value, 0); break; // mmap, brk
      case 5: b.push(5, id, 0, 0); break; // cache_alloc
      default: b.push(13, pid, e.value, e.aux & 1); break; // fault
    }
  }
  b.push(15, 2, 0, 0); // exit of pid 2
  b.notePid(2);
  b.idCount = b.length;
  return b.finish();
}

function errorOf(f: () => unknown): AllocbenchError {
  try { f(); } catch (e) { if (e instanceof AllocbenchError) return e; throw e; }
  throw new Error('expected an AllocbenchError');
}

/** A trace of every generator at a small size (covers caches, strings, mmap extra rows, pids). */
const generated = Object.values(GENERATORS).map((g) => g.generate({
  ...('events' in g.params ? { events: 2000 } : {}),
  ...('mem' in g.params ? { mem: 8 * 1024 * 1024 } : {}),
}, 7));

describe('binary trace format', () => {
  it('round-trips every generator\'s trace with all columns, caches, strings, extra rows and stats', () => {
    for (const t of generated) {
      const withStats = { ...t, stats: { skipped_unknown_events: 3 } };
      const back = readBinaryTrace(encodeBinaryTrace(withStats), 'mem.abt');
      expect(plain(back)).toEqual(plain(withStats));
    }
    expect(generated.some((t) => t.extra.length > 0)).toBe(true);
    expect(generated.some((t) => t.caches.length > 0)).toBe(true);
    expect(generated.some((t) => t.strings.length > 0)).toBe(true);
  });

  it('round-trips arbitrary traces (property)', () => {
    const ev = fc.record({
      kind: fc.integer({ min: 0, max: 6 }), id: fc.nat(), value: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      aux: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    });
    fc.assert(fc.property(fc.array(ev, { maxLength: 200 }), fc.array(fc.string(), { maxLength: 4 }), fc.nat(5), (evs, strs, nExtra) => {
      const t = legalTrace(evs, strs, nExtra);
      expect(plain(readBinaryTrace(encodeBinaryTrace(t), 'p.abt'))).toEqual(plain(t));
    }), { numRuns: 100 });
  });

  it('round-trips the optional cpu and tid columns, each alone or both, and shares them for workers', () => {
    for (const [cpu, tid] of [[true, false], [false, true], [true, true]] as const) {
      const b = new TraceBuilder('ct', 'ct.csv', 16);
      b.notePid(0);
      b.push(7, 0, 32, 0);
      if (cpu) b.useCpu();
      if (tid) b.useTid();
      for (let i = 1; i < 40; i++) { b.curCpu = i % 3; b.curTid = 1000 + i; b.push(7, i, 16 * i, 0); }
      b.idCount = 40;
      const t = b.finish();
      expect(t.cpu !== undefined).toBe(cpu);
      expect(t.tid !== undefined).toBe(tid);
      if (cpu) expect(Array.from(t.cpu!.subarray(0, 3))).toEqual([-1, 1, 2]);
      if (tid) expect(Array.from(t.tid!.subarray(0, 3))).toEqual([-1, 1001, 1002]);
      const back = readBinaryTrace(encodeBinaryTrace(t), 'ct.abt');
      expect(plain(back)).toEqual(plain(t));
      const shared = shareTrace(t);
      if (cpu) expect(shared.cpu!.buffer).toBeInstanceOf(SharedArrayBuffer);
      if (tid) expect(shared.tid!.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(plain(shared)).toEqual(plain(t));
    }
  });

  it('still reads a version-1 file (no cpu/tid sections, 160-byte header)', () => {
    const t = generated[0]!;
    const v2 = encodeBinaryTrace(t);
    // version 1 = version 2 without the last two section slots of the header
    const v1 = new Uint8Array(v2.length - 32);
    v1.set(v2.subarray(0, 160));
    v1.set(v2.subarray(192), 160);
    const dv = new DataView(v1.buffer);
    dv.setUint32(8, 1, true);
    dv.setUint32(16, 160, true);
    dv.setBigUint64(24, BigInt(v1.length), true);
    for (let s = 0; s < 7; s++) dv.setBigUint64(48 + s * 16, dv.getBigUint64(48 + s * 16, true) - 32n, true);
    dv.setUint32(12, crc32(v1.subarray(16)), true);
    const back = readBinaryTrace(v1, 'old.abt');
    expect(plain(back)).toEqual(plain(t));
    expect(back.cpu).toBeUndefined();
  });

  it('views the columns in place over the file buffer, 8-byte aligned, 15 bytes per event plus header and metadata', () => {
    const t = generated[0]!;
    const bytes = encodeBinaryTrace(t);
    const back = readBinaryTrace(bytes, 'x.abt');
    for (const c of [back.op, back.id, back.lo, back.hi, back.aux, back.extra]) {
      expect(c.buffer).toBe(bytes.buffer);
      expect(c.byteOffset % 8).toBe(0);
    }
    const meta = JSON.stringify({ name: t.name, source: t.source, caches: t.caches, strings: t.strings, opCounts: opCounts(t) }).length;
    expect(bytes.length).toBeLessThanOrEqual(HEADER_BYTES + 15 * t.length + t.extra.byteLength + meta + 7 * 7);
  });

  it('reads a file onto a SharedArrayBuffer that shareTrace passes through without copying', () => {
    const p = join(tmp, 'shared.abt');
    writeBinaryFile(p, generated[1]!);
    const t = readBinaryFile(p);
    expect(t.op.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(t.aux.buffer).toBe(t.op.buffer);
    // the columns pass through; the replay's id slots are added once, shared too
    const s = shareTrace(t);
    for (const k of ['op', 'id', 'lo', 'hi', 'aux', 'extra'] as const) expect(s[k]).toBe(t[k]);
    expect(s.slots!.from).toBe(s.id);
    expect(s.slots!.id.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(shareTrace(s)).toBe(s);
    expect(readBinaryFile(p, { shared: false }).op.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('loads .abt, .abt.gz and sniffed extensionless files through loadTrace, named after the file', () => {
    const t = generated[2]!;
    const bytes = encodeBinaryTrace(t);
    writeFileSync(join(tmp, 'lib.abt'), bytes);
    writeFileSync(join(tmp, 'libgz.abt.gz'), gzipSync(bytes));
    writeFileSync(join(tmp, 'noext'), bytes);
    for (const [f, name] of [['lib.abt', 'lib'], ['libgz.abt.gz', 'libgz'], ['noext', 'noext']] as const) {
      const back = loadTrace(join(tmp, f));
      expect(back.name).toBe(name);
      expect(plain(back, false)).toEqual(plain(t, false));
    }
  });

  it('rejects bad magic, an unknown version, truncation, trailing bytes and a checksum mismatch, naming the file (exit 2)', () => {
    const good = encodeBinaryTrace(generated[0]!);
    const cases: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
      ['magic.abt', (b) => { b[1] = 0x58; return b; }, /bad magic/],
      ['version.abt', (b) => { new DataView(b.buffer).setUint32(8, BINARY_VERSION + 1, true); return b; }, new RegExp(`version ${BINARY_VERSION + 1}`)],
      ['short.abt', (b) => b.slice(0, b.length - 100), /truncated: the header says \d+ bytes, the file has \d+/],
      ['header.abt', (b) => b.slice(0, 40), /truncated: 40 bytes/],
      ['trailing.abt', (b) => { const c = new Uint8Array(b.length + 8); c.set(b); return c; }, /trailing data/],
      ['flip.abt', (b) => { b[HEADER_BYTES + 5]! ^= 0x10; return b; }, /checksum mismatch/],
    ];
    for (const [name, mangle, why] of cases) {
      const p = join(tmp, name);
      writeFileSync(p, mangle(good.slice()));
      const e = errorOf(() => readBinaryFile(p));
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(p);
      expect(e.message).toMatch(why);
      // loadTrace reports the same problem
      expect(errorOf(() => loadTrace(p)).message).toMatch(why);
    }
  });

  it('rejects a truncated .abt.gz as corrupt gzip data', () => {
    const p = join(tmp, 'cut.abt.gz');
    const gz = gzipSync(encodeBinaryTrace(generated[0]!));
    writeFileSync(p, gz.subarray(0, gz.length >> 1));
    expect(errorOf(() => readBinaryFile(p)).message).toMatch(/cut\.abt\.gz.*corrupt or truncated gzip/);
  });
});

describe('loadTraceCached', () => {
  const src = 'test/fixtures/mtrace/sqlite-head.mtrace.gz';

  it('parses the text once, then reads the compiled copy, which gives the same trace', () => {
    const dir = join(tmp, 'cache1');
    const input = join(tmp, 'sqlite-head.mtrace.gz');
    copyFileSync(src, input);
    const before = { ...cacheStats };
    const cold = loadTraceCached(input, dir);
    expect(cacheStats.textParses).toBe(before.textParses + 1);
    expect(readdirSync(dir)).toEqual([cachePath(input, dir).replace(/^.*[\\/]/, '')]);
    expect(cachePath(input, dir)).toMatch(/sqlite-head-[0-9a-f]{16}\.abt$/);
    const warm = loadTraceCached(input, dir);
    expect(cacheStats.textParses).toBe(before.textParses + 1);
    expect(cacheStats.hits).toBe(before.hits + 1);
    expect(warm.op.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(plain(warm)).toEqual(plain(cold));
    expect(plain(warm)).toEqual(plain(loadTrace(src)));
  });

  it('serves the cached events while the input\'s size and mtime are unchanged, and re-parses once they change', () => {
    const dir = join(tmp, 'cache2');
    const input = join(tmp, 'edit.mtrace');
    writeFileSync(input, '= Start\n@ [0x1] + 0x10 0x20\n@ [0x1] - 0x10\n= End\n');
    utimesSync(input, 1_700_000_000, 1_700_000_000); // whole seconds: exactly restorable below
    const st = statSync(input);
    expect(loadTraceCached(input, dir).length).toBe(2);
    // Same length, same mtime, different content: only the cache can still say 2 events of size 0x20.
    writeFileSync(input, '= Start\n@ [0x1] + 0x10 0x30\n@ [0x1] + 0x18 0x8\n'.padEnd(st.size, '\n'));
    utimesSync(input, 1_700_000_000, 1_700_000_000);
    const cached = loadTraceCached(input, dir);
    expect(cached.length).toBe(2);
    expect(cached.lo[0]).toBe(0x20);
    // A new mtime is a new cache key: the text is parsed again.
    utimesSync(input, 1_700_000_000, 1_700_000_005);
    const fresh = loadTraceCached(input, dir);
    expect(fresh.lo[0]).toBe(0x30);
    expect(readdirSync(dir).length).toBe(2);
  });

  it('rewrites a corrupt cache entry instead of failing', () => {
    const dir = join(tmp, 'cache3');
    const input = join(tmp, 'c3.mtrace.gz');
    copyFileSync(src, input);
    const first = loadTraceCached(input, dir);
    const entry = cachePath(input, dir);
    const bytes = readFileSync(entry);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(entry, bytes);
    const before = { ...cacheStats };
    expect(plain(loadTraceCached(input, dir))).toEqual(plain(first));
    expect(cacheStats.rejected).toBe(before.rejected + 1);
    expect(cacheStats.textParses).toBe(before.textParses + 1);
    expect(() => readBinaryFile(entry)).not.toThrow();
  });

  it('reads an .abt input directly and still names a missing input', () => {
    const p = join(tmp, 'direct.abt');
    writeBinaryFile(p, generated[0]!);
    const before = { ...cacheStats };
    expect(loadTraceCached(p, join(tmp, 'cache4')).name).toBe('direct');
    expect(cacheStats).toEqual(before);
    expect(errorOf(() => loadTraceCached(join(tmp, 'nope.mtrace'), tmp)).message).toMatch(/nope\.mtrace: no such file/);
  });
});
