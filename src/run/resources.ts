import type { MachineConfig } from '../machine/memory-map.js';
import { checkPidCount } from '../machine/vm.js';
import { BYTES_PER_PAGE, formatMiB, memoryBudget, requireMemory } from '../memory-budget.js';
import type { TraceInfo } from '../trace/stream.js';

/**
 * The run's resource policy: before any cell starts, each machine and trace is checked against
 * what the host can hold (exit 2 with the figures, instead of the OOM killer mid-run), and the
 * worker count is cut so the cells running at once fit together.
 */

/** Per id the replay keeps a 4-byte reference and, for page blocks, a 4-byte pfn; live records take 8 x 4 more. */
const BYTES_PER_ID = 40;

/** Bytes of the per-page state of a machine (strategies, map counts), from the end of its memory map. */
export function machineBytes(m: MachineConfig): number {
  const end = m.map.reduce((e, r) => Math.max(e, r.end), 0);
  return Math.ceil(end / 4096) * BYTES_PER_PAGE;
}

export function traceBytes(t: TraceInfo): number {
  return t.idCount * BYTES_PER_ID;
}

/** A trace is checked once where it enters: its pids bound the process tables. */
export function checkTrace(t: TraceInfo): void {
  checkPidCount(t.pidCount, `trace ${t.source}`);
  requireMemory(`replaying trace ${t.source} (${t.idCount} ids)`, traceBytes(t));
}

/** Refuses a machine whose per-page state alone would not fit. */
export function checkMachine(spec: string, m: MachineConfig): void {
  requireMemory(`machine ${spec} (${Math.ceil(m.map.reduce((e, r) => Math.max(e, r.end), 0) / 4096)} page frames)`, machineBytes(m));
}

/**
 * Workers that can run at once: each holds one cell's machine and replay state (traces are
 * shared), so no more than the budget over the largest cell; at least one. `warn` hears why when
 * the count was cut.
 */
export function workersThatFit(requested: number, largestCell: number, warn: (msg: string) => void): number {
  if (requested <= 1 || largestCell <= 0) return requested;
  const budget = memoryBudget();
  const fit = Math.max(1, Math.floor(budget / largestCell));
  if (fit >= requested) return requested;
  warn(`--workers ${requested}: ${fit} cell(s) of ~${formatMiB(largestCell)} fit in ${formatMiB(budget)} at once; running ${fit} workers`);
  return fit;
}
