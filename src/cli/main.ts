import { readFileSync, writeFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AllocbenchError } from '../errors.js';
import { loadMachine, presetNames } from '../machine/memory-map.js';
import { formatBuddyinfo, formatExtfragIndex, formatPagetypeinfo, formatUnusableIndex, parseBuddyinfo, parsePagetypeinfo } from '../metrics/procfs.js';
import type { ZoneFreeState } from '../machine/machine.js';
import { OBJECT_STRATEGIES } from '../object/registry.js';
import { Progress, progressMode } from './progress.js';
import { formatSlabinfo, idleCacheGeometry } from '../object/slabinfo.js';
import { PAGE_STRATEGIES } from '../page/registry.js';
import { runCell, type CellOptions } from '../run/cell.js';
import { runMatrix } from '../run/runner.js';
import { mergeRuns } from '../run/merge.js';
import { microBenchmarks } from '../run/micro.js';
import { formatTable } from './table.js';
import { compareCommand } from './compare.js';
import { convertCommand } from './convert.js';
import { reportCommand, writeReport } from './report.js';
import { bundledTraces } from '../trace/bundled.js';
import { GENERATORS, parseGenSpec } from '../trace/generators/index.js';
import { loadTrace } from '../trace/load.js';
import { writeCsv } from '../trace/csv-writer.js';
import { generateFromSpec, RECORDED } from '../run/runner.js';
import { recordedMachine } from '../machine/recorded-machine.js';
import { matrixOptions, runOptionsFrom, summaryTable, type MatrixArgs } from './run.js';

const out = (s: string): void => { process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };

/** Runs one cell of the matrix described by the options and hands the end state to `inspect`. */
function inspectOneCell(a: MatrixArgs, inspect: NonNullable<CellOptions['inspect']>): void {
  const o = runOptionsFrom(a, '');
  const trace = o.gens.length ? generateFromSpec(o.gens[0]!, o.seeds[0]!) : loadTrace(o.traces[0] ?? '');
  const cell = { trace: trace.name, machine: o.machines[0]!, page: o.pages[0]!, object: o.objects[0]!, seed: o.seeds[0]! };
  const rec = cell.machine === RECORDED ? recordedMachine(o.traces[0] ?? '', trace.name) : undefined;
  runCell(cell, trace, rec?.config ?? loadMachine(cell.machine === RECORDED ? 'desktop' : cell.machine), { check: o.check, inspect });
}

function fraginfoText(zones: ZoneFreeState[], withPagetype: boolean): string {
  const parts = [
    '/proc/buddyinfo', formatBuddyinfo(zones),
    ...(withPagetype ? ['/proc/pagetypeinfo', formatPagetypeinfo(zones)] : []),
    '/sys/kernel/debug/extfrag/unusable_index', formatUnusableIndex(zones),
    '/sys/kernel/debug/extfrag/extfrag_index', formatExtfragIndex(zones),
  ];
  // each file exactly as the kernel prints it (trailing spaces included), under a heading line
  return parts.map((p, i) => (i % 2 === 0 ? `== ${p} ==\n` : p)).join('');
}

export function cli(argv: string[]): Argv {
  return yargs(argv)
    .scriptName('allocbench')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .command('run', 'replay traces through the strategy matrix and write results', (y) =>
      matrixOptions(y)
        .option('out', { type: 'string', default: 'results/latest', describe: 'output directory' })
        .option('resume', { type: 'boolean', default: false, describe: 'skip cells already in OUT/results.jsonl' })
        .option('quiet', { type: 'boolean', default: false, describe: 'print only errors' }),
    async (a) => {
      const o = runOptionsFrom(a, a.out, a.resume);
      const progress = new Progress(progressMode(a.quiet));
      o.onCell = (r, d, t) => progress.cell(r, d, t);
      const { results, failed } = await runMatrix(o);
      if (!a.quiet) out(`\n${summaryTable(results)}\n\nresults: ${a.out}/results.jsonl, ${a.out}/summary.csv`);
      process.exitCode = failed > 0 ? 1 : 0;
    })
    .command('start', 'the main job: every bundled trace through every strategy, a summary and the HTML report', (y) => y, async () => {
      const o = runOptionsFrom({ seed: ['1'] }, 'results/latest');
      const progress = new Progress(progressMode(false));
      o.onCell = (r, d, t) => progress.cell(r, d, t);
      const { results, failed } = await runMatrix(o);
      out(`\n${summaryTable(results)}\n\nresults: results/latest/results.jsonl, results/latest/summary.csv`);
      const html = await writeReport('results/latest', 'reports/latest.html');
      out(`report:  ${html}`);
      process.exitCode = failed > 0 ? 1 : 0;
    })
    .command(reportCommand)
    .command(compareCommand)
    .command(convertCommand)
    .command('fraginfo', 'print buddyinfo, pagetypeinfo and the extfrag indices (of a run\'s end state, or of real /proc files)', (y) =>
      matrixOptions(y)
        .option('buddyinfo', { type: 'string', describe: 'a real /proc/buddyinfo to compute the indices from' })
        .option('pagetypeinfo', { type: 'string', describe: 'a real /proc/pagetypeinfo' }),
    (a) => {
      if (a.buddyinfo || a.pagetypeinfo) {
        const file = (a.pagetypeinfo ?? a.buddyinfo)!;
        const text = readText(file);
        const zones = a.pagetypeinfo ? parsePagetypeinfo(text, file) : parseBuddyinfo(text, file);
        out(fraginfoText(zones, Boolean(a.pagetypeinfo)));
        return;
      }
      inspectOneCell(a, (m) => out(fraginfoText(m.freeState(), true)));
    })
    .command('slabinfo', 'print /proc/slabinfo 2.1: an idle machine\'s cache geometry, or a run\'s end state', (y) =>
      matrixOptions(y)
        .option('cpus', { type: 'number', describe: 'CPUs of the idle machine (SLUB min_objects)' })
        .option('caches', { type: 'string', describe: 'file of lines "name size [align]"' }),
    (a) => {
      if (a.cpus !== undefined || a.caches) {
        const caches = a.caches ? parseCacheList(readText(a.caches), a.caches) : [];
        out(formatSlabinfo(idleCacheGeometry(a.cpus ?? 2, caches)));
        return;
      }
      inspectOneCell({ ...a, object: a.object ?? ['slub'] }, (_m, o) => out(formatSlabinfo(o.caches())));
    })
    .command('gen <generator>', 'write a synthetic trace', (y) =>
      y.positional('generator', { type: 'string', demandOption: true, describe: `generator spec: ${Object.keys(GENERATORS).join(', ')} (params after a colon: name:key=val,...)` })
        .option('events', { type: 'number', describe: 'number of events (where the generator takes it)' })
        .option('seed', { type: 'number', default: 1 })
        .option('out', { type: 'string', demandOption: true, describe: 'output file (.csv)' }),
    (a) => {
      const spec = a.events !== undefined ? withParam(a.generator, 'events', String(a.events)) : a.generator;
      const trace = generateFromSpec(spec, a.seed);
      writeFileSync(a.out, writeCsv(trace));
      out(`${a.out}: ${trace.length} events`);
    })
    .command('merge <dirs..>', 'join the results of shards into one results directory', (y) =>
      y.positional('dirs', { type: 'string', array: true, demandOption: true })
        .option('out', { type: 'string', demandOption: true, describe: 'output directory' }),
    (a) => {
      const results = mergeRuns(a.dirs, a.out);
      out(`${a.out}: ${results.length} cells merged from ${a.dirs.length} directories`);
    })
    .command('micro', 'tinybench micro-benchmarks of each strategy\'s alloc/free on a warm machine (wall clock)', (y) =>
      y.option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' })
        .option('time', { type: 'number', default: 300, describe: 'milliseconds per benchmark' }),
    async (a) => {
      const results = await microBenchmarks(a.time);
      out(a.json ? JSON.stringify(results, null, 2) : formatTable(
        ['layer', 'strategy', 'operation', 'ns/pair', 'pairs/s', '±%'],
        results.map((r) => [r.layer, r.strategy, r.what, r.ns_per_pair, r.pairs_per_sec, r.rme_percent]),
      ));
    })
    .command('list', 'list bundled traces, generators, strategies and machines', (y) => y, () => {
      out(`traces:\n${bundledTraces().map((t) => `  ${t}`).join('\n')}`);
      out(`generators:\n${Object.values(GENERATORS).map((g) => `  ${g.name.padEnd(18)} ${g.description.split('\n')[0]}`).join('\n')}`);
      out(`page strategies:   ${Object.keys(PAGE_STRATEGIES).join(', ')}`);
      out(`object strategies: ${Object.keys(OBJECT_STRATEGIES).join(', ')}`);
      out(`machines:          ${presetNames().join(', ')}, mem=SIZE, or a JSON file`);
    })
    .fail((msg, err) => {
      if (err) throw err;
      throw new AllocbenchError(msg);
    })
    .help();
}

function withParam(spec: string, key: string, value: string): string {
  const { params } = parseGenSpec(spec);
  if (key in params) return spec;
  return spec.includes(':') ? `${spec},${key}=${value}` : `${spec}:${key}=${value}`;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new AllocbenchError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** `--caches FILE`: lines "name size [align]", # comments allowed. */
export function parseCacheList(text: string, file: string): { name: string; size: number; align: number }[] {
  const out: { name: string; size: number; align: number }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.replace(/#.*/, '').trim();
    if (t === '') return;
    const f = t.split(/\s+/);
    if (f.length < 2 || f.length > 3 || !f.slice(1).every((x) => /^\d+$/.test(x)) || Number(f[1]) === 0) {
      throw new AllocbenchError(`${file}:${i + 1}: expected "name size [align]", got ${JSON.stringify(line)}`);
    }
    out.push({ name: f[0]!, size: Number(f[1]), align: Number(f[2] ?? 0) });
  });
  return out;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await cli(argv).parseAsync();
  } catch (e) {
    if (e instanceof AllocbenchError) {
      process.stderr.write(`allocbench: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
}

// `allocbench list | head`: a closed pipe ends the output, not the program with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
await main(hideBin(process.argv));
