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
