import type { MachineConfig } from '../machine/memory-map.js';
import type { Trace } from '../trace/trace.js';
import type { StartInput } from '../machine/start-state.js';
import { failedCell, runCell, type CellResult, type CellSpec } from './cell.js';

export interface CellTask {
  cell: CellSpec;
  trace: Trace;
  machine: MachineConfig;
  check: boolean;
  /** time-series sample interval in events (undefined: 100 samples per cell) */
  sampleEvery?: number;
  /** the recording's before-state to start from (runner: --start-from before) */
  start?: StartInput;
}

/** A piscina task: one cell. Never throws: a cell that fails is a failed result. */
export default function runTask(task: CellTask): CellResult {
  try {
    return runCell(task.cell, task.trace, task.machine, { check: task.check, sampleEvery: task.sampleEvery, ...(task.start ? { start: task.start } : {}) });
  } catch (e) {
    return failedCell(task.cell, e);
  }
}
