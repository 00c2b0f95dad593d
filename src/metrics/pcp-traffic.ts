import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { snapshotWindow } from '../trace/snapshot-window.js';

/**
 * The buddy-level traffic of the per-CPU page lists in a kernel recording (ftrace text, .gz or
 * plain), counted in blocks: `mm_page_alloc_zone_locked … percpu_refill=1` (a block taken from the
 * free lists under zone->lock for a pcp list: rmqueue_bulk()) and `mm_page_pcpu_drain` (a block
 * free_pcppages_bulk() gave back). What the simulated counters pcp_refill_blocks and
 * pcp_drain_blocks count. Undefined for a file that is not ftrace text.
 */
export function recordedPcpTraffic(tracePath: string, text = ftraceText(tracePath)): { refill_blocks: number; drain_blocks: number } | undefined {
  if (text === undefined) return undefined;
  return { refill_blocks: count(text, 'percpu_refill=1'), drain_blocks: count(text, 'mm_page_pcpu_drain:') };
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

/** One buddy-level take of a recording: `mm_page_alloc_zone_locked` (6.1 and 6.12 __rmqueue_smallest()). */
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

const TAKE = /\[(\d+)\][^\n]*?mm_page_alloc_zone_locked: page=\S+ pfn=0x([0-9a-f]+) order=(\d+) migratetype=(\d+) percpu_refill=(\d)/g;

/**
 * Every block the recorded kernel took off its buddy free lists, in trace order
 * (`mm_page_alloc_zone_locked`: each __rmqueue_smallest() hit, a per-CPU refill's or a direct
 * allocation's; compaction's __isolate_free_page() is not among them). Undefined for a file that is
 * not ftrace text.
 */
export function recordedBuddyTakes(tracePath: string, text = ftraceText(tracePath)): BuddyTakes | undefined {
  if (text === undefined) return undefined;
  const pfn: number[] = [], order: number[] = [], mt: number[] = [], refill: number[] = [], cpu: number[] = [], line: number[] = [];
  const lineOf = lineCounter(text);
  for (const m of text.matchAll(TAKE)) {
    const ln = lineOf(m.index);
    cpu.push(Number(m[1])); pfn.push(parseInt(m[2]!, 16)); order.push(Number(m[3])); mt.push(Number(m[4])); refill.push(Number(m[5])); line.push(ln);
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
 * or the page's pageblock type then (6.12). Pairs pfn → type for those pfns only, ascending pfn.
 */
export function pcpStartTypes(tracePath: string, text = ftraceText(tracePath)): { pfn: Int32Array; type: Uint8Array } | undefined {
  if (text === undefined) return undefined;
  const seen = new Map<number, number>(); // pfn → type of a candidate's first sight, -1 otherwise
  for (const m of text.matchAll(SIGHT)) {
    const pfn = parseInt(m[2]!, 16);
    if (seen.has(pfn)) continue;
    seen.set(pfn, (m[1] === 'mm_page_alloc' || m[1] === 'mm_page_pcpu_drain') && m[3] !== undefined ? Number(m[3]) : -1);
  }
  const pairs = [...seen].filter(([, t]) => t >= 0).sort((a, b) => a[0] - b[0]);
  return { pfn: Int32Array.from(pairs, (p) => p[0]), type: Uint8Array.from(pairs, (p) => p[1]) };
}
