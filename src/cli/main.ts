import yargs, { type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AllocbenchError, reportError } from '../errors.js';


/**
 * The commands: usage and one-line description here, everything else in src/cli/NAME.ts, imported
 * only when that command runs (or shows its own --help). `allocbench --help` thus loads yargs and
 * nothing of the simulator, the report or vega. One line per command.
 */
const COMMANDS: [usage: string, describe: string, load: () => Promise<CommandModule<any, any>>][] = [
  ['run', 'replay traces through the strategy matrix and write results', async () => (await import('./run.js')).runCommand],
  ['start', 'the main job: every experiment of experiments/, its findings and the HTML report', async () => (await import('./start.js')).startCommand],
  ['report <dir>', 'turn a results directory into one self-contained HTML report (works offline)', async () => (await import('./report.js')).reportCommand],
  ['compare <base> <current>', 'compare two results directories (exit 1 when a deterministic metric worsens beyond its threshold), or two strategies of one run (A B --by page)', async () => (await import('./compare.js')).compareCommand],
  ['gate', 'run the gate matrix (baseline/gate.json) and compare it with the committed baseline; exit 1 on a regression', async () => (await import('./gate.js')).gateCommand],
  ['export <dir>', 'write a results directory\'s figures for Bencher (BMF JSON) or github-action-benchmark', async () => (await import('./export.js')).exportCommand],
  ['convert <in>', 'convert a trace (mtrace, csv, rep, perf/ftrace text, .abt, .gz) to native CSV or the compiled binary format', async () => (await import('./convert.js')).convertCommand],
  ['fraginfo', 'print buddyinfo, pagetypeinfo and the extfrag indices (of a run\'s end state, or of real /proc files)', async () => (await import('./fraginfo.js')).fraginfoCommand],
  ['slabinfo', 'print /proc/slabinfo 2.1: an idle machine\'s cache geometry, or a run\'s end state', async () => (await import('./slabinfo.js')).slabinfoCommand],
  ['gen <generator>', 'write a synthetic trace', async () => (await import('./gen.js')).genCommand],
  ['merge <dirs..>', 'join the results of shards into one results directory', async () => (await import('./merge.js')).mergeCommand],
  ['micro', 'tinybench micro-benchmarks of each strategy\'s alloc/free on a warm machine (wall clock)', async () => (await import('./micro.js')).microCommand],
  ['record [cmd..]', 'run a program with an allocation recorder preloaded and write its trace (see docs/recording.md)', async () => (await import('./record.js')).recordCommand],
  ['list', 'list bundled traces, generators, strategies and machines', async () => (await import('./list.js')).listCommand],
  ['fidelity <dirs..>', 'score replays of kernel recordings against the real after-state, beside two naive predictors, and check the targets of fidelity-targets.json (docs/fidelity.md)', async () => (await import('./fidelity.js')).fidelityCommand],
];

export function cli(argv: string[]): Argv {
  let y = yargs(argv)
    .scriptName('allocbench')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .option('debug', { type: 'boolean', global: true, hidden: true, describe: 'print the stack of an internal error' });
  for (const [usage, describe, load] of COMMANDS) {
    // yargs awaits a builder's promise (yargs 17+ lib/command.js), so the module loads only when the command is chosen
    y = y.command(usage, describe,
      async (c: Argv) => ((await load()).builder as ((c: Argv) => Argv) | undefined)?.(c) ?? c,
      async (a) => { await (await load()).handler(a); });
  }
  return y
    // an option given twice (`--out a --out b`) is an array yargs hands on silently: refuse it unless the option is a list
    .middleware((argv) => {
      const lists = new Set((y as unknown as { getOptions(): { array: string[] } }).getOptions().array);
      for (const [k, v] of Object.entries(argv)) {
        if (k !== '_' && Array.isArray(v) && !lists.has(k)) throw new AllocbenchError(`--${k} given ${v.length} times: give it once`);
      }
    })
    .fail((msg, err) => {
      // yargs rethrows an option's coerce error as a YError: its message is the user-facing one
      if (err && err.name !== 'YError') throw err;
      throw new AllocbenchError(err?.message ?? msg);
    })
    .help();
}

export async function main(argv: string[]): Promise<void> {
  try {
    await cli(argv).parseAsync();
  } catch (e) {
    process.exitCode = reportError(e, debug);
  }
}

// The one top-level handler (errors.ts reportError): every error is one line and an exit code; --debug
// (anywhere on the line) adds the stack. An error outside the command's promise (an event
// handler, a stream) goes the same way.
const debug = process.argv.includes('--debug');
const fatal = (e: unknown): void => { process.exitCode = reportError(e, debug); process.exit(); };
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// `allocbench list | head`: a closed pipe ends the output, not the program with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  fatal(e);
});
await main(hideBin(process.argv));
