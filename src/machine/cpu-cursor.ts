/**
 * The CPU the current event runs on, written by the replay before each event of a trace that
 * records CPUs or threads (run/event-cpu.ts) and read by strategies with per-CPU state (the page
 * layer's per-CPU lists, SLUB's per-CPU slabs). Without one, every operation runs on CPU 0.
 */
export interface CpuCursor {
  cpu: number;
}
