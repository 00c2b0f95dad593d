import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { renderHtml } from '../report/html.js';
import { loadResults } from '../report/load-results.js';
import { buildSpecs } from '../report/specs.js';

interface ReportArgs { dir: string; out?: string; svg?: string }

/** Writes the HTML report (and optionally one SVG per chart); returns the report's path. */
export async function writeReport(dir: string, out?: string, svgDir?: string, log: (s: string) => void = () => {}): Promise<string> {
  const run = loadResults(dir);
  const charts = buildSpecs(run.results);
  const file = out ?? `reports/${basename(resolve(dir))}.html`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderHtml(run, charts));
  if (svgDir) {
    // vega renders only for --svg: loading it costs `start` and `report` ~0.3 s of start-up otherwise
    const { writeSvgs } = await import('../report/svg.js');
    for (const s of await writeSvgs(charts, svgDir)) log(`${s.file}: ${s.marks} marks`);
  }
  return file;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dir>',
  describe: 'turn a results directory into one self-contained HTML report (works offline)',
  builder: (y: Argv) => y
    .positional('dir', { type: 'string', demandOption: true, describe: 'results directory written by run' })
    .option('out', { type: 'string', describe: 'output HTML file (default: reports/<dir basename>.html)' })
    .option('svg', { type: 'string', describe: 'also render every chart to SVG in this directory' }) as unknown as Argv<ReportArgs>,
  handler: async (a: ArgumentsCamelCase<ReportArgs>) => {
    const file = await writeReport(a.dir, a.out, a.svg, (s) => process.stdout.write(`${s}\n`));
    process.stdout.write(`${file}\n`);
  },
};
