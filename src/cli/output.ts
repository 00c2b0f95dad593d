/** Writes a command's output to stdout, ending it with one newline if it has none. */
export const out = (s: string): void => { process.stdout.write(s.endsWith('\n') ? s : `${s}\n`); };
