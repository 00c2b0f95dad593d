/**
 * The page allocations of vmalloc() that a kernel recording does not show (issue 13). 6.1/6.12
 * __vmalloc_area_node() takes an area's pages with vm_area_alloc_pages() →
 * alloc_pages_bulk_array_mempolicy() → __alloc_pages_bulk(), which takes order-0 pages straight
 * from the per-CPU list (__rmqueue_pcplist()) with no mm_page_alloc event; only a page it cannot
 * get that way goes through __alloc_pages() (traced). Every fork whose stack is not in the per-CPU
 * stack cache vmallocs a 16 KiB stack this way (CONFIG_VMAP_STACK): 62 areas, 248 pages, on the
 * bundled fork-fragment, a third of the Unmovable refills the kernel made that a replay without them
 * does not make. Their frees are traced (vfree(), often from a kworker): a mm_page_free of a page
 * that had no allocation since its last free.
 *
 * The recording shows each area twice: `kmalloc: call_site=__vmalloc_node_range(_noprof)…` is the
 * area's page array (bytes_req = 8 × its pages), allocated just before the pages; vfree()
 * (__vunmap() on 6.1, vfree() on 6.12) frees the pages, one mm_page_free each on its CPU, then that
 * array (`kfree: … ptr=` the same). So an area is found by its array, its count is bytes_req / 8,
 * and its pages are the last mm_page_free lines of the CPU of the array's kfree before that kfree.
 * An area the trace never frees keeps unknown pages.
 */

const MARK = Buffer.from('call_site=__vmalloc_node_range');
const KFREE = Buffer.from(' kfree: ');
const PAGE_FREE = ' mm_page_free: ';

/**
 * A vmalloc area of a recording, by its page array's kmalloc: the pages bulk-allocated untraced
 * there. With the area's vfree in the trace, the pages it freed (pfns, orders) less those a traced
 * mm_page_alloc took after the array (under memory pressure __alloc_pages_bulk() gives up and
 * vm_area_alloc_pages() takes the rest one by one through alloc_pages_node(), traced); without it,
 * `unknown` order-0 pages whose pfns the trace does not say.
 */
export interface VmallocArea {
  pfns: number[];
  orders: number[];
  unknown: number;
}

function lineAt(s: Buffer, at: number): { start: number; end: number } {
  const start = s.lastIndexOf(10, at) + 1;
  let end = s.indexOf(10, at);
  if (end < 0) end = s.length;
  return { start, end };
}

/** the CPU column `[NNN]` of a line (the last bracketed number before the timestamp), -1 without one */
function cpuOf(line: string): number {
  const m = /\[(\d+)\]\s/.exec(line);
  return m === null ? -1 : Number(m[1]);
}

/**
 * The vmalloc areas of the text in [from, to), by the byte offset of the line of each area's page
 * array kmalloc.
 */
export function vmallocAreas(s: Buffer, from: number, to: number): Map<number, VmallocArea> {
  const out = new Map<number, VmallocArea>();
  /** each area's array ptr= and line start, in text order */
  const arrays: { ptr: string; at: number }[] = [];
  for (let at = s.indexOf(MARK, from); at >= 0 && at < to; at = s.indexOf(MARK, at + MARK.length)) {
    const { start, end } = lineAt(s, at);
    const line = s.toString('latin1', start, end);
    const m = / kmalloc: .*? ptr=([0-9a-f]+) bytes_req=(\d+)/.exec(line);
    if (m === null || m[1]!.length < 8 || /^0+$/.test(m[1]!)) continue;
    const pages = Math.floor(Number(m[2]) / 8);
    if (pages < 1) continue;
    out.set(start, { pfns: [], orders: [], unknown: pages });
    arrays.push({ ptr: m[1]!, at: start });
  }
  if (arrays.length === 0) return out;
  /** ptr= of each live area's array → the line start of its kmalloc (an array's address is reused once freed) */
  const open = new Map<string, number>();
  /** the areas whose vfree the trace shows, each with its page frees (pfn, order, line start) in text order */
  const freed: { area: VmallocArea; at: number; pfns: number[]; orders: number[]; lineOf: number[] }[] = [];
  let next = 0;
  for (let at = s.indexOf(KFREE, from); at >= 0 && at < to; at = s.indexOf(KFREE, at + KFREE.length)) {
    const { start, end } = lineAt(s, at);
    for (; next < arrays.length && arrays[next]!.at < start; next++) open.set(arrays[next]!.ptr, arrays[next]!.at);
    const line = s.toString('latin1', start, end);
    const m = / ptr=([0-9a-f]+)/.exec(line);
    if (m === null) continue;
    const areaAt = open.get(m[1]!);
    if (areaAt === undefined) continue;
    open.delete(m[1]!);
    const area = out.get(areaAt)!;
    const cpu = cpuOf(line);
    // back from the kfree: the area's page frees are the last mm_page_free lines of this CPU
    const pfns: number[] = [], orders: number[] = [], lineOf: number[] = [];
    let p = start - 1;
    for (let looked = 0; p > areaAt && pfns.length < area.unknown && looked < 8 * area.unknown + 16; looked++) {
      const ls = s.lastIndexOf(10, p - 1) + 1;
      const l = s.toString('latin1', ls, p);
      p = ls - 1;
      if (cpuOf(l) !== cpu) continue;
      if (!l.includes(PAGE_FREE)) break;
      const f = /pfn=0x([0-9a-f]+) order=(\d+)/.exec(l);
      if (f === null) break;
      pfns.push(parseInt(f[1]!, 16)); orders.push(Number(f[2])); lineOf.push(ls);
    }
    if (pfns.length !== area.unknown) continue;
    area.unknown = 0;
    freed.push({ area, at: areaAt, pfns: pfns.reverse(), orders: orders.reverse(), lineOf: lineOf.reverse() });
  }
  // each page's last event between its area's array and its free: a traced allocation (the page was
  // not bulk-allocated), or none. The mentions of the pages of all areas, found in one pass: searching
  // back from each free for its page cost 1.1 s of a 1.7 s load of a bundled SMP recording, whose
  // areas live across megabytes of text.
  if (freed.length === 0) return out;
  const wanted = new Set(freed.flatMap((f) => f.pfns));
  let lo = to, hi = from;
  for (const f of freed) { lo = Math.min(lo, f.at); hi = Math.max(hi, f.lineOf[f.lineOf.length - 1]!); }
  const seen = pfnMentions(s, lo, hi, wanted);
  for (const f of freed) {
    for (let k = 0; k < f.pfns.length; k++) {
      const last = lastBefore(seen.get(f.pfns[k]!), f.at, f.lineOf[k]!);
      if (last >= 0 && s.toString('latin1', lineAt(s, last).start, last).includes(' mm_page_alloc: ')) continue;
      f.area.pfns.push(f.pfns[k]!); f.area.orders.push(f.orders[k]!);
    }
  }
  return out;
}

const PFN = Buffer.from('pfn=0x');

/**
 * Where the text in [from, to) says `pfn=0x<hex> ` of a pfn in `wanted` (hex as the kernel prints it:
 * lower case, no leading zero; any `…pfn=0x` field, as a search for the string finds it), ascending
 * per pfn.
 */
function pfnMentions(s: Buffer, from: number, to: number, wanted: Set<number>): Map<number, number[]> {
  const at = new Map<number, number[]>();
  for (let q = s.indexOf(PFN, from); q >= 0 && q < to; q = s.indexOf(PFN, q + PFN.length)) {
    let e = q + PFN.length, v = 0;
    for (; e < s.length; e++) {
      const c = s[e]!, d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) break;
      v = v * 16 + d;
    }
    const digits = e - q - PFN.length;
    if (digits === 0 || s[e] !== 32 || e >= to || (digits > 1 && s[q + PFN.length] === 48) || !wanted.has(v)) continue;
    let list = at.get(v);
    if (list === undefined) at.set(v, (list = []));
    list.push(q);
  }
  return at;
}

/** The last of the ascending offsets `list` in [from, to), -1 without one. */
function lastBefore(list: number[] | undefined, from: number, to: number): number {
  if (list === undefined) return -1;
  let a = 0, b = list.length; // the first offset >= to
  while (a < b) { const m = (a + b) >> 1; if (list[m]! < to) a = m + 1; else b = m; }
  return a > 0 && list[a - 1]! >= from ? list[a - 1]! : -1;
}
