import type { Vm } from '../machine/vm.js';
import type { UserHeaps } from '../object/process-heap.js';
import { OP_BRK, OP_EXIT, OP_FAULT, OP_FORK, OP_MMAP, OP_MUNMAP } from '../trace/ops.js';
import type { ReplayIds } from './replay-ids.js';

/**
 * The process family of a replay: mmap, munmap, brk, fault, fork and exit on the simulated VM
 * (machine/vm.ts); an exit also drops the process's user heap. Without a VM they are counted as
 * not modelled.
 */
export class ProcessEvents {
  /** process events the machine does not model (no VM, or an op this family does not know) */
  notModelled = 0;

  constructor(
    private readonly ids: ReplayIds,
    private readonly vm: Vm | null,
    private readonly heaps: UserHeaps | null,
    /** the trace's extra rows (an mmap's length and flags, a munmap's length) */
    private readonly extra: ArrayLike<number>,
  ) {}

  /** Process event e (op o). */
  event(e: number, o: number): void {
    const vm = this.vm;
    if (vm === null) { this.notModelled++; return; }
    const ids = this.ids, i = ids.id[e]!, aux = ids.aux, extra = this.extra;
    switch (o) {
      case OP_MMAP: vm.mmap(i, ids.wide(e), extra[aux[e]! * 2]!, extra[aux[e]! * 2 + 1]!); break;
      case OP_MUNMAP: vm.munmap(i, ids.wide(e), extra[aux[e]! * 2]!); break;
      case OP_BRK: vm.brk(i, ids.wide(e)); break;
      case OP_FAULT: vm.fault(i, ids.wide(e), aux[e]! !== 0); break;
      case OP_FORK: vm.fork(i, aux[e]!); break;
      case OP_EXIT:
        this.heaps?.drop(i);
        vm.exit(i);
        break;
      default: this.notModelled++;
    }
  }
}
