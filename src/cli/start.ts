import type { CommandModule } from 'yargs';
import { runMatrix } from '../run/runner.js';
import { out } from './output.js';
import { Progress, progressMode } from './progress.js';
import { writeReport } from './report.js';
import { runPlan, runSummary } from './run.js';

/** `allocbench start` (`npm start`): every experiment of experiments/, its findings and the HTML report. */
export const startCommand: CommandModule = {
  handler: async () => {
    const { options: o, experiments } = runPlan({}, 'results/latest');
    const progress = new Progress(progressMode(false));
    o.onCell = (r, d, t) => progress.cell(r, d, t);
    const { results, failed, groups } = await runMatrix(o);
    out(`\n${runSummary(results, experiments, groups ?? [])}\n\nresults: results/latest/results.jsonl, results/latest/summary.csv (every cell)`);
    const html = await writeReport('results/latest', 'reports/latest.html');
    out(`report:  ${html}`);
    process.exitCode = failed > 0 ? 1 : 0;
  },
};
