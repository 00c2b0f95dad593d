/**
 * Fidelity (issue 13, DESIGN.md §11): a kernel recording's before-state as a replay's start, and the
 * scorecard comparing a simulated end state with the recording's real after-state.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { digestKpageflags, type StartInput } from '../machine/start-state.js';
import { parsePagetypeinfo } from './procfs.js';

/** `--start-from`: the recording's before-state (default when it has one) or an empty machine. */
export type StartFrom = 'before' | 'empty';
export const START_FROM: readonly StartFrom[] = ['before', 'empty'];

/**
 * The before-state of the recording at `tracePath` (before/pagetypeinfo, and before/kpageflags.gz
 * when `withKpage` and present), or undefined when it has no before/pagetypeinfo.
 */
export function startInputFor(tracePath: string, withKpage = true): StartInput | undefined {
  const dir = join(dirname(tracePath), 'before');
  const pti = join(dir, 'pagetypeinfo');
  if (!existsSync(pti)) return undefined;
  const pagetypeinfo = parsePagetypeinfo(readFileSync(pti, 'utf8'), pti);
  const kp = join(dir, 'kpageflags.gz');
  return withKpage && existsSync(kp) ? { pagetypeinfo, kpage: digestKpageflags(gunzipSync(readFileSync(kp))) } : { pagetypeinfo };
}
