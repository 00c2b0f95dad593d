import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { compareRuns, formatJson, formatMarkdown, formatText, type CompareReport } from '../report/compare.js';
import { loadResults } from '../report/load-results.js';
import { loadThresholds } from '../report/thresholds.js';
import { AXES, compareWithin, formatWithinMarkdown, formatWithinText, type Axis } from '../report/compare-within.js';

interface CompareArgs {
  base: string; current: string; thresholds?: string; format: 'text' | 'md' | 'json'; allowMissing: boolean;
  by?: Axis; run: string; metric?: string[];
}

/** Loads both directories and the thresholds and compares them; unreadable input throws AllocbenchError (exit 2). */
export function runCompare(base: string, current: string, opts: { thresholds?: string; allowMissing?: boolean } = {}): CompareReport {
  const thresholds = loadThresholds(opts.thresholds);
  return compareRuns(loadResults(base), loadResults(current), thresholds, { allowMissing: opts.allowMissing ?? false });
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <base> <current>',
  describe: 'compare two results directories; exit 1 when a deterministic metric worsens beyond its threshold',
  builder: (y: Argv) => y
    .positional('base', { type: 'string', demandOption: true, describe: 'baseline results directory (with --by: strategy A)' })
    .positional('current', { type: 'string', demandOption: true, describe: 'current results directory (with --by: strategy B)' })
    .option('by', { choices: AXES, describe: 'compare two values of this axis within one run (--run): "A is 1.8 ± 0.1 times better than B on ..."' })
    .option('run', { type: 'string', default: 'results/latest', describe: 'with --by: the results directory' })
    .option('metric', { type: 'string', array: true, describe: 'with --by: only these metrics (paths of the thresholds file, or their expansions)' })
    .option('thresholds', { type: 'string', describe: 'thresholds JSON (default: compare-thresholds.json of the package)' })
    .option('format', { choices: ['text', 'md', 'json'] as const, default: 'text' as const, describe: 'console table, markdown (PR comment) or JSON' })
    .option('allow-missing', { type: 'boolean', default: false, describe: 'a cell that was ok in base and is absent now does not gate' }) as unknown as Argv<CompareArgs>,
  handler: (a: ArgumentsCamelCase<CompareArgs>) => {
    if (a.by) {
      const w = compareWithin(loadResults(a.run), a.by, a.base, a.current, loadThresholds(a.thresholds), a.metric ?? []);
      process.stdout.write(a.format === 'md' ? formatWithinMarkdown(w) : a.format === 'json' ? JSON.stringify(w, null, 2) + '\n' : formatWithinText(w));
      return;
    }
    const r = runCompare(a.base, a.current, { thresholds: a.thresholds, allowMissing: a.allowMissing });
    const f = a.format === 'md' ? formatMarkdown : a.format === 'json' ? formatJson : formatText;
    process.stdout.write(f(r));
    process.exitCode = r.ok ? 0 : 1;
  },
};
