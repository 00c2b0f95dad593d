import type { Argv, CommandModule } from 'yargs';
import { defaultWorkers, dropEarlyThreads, startThreadsEarly } from '../run/threads.js';
import { intOption, maxWorkers, WORKERS_PER_CORE } from './validate.js';

interface StartArgs { workers?: number }

/**
 * `allocbench start` (`npm start`): every experiment of experiments/, its findings and the HTML report.
 * The worker threads start first and load their code while this thread loads the run's (the
 * imports below are dynamic for that reason: a static one would load before the threads start).
 */
export const startCommand: CommandModule<object, StartArgs> = {
  builder: (y: Argv) => y
    .option('workers', { type: 'string', coerce: intOption('--workers', 0, maxWorkers), describe: `worker threads, 0 to ${WORKERS_PER_CORE} per core (default: available parallelism; 0 = run in the main thread)` }) as unknown as Argv<StartArgs>,
  handler: async (a) => {
    const workers = a.workers ?? defaultWorkers();
    startThreadsEarly(workers);
    try {
      const [{ runMatrix }, { out }, { Progress, progressMode }, { writeReport }, { runPlan, runSummary }] = await Promise.all([
        import('../run/runner.js'), import('./output.js'), import('./progress.js'), import('./report.js'), import('./run.js'),
      ]);
      const { options: o, experiments } = runPlan({ workers }, 'results/latest');
      const progress = new Progress(progressMode(false));
      o.onCell = (r, d, t, w) => progress.cell(r, d, t, w);
      const { results, failed, groups } = await runMatrix(o);
      out(`\n${runSummary(results, experiments, groups ?? [])}\n\nresults: results/latest/results.jsonl, results/latest/summary.csv (every cell)`);
      const html = await writeReport('results/latest', 'reports/latest.html');
      out(`report:  ${html}`);
      process.exitCode = failed > 0 ? 1 : 0;
    } finally {
      await dropEarlyThreads();
    }
  },
};
