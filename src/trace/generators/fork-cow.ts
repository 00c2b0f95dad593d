import { OP_EXIT, OP_FAULT, OP_FORK, OP_MMAP, OP_MUNMAP } from '../ops.js';
import type { Trace } from '../trace.js';
import {
  builderFor, type Generator, MAP_ANONYMOUS, MAP_PRIVATE, num, PAGE_BYTES, PROT_READ, PROT_WRITE, resolveParams, Rng,
} from './generator.js';

/** Where each job maps its anonymous region (an mmap_base-like address below the stack). */
const MAP_BASE = 0x7f00_0000_0000;

// Job states: the lifecycle of one forking program (a shell running a make that forks a compiler).
const S_FORK = 0; //    pid 0 forks the job's process
const S_MMAP = 1; //    it maps anonymous memory
const S_TOUCH = 2; //   it faults the pages in (mostly writes; a read maps the zero page first)
const S_FORK2 = 3; //   it forks a child: every private page becomes copy-on-write
const S_COW = 4; //     parent and child write: COW faults
const S_CHILDEXIT = 5;
const S_MUNMAP = 6;
const S_EXIT = 7;

/**
 * Processes that mmap anonymous memory, fault it in, fork, write in parent and child (COW), exit.
 * `procs` jobs run interleaved (each step advances a random job by one event), so page allocations
 * of different processes mix as they do on a busy machine. pid 0 is a long-lived parent that forks
 * every job and never maps memory itself.
 */
export const forkCow: Generator = {
  name: 'fork-cow',
  description:
    'process lifecycle: pid 0 forks jobs; each mmaps anonymous memory (MAP_PRIVATE|MAP_ANONYMOUS, PROT_READ|PROT_WRITE), faults it in, forks a child, parent and child write (copy-on-write faults), the child exits, the parent munmaps and exits.\n' +
    '`procs` jobs run interleaved; the fork/COW pattern of fork-heavy workloads (shells, make, pre-fork servers).',
  params: {
    events: { default: 200_000, doc: 'number of events' },
    procs: { default: 8, doc: 'jobs running at once' },
    pages: { default: 256, doc: 'mean pages mapped per job (uniform in [pages/2, 3·pages/2])' },
    read: { default: 0.2, doc: 'probability that a page is first touched by a read (zero page, then COW on write)' },
    cow: { default: 0.5, doc: 'COW writes after the fork, as a fraction of the mapped pages' },
    child: { default: 0.5, doc: 'probability that a COW write is the child\'s (else the parent\'s)' },
  },
  generate(given, seed): Trace {
    const p = resolveParams(forkCow, given);
    const events = num(forkCow, p, 'events', 0, 2 ** 31 - 1, true);
    const procs = num(forkCow, p, 'procs', 1, 65536, true);
    const meanPages = num(forkCow, p, 'pages', 1, 2 ** 26, true);
    const pRead = num(forkCow, p, 'read', 0, 1);
    const cow = num(forkCow, p, 'cow', 0, 64);
    const pChild = num(forkCow, p, 'child', 0, 1);
    const rng = new Rng(seed);
    const b = builderFor(forkCow, given, seed, events);
    b.notePid(0);

    // Per-job state in typed arrays.
    const state = new Uint8Array(procs);
    const pid = new Int32Array(procs);
    const kid = new Int32Array(procs);
    const npages = new Int32Array(procs);
    const step = new Int32Array(procs); // pages touched / COW writes done
    const readFirst = new Uint8Array(procs); // the current page was read, its write comes next
    let nextPid = 1;
    const lo = Math.max(1, meanPages >> 1), hi = Math.max(lo, meanPages + (meanPages >> 1));

    while (b.length < events) {
      const j = rng.int(procs);
      switch (state[j]) {
        case S_FORK: {
          const child = nextPid++;
          b.push(OP_FORK, 0, 0, child);
          b.notePid(child);
          pid[j] = child;
          npages[j] = rng.range(lo, hi);
          step[j] = 0;
          state[j] = S_MMAP;
          break;
        }
        case S_MMAP: {
          const len = npages[j]! * PAGE_BYTES;
          b.push(OP_MMAP, pid[j]!, MAP_BASE, b.addExtra(len, (PROT_READ | PROT_WRITE) | (MAP_PRIVATE | MAP_ANONYMOUS) << 8));
          state[j] = S_TOUCH;
          break;
        }
        case S_TOUCH: {
          const addr = MAP_BASE + step[j]! * PAGE_BYTES;
          if (readFirst[j] === 0 && rng.chance(pRead)) {
            b.push(OP_FAULT, pid[j]!, addr, 0); // read: maps the shared zero page
            readFirst[j] = 1;
            break;
          }
          b.push(OP_FAULT, pid[j]!, addr, 1);
          readFirst[j] = 0;
          if (++step[j]! >= npages[j]!) { state[j] = S_FORK2; step[j] = 0; }
          break;
        }
        case S_FORK2: {
          const child = nextPid++;
          b.push(OP_FORK, pid[j]!, 0, child);
          b.notePid(child);
          kid[j] = child;
          state[j] = Math.round(cow * npages[j]!) > 0 ? S_COW : S_CHILDEXIT;
          break;
        }
        case S_COW: {
          const who = rng.chance(pChild) ? kid[j]! : pid[j]!;
          b.push(OP_FAULT, who, MAP_BASE + rng.int(npages[j]!) * PAGE_BYTES, 1);
          if (++step[j]! >= Math.round(cow * npages[j]!)) state[j] = S_CHILDEXIT;
          break;
        }
        case S_CHILDEXIT:
          b.push(OP_EXIT, kid[j]!, 0, 0);
          state[j] = S_MUNMAP;
          break;
        case S_MUNMAP:
          b.push(OP_MUNMAP, pid[j]!, MAP_BASE, b.addExtra(npages[j]! * PAGE_BYTES, 0));
          state[j] = S_EXIT;
          break;
        default:
          b.push(OP_EXIT, pid[j]!, 0, 0);
          state[j] = S_FORK;
      }
    }
    return b.finish();
  },
};
