import { readFileSync } from 'node:fs';
import { AllocbenchError } from '../errors.js';

/** A user-named text file, or a one-line error naming it. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new AllocbenchError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
