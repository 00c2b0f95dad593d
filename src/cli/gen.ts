import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { generateFromSpec } from '../run/runner.js';
import { writeBinaryFile } from '../trace/binary.js';
import { writeCsv } from '../trace/csv-writer.js';
import { GENERATORS, parseGenSpec } from '../trace/generators/index.js';
import { out } from './output.js';
import { intOption } from './validate.js';

function withParam(spec: string, key: string, value: string): string {
  const { params } = parseGenSpec(spec);
  if (key in params) return spec;
  return spec.includes(':') ? `${spec},${key}=${value}` : `${spec}:${key}=${value}`;
}

interface GenArgs { generator: string; events?: number; seed: number; out: string }

/**
 * `allocbench gen <generator>`: a synthetic trace written as CSV, or as a compiled .abt (a generator
 * that writes chunk by chunk, page-churn, then needs memory for one chunk, whatever the event count).
 */
export const genCommand: CommandModule<object, GenArgs> = {
  builder: (y: Argv) => y
    .positional('generator', { type: 'string', demandOption: true, describe: `generator spec: ${Object.keys(GENERATORS).join(', ')} (params after a colon: name:key=val,...)` })
    .option('events', { type: 'string', coerce: intOption('--events', 0, 2 ** 31 - 1), describe: 'number of events, 0 to 2^31-1 (where the generator takes it)' })
    .option('seed', { type: 'string', default: '1', coerce: intOption('--seed', 0, Number.MAX_SAFE_INTEGER), describe: 'seed, 0 to 2^53-1' })
    .option('out', { type: 'string', demandOption: true, describe: 'output file: .csv, or .abt (compiled; page-churn writes it in chunks, so 10^9 events fit in bounded memory)' }) as unknown as Argv<GenArgs>,
  handler: (a) => {
    const spec = a.events !== undefined ? withParam(a.generator, 'events', String(a.events)) : a.generator;
    if (/\.abt$/i.test(a.out)) {
      const { name, params } = parseGenSpec(spec);
      const write = GENERATORS[name]!.write;
      if (write !== undefined) { out(`${a.out}: ${write(a.out, params, a.seed).events} events`); return; }
    }
    const trace = generateFromSpec(spec, a.seed);
    if (/\.abt(\.gz)?$/i.test(a.out)) writeBinaryFile(a.out, trace);
    else writeFileSync(a.out, writeCsv(trace));
    out(`${a.out}: ${trace.length} events`);
  },
};
