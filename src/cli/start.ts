import type { CommandModule } from 'yargs';
import { runMatrix } from '../run/runner.js';
import { out } from './output.js';
import { Progress, progressMode } from './progress.js';
import { writeReport } from './report.js';
import { runOptionsFrom, summaryTable } from './run.js';

/** `allocbench start` (`npm start`): every bundled trace through every strategy, a summary and the HTML report. */
export const startCommand: CommandModule = {
  handler: async () => {
    const o = runOptionsFrom({ seed: ['1'] }, 'results/latest');
    const progress = new Progress(progressMode(false));
    o.onCell = (r, d, t) => progress.cell(r, d, t);
    const { results, failed } = await runMatrix(o);
    out(`\n${summaryTable(results)}\n\nresults: results/latest/results.jsonl, results/latest/summary.csv`);
    const html = await writeReport('results/latest', 'reports/latest.html');
    out(`report:  ${html}`);
    process.exitCode = failed > 0 ? 1 : 0;
  },
};
