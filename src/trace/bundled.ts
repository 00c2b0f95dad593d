import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TRACE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../traces');

/** Extensions of replayable trace files (optionally .gz); snapshots and READMEs are not traces. */
const TRACE_EXT = /\.(mtrace|csv|rep|perf|ftrace|trace|abt)(\.gz)?$/;

/** Every bundled trace under traces/, sorted, as paths relative to the current directory. */
export function bundledTraces(dir = TRACE_DIR): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (TRACE_EXT.test(name)) out.push(relative(process.cwd(), p) || p);
    }
  };
  walk(dir);
  return out;
}
