import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Machine } from '../src/machine/machine.js';
import { flatMachine } from '../src/machine/memory-map.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import {
  FAULT_COW_COPY, FAULT_COW_REUSE, FAULT_NEW, FAULT_OOM, FAULT_SEGV, FAULT_SPURIOUS, FAULT_ZERO, Vm, ZERO_PAGE_PFN,
} from '../src/machine/vm.js';
import { PTE_WRITE, ptePfn } from '../src/machine/page-table.js';
import { STEP_COPY, STEP_FAULT, STEP_PT_PAGE, STEP_ZERO } from '../src/machine/steps.js';

const RW_PRIVATE = (1 | 2) | (0x02 | 0x20) << 8;
const RW_SHARED = (1 | 2) | (0x01 | 0x20) << 8;
const RO_PRIVATE = 1 | (0x02 | 0x20) << 8;
const A = 0x7f00_0000_0000;
const P = 4096;

function boot(mib = 64): { m: Machine; vm: Vm; free0: number } {
  const m = new Machine(flatMachine(mib * 2 ** 20), pageStrategyFactory('buddy'));
  const vm = new Vm(m);
  return { m, vm, free0: m.freePageCount() };
}

describe('faults by kind', () => {
  it('a read of untouched anonymous memory maps the zero page read-only and allocates no user page', () => {
    const { vm } = boot();
    vm.mmap(1, A, 16 * P, RW_PRIVATE);
    expect(vm.fault(1, A + 5, false)).toBe(FAULT_ZERO);
    const e = vm.procs[1]!.pt.entry(A);
    expect(ptePfn(e)).toBe(ZERO_PAGE_PFN);
    expect(e & PTE_WRITE).toBe(0);
    expect(vm.userPages).toBe(0);
    expect(vm.procs[1]!.rss).toBe(0);
    vm.check();
  });

  it('a write to untouched memory allocates one zeroed page; a write to the zero page replaces it with a new page', () => {
    const { m, vm } = boot();
    vm.mmap(1, A, 16 * P, RW_PRIVATE);
    const zero0 = m.steps[STEP_ZERO]!;
    expect(vm.fault(1, A, true)).toBe(FAULT_NEW);
    expect(vm.fault(1, A + P, false)).toBe(FAULT_ZERO);
    expect(vm.fault(1, A + P, true)).toBe(FAULT_NEW);
    expect(m.steps[STEP_ZERO]! - zero0).toBe(2);
    expect(vm.userPages).toBe(2);
    expect(ptePfn(vm.procs[1]!.pt.entry(A + P))).not.toBe(ZERO_PAGE_PFN);
    expect(vm.fault(1, A, true)).toBe(FAULT_SPURIOUS);
    vm.check();
  });

  it('user pages are movable GFP_HIGHUSER_MOVABLE pages and page tables are counted page-allocator pages', () => {
    const { m, vm, free0 } = boot();
    // the process's PGD, then PUD + PMD + PTE for the first touch
    vm.mmap(1, A, P, RW_PRIVATE);
    expect(vm.ptLive).toBe(1);
    vm.fault(1, A, true);
    expect(vm.ptLive).toBe(4);
    expect(m.steps[STEP_PT_PAGE]).toBe(4);
    expect(m.freePageCount()).toBe(free0 - 5);
    // a touch 2 MiB away needs one more PTE table; 1 GiB away a PMD too
    vm.mmap(1, A + 2 ** 30, 4 * 2 ** 20, RW_PRIVATE);
    vm.fault(1, A + 2 ** 30, true);
    expect(vm.ptLive).toBe(6);
    vm.check();
  });

  it('a fault outside every VMA is a segfault counted per process; a write to a read-only VMA too', () => {
    const { vm } = boot();
    vm.mmap(3, A, P, RO_PRIVATE);
    expect(vm.fault(3, A - P, false)).toBe(FAULT_SEGV);
    expect(vm.fault(3, A, true)).toBe(FAULT_SEGV);
    expect(vm.fault(3, A, false)).toBe(FAULT_ZERO);
    expect(vm.segfaultsByPid.get(3)).toBe(2);
    expect(vm.metrics().segfaults).toBe(2);
  });

  it('in auto-VMA mode (recorded faults without mmaps) a fault creates an anonymous VMA around it', () => {
    const m = new Machine(flatMachine(64 * 2 ** 20), pageStrategyFactory('buddy'));
    const vm = new Vm(m, { autoVma: true });
    expect(vm.fault(1, 0x5555_0000_1234, true)).toBe(FAULT_NEW);
    expect(vm.fault(1, 0x5555_0000_9000, false)).toBe(FAULT_ZERO);
    expect(vm.faults[FAULT_SEGV]).toBe(0);
    vm.check();
  });

  it('a stack VMA (MAP_GROWSDOWN) grows down to a fault just below it', () => {
    const { vm } = boot();
    vm.mmap(1, A, 4 * P, RW_PRIVATE | 0x0100 << 8);
    expect(vm.fault(1, A - 3 * P, true)).toBe(FAULT_NEW);
    expect(vm.procs[1]!.vmaStart[0]).toBe(A - 3 * P);
  });

  it('out of memory is a counted fault result, and the tables made for it are given back', () => {
    const { m, vm } = boot(48);
    // as much as the machine has (one private writable mapping larger than RAM is refused: overcommit)
    const len = m.managedPages() * P;
    expect(vm.mmap(1, A, 2 ** 36, RW_PRIVATE)).toBe(-1);
    expect(vm.mmap(1, A, len, RW_PRIVATE)).toBe(A);
    let oom = 0;
    for (let a = A; oom === 0 && a < A + len; a += P) if (vm.fault(1, a, true) === FAULT_OOM) oom++;
    expect(vm.faults[FAULT_OOM]).toBe(1);
    vm.check();
    vm.exit(1);
    expect(vm.userPages + vm.ptLive).toBe(0);
    expect(m.freePageCount()).toBe(m.managedPages());
  });
});

describe('fork and copy-on-write', () => {
  function forked(): { m: Machine; vm: Vm } {
    const { m, vm } = boot();
    vm.mmap(1, A, 8 * P, RW_PRIVATE);
    for (let k = 0; k < 8; k++) vm.fault(1, A + k * P, true);
    expect(vm.fork(1, 2)).toBe(true);
    return { m, vm };
  }

  it('fork write-protects private pages in both processes and shares them (map count 2)', () => {
    const { vm } = forked();
    for (const pid of [1, 2]) {
      const e = vm.procs[pid]!.pt.entry(A);
      expect(e & PTE_WRITE).toBe(0);
      expect(vm.mapCount[ptePfn(e)]).toBe(2);
    }
    expect(vm.userPages).toBe(8);
    vm.check();
  });

  it('write in the parent copies the page; the child then reuses its now-unshared page', () => {
    const { m, vm } = forked();
    const c0 = m.steps[STEP_COPY]!;
    expect(vm.fault(1, A, true)).toBe(FAULT_COW_COPY);
    expect(m.steps[STEP_COPY]! - c0).toBe(1);
    expect(vm.userPages).toBe(9);
    expect(vm.fault(2, A, true)).toBe(FAULT_COW_REUSE);
    expect(vm.userPages).toBe(9);
    expect(ptePfn(vm.procs[1]!.pt.entry(A))).not.toBe(ptePfn(vm.procs[2]!.pt.entry(A)));
    vm.check();
  });

  it('write in the child copies; the parent then reuses', () => {
    const { vm } = forked();
    expect(vm.fault(2, A + P, true)).toBe(FAULT_COW_COPY);
    expect(vm.fault(1, A + P, true)).toBe(FAULT_COW_REUSE);
    vm.check();
  });

  it('with three mappers the first two writes copy and the last reuses', () => {
    const { vm } = forked();
    expect(vm.fork(2, 3)).toBe(true);
    expect(vm.mapCount[ptePfn(vm.procs[1]!.pt.entry(A))]).toBe(3);
    expect(vm.fault(3, A, true)).toBe(FAULT_COW_COPY);
    expect(vm.fault(1, A, true)).toBe(FAULT_COW_COPY);
    expect(vm.fault(2, A, true)).toBe(FAULT_COW_REUSE);
    vm.check();
  });

  it('a shared mapping is not copied on write after fork', () => {
    const { vm } = boot();
    vm.mmap(1, A, P, RW_SHARED);
    vm.fault(1, A, true);
    vm.fork(1, 2);
    expect(vm.fault(2, A, true)).toBe(FAULT_SPURIOUS);
    expect(ptePfn(vm.procs[1]!.pt.entry(A))).toBe(ptePfn(vm.procs[2]!.pt.entry(A)));
    vm.check();
  });

  it('after every process exits, all user pages and page-table pages are back in the page allocator', () => {
    const { m, vm } = forked();
    vm.fault(1, A, true);
    vm.fault(2, A + 2 * P, true);
    vm.exit(2);
    vm.check();
    vm.exit(1);
    expect(vm.userPages).toBe(0);
    expect(vm.ptLive).toBe(0);
    expect(m.freePageCount()).toBe(m.managedPages());
    m.check();
  });

  it('every fault costs a STEP_FAULT', () => {
    const { m, vm } = forked();
    const f0 = m.steps[STEP_FAULT]!;
    vm.fault(1, A, true); vm.fault(2, A, true); vm.fault(9, A, true);
    expect(m.steps[STEP_FAULT]! - f0).toBe(3);
  });
});

describe('address space', () => {
  it('munmap zaps the pages and frees emptied page tables; a later access segfaults', () => {
    const { vm } = boot();
    vm.mmap(1, A, 600 * P, RW_PRIVATE);
    for (let k = 0; k < 600; k++) vm.fault(1, A + k * P, true);
    const tables = vm.ptLive;
    vm.munmap(1, A, 512 * P); // the first PTE table's range
    expect(vm.userPages).toBe(88);
    expect(vm.ptLive).toBe(tables - 1);
    expect(vm.fault(1, A, false)).toBe(FAULT_SEGV);
    vm.check();
  });

  it('brk grows and shrinks the heap VMA; shrinking frees the pages above the break', () => {
    const { vm } = boot();
    const base = 0x5555_5556_0000;
    vm.brk(1, base);
    expect(vm.brk(1, base + 10 * P)).toBe(true);
    for (let k = 0; k < 10; k++) vm.fault(1, base + k * P, true);
    expect(vm.brk(1, base + 4 * P)).toBe(true);
    expect(vm.userPages).toBe(4);
    expect(vm.fault(1, base + 5 * P, true)).toBe(FAULT_SEGV);
    vm.mmap(1, base + 8 * P, P, RW_PRIVATE);
    expect(vm.brk(1, base + 12 * P)).toBe(false); // a mapping is in the way
    vm.check();
  });

  it('address-less mmaps are placed top-down without overlap and reuse freed gaps', () => {
    const { vm } = boot();
    const a = vm.mmap(1, 0, 4 * P, RW_PRIVATE);
    const b = vm.mmap(1, 0, 4 * P, RW_PRIVATE);
    expect(b).toBe(a - 4 * P);
    vm.munmap(1, a, 4 * P);
    expect(vm.mmap(1, 0, 2 * P, RW_PRIVATE)).toBe(a + 2 * P);
  });
});

describe('invariants under random process workloads (property)', () => {
  it('map counts equal PTE references, tables are consistent, and exit returns every page', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('fault' as const), pid: fc.integer({ min: 0, max: 3 }), page: fc.integer({ min: 0, max: 1100 }), write: fc.boolean() }),
      fc.record({ k: fc.constant('fork' as const), pid: fc.integer({ min: 0, max: 3 }), child: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ k: fc.constant('exit' as const), pid: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ k: fc.constant('munmap' as const), pid: fc.integer({ min: 0, max: 3 }), page: fc.integer({ min: 0, max: 1100 }), n: fc.integer({ min: 1, max: 600 }) }),
      fc.record({ k: fc.constant('mmap' as const), pid: fc.integer({ min: 0, max: 3 }), page: fc.integer({ min: 0, max: 1100 }), n: fc.integer({ min: 1, max: 600 }), shared: fc.boolean() }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const m = new Machine(flatMachine(64 * 2 ** 20), pageStrategyFactory('buddy'));
      const vm = new Vm(m);
      for (let pid = 0; pid < 4; pid++) vm.mmap(pid, A, 1100 * P, RW_PRIVATE);
      for (const o of ops) {
        if (o.k === 'fault') vm.fault(o.pid, A + o.page * P, o.write);
        else if (o.k === 'fork') { if (o.pid !== o.child) vm.fork(o.pid, o.child); }
        else if (o.k === 'exit') vm.exit(o.pid);
        else if (o.k === 'munmap') vm.munmap(o.pid, A + o.page * P, o.n * P);
        else vm.mmap(o.pid, A + o.page * P, o.n * P, o.shared ? RW_SHARED : RW_PRIVATE);
      }
      vm.check();
      m.check();
      expect(m.freePageCount() + vm.pagesHeld()).toBe(m.managedPages());
      for (let pid = 0; pid < vm.procs.length; pid++) vm.exit(pid);
      expect(vm.userPages + vm.ptLive).toBe(0);
      expect(m.freePageCount()).toBe(m.managedPages());
    }), { numRuns: 60 });
  });
});
