import { describe, expect, it } from 'vitest';
import { gfpMigratetype } from '../src/machine/gfp.js';
import { newSteps } from '../src/machine/steps.js';
import { forEachAlignedBlock } from '../src/machine/decompose.js';
import { PAGE_STRATEGIES } from '../src/page/registry.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';
import type { Trace } from '../src/trace/trace.js';

const PAGES = 1 << 18; // a 1 GiB zone (the generator's default is 4 GiB; the property holds at 1 GiB, in a quarter of the time)

/**
 * Replays the page events of a trace straight against one page strategy on a 1 GiB zone handed
 * over as the boot does (forEachAlignedBlock = __free_pages_memory()), and returns the order-9
 * attempts and successes per phase mark. (The machine's replay does the same with zones and
 * watermarks; this keeps the experiment to the allocator alone.)
 */
function orderNineSuccess(strategy: string, t: Trace): Record<string, { attempts: number; successes: number; fraction: number }> {
  const s = PAGE_STRATEGIES[strategy]!({ pages: PAGES, steps: newSteps() });
  forEachAlignedBlock(0, PAGES, (pfn, order) => s.free(pfn, order));
  const pfnOf = new Int32Array(t.idCount).fill(-1);
  const orderOf = new Int8Array(t.idCount);
  const out: Record<string, { attempts: number; successes: number; fraction: number }> = {};
  let phase: { attempts: number; successes: number; fraction: number } | undefined;
  for (let e = 0; e < t.length; e++) {
    const op = t.op[e]!, id = t.id[e]!;
    if (op === OP_PAGE_ALLOC) {
      const order = t.lo[e]!;
      const pfn = s.alloc(order, gfpMigratetype(t.aux[e]!));
      pfnOf[id] = pfn; orderOf[id] = order;
      if (order >= 9 && phase) { phase.attempts++; if (pfn >= 0) phase.successes++; }
    } else if (op === OP_PAGE_FREE) {
      if (pfnOf[id]! >= 0) { s.free(pfnOf[id]!, orderOf[id]!); pfnOf[id] = -1; }
    } else if (op === OP_MARK) {
      phase = out[t.strings[t.aux[e]!]!] ??= { attempts: 0, successes: 0, fraction: 0 };
    }
  }
  for (const p of Object.values(out)) p.fraction = p.attempts === 0 ? 0 : p.successes / p.attempts;
  return out;
}

describe('highalloc-stress on a 1 GiB zone (Gorman, OLS 2006)', () => {
  it('grouping pages by mobility at least doubles the at-rest order-9 success of the plain buddy allocator', () => {
    const t = GENERATORS['highalloc-stress']!.generate({ mem: String(PAGES * 4096) }, 1);
    const plain = orderNineSuccess('buddy', t);
    const mobility = orderNineSuccess('buddy-mobility', t);
    // Seen (seed 1, mem=1G): buddy 38/512 = 7.4% under load and at rest; buddy-mobility 29/512 =
    // 5.7% under load, 450/512 = 87.9% at rest (every pageblock without unmovable pages); at the
    // default 4 GiB: 7.5%, 6.0% and 88.0%. The kernel published 30% -> 73% at rest; the model has
    // no reclaim or compaction (and this replay no per-CPU lists).
    expect(plain['at_rest']!.attempts).toBe(PAGES / 512);
    expect(mobility['at_rest']!.attempts).toBe(PAGES / 512);
    expect(mobility['at_rest']!.fraction).toBeGreaterThanOrEqual(2 * plain['at_rest']!.fraction);
    expect(mobility['at_rest']!.fraction).toBeGreaterThan(0.5);
    // At rest, no allocator can beat the memory that the unmovable pages leave untouched (~88%).
    expect(mobility['at_rest']!.fraction).toBeLessThanOrEqual(0.89);
    // Under load only free memory (fill = 0.9) can serve order-9 requests, with or without grouping.
    expect(plain['under_load']!.fraction).toBeLessThanOrEqual(0.1);
    expect(mobility['under_load']!.fraction).toBeLessThanOrEqual(0.1);
  });
});
