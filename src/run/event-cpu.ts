import type { EventChunk } from '../trace/stream.js';
import type { Trace } from '../trace/trace.js';

/**
 * The CPU each event of a trace runs on in a replay on a machine of `cpus` CPUs, for strategies
 * with per-CPU state (SLUB's per-CPU slabs, through ObjectStrategyOptions.cpuCursor).
 *
 * - Kernel traces (a `cpu` column: ftrace's / perf's `[001]`): the recorded CPU, modulo `cpus`
 *   when the recording's machine had more CPUs than the simulated one (they fold onto it).
 * - User traces (a `tid` column): threads are numbered 0, 1, 2, ... in order of their first event
 *   (over all processes) and thread k runs on CPU k mod cpus: the main thread on CPU 0, the next on
 *   CPU 1, ..., as a scheduler spreads runnable threads over idle CPUs. Threads do not migrate.
 * - Rows with no value (-1), and traces with neither column: CPU 0.
 *
 * Undefined when every event would run on CPU 0 (one CPU, or no CPU or thread information): the
 * replay then does no per-event work and the results are those of a one-CPU replay.
 */
export function eventCpus(trace: Trace, cpus: number): Int32Array | undefined {
  if (cpus <= 1) return undefined;
  const out = new Int32Array(trace.length);
  return new EventCpus(cpus).fill(out, trace) ? out : undefined;
}

/**
 * eventCpus for a streamed trace: a function giving each chunk's CPUs, called on the chunks in
 * order (threads are numbered across chunks). Undefined when the trace has neither column or the
 * machine one CPU. A chunk with every event on CPU 0 still gets its zeros: the cursor must not keep
 * the last CPU of the chunk before.
 */
export function chunkCpus(trace: { hasCpu: boolean; hasTid: boolean }, cpus: number): ((c: EventChunk) => Int32Array) | undefined {
  if (cpus <= 1 || (!trace.hasCpu && !trace.hasTid)) return undefined;
  const ec = new EventCpus(cpus);
  let out = new Int32Array(0);
  return (c) => {
    if (out.length < c.length) out = new Int32Array(c.length);
    const view = out.subarray(0, c.length);
    ec.fill(view, c);
    return view;
  };
}

/** The CPU of each event from the cpu or tid column, with the thread numbering carried from call to call. */
class EventCpus {
  private readonly index = new Map<number, number>();
  private last = -2;
  private lastCpu = 0;
  constructor(private readonly cpus: number) {}

  /** Writes the CPUs of `c`'s events into `out` (zeros without either column); whether any is not 0. */
  fill(out: Int32Array, c: { length: number; cpu?: Int32Array; tid?: Int32Array }): boolean {
    const n = c.length, cpus = this.cpus;
    let any = false;
    if (c.cpu !== undefined) {
      const cpu = c.cpu;
      for (let e = 0; e < n; e++) {
        const x = cpu[e]!;
        const v = x < 0 ? 0 : x % cpus;
        out[e] = v;
        if (v !== 0) any = true;
      }
    } else if (c.tid !== undefined) {
      const tid = c.tid, index = this.index;
      let last = this.last, lastCpu = this.lastCpu;
      for (let e = 0; e < n; e++) {
        const t = tid[e]!;
        if (t !== last) {
          last = t;
          if (t < 0) lastCpu = 0;
          else {
            let k = index.get(t);
            if (k === undefined) { k = index.size; index.set(t, k); }
            lastCpu = k % cpus;
          }
        }
        out[e] = lastCpu;
        if (lastCpu !== 0) any = true;
      }
      this.last = last; this.lastCpu = lastCpu;
    } else out.fill(0);
    return any;
  }
}
