import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';

/** The interposer's C source, beside this module (scripts/build.mjs copies it into dist/record/). */
export const INTERPOSER_SOURCE = fileURLToPath(new URL('./interposer.c', import.meta.url));

/** Where built interposers are kept: $XDG_CACHE_HOME/allocbench, else ~/.cache/allocbench. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'allocbench');
}

/** The first C compiler that runs: $CC, then cc, gcc, clang. */
function findCompiler(env: NodeJS.ProcessEnv): string | undefined {
  const tried = [env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => c !== undefined && c !== '');
  return tried.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore', env }).status === 0);
}

/**
 * The interposer shared object, built on first use with the system C compiler and cached under
 * cacheDir() keyed by a hash of its source and compiler, so an edited source is rebuilt. No compiler
 * or a failed build: AllocbenchError (exit 2) saying what to install.
 */
export function interposerLibrary(env: NodeJS.ProcessEnv = process.env): string {
  const source = readFileSync(INTERPOSER_SOURCE);
  const cc = findCompiler(env);
  if (cc === undefined) {
    throw new AllocbenchError('record: no C compiler found (tried $CC, cc, gcc, clang); install one (Debian: apt-get install gcc) to build the recorder');
  }
  const flags = ['-O2', '-fPIC', '-shared', '-fvisibility=hidden', '-Wall', '-o'];
  const hash = createHash('sha256').update(source).update(cc).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = cacheDir(env);
  const lib = join(dir, `interposer-${hash}.so`);
  if (existsSync(lib)) return lib;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new AllocbenchError(`record: cannot create the cache directory ${dir}: ${(e as Error).message}`);
  }
  const tmp = `${lib}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...flags, tmp, INTERPOSER_SOURCE, '-ldl', '-lpthread'], { encoding: 'utf8', env });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error !== undefined ? r.error.message : (r.stderr || '').trim().split('\n').slice(0, 5).join(' | ');
    throw new AllocbenchError(`record: building the interposer with ${cc} failed: ${why}`);
  }
  renameSync(tmp, lib); // atomic: a concurrent build leaves one complete file
  return lib;
}
