'use strict';
/**
 * The module piscina loads in each worker thread (threads.ts): CommonJS, which imports the worker's
 * code (worker.ts, an ES module) asynchronously and hands each task to it.
 *
 * Why not the ES module itself: piscina require()s a worker's module first, and Node 20.19+ then
 * loads an ES module through require(esm), instantiating its whole graph synchronously. A run refused
 * while its early threads still load (cli/start.ts starts them before the run's checks) terminates
 * them, and a thread terminated inside that instantiation aborts the whole process on Node 20.20
 * ("FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated module": 1 refused run in
 * 60-160 here, and once in CI; test/worker-thread-entry.test.ts requires this file with require(esm)
 * turned off). Through import(), the termination only ends an import that nothing awaits any more.
 *
 * In dist/ (the CLI) the worker is worker.js beside this file. Beside the sources (vitest, the benches
 * under tsx) it is worker.ts, loaded through tsx's ESM loader, which the thread registers itself
 * (hooks given by --import do not reach worker threads on Node 20), so tests run the sources they
 * import, never a stale build. (tsx's require() hook would compile it to CommonJS, whose exports are
 * getters that slow the hot loops ~2.5x.)
 *
 * The import starts as this module loads, so the simulator's code loads while the main thread loads
 * its own (threads.ts, startThreadsEarly).
 */
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const worker = existsSync(join(__dirname, 'worker.ts'))
  ? import('tsx/esm/api').then(({ register }) => { register(); return import('./worker.ts'); })
  : import('./worker.js');
// a failed import reaches every task, which awaits it; this keeps it from being reported unhandled first
worker.catch(() => {});

exports.__esModule = true;
exports.default = async (task) => (await worker).default(task);
exports.input = async (req) => (await worker).input(req);
exports.start = async (req) => (await worker).start(req);
