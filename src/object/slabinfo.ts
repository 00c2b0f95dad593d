/**
 * /proc/slabinfo version 2.1, as mm/slab_common.c prints it (print_slabinfo_header, cache_show).
 * SLUB has no tunables and no shared arrays, so those columns are always 0.
 */
import { TraceFormatError } from '../errors.js';
import { newSteps } from '../machine/steps.js';
import { createSlub } from './slub.js';
import type { CacheStat } from './strategy.js';

export const SLABINFO_HEADER =
  'slabinfo - version: 2.1\n' +
  '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>' +
  ' : tunables <limit> <batchcount> <sharedfactor>' +
  ' : slabdata <active_slabs> <num_slabs> <sharedavail>\n';

function padL(v: number, w: number): string {
  return String(v).padStart(w);
}

/**
 * seq_printf(m, "%-17s %6lu %6lu %6u %4u %4d", name, active_objs, num_objs, s->size, objperslab,
 * 1 << order), " : tunables %4u %4u %4u", " : slabdata %6lu %6lu %6lu". The objsize column is
 * s->size (the slot, `slotSize`), not object_size.
 */
export function formatSlabinfoLine(s: CacheStat): string {
  return `${s.name.padEnd(17)} ${padL(s.activeObjs, 6)} ${padL(s.numObjs, 6)} ${padL(s.slotSize, 6)} ${padL(s.objperslab, 4)} ${padL(s.pagesperslab, 4)}` +
    ` : tunables ${padL(0, 4)} ${padL(0, 4)} ${padL(0, 4)}` +
    ` : slabdata ${padL(s.activeSlabs, 6)} ${padL(s.numSlabs, 6)} ${padL(0, 6)}`;
}

export function formatSlabinfo(stats: readonly CacheStat[]): string {
  let out = SLABINFO_HEADER;
  for (const s of stats) out += formatSlabinfoLine(s) + '\n';
  return out;
}

const LINE = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+: tunables\s+(\d+)\s+(\d+)\s+(\d+)\s+: slabdata\s+(\d+)\s+(\d+)\s+(\d+)\s*$/;

/**
 * Parses a real /proc/slabinfo 2.1. objsize and slotSize both get the printed objsize column
 * (s->size; object_size is not in the file). A malformed line throws TraceFormatError.
 */
export function parseSlabinfo(text: string, file: string): CacheStat[] {
  const lines = text.split(/\r?\n/);
  if (!/^slabinfo - version: 2\.\d+$/.test(lines[0] ?? '')) {
    throw new TraceFormatError(file, 1, lines[0] ?? '', '"slabinfo - version: 2.1"');
  }
  const out: CacheStat[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '' || l.startsWith('#')) continue;
    const m = LINE.exec(l);
    if (!m) throw new TraceFormatError(file, i + 1, l, 'a slabinfo 2.1 cache line');
    const n = (k: number): number => Number(m[k]);
    out.push({
      name: m[1]!,
      activeObjs: n(2),
      numObjs: n(3),
      objsize: n(4),
      slotSize: n(4),
      objperslab: n(5),
      pagesperslab: n(6),
      activeSlabs: n(10),
      numSlabs: n(11),
    });
  }
  return out;
}

export interface IdleCacheSpec {
  name: string;
  /** object size in bytes */
  size: number;
  /** requested alignment (0 = default) */
  align: number;
  /** CACHE_* flags (ops.ts), default 0 */
  flags?: number;
}

/**
 * The slabinfo of a freshly booted machine with these caches created (in this order) besides the
 * kmalloc caches: exactly what the slub model's caches() gives before any allocation.
 */
export function idleCacheGeometry(cpus: number, caches: readonly IdleCacheSpec[]): CacheStat[] {
  const slub = createSlub({
    pages: { allocPages: () => -1, freePages: () => undefined, totalPfns: 0 },
    steps: newSteps(),
    cpus,
  });
  caches.forEach((c, i) => slub.createCache(i, { name: c.name, size: c.size, align: c.align, flags: c.flags ?? 0 }));
  return slub.caches();
}
