import { writeFileSync } from 'node:fs';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { AllocbenchError } from '../errors.js';
import { collectFigures } from '../report/export/exporter.js';
import { EXPORTERS } from '../report/export/index.js';
import { loadResults } from '../report/load-results.js';
import { loadThresholds } from '../report/thresholds.js';
import type { CellResult } from '../run/cell.js';

/** The --export-* options (one per exporter, FILE or - for stdout) that `export` and `gate` take. */
export function exportOptions<T>(y: Argv<T>): Argv<T> {
  let out = y;
  for (const e of EXPORTERS) out = out.option(e.option, { type: 'string', describe: `${e.describe} to FILE (--${e.option}=- : to stdout)` }) as Argv<T>;
  return out;
}

/** Writes every export the arguments ask for; returns how many. */
export function writeExports(a: Record<string, unknown>, results: CellResult[], thresholdsFile?: string): number {
  const chosen = EXPORTERS.filter((e) => typeof a[e.option] === 'string' && a[e.option] !== '');
  if (chosen.length === 0) return 0;
  const figures = collectFigures(results, loadThresholds(thresholdsFile).metrics);
  for (const e of chosen) {
    const file = a[e.option] as string;
    const text = e.serialize(figures);
    if (file === '-') process.stdout.write(text);
    else {
      try {
        writeFileSync(file, text);
      } catch (err) {
        throw new AllocbenchError(`--${e.option} ${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
  }
  return chosen.length;
}

interface ExportArgs { dir: string; thresholds?: string }

export const exportCommand: CommandModule<object, ExportArgs> = {
  builder: (y: Argv) => exportOptions(y
    .positional('dir', { type: 'string', demandOption: true, describe: 'results directory' })
    .option('thresholds', { type: 'string', describe: 'thresholds JSON naming the exported metrics and their direction (default: compare-thresholds.json)' })) as unknown as Argv<ExportArgs>,
  handler: (a: ArgumentsCamelCase<ExportArgs>) => {
    const n = writeExports(a, loadResults(a.dir).results, a.thresholds);
    if (n === 0) throw new AllocbenchError(`export: name at least one of ${EXPORTERS.map((e) => `--${e.option} FILE`).join(', ')}`);
  },
};
