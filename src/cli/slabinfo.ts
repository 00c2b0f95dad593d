import type { Argv, CommandModule } from 'yargs';
import { AllocbenchError } from '../errors.js';
import { formatSlabinfo, idleCacheGeometry } from '../object/slabinfo.js';
import { out } from './output.js';
import { MAX_CPUS } from '../machine/memory-map.js';
import { intOption } from './validate.js';
import { inspectOneCell } from './inspect.js';
import { readText } from './read-text.js';
import { matrixOptions, type MatrixArgs } from './run.js';

/** `--caches FILE`: lines "name size [align]", # comments allowed. */
export function parseCacheList(text: string, file: string): { name: string; size: number; align: number }[] {
  const out: { name: string; size: number; align: number }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.replace(/#.*/, '').trim();
    if (t === '') return;
    const f = t.split(/\s+/);
    if (f.length < 2 || f.length > 3 || !f.slice(1).every((x) => /^\d+$/.test(x)) || Number(f[1]) === 0) {
      throw new AllocbenchError(`${file}:${i + 1}: expected "name size [align]", got ${JSON.stringify(line)}`);
    }
    out.push({ name: f[0]!, size: Number(f[1]), align: Number(f[2] ?? 0) });
  });
  return out;
}

interface SlabinfoArgs extends MatrixArgs { cpus?: number; caches?: string }

/** `allocbench slabinfo`: an idle machine's cache geometry, or a run's end state. */
export const slabinfoCommand: CommandModule<object, SlabinfoArgs> = {
  builder: (y: Argv) => matrixOptions(y)
    .option('cpus', { type: 'string', coerce: intOption('--cpus', 1, MAX_CPUS), describe: `CPUs of the idle machine (SLUB min_objects), 1 to ${MAX_CPUS}` })
    .option('caches', { type: 'string', describe: 'file of lines "name size [align]"' }) as unknown as Argv<SlabinfoArgs>,
  handler: (a) => {
    if (a.cpus !== undefined || a.caches) {
      const caches = a.caches ? parseCacheList(readText(a.caches), a.caches) : [];
      out(formatSlabinfo(idleCacheGeometry(a.cpus ?? 2, caches)));
      return;
    }
    inspectOneCell({ ...a, object: a.object ?? ['slub'] }, (_m, o) => out(formatSlabinfo(o.caches())));
  },
};
