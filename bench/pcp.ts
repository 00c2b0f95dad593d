// npm run bench:pcp — what the per-CPU page lists cost (issue 14: buddy with pcp >= 0.9x the rate
// without): the 1 M-event page-mix workload on the desktop machine, replayed as a cell replays it
// (runCell's wall.events_per_sec, no time-series samples), by buddy and buddy-mobility with their
// default per-CPU lists and with `pcp=off`. Best of ROUNDS rounds, round-robin over the cases so a
// slow spell of the machine hits both sides of a ratio alike.
import { loadMachine } from '../src/machine/memory-map.js';
import { runCell } from '../src/run/cell.js';
import { GENERATORS } from '../src/trace/generators/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const desktop = loadMachine('desktop');
const trace = GENERATORS['page-mix']!.generate({ events: 1_000_000 }, 1);
const pages = ['buddy', 'buddy:pcp=off', 'buddy-mobility', 'buddy-mobility:pcp=off'];
const best = new Map<string, number>(pages.map((p) => [p, 0]));

function rate(page: string): number {
  const c = runCell({ trace: trace.name, machine: 'desktop', page, object: 'kmalloc-pow2', seed: 1 }, trace, desktop, { samples: 0 });
  return c.wall.events_per_sec / 1e6;
}

for (const p of pages) rate(p); // warm the replay loop on every case
for (let r = 0; r < ROUNDS; r++) for (const p of pages) best.set(p, Math.max(best.get(p)!, rate(p)));

console.log(`page-mix: ${trace.length} events on ${desktop.name}; best of ${ROUNDS} rounds`);
for (const p of pages) console.log(`${p.padEnd(24)} ${best.get(p)!.toFixed(2).padStart(6)} M events/s`);
for (const p of ['buddy', 'buddy-mobility']) {
  const ratio = best.get(p)! / best.get(`${p}:pcp=off`)!;
  console.log(`${p} pcp on / off: ${ratio.toFixed(2)}x (target >= 0.9) ${ratio >= 0.9 ? 'ok' : 'BELOW TARGET'}`);
}
