import { dirname, relative } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatJson, formatMarkdown, formatText } from '../report/compare.js';
import { loadGateMatrix, runGateMatrix } from '../run/gate-matrix.js';
import { runCompare } from './compare.js';
import { exportOptions, writeExports } from './export.js';
import { Progress, progressMode } from './progress.js';

interface GateArgs {
  matrix?: string; baseline?: string; out: string; update: boolean; thresholds?: string;
  format: 'text' | 'md' | 'json'; workers: number; quiet: boolean;
}

export const gateCommand: CommandModule<object, GateArgs> = {
  builder: (y: Argv) => exportOptions(y)
    .option('matrix', { type: 'string', describe: 'gate matrix JSON (default: baseline/gate.json of the package)' })
    .option('baseline', { type: 'string', describe: 'baseline results directory (default: the matrix file\'s directory)' })
    .option('out', { type: 'string', default: 'results/gate', describe: 'where this run\'s results go' })
    .option('update', { type: 'boolean', default: false, describe: 'write the run into the baseline directory instead of comparing (after an intended change)' })
    .option('thresholds', { type: 'string', describe: 'thresholds JSON (default: compare-thresholds.json of the package)' })
    .option('format', { choices: ['text', 'md', 'json'] as const, default: 'text' as const, describe: 'console table, markdown (PR comment) or JSON' })
    // In this thread by default: the gate matrix replays in ~2 s of CPU, less than starting worker
    // threads (each loads the simulator again) costs; results are identical for any worker count.
    .option('workers', { type: 'number', default: 0, describe: 'worker threads (0 = run the cells in this thread)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress, only the comparison and errors' }) as unknown as Argv<GateArgs>,
  handler: async (a: ArgumentsCamelCase<GateArgs>) => {
    const m = loadGateMatrix(a.matrix);
    const base = a.baseline ?? (relative(process.cwd(), dirname(m.file)) || '.');
    const out = a.update ? base : a.out;
    const progress = new Progress(progressMode(a.quiet));
    const { results, failed } = await runGateMatrix(m, out, { workers: a.workers, onCell: (r, d, t) => progress.cell(r, d, t) });
    writeExports(a, results, a.thresholds);
    if (a.update) {
      process.stdout.write(`${base}: ${results.length} cells of ${relative(process.cwd(), m.file)} (${failed} failed); review the change with git diff ${base}\n`);
      process.exitCode = failed > 0 ? 1 : 0;
      return;
    }
    const r = runCompare(base, out, { thresholds: a.thresholds });
    const f = a.format === 'md' ? formatMarkdown : a.format === 'json' ? formatJson : formatText;
    process.stdout.write(f(r));
    process.exitCode = r.ok ? 0 : 1;
  },
};
