// vitest global setup: bring dist/ up to date with src/ before any test runs (tests that spawn
// bin/allocbench.js run dist/; bin would rebuild stale files itself, but test files run in parallel).
// @ts-expect-error scripts/build.mjs is plain JavaScript without type declarations
import { buildStale } from '../scripts/build.mjs';

export default async function setup(): Promise<void> {
  await buildStale();
}
