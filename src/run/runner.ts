import { join } from 'node:path';
import { loadMachine, type MachineConfig } from '../machine/memory-map.js';
import { isTraceStream, type TraceInfo } from '../trace/stream.js';
import type { Trace } from '../trace/trace.js';
import { AllocbenchError } from '../errors.js';
import { cellKey, type CellResult, type CellSpec } from './cell.js';
import type { CellTask } from './worker.js';
import { recordedMachine } from '../machine/recorded-machine.js';
import { DEFAULT_LAYERS, type KernelLayers } from '../trace/attribution.js';
import { startInputFor, type StartFrom } from '../metrics/fidelity.js';
import type { StartInput } from '../machine/start-state.js';

/** --machine value (the default): each recording on its own machine.json, other traces on FALLBACK_MACHINE */
export const RECORDED = 'recorded';
const FALLBACK_MACHINE = 'desktop';
import { CellPool } from './pool.js';
import { cellCost, cellWork } from './cell-cost.js';
import { newSteps } from '../machine/steps.js';
import { objectStrategyFactory } from '../object/registry.js';
import { pageStrategyFactory } from '../page/registry.js';
import { expandGroups, type MatrixGroup, type ResolvedGroup } from './matrix.js';
import { ResultSink } from './sink.js';
import { ensureDir } from './output.js';
import { checkResumeCells, checkResumeInfo, writeRunInfo, type RunInfo } from './run-info.js';
import { checkMachine, checkTrace, machineBytes, traceBytes, workersThatFit } from './resources.js';
import { uniqueTraceNames } from './trace-names.js';
import { VERSION } from '../version.js';

export interface RunOptions {
  traces: string[];
  gens: string[];
  pages: string[];
  objects: string[];
  machines: string[];
  seeds: number[];
  out: string;
  check: boolean;
  /** time-series sample interval in events (undefined: 100 samples per cell; 0: marks only) */
  sampleEvery?: number;
  resume: boolean;
  workers: number;
  cellTimeout: number;
  /** kernel recordings: the layer view to replay (attribution.ts; default DEFAULT_LAYERS) */
  layers?: KernelLayers;
  /** recordings with a before/ snapshot: start from it (default) or from an empty machine */
  startFrom?: StartFrom;
  /** run only slice k (1-based) of n of the matrix */
  shard?: { k: number; n: number };
  /** several matrices (experiments) instead of the one the fields above describe */
  groups?: MatrixGroup[];
  /** more fields for run.json (the experiments' questions and headline metrics) */
  info?: Record<string, unknown>;
  /**
   * called after each cell (progress): cells done of the run's, and `work`, the estimated cost
   * (cell-cost.ts) of the cells this call replays, done and in all, for an ETA that neither the
   * cells' unequal sizes nor their order (costliest first) skews
   */
  onCell?: (r: CellResult, done: number, total: number, work: Work) => void;
}

/** Estimated work (cell-cost.ts units) of a run's cells to replay: done so far, and in all. */
export interface Work { done: number; total: number }

export interface RunOutcome {
  results: CellResult[];
  failed: number;
  /** the matrices as run.json records them (trace names, own machines resolved) */
  groups?: ResolvedGroup[];
}

/**
 * Loads every input once, expands the matrix and runs each cell, writing each result as it
 * completes. An unreadable input throws (exit 2) before any cell runs; a cell that throws becomes
 * a failed result and the others go on.
 */
export async function runMatrix(opts: RunOptions): Promise<RunOutcome> {
  // The workers start (threads up, code loaded) while this thread loads and generates the inputs.
  const early = opts.workers > 0 ? new CellPool({ workers: opts.workers, cellTimeout: opts.cellTimeout }) : null;
  // Ctrl-C is ours from the start: one that arrives while the inputs load or generate (a synchronous
  // loop: the listener runs when it ends) stops the run before any cell, with the same message and exit 130.
  const ctrlC: CtrlC = { interrupted: false, pool: null };
  const onSigint = (): void => { ctrlC.interrupted = true; ctrlC.pool?.stop(); };
  process.on('SIGINT', onSigint);
  try {
    return await runOn(opts, early, ctrlC);
  } finally {
    process.removeListener('SIGINT', onSigint);
    await early?.close();
  }
}

/** Whether Ctrl-C was pressed, and the pool it must stop once there is one. */
interface CtrlC { interrupted: boolean; pool: CellPool | null }

/** runMatrix on a pool started early (null: none), replaced when the work needs fewer workers. */
async function runOn(opts: RunOptions, early: CellPool | null, ctrlC: CtrlC): Promise<RunOutcome> {
  const groups: MatrixGroup[] = opts.groups ?? [{ traces: opts.traces, gens: opts.gens, machines: opts.machines, pages: opts.pages, objects: opts.objects, seeds: opts.seeds }];
  const unique = (pick: (g: MatrixGroup) => string[]): string[] => [...new Set(groups.flatMap(pick))];
  const traceFiles = unique((g) => g.traces), genSpecs = unique((g) => g.gens);
  checkStrategies(unique((g) => g.pages), unique((g) => g.objects));
  ensureDir(opts.out);
  // Recorded traces do not depend on the seed; generated ones are made once per seed.
  // Text traces are parsed once: a compiled copy next to the results makes the next run's load a read.
  const layers = opts.layers ?? DEFAULT_LAYERS;
  /** per trace name: its trace for a seed, or (a generated trace other than its first seed, a file read in chunks) how a worker gets it */
  const traceFor = new Map<string, (seed: number) => Pick<CellTask, 'trace' | 'gen' | 'stream'>>();
  /** per trace name: the trace (a generated one: its first seed, which stands for the others' size) */
  const sample = new Map<string, TraceInfo>();
  const fileName = new Map<string, string>(), genName = new Map<string, string>();
  // Inputs are made on the workers, all at once (in this thread without workers): input-task.ts.
  const maker = early ?? new CellPool({ workers: 0, cellTimeout: 0 });
  const seed0 = (spec: string): number => groups.find((g) => g.gens.includes(spec))!.seeds[0] ?? 1;
  // A recording's start on its own machine (--machine recorded, the default) is made on the workers with
  // the inputs, first: it parses the recording's whole trace text, the longest of these jobs.
  const ownFiles = opts.startFrom === 'empty' ? [] : traceFiles.filter((path) => onOwnMachine(groups, path));
  // compiled traces and start states, cached side by side
  const cacheDir = join(opts.out, 'trace-cache');
  const ownStartsSettled = Promise.allSettled(ownFiles.map((path) => maker.startInput({ path, own: true, cacheDir })));
  const made = await Promise.allSettled([
    ...traceFiles.map((path) => maker.input({ load: { path, cacheDir, options: { layers, layersIfKernel: true } } })),
    ...genSpecs.map((spec) => maker.input({ gen: { spec, seed: seed0(spec) } })),
  ]);
  // the first bad input in the order given is the one reported, whichever failed first
  const inputs = made.map((m) => { if (m.status === 'rejected') throw m.reason; return m.value; });
  const files = inputs.slice(0, traceFiles.length), firsts = inputs.slice(traceFiles.length) as Trace[]; // a generated trace is never a stream
  // checked where they enter (pids, memory); two files of one name get distinct cell names (trace-names.ts)
  // (an .abt too large to read whole is a stream: each worker replays it from disk in chunks)
  const loaded = uniqueTraceNames(files.map((t) => { checkTrace(t); return t; }));
  loaded.forEach((t, i) => {
    fileName.set(traceFiles[i]!, t.name);
    traceFor.set(t.name, () => (isTraceStream(t) ? { stream: { path: traceFiles[i]!, name: t.name } } : { trace: t }));
    sample.set(t.name, t);
  });
  // A generator's first seed is made up front (its name, the checks); the other seeds by the cells' tasks.
  genSpecs.forEach((spec, i) => {
    const first = firsts[i]!, s0 = seed0(spec);
    checkTrace(first);
    genName.set(spec, first.name);
    sample.set(first.name, first);
    traceFor.set(first.name, (seed) => (seed === s0 ? { trace: first } : { gen: { spec, seed } }));
  });
  const expanded = expandGroups(groups, (f) => fileName.get(f)!, (s) => genName.get(s)!, () => RECORDED);
  const machines = new Map<string, MachineConfig>([...new Set(expanded.cells.map((c) => c.machine))].filter((m) => m !== RECORDED).map((m) => [m, loadMachine(m)]));
  const all = resolveRecorded(expanded.cells, traceFiles, loaded, machines);
  const resolved = resolvedMachines(expanded.resolved, expanded.cells, all);
  for (const [spec, m] of machines) checkMachine(spec, m);
  const cells = opts.shard ? shardOf(all, opts.shard.k, opts.shard.n) : all;
  if (opts.shard && cells.length === 0) throw new AllocbenchError(`--shard ${opts.shard.k}/${opts.shard.n}: the matrix has only ${all.length} cells, so this shard would be empty`);
  const info: RunInfo = {
    version: VERSION,
    node: process.version,
    started_at: new Date().toISOString(),
    inputs: { traces: traceFiles, gens: genSpecs },
    axes: {
      traces: [...traceFor.keys()], machines: [...machines.keys()], pages: unique((g) => g.pages), objects: unique((g) => g.objects),
      seeds: [...new Set(groups.flatMap((g) => g.seeds))].sort((a, b) => a - b),
    },
    groups: resolved,
    ...opts.info,
    machines: Object.fromEntries(machines),
    check: opts.check,
    layers,
    start_from: opts.startFrom ?? 'before',
    sample_every: opts.sampleEvery ?? null,
    shard: opts.shard ?? null,
    cells: cells.length,
  };
  // --resume must not mix matrices: run.json and every result already there are checked before anything is written
  if (opts.resume) checkResumeInfo(opts.out, info);
  const sink = new ResultSink(opts.out, opts.resume);
  if (opts.resume) checkResumeCells(opts.out, sink.results, cells);
  writeRunInfo(opts.out, info);
  const done = opts.resume ? sink.done() : new Set<string>();
  // (after the inputs' errors: the first bad input in the order given is the one reported)
  const ownStart = new Map((await ownStartsSettled).map((m, i) => { if (m.status === 'rejected') throw m.reason; return [ownFiles[i]!, m.value] as const; }));
  const startOf = startStates(opts.startFrom, new Map(traceFiles.map((f) => [fileName.get(f)!, f])), ownStart);
  const tasks: CellTask[] = cells
    .filter((c) => !done.has(cellKey(c)))
    .map((cell) => ({ cell, ...traceFor.get(cell.trace)!(cell.seed), machine: machines.get(cell.machine)!, check: opts.check, sampleEvery: opts.sampleEvery, ...startOf(cell) }));
  let n = cells.length - tasks.length;
  const largest = tasks.reduce((m, t) => Math.max(m, machineBytes(t.machine) + traceBytes(sample.get(t.cell.trace)!)), 0);
  // as many workers as there are pool tasks (a cell from a recorded state is two: pool.ts), and as fit in memory
  const workers = workersThatFit(Math.min(opts.workers, tasks.length + tasks.filter((t) => t.start !== undefined).length), largest, (msg) => process.stderr.write(`allocbench: ${msg}\n`));
  const pool = early !== null && workers === opts.workers ? early : new CellPool({ workers, cellTimeout: opts.cellTimeout });
  if (pool !== early) await early?.close();
  ctrlC.pool = pool;
  if (ctrlC.interrupted) pool.stop();
  const costOf = new Map(tasks.map((t) => [cellKey(t.cell), cellWork(t, sample.get(t.cell.trace)!.length)]));
  const work: Work = { done: 0, total: [...costOf.values()].reduce((a, b) => a + b, 0) };
  try {
    // costliest first, so a long cell does not start last (results are sorted at the end anyway)
    await pool.runAll(tasks, (r) => {
      sink.add(r);
      work.done += costOf.get(cellKey(r.cell)) ?? 0;
      opts.onCell?.(r, ++n, cells.length, work);
    }, (t) => cellCost(t, sample.get(t.cell.trace)!.length));
  } finally {
    ctrlC.pool = null;
    if (pool !== early) await pool.close();
  }
  if (ctrlC.interrupted) throw new AllocbenchError(`interrupted: ${n} of ${cells.length} cells are in ${opts.out}; --resume finishes the rest`, 130);
  const results = sink.finish();
  return { results, failed: results.filter((r) => r.status !== 'ok').length, groups: resolved };
}

/**
 * The machine axis value RECORDED: a recording's own machine (machine.json beside the trace,
 * recorded-machine.ts), else the desktop preset. Resolved per trace before sharding and resume, so
 * results name the machine the cell ran on.
 */
function resolveRecorded(cells: CellSpec[], paths: string[], traces: TraceInfo[], machines: Map<string, MachineConfig>): CellSpec[] {
  if (!cells.some((c) => c.machine === RECORDED)) return cells;
  const byName = new Map<string, string>();
  for (let i = 0; i < traces.length; i++) {
    const rec = recordedMachine(paths[i]!, traces[i]!.name);
    const name = rec?.config.name ?? FALLBACK_MACHINE;
    if (!machines.has(name)) machines.set(name, rec?.config ?? loadMachine(FALLBACK_MACHINE));
    byName.set(traces[i]!.name, name);
  }
  if (!machines.has(FALLBACK_MACHINE) && cells.some((c) => c.machine === RECORDED && !byName.has(c.trace))) machines.set(FALLBACK_MACHINE, loadMachine(FALLBACK_MACHINE));
  return cells.map((c) => (c.machine === RECORDED ? { ...c, machine: byName.get(c.trace) ?? FALLBACK_MACHINE } : c));
}

/** A group's machines with RECORDED replaced by the machines its recordings resolved to. */
function resolvedMachines(groups: ResolvedGroup[], before: CellSpec[], after: CellSpec[]): ResolvedGroup[] {
  const own = new Map<string, string>();
  before.forEach((c, i) => { if (c.machine === RECORDED) own.set(c.trace, after[i]!.machine); });
  return groups.map((g) => ({
    ...g,
    machines: [...new Set(g.machines.flatMap((m) => (m === RECORDED ? g.traces.filter((t) => own.has(t)).map((t) => own.get(t)!) : [m])))],
  }));
}

/**
 * Whether some matrix runs the trace file `path` on the recording's own machine: --machine recorded
 * or recorded-NAME, or a group without machines (each recording on its own: matrix.ts expandGroups).
 */
export function onOwnMachine(groups: MatrixGroup[], path: string): boolean {
  return groups.some((g) => g.traces.includes(path) && (g.machines.length === 0 || g.machines.some((m) => m === RECORDED || m.startsWith('recorded-'))));
}

/**
 * The start state of each cell (--start-from before, the default): a recording's before-state, with
 * its kpageflags only when the cell runs on the recording's own machine (the pfns are that machine's).
 * The one on its own machine was made on the workers (`ownStart`); another is only its pagetypeinfo.
 */
function startStates(startFrom: StartFrom | undefined, pathOf: Map<string, string>, ownStart: Map<string, StartInput | undefined>): (cell: CellSpec) => { start?: StartInput } {
  if (startFrom === 'empty') return () => ({});
  const cache = new Map<string, StartInput | undefined>();
  return (cell) => {
    const path = pathOf.get(cell.trace);
    if (path === undefined) return {};
    const own = cell.machine === `recorded-${cell.trace}`;
    const key = `${cell.trace}|${own}`;
    if (!cache.has(key)) cache.set(key, own && ownStart.has(path) ? ownStart.get(path) : startInputFor(path, own));
    const start = cache.get(key);
    return start === undefined ? {} : { start };
  };
}

/**
 * Bad strategy names and variants are bad usage (exit 2), found before any cell runs: each
 * strategy is built once on a tiny zone, which throws AllocbenchError for an unknown one.
 */
function checkStrategies(pages: string[], objects: string[]): void {
  const steps = newSteps();
  for (const p of pages) pageStrategyFactory(p)({ pages: 1024, steps });
  const nowhere = { totalPfns: 1, allocPages: () => -1, freePages: () => {} };
  for (const o of objects) objectStrategyFactory(o)({ pages: nowhere, steps, cpus: 1 });
}

/** Slice k of n: every n-th cell of the full matrix, so shards are balanced and disjoint. */
export function shardOf<T>(cells: T[], k: number, n: number): T[] {
  return cells.filter((_, i) => i % n === k - 1);
}

export { generateFromSpec } from './generate.js';
