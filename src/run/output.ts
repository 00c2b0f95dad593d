import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AllocbenchError, reason } from '../errors.js';

/**
 * Writing results: the output folder made safely, whole files replaced atomically (a temporary
 * file renamed into place, so a reader or a crash sees the old file or the new, never half of one),
 * and every write error (a full disk, a read-only folder) turned into a one-line message.
 */

/** An fs error as a user-facing AllocbenchError (exit 2): what was being done, to which file, and why. */
export function ioError(e: unknown, action: string, file: string, after = ''): AllocbenchError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code !== undefined ? reason(code) : (e as Error).message;
  return new AllocbenchError(`cannot ${action} ${file}: ${why}${after}`);
}

/**
 * Makes `dir` and its missing parents. Node's recursive mkdir loops forever under /proc (every
 * mkdir there fails with ENOENT, which it takes for a missing parent: `--out /proc/foo` spun at
 * 100% CPU), so each missing folder is made on its own, from the deepest one that exists.
 */
export function ensureDir(dir: string): void {
  if (dir.trim() === '') throw new AllocbenchError('the output folder is an empty string: name a folder, e.g. --out results/run1');
  const abs = resolve(dir);
  const missing: string[] = [];
  let cur = abs;
  for (;;) {
    let st;
    try { st = statSync(cur); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'use output folder', dir);
      const up = dirname(cur);
      if (up === cur) throw ioError(e, 'create output folder', dir);
      missing.push(cur);
      cur = up;
      continue;
    }
    if (!st.isDirectory()) throw new AllocbenchError(`cannot use ${dir} as the output folder: ${cur} is a file, not a folder`);
    break;
  }
  for (const d of missing.reverse()) {
    try { mkdirSync(d); } catch (e) { throw ioError(e, 'create output folder', dir); }
  }
}

/** Replaces `file` with `data` atomically; on failure the old file is intact and the temporary one removed. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    const buf = Buffer.from(data, 'utf8');
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw ioError(e, 'write', file, '; the previous file is left as it was');
  }
}

/** Appends one complete line (a single write: an interrupted run leaves whole lines, or one torn last line). */
export function appendLine(file: string, line: string): void {
  try {
    appendFileSync(file, line.endsWith('\n') ? line : `${line}\n`);
  } catch (e) {
    throw ioError(e, 'append to', file, '; the lines written before are kept (--resume continues)');
  }
}
