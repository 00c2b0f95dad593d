import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Argv, CommandModule } from 'yargs';
import { AllocbenchError } from '../errors.js';
import { writeBinaryFile } from '../trace/binary.js';
import { writeCsv } from '../trace/csv-writer.js';
import { formatByExtension, loadTrace } from '../trace/load.js';
import { DEFAULT_LAYERS, KERNEL_LAYERS, type KernelLayers } from '../trace/attribution.js';
import type { Trace } from '../trace/trace.js';

export type ConvertTarget = 'csv' | 'bin';

interface ConvertArgs {
  in: string;
  to?: string;
  out: string;
  layers?: string;
}

/** The target a file name implies (`.csv[.gz]` → csv, `.abt[.gz]` → bin), if any. */
function targetOfName(out: string): ConvertTarget | undefined {
  const lower = out.toLowerCase().replace(/\.gz$/, '');
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.abt')) return 'bin';
  return undefined;
}

/**
 * Writes `t` to `out` as native CSV or as the compiled binary format; gzipped when `out` ends in
 * .gz.
 */
export function writeTraceAs(t: Trace, to: ConvertTarget, out: string): void {
  if (to === 'bin') {
    writeBinaryFile(out, t);
    return;
  }
  const text = writeCsv(t);
  try {
    writeFileSync(out, /\.gz$/i.test(out) ? gzipSync(text, { level: 9 }) : text);
  } catch (e) {
    throw new AllocbenchError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * `allocbench convert IN --to csv|bin --out FILE [--layers all|pages|objects]`: any loadable trace
 * (mtrace, csv, rep, kernel text, .abt, each optionally .gz) to native CSV or the compiled binary
 * format; a kernel recording is written as a layer view (--layers, attribution.ts; default all). --to may be left
 * out when --out ends in .csv or .abt (optionally .gz); an --out whose extension names another
 * trace format is refused, since the loader would pick that format by its extension.
 */
export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <in>',
  describe: 'convert a trace (mtrace, csv, rep, perf/ftrace text, .abt, .gz) to native CSV or the compiled binary format',
  builder: (y: Argv) =>
    y.positional('in', { type: 'string', demandOption: true, describe: 'input trace' })
      .option('to', { type: 'string', choices: ['csv', 'bin'], describe: 'output format (default: from the --out extension)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output file (.csv, .abt; add .gz to compress)' })
      .option('layers', { type: 'string', choices: [...KERNEL_LAYERS], describe: `kernel traces: the layer view to write (default ${DEFAULT_LAYERS}: every demand once; pages, objects, or none: every event); see docs/fidelity.md` }) as unknown as Argv<ConvertArgs>,
  handler: (a) => {
    const named = targetOfName(a.out);
    const to = (a.to as ConvertTarget | undefined) ?? named;
    if (to === undefined) throw new AllocbenchError(`convert: give --to csv|bin (cannot tell the format from "${a.out}")`);
    const other = formatByExtension(a.out);
    if ((named !== undefined && named !== to) || (named === undefined && other !== undefined)) {
      throw new AllocbenchError(`convert: --to ${to} but "${a.out}" has the extension of ${other?.name ?? named} traces; name it .${to === 'bin' ? 'abt' : 'csv'}[.gz]`);
    }
    // an explicit --layers is refused for other formats; the default applies to kernel text only
    const t = loadTrace(a.in, a.layers !== undefined ? { layers: a.layers as KernelLayers } : { layers: DEFAULT_LAYERS, layersIfKernel: true });
    writeTraceAs(t, to, a.out);
    process.stdout.write(`${a.out}: ${t.length} events (${to})\n`);
  },
};
