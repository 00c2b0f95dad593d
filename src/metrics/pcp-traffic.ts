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
  if (!/\.ftrace(\.gz)?$/.test(tracePath)) return undefined;
  const raw = readFileSync(tracePath);
  const text = (tracePath.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
  return { refill_blocks: count(text, 'percpu_refill=1'), drain_blocks: count(text, 'mm_page_pcpu_drain:') };
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}
