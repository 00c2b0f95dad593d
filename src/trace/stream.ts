/**
 * A trace read chunk by chunk: everything but the event columns (names, caches, strings, the side
 * table, id and pid counts, events per op code) is known before the first event, and the events
 * come as runs of consecutive rows, each a set of column views. A replay holds one chunk at a time,
 * so a trace of any length replays in memory bounded by the chunk size and the trace's peak of live
 * ids. An in-memory Trace is one chunk (traceChunks).
 */
import { opCounts, type EventColumns, type Trace } from './trace.js';

/** Events [start, start + length) of a trace, as column views (trace.ts says what each column is). */
export interface EventChunk extends EventColumns {
  /** the trace's event index of row 0 */
  start: number;
  length: number;
}

/** What a replay needs of a trace before its first event: a Trace without its columns. */
export type TraceInfo = Omit<Trace, keyof EventColumns>;

/** A trace whose events come in chunks. */
export interface TraceStream extends TraceInfo {
  /** events per op code (OP_COUNT numbers), known before any event is read */
  opCounts: readonly number[];
  /** whether the chunks carry a cpu / tid column */
  hasCpu: boolean;
  hasTid: boolean;
  /**
   * The chunks in order from the first event. The views of a chunk may be reused for the next one
   * (a file reader fills the same buffers): use a chunk before asking for the next. Each call starts
   * again from the first event.
   */
  chunks(): Iterable<EventChunk>;
}

export function isTraceStream(t: Trace | TraceStream): t is TraceStream {
  return typeof (t as TraceStream).chunks === 'function';
}

/** A Trace as a stream of chunks of at most `chunkEvents` events (views, no copy): one chunk by default. */
export function traceStream(t: Trace, chunkEvents = Infinity): TraceStream {
  const { op, id, lo, hi, aux, cpu, tid, ...info } = t;
  return {
    ...info,
    opCounts: opCounts(t),
    hasCpu: cpu !== undefined,
    hasTid: tid !== undefined,
    chunks: () => traceChunks(t, chunkEvents),
  };
}

/** The events of an in-memory trace as chunks of at most `chunkEvents` events (views, no copy). */
export function* traceChunks(t: Trace, chunkEvents = Infinity): Generator<EventChunk> {
  const n = t.length;
  const step = Math.max(1, chunkEvents);
  for (let start = 0; start < n || (start === 0 && n === 0); start += step) {
    const end = Math.min(n, start + step);
    if (end === n && start === 0) {
      yield { start: 0, length: n, op: t.op, id: t.id, lo: t.lo, hi: t.hi, aux: t.aux, ...(t.cpu ? { cpu: t.cpu } : {}), ...(t.tid ? { tid: t.tid } : {}) };
      return;
    }
    yield {
      start, length: end - start,
      op: t.op.subarray(start, end), id: t.id.subarray(start, end), lo: t.lo.subarray(start, end), hi: t.hi.subarray(start, end), aux: t.aux.subarray(start, end),
      ...(t.cpu ? { cpu: t.cpu.subarray(start, end) } : {}), ...(t.tid ? { tid: t.tid.subarray(start, end) } : {}),
    };
  }
}
