import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';
import { readJsonFile } from '../json-file.js';
import { VERSION } from '../version.js';
import { cellKey, type CellResult } from './cell.js';
import { runMatrix, type RunOutcome } from './runner.js';
import { RUN_FILE, ResultSink } from './sink.js';

/**
 * One part of the gate matrix: a cross product of workloads, machines and strategies chosen so that
 * the workloads stress the machines (a trace that touches 1% of a machine cannot tell a broken
 * allocator from a working one). `why` says which failure the part is there to catch.
 */
export interface GatePart {
  name: string;
  why: string;
  gens: string[];
  traces: string[];
  machines: string[];
  pages: string[];
  objects: string[];
  seeds: number[];
}

export interface GateMatrix {
  file: string;
  parts: GatePart[];
}

/** baseline/gate.json at the package root: the matrix the committed baseline/ and CI's bench.yml run. */
export const DEFAULT_GATE_FILE = fileURLToPath(new URL('../../baseline/gate.json', import.meta.url));

function strings(v: unknown, where: string, required: boolean): string[] {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '') || (required && v.length === 0)) {
    throw new AllocbenchError(`${where}: expected ${required ? 'a non-empty' : 'an'} array of strings`);
  }
  return v as string[];
}

/** Reads a gate matrix file: { "parts": [ { name, why, gen?, trace?, machine, page, object, seed? } ] }. */
export function loadGateMatrix(file: string = DEFAULT_GATE_FILE): GateMatrix {
  const v = readJsonFile(file, 'gate matrix');
  const list = (v as { parts?: unknown } | null)?.parts;
  if (!Array.isArray(list) || list.length === 0) throw new AllocbenchError(`${file}: expected {"parts": [...]} with at least one part`);
  const names = new Set<string>();
  const parts = list.map((p, i): GatePart => {
    const o = (p ?? {}) as Record<string, unknown>;
    const where = `${file}: parts[${i}]`;
    if (typeof o.name !== 'string' || !/^[a-z0-9-]+$/.test(o.name)) throw new AllocbenchError(`${where}: needs a "name" of lowercase letters, digits and dashes`);
    if (names.has(o.name)) throw new AllocbenchError(`${where}: part name ${o.name} is used twice`);
    names.add(o.name);
    const gens = strings(o.gen, `${where}.gen`, false);
    const traces = strings(o.trace, `${where}.trace`, false);
    if (gens.length + traces.length === 0) throw new AllocbenchError(`${where}: needs "gen" or "trace"`);
    const seeds = o.seed === undefined ? [1] : o.seed;
    if (!Array.isArray(seeds) || seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || (s as number) < 0)) {
      throw new AllocbenchError(`${where}.seed: expected an array of non-negative integers`);
    }
    return {
      name: o.name, why: typeof o.why === 'string' ? o.why : '', gens, traces,
      machines: strings(o.machine, `${where}.machine`, true),
      pages: strings(o.page, `${where}.page`, true),
      objects: strings(o.object, `${where}.object`, true),
      seeds: seeds as number[],
    };
  });
  return { file, parts };
}

/**
 * Runs every part and writes their cells as one results directory (results.jsonl, summary.csv,
 * run.json naming the parts), so compare, report and the exporters read it like any run. Each part
 * runs in a scratch directory first; the cells of two parts must not collide.
 */
export async function runGateMatrix(
  m: GateMatrix, out: string, opts: { workers: number; onCell?: (r: CellResult, done: number, total: number) => void },
): Promise<RunOutcome> {
  const scratch = mkdtempSync(join(tmpdir(), 'allocbench-gate-'));
  const sink = new ResultSink(out);
  const seen = new Map<string, string>();
  const machines: Record<string, unknown> = {};
  const total = m.parts.reduce((n, p) => n + (p.gens.length + p.traces.length) * p.machines.length * p.pages.length * p.objects.length * p.seeds.length, 0);
  let done = 0;
  try {
    for (const p of m.parts) {
      const { results } = await runMatrix({
        traces: p.traces, gens: p.gens, machines: p.machines, pages: p.pages, objects: p.objects, seeds: p.seeds,
        out: join(scratch, p.name), check: false, resume: false, workers: opts.workers, cellTimeout: 0, onCell: (r) => opts.onCell?.(r, ++done, total),
      });
      for (const r of results) {
        const key = cellKey(r.cell);
        const other = seen.get(key);
        if (other !== undefined) throw new AllocbenchError(`${m.file}: cell ${key} is in both part ${other} and part ${p.name}`);
        seen.set(key, p.name);
        sink.add(r);
      }
      Object.assign(machines, (JSON.parse(readFileSync(join(scratch, p.name, RUN_FILE), 'utf8')) as { machines?: object }).machines);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const results = sink.finish();
  writeFileSync(join(out, RUN_FILE), JSON.stringify({
    version: VERSION,
    node: process.version,
    started_at: new Date().toISOString(),
    inputs: { traces: union(m.parts, (p) => p.traces), gens: union(m.parts, (p) => p.gens) },
    axes: {
      traces: union(results, (r) => [r.cell.trace]), machines: union(m.parts, (p) => p.machines), pages: union(m.parts, (p) => p.pages),
      objects: union(m.parts, (p) => p.objects), seeds: union(m.parts, (p) => p.seeds),
    },
    machines,
    gate: { file: relative(process.cwd(), m.file), parts: m.parts },
    cells: results.length,
  }, null, 2) + '\n');
  return { results, failed: results.filter((r) => r.status !== 'ok').length };
}

function union<T, V>(xs: T[], f: (x: T) => V[]): V[] {
  return [...new Set(xs.flatMap(f))];
}
