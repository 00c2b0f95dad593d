import type { Argv, CommandModule } from 'yargs';
import { mergeRuns } from '../run/merge.js';
import { out } from './output.js';

interface MergeArgs { dirs: string[]; out: string; partial: boolean }

/** `allocbench merge <dirs..>`: the results of shards joined into one results directory. */
export const mergeCommand: CommandModule<object, MergeArgs> = {
  builder: (y: Argv) => y
    .positional('dirs', { type: 'string', array: true, demandOption: true })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
    .option('partial', { type: 'boolean', default: false, describe: 'merge an incomplete set of shards (run.json records what is missing)' }) as unknown as Argv<MergeArgs>,
  handler: (a) => {
    const results = mergeRuns(a.dirs, a.out, a.partial);
    out(`${a.out}: ${results.length} cells merged from ${a.dirs.length} directories`);
  },
};
