import type { Argv, CommandModule } from 'yargs';
import { presetNames } from '../machine/memory-map.js';
import { OBJECT_STRATEGIES } from '../object/registry.js';
import { PAGE_STRATEGIES } from '../page/registry.js';
import type { CellResult } from '../run/cell.js';
import { RECORDED, runMatrix, type RunOptions } from '../run/runner.js';
import { bundledTraces } from '../trace/bundled.js';
import { AllocbenchError } from '../errors.js';
import { DEFAULT_LAYERS, KERNEL_LAYERS, type KernelLayers } from '../trace/attribution.js';
import { formatTable } from './table.js';
import { defaultWorkers } from '../run/pool.js';
import { out } from './output.js';
import { Progress, progressMode } from './progress.js';

/** Repeated options: `--gen a --gen b`. Generator and machine specs hold commas of their own. */
function repeated(v: unknown): string[] {
  const arr = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return arr.map((x) => String(x).trim()).filter((s) => s !== '');
}

/** Repeated and comma-separated options: `--page buddy,bitmap --page freelist`. */
export function list(v: unknown): string[] {
  return repeated(v).flatMap((x) => x.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** The options `run`, `fraginfo` and `slabinfo` share to describe what to replay. */
export function matrixOptions<T>(y: Argv<T>) {
  return y
    .option('trace', { type: 'string', array: true, describe: 'trace file(s) (mtrace, csv, rep, perf/ftrace text, .gz); default: every bundled trace' })
    .option('gen', { type: 'string', array: true, describe: 'generator spec(s), e.g. page-mix or highalloc-stress:mem=4G' })
    .option('page', { type: 'string', array: true, describe: `page strategies (${Object.keys(PAGE_STRATEGIES).join(', ')}); default: all` })
    .option('object', { type: 'string', array: true, describe: `object strategies (${Object.keys(OBJECT_STRATEGIES).join(', ')}); default: all` })
    .option('machine', { type: 'string', array: true, describe: `machine preset (${presetNames().join(', ')}), JSON file or mem=SIZE; options after a colon, e.g. desktop:movablecore=1G; default "recorded": a recording's own machine.json (the machine it ran on), desktop for other traces` })
    .option('seed', { type: 'string', array: true, describe: 'seed(s) for generated traces', default: ['1'] })
    .option('check', { type: 'boolean', default: false, describe: 'verify every layer\'s invariants while replaying' })
    .option('workers', { type: 'number', describe: 'worker threads (default: available parallelism; 0 = run in the main thread)' })
    .option('cell-timeout', { type: 'number', default: 0, describe: 'seconds after which a cell is stopped and recorded as failed (0 = none)' })
    .option('sample-every', { type: 'number', describe: 'time-series sample every N events (default: 100 samples per cell; 0: only at marks)' })
    .option('layers', { type: 'string', choices: [...KERNEL_LAYERS], default: DEFAULT_LAYERS, describe: 'kernel recordings: all = every demand once (objects through the object strategy, recorded slab pages dropped, faults not replayed: their pages are recorded); pages = the recorded page events only; objects = the object events only; none = every event (slab and fault pages twice). See docs/fidelity.md' })
    .option('shard', { type: 'string', describe: 'run slice K of N of the matrix, e.g. 2/4 (join the outputs with merge)' });
}

export interface MatrixArgs {
  trace?: string[];
  gen?: string[];
  page?: string[];
  object?: string[];
  machine?: string[];
  seed?: string[];
  check?: boolean;
  workers?: number;
  cellTimeout?: number;
  shard?: string;
  sampleEvery?: number;
  layers?: string;
}

export function runOptionsFrom(a: MatrixArgs, out: string, resume = false): RunOptions {
  const traces = repeated(a.trace);
  const gens = repeated(a.gen);
  const seeds = list(a.seed).map((s) => {
    if (!/^\d+$/.test(s)) throw new AllocbenchError(`--seed ${s}: expected a non-negative integer`);
    return Number(s);
  });
  return {
    traces: traces.length === 0 && gens.length === 0 ? bundledTraces() : traces,
    gens,
    pages: list(a.page).length ? list(a.page) : Object.keys(PAGE_STRATEGIES),
    objects: list(a.object).length ? list(a.object) : Object.keys(OBJECT_STRATEGIES),
    machines: repeated(a.machine).length ? repeated(a.machine) : [RECORDED],
    seeds: seeds.length ? seeds : [1],
    out,
    check: a.check ?? false,
    resume,
    workers: a.workers ?? defaultWorkers(),
    cellTimeout: a.cellTimeout ?? 0,
    sampleEvery: a.sampleEvery === undefined ? undefined : nonNegative(a.sampleEvery, '--sample-every'),
    shard: a.shard === undefined ? undefined : parseShard(a.shard),
    layers: (a.layers ?? DEFAULT_LAYERS) as KernelLayers,
  };
}

function nonNegative(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0) throw new AllocbenchError(`${what} ${v}: expected a non-negative integer`);
  return v;
}

function parseShard(s: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const k = Number(m?.[1]), n = Number(m?.[2]);
  if (!m || n < 1 || k < 1 || k > n) throw new AllocbenchError(`--shard ${s}: expected K/N with 1 <= K <= N, e.g. 1/2`);
  return { k, n };
}

/** The console summary printed after a run. */
export function summaryTable(results: CellResult[]): string {
  const rows = results.map((r) => {
    const m = r.metrics as Record<string, any>;
    return [
      r.cell.trace, r.cell.page, r.cell.object, r.status, r.events, r.trace_errors, r.failed_allocs,
      m.largest_free_order, m.probe_order9?.fraction, m.highorder?.rate, m.waste?.internal_waste_bytes, m.waste?.utilization,
    ];
  });
  return formatTable(['trace', 'page', 'object', 'status', 'events', 'trace_err', 'failed', 'max_order', 'order9_rest', 'highorder', 'waste_bytes', 'util'], rows);
}

interface RunArgs extends MatrixArgs { out: string; resume: boolean; quiet: boolean }

/** `allocbench run`: traces through the strategy matrix, results written to --out. */
export const runCommand: CommandModule<object, RunArgs> = {
  builder: (y: Argv) => matrixOptions(y)
    .option('out', { type: 'string', default: 'results/latest', describe: 'output directory' })
    .option('resume', { type: 'boolean', default: false, describe: 'skip cells already in OUT/results.jsonl' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print only errors' }) as unknown as Argv<RunArgs>,
  handler: async (a) => {
    const o = runOptionsFrom(a, a.out, a.resume);
    const progress = new Progress(progressMode(a.quiet));
    o.onCell = (r, d, t) => progress.cell(r, d, t);
    const { results, failed } = await runMatrix(o);
    if (!a.quiet) out(`\n${summaryTable(results)}\n\nresults: ${a.out}/results.jsonl, ${a.out}/summary.csv`);
    process.exitCode = failed > 0 ? 1 : 0;
  },
};
