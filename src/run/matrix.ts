import type { CellSpec } from './cell.js';

export interface MatrixAxes {
  traces: string[];
  machines: string[];
  pages: string[];
  objects: string[];
  seeds: number[];
}

/** The cells of the run matrix in a fixed order: trace, machine, page, object, seed. */
export function expandMatrix(a: MatrixAxes): CellSpec[] {
  const cells: CellSpec[] = [];
  for (const trace of a.traces)
    for (const machine of a.machines)
      for (const page of a.pages)
        for (const object of a.objects)
          for (const seed of a.seeds) cells.push({ trace, machine, page, object, seed });
  return cells;
}

/**
 * One matrix of a run: its inputs (trace files and generator specs) × machines × strategies × seeds.
 * A run is one or more of them (an experiment file lists several; the command-line flags make one).
 * `machines` empty: every recording on its own machine (the machine.json beside it; runner.ts
 * resolveRecorded), generated ones have none and need machines.
 */
export interface MatrixGroup {
  /** the experiment the matrix belongs to (experiments/NAME.json), if any */
  tag?: string;
  traces: string[];
  gens: string[];
  machines: string[];
  pages: string[];
  objects: string[];
  seeds: number[];
}

/** A group as run.json records it: inputs replaced by the cells' trace names. */
export interface ResolvedGroup {
  tag?: string;
  traces: string[];
  /** trace names of recordings: one sample each (the seed does not change them) */
  recorded: string[];
  machines: string[];
  pages: string[];
  objects: string[];
  seeds: number[];
}

/**
 * The cells of every group, in group order, each cell once (experiments may share cells: the
 * kernel recordings serve the page-layer and whole-machine questions from the same replay).
 * A recorded trace runs with the group's first seed only: its events do not depend on the seed.
 */
export function expandGroups(
  groups: MatrixGroup[],
  traceName: (file: string) => string,
  genName: (spec: string) => string,
  /** the machine of a recording in a group without machines (the runner's RECORDED) */
  ownMachine: (file: string) => string,
): { cells: CellSpec[]; resolved: ResolvedGroup[] } {
  const cells: CellSpec[] = [];
  const seen = new Set<string>();
  const resolved: ResolvedGroup[] = [];
  const add = (c: CellSpec): void => {
    const k = `${c.trace}|${c.machine}|${c.page}|${c.object}|${c.seed}`;
    if (!seen.has(k)) { seen.add(k); cells.push(c); }
  };
  for (const g of groups) {
    const seeds = g.seeds.length ? g.seeds : [1];
    const machines = new Set<string>();
    for (const file of g.traces) {
      const ms = g.machines.length ? g.machines : [ownMachine(file)];
      ms.forEach((m) => machines.add(m));
      for (const c of expandMatrix({ traces: [traceName(file)], machines: ms, pages: g.pages, objects: g.objects, seeds: [seeds[0]!] })) add(c);
    }
    for (const spec of g.gens) {
      g.machines.forEach((m) => machines.add(m));
      for (const c of expandMatrix({ traces: [genName(spec)], machines: g.machines, pages: g.pages, objects: g.objects, seeds })) add(c);
    }
    resolved.push({
      ...(g.tag !== undefined ? { tag: g.tag } : {}),
      traces: [...g.traces.map(traceName), ...g.gens.map(genName)],
      recorded: g.traces.map(traceName),
      machines: [...machines],
      pages: g.pages,
      objects: g.objects,
      seeds,
    });
  }
  return { cells, resolved };
}

/** Whether a result's cell is one of a resolved group's cells. */
export function inGroup(c: CellSpec, g: ResolvedGroup): boolean {
  return g.traces.includes(c.trace) && g.machines.includes(c.machine) && g.pages.includes(c.page)
    && g.objects.includes(c.object) && (g.recorded.includes(c.trace) ? c.seed === g.seeds[0] : g.seeds.includes(c.seed));
}
