/**
 * The machine a kernel recording ran on (issue 13, DESIGN.md §11): `machine.json` beside the trace
 * file (traces/kernel/NAME/machine.json, written by scripts/record-kernel-trace.sh) holds the guest's
 * e820 map, CPUs, kernel and min_free_kbytes in the shape of machines/*.json. A replay of the
 * recording on any other machine compares a 256 MiB guest with something else.
 *
 * Managed pages. With before/kpageflags.gz beside the trace, the pages the kernel had marked
 * PG_reserved are the reservations, page for page, and the modelled ones are left out
 * (reserveOnly): managed pages then equal the recording's zoneinfo by construction. Without it: the simulated boot reserves the low 1 MiB, a 32 MiB kernel image and the memmap
 * (machine.ts); a real kernel reserves more before the page allocator exists (per-CPU areas, early
 * page tables, ACPI tables, the kernel's exact image, swiotlb bounce buffers...) and its boot log
 * has them only as one "reserved" total. The recording's before/zoneinfo has the result: managed
 * pages per zone. recordedMachine() boots the map once, and reserves the difference per zone at the
 * top of the zone's free memory (memblock_alloc() is top-down, so early boot allocations sit there)
 * as "memblock reservations not modelled", so the simulated zones manage exactly the recorded
 * number of pages. A zone where the simulation reserves MORE than the real kernel (our kernel image
 * larger than the real one) cannot be corrected this way: the shortfall is left and reported in
 * `residual` (negative pages).
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { AllocbenchError } from '../errors.js';
import { Machine } from './machine.js';
import { loadMachine, type MachineConfig } from './memory-map.js';
import type { PageStrategy } from './page-strategy.js';
import { digestKpageflags, reservedRanges } from './start-state.js';

const PAGE = 4096;

/** The machine.json of a recording: beside the trace file. */
export function recordedMachinePath(tracePath: string): string | undefined {
  const p = join(dirname(tracePath), 'machine.json');
  return existsSync(p) ? p : undefined;
}

/** The kernel a recording ran (its machine.json's kernel_version), undefined without one. */
export function recordingKernel(tracePath: string): string | undefined {
  const path = recordedMachinePath(tracePath);
  return path === undefined ? undefined : loadMachine(path).kernel;
}

/** "managed N" per zone of a /proc/zoneinfo text (zones with managed 0 included). */
export function zoneinfoManaged(text: string, file: string): Map<string, number> {
  const out = new Map<string, number>();
  let zone: string | undefined;
  for (const line of text.split('\n')) {
    const z = /^Node\s+\d+,\s+zone\s+(\S+)/.exec(line);
    if (z) { zone = z[1]!; continue; }
    const m = /^\s+managed\s+(\d+)\s*$/.exec(line);
    if (m && zone !== undefined && !out.has(zone)) out.set(zone, Number(m[1]));
  }
  if (out.size === 0) throw new AllocbenchError(`${file}: no "managed N" lines: expected /proc/zoneinfo`);
  return out;
}

/** A page strategy that keeps nothing: boots a map to learn its zones without their cost. */
function nullStrategy(pages: number): PageStrategy {
  return {
    name: 'null', pages, alloc: () => -1, free: () => {}, freePages: () => 0, freeArea: () => {},
    pageblockTypes: () => {}, counters: () => ({}), check: () => {}, metadataBytes: () => 0,
  };
}

export interface RecordedMachine {
  config: MachineConfig;
  /** where it came from */
  path: string;
  /** per zone: recorded managed pages minus simulated ones after the correction (0 = exact) */
  residual: Record<string, number>;
}

/**
 * The recorded machine of the trace at `tracePath`, or undefined when its folder has no
 * machine.json. With a before/zoneinfo beside it, managed pages per zone are matched (see above).
 */
export function recordedMachine(tracePath: string, traceName: string): RecordedMachine | undefined {
  const path = recordedMachinePath(tracePath);
  if (path === undefined) return undefined;
  const config = loadMachine(path);
  config.name = `recorded-${traceName}`;
  const kp = join(dirname(tracePath), 'before', 'kpageflags.gz');
  if (existsSync(kp)) {
    // the kernel's own reservations, page for page: PG_reserved in before/kpageflags
    config.reserve = [...(config.reserve ?? []), ...reservedRanges(digestKpageflags(gunzipSync(readFileSync(kp))))];
    config.reserveOnly = true;
  }
  const zoneinfo = join(dirname(tracePath), 'before', 'zoneinfo');
  const residual: Record<string, number> = {};
  if (!existsSync(zoneinfo)) return { config, path, residual };
  const real = zoneinfoManaged(readFileSync(zoneinfo, 'utf8'), zoneinfo);
  const m = new Machine(config, (o) => nullStrategy(o.pages));
  const reserve: { start: number; end: number; label: string }[] = [];
  const free = m.memblock.freeRanges();
  for (const z of m.zones) {
    let extra = z.managed - (real.get(z.name) ?? z.managed);
    // top-down through the zone's free ranges
    for (let i = free.length - 1; i >= 0 && extra > 0; i--) {
      const s = Math.max(z.startPfn, free[i]!.start / PAGE), e = Math.min(z.startPfn + z.spanned, free[i]!.end / PAGE);
      if (e <= s) continue;
      const take = Math.min(extra, e - s);
      reserve.push({ start: (e - take) * PAGE, end: e * PAGE, label: `memblock reservations not modelled (${z.name}, from the recording's zoneinfo)` });
      extra -= take;
    }
  }
  if (reserve.length > 0) config.reserve = [...(config.reserve ?? []), ...reserve];
  const check = new Machine(config, (o) => nullStrategy(o.pages));
  for (const z of check.zones) residual[z.name] = (real.get(z.name) ?? z.managed) - z.managed;
  return { config, path, residual };
}
