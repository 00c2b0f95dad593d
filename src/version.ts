import { readFileSync } from 'node:fs';

/** The package version, recorded in run.json so merged or compared results can refuse to mix versions. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
