/**
 * `npm run bench:scale [-- --events N] [--file PATH] [--keep] [--chunk EVENTS]`: a trace larger than
 * memory, replayed from disk in chunks. Two child processes, so each peak RSS is its own:
 *   1. write: page-churn (src/trace/generators/page-churn.ts) of N events (default 10^9) streamed to an
 *      .abt file (default in the OS temp dir; skipped when the file already holds N events);
 *   2. replay: the file opened as a stream (trace/binary-stream.ts) and replayed through runCell with
 *      buddy + slub on `desktop` (latency, 100 time-series samples: the real cell path), chunk by chunk.
 * Prints events, wall time, events/s and peak RSS (process.resourceUsage().maxRSS) of each. The file
 * is removed at the end unless --keep. Disk: 15 bytes an event (10^9 events: 15 GB).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
const EVENTS = Number(arg('--events') ?? 1e9);
const CHUNK = Number(arg('--chunk') ?? 1 << 20);
const FILE = arg('--file') ?? join(tmpdir(), `allocbench-scale-${EVENTS}.abt`);
const SPEC = { events: EVENTS, mem: 4 * 1024 ** 3 };
const SEED = 1;

interface Figures { phase: string; events: number; wall_s: number; events_per_sec: number; max_rss_mib: number; id_count?: number; trace_errors?: number; failed_allocs?: number }
const rssMiB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

async function phase(name: string): Promise<Figures> {
  if (name === 'write') {
    const { writePageChurn } = await import('../src/trace/generators/page-churn.js');
    const t0 = performance.now();
    const r = writePageChurn(FILE, SPEC, SEED, CHUNK);
    const s = (performance.now() - t0) / 1000;
    return { phase: 'write', events: r.events, wall_s: s, events_per_sec: Math.round(r.events / s), max_rss_mib: rssMiB(), id_count: r.idCount };
  }
  const { openBinaryStream } = await import('../src/trace/binary-stream.js');
  const { runCell } = await import('../src/run/cell.js');
  const { loadMachine } = await import('../src/machine/memory-map.js');
  const t0 = performance.now();
  const stream = openBinaryStream(FILE, { chunkEvents: CHUNK });
  const r = runCell({ trace: stream.name, machine: 'desktop', page: 'buddy', object: 'slub', seed: SEED }, stream, loadMachine('desktop'));
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 'ok') throw new Error(`replay failed: ${r.error}`);
  return { phase: 'replay', events: r.events, wall_s: s, events_per_sec: Math.round(r.events / s), max_rss_mib: rssMiB(), id_count: stream.idCount, trace_errors: r.trace_errors, failed_allocs: r.failed_allocs };
}

const child = arg('--phase');
if (child !== undefined) {
  console.log(JSON.stringify(await phase(child)));
} else {
  const self = fileURLToPath(import.meta.url);
  const run = (p: string): Figures => {
    const outText = execFileSync(process.execPath, ['--import', 'tsx', self, '--phase', p, '--events', String(EVENTS), '--chunk', String(CHUNK), '--file', FILE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    return JSON.parse(outText.trim().split('\n').pop()!) as Figures;
  };
  const have = existsSync(FILE) ? (await import('../src/trace/binary-stream.js')).openBinaryStream(FILE).length : -1;
  const figures: Figures[] = [];
  if (have !== EVENTS) figures.push(run('write'));
  else console.log(`${FILE}: already holds ${EVENTS} events, not rewritten`);
  const bytes = statSync(FILE).size;
  figures.push(run('replay'));
  console.log(`page-churn (mem=4G), ${EVENTS} events, ${(bytes / 1e9).toFixed(2)} GB .abt in ${FILE}, chunks of ${CHUNK} events`);
  for (const f of figures) {
    console.log(`${f.phase.padEnd(7)} ${f.events} events in ${f.wall_s.toFixed(1)} s = ${(f.events_per_sec / 1e6).toFixed(2)} M events/s, peak RSS ${f.max_rss_mib} MiB`
      + (f.id_count !== undefined ? `, ${f.id_count} ids (peak live)` : '') + (f.trace_errors !== undefined ? `, ${f.trace_errors} trace errors, ${f.failed_allocs} failed allocs` : ''));
  }
  if (!process.argv.includes('--keep')) rmSync(FILE, { force: true });
}
