/**
 * The one error type that reaches the user. Anything thrown as an AllocbenchError is printed as its
 * message alone (no stack) and exits with `exitCode`; anything else is a bug and keeps its stack.
 * Modelled on hyperfine's single user-facing error enum.
 */
export class AllocbenchError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'AllocbenchError';
  }
}

/** A malformed trace line: names the file, the 1-based line number, the text and what was expected. */
export class TraceFormatError extends AllocbenchError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly text: string,
    readonly expected: string,
  ) {
    const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
    super(`${file}:${line}: expected ${expected}, got ${JSON.stringify(shown)}`);
    this.name = 'TraceFormatError';
  }
}

/** A broken invariant found by a strategy's check() or by --check during a replay. Always a bug in a model. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

/** errno codes a user meets on files, in words (the top-level handler and run/output.ts ioError) */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  ENOENT: 'no such file or folder',
  EEXIST: 'it already exists',
  EIO: 'input/output error',
};

/** An errno code as words, e.g. "no space left on the device (ENOSPC)". */
export function reason(code: string): string {
  return `${REASONS[code] ?? code} (${code})`;
}

/**
 * The top-level error policy (the CLI's exit-code contract, README "Exit codes"): every error
 * becomes one line on stderr and an exit code, never a stack trace unless --debug.
 *   2  bad input, usage or output path: AllocbenchError, yargs' own errors, a file-system error
 *      (a path that cannot be read or written, a full disk), an input too large for a string
 *   1  failed cells or a regression (set by the commands themselves), or an internal bug, which
 *      says so ("internal error, please report") so it is not mistaken for bad input
 * Returns the exit code.
 */
export function reportError(e: unknown, debug: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as NodeJS.ErrnoException).code;
  let line: string;
  let exit: number;
  if (err instanceof AllocbenchError) {
    line = err.message; exit = err.exitCode;
  } else if (err.name === 'YError') {
    line = err.message; exit = 2; // yargs: an option's coerce error, a bad argument
  } else if (typeof code === 'string' && typeof (err as NodeJS.ErrnoException).syscall === 'string') {
    const path = (err as NodeJS.ErrnoException).path;
    line = `cannot ${(err as NodeJS.ErrnoException).syscall} ${path === undefined ? 'a file' : path === '' ? "'' (an empty path)" : path}: ${reason(code)}`;
    exit = 2;
  } else if (code === 'ERR_STRING_TOO_LONG' || (err instanceof RangeError && /Invalid string length|Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(err.message))) {
    line = `input too large for this host (${err.message})`;
    exit = 2;
  } else {
    line = `internal error, please report (with --debug for the stack): ${err.name}: ${err.message}`;
    exit = 1;
  }
  write(`allocbench: ${firstLine(line)}\n`);
  if (debug && err.stack) write(`${err.stack}\n`);
  return exit;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : `${s.slice(0, i)} ...`;
}
