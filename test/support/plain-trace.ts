import type { Trace } from '../../src/trace/trace.js';

/** Everything a Trace carries, as plain data, for equality checks. */
export function plain(t: Trace, withName = true): unknown {
  return {
    ...(withName ? { name: t.name } : {}),
    length: t.length,
    op: Array.from(t.op), id: Array.from(t.id), lo: Array.from(t.lo), hi: Array.from(t.hi), aux: Array.from(t.aux),
    idCount: t.idCount, pidCount: t.pidCount, caches: t.caches, strings: t.strings, extra: Array.from(t.extra),
    stats: t.stats, cpu: t.cpu && Array.from(t.cpu), tid: t.tid && Array.from(t.tid),
  };
}
