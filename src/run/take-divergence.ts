import type { MachineConfig } from '../machine/memory-map.js';
import type { StartInput } from '../machine/start-state.js';
import { ftraceText, lineCounter, recordedBuddyTakes, type BuddyTakes } from '../metrics/pcp-traffic.js';
import { PAGEBLOCK_ORDER, structPagePfn } from '../machine/page-geometry.js';
import { BuddyAllocator } from '../page/buddy.js';
import type { Trace } from '../trace/trace.js';
import { runCell, type CellSpec } from './cell.js';
import { compareDrains, recordedDrains, watchDrains, type DrainDivergence } from './drain-divergence.js';

/**
 * The divergence diagnostic of a kernel recording (`allocbench fidelity --diverge N`): the model
 * replays the recording from its before-state and every block its buddy takes off the free lists
 * (a per-CPU refill's or a direct allocation's __rmqueue()) is set beside the recording's take of
 * the same rank within its (order, migratetype) (`mm_page_alloc_zone_locked`, in trace order).
 * Once one take differs the states differ, so the first divergences say which rule is wrong: for
 * each, the recorded block's place in the model at that moment (`free o mtM #i`: on the model's
 * order-o list of type M, i-th from the head; `pcp mtM`; `allocated o`; `pre-trace`) and the
 * recording's last event on that pfn before the take.
 */
export interface TakeDivergence {
  recording: string;
  page: string;
  /** the kernel version whose rules the buddy followed (the cell's metrics.page_rules) */
  rules?: string;
  real_takes: number;
  model_takes: number;
  /** recorded takes whose pfn the model's take of the same rank within the same (order, migratetype) has */
  same_rank: number;
  /** recorded takes whose pfn the model also took within ±window ranks */
  near: number;
  window: number;
  /** rank of the first take that differs (-1: none) */
  first: number;
  /** takes per class `o<order>/mt<type>`: [real, model] */
  by_class: Record<string, [number, number]>;
  /** the first N differing takes, one line each */
  examples: string[];
  /**
   * compaction's migration targets: the recorded isolations (kprobe __isolate_free_page, the
   * kernel's free scanner) against the blocks the model's free scanner chose for them, k-th with
   * k-th; the first N in another pageblock are described
   */
  targets: { real: number; model: number; same_pfn: number; same_pageblock: number; examples: string[] };
  /** the per-CPU list drains (run/drain-divergence.ts) */
  drains: DrainDivergence;
}

interface ModelTake { pfn: number; order: number; mt: number; fallback: boolean; where: string }

const EVENT = /^[^\n]*?\[(\d+)\][^\n]*?(mm_page_free|mm_page_pcpu_drain|mm_page_alloc|mm_page_alloc_zone_locked|mm_page_free_batched): page=\S+ pfn=0x([0-9a-f]+) order=(\d+)/gm;

/** Per pfn, the trace lines (ascending) of the page events naming it, with the event's name. */
function pfnHistory(text: string): Map<number, { line: number; what: string }[]> {
  const out = new Map<number, { line: number; what: string }[]>();
  const lineOf = lineCounter(text);
  for (const m of text.matchAll(EVENT)) {
    const line = lineOf(m.index);
    const pfn = parseInt(m[3]!, 16);
    let l = out.get(pfn);
    if (l === undefined) out.set(pfn, (l = []));
    l.push({ line, what: `${m[2]!.replace('mm_page_', '')} o${m[4]} cpu${Number(m[1])}` });
  }
  return out;
}

/** A take's class: the model and the kernel are compared within each (order, migratetype). */
const classOf = (order: number, mt: number): number => order * 8 + mt;

/**
 * Replays `cell` (a buddy page strategy) on the recording at `tracePath` from `start` and compares
 * its buddy-level takes with the recorded ones; `n` differences are described. Undefined for a
 * trace that is not ftrace text.
 */
export function takeDivergence(
  tracePath: string, recording: string, cell: CellSpec, trace: Trace, config: MachineConfig, start: StartInput, n: number, window = 256,
  text = ftraceText(tracePath),
): TakeDivergence | undefined {
  const real = recordedBuddyTakes(tracePath, text);
  if (real === undefined || text === undefined) return undefined;
  const realTargets = recordedTargets(text);
  const modelTargets: { pfn: number; order: number; where: string }[] = [];
  // per class, the recorded takes' indexes in trace order; model takes are matched to them by rank
  const byClass = new Map<number, number[]>();
  for (let k = 0; k < real.pfn.length; k++) {
    const c = classOf(real.order[k]!, real.migratetype[k]!);
    let l = byClass.get(c);
    if (l === undefined) byClass.set(c, (l = []));
    l.push(k);
  }
  const seen = new Map<number, number>();
  /** per recorded take: the model's take of the same class and rank (undefined: the model made fewer) */
  const paired: (ModelTake | undefined)[] = new Array(real.pfn.length);
  const modelPfns: number[] = [];
  let modelTakes = 0, described = 0, done = false;
  const locateIn = (pfn: number): string => {
    const owner = buddiesOf.find((x) => x.b !== null && pfn >= x.z.startPfn && pfn < x.z.startPfn + x.z.spanned);
    return owner === undefined ? 'outside the zones' : owner.b!.locate(pfn - owner.z.startPfn);
  };
  let buddiesOf: { z: { startPfn: number; spanned: number; name?: string }; b: BuddyAllocator | null }[] = [];
  let modelDrains: ReturnType<typeof watchDrains> = [];
  const onStart = (machine: { zones: { startPfn: number; spanned: number; name?: string; strategy: unknown }[]; cpuCursor: { cpu: number } }): void => {
    const buddies = buddiesOf = machine.zones.map((z) => ({ z, b: z.strategy instanceof BuddyAllocator ? z.strategy : null }));
    modelDrains = watchDrains(buddies.flatMap(({ z, b }) => (b === null ? [] : [{ startPfn: z.startPfn, b }])), () => machine.cpuCursor.cpu);
    for (const { z, b } of buddies) {
      if (b === null) continue;
      // the model's compaction targets (its free scanner), set beside the recorded isolations
      const scanner = b.allocCompactionTarget.bind(b);
      b.allocCompactionTarget = (order: number, large?: boolean): number => {
        const k = modelTargets.length, r = realTargets[k];
        // where the kernel's block is in the model before the model's scanner takes one
        const where = r === undefined || done ? '' : locateIn(r.pfn);
        const p = scanner(order, large);
        if (!done && p >= 0) modelTargets.push({ pfn: z.startPfn + p, order, where });
        return p;
      };
      b.onTake = (pfn, order, mt, fallback) => {
        if (done) return;
        const c = classOf(order, mt), r = seen.get(c) ?? 0;
        seen.set(c, r + 1);
        modelTakes++;
        modelPfns.push(z.startPfn + pfn);
        const k = byClass.get(c)?.[r];
        if (k === undefined) return;
        let where = '';
        // differences are described as the model meets them, which is not the recording's order:
        // describe up to 50 N, print the first N in the recording's order
        if (real.pfn[k] !== z.startPfn + pfn && described < 50 * n) {
          described++;
          where = locateIn(real.pfn[k]!);
        }
        paired[k] = { pfn: z.startPfn + pfn, order, mt, fallback, where };
      };
    }
  };
  // inspect: the replay has ended (the high-order probe after it is no take of the recording)
  let drainsAtEnd = 0;
  const rules = runCell(cell, trace, config, { start, samples: 0, startEmpty: false, onStart, inspect: () => { done = true; drainsAtEnd = modelDrains.length; } }).metrics.page_rules;
  let same = 0, first = -1, pairs = 0;
  for (let k = 0; k < real.pfn.length; k++) {
    const m = paired[k];
    if (m === undefined) continue;
    pairs++;
    if (m.pfn === real.pfn[k]) same++;
    else if (first < 0) first = k;
  }
  // near: the recorded pfn is among the model's takes within ±window of the same overall rank
  const ranks = new Map<number, number[]>();
  modelPfns.forEach((p, k) => { let l = ranks.get(p); if (l === undefined) ranks.set(p, (l = [])); l.push(k); });
  let near = 0;
  for (let k = 0; k < real.pfn.length; k++) if (ranks.get(real.pfn[k]!)?.some((r) => Math.abs(r - k) <= window)) near++;
  const history = n > 0 ? pfnHistory(text) : new Map<number, { line: number; what: string }[]>();
  const examples: string[] = [];
  for (let k = 0; k < real.pfn.length && examples.length < n; k++) {
    const m = paired[k];
    if (m !== undefined && m.where !== '') examples.push(describe(real, k, m, history));
  }
  let tSame = 0, tBlock = 0;
  const tExamples: string[] = [];
  for (let k = 0; k < Math.min(realTargets.length, modelTargets.length); k++) {
    const r = realTargets[k]!, m = modelTargets[k]!;
    if (r.pfn === m.pfn) tSame++;
    if (r.pfn >>> PAGEBLOCK_ORDER === m.pfn >>> PAGEBLOCK_ORDER) tBlock++;
    else if (tExamples.length < n) {
      tExamples.push(`#${k} line ${r.line} ${r.task} order ${r.order}: real ${hex(r.pfn)} (pageblock ${r.pfn >>> PAGEBLOCK_ORDER}) [model: ${m.where}]`
        + ` model ${hex(m.pfn)} order ${m.order} (pageblock ${m.pfn >>> PAGEBLOCK_ORDER})`);
    }
  }
  const pairsT = Math.min(realTargets.length, modelTargets.length);
  const targets = {
    real: realTargets.length, model: modelTargets.length,
    same_pfn: pairsT === 0 ? 0 : tSame / pairsT, same_pageblock: pairsT === 0 ? 0 : tBlock / pairsT, examples: tExamples,
  };
  const by_class: Record<string, [number, number]> = {};
  for (const c of [...new Set([...byClass.keys(), ...seen.keys()])].sort((a, b) => a - b)) by_class[`o${c >> 3}/mt${c & 7}`] = [byClass.get(c)?.length ?? 0, seen.get(c) ?? 0];
  return {
    recording, page: cell.page, ...(typeof rules === 'string' ? { rules } : {}), real_takes: real.pfn.length, model_takes: modelTakes, by_class,
    same_rank: pairs === 0 ? 0 : same / pairs, near: real.pfn.length === 0 ? 0 : near / real.pfn.length, window, first, examples, targets,
    drains: drainsOfBusiestZone(recordedDrains(text), modelDrains.slice(0, drainsAtEnd), n, buddiesOf),
  };
}

const ISOLATION = /^\s*(\S+)\s+\[(\d+)\][^\n]*? isolate_free_page(?:: \S+ page=0x([0-9a-f]+) order=(\d+) vmemmap_base=0x([0-9a-f]+)|_ret: [^\n]*? ret=(\S+))/gm;

/**
 * The recording's compaction isolations in trace order: pfn = (page - vmemmap_base) / sizeof(struct
 * page). An entry whose return (the next isolate_free_page_ret on its CPU) is 0 was refused by the
 * watermark check and made no target, as the loader drops it (trace/kernel.ts isolationsRefused):
 * kept, it would pair every later target with the isolation before its own.
 */
export function recordedTargets(text: string): { pfn: number; order: number; line: number; task: string }[] {
  const lineOf = lineCounter(text);
  const out: { pfn: number; order: number; line: number; task: string }[] = [];
  /** per CPU, the index in `out` of the entry waiting for its return */
  const open = new Map<string, number>();
  const refused = new Set<number>();
  for (const m of text.matchAll(ISOLATION)) {
    const cpu = m[2]!;
    if (m[6] === undefined) {
      open.set(cpu, out.length);
      out.push({ pfn: structPagePfn(m[3]!, m[5]!), order: Number(m[4]), line: lineOf(m.index), task: m[1]! });
      continue;
    }
    const k = open.get(cpu);
    open.delete(cpu);
    if (k !== undefined && /^(0x)?0+$/.test(m[6])) refused.add(k);
  }
  return out.filter((_, k) => !refused.has(k));
}

const hex = (p: number): string => `0x${p.toString(16)}`;

/** The drain comparison of the zone with the most recorded drains. */
function drainsOfBusiestZone(real: ReturnType<typeof recordedDrains>, model: ReturnType<typeof recordedDrains>, n: number, zones: { z: { startPfn: number; spanned: number; name?: string } }[]): DrainDivergence {
  let best: DrainDivergence | undefined;
  for (const { z } of zones) {
    const d = compareDrains(real, model, n, z.startPfn, z.startPfn + z.spanned);
    if (best === undefined || d.real > best.real) best = { ...d, zone: z.name ?? '' };
  }
  return best ?? compareDrains(real, model, n, 0, 0);
}

function describe(real: BuddyTakes, k: number, m: ModelTake, history: Map<number, { line: number; what: string }[]>): string {
  const line = real.line[k]!, rp = real.pfn[k]!;
  const before = (history.get(rp) ?? []).filter((h) => h.line < line);
  const last = before.length === 0 ? 'none before' : `${before[before.length - 1]!.what} at line ${before[before.length - 1]!.line}`;
  return `#${k} line ${line} cpu${real.cpu[k]} order ${real.order[k]} mt${real.migratetype[k]}: real ${hex(rp)} [model: ${m.where}; recording's last event on it: ${last}]`
    + ` model ${hex(m.pfn)} order ${m.order} mt${m.mt}${m.fallback ? ' (fallback)' : ''}`;
}

/** The text of a divergence report. */
export function formatDivergence(d: TakeDivergence): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return `${d.recording} ${d.page}${d.rules === undefined ? '' : ` (${d.rules} rules)`}: buddy-level takes real ${d.real_takes} model ${d.model_takes}; same pfn at the same rank of its (order, type) ${pct(d.same_rank)}`
    + ` (first difference at take #${d.first}); recorded takes the model also makes within ±${d.window} ranks ${pct(d.near)}\n`
    + `  takes per order/type real/model: ${Object.entries(d.by_class).map(([c, [r, m]]) => `${c} ${r}/${m}`).join(', ')}\n`
    + d.examples.map((e) => `  ${e}\n`).join('')
    + `  compaction targets real ${d.targets.real} model ${d.targets.model}: same pfn ${pct(d.targets.same_pfn)}, same pageblock ${pct(d.targets.same_pageblock)}`
    + d.targets.examples.map((e) => `\n  ${e}`).join('')
    + `\n  per-CPU list drains (${d.drains.zone}) real ${d.drains.real} model ${d.drains.model}: same pages ${pct(d.drains.same_pages)}, same pages from the same first page ${pct(d.drains.same_first)} (first difference at drain #${d.drains.first})`
    + d.drains.examples.map((e) => `\n  ${e}`).join('');
}
