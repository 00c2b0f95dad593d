import { AllocbenchError } from '../errors.js';
import { openTraceCached } from '../trace/cache.js';
import type { LoadOptions } from '../trace/load.js';
import { shareTrace } from '../trace/share.js';
import { isTraceStream, type TraceStream } from '../trace/stream.js';
import type { Trace } from '../trace/trace.js';
import { generateFromSpec } from './generate.js';
import { startInputFor } from '../metrics/fidelity.js';
import { startInputCached } from './start-cache.js';
import type { StartInput } from '../machine/start-state.js';

/**
 * A run's input made on a worker (or in this thread without workers): a trace file loaded through
 * the run's compiled-trace cache, or a generated trace. The runner asks for all of them at once,
 * so the workers parse and generate in parallel while the main thread waits, instead of the main
 * thread making each in turn while the workers idle.
 */
export type InputRequest =
  | { load: { path: string; cacheDir: string; options: LoadOptions } }
  | { gen: { spec: string; seed: number } };

/**
 * A recording's before-state to start its cells from (metrics/fidelity.ts startInputFor; `own`: on
 * the recording's own machine, with its kpageflags). Made on a worker too: its list order and per-CPU
 * list types come from the recording's trace text, parsed whole (seconds for the four bundled
 * recordings, which the main thread spent alone before the first cell).
 */
export interface StartRequest {
  path: string;
  own: boolean;
  /** the run's cache of start states (run/start-cache.ts; beside its compiled traces): only for `own` */
  cacheDir?: string;
}

/**
 * The trace in shared memory; or `stream` (a compiled file too large to read whole, which the asking
 * thread opens itself: a header read, its chunks are read by each cell); or the error it threw (an
 * AllocbenchError keeps its exit code, a bug its stack).
 */
export type InputOutput = { trace: Trace } | { stream: true } | Failed;

/** An error crossing the thread boundary with its kind (an AllocbenchError keeps its exit code, a bug its stack). */
type Failed = { error: string; exitCode?: number; stack?: string };

/** A StartRequest's state (null: the recording has no before-state), or its error. */
export type StartOutput = { start: StartInput | null } | Failed;

/** Never throws: an error is returned, so it crosses the thread boundary with its kind. */
export function makeInput(req: InputRequest): InputOutput {
  try {
    const t = 'load' in req ? openTraceCached(req.load.path, req.load.cacheDir, req.load.options) : generateFromSpec(req.gen.spec, req.gen.seed);
    return isTraceStream(t) ? { stream: true } : { trace: shareTrace(t) };
  } catch (e) {
    return failed(e);
  }
}

/** Never throws, as makeInput. */
export function makeStartInput(req: StartRequest): StartOutput {
  try {
    const start = req.own && req.cacheDir !== undefined ? startInputCached(req.path, req.cacheDir) : startInputFor(req.path, req.own);
    return { start: start ?? null };
  } catch (e) {
    return failed(e);
  }
}

function failed(e: unknown): Failed {
  if (e instanceof AllocbenchError) return { error: e.message, exitCode: e.exitCode };
  const err = e instanceof Error ? e : new Error(String(e));
  return { error: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
}

/** The state of a StartOutput (undefined: none), or its error thrown again in this thread. */
export function startInput(o: StartOutput): StartInput | undefined {
  if ('start' in o) return o.start ?? undefined;
  return rethrow(o);
}

/** The trace of an InputOutput (a stream opened in this thread), or its error thrown again in this thread. */
export function inputTrace(req: InputRequest, o: InputOutput): Trace | TraceStream {
  if ('trace' in o) return o.trace;
  if ('stream' in o && 'load' in req) return openTraceCached(req.load.path, req.load.cacheDir, req.load.options);
  if ('stream' in o) throw new Error('a generated trace came back as a stream');
  return rethrow(o);
}

function rethrow(o: Failed): never {
  if (o.exitCode !== undefined) throw new AllocbenchError(o.error, o.exitCode);
  const err = new Error(o.error);
  if (o.stack !== undefined) err.stack = o.stack;
  throw err;
}
