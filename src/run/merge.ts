import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { cellKey, type CellResult } from './cell.js';
import { readRunInfo, writeRunInfo, type RunInfo } from './run-info.js';
import { readResultsFile, RESULTS_FILE, RUN_FILE, ResultSink } from './sink.js';

function readRun(dir: string): { info: RunInfo; results: CellResult[] } {
  if (!existsSync(join(dir, RUN_FILE)) || !existsSync(join(dir, RESULTS_FILE))) throw new AllocbenchError(`${dir}: not a results directory (needs ${RUN_FILE} and ${RESULTS_FILE})`);
  const info = readRunInfo(dir);
  const { results, torn } = readResultsFile(join(dir, RESULTS_FILE));
  if (torn) throw new AllocbenchError(`${join(dir, RESULTS_FILE)}: the last line is torn (an interrupted run): finish it with run --resume first`);
  return { info, results };
}

/**
 * Joins the outputs of shards (`run --shard k/n`) into one results directory, byte-identical
 * outside `wall` to a run on one machine. Refuses inputs from different versions or matrices,
 * cells present in two inputs, and an incomplete set: every shard 1..n, each with all its cells,
 * unless `partial` (then run.json records `partial` and the missing shards and cell count).
 */
export function mergeRuns(dirs: string[], out: string, partial = false): CellResult[] {
  if (dirs.length === 0) throw new AllocbenchError('merge: name at least one results directory');
  const runs = dirs.map(readRun);
  const first = runs[0]!.info;
  const seen = new Map<string, string>();
  const shards = new Set<number>();
  runs.forEach(({ info, results }, i) => {
    if (info.version !== first.version) throw new AllocbenchError(`merge: ${dirs[i]} was made by allocbench ${info.version}, ${dirs[0]} by ${first.version}`);
    if (JSON.stringify(info.axes) !== JSON.stringify(first.axes) || info.check !== first.check || (info.sample_every ?? null) !== (first.sample_every ?? null)) {
      throw new AllocbenchError(`merge: ${dirs[i]} ran a different matrix from ${dirs[0]}`);
    }
    const n = info.shard?.n ?? 1;
    if (n !== (first.shard?.n ?? 1)) throw new AllocbenchError(`merge: ${dirs[i]} is shard ${info.shard?.k ?? 1}/${n}, ${dirs[0]} one of ${first.shard?.n ?? 1}`);
    for (const r of results) {
      const k = cellKey(r.cell);
      const other = seen.get(k);
      if (other !== undefined) throw new AllocbenchError(`merge: cell ${k} is in both ${other} and ${dirs[i]}`);
      seen.set(k, dirs[i]!);
    }
    if (shards.has(info.shard?.k ?? 1)) throw new AllocbenchError(`merge: shard ${info.shard?.k ?? 1}/${n} given twice (${dirs[i]})`);
    shards.add(info.shard?.k ?? 1);
  });
  // complete: every shard 1..n given, each holding the cells its run.json says it was to run
  const n = first.shard?.n ?? 1;
  const missingShards = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !shards.has(k));
  const unfinished = runs.map(({ info, results }, i) => ({ dir: dirs[i]!, short: info.cells - new Set(results.map((r) => cellKey(r.cell))).size })).filter((u) => u.short > 0);
  const complete = missingShards.length === 0 && unfinished.length === 0;
  if (!complete && !partial) {
    const what = missingShards.length > 0 ? `shard(s) ${missingShards.join(', ')} of ${n} missing` : `${unfinished.map((u) => `${u.dir} lacks ${u.short} of its cells`).join(', ')} (finish with run --resume)`;
    throw new AllocbenchError(`merge: incomplete: ${what}; give every finished shard, or --partial to merge what there is`);
  }
  const sink = new ResultSink(out);
  for (const { results } of runs) for (const r of results) sink.add(r);
  const merged = sink.finish();
  writeRunInfo(out, {
    ...first, shard: null, merged_from: dirs, cells: seen.size,
    ...(complete ? {} : { partial: true, missing_shards: missingShards, unfinished_shards: unfinished.map((u) => u.dir) }),
  });
  return merged;
}
