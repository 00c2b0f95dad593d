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
