import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMachine, type MachineConfig } from '../machine/memory-map.js';
import { GENERATORS, parseGenSpec } from '../trace/generators/index.js';
import { loadTrace } from '../trace/load.js';
import type { Trace } from '../trace/trace.js';
import { cellKey, failedCell, runCell, type CellResult, type CellSpec } from './cell.js';
import { expandMatrix } from './matrix.js';
import { RUN_FILE, ResultSink } from './sink.js';
import { VERSION } from '../version.js';

export interface RunOptions {
  traces: string[];
  gens: string[];
  pages: string[];
  objects: string[];
  machines: string[];
  seeds: number[];
  out: string;
  check: boolean;
  resume: boolean;
  /** called after each cell (progress) */
  onCell?: (r: CellResult, done: number, total: number) => void;
}

export interface RunOutcome {
  results: CellResult[];
  failed: number;
}

/**
 * Loads every input once, expands the matrix and runs each cell, writing each result as it
 * completes. An unreadable input throws (exit 2) before any cell runs; a cell that throws becomes
 * a failed result and the others go on.
 */
export function runMatrix(opts: RunOptions): RunOutcome {
  const machines = new Map<string, MachineConfig>(opts.machines.map((m) => [m, loadMachine(m)]));
  // Recorded traces do not depend on the seed; generated ones are made once per seed.
  const recorded = opts.traces.map((f) => loadTrace(f));
  const traceFor = new Map<string, (seed: number) => Trace>();
  for (const t of recorded) traceFor.set(t.name, () => t);
  for (const spec of opts.gens) {
    const cache = new Map<number, Trace>();
    const first = generateFromSpec(spec, opts.seeds[0] ?? 1);
    cache.set(opts.seeds[0] ?? 1, first);
    traceFor.set(first.name, (seed) => {
      let t = cache.get(seed);
      if (!t) { t = generateFromSpec(spec, seed); cache.set(seed, t); }
      return t;
    });
  }
  const cells = expandMatrix({ traces: [...traceFor.keys()], machines: opts.machines, pages: opts.pages, objects: opts.objects, seeds: opts.seeds });
  const sink = new ResultSink(opts.out, opts.resume);
  writeFileSync(join(opts.out, RUN_FILE), JSON.stringify({
    version: VERSION,
    node: process.version,
    started_at: new Date().toISOString(),
    inputs: { traces: opts.traces, gens: opts.gens },
    axes: { traces: [...traceFor.keys()], machines: opts.machines, pages: opts.pages, objects: opts.objects, seeds: opts.seeds },
    machines: Object.fromEntries(machines),
    check: opts.check,
    cells: cells.length,
  }, null, 2) + '\n');
  const done = opts.resume ? sink.done() : new Set<string>();
  const todo = cells.filter((c) => !done.has(cellKey(c)));
  let n = cells.length - todo.length;
  for (const cell of todo) {
    const r = runOne(cell, traceFor.get(cell.trace)!, machines.get(cell.machine)!, opts.check);
    sink.add(r);
    opts.onCell?.(r, ++n, cells.length);
  }
  const results = sink.finish();
  return { results, failed: results.filter((r) => r.status !== 'ok').length };
}

/** A generated trace from a spec like `page-mix:events=1000` and a seed. */
export function generateFromSpec(spec: string, seed: number): Trace {
  const { name, params } = parseGenSpec(spec);
  return GENERATORS[name]!.generate(params, seed);
}

function runOne(cell: CellSpec, trace: (seed: number) => Trace, machine: MachineConfig, check: boolean): CellResult {
  try {
    return runCell(cell, trace(cell.seed), machine, { check });
  } catch (e) {
    return failedCell(cell, e);
  }
}
