// npm run bench:fidelity — the fidelity numbers of issue 13 (docs/fidelity.md): every bundled kernel
// recording replayed with buddy-mobility (and the other page strategies) from its before-state on
// its own machine, layers all and pages, scored against the real after-state beside the naive
// predictors. Prints the targets of fidelity-targets.json (issues 13 and 14) and whether each is met.
// Deterministic figures (no wall clock).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fidelityScorecard, formatScorecard } from '../src/cli/fidelity.js';
import { formatTargetChecks, loadFidelityTargets, targetLines } from '../src/metrics/fidelity-targets.js';
import { PAGE_STRATEGIES } from '../src/page/registry.js';
import type { KernelLayers } from '../src/trace/attribution.js';

const dirs = readdirSync('traces/kernel', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('traces/kernel', d.name, 'after')))
  .map((d) => join('traces/kernel', d.name));
const targets = loadFidelityTargets();
for (const layers of ['all', 'pages'] as KernelLayers[]) {
  const lines = fidelityScorecard(dirs, { pages: Object.keys(PAGE_STRATEGIES), object: 'slub', layers });
  console.log(`\n=== --layers ${layers} ===\n${formatScorecard(lines)}\n`);
  // the targets of fidelity-targets.json on each recording's largest zone, with pages in use and their change
  console.log(formatTargetChecks(lines, targets));
  for (const l of targetLines(lines, targets)) {
    const u = l.pages_in_use;
    if (u) console.log(`${l.recording}: pages in use sim ${u.sim_end} real ${u.real_end}; change over the recording sim ${u.sim_change} real ${u.real_change}`);
  }
}
