import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { cellKey, type CellResult, type CellSpec } from './cell.js';
import { ioError, writeFileAtomic } from './output.js';
import { RUN_FILE } from './sink.js';

/**
 * run.json: what a results folder holds (the matrix, the shard, the options that change results).
 * `--resume` and `merge` read it back to refuse mixing results of different matrices.
 */
export interface RunInfo {
  version: string;
  axes: { traces: string[]; machines: string[]; pages: string[]; objects: string[]; seeds: number[] };
  check: boolean;
  sample_every: number | null;
  shard: { k: number; n: number } | null;
  cells: number;
  [more: string]: unknown;
}

/** The fields that decide which cells a folder holds and what their results mean. */
function matrixOf(info: Partial<RunInfo>): string {
  return JSON.stringify([info.axes ?? null, info.check ?? null, info.sample_every ?? null, info.shard ?? null]);
}

export function readRunInfo(dir: string): RunInfo {
  const file = join(dir, RUN_FILE);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw e instanceof SyntaxError ? new AllocbenchError(`${file}: not valid JSON (${e.message})`) : ioError(e, 'read', file);
  }
  const o = v as Partial<RunInfo> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o) || typeof o.axes !== 'object' || o.axes === null || typeof o.version !== 'string') {
    throw new AllocbenchError(`${file}: not an allocbench run.json (needs version and axes)`);
  }
  return o as RunInfo;
}

export function writeRunInfo(dir: string, info: RunInfo): void {
  writeFileAtomic(join(dir, RUN_FILE), JSON.stringify(info, null, 2) + '\n');
}

/**
 * --resume into `dir`: its run.json (when there is one) must describe the same matrix, shard and
 * options. Called before anything in the folder is written.
 */
export function checkResumeInfo(dir: string, info: RunInfo): void {
  if (!existsSync(join(dir, RUN_FILE))) return;
  const old = readRunInfo(dir);
  if (matrixOf(old) !== matrixOf(info)) {
    throw new AllocbenchError(`--resume: ${dir} holds a run of a different matrix (run.json: ${describe(old)}; now: ${describe(info)}); use another --out or drop --resume`);
  }
}

/** --resume: every result already in the folder must be a cell of this run (a folder without run.json is checked this way only). */
export function checkResumeCells(dir: string, results: CellResult[], cells: CellSpec[]): void {
  const keys = new Set(cells.map(cellKey));
  const stray = results.find((r) => !keys.has(cellKey(r.cell)));
  if (stray) throw new AllocbenchError(`--resume: ${dir} holds cell ${cellKey(stray.cell)}, which this run's matrix does not have; use another --out or drop --resume`);
}

function describe(i: Partial<RunInfo>): string {
  const a = i.axes;
  const n = (x: unknown[] | undefined): number => x?.length ?? 0;
  return `${n(a?.traces)} traces x ${n(a?.machines)} machines x ${n(a?.pages)} page x ${n(a?.objects)} object strategies x ${n(a?.seeds)} seeds`
    + `${i.shard ? `, shard ${i.shard.k}/${i.shard.n}` : ''}${i.check ? ', --check' : ''}${i.sample_every != null ? `, --sample-every ${i.sample_every}` : ''}`;
}
