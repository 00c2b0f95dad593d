import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';
import { COLUMNS, column } from './columns.js';
import type { MatrixGroup } from './matrix.js';

/**
 * An experiment: one question, the cells that bear on it, and the figures that answer it. A data
 * file experiments/NAME.json (see docs/experiments.md):
 *
 *   { "name": "page-layer", "question": "Which page strategy ...?",
 *     "matrices": [ { "gen": ["highalloc-stress:mem=200M"], "machine": ["small"],
 *                     "page": ["buddy", "buddy-mobility"], "object": ["slub"], "seeds": 5 },
 *                   { "trace": ["traces/kernel/fork-fragment/fork-fragment.ftrace.gz"], ... } ],
 *     "headline": [ { "metric": "order9_at_rest_pct", "better": "higher", "label": "order-9 requests served at rest" } ] }
 *
 * Optional: "order" (experiments run and print lowest first), "notes" (free text).
 * `trace` paths are relative to the repository; a matrix without `machine` runs each recording on
 * its own machine (matrix.ts recordingMachine). `seeds` is a count (seeds 1..N) or a list; default 5;
 * recordings are one sample whatever it says. `page`/`object` default to every strategy. A headline
 * metric is a summary.csv column name.
 */
export interface Headline {
  metric: string;
  better: 'higher' | 'lower';
  label: string;
}

export interface Experiment {
  name: string;
  question: string;
  /** experiments run and print lowest first (default 100), then by name */
  order: number;
  file: string;
  matrices: MatrixGroup[];
  headline: Headline[];
}

/** What run.json keeps of an experiment (the report and the findings read it back). */
export interface ExperimentInfo {
  name: string;
  question: string;
  headline: Headline[];
}

export const EXPERIMENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../experiments');
const REPO = dirname(EXPERIMENT_DIR);

/** Generated workloads run with this many seeds unless the file says otherwise (issue 16: ≥ 5). */
export const DEFAULT_SEEDS = 5;

/** The experiments shipped in experiments/, by file name. */
export function experimentNames(dir = EXPERIMENT_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** A name from experiments/ or a path to a file of the same form. */
export function loadExperiment(nameOrFile: string, dir = EXPERIMENT_DIR): Experiment {
  const file = nameOrFile.endsWith('.json') ? nameOrFile : join(dir, `${nameOrFile}.json`);
  if (!existsSync(file)) {
    throw new AllocbenchError(`--experiment ${nameOrFile}: no such experiment (known: ${experimentNames(dir).join(', ') || 'none'}; or give a .json file)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AllocbenchError(`${file}: not JSON (${(e as Error).message})`);
  }
  // paths inside the repository's own files are relative to it; a user's file's to the file
  return parseExperiment(data, file, file.startsWith(dir) ? REPO : dirname(resolve(file)));
}

/** Every experiment in the folder, in file-name order. */
export function loadAllExperiments(dir = EXPERIMENT_DIR): Experiment[] {
  return experimentNames(dir).map((n) => loadExperiment(n, dir)).sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : 1));
}

type Obj = Record<string, unknown>;

function strings(v: unknown, where: string, file: string): string[] | undefined {
  if (v === undefined) return undefined;
  const arr = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'string' && x.trim() !== '')) {
    throw new AllocbenchError(`${file}: ${where}: expected a list of non-empty strings`);
  }
  return arr as string[];
}

function seedsOf(v: unknown, where: string, file: string): number[] {
  if (v === undefined) return Array.from({ length: DEFAULT_SEEDS }, (_, i) => i + 1);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1000) return Array.from({ length: v }, (_, i) => i + 1);
  if (Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0)) return v as number[];
  throw new AllocbenchError(`${file}: ${where}.seeds: expected a count (1-1000) or a list of non-negative integers`);
}

function only(o: Obj, keys: string[], where: string, file: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new AllocbenchError(`${file}: ${where}: unknown key "${k}" (expected ${keys.join(', ')})`);
}

/** Checks the shape and turns it into matrices; strategy and generator names are checked by the runner. */
export function parseExperiment(data: unknown, file: string, base = REPO): Experiment {
  const o = data as Obj;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new AllocbenchError(`${file}: expected a JSON object`);
  only(o, ['name', 'question', 'order', 'matrices', 'headline', 'notes'], 'top level', file);
  if (o.order !== undefined && typeof o.order !== 'number') throw new AllocbenchError(`${file}: order: expected a number (experiments run and print lowest first)`);
  const name = o.name ?? basename(file, '.json');
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) throw new AllocbenchError(`${file}: name: expected letters, digits, . _ -`);
  if (typeof o.question !== 'string' || o.question.trim() === '') throw new AllocbenchError(`${file}: question: expected the question the experiment answers`);
  if (!Array.isArray(o.matrices) || o.matrices.length === 0) throw new AllocbenchError(`${file}: matrices: expected a non-empty list`);
  const matrices = o.matrices.map((m: unknown, i: number): MatrixGroup => {
    const where = `matrices[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new AllocbenchError(`${file}: ${where}: expected an object`);
    const mo = m as Obj;
    only(mo, ['trace', 'gen', 'machine', 'page', 'object', 'seeds'], where, file);
    const traces = (strings(mo.trace, `${where}.trace`, file) ?? []).map((t) => {
      const abs = isAbsolute(t) ? t : resolve(base, t);
      if (!existsSync(abs)) throw new AllocbenchError(`${file}: ${where}.trace: ${t}: no such file`);
      return relative(process.cwd(), abs) || abs;
    });
    const gens = strings(mo.gen, `${where}.gen`, file) ?? [];
    if (traces.length + gens.length === 0) throw new AllocbenchError(`${file}: ${where}: needs "trace" or "gen"`);
    const machines = strings(mo.machine, `${where}.machine`, file) ?? [];
    if (gens.length > 0 && machines.length === 0) throw new AllocbenchError(`${file}: ${where}: a generated workload needs "machine" (only a recording has its own)`);
    return {
      tag: name,
      traces, gens, machines,
      pages: strings(mo.page, `${where}.page`, file) ?? [],
      objects: strings(mo.object, `${where}.object`, file) ?? [],
      seeds: seedsOf(mo.seeds, where, file),
    };
  });
  if (!Array.isArray(o.headline) || o.headline.length === 0) throw new AllocbenchError(`${file}: headline: expected a non-empty list of {metric, better, label}`);
  const headline = o.headline.map((h: unknown, i: number): Headline => {
    const ho = h as Obj;
    const where = `headline[${i}]`;
    if (typeof ho !== 'object' || ho === null) throw new AllocbenchError(`${file}: ${where}: expected {metric, better, label}`);
    only(ho, ['metric', 'better', 'label'], where, file);
    const c = typeof ho.metric === 'string' ? column(ho.metric) : undefined;
    if (!c || ['trace', 'machine', 'page', 'object', 'seed', 'status'].includes(c.name)) {
      throw new AllocbenchError(`${file}: ${where}.metric: ${JSON.stringify(ho.metric)} is not a summary column (one of ${COLUMNS.slice(6).map((x) => x.name).join(', ')})`);
    }
    if (ho.better !== 'higher' && ho.better !== 'lower') throw new AllocbenchError(`${file}: ${where}.better: expected "higher" or "lower"`);
    if (typeof ho.label !== 'string' || ho.label.trim() === '') throw new AllocbenchError(`${file}: ${where}.label: expected a short description`);
    return { metric: c.name, better: ho.better, label: ho.label };
  });
  return { name, question: o.question, order: (o.order as number | undefined) ?? 100, file, matrices, headline };
}

/**
 * The matrices of the chosen experiments, with the command line's strategy lists (when given) as
 * filters and its seeds (when given) in place of the files'.
 */
export function experimentGroups(
  experiments: Experiment[],
  all: { pages: string[]; objects: string[] },
  narrow: { pages?: string[]; objects?: string[]; seeds?: number[] } = {},
): MatrixGroup[] {
  const pick = (from: string[], allOf: string[], keep?: string[]): string[] => {
    const list = from.length ? from : allOf;
    return keep?.length ? list.filter((x) => keep.includes(x)) : list;
  };
  return experiments.flatMap((e) => e.matrices.map((m) => ({
    ...m,
    pages: pick(m.pages, all.pages, narrow.pages),
    objects: pick(m.objects, all.objects, narrow.objects),
    seeds: narrow.seeds?.length ? narrow.seeds : m.seeds,
  }))).filter((g) => g.pages.length > 0 && g.objects.length > 0);
}

export function experimentInfo(e: Experiment): ExperimentInfo {
  return { name: e.name, question: e.question, headline: e.headline };
}
