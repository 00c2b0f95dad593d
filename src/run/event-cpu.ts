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
  const n = trace.length;
  const out = new Int32Array(n);
  let any = false;
  if (trace.cpu !== undefined) {
    const cpu = trace.cpu;
    for (let e = 0; e < n; e++) {
      const c = cpu[e]!;
      const v = c < 0 ? 0 : c % cpus;
      out[e] = v;
      if (v !== 0) any = true;
    }
  } else if (trace.tid !== undefined) {
    const tid = trace.tid;
    const index = new Map<number, number>();
    let last = -2, lastCpu = 0;
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
  }
  return any ? out : undefined;
}
