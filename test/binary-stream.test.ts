import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllocbenchError } from '../src/errors.js';
import { encodeBinaryTrace, readBinaryFile, writeBinaryFile } from '../src/trace/binary.js';
import { BinaryTraceWriter, openBinaryStream } from '../src/trace/binary-stream.js';
import { crc32Combine } from '../src/trace/crc32-combine.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { traceChunks, type TraceStream } from '../src/trace/stream.js';
import { opCounts, type Trace } from '../src/trace/trace.js';
import { plain } from './support/plain-trace.js';

const tmp = mkdtempSync(join(tmpdir(), 'allocbench-binstream-'));

/** Every generator's trace at a small size, and one with cpu and tid columns. */
const generated: Trace[] = Object.values(GENERATORS).map((g) => g.generate({
  ...('events' in g.params ? { events: 1500 } : {}),
  ...('mem' in g.params ? { mem: 8 * 1024 * 1024 } : {}),
}, 11));
{
  const t = generated[0]!;
  const cpu = new Int32Array(t.length).map((_, e) => (e % 5) - 1);
  const tid = new Int32Array(t.length).map((_, e) => (e * 7) % 13);
  generated.push({ ...t, name: 'with-cpu-tid', cpu, tid, stats: { skipped: 2 } });
}

/** The stream's chunks put back together as a Trace. */
function gather(s: TraceStream): Trace {
  const n = s.length;
  const t: Trace = {
    name: s.name, source: s.source, length: n, idCount: s.idCount, pidCount: s.pidCount, caches: s.caches, strings: s.strings, extra: s.extra,
    op: new Uint8Array(n), id: new Int32Array(n), lo: new Uint32Array(n), hi: new Uint16Array(n), aux: new Int32Array(n),
    ...(s.hasCpu ? { cpu: new Int32Array(n) } : {}), ...(s.hasTid ? { tid: new Int32Array(n) } : {}), ...(s.stats ? { stats: s.stats } : {}),
  };
  let next = 0;
  for (const c of s.chunks()) {
    expect(c.start).toBe(next);
    t.op.set(c.op, c.start); t.id.set(c.id, c.start); t.lo.set(c.lo, c.start); t.hi.set(c.hi, c.start); t.aux.set(c.aux, c.start);
    if (c.cpu) t.cpu!.set(c.cpu, c.start);
    if (c.tid) t.tid!.set(c.tid, c.start);
    next += c.length;
  }
  expect(next).toBe(n);
  return t;
}

/** `t` written through the streamed writer, `chunk` events at a time. */
function writeStreamed(path: string, t: Trace, chunk: number): void {
  const w = new BinaryTraceWriter(path, t.length, { cpu: t.cpu !== undefined, tid: t.tid !== undefined });
  for (const c of traceChunks(t, chunk)) w.write(c);
  w.finish(t);
}

function errorOf(f: () => unknown): AllocbenchError {
  try { f(); } catch (e) { if (e instanceof AllocbenchError) return e; throw e; }
  throw new Error('expected an AllocbenchError');
}

describe('.abt in chunks', () => {
  it('crc32Combine gives the CRC of the concatenation (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    }));
  });

  it('a streamed write, 7 events at a time, reads back whole and in 5-event chunks as the same trace, op counts up front', () => {
    for (const t of generated) {
      const p = join(tmp, `${t.name}.abt`);
      writeStreamed(p, t, 7);
      expect(plain(readBinaryFile(p, { shared: false }))).toEqual(plain(t));
      const s = openBinaryStream(p, { chunkEvents: 5 });
      expect(s.opCounts).toEqual(opCounts(t)); // known before any chunk is read
      expect(s.hasCpu).toBe(t.cpu !== undefined);
      expect(plain(gather(s))).toEqual(plain(t));
      expect(plain(gather(s))).toEqual(plain(t)); // chunks() starts again from the first event
    }
  });

  it('streams a file of the whole-trace encoder, and one without op counts in its metadata (counted from the op column)', () => {
    const t = generated[1]!;
    const p = join(tmp, 'whole.abt');
    writeBinaryFile(p, t);
    const s = openBinaryStream(p, { chunkEvents: 64 });
    expect(s.opCounts).toEqual(opCounts(t));
    expect(plain(gather(s))).toEqual(plain(t));
    // the same file as an older allocbench wrote it: meta JSON without opCounts (and its checksum redone)
    const bytes = encodeBinaryTrace(t);
    const dv = new DataView(bytes.buffer);
    const metaOff = Number(dv.getBigUint64(48 + 6 * 16, true)), metaLen = Number(dv.getBigUint64(56 + 6 * 16, true));
    const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(metaOff, metaOff + metaLen))) as Record<string, unknown>;
    delete meta.opCounts;
    const shorter = new TextEncoder().encode(JSON.stringify(meta));
    bytes.fill(0x20, metaOff, metaOff + metaLen); // JSON allows trailing blanks
    bytes.set(shorter, metaOff);
    dv.setUint32(12, crc32(bytes.subarray(16)), true);
    const old = join(tmp, 'old.abt');
    writeFileSync(old, bytes);
    const so = openBinaryStream(old, { chunkEvents: 100 });
    expect(so.opCounts).toEqual(opCounts(t));
    expect(plain(gather(so))).toEqual(plain(t));
  });

  it('finds a corrupt column byte by the checksum after the last chunk, a broken event in its chunk, forged op counts at open', () => {
    const t = generated[1]!;
    const p = join(tmp, 'c.abt');
    writeStreamed(p, t, 100);
    const bytes = readFileSync(p);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const loOff = Number(dv.getBigUint64(48 + 2 * 16, true));
    const lo = Buffer.from(bytes); lo[loOff + 4 * 1000]! ^= 1;
    writeFileSync(join(tmp, 'lo.abt'), lo);
    const s = openBinaryStream(join(tmp, 'lo.abt'), { chunkEvents: 100 });
    let chunks = 0;
    const err = errorOf(() => { for (const _ of s.chunks()) chunks++; });
    expect(err.message).toMatch(/lo\.abt: checksum mismatch/);
    expect(chunks).toBe(Math.ceil(t.length / 100));
    const opOff = Number(dv.getBigUint64(48, true));
    const op = Buffer.from(bytes); op[opOff + 1234] = 200;
    writeFileSync(join(tmp, 'op.abt'), op);
    expect(errorOf(() => { for (const _ of openBinaryStream(join(tmp, 'op.abt'), { chunkEvents: 100 }).chunks()) { /* read */ } }).message)
      .toMatch(/op\.abt: corrupt contents: event 1234 \(op 200\): op code 200/);
    const cut = join(tmp, 'cut.abt');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    expect(errorOf(() => openBinaryStream(cut)).message).toMatch(/cut\.abt: truncated/);
  });

  it('the writer refuses more or fewer events than declared, and leaves no file behind', () => {
    const t = generated[0]!;
    const p = join(tmp, 'short.abt');
    const w = new BinaryTraceWriter(p, t.length + 1);
    w.write(t);
    expect(errorOf(() => w.finish(t)).message).toMatch(/events written of the/);
    w.abort();
    expect(errorOf(() => openBinaryStream(p)).message).toMatch(/no such file/);
    const w2 = new BinaryTraceWriter(p, 3);
    expect(errorOf(() => w2.write(t)).message).toMatch(/more than the 3 events declared/);
    w2.abort();
  });
});
