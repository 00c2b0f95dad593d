import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_RECLAIMABLE } from '../../machine/gfp.js';
import { BYTES_PER_EVENT, requireMemory } from '../../memory-budget.js';
import { BinaryTraceWriter } from '../binary-stream.js';
import { OP_KFREE, OP_KMALLOC, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../ops.js';
import type { EventChunk } from '../stream.js';
import type { Trace } from '../trace.js';
import { builderFor, cumulative, type Generator, IdPool, num, PAGE_BYTES, resolveParams, Rng } from './generator.js';

/** Order weights of page allocations, as page-mix's: most are order 0, few reach order 3. */
const ORDER_WEIGHTS = cumulative([70, 15, 10, 5]);
/** kmalloc sizes: log-uniform from 2^3 to 2^13 bytes (kmalloc-8 .. kmalloc-8k) */
const MIN_LOG = 3, LOG_SPAN = 10;

/**
 * A steady-state kernel workload of any length: page_alloc / page_free of orders 0-3 and
 * kmalloc / kfree, each layer churning around its own live target with page-mix's free
 * probability ½·(live/target)³. A freed id is given to the next allocation (ids recycled, LIFO), so
 * the trace's id count is its peak of live blocks and objects, not its number of allocations: the
 * replay's per-id arrays stay small however long the trace. Events come in chunks (fill), so a
 * trace of 10^9 events is written to an .abt file in bounded memory (writePageChurn).
 */
export const pageChurn: Generator = {
  name: 'page-churn',
  description:
    'steady kernel churn of any length: page_alloc orders 0-3 (weights 70/15/10/5) around fill x mem live pages and kmalloc 8 B-8 KiB (log-uniform) around `objects` live objects, ids recycled so the id count is the peak live set; streamed to .abt in bounded memory (allocbench gen page-churn:events=1e9 --out x.abt).\n' +
    'Each step is an object event with probability `kmalloc`, else a page event; a free of a random live entry has probability ½·(live/target)³ as in page-mix.',
  params: {
    events: { default: 1_000_000, doc: 'number of events (up to 2^53; above what memory holds, write it to an .abt file)' },
    mem: { default: 4 * 1024 ** 3, doc: 'memory size the page target refers to (bytes; K/M/G suffixes)' },
    fill: { default: 0.5, doc: 'target live page fraction of mem' },
    objects: { default: 200_000, doc: 'target live kmalloc objects' },
    kmalloc: { default: 0.5, doc: 'share of steps that are kmalloc/kfree rather than page_alloc/page_free' },
    movable: { default: 0.6, doc: 'fraction of page allocations that are GFP_HIGHUSER_MOVABLE (page cache / anon)' },
    reclaimable: { default: 0.1, doc: 'fraction that are GFP_KERNEL|__GFP_RECLAIMABLE; the rest are GFP_KERNEL (unmovable)' },
  },
  generate(given, seed): Trace {
    const g = new PageChurnSource(given, seed);
    const n = g.events;
    requireMemory(`generator page-churn (~${n} events)`, n * BYTES_PER_EVENT);
    const cols = { length: n, op: new Uint8Array(n), id: new Int32Array(n), lo: new Uint32Array(n), hi: new Uint16Array(n), aux: new Int32Array(n) };
    g.fill(cols, n);
    return { ...traceInfo(given, seed, g), ...cols };
  },
  write: (path, given, seed) => writePageChurn(path, given, seed),
};

/** Column buffers fill writes into. */
type Columns = Omit<EventChunk, 'start'>;

/** The page-churn event source: its state between chunks. */
export class PageChurnSource {
  readonly events: number;
  private readonly pageTarget: number;
  private readonly objTarget: number;
  private readonly kmallocShare: number;
  private readonly movable: number;
  private readonly recl: number;
  private readonly rng: Rng;
  private readonly pages = new IdPool(1 << 16);
  private readonly objs = new IdPool(1 << 16);
  /** freed ids, reused last-freed first */
  private free = new Int32Array(1 << 16);
  private nFree = 0;
  private livePages = 0;
  /** events made so far */
  done = 0;
  /** ids ever used = the peak of live ids */
  idCount = 0;

  constructor(given: Record<string, number | string>, seed: number) {
    const p = resolveParams(pageChurn, given);
    this.events = num(pageChurn, p, 'events', 0, Number.MAX_SAFE_INTEGER, true);
    const mem = num(pageChurn, p, 'mem', PAGE_BYTES, 2 ** 48);
    const fill = num(pageChurn, p, 'fill', 0, 1);
    this.objTarget = Math.max(1, num(pageChurn, p, 'objects', 0, 2 ** 30, true));
    this.kmallocShare = num(pageChurn, p, 'kmalloc', 0, 1);
    this.movable = num(pageChurn, p, 'movable', 0, 1);
    this.recl = this.movable + num(pageChurn, p, 'reclaimable', 0, 1 - this.movable);
    this.pageTarget = Math.max(1, Math.floor((mem / PAGE_BYTES) * fill));
    this.rng = new Rng(seed);
  }

  private takeId(): number {
    if (this.nFree > 0) return this.free[--this.nFree]!;
    return this.idCount++;
  }

  private giveId(id: number): void {
    if (this.nFree === this.free.length) { const f = new Int32Array(this.free.length * 2); f.set(this.free); this.free = f; }
    this.free[this.nFree++] = id;
  }

  /** Writes the next min(max, events left) events into rows 0.. of `c`; returns how many. */
  fill(c: Columns, max: number): number {
    const n = Math.min(max, this.events - this.done);
    const rng = this.rng, pages = this.pages, objs = this.objs;
    const { op, id, lo, hi, aux } = c;
    for (let e = 0; e < n; e++) {
      hi[e] = 0;
      if (rng.float() < this.kmallocShare) {
        const r = objs.size / this.objTarget;
        if (objs.size > 0 && rng.float() < Math.min(1, 0.5 * r * r * r)) {
          const k = rng.int(objs.size);
          const i = objs.ids[k]!;
          op[e] = OP_KFREE; id[e] = i; lo[e] = 0; aux[e] = 0;
          objs.removeAt(k);
          this.giveId(i);
        } else {
          const i = this.takeId();
          op[e] = OP_KMALLOC; id[e] = i; lo[e] = Math.floor(2 ** (MIN_LOG + LOG_SPAN * rng.float())); aux[e] = GFP_KERNEL;
          objs.push(i, 0);
        }
      } else {
        const r = this.livePages / this.pageTarget;
        if (pages.size > 0 && rng.float() < Math.min(1, 0.5 * r * r * r)) {
          const k = rng.int(pages.size);
          const i = pages.ids[k]!, order = pages.tags[k]!;
          op[e] = OP_PAGE_FREE; id[e] = i; lo[e] = order; aux[e] = 0;
          this.livePages -= 1 << order;
          pages.removeAt(k);
          this.giveId(i);
        } else {
          const order = rng.pick(ORDER_WEIGHTS);
          const u = rng.float();
          const i = this.takeId();
          op[e] = OP_PAGE_ALLOC; id[e] = i; lo[e] = order;
          aux[e] = u < this.movable ? GFP_HIGHUSER_MOVABLE : u < this.recl ? GFP_KERNEL | __GFP_RECLAIMABLE : GFP_KERNEL;
          pages.push(i, order);
          this.livePages += 1 << order;
        }
      }
    }
    this.done += n;
    return n;
  }
}

/**
 * Writes page-churn with `given` params and `seed` to the .abt file `path`, `chunkEvents` events at a
 * time: memory is one chunk's columns and the live set, whatever the event count. The same trace
 * as generate() gives (when that fits in memory).
 */
export function writePageChurn(path: string, given: Record<string, number | string>, seed: number, chunkEvents = 1 << 20): { events: number; idCount: number } {
  const g = new PageChurnSource(given, seed);
  const k = Math.max(1, Math.min(chunkEvents, g.events));
  requireMemory(`page-churn chunks of ${k} events`, k * BYTES_PER_EVENT);
  const c = { length: 0, op: new Uint8Array(k), id: new Int32Array(k), lo: new Uint32Array(k), hi: new Uint16Array(k), aux: new Int32Array(k) };
  const w = new BinaryTraceWriter(path, g.events);
  try {
    while (g.done < g.events) {
      c.length = g.fill(c, k);
      w.write(c);
    }
    w.finish(traceInfo(given, seed, g));
  } catch (e) {
    w.abort();
    throw e;
  }
  return { events: g.events, idCount: g.idCount };
}

/** All but the columns of a finished page-churn trace: name and source as every generator's (builderFor). */
function traceInfo(given: Record<string, number | string>, seed: number, g: PageChurnSource): Omit<Trace, 'op' | 'id' | 'lo' | 'hi' | 'aux'> {
  const { op, id, lo, hi, aux, ...info } = builderFor(pageChurn, given, seed, 0).finish();
  return { ...info, length: g.done, idCount: g.idCount };
}
