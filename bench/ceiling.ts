import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/**
 * What this machine gives a second thread right now: two independent compute loops (no memory
 * traffic, no allocation) on 2 threads, against one, as a speed-up (2.0 on two idle cores of their
 * own; less when the VM's two vCPUs share a core or other work runs). A speed-up of the pool or of
 * `npm start` is bounded by it.
 */
export async function platformCeiling(): Promise<number> {
  const code = `const { parentPort } = require('node:worker_threads'); let x = 1;
    for (let i = 0; i < 4e8; i++) x = (x * 1103515245 + 12345) | 0; parentPort.postMessage(x);`;
  const run = async (n: number): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, () => new Promise((res) => new Worker(code, { eval: true }).on('message', res))));
    return performance.now() - t0;
  };
  const one = await run(1);
  return (2 * one) / (await run(2));
}
