// npm run bench:fidelity — the fidelity numbers of issue 13 (docs/fidelity.md): every bundled kernel
// recording replayed with buddy-mobility (and the other page strategies) from its before-state on
// its own machine, layers all and pages, scored against the real after-state beside the naive
// predictors. Prints the targets and whether each is met: mean |log2| ≤ 0.5 on the largest zone and
// ≥ 2x better than both predictors; pages in use at the end within 2% of the real MemTotal - MemFree.
// Deterministic figures (no wall clock).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fidelityScorecard, formatScorecard } from '../src/cli/fidelity.js';
import { largestZone, recordingState } from '../src/metrics/fidelity.js';
import { PAGE_STRATEGIES } from '../src/page/registry.js';
import type { KernelLayers } from '../src/trace/attribution.js';

const dirs = readdirSync('traces/kernel', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('traces/kernel', d.name, 'after')))
  .map((d) => join('traces/kernel', d.name));
for (const layers of ['all', 'pages'] as KernelLayers[]) {
  const lines = fidelityScorecard(dirs, { pages: Object.keys(PAGE_STRATEGIES), object: 'slub', layers });
  console.log(`\n=== --layers ${layers} ===\n${formatScorecard(lines)}\n`);
  for (const dir of dirs) {
    const name = dir.split('/').pop()!;
    const main = largestZone(recordingState(join(dir, `${name}.ftrace.gz`))!);
    const l = lines.find((x) => x.recording === name && x.zone === main && x.page === 'buddy-mobility');
    if (l === undefined) continue;
    const nothing = l.baselines.nothing_changes.log2_count_error, empty = l.baselines.start_empty?.log2_count_error ?? NaN;
    const ok = l.log2_count_error <= 0.5 && 2 * l.log2_count_error <= nothing && 2 * l.log2_count_error <= empty;
    const used = l.pages_in_use;
    console.log(`${name} ${main} buddy-mobility layers ${layers}: log2 ${l.log2_count_error} (nothing ${nothing}, empty ${empty}) target ≤0.5 and 2x better: ${ok ? 'MET' : 'NOT MET'}; `
      + (used ? `pages in use sim ${used.sim_end} real ${used.real_end} (${(used.rel_error * 100).toFixed(1)}%, target 2%: ${used.rel_error <= 0.02 ? 'MET' : 'NOT MET'}); change sim ${used.sim_change} real ${used.real_change}` : 'no meminfo'));
  }
}
