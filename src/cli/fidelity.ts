import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { AllocbenchError } from '../errors.js';
import { loadMachine, type MachineConfig } from '../machine/memory-map.js';
import { recordedMachine } from '../machine/recorded-machine.js';
import type { StartInput } from '../machine/start-state.js';
import { lineLabel, recordingState, scoreCell, startInputFor, type ScoreLine } from '../metrics/fidelity.js';
import { formatTargetChecks, loadFidelityTargets } from '../metrics/fidelity-targets.js';
import { PAGE_STRATEGIES } from '../page/registry.js';
import { ftraceText } from '../metrics/pcp-traffic.js';
import { runCell } from '../run/cell.js';
import { formatDivergence, takeDivergence, type TakeDivergence } from '../run/take-divergence.js';
import { DEFAULT_LAYERS, KERNEL_LAYERS, type KernelLayers } from '../trace/attribution.js';
import { loadTrace } from '../trace/load.js';
import type { Trace } from '../trace/trace.js';
import { out } from './output.js';
import { list } from './run.js';
import { formatTable } from './table.js';

/** The trace of a recording folder: NAME/NAME.ftrace[.gz], else the one kernel trace file in it. */
export function recordingTrace(dir: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new AllocbenchError(`fidelity: ${dir} is not a recording folder (expected a directory with a trace, before/ and after/)`);
  const name = basename(dir.replace(/\/+$/, ''));
  for (const f of [`${name}.ftrace.gz`, `${name}.ftrace`]) if (existsSync(join(dir, f))) return join(dir, f);
  const traces = readdirSync(dir).filter((f) => /\.(ftrace|perf|trace)(\.gz)?$/.test(f));
  if (traces.length !== 1) throw new AllocbenchError(`fidelity: ${dir}: expected one kernel trace file (NAME.ftrace[.gz], .perf, .trace), found ${traces.length}`);
  return join(dir, traces[0]!);
}

export interface FidelityOptions { pages: string[]; object: string; layers: KernelLayers }

/** A recording folder's layer view, its machine (machine.json, else `desktop`) and its before-state. */
function openRecording(dir: string, layers: KernelLayers): { tracePath: string; text: string | undefined; trace: Trace; config: MachineConfig; start: StartInput } {
  const tracePath = recordingTrace(dir);
  const trace = loadTrace(tracePath, { layers, layersIfKernel: true });
  const rec = recordedMachine(tracePath, trace.name);
  const config = rec?.config ?? loadMachine('desktop');
  // the trace text, decompressed once for the start state (with the recorded pcp traffic) and --diverge
  const text = ftraceText(tracePath);
  const start = startInputFor(tracePath, rec !== undefined, text);
  if (start === undefined) throw new AllocbenchError(`fidelity: ${dir}: no before/pagetypeinfo to start from`);
  return { tracePath, text, trace, config, start };
}

/**
 * The scorecard of each recording folder: every page strategy replays the recording on its own
 * machine from its before-state (with the start-empty replay beside it), scored per zone against
 * the real after-state.
 */
export function fidelityScorecard(dirs: string[], o: FidelityOptions): ScoreLine[] {
  const lines: ScoreLine[] = [];
  for (const dir of dirs) {
    const { tracePath, trace, config, start } = openRecording(dir, o.layers);
    const real = recordingState(tracePath);
    if (real === undefined) throw new AllocbenchError(`fidelity: ${dir}: no after/pagetypeinfo or after/buddyinfo to score against`);
    for (const page of o.pages) {
      // the buddy models follow the rule set of the kernel that was recorded (machine.json
      // kernel_version: the machine's kernel, MachineConfig.kernel), as in every run on it
      const cell = { trace: trace.name, machine: config.name, page, object: o.object, seed: 1 };
      const r = runCell(cell, trace, config, { start, samples: 0 });
      lines.push(...scoreCell(trace.name, real, r).map((l) => ({ ...l, folder: dir.replace(/\/+$/, '') })));
    }
  }
  return lines;
}

/** The text scorecard: one row per recording × zone × strategy, and the naive predictors beside. */
export function formatScorecard(lines: ScoreLine[]): string {
  const f = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(3));
  const label = lineLabel(lines);
  const rows = lines.map((l) => [
    label(l), l.zone, l.page, f(l.log2_count_error), f(l.baselines.nothing_changes.log2_count_error), f(l.baselines.start_empty?.log2_count_error),
    f(l.max_unusable_delta), f(l.baselines.nothing_changes.max_unusable_delta), f(l.baselines.start_empty?.max_unusable_delta),
    `${l.extfrag.recorded}/${l.extfrag.simulated}`, l.pages_in_use ? `${l.pages_in_use.sim_end}/${l.pages_in_use.real_end}` : '-',
  ]);
  const table = formatTable(['recording', 'zone', 'page', 'log2err', 'nothing', 'empty', 'unusableΔ', 'nothing', 'empty', 'extfrag real/sim', 'used sim/real'], rows);
  const detail = lines.filter((l) => l.page === 'buddy-mobility').map((l) =>
    `${label(l)} ${l.zone} buddy-mobility free blocks per order\n  real ${l.real.join(' ')}\n  sim  ${l.sim.join(' ')}\n  free pages by type real ${JSON.stringify(l.free_pages_by_type.real)} sim ${JSON.stringify(l.free_pages_by_type.sim)}\n  pageblocks real ${JSON.stringify(l.pageblocks.real)} sim ${JSON.stringify(l.pageblocks.sim)}`
    + (l.pcp ? `\n  pcp blocks refilled real ${l.pcp.refill_blocks.real} sim ${l.pcp.refill_blocks.sim}, drained real ${l.pcp.drain_blocks.real} sim ${l.pcp.drain_blocks.sim}` : ''));
  return `${table}\n\nlog2err: mean over orders of |log2((sim+1)/(real+1))| of free blocks; unusableΔ: max over orders of |Δ unusable_index|.\n`
    + `nothing = "after = before" predictor, empty = the same replay from an empty machine. Lower is better.\n\n${detail.join('\n')}`;
}

/**
 * `--diverge N`: per recording, the model's buddy-level takes beside the recorded ones and the first
 * N that differ (run/take-divergence.ts), for each buddy page strategy of `pages`.
 */
export function fidelityDivergence(dirs: string[], o: FidelityOptions, n: number): TakeDivergence[] {
  const out: TakeDivergence[] = [];
  for (const dir of dirs) {
    const { tracePath, text, trace, config, start } = openRecording(dir, o.layers);
    for (const page of o.pages.filter((p) => p.startsWith('buddy'))) {
      const cell = { trace: trace.name, machine: config.name, page, object: o.object, seed: 1 };
      const d = takeDivergence(tracePath, basename(dir.replace(/\/+$/, '')), cell, trace, config, start, n, undefined, text);
      if (d !== undefined) out.push(d);
    }
  }
  return out;
}

interface FidelityArgs { dirs: string[]; page?: string[]; object: string; layers: string; json: boolean; diverge: number }

/** `allocbench fidelity DIR...`: the fidelity scorecard of recording folders. */
export const fidelityCommand: CommandModule<object, FidelityArgs> = {
  builder: (y: Argv) => y
    .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'recording folders (NAME/NAME.ftrace.gz, before/, after/, machine.json), e.g. traces/kernel/*' })
    .option('page', { type: 'string', array: true, describe: `page strategies (${Object.keys(PAGE_STRATEGIES).join(', ')}); default: all` })
    .option('object', { type: 'string', default: 'slub', describe: 'object strategy for the object events (--layers all)' })
    .option('layers', { type: 'string', choices: [...KERNEL_LAYERS], default: DEFAULT_LAYERS, describe: 'layer view replayed (see run --help)' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per recording × zone × strategy, one per line' })
    .option('diverge', { type: 'number', default: 0, describe: 'instead of the scorecard: the model\'s buddy-level takes against the recorded mm_page_alloc_zone_locked ones, with the first N that differ (docs/fidelity.md)' }) as unknown as Argv<FidelityArgs>,
  handler: (a) => {
    const dirs = a.dirs.filter((d) => existsSync(d) && statSync(d).isDirectory() && existsSync(join(d, 'after')));
    if (dirs.length === 0) throw new AllocbenchError(`fidelity: none of ${a.dirs.join(', ')} is a recording folder with after/`);
    if (a.diverge > 0) {
      const ds = fidelityDivergence(dirs, { pages: list(a.page).length ? list(a.page) : ['buddy-mobility'], object: a.object, layers: a.layers as KernelLayers }, a.diverge);
      out(a.json ? ds.map((d) => JSON.stringify(d)).join('\n') : ds.map(formatDivergence).join('\n\n'));
      return;
    }
    const lines = fidelityScorecard(dirs, { pages: list(a.page).length ? list(a.page) : Object.keys(PAGE_STRATEGIES), object: a.object, layers: a.layers as KernelLayers });
    if (a.json) { out(lines.map((l) => JSON.stringify(l)).join('\n')); return; }
    // the targets of fidelity-targets.json (issues 13 and 14), when their page strategy was replayed
    const checks = formatTargetChecks(lines, loadFidelityTargets());
    out(formatScorecard(lines) + (checks === '' ? '' : `\n\ntargets (fidelity-targets.json):\n${checks}`));
  },
};

