/**
 * Fidelity (issue 13, DESIGN.md §11): a kernel recording's before-state as a replay's start, and the
 * scorecard comparing a simulated end state with the recording's real after-state.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { MIGRATE_MOVABLE } from '../machine/gfp.js';
import { digestKpageflags, KP_BUDDY, type StartInput } from '../machine/start-state.js';
import { PAGEBLOCK_ORDER, structPagePfn } from '../machine/page-geometry.js';
import { preTraceSlabObjects } from '../object/slab-start.js';
import { ftraceText, pcpStartTypes, recordedBuddyTakes, recordedPcpTraffic, type BuddyTakes } from './pcp-traffic.js';
import { parseBuddyinfo, parsePagesets, parsePagetypeinfo } from './procfs.js';
import { zoneFragMetrics, type ZoneFragMetrics, type ZoneFreeState } from './fragmentation.js';
import { findSnapshots } from '../trace/snapshots.js';

/** `--start-from`: the recording's before-state (default when it has one) or an empty machine. */
export type StartFrom = 'before' | 'empty';
export const START_FROM: readonly StartFrom[] = ['before', 'empty'];

/**
 * The before-state of the recording at `tracePath` (before/pagetypeinfo, and before/kpageflags.gz
 * and before/zoneinfo's pagesets when `withKpage` (the recorded machine) and present), or undefined
 * when it has no before/pagetypeinfo.
 */
export function startInputFor(tracePath: string, withKpage = true, traceText?: string): StartInput | undefined {
  const dir = join(dirname(tracePath), 'before');
  const pti = join(dir, 'pagetypeinfo');
  if (!existsSync(pti)) return undefined;
  const pagetypeinfo = parsePagetypeinfo(readFileSync(pti, 'utf8'), pti);
  const kp = join(dir, 'kpageflags.gz');
  if (!withKpage || !existsSync(kp)) return { pagetypeinfo };
  const zi = join(dir, 'zoneinfo');
  const pagesets = existsSync(zi) ? parsePagesets(readFileSync(zi, 'utf8')) : undefined;
  const text = traceText ?? ftraceText(tracePath); // read once for all of them
  const t = recordedBuddyTakes(tracePath, text);
  const pcpTypes = pcpStartTypes(tracePath, text);
  const takes = t === undefined ? {} : { takes: t.pfn, refilled: refilledLists(t), ...(pcpTypes ? { pcpTypes } : {}) };
  const kpage = digestKpageflags(gunzipSync(readFileSync(kp)));
  const slabs = text === undefined ? {} : { slabObjects: preTraceSlabObjects(text, kpage), startPageblocks: startPageblocks(text, kpage) };
  const pcpTraffic = recordedPcpTraffic(tracePath, text, t); // the takes read once
  return { pagetypeinfo, kpage, ...(pagesets ? { pagesets } : {}), ...takes, ...slabs, ...(pcpTraffic ? { pcpTraffic } : {}) };
}

const PB_EVIDENCE = /(mm_page_alloc_zone_locked|mm_page_alloc|mm_page_alloc_extfrag|mm_page_free|mm_page_free_batched|mm_page_pcpu_drain): page=\S+ pfn=0x([0-9a-f]+) (?:order|alloc_order)=(\d+)(?: migratetype=(\d+)| fallback_order=(\d+) \S+ \S+ fallback_migratetype=(\d+))?|isolate_free_page: \S+ page=0x([0-9a-f]+) order=\d+ vmemmap_base=0x([0-9a-f]+)/g;

/**
 * The pageblocks whose type at the start a recording proves (StartInput.startPageblocks; pageblock
 * = pfn >> 9, ascending):
 * - Movable: compaction isolates migration targets only in Movable (or CMA) pageblocks (6.1/6.12
 *   mm/compaction.c suitable_migration_target(): is_migrate_movable(get_pageblock_migratetype(page));
 *   fast_isolate_freepages() searches MIGRATE_MOVABLE lists only), so an `isolate_free_page` kprobe
 *   entry names a pageblock Movable at that moment;
 * - the type a `mm_page_pcpu_drain` names for a page its owner freed (its last event before the
 *   drain is mm_page_free or mm_page_free_batched): free_unref_page_prepare() set the page's pcp type
 *   from its pageblock's type then (6.1 get_pfnblock_migratetype(); HighAtomic is listed Movable),
 *   6.12 prints the pageblock's type at the drain. A page a refill put on the list and the drain
 *   gave back unused names the type of the request instead, so it is no evidence;
 * - the type of the first take (`mm_page_alloc_zone_locked`; a fallback's mm_page_alloc_extfrag
 *   would have touched the pageblock first) from a pageblock that was one free block at the start
 *   (every page KPF_BUDDY in `kpage`) and that no page event touched before: __rmqueue_smallest()
 *   took the block off the list of the request's type, and a free block spanning whole pageblocks
 *   is listed under their type (6.1 __free_one_page() merges across pageblocks only of mergeable
 *   types and lists the result under the type of the pageblock the merge started in; 6.10+ lists
 *   every block under its pageblock's type).
 * - the fallback type of a stolen block of pageblock order or more: `mm_page_alloc_extfrag`'s page
 *   heads a block of fallback_order taken off the fallback_migratetype list (6.1/6.12
 *   __rmqueue_fallback()), listed under its pageblocks' type (as above); the steal retypes them
 *   after, so it is evidence only when nothing touched them before.
 * A pageblock was of that type at the start too unless something before it in the trace could have
 * retyped it: a fallback (every __rmqueue_fallback() emits mm_page_alloc_extfrag, 6.1/6.12; its
 * whole stolen block's pageblocks) or a take of another migratetype in it (mm_page_alloc_zone_locked
 * / mm_page_alloc: e.g. reserve_highatomic_pageblock() after an atomic take); such a pageblock is no
 * evidence. Conservative: a block of order > 9 taints all its pageblocks. The first evidence wins.
 */
export function startPageblocks(text: string, kpage?: Uint8Array): { pb: Int32Array; type: Uint8Array } {
  const tainted = new Set<number>(), pinned = new Map<number, number>();
  /** pageblocks any page event has touched so far */
  const touched = new Set<number>();
  const wholeFree = (b: number): boolean => {
    if (kpage === undefined || (b + 1) << PAGEBLOCK_ORDER > kpage.length) return false;
    for (let p = b << PAGEBLOCK_ORDER; p < (b + 1) << PAGEBLOCK_ORDER; p++) if (kpage[p] !== KP_BUDDY) return false;
    return true;
  };
  const pin = (b: number, mt: number): void => { if (!tainted.has(b) && !pinned.has(b)) pinned.set(b, mt); };
  /** pfns whose last page event was a free by their owner */
  const freed = new Set<number>();
  for (const m of text.matchAll(PB_EVIDENCE)) {
    if (m[1] === undefined) {
      pin(structPagePfn(m[7]!, m[8]!) >>> PAGEBLOCK_ORDER, MIGRATE_MOVABLE);
      continue;
    }
    const pfn = parseInt(m[2]!, 16), first = pfn >>> PAGEBLOCK_ORDER;
    const fresh = !touched.has(first);
    touched.add(first);
    if (m[1] === 'mm_page_alloc_zone_locked' && fresh && wholeFree(first)) pin(first, Number(m[4]));
    if (m[1] === 'mm_page_free' || m[1] === 'mm_page_free_batched') { freed.add(pfn); continue; }
    const wasFreed = freed.delete(pfn);
    if (m[1] === 'mm_page_pcpu_drain') {
      if (wasFreed) pin(first, Number(m[4]));
      continue;
    }
    if (m[1] === 'mm_page_alloc_extfrag' && m[5] !== undefined && Number(m[5]) >= PAGEBLOCK_ORDER) {
      for (let b = first; b < (pfn + (1 << Number(m[5]))) >>> PAGEBLOCK_ORDER; b++) pin(b, Number(m[6]));
    }
    if (m[1] !== 'mm_page_alloc_extfrag' && Number(m[4] ?? 1) === MIGRATE_MOVABLE) continue; // a Movable take retypes nothing
    const n = 1 << Math.max(Number(m[3]), Number(m[5] ?? 0)); // a steal retypes its whole block's pageblocks
    for (let b = first; b <= (pfn + n - 1) >>> PAGEBLOCK_ORDER; b++) tainted.add(b);
  }
  const pbs = [...pinned.keys()].sort((a, b) => a - b);
  return { pb: Int32Array.from(pbs), type: Uint8Array.from(pbs, (b) => pinned.get(b)!) };
}

/** The per-CPU lists a recording refills, as cpu * 64 + order * 4 + migratetype (StartInput.refilled). */
function refilledLists(t: BuddyTakes): number[] {
  const out = new Set<number>();
  for (let k = 0; k < t.pfn.length; k++) if (t.refill[k] === 1) out.add(t.cpu[k]! * 64 + t.order[k]! * 4 + t.migratetype[k]!);
  return [...out].sort((a, b) => a - b);
}

/** The per-zone figures the scorecard reads (a cell's metrics.zones.*, or a parsed snapshot's). */
export type ZoneFigures = Pick<ZoneFragMetrics, 'free_blocks' | 'unusable_index' | 'free_pages_by_type' | 'pageblocks'> & { free_pages?: number };

/** A recording's real snapshots as the scorecard needs them. */
export interface RecordingState {
  before: Record<string, ZoneFigures>;
  after: Record<string, ZoneFigures>;
  /** MemTotal - MemFree in pages, before and after (meminfo), when both are there */
  usedBefore?: number;
  usedAfter?: number;
}

/** mean over orders of |log2((sim + 1) / (real + 1))|: 1 means a factor of 2 per order on average. */
export function log2CountError(real: readonly number[], sim: readonly number[]): number {
  let s = 0;
  for (let o = 0; o < real.length; o++) s += Math.abs(Math.log2(((sim[o] ?? 0) + 1) / (real[o]! + 1)));
  return round4(s / real.length);
}

/** max over orders of |unusable_index(sim) - unusable_index(real)| (indices as decimals 0..1). */
export function maxUnusableDelta(real: readonly number[], sim: readonly number[]): number {
  let m = 0;
  for (let o = 0; o < real.length; o++) m = Math.max(m, Math.abs((sim[o] ?? 0) - real[o]!));
  return round4(m);
}

const round4 = (x: number): number => Math.round(x * 10000) / 10000;

function zoneFigures(zones: ZoneFreeState[]): Record<string, ZoneFigures> {
  return Object.fromEntries(zones.filter((z) => z.present !== 0).map((z) => [z.zone, zoneFragMetrics(z)]));
}

function usedPages(meminfo: string | undefined): number | undefined {
  if (meminfo === undefined) return undefined;
  const kb = (k: string): number | undefined => { const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(meminfo); return m ? Number(m[1]) : undefined; };
  const total = kb('MemTotal'), free = kb('MemFree');
  return total === undefined || free === undefined ? undefined : (total - free) / 4;
}

/**
 * The real before/after state of the recording at `tracePath` (before/ and after/ beside it:
 * pagetypeinfo, else buddyinfo; meminfo), or undefined when it has no after-state.
 */
export function recordingState(tracePath: string): RecordingState | undefined {
  const snaps = findSnapshots(tracePath);
  if (snaps === null) return undefined;
  const parse = (s: Record<string, string>, when: string): Record<string, ZoneFigures> | undefined =>
    s.pagetypeinfo !== undefined ? zoneFigures(parsePagetypeinfo(s.pagetypeinfo, `${when}/pagetypeinfo`))
      : s.buddyinfo !== undefined ? zoneFigures(parseBuddyinfo(s.buddyinfo, `${when}/buddyinfo`)) : undefined;
  const before = parse(snaps.before, 'before'), after = parse(snaps.after, 'after');
  if (after === undefined) return undefined;
  const usedBefore = usedPages(snaps.before.meminfo), usedAfter = usedPages(snaps.after.meminfo);
  return { before: before ?? {}, after, ...(usedBefore !== undefined ? { usedBefore } : {}), ...(usedAfter !== undefined ? { usedAfter } : {}) };
}

/** One scorecard line: recording × zone × strategy (`allocbench fidelity --json` prints these). */
export interface ScoreLine {
  recording: string;
  /** the recording folder (allocbench fidelity): two folders may hold runs of one recording name */
  folder?: string;
  zone: string;
  /** the recording's largest zone (largestZone()): the one the targets are checked on */
  largest: boolean;
  page: string;
  object: string;
  layers: string;
  start_from: string;
  /** free blocks per order 0..10 */
  real: number[];
  sim: number[];
  log2_count_error: number;
  max_unusable_delta: number;
  free_pages_by_type: { real: Record<string, number>; sim: Record<string, number> };
  pageblocks: { real: Record<string, number>; sim: Record<string, number> };
  /** mm_page_alloc_extfrag in the recording, simulated fallbacks (whole machine) */
  extfrag: { recorded: number; simulated: number };
  /** pages in use (MemTotal - MemFree) at the end and their change over the recording, whole machine */
  pages_in_use?: { real_end: number; sim_end: number; rel_error: number; real_change: number; sim_change: number };
  /** per-CPU list traffic in blocks, whole machine: recorded (metrics/pcp-traffic.ts) and simulated (pcp_* counters) */
  pcp?: { refill_blocks: { real: number; sim: number }; drain_blocks: { real: number; sim: number } };
  baselines: {
    nothing_changes: { sim: number[]; log2_count_error: number; max_unusable_delta: number };
    start_empty?: { sim: number[]; log2_count_error: number; max_unusable_delta: number };
  };
}

/**
 * How a table names a line: its recording, or its folder when another folder holds a recording of
 * that name (runs of one workload, allocbench fidelity).
 */
export function lineLabel(lines: readonly ScoreLine[]): (l: ScoreLine) => string {
  return (l) => (lines.some((o) => o.recording === l.recording && o.folder !== l.folder) ? l.folder ?? l.recording : l.recording);
}

function predictor(real: ZoneFigures, sim: ZoneFigures | undefined): { sim: number[]; log2_count_error: number; max_unusable_delta: number } | undefined {
  if (sim === undefined) return undefined;
  return { sim: sim.free_blocks, log2_count_error: log2CountError(real.free_blocks, sim.free_blocks), max_unusable_delta: maxUnusableDelta(real.unusable_index, sim.unusable_index) };
}

/** What the scorecard reads of a cell result (run/cell.ts CellResult). */
export interface ScoredCell {
  cell: { page: string; object: string };
  metrics: Record<string, unknown>;
}

/**
 * The scorecard lines of one cell replayed from a recording: per zone of the real after-state, the
 * model's end state against it, beside "nothing changes" (after = before) and "start empty" (the
 * cell's metrics.start_empty, present when it started from the before-state).
 */
export function scoreCell(recording: string, real: RecordingState, r: ScoredCell): ScoreLine[] {
  const m = r.metrics as {
    zones?: Record<string, ZoneFigures>; start?: { pre_trace_pages: number; free_pages: number }; start_empty?: { zones: Record<string, ZoneFigures> };
    attribution?: { layers: string }; recorded_extfrag?: number; page_counters?: Record<string, number>; free_pages?: number; managed_pages?: number;
    recorded_pcp?: { refill_blocks: number; drain_blocks: number };
  };
  const out: ScoreLine[] = [];
  let pagesInUse: ScoreLine['pages_in_use'];
  if (real.usedAfter !== undefined && real.usedBefore !== undefined && m.managed_pages !== undefined && m.free_pages !== undefined) {
    const simEnd = m.managed_pages - m.free_pages;
    const simStart = m.start ? m.start.pre_trace_pages : 0;
    pagesInUse = {
      real_end: real.usedAfter, sim_end: simEnd, rel_error: round4(Math.abs(simEnd - real.usedAfter) / real.usedAfter),
      real_change: real.usedAfter - real.usedBefore, sim_change: simEnd - simStart,
    };
  }
  // the recorded per-CPU list traffic (the cell's metrics.recorded_pcp) beside the model's pcp_* counters, whole machine
  const pc = m.page_counters, traffic = m.recorded_pcp;
  const pcp = traffic === undefined || pc === undefined ? undefined
    : { refill_blocks: { real: traffic.refill_blocks, sim: pc.pcp_refill_blocks ?? 0 }, drain_blocks: { real: traffic.drain_blocks, sim: pc.pcp_drain_blocks ?? 0 } };
  const main = largestZone(real);
  for (const [zone, after] of Object.entries(real.after)) {
    const sim = m.zones?.[zone];
    if (sim === undefined) continue;
    const nothing = predictor(after, real.before[zone]);
    const empty = predictor(after, m.start_empty?.zones[zone]);
    out.push({
      recording, zone, largest: zone === main, page: r.cell.page, object: r.cell.object,
      layers: m.attribution?.layers ?? 'none', start_from: m.start ? 'before' : 'empty',
      real: after.free_blocks, sim: sim.free_blocks,
      log2_count_error: log2CountError(after.free_blocks, sim.free_blocks),
      max_unusable_delta: maxUnusableDelta(after.unusable_index, sim.unusable_index),
      free_pages_by_type: { real: after.free_pages_by_type, sim: sim.free_pages_by_type },
      pageblocks: { real: after.pageblocks, sim: sim.pageblocks },
      extfrag: { recorded: m.recorded_extfrag ?? 0, simulated: m.page_counters?.extfrag_events ?? 0 },
      ...(pagesInUse ? { pages_in_use: pagesInUse } : {}),
      ...(pcp ? { pcp } : {}),
      baselines: { nothing_changes: nothing ?? { sim: [], log2_count_error: NaN, max_unusable_delta: NaN }, ...(empty ? { start_empty: empty } : {}) },
    });
  }
  return out;
}

/** The recording's largest zone (most pageblocks): the one the targets are measured on. */
export function largestZone(real: RecordingState): string | undefined {
  let best: string | undefined, n = -1;
  for (const [z, f] of Object.entries(real.after)) {
    const pb = Object.values(f.pageblocks).reduce((a, b) => a + b, 0);
    if (pb > n) { n = pb; best = z; }
  }
  return best;
}
