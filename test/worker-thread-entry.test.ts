import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { afterAll, describe, expect, it } from 'vitest';
import { WORKER_FILE } from '../src/run/threads.js';

/**
 * The module the worker threads load never reaches an ES module through require(): Node 20.20
 * aborts the whole process when a thread is terminated inside require(esm)'s synchronous
 * instantiation (a run refused while its early threads load; src/run/worker-thread.cjs). The threads
 * here run with require(esm) turned off, so an entry that relied on it fails to require() (as
 * worker.js does; piscina would then fall back to import() and hide it).
 */
const entries = {
  'dist/ (the CLI)': fileURLToPath(new URL(`../dist/run/${basename(fileURLToPath(WORKER_FILE))}`, import.meta.url)),
  'the sources (tests, benches)': fileURLToPath(WORKER_FILE),
};

/** require(esm) turned off (a Node older than 20.17 has no such flag, and no require(esm) either) */
const noRequireEsm = process.allowedNodeEnvironmentFlags.has('--experimental-require-module') ? ['--no-experimental-require-module'] : [];

const pools: Piscina[] = [];
afterAll(async () => { await Promise.all(pools.map((p) => p.destroy())); });

describe('the worker threads\' entry module', () => {
  it.each(Object.entries(entries))('from %s loads as CommonJS and runs the worker\'s tasks', async (_where, filename) => {
    // piscina's first step: require() the module, here with require(esm) turned off
    const required = new Worker('require(require(\'node:worker_threads\').workerData)', { eval: true, workerData: filename, execArgv: noRequireEsm });
    const error = await new Promise<string | null>((done) => { required.once('error', (e) => done(String(e))); required.once('exit', () => done(null)); });
    expect(error).toBeNull();
    const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1, execArgv: noRequireEsm });
    pools.push(pool);
    const out = await pool.run({ gen: { spec: 'page-mix:events=10', seed: 1 } }, { name: 'input' }) as object;
    expect(out).toHaveProperty('trace');
    const start = await pool.run({ path: '/nonexistent/recording', own: false }, { name: 'start' }) as object;
    expect(start).toEqual({ start: null });
  });
});
