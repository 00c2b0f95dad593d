import { loadMachine } from '../machine/memory-map.js';
import { runCell, type CellOptions } from '../run/cell.js';
import { startInputFor } from '../metrics/fidelity.js';
import { recordedMachine } from '../machine/recorded-machine.js';
import { generateFromSpec, RECORDED } from '../run/runner.js';
import { loadTrace } from '../trace/load.js';
import { checkMachine, checkTrace } from '../run/resources.js';
import { runOptionsFrom, type MatrixArgs } from './run.js';

/** Runs one cell of the matrix described by the options and hands the end state to `inspect` (fraginfo, slabinfo). */
export function inspectOneCell(a: MatrixArgs, inspect: NonNullable<CellOptions['inspect']>): void {
  const o = runOptionsFrom(a, '');
  const trace = o.gens.length ? generateFromSpec(o.gens[0]!, o.seeds[0]!) : loadTrace(o.traces[0] ?? '', { layers: o.layers, layersIfKernel: true });
  const cell = { trace: trace.name, machine: o.machines[0]!, page: o.pages[0]!, object: o.objects[0]!, seed: o.seeds[0]! };
  const rec = cell.machine === RECORDED ? recordedMachine(o.traces[0] ?? '', trace.name) : undefined;
  const start = o.startFrom === 'empty' || o.gens.length ? undefined : startInputFor(o.traces[0] ?? '', rec !== undefined);
  const machine = rec?.config ?? loadMachine(cell.machine === RECORDED ? 'desktop' : cell.machine);
  // the same up-front checks as run (resources.ts): refused with a message rather than killed
  checkTrace(trace);
  checkMachine(cell.machine, machine);
  runCell(cell, trace, machine, { check: o.check, inspect, ...(start ? { start } : {}) });
}
