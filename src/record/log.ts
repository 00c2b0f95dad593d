import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { AddrIdMap } from '../trace/mtrace.js';
import * as O from '../trace/ops.js';
import { TraceBuilder, isStorableValue, type Trace } from '../trace/trace.js';

/**
 * Reads the raw logs the interposer (interposer.c) writes, one file per process image, and turns
 * them into one Trace: the events of every process and thread in timestamp order.
 *
 *   header (48 bytes): "ABREC1\0\0", u32 pid, u32 ppid, u32 flags (1: a fork() child, 2: TSC clock),
 *                      u32, u64 start (CLOCK_MONOTONIC ns), u64 start (clock ticks), u64
 *   record (32 bytes): u64 time (ticks), u32 tid, u32 op | prot << 8 | flags << 11, u64 a, u64 b
 *
 * Order: a thread's records are in its program order with non-decreasing stamps (one clock for the
 * whole recording: the TSC or CLOCK_MONOTONIC),
 * and each buffer a thread writes is one such run; the runs of all threads and processes are merged
 * by time (ties: file order). Processes become pids 0, 1, ... in order of their start; a fork()
 * child gets a fork event from its parent (the latest recorded image of its parent pid started
 * before it), and every process but the first gets an exit event after its last record. An exec'd
 * image is a process of its own, not forked (its old image exited).
 * Pointers become dense ids per process as in the mtrace loader. A child's free of a block it
 * inherited at fork() is not replayable (the replay's user heaps are per process) and is counted
 * (`inherited_frees`), not treated as an error; realloc of one becomes a malloc in the child.
 */

export const LOG_MAGIC = 'ABREC1\0\0';
const HEADER = 48;
const RECORD = 32;
const TWO32 = 4294967296;

// record ops (interposer.c)
const R_MALLOC = 1, R_FREE = 2, R_REALLOC = 3, R_MMAP = 4, R_MUNMAP = 5, R_MREMAP = 6, R_MREMAP_TO = 7, R_BRK = 8, R_EXIT = 9, R_REALLOC_TO = 10;

interface LogFile {
  path: string;
  pid: number;
  ppid: number;
  forked: boolean;
  start: number;
  /** the file as little-endian 32-bit words (record i starts at word HEADER_WORDS + 8 i) */
  words: Uint32Array;
  count: number;
}

/** The record files of a recording directory (*.ablog), parsed headers; a bad header is an AllocbenchError. */
function readLogs(dir: string): LogFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.ablog')).sort();
  } catch (e) {
    throw new AllocbenchError(`cannot read recording ${dir}: ${(e as Error).message}`);
  }
  const out: LogFile[] = [];
  for (const n of names) {
    const path = join(dir, n);
    const bytes = readFileSync(path);
    if (bytes.length < HEADER || bytes.toString('latin1', 0, 8) !== LOG_MAGIC) {
      throw new AllocbenchError(`${path}: expected an allocbench record log (header "ABREC1"), got ${bytes.length} bytes of something else`);
    }
    // a word view needs a 4-byte aligned start (readFileSync's buffer nearly always is)
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(new Uint8Array(bytes));
    out.push({
      path, words: new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2),
      pid: bytes.readUInt32LE(8), ppid: bytes.readUInt32LE(12), forked: (bytes.readUInt32LE(16) & 1) !== 0,
      start: u64(bytes, 32),
      // a partial last record (the process was killed mid-write) is left out
      count: Math.floor((bytes.length - HEADER) / RECORD),
    });
  }
  // processes in order of start (the stamps are one machine's monotonic clock)
  out.sort((x, y) => x.start - y.start || x.pid - y.pid);
  return out;
}

/** A binary min-heap of run indices keyed by each run's next time (ties: the lower run, i.e. file order). */
class RunHeap {
  private readonly idx: Int32Array;
  /** the time of each run's next record */
  readonly key: Float64Array;
  size = 0;
  constructor(n: number) {
    this.idx = new Int32Array(n);
    this.key = new Float64Array(n);
  }
  private less(a: number, b: number): boolean {
    const ka = this.key[a]!, kb = this.key[b]!;
    return ka < kb || (ka === kb && a < b);
  }
  push(r: number): void {
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(r, this.idx[p]!)) break;
      this.idx[i] = this.idx[p]!;
      i = p;
    }
    this.idx[i] = r;
  }
  top(): number {
    return this.idx[0]!;
  }
  /** The top run's key changed (it moved on to its next record) or it ended (`remove`): restore the order. */
  siftTop(remove: boolean): void {
    const last = remove ? this.idx[--this.size]! : this.idx[0]!;
    const size = this.size;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && this.less(this.idx[c + 1]!, this.idx[c]!)) c++;
      if (!this.less(this.idx[c]!, last)) break;
      this.idx[i] = this.idx[c]!;
      i = c;
    }
    if (size > 0) this.idx[i] = last;
  }
}

/** A converted recording: the trace (its tid column holds the kernel's thread ids) and what it held. */
export interface Recording {
  trace: Trace;
  processes: number;
  threads: number;
}

function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * TWO32 + buf.readUInt32LE(off);
}

const HEADER_WORDS = HEADER / 4, RECORD_WORDS = RECORD / 4;

/**
 * Converts the logs in `dir` into a Trace named `name`. Failed calls are counted in stats
 * (`recorded_failed_allocs`), frees of NULL ignored, a malloc of an address still live in the
 * trace (its free was stamped after the new malloc by a racing thread) frees the old block first
 * (`reordered_frees`).
 */
export function readRecording(dir: string, name: string, source: string = dir): Recording {
  const logs = readLogs(dir);
  let total = 0;
  for (const l of logs) total += l.count;

  // Runs: maximal stretches of non-decreasing time within one file.
  const runFile: number[] = [], runStart: number[] = [], runEnd: number[] = [];
  const base = logs.length ? logs[0]!.start : 0;
  for (let f = 0; f < logs.length; f++) {
    const { words, count } = logs[f]!;
    let s = 0, prev = -Infinity;
    for (let i = 0, w = HEADER_WORDS; i < count; i++, w += RECORD_WORDS) {
      const t = words[w + 1]! * TWO32 + words[w]!;
      if (t < prev) { runFile.push(f); runStart.push(s); runEnd.push(i); s = i; }
      prev = t;
    }
    if (count > s) { runFile.push(f); runStart.push(s); runEnd.push(count); }
  }
  const pos = Int32Array.from(runStart);
  const heap = new RunHeap(runFile.length);
  const timeAt = (f: number, i: number): number => {
    const w = logs[f]!.words, k = HEADER_WORDS + i * RECORD_WORDS;
    return w[k + 1]! * TWO32 + w[k]! - base;
  };
  for (let r = 0; r < runFile.length; r++) { heap.key[r] = timeAt(runFile[r]!, pos[r]!); heap.push(r); }

  const b = new TraceBuilder(name, source, Math.max(16, total + 2 * logs.length));
  const stats: Record<string, number> = { recorded_failed_allocs: 0, reordered_frees: 0, inherited_frees: 0, recorded_processes: logs.length };
  b.useTid();
  const push = (op: number, id: number, value: number, aux: number, tid: number): void => {
    b.curTid = tid;
    b.push(op, id, value, aux);
  };

  // per process: live pointers, pointers inherited at fork, start and last record
  const live = logs.map(() => new AddrIdMap(1 << 10));
  const inherited: (Set<number> | undefined)[] = logs.map(() => undefined);
  const lastIndex = logs.map((l) => l.count - 1);
  const started = new Uint8Array(logs.length);
  const threadSet = new Set<number>();
  const parentOf = (f: number): number => {
    const l = logs[f]!;
    if (!l.forked) return -1;
    let p = -1;
    for (let g = 0; g < f; g++) if (logs[g]!.pid === l.ppid && logs[g]!.start <= l.start) p = g;
    return p;
  };
  const start = (f: number, tid: number): void => {
    started[f] = 1;
    b.notePid(f);
    const p = parentOf(f);
    if (p < 0) return;
    if (!started[p]) start(p, tid);
    push(O.OP_FORK, p, 0, f, tid);
    // the child's copy of the parent's heap: its frees of those blocks are not replayable
    const s = new Set<number>();
    live[p]!.forEachKey((k) => s.add(k));
    inherited[f] = s;
  };

  const extra = (len: number, protFlags: number): number => b.addExtra(len, protFlags);
  const storable = (v: number): boolean => isStorableValue(v) && v < TWO32 * 65536;
  // the first half of a realloc or mremap, by process and thread, until its result record
  const pending = new Map<number, [number, number]>();
  const takePending = (f: number, tid: number, i: number, what: string): [number, number] => {
    const key = f * TWO32 + (tid >>> 0);
    const p = pending.get(key);
    if (p === undefined) throw new AllocbenchError(`${logs[f]!.path}: record ${i}: expected ${what} record before its result`);
    pending.delete(key);
    return p;
  };

  while (heap.size > 0) {
    const r = heap.top();
    const f = runFile[r]!;
    const i = pos[r]!;
    if (i + 1 < runEnd[r]!) { pos[r] = i + 1; heap.key[r] = timeAt(f, i + 1); heap.siftTop(false); } else heap.siftTop(true);
    const words = logs[f]!.words;
    const k = HEADER_WORDS + i * RECORD_WORDS;
    const tid = words[k + 2]! | 0;
    const word = words[k + 3]!;
    const op = word & 0xff;
    const a = words[k + 5]! * TWO32 + words[k + 4]!, bb = words[k + 7]! * TWO32 + words[k + 6]!;
    if (!started[f]) start(f, tid);
    threadSet.add(tid);
    const pid = f;
    const map = live[f]!;
    switch (op) {
      case R_MALLOC: {
        if (a === 0) { stats.recorded_failed_allocs!++; break; }
        const old = map.take(a);
        if (old >= 0) { stats.reordered_frees!++; push(O.OP_FREE, old, 0, pid, tid); }
        inherited[f]?.delete(a);
        const id = b.newId();
        map.set(a, id);
        push(O.OP_MALLOC, id, storable(bb) ? bb : 0, pid, tid);
        break;
      }
      case R_FREE: {
        let id = map.take(a);
        if (id < 0) {
          if (inherited[f]?.delete(a)) { stats.inherited_frees!++; break; }
          id = b.newId(); // never allocated: the replay counts a trace error
        }
        push(O.OP_FREE, id, 0, pid, tid);
        break;
      }
      case R_REALLOC:
        pending.set(f * TWO32 + (tid >>> 0), [a, bb]);
        break;
      case R_REALLOC_TO: {
        const [old, size] = takePending(f, tid, i, 'a realloc'), newAddr = a;
        if (old === 0) { // realloc(NULL, n) is malloc(n)
          if (newAddr === 0) { stats.recorded_failed_allocs!++; break; }
          const id = b.newId();
          map.set(newAddr, id);
          push(O.OP_MALLOC, id, storable(size) ? size : 0, pid, tid);
          break;
        }
        if (newAddr === 0) {
          // realloc(p, 0) frees p (glibc); any other NULL result is a failure that leaves p live
          if (size === 0) { const id = map.take(old); if (id >= 0) push(O.OP_FREE, id, 0, pid, tid); else if (inherited[f]?.delete(old)) stats.inherited_frees!++; }
          else stats.recorded_failed_allocs!++;
          break;
        }
        let id = map.take(old);
        if (id < 0 && inherited[f]?.delete(old)) {
          stats.inherited_frees!++;
          id = b.newId();
          map.set(newAddr, id);
          push(O.OP_MALLOC, id, storable(size) ? size : 0, pid, tid);
          break;
        }
        if (id < 0) id = b.newId(); // realloc of an unknown pointer: a counted trace error in the replay
        const clash = map.take(newAddr);
        if (clash >= 0) { stats.reordered_frees!++; push(O.OP_FREE, clash, 0, pid, tid); }
        map.set(newAddr, id);
        push(O.OP_REALLOC, id, storable(size) ? size : 0, pid, tid);
        break;
      }
      case R_MMAP:
        if (!storable(a) || !storable(bb)) break;
        push(O.OP_MMAP, pid, a, extra(bb, (word >>> 8 & 7) | (word >>> 11) << 8), tid);
        break;
      case R_MUNMAP:
        if (!storable(a) || !storable(bb)) break;
        push(O.OP_MUNMAP, pid, a, extra(bb, 0), tid);
        break;
      case R_MREMAP:
        pending.set(f * TWO32 + (tid >>> 0), [a, bb]);
        break;
      case R_MREMAP_TO: {
        // mremap as munmap of the old range and an anonymous private read-write mapping of the new
        // one (its prot/flags are not logged; mremap's users remap anonymous memory)
        const [old, oldLen] = takePending(f, tid, i, 'an mremap');
        if (!storable(a) || !storable(bb) || !storable(old) || !storable(oldLen)) break;
        push(O.OP_MUNMAP, pid, old, extra(oldLen, 0), tid);
        push(O.OP_MMAP, pid, a, extra(bb, (1 | 2) | (0x02 | 0x20) << 8), tid);
        stats.mremaps = (stats.mremaps ?? 0) + 1;
        break;
      }
      case R_BRK:
        if (storable(a) && a !== 0) push(O.OP_BRK, pid, a, 0, tid);
        break;
      case R_EXIT:
        break;
      default:
        throw new AllocbenchError(`${logs[f]!.path}: record ${i}: expected a record op from 1 to 10, got ${op}`);
    }
    if (i === lastIndex[f] && f > 0) push(O.OP_EXIT, pid, 0, 0, tid);
  }
  b.stats = stats;
  const trace = b.finish();
  return { trace, processes: logs.length, threads: threadSet.size };
}
