// A worker thread for test/binary-fuzz.test.ts: loads each .abt case it is sent and, when the
// reader accepts it, replays it on a small machine. The test times every case from outside, so a
// hang is seen (and this thread terminated) rather than hanging the test run. Loads the TypeScript
// sources through tsx's ESM loader, as src/run/worker-thread.cjs does.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { readBinaryTrace } = await import('../../src/trace/binary.ts');
const { AllocbenchError } = await import('../../src/errors.ts');
const { runCell } = await import('../../src/run/cell.ts');
const { loadMachine } = await import('../../src/machine/memory-map.ts');
const machine = loadMachine('small');

parentPort.on('message', ({ bytes, object }) => {
  let t;
  try {
    t = readBinaryTrace(bytes, 'fuzz.abt');
  } catch (e) {
    parentPort.postMessage(e instanceof AllocbenchError && e.exitCode === 2 ? { kind: 'rejected', message: e.message } : { kind: 'crash', message: String(e?.stack ?? e) });
    return;
  }
  try {
    const r = runCell({ trace: 'fuzz', machine: 'small', page: 'buddy', object, seed: 1 }, t, machine, { samples: 10 });
    parentPort.postMessage({ kind: 'replayed', events: r.events, status: r.status, error: r.error ?? '', rss: process.memoryUsage().rss });
  } catch (e) {
    parentPort.postMessage(e instanceof AllocbenchError && e.exitCode === 2 ? { kind: 'rejected', message: e.message } : { kind: 'crash', message: String(e?.stack ?? e) });
  }
});
parentPort.postMessage({ kind: 'ready' });
