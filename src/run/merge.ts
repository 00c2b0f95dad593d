import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { cellKey, type CellResult } from './cell.js';
import { RESULTS_FILE, RUN_FILE, ResultSink } from './sink.js';

interface RunInfo {
  version: string;
  axes: unknown;
  check: boolean;
  shard: { k: number; n: number } | null;
}

function readRun(dir: string): { info: RunInfo; results: CellResult[] } {
  const runFile = join(dir, RUN_FILE);
  const resFile = join(dir, RESULTS_FILE);
  if (!existsSync(runFile) || !existsSync(resFile)) throw new AllocbenchError(`${dir}: not a results directory (needs ${RUN_FILE} and ${RESULTS_FILE})`);
  const info = JSON.parse(readFileSync(runFile, 'utf8')) as RunInfo;
  const results = readFileSync(resFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try { return JSON.parse(l) as CellResult; } catch { throw new AllocbenchError(`${resFile}:${i + 1}: not a JSON result line`); }
  });
  return { info, results };
}

/**
 * Joins the outputs of shards (`run --shard k/n`) into one results directory, byte-identical
 * outside `wall` to a run on one machine. Refuses inputs from different versions or matrices,
 * and cells present in two inputs.
 */
export function mergeRuns(dirs: string[], out: string): CellResult[] {
  if (dirs.length === 0) throw new AllocbenchError('merge: name at least one results directory');
  const runs = dirs.map(readRun);
  const first = runs[0]!.info;
  const seen = new Map<string, string>();
  runs.forEach(({ info, results }, i) => {
    if (info.version !== first.version) throw new AllocbenchError(`merge: ${dirs[i]} was made by allocbench ${info.version}, ${dirs[0]} by ${first.version}`);
    if (JSON.stringify(info.axes) !== JSON.stringify(first.axes) || info.check !== first.check) {
      throw new AllocbenchError(`merge: ${dirs[i]} ran a different matrix from ${dirs[0]}`);
    }
    for (const r of results) {
      const k = cellKey(r.cell);
      const other = seen.get(k);
      if (other !== undefined) throw new AllocbenchError(`merge: cell ${k} is in both ${other} and ${dirs[i]}`);
      seen.set(k, dirs[i]!);
    }
  });
  mkdirSync(out, { recursive: true });
  const sink = new ResultSink(out);
  for (const { results } of runs) for (const r of results) sink.add(r);
  const runJson = JSON.parse(readFileSync(join(dirs[0]!, RUN_FILE), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, RUN_FILE), JSON.stringify({ ...runJson, shard: null, merged_from: dirs, cells: seen.size }, null, 2) + '\n');
  return sink.finish();
}
