import { Script } from 'node:vm';
import { failedCell } from './cell.js';
import runTask, { type CellTask, type TaskOutput } from './worker.js';

/**
 * One cell in this thread (--workers 0) that still honours --cell-timeout and Ctrl-C: a replay is
 * one synchronous loop, so neither a timer nor a SIGINT listener could run before it ends. The
 * cell runs through node:vm with `timeout` and `breakOnSigint`, whose watchdog stops the running
 * JavaScript from another thread. `interrupted` is called on Ctrl-C (the vm holds the SIGINT
 * listeners back while it runs, so the caller's own does not fire).
 */
const CALL = new Script('run()');

export function runCellInThread(t: CellTask, timeoutSeconds: number, interrupted: () => void): TaskOutput {
  let result: TaskOutput | undefined;
  try {
    CALL.runInNewContext({ run: () => { result = runTask(t); } }, { breakOnSigint: true, ...(timeoutSeconds > 0 ? { timeout: Math.max(1, Math.round(timeoutSeconds * 1000)) } : {}) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { result: failedCell(t.cell, new Error(`cell exceeded --cell-timeout ${timeoutSeconds}s`)) };
    if (code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') { interrupted(); return { result: failedCell(t.cell, new Error('interrupted')) }; }
    throw e;
  }
  return result!;
}
