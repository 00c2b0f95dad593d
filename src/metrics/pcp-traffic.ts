import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { recordingKernel } from '../machine/recorded-machine.js';
import { rulesForKernel } from '../page/kernel-version.js';
import { PerCpuPages } from '../page/pcp.js';
import { snapshotWindow } from '../trace/snapshot-window.js';

/**
 * The buddy-level traffic of the per-CPU page lists in a kernel recording (ftrace text, .gz or
 * plain), counted in blocks: `mm_page_alloc_zone_locked … percpu_refill=1` (a block taken from the
 * free lists under zone->lock for a pcp list: rmqueue_bulk()) and `mm_page_pcpu_drain` (a block
 * free_pcppages_bulk() gave back; a 6.10+ fallback's untraced take counts as recordedBuddyTakes()
 * reads it). What the simulated counters pcp_refill_blocks and pcp_drain_blocks count. Undefined
 * for a file that is not ftrace text.
 */
export function recordedPcpTraffic(tracePath: string, text = ftraceText(tracePath), takes = recordedBuddyTakes(tracePath, text)): { refill_blocks: number; drain_blocks: number } | undefined {
  if (text === undefined || takes === undefined) return undefined;
  let refills = 0;
  for (let k = 0; k < takes.refill.length; k++) refills += takes.refill[k]!;
  return { refill_blocks: refills, drain_blocks: count(text, 'mm_page_pcpu_drain:') };
}

/**
 * The text of an ftrace recording (.ftrace or .ftrace.gz), undefined for another format. In a
 * recording with snapshot markers the lines outside its snapshot window (trace/snapshot-window.ts)
 * are left empty, as the loader leaves them out: what is read from the text is what is replayed,
 * and line numbers stay the file's.
 */
export function ftraceText(tracePath: string): string | undefined {
  if (!/\.ftrace(\.gz)?$/.test(tracePath)) return undefined;
  const raw = readFileSync(tracePath);
  const bytes = tracePath.endsWith('.gz') ? gunzipSync(raw) : raw;
  const w = snapshotWindow(bytes);
  if (w === null) return bytes.toString('latin1');
  return '\n'.repeat(newlines(bytes, 0, w.start)) + bytes.toString('latin1', w.start, w.end) + '\n'.repeat(newlines(bytes, w.end, bytes.length));
}

function newlines(b: Buffer, p: number, e: number): number {
  let n = 0;
  for (let i = b.indexOf(10, p); i >= 0 && i < e; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** One buddy-level take of a recording (recordedBuddyTakes()). */
export interface BuddyTakes {
  pfn: Int32Array;
  order: Uint8Array;
  migratetype: Uint8Array;
  /** 1 when percpu_refill=1 */
  refill: Uint8Array;
  cpu: Int32Array;
  /** the trace line of each take (1-based) */
  line: Int32Array;
}

/** For offsets given in ascending order: the 1-based line of each in `text`. */
export function lineCounter(text: string): (offset: number) => number {
  let line = 1, at = 0;
  return (offset) => {
    for (let i = text.indexOf('\n', at); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) { line++; at = i + 1; }
    return line;
  };
}

/** MIGRATE_PCPTYPES: the types with per-CPU lists */
const PCPTYPES = 3;

const TAKE = /\[(\d+)\][^\n]*?mm_page_alloc_(?:zone_locked: page=\S+ pfn=0x([0-9a-f]+) order=(\d+) migratetype=(\d+) percpu_refill=(\d)|extfrag: page=\S+ pfn=0x([0-9a-f]+) alloc_order=(\d+) \S+ \S+ alloc_migratetype=(\d+))/g;

/**
 * Every block the recorded kernel took off its buddy free lists, in trace order
 * (`mm_page_alloc_zone_locked`: each __rmqueue_smallest() hit, a per-CPU refill's or a direct
 * allocation's; compaction's __isolate_free_page() is not among them). The kernel of the recording
 * (its machine.json beside the trace, else `kernel`) says whether a fallback's take is among them
 * (BuddyRules.fallbackTakeTraced): on 6.10+ one that is not is read from its
 * `mm_page_alloc_extfrag` (the taken block's pfn, the request's order and type; percpu_refill as
 * the tracepoint would have printed it, pcp_allowed_order() && a pcp type). Undefined for a file
 * that is not ftrace text.
 */
export function recordedBuddyTakes(tracePath: string, text = ftraceText(tracePath), kernel = recordingKernel(tracePath)): BuddyTakes | undefined {
  if (text === undefined) return undefined;
  const untraced = rulesForKernel(kernel)?.fallbackTakeTraced === false;
  const pfn: number[] = [], order: number[] = [], mt: number[] = [], refill: number[] = [], cpu: number[] = [], line: number[] = [];
  /** per CPU, the pfn of its last traced take: a claimed block's take is traced just before its extfrag event */
  const lastTake = new Map<number, number>();
  const lineOf = lineCounter(text);
  for (const m of text.matchAll(TAKE)) {
    const c = Number(m[1]);
    if (m[2] !== undefined) {
      const p = parseInt(m[2], 16);
      lastTake.set(c, p);
      cpu.push(c); pfn.push(p); order.push(Number(m[3])); mt.push(Number(m[4])); refill.push(Number(m[5])); line.push(lineOf(m.index));
      continue;
    }
    const p = parseInt(m[6]!, 16);
    if (!untraced || lastTake.get(c) === p) continue;
    const o = Number(m[7]), t = Number(m[8]);
    cpu.push(c); pfn.push(p); order.push(o); mt.push(t); refill.push(PerCpuPages.allowed(o) && t < PCPTYPES ? 1 : 0); line.push(lineOf(m.index));
  }
  return { pfn: Int32Array.from(pfn), order: Uint8Array.from(order), migratetype: Uint8Array.from(mt), refill: Uint8Array.from(refill), cpu: Int32Array.from(cpu), line: Int32Array.from(line) };
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

const SIGHT = /(mm_page_alloc|mm_page_free|mm_page_pcpu_drain|mm_page_alloc_zone_locked): page=\S+ pfn=0x([0-9a-f]+) order=\d+(?: migratetype=(\d+))?/g;

/**
 * The per-CPU list of a recording's start each pcp candidate was on (kernel.ts pcpStartFree: a pfn
 * first seen by `mm_page_alloc` or `mm_page_pcpu_drain`): the migratetype that event names. An
 * allocation from a per-CPU list takes the list of its request's type (6.1/6.12
 * order_to_pindex()); a drain names the type of the list it empties (6.1 get_pcppage_migratetype())
 * or the page's pageblock type then (6.12). Pairs pfn → type for those pfns only, ascending pfn;
 * `drained` is 1 where that first event is the drain (the page sat at its list's tail end: 6.1/6.12
 * free_pcppages_bulk() takes list_last_entry(), rmqueue_pcplist() the head).
 */
export function pcpStartTypes(tracePath: string, text = ftraceText(tracePath)): { pfn: Int32Array; type: Uint8Array; drained: Uint8Array } | undefined {
  if (text === undefined) return undefined;
  const seen = new Map<number, number>(); // pfn → type of a candidate's first sight (+ 8 for a drain), -1 otherwise
  for (const m of text.matchAll(SIGHT)) {
    const pfn = parseInt(m[2]!, 16);
    if (seen.has(pfn)) continue;
    seen.set(pfn, (m[1] === 'mm_page_alloc' || m[1] === 'mm_page_pcpu_drain') && m[3] !== undefined ? Number(m[3]) + (m[1] === 'mm_page_pcpu_drain' ? 8 : 0) : -1);
  }
  const pairs = [...seen].filter(([, t]) => t >= 0).sort((a, b) => a[0] - b[0]);
  return { pfn: Int32Array.from(pairs, (p) => p[0]), type: Uint8Array.from(pairs, (p) => p[1] & 7), drained: Uint8Array.from(pairs, (p) => p[1] >> 3) };
}
