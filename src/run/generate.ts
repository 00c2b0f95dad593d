import { GENERATORS, parseGenSpec } from '../trace/generators/index.js';
import type { Trace } from '../trace/trace.js';

/** A generated trace from a spec like `page-mix:events=1000` and a seed. */
export function generateFromSpec(spec: string, seed: number): Trace {
  const { name, params } = parseGenSpec(spec);
  return GENERATORS[name]!.generate(params, seed);
}
