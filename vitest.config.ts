import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // builds dist/ from src/ where it is stale (see scripts/build.mjs)
    globalSetup: ['test/global-setup.ts'],
  },
});
