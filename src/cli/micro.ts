import type { Argv, CommandModule } from 'yargs';
import { microBenchmarks } from '../run/micro.js';
import { out } from './output.js';
import { intOption } from './validate.js';
import { formatTable } from './table.js';

interface MicroArgs { json: boolean; time: number }

/** `allocbench micro`: tinybench micro-benchmarks of each strategy's alloc/free on a warm machine. */
export const microCommand: CommandModule<object, MicroArgs> = {
  builder: (y: Argv) => y
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' })
    .option('time', { type: 'string', default: '300', coerce: intOption('--time', 1, 3_600_000), describe: 'milliseconds per benchmark, 1 to 3600000' }) as unknown as Argv<MicroArgs>,
  handler: async (a) => {
    const results = await microBenchmarks(a.time);
    out(a.json ? JSON.stringify(results, null, 2) : formatTable(
      ['layer', 'strategy', 'operation', 'ns/pair', 'pairs/s', '±%'],
      results.map((r) => [r.layer, r.strategy, r.what, r.ns_per_pair, r.pairs_per_sec, r.rme_percent]),
    ));
  },
};
