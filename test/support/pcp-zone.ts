import { newSteps } from '../../src/machine/steps.js';
import { BuddyAllocator } from '../../src/page/buddy.js';
import { RULES_6_1 } from '../../src/page/kernel-version.js';

/** A zone of 4 pageblocks, everything handed over at boot; pcp with batch 3, high 40 (6.12: high_min 40), 1 CPU. */
export function pcpZone(rules = RULES_6_1, pcp = true): BuddyAllocator {
  const b = new BuddyAllocator({ pages: 2048, steps: newSteps() }, true, { rules, pcp });
  for (let pfn = 0; pfn < 2048; pfn += 1024) b.free(pfn, 10);
  b.setupPcp(16384, 40, 1, { cpu: 0 });
  return b;
}
