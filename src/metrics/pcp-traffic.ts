import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/**
 * The buddy-level traffic of the per-CPU page lists in a kernel recording (ftrace text, .gz or
 * plain), counted in blocks: `mm_page_alloc_zone_locked … percpu_refill=1` (a block taken from the
 * free lists under zone->lock for a pcp list: rmqueue_bulk()) and `mm_page_pcpu_drain` (a block
 * free_pcppages_bulk() gave back). What the simulated counters pcp_refill_blocks and
 * pcp_drain_blocks count. Undefined for a file that is not ftrace text.
 */
export function recordedPcpTraffic(tracePath: string): { refill_blocks: number; drain_blocks: number } | undefined {
  const text = ftraceText(tracePath);
  if (text === undefined) return undefined;
  return { refill_blocks: count(text, 'percpu_refill=1'), drain_blocks: count(text, 'mm_page_pcpu_drain:') };
}

/** The text of an ftrace recording (.ftrace or .ftrace.gz), undefined for another format. */
function ftraceText(tracePath: string): string | undefined {
  if (!/\.ftrace(\.gz)?$/.test(tracePath)) return undefined;
  const raw = readFileSync(tracePath);
  return (tracePath.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
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

const TAKE = /\[(\d+)\][^\n]*?mm_page_alloc_zone_locked: page=\S+ pfn=0x([0-9a-f]+) order=(\d+) migratetype=(\d+) percpu_refill=(\d)/g;

/**
 * Every block the recorded kernel took off its buddy free lists, in trace order
 * (`mm_page_alloc_zone_locked`: each __rmqueue_smallest() hit, a per-CPU refill's or a direct
 * allocation's; compaction's __isolate_free_page() is not among them). Undefined for a file that is
 * not ftrace text.
 */
export function recordedBuddyTakes(tracePath: string): BuddyTakes | undefined {
  const text = ftraceText(tracePath);
  if (text === undefined) return undefined;
  const pfn: number[] = [], order: number[] = [], mt: number[] = [], refill: number[] = [], cpu: number[] = [], line: number[] = [];
  let ln = 1, at = 0;
  for (const m of text.matchAll(TAKE)) {
    for (let i = text.indexOf('\n', at); i >= 0 && i < m.index; i = text.indexOf('\n', i + 1)) { ln++; at = i + 1; }
    cpu.push(Number(m[1])); pfn.push(parseInt(m[2]!, 16)); order.push(Number(m[3])); mt.push(Number(m[4])); refill.push(Number(m[5])); line.push(ln);
  }
  return { pfn: Int32Array.from(pfn), order: Uint8Array.from(order), migratetype: Uint8Array.from(mt), refill: Uint8Array.from(refill), cpu: Int32Array.from(cpu), line: Int32Array.from(line) };
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}
