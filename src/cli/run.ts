import { exportOptions, writeExports } from './export.js';
import type { Argv, CommandModule } from 'yargs';
import { presetNames } from '../machine/memory-map.js';
import { OBJECT_STRATEGIES } from '../object/registry.js';
import { PAGE_STRATEGIES } from '../page/registry.js';
import type { CellResult } from '../run/cell.js';
import { RECORDED, runMatrix, type RunOptions } from '../run/runner.js';
import { bundledTraces } from '../trace/bundled.js';
import { AllocbenchError } from '../errors.js';
import { intOption, MAX_CELL_TIMEOUT_S, MAX_SHARDS, maxWorkers, numberOption, parseIntIn, parseShard, WORKERS_PER_CORE } from './validate.js';
import { DEFAULT_LAYERS, KERNEL_LAYERS, type KernelLayers } from '../trace/attribution.js';
import { START_FROM, type StartFrom } from '../metrics/fidelity.js';
import { formatTable } from './table.js';
import { column, value } from '../run/columns.js';
import { experimentGroups, experimentInfo, loadAllExperiments, loadExperiment, type Experiment } from '../run/experiment.js';
import type { ResolvedGroup } from '../run/matrix.js';
import { computeFindings, formatFindings } from '../report/findings.js';
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
    .option('seed', { type: 'string', array: true, describe: 'seed(s) for generated traces (default 1; with experiments: in place of their seeds)' })
    .option('check', { type: 'boolean', default: false, describe: 'verify every layer\'s invariants while replaying' })
    .option('workers', { type: 'string', coerce: intOption('--workers', 0, maxWorkers), describe: `worker threads, 0 to ${WORKERS_PER_CORE} per core (default: available parallelism; 0 = run in the main thread)` })
    .option('cell-timeout', { type: 'string', default: '0', coerce: numberOption('--cell-timeout', 0, MAX_CELL_TIMEOUT_S), describe: `seconds after which a cell is stopped and recorded as failed, up to ${MAX_CELL_TIMEOUT_S} (0 = none)` })
    .option('sample-every', { type: 'string', coerce: intOption('--sample-every', 0, 2 ** 31 - 1), describe: 'time-series sample every N events, 0 to 2^31-1 (default: 100 samples per cell; 0: only at marks)' })
    .option('layers', { type: 'string', choices: [...KERNEL_LAYERS], default: DEFAULT_LAYERS, describe: 'kernel recordings: all = every demand once (objects through the object strategy, recorded slab pages dropped, faults not replayed: their pages are recorded); pages = the recorded page events only; objects = the object events only; none = every event (slab and fault pages twice). See docs/fidelity.md' })
    .option('start-from', { type: 'string', choices: [...START_FROM], default: 'before', describe: 'kernel recordings with a before/ snapshot: start from the recorded before-state (free blocks of before/pagetypeinfo, exact with before/kpageflags.gz; the rest pre-trace memory) or from an empty machine' })
    .option('shard', { type: 'string', coerce: parseShard, describe: `run slice K of N of the matrix, e.g. 2/4, N up to ${MAX_SHARDS} (join the outputs with merge)` });
}

export interface MatrixArgs {
  experiment?: string[];
  trace?: string[];
  gen?: string[];
  page?: string[];
  object?: string[];
  machine?: string[];
  seed?: string[];
  check?: boolean;
  workers?: number;
  cellTimeout?: number;
  shard?: { k: number; n: number };
  sampleEvery?: number;
  layers?: string;
  startFrom?: string;
}

export function runOptionsFrom(a: MatrixArgs, out: string, resume = false): RunOptions {
  const traces = repeated(a.trace);
  const gens = repeated(a.gen);
  const seeds = list(a.seed).map((s) => {
    return parseIntIn(s, '--seed', 0, Number.MAX_SAFE_INTEGER);
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
    sampleEvery: a.sampleEvery,
    shard: a.shard,
    layers: (a.layers ?? DEFAULT_LAYERS) as KernelLayers,
    startFrom: (a.startFrom ?? 'before') as StartFrom,
  };
}

/**
 * What `run` and `start` replay: the named experiments (`--experiment`, repeatable), or every
 * experiment when no --trace/--gen is given, or the one matrix the flags describe. With
 * experiments, --page/--object narrow their strategy lists and --seed replaces their seeds.
 */
export function runPlan(a: MatrixArgs, out: string, resume = false): { options: RunOptions; experiments: Experiment[] } {
  const options = runOptionsFrom(a, out, resume);
  const named = repeated(a.experiment);
  if (named.length === 0 && (repeated(a.trace).length > 0 || repeated(a.gen).length > 0)) return { options, experiments: [] };
  if (named.length > 0 && (repeated(a.trace).length > 0 || repeated(a.gen).length > 0)) {
    throw new AllocbenchError('--experiment cannot be combined with --trace or --gen (an experiment names its own workloads)');
  }
  const experiments = named.length ? named.map((n) => loadExperiment(n)) : loadAllExperiments();
  if (experiments.length === 0) return { options, experiments: [] };
  if (repeated(a.machine).length > 0) throw new AllocbenchError('--machine does not apply to experiments: each names the machines its workloads stress (copy the file and edit it)');
  const groups = experimentGroups(experiments, { pages: Object.keys(PAGE_STRATEGIES), objects: Object.keys(OBJECT_STRATEGIES) }, {
    pages: list(a.page), objects: list(a.object), seeds: list(a.seed).length ? options.seeds : undefined,
  });
  if (groups.length === 0) throw new AllocbenchError('--page/--object leave no cell of the chosen experiments');
  return { options: { ...options, groups, info: { experiments: experiments.map(experimentInfo) } }, experiments };
}

/** Columns of the console's per-cell table (a run of explicit flags): the identity and the figures that apply. */
const CONSOLE_COLUMNS = [
  'failed_allocs', 'order9_at_rest_pct', 'order9_under_load_pct', 'order9_probe_end_pct', 'unusable_index_9', 'utilization_pct',
  'page_alloc_p50_ns', 'page_alloc_p99_ns', 'obj_alloc_p99_ns', 'fault_p99_ns', 'sim_events_per_s',
];

/** The per-cell table of a run of explicit flags: same column names as summary.csv, empty where a figure does not apply. */
export function summaryTable(results: CellResult[]): string {
  const ids = ['trace', 'machine', 'page', 'object', 'seed'].filter((n) => n === 'trace' || new Set(results.map((r) => String(value(r, column(n)!)))).size > 1);
  const cols = [...ids, 'status', ...CONSOLE_COLUMNS.filter((n) => results.some((r) => value(r, column(n)!) !== undefined))].map((n) => column(n)!);
  return formatTable(cols.map((c) => c.name), results.map((r) => cols.map((c) => value(r, c))));
}

/** What a run prints at the end: per-cell rows for a small ad-hoc matrix, then the findings. */
export function runSummary(results: CellResult[], experiments: Experiment[], groups: ResolvedGroup[]): string {
  const parts: string[] = [];
  if (experiments.length === 0 && results.length <= 60) parts.push(summaryTable(results));
  parts.push(formatFindings(computeFindings(results, experiments.map(experimentInfo), groups)).replace(/^\n/, ''));
  return parts.join('\n\n');
}

interface RunArgs extends MatrixArgs { out: string; resume: boolean; quiet: boolean }

/** `allocbench run`: traces through the strategy matrix, results written to --out. */
export const runCommand: CommandModule<object, RunArgs> = {
  builder: (y: Argv) => exportOptions(matrixOptions(y))
    .option('experiment', { type: 'string', array: true, describe: 'run the named experiment(s) of experiments/ (or a .json file); default with no --trace/--gen: all of them' })
    .option('out', { type: 'string', default: 'results/latest', describe: 'output directory' })
    .option('resume', { type: 'boolean', default: false, describe: 'skip cells already in OUT/results.jsonl' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print only errors' }) as unknown as Argv<RunArgs>,
  handler: async (a) => {
    const { options: o, experiments } = runPlan(a, a.out, a.resume);
    const progress = new Progress(progressMode(a.quiet));
    o.onCell = (r, d, t, w) => progress.cell(r, d, t, w);
    const { results, failed, groups } = await runMatrix(o);
    if (!a.quiet) out(`\n${runSummary(results, experiments, groups ?? [])}\n\nresults: ${a.out}/results.jsonl, ${a.out}/summary.csv`);
    // Bencher / github-action-benchmark files straight from the run (the same as `export OUT`)
    writeExports(a as unknown as Record<string, unknown>, results);
    process.exitCode = failed > 0 ? 1 : 0;
  },
};
