import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { homeThreads, type Placed } from '../src/run/affinity.js';
import type { CellTask } from '../src/run/worker.js';

const placed = (page: string, object: string, cost: number): Placed => ({
  task: { cell: { trace: 't', machine: 'small', page, object, seed: 1 }, machine: {} as CellTask['machine'], check: false },
  cost,
});

describe('homeThreads: each thread runs the tasks of some strategies', () => {
  it('one thread: every task is at home on it', () => {
    expect(homeThreads([placed('buddy', 'slub', 5), placed('bitmap', 'dlmalloc', 1)], 1)).toEqual([0, 0]);
  });

  it('keeps each page strategy (its variants too) on one thread and balances the estimated work', () => {
    const tasks = [placed('buddy', 'slub', 4), placed('bitmap', 'slub', 3), placed('buddy:pcp=off', 'slub', 1), placed('freelist', 'slub', 3), placed('bitmap2', 'slub', 1)];
    const home = homeThreads(tasks, 2);
    expect(home[0]).toBe(home[2]); // buddy and buddy:pcp=off
    const load = [0, 0];
    tasks.forEach((t, i) => { load[home[i]!]! += t.cost; });
    expect(load.sort()).toEqual([6, 6]);
  });

  it('splits a page strategy by object strategy when it alone is more than a thread\'s share', () => {
    const tasks = [placed('buddy-mobility', 'slub', 5), placed('buddy-mobility', 'dlmalloc', 5), placed('buddy-mobility', 'slub', 2), placed('bitmap', 'slub', 2)];
    const home = homeThreads(tasks, 2);
    expect(home[0]).toBe(home[2]);
    expect(home[0]).not.toBe(home[1]);
  });

  it('property: a thread for every task, the same placement for the same tasks, every thread used when there are as many page strategies', () => {
    const pages = ['buddy', 'bitmap', 'bitmap2', 'freelist', 'buddy-mobility'];
    fc.assert(fc.property(
      fc.array(fc.record({ p: fc.integer({ min: 0, max: 4 }), o: fc.constantFrom('slub', 'dlmalloc'), c: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 4 }),
      (spec, threads) => {
        const tasks = spec.map((s) => placed(pages[s.p]!, s.o, s.c));
        const home = homeThreads(tasks, threads);
        expect(home).toHaveLength(tasks.length);
        for (const k of home) expect(k >= 0 && k < threads).toBe(true);
        expect(homeThreads(tasks, threads)).toEqual(home);
        if (new Set(spec.map((s) => s.p)).size >= threads) expect(new Set(home).size).toBe(threads);
      },
    ));
  });
});
