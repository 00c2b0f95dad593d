import { existsSync, readFileSync } from 'node:fs';
import { AllocbenchError } from './errors.js';

/**
 * A JSON input file (a gate matrix, a thresholds file), or a one-line error naming it:
 * "`missing` FILE not found" when absent, "cannot read `what` FILE: why" when unreadable or not JSON.
 */
export function readJsonFile(file: string, what: string, missing: string = what): unknown {
  if (!existsSync(file)) throw new AllocbenchError(`${missing} ${file} not found`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AllocbenchError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}
