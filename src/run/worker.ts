import type { MachineConfig } from '../machine/memory-map.js';
import type { Trace } from '../trace/trace.js';
import type { StartInput } from '../machine/start-state.js';
import { shareTrace } from '../trace/share.js';
import { openBinaryStream } from '../trace/binary-stream.js';
import { failedCell, runCell, startEmptyMetrics, type CellResult, type CellSpec } from './cell.js';
import { generateFromSpec } from './generate.js';
import { makeInput, makeStartInput, type InputOutput, type InputRequest, type StartOutput, type StartRequest } from './input-task.js';

export interface CellTask {
  cell: CellSpec;
  /** the trace to replay (shared memory); when absent, `gen` says how to generate it */
  trace?: Trace;
  /** an .abt file too large to read whole (trace/cache.ts openTraceCached): the worker replays it from disk in chunks */
  stream?: { path: string; name: string };
  /** a generated trace made in the worker: the generator spec and seed */
  gen?: { spec: string; seed: number };
  machine: MachineConfig;
  check: boolean;
  /** time-series sample interval in events (undefined: 100 samples per cell) */
  sampleEvery?: number;
  /** the recording's before-state to start from (runner: --start-from before) */
  start?: StartInput;
  /**
   * A cell with `start` is two replays, which the pool runs as two tasks: 'apart' is the cell
   * without its start-empty replay, 'only' that replay alone (TaskOutput.startEmpty). Absent: both
   * in this task.
   */
  startEmpty?: 'apart' | 'only';
}

export interface TaskOutput {
  /** the cell's result; absent only from a startEmpty 'only' task that succeeded */
  result?: CellResult;
  /** a startEmpty 'only' task's figures: the cell's metrics.start_empty */
  startEmpty?: Record<string, unknown>;
  /** the trace this task generated, in shared memory: the pool hands it to the other cells of that trace */
  trace?: Trace;
}

/** A piscina task: one cell (or its start-empty replay). Never throws: a cell that fails is a failed result. */
export default function runTask(task: CellTask): TaskOutput {
  let made: Trace | undefined;
  try {
    const trace = task.trace ?? (task.stream !== undefined ? openBinaryStream(task.stream.path, { name: task.stream.name })
      : (made = shareTrace(generateFromSpec(task.gen!.spec, task.gen!.seed))));
    const out: TaskOutput = task.startEmpty === 'only'
      ? { startEmpty: startEmptyMetrics(task.cell, trace, task.machine) }
      : { result: runCell(task.cell, trace, task.machine, { check: task.check, sampleEvery: task.sampleEvery, ...(task.start ? { start: task.start } : {}), startEmpty: task.startEmpty !== 'apart' }) };
    return { ...out, ...(made ? { trace: made } : {}) };
  } catch (e) {
    return { result: failedCell(task.cell, e), ...(made ? { trace: made } : {}) };
  }
}

/** The piscina task `input` (CellPool.input): a run's input made on this worker. */
export function input(req: InputRequest): InputOutput {
  return makeInput(req);
}

/** The piscina task `start` (CellPool.startInput): a recording's before-state made on this worker. */
export function start(req: StartRequest): StartOutput {
  return makeStartInput(req);
}
