import type { PageStrategyOptions } from './strategy.js';
import { BuddyAllocator } from './buddy.js';

/**
 * Test-only: a buddy allocator that throws on its 1000th allocation, to show that a failing cell
 * is recorded as failed while the other cells finish. Registered only when the environment has
 * ALLOCBENCH_TEST_FAULTS=1 (worker threads share the environment).
 */
export class FaultyAllocator extends BuddyAllocator {
  private calls = 0;
  constructor(opts: PageStrategyOptions) {
    super(opts, false);
  }
  override alloc(order: number, migratetype: number): number {
    if (++this.calls === 1000) throw new Error('faulty: deliberate failure on the 1000th allocation');
    return super.alloc(order, migratetype);
  }
}
