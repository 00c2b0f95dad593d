/**
 * What every loader guarantees of a Trace, checked once where a trace crosses a trust boundary
 * (a compiled .abt file: binary.ts). The replay indexes its per-id, per-pid, cache, string and
 * side-table arrays with the columns unchecked, so a trace that breaks one of these could make it
 * hang (an op code it has no case for), read past an array, or size an array by a forged count.
 * The rules are the text loaders' (csv.ts is the widest): whatever a loader could produce is
 * accepted, nothing else.
 */
import {
  OP_BRK, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_COUNT, OP_EXIT, OP_EXTFRAG, OP_FAULT, OP_PCP_DRAIN, OP_RECLAIM_BEGIN, OP_RECLAIM_END, OP_TICK, OP_FORK, OP_FREE, OP_KFREE, OP_KMALLOC, OP_MALLOC, OP_MARK, OP_MMAP, OP_MUNMAP, OP_NAMES, OP_PAGE_ALLOC, OP_PAGE_FREE, OP_REALLOC,
} from './ops.js';
import type { CacheDef, Trace } from './trace.js';
import type { EventChunk, TraceInfo } from './stream.js';

/**
 * Linux's largest pid_max (include/linux/threads.h PID_MAX_LIMIT, 4 Mi on 64-bit): no recorded
 * pid is larger, and the process tables are sized by pidCount.
 */
export const PID_MAX_LIMIT = 4 * 1024 * 1024;
/** The largest order the CSV loader takes (page_alloc, page_free); extfrag orders are 4-bit. */
const MAX_TRACE_ORDER = 63;
const MAX_INT32 = 0x7fffffff;
const TWO32 = 4294967296;

/**
 * The most ids `events` events may number. A loader gives each id an event (idCount <= events),
 * but a layer view of a kernel recording (kernel.ts layers) drops events and keeps the ids of the
 * whole recording: 8 per kept event leaves room for views that keep an eighth, while the replay's
 * per-id arrays (8 bytes an id) stay within a small multiple of the file's 15 bytes an event.
 */
export const maxIdCount = (events: number): number => 8 * events + 1024;

function cacheProblem(c: CacheDef, k: number): string | undefined {
  if (typeof c !== 'object' || c === null) return `cache ${k} is not an object`;
  if (typeof c.name !== 'string') return `cache ${k} has no name`;
  for (const f of ['size', 'align'] as const) {
    const v = c[f];
    if (!Number.isInteger(v) || v < 0 || v > MAX_INT32) return `cache ${k} (${c.name}) has ${f} ${String(v)}, expected an integer from 0 to ${MAX_INT32}`;
  }
  if (!Number.isInteger(c.flags) || c.flags < 0 || c.flags > 0xffffff) return `cache ${k} (${c.name}) has flags ${String(c.flags)}, expected an integer below 2^24`;
  return undefined;
}

/**
 * The first way `t` breaks the loaders' guarantees, as a message ("event 12: ..."), or undefined
 * when it keeps them all. One pass over the events (a few ns each). Checked: op codes; ids within
 * idCount (objects, blocks) and pids within pidCount; idCount within maxIdCount of the events (a
 * forged count cannot size the replay's per-id arrays) and pidCount within PID_MAX_LIMIT; caches
 * created once, before use, with sane metadata; string and side-table indexes; side-table rows,
 * flags and orders in the loaders' ranges.
 */
export function traceProblem(t: Trace): string | undefined {
  return infoProblem(t) ?? eventsProblem(t, { ...t, start: 0 }, new Uint8Array(t.caches.length));
}

/** traceProblem's checks of everything but the events (a streamed trace's, before its first chunk). */
export function infoProblem(t: TraceInfo): string | undefined {
  const n = t.length;
  if (!Number.isInteger(t.idCount) || t.idCount < 0 || t.idCount > maxIdCount(n)) return `idCount ${t.idCount}, more than its ${n} events can use`;
  if (!Number.isInteger(t.pidCount) || t.pidCount < 0 || t.pidCount > PID_MAX_LIMIT) return `pidCount ${t.pidCount}, expected at most ${PID_MAX_LIMIT} (pid_max)`;
  if (!Array.isArray(t.caches) || !Array.isArray(t.strings)) return 'no caches or strings';
  for (let k = 0; k < t.caches.length; k++) {
    const p = cacheProblem(t.caches[k]!, k);
    if (p !== undefined) return p;
  }
  for (let k = 0; k < t.strings.length; k++) if (typeof t.strings[k] !== 'string') return `string ${k} is not a string`;
  const extra = t.extra;
  if (extra.length % 2 !== 0) return 'the side table has half a row';
  const rows = extra.length / 2;
  for (let r = 0; r < rows; r++) {
    const len = extra[2 * r]!, pf = extra[2 * r + 1]!;
    // len: the CSV loader's storable values; prot | flags << 8: prot below 2^8, flags below 2^24
    if (!Number.isInteger(len) || len < 0 || len > 2 ** 48 - 1) return `side-table row ${r} has length ${len}`;
    if (!Number.isInteger(pf) || pf < 0 || pf >= TWO32) return `side-table row ${r} has prot/flags ${pf}`;
  }
  return undefined;
}

/**
 * traceProblem's checks of the events of chunk `c` of trace `t` (infoProblem(t) passed). `created`
 * marks the caches created so far (t.caches.length bytes): updated for the next chunk.
 */
export function eventsProblem(t: TraceInfo, c: EventChunk, created: Uint8Array): string | undefined {
  const rows = t.extra.length / 2;
  const before = created.slice();
  if (eventsKeepRules(t, c, rows, created)) return undefined;
  // the first event that breaks a rule, in words
  created.set(before);
  const ids = t.idCount, pids = t.pidCount, caches = t.caches.length, strings = t.strings.length;
  const op = c.op, id = c.id, aux = c.aux, lo = c.lo, hi = c.hi;
  const n = c.length;
  for (let e = 0; e < n; e++) {
    const o = op[e]!;
    const i = id[e]!;
    const a = aux[e]!;
    let why: string | undefined;
    switch (o) {
      case OP_PAGE_ALLOC:
      case OP_PAGE_FREE:
        if (i < 0 || i >= ids) why = `id ${i} outside 0..${ids - 1}`;
        else if (hi[e] !== 0 || lo[e]! > MAX_TRACE_ORDER) why = `order above ${MAX_TRACE_ORDER}`;
        break;
      case OP_KMALLOC:
      case OP_KFREE:
        if (i < 0 || i >= ids) why = `id ${i} outside 0..${ids - 1}`;
        break;
      case OP_CACHE_CREATE:
        if (i < 0 || i >= caches) why = `cache ${i} outside 0..${caches - 1}`;
        else if (created[i] !== 0) why = `cache ${i} created twice`;
        else created[i] = 1;
        break;
      case OP_CACHE_ALLOC:
      case OP_CACHE_FREE:
        if (i < 0 || i >= ids) why = `id ${i} outside 0..${ids - 1}`;
        else if (a < 0 || a >= caches || created[a] === 0) why = `cache ${a} not created by an earlier cache_create`;
        break;
      case OP_MALLOC:
      case OP_FREE:
      case OP_REALLOC:
        if (i < 0 || i >= ids) why = `id ${i} outside 0..${ids - 1}`;
        else if (a < 0 || a >= pids) why = `pid ${a} outside 0..${pids - 1}`;
        break;
      case OP_MMAP:
      case OP_MUNMAP:
        if (a < 0 || a >= rows) why = `side-table row ${a} outside 0..${rows - 1}`;
        else if (i < 0 || i >= pids) why = `pid ${i} outside 0..${pids - 1}`;
        break;
      case OP_BRK:
      case OP_EXIT:
        if (i < 0 || i >= pids) why = `pid ${i} outside 0..${pids - 1}`;
        break;
      case OP_FAULT:
        if (i < 0 || i >= pids) why = `pid ${i} outside 0..${pids - 1}`;
        else if (a !== 0 && a !== 1) why = `write flag ${a}, expected 0 or 1`;
        break;
      case OP_FORK:
        if (i < 0 || i >= pids || a < 0 || a >= pids) why = `pids ${i} and ${a} not both within 0..${pids - 1}`;
        break;
      case OP_MARK:
        if (a < 0 || a >= strings) why = `string ${a} outside 0..${strings - 1}`;
        break;
      case OP_EXTFRAG:
        if (hi[e] !== 0 || lo[e]! > 15 || a < 0 || a >= 1 << 14) why = 'fallback order or packed fields out of range';
        break;
      case OP_TICK:
      case OP_RECLAIM_END:
        break;
      case OP_RECLAIM_BEGIN:
      case OP_PCP_DRAIN:
        if (a < 0 || a > 3) why = `zone index ${a}, expected 0..3`;
        break;
      default:
        why = `op code ${o}, expected 0..${OP_COUNT - 1}`;
    }
    if (why !== undefined) return `event ${c.start + e} (${OP_NAMES[o] ?? `op ${o}`}): ${why}`;
  }
  return undefined;
}

/** Rule classes of the op codes (eventsKeepRules), 255 for a byte that is no op. */
const RULE = new Uint8Array(256).fill(255);
RULE[OP_PAGE_ALLOC] = 0; RULE[OP_PAGE_FREE] = 0;
RULE[OP_KMALLOC] = 1; RULE[OP_KFREE] = 1;
RULE[OP_CACHE_CREATE] = 2;
RULE[OP_CACHE_ALLOC] = 3; RULE[OP_CACHE_FREE] = 3;
RULE[OP_MALLOC] = 4; RULE[OP_FREE] = 4; RULE[OP_REALLOC] = 4;
RULE[OP_MMAP] = 5; RULE[OP_MUNMAP] = 5;
RULE[OP_BRK] = 6; RULE[OP_EXIT] = 6;
RULE[OP_FAULT] = 7;
RULE[OP_FORK] = 8;
RULE[OP_MARK] = 9;
RULE[OP_EXTFRAG] = 10;
RULE[OP_TICK] = 11; RULE[OP_RECLAIM_END] = 11;
RULE[OP_RECLAIM_BEGIN] = 12; RULE[OP_PCP_DRAIN] = 12;

/**
 * Whether every event keeps the rules traceProblem states (the same rules; traceProblem words the
 * first broken one): the load-time pass, a few ns an event. Unsigned compares (x >>> 0) also catch
 * negative ids and indexes; the rule classes are literal cases, which V8 compiles to a jump table.
 */
function eventsKeepRules(t: TraceInfo, c: EventChunk, rows: number, created: Uint8Array): boolean {
  const ids = t.idCount, pids = t.pidCount, caches = t.caches.length, strings = t.strings.length;
  const op = c.op, id = c.id, aux = c.aux, lo = c.lo, hi = c.hi;
  const n = c.length;
  for (let e = 0; e < n; e++) {
    const i = id[e]! >>> 0;
    switch (RULE[op[e]!]) {
      case 0: if (i >= ids || hi[e] !== 0 || lo[e]! > MAX_TRACE_ORDER) return false; break;
      case 1: if (i >= ids) return false; break;
      case 2: if (i >= caches || created[i] !== 0) return false; created[i] = 1; break;
      case 3: { const a = aux[e]! >>> 0; if (i >= ids || a >= caches || created[a] === 0) return false; break; }
      case 4: if (i >= ids || aux[e]! >>> 0 >= pids) return false; break;
      case 5: if (aux[e]! >>> 0 >= rows || i >= pids) return false; break;
      case 6: if (i >= pids) return false; break;
      case 7: if (i >= pids || aux[e]! >>> 0 > 1) return false; break;
      case 8: if (i >= pids || aux[e]! >>> 0 >= pids) return false; break;
      case 9: if (aux[e]! >>> 0 >= strings) return false; break;
      case 10: if (hi[e] !== 0 || lo[e]! > 15 || aux[e]! >>> 0 >= 1 << 14) return false; break;
      case 11: break;
      case 12: if (aux[e]! >>> 0 > 3) return false; break;
      default: return false;
    }
  }
  return true;
}
