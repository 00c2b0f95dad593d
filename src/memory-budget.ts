import { totalmem } from 'node:os';
import { AllocbenchError } from './errors.js';

/**
 * Memory bounds that follow the host. Before a generator or a cell allocates its typed arrays, its
 * estimated size is compared with what this process may use, so a request that cannot fit ends
 * with a one-line message (exit 2) instead of the OOM killer or V8's fatal "heap out of memory".
 * A leaf module (like errors.ts): the trace, machine and run layers all ask it.
 *
 * The budget is 3/4 of the smaller of the host's memory and the cgroup limit (what Node can have:
 * typed arrays live outside the V8 heap and are bounded by these, not by --max-old-space-size),
 * leaving room for the JS heap, the result and the OS. ALLOCBENCH_MEMORY=SIZE overrides it (tests,
 * or a user who knows better).
 */

/** Bytes a generated trace costs per event: 15 in the builder's columns, 1.5x while a column doubles, a shared copy, per-id replay state. */
export const BYTES_PER_EVENT = 48;

/**
 * Bytes a cell costs per page frame of its machine: the page strategies measured at 0.1 (bitmap,
 * bitmap2) to 9 (buddy: links and state) bytes per page, the process model's map counts 4, the
 * replay's pfn per page block 4 (measured on a 16 GiB flat machine, Node 20).
 */
export const BYTES_PER_PAGE = 20;

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])?i?b?\s*$/i;

/** The bytes this process may use for simulation state. */
export function memoryBudget(): number {
  const env = process.env.ALLOCBENCH_MEMORY;
  if (env !== undefined && env !== '') {
    const m = SIZE.exec(env);
    if (!m) throw new AllocbenchError(`ALLOCBENCH_MEMORY=${env}: expected a size such as 2G`);
    return Math.round(Number(m[1]) * ({ k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m[2] ?? '').toLowerCase() as 'k'] ?? 1));
  }
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const host = totalmem();
  return Math.floor(((constrained > 0 && constrained < host) ? constrained : host) * 0.75);
}

export function formatMiB(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}

/** Throws a usage error (exit 2) when `bytes` would not fit in the memory budget. */
export function requireMemory(what: string, bytes: number): void {
  const budget = memoryBudget();
  if (!(bytes <= budget)) {
    throw new AllocbenchError(`${what} needs about ${formatMiB(bytes)}, more than the ${formatMiB(budget)} this host allows (3/4 of its memory; ALLOCBENCH_MEMORY=SIZE overrides)`);
  }
}
