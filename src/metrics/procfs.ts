/**
 * The kernel's fragmentation files, byte for byte: /proc/buddyinfo, /proc/pagetypeinfo and debugfs
 * extfrag/{unusable_index,extfrag_index} (their seq_printf formats are in mm/vmstat.c:
 * frag_show_print, pagetypeinfo_showfree_print, pagetypeinfo_showblockcount_print,
 * unusable_show_print, extfrag_show_print; the mixed-blocks table is
 * pagetypeinfo_showmixedcount_print in mm/page_owner.c), and parsers of the two /proc files so that
 * real machines can be measured with the same code.
 *
 * Zones are printed in the order given, grouped by node (the machine and the parsers give them in
 * zone-index order, which is how walk_zones_in_node() visits them); a zone with `present === 0` is
 * unpopulated and skipped, as walk_zones_in_node(..., assert_populated = true) does in all four files.
 */
import { TraceFormatError } from '../errors.js';
import { MIGRATE_NAMES, MIGRATE_TYPES, MIGRATE_UNMOVABLE } from '../machine/gfp.js';
import type { Machine } from '../machine/machine.js';
import { NR_ORDERS, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES, type Pageset } from '../page/strategy.js';
import { fillContigPageInfo, fragmentationIndex, unusableFreeIndex, zoneNrFree, type ExtraMigratetype, type ZoneFreeState } from './fragmentation.js';

/** pagetypeinfo_showfree_print() stops counting a free list at this many entries and prints ">100000". */
const FREELIST_COUNT_CAP = 100000;

// ---- printf helpers (C semantics) -------------------------------------------------------------

/** %Ns / %Nd / %Nlu: right-justified in N columns, never truncated. */
const rj = (v: string | number, w: number): string => String(v).padStart(w, ' ');
/** %-Ns */
const lj = (v: string, w: number): string => v.padEnd(w, ' ');
/** %0Nd: zero padding goes after the sign, the sign counts in the width ("%03d" of −5 is "-05"). */
function zeroPad(v: number, w: number): string {
  return v < 0 ? `-${String(-v).padStart(w - 1, '0')}` : String(v).padStart(w, '0');
}
/** `%Nd.%03d` of index / 1000 and index % 1000 with C's truncating division (−500 prints "0.-500"). */
function permille(index: number, wholeWidth: number): string {
  const whole = Math.trunc(index / 1000);
  const frac = index % 1000; // JS % keeps the dividend's sign, like C99
  return `${rj(whole, wholeWidth)}.${zeroPad(frac, 3)}`;
}
const zonePrefix = (z: ZoneFreeState): string => `Node ${z.node}, zone ${rj(z.zone, 8)} `;

/** Populated zones grouped by node, nodes ascending, input order kept within a node. */
function byNode(zones: readonly ZoneFreeState[]): ZoneFreeState[][] {
  const nodes = new Map<number, ZoneFreeState[]>();
  for (const z of zones) {
    if (z.present === 0) continue;
    let list = nodes.get(z.node);
    if (!list) nodes.set(z.node, (list = []));
    list.push(z);
  }
  return [...nodes.keys()].sort((a, b) => a - b).map((n) => nodes.get(n)!);
}

// ---- formatters --------------------------------------------------------------------------------

/** /proc/buddyinfo: free blocks per order summed over migratetypes (zone->free_area[order].nr_free). */
export function formatBuddyinfo(zones: readonly ZoneFreeState[]): string {
  let s = '';
  for (const node of byNode(zones)) {
    for (const z of node) {
      s += zonePrefix(z);
      for (const n of zoneNrFree(z)) s += `${rj(n, 6)} `;
      s += '\n';
    }
  }
  return s;
}

/** The migratetypes after HighAtomic a pagetypeinfo shows: the zones' own, else Isolate as on this machine. */
function extraTypeNames(zones: readonly ZoneFreeState[]): string[] {
  const withExtras = zones.find((z) => z.extraTypes !== undefined);
  return withExtras ? withExtras.extraTypes!.map((x) => x.name) : ['Isolate'];
}

function extraOf(z: ZoneFreeState, name: string): ExtraMigratetype | undefined {
  return z.extraTypes?.find((x) => x.name === name);
}

function freeCount(n: number): string {
  return n >= FREELIST_COUNT_CAP ? `>${rj(FREELIST_COUNT_CAP, 6)} ` : `${rj(n, 6)} `;
}

/**
 * /proc/pagetypeinfo, one section per node as pagetypeinfo_show() prints it. The models have four
 * migratetypes; the kernel also prints Isolate (CONFIG_MEMORY_ISOLATION) and CMA (CONFIG_CMA), so
 * simulated zones get an all-zero Isolate row and column as this machine's kernel shows, and parsed
 * zones print their own extra types. The "Number of mixed blocks" table (CONFIG_PAGE_OWNER) is
 * printed only when a parsed zone carries it.
 */
export function formatPagetypeinfo(zones: readonly ZoneFreeState[]): string {
  let s = '';
  for (const node of byNode(zones)) {
    const extras = extraTypeNames(node);
    const names = [...MIGRATE_NAMES, ...extras];
    s += `Page block order: ${PAGEBLOCK_ORDER}\n`;
    s += `Pages per block:  ${PAGEBLOCK_PAGES}\n`;
    s += '\n';
    s += `${lj('Free pages count per migrate type at order', 43)} `;
    for (let o = 0; o < NR_ORDERS; o++) s += `${rj(o, 6)} `;
    s += '\n';
    for (const z of node) {
      for (let mt = 0; mt < names.length; mt++) {
        s += `Node ${rj(z.node, 4)}, zone ${rj(z.zone, 8)}, type ${rj(names[mt]!, 12)} `;
        const extra = mt < MIGRATE_TYPES ? undefined : extraOf(z, names[mt]!);
        for (let o = 0; o < NR_ORDERS; o++) {
          const n = mt < MIGRATE_TYPES ? z.freeArea[mt * NR_ORDERS + o]! : (extra?.freeArea[o] ?? 0);
          s += freeCount(n);
        }
        s += '\n';
      }
    }
    s += blockTable(node, names, 'Number of blocks type ', (z, mt, name) =>
      mt < MIGRATE_TYPES ? z.pageblocks[mt]! : (extraOf(z, name)?.pageblocks ?? 0));
    if (node.some((z) => z.mixedPageblocks !== undefined)) {
      s += blockTable(node, names, 'Number of mixed blocks ', (z, mt, name) =>
        mt < MIGRATE_TYPES ? (z.mixedPageblocks?.[mt] ?? 0) : (extraOf(z, name)?.mixed ?? 0));
    }
  }
  return s;
}

function blockTable(node: ZoneFreeState[], names: string[], title: string, count: (z: ZoneFreeState, mt: number, name: string) => number): string {
  let s = `\n${lj(title, 23)}`;
  for (const n of names) s += `${rj(n, 12)} `;
  s += '\n';
  for (const z of node) {
    s += zonePrefix(z);
    for (let mt = 0; mt < names.length; mt++) s += `${rj(count(z, mt, names[mt]!), 12)} `;
    s += '\n';
  }
  return s;
}

/** debugfs extfrag/unusable_index (unusable_show_print): `%d.%03d ` per order. */
export function formatUnusableIndex(zones: readonly ZoneFreeState[]): string {
  return indexFile(zones, (nrFree, j) => permille(unusableFreeIndex(fillContigPageInfo(nrFree, j), j), 1));
}

/** debugfs extfrag/extfrag_index (extfrag_show_print): `%2d.%03d ` per order, −1000 prints "-1.000". */
export function formatExtfragIndex(zones: readonly ZoneFreeState[]): string {
  return indexFile(zones, (nrFree, j) => permille(fragmentationIndex(fillContigPageInfo(nrFree, j), j), 2));
}

function indexFile(zones: readonly ZoneFreeState[], cell: (nrFree: Float64Array, order: number) => string): string {
  let s = '';
  for (const node of byNode(zones)) {
    for (const z of node) {
      const nrFree = zoneNrFree(z);
      s += zonePrefix(z);
      for (let j = 0; j < NR_ORDERS; j++) s += `${cell(nrFree, j)} `;
      s += '\n';
    }
  }
  return s;
}

// ---- parsers -----------------------------------------------------------------------------------

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

const COUNT = /^>?\d+$/;

/** Whitespace-separated counts; `>100000` (a capped free-list count) reads as 100000. */
function parseCounts(text: string, n: number, file: string, lineNo: number, line: string, what: string): number[] | null {
  const parts = text.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length !== n || !parts.every((p) => COUNT.test(p))) {
    throw new TraceFormatError(file, lineNo, line, `${n} ${what}`);
  }
  return parts.map((p) => Number(p.startsWith('>') ? p.slice(1) : p));
}

function newZone(node: number, zone: string): ZoneFreeState {
  return { node, zone, freeArea: new Float64Array(MIGRATE_TYPES * NR_ORDERS), pageblocks: new Float64Array(MIGRATE_TYPES) };
}

const BUDDY_LINE = /^Node (\d+), zone +(\S+) (.*)$/;

/**
 * /proc/buddyinfo → one ZoneFreeState per line. buddyinfo has no migratetypes, so every block is
 * attributed to MIGRATE_UNMOVABLE and pageblocks are zero; the indices only need the totals.
 */
export function parseBuddyinfo(text: string, file: string): ZoneFreeState[] {
  const zones: ZoneFreeState[] = [];
  splitLines(text).forEach((line, i) => {
    if (line.trim() === '') return;
    const m = BUDDY_LINE.exec(line);
    if (!m) throw new TraceFormatError(file, i + 1, line, '"Node N, zone NAME" followed by 11 free-block counts');
    const counts = parseCounts(m[3]!, NR_ORDERS, file, i + 1, line, 'free-block counts (orders 0..10)')!;
    const z = newZone(Number(m[1]), m[2]!);
    for (let o = 0; o < NR_ORDERS; o++) z.freeArea[MIGRATE_UNMOVABLE * NR_ORDERS + o] = counts[o]!;
    zones.push(z);
  });
  if (zones.length === 0) throw new TraceFormatError(file, 1, text.split('\n')[0] ?? '', 'at least one "Node N, zone NAME ..." line');
  return zones;
}

const FREE_ROW = /^Node +(\d+), zone +(\S+), type +(\S+) (.*)$/;
const BLOCK_ROW = /^Node (\d+), zone +(\S+) (.*)$/;
const FREE_HEADER = 'Free pages count per migrate type at order';

/**
 * /proc/pagetypeinfo → one ZoneFreeState per zone, free blocks per migratetype and order, pageblocks
 * per migratetype. Types beyond HighAtomic (CMA, Isolate) go to `extraTypes`, and a "Number of
 * mixed blocks" table to `mixedPageblocks`, so formatPagetypeinfo() reproduces the file. Free-list
 * counts the kernel capped (">100000") read as 100000. Several nodes' sections may follow each other.
 */
export function parsePagetypeinfo(text: string, file: string): ZoneFreeState[] {
  const lines = splitLines(text);
  const zones: ZoneFreeState[] = [];
  const find = (node: number, name: string): ZoneFreeState | undefined => zones.find((z) => z.node === node && z.zone === name);
  let i = 0;
  const fail = (expected: string): never => { throw new TraceFormatError(file, i + 1, lines[i] ?? '', expected); };
  const expectLine = (re: RegExp, expected: string): RegExpExecArray => {
    const m = re.exec(lines[i] ?? '');
    if (!m || i >= lines.length) fail(expected);
    i++;
    return m!;
  };

  while (i < lines.length) {
    if (lines[i]!.trim() === '') { i++; continue; }
    const order = Number(expectLine(/^Page block order: (\d+)$/, '"Page block order: 9"')[1]);
    if (order !== PAGEBLOCK_ORDER) { i--; fail(`"Page block order: ${PAGEBLOCK_ORDER}" (the models use pageblock_order ${PAGEBLOCK_ORDER})`); }
    expectLine(new RegExp(`^Pages per block: +${PAGEBLOCK_PAGES}$`), `"Pages per block:  ${PAGEBLOCK_PAGES}"`);
    expectLine(/^$/, 'an empty line');
    const header = expectLine(/^(Free pages count per migrate type at order) (.*)$/, `"${FREE_HEADER}" and the orders 0..10`);
    const orders = header[2]!.trim().split(/\s+/);
    if (orders.length !== NR_ORDERS || orders.some((o, k) => o !== String(k))) { i--; fail(`"${FREE_HEADER}" and the orders 0..10`); }

    // free counts, one row per zone and migratetype
    while (i < lines.length && lines[i] !== '') {
      const line = lines[i]!;
      const m = FREE_ROW.exec(line);
      if (!m) fail('"Node N, zone NAME, type TYPE" followed by 11 free counts');
      const counts = parseCounts(m![4]!, NR_ORDERS, file, i + 1, line, 'free counts (orders 0..10)')!;
      const node = Number(m![1]), name = m![2]!, type = m![3]!;
      let z = find(node, name);
      if (!z) zones.push((z = newZone(node, name)));
      const mt = (MIGRATE_NAMES as readonly string[]).indexOf(type);
      if (mt >= 0) {
        for (let o = 0; o < NR_ORDERS; o++) z.freeArea[mt * NR_ORDERS + o] = counts[o]!;
      } else {
        const extra: ExtraMigratetype = { name: type, freeArea: Float64Array.from(counts), pageblocks: 0 };
        (z.extraTypes ??= []).push(extra);
      }
      i++;
    }
    expectLine(/^$/, 'an empty line before "Number of blocks type"');

    readBlockTable('Number of blocks type', (z, mt, name, n) => {
      if (mt < MIGRATE_TYPES) z.pageblocks[mt] = n;
      else extraFor(z, name).pageblocks = n;
    });
    if (i < lines.length && lines[i] === '' && lines[i + 1]?.startsWith('Number of mixed blocks')) {
      i++;
      readBlockTable('Number of mixed blocks', (z, mt, name, n) => {
        if (mt < MIGRATE_TYPES) (z.mixedPageblocks ??= new Float64Array(MIGRATE_TYPES))[mt] = n;
        else extraFor(z, name).mixed = n;
      });
    }
  }
  if (zones.length === 0) { i = 0; fail('"Page block order: 9" and at least one zone'); }
  return zones;

  function extraFor(z: ZoneFreeState, name: string): ExtraMigratetype {
    let x = z.extraTypes?.find((e) => e.name === name);
    if (!x) (z.extraTypes ??= []).push((x = { name, freeArea: new Float64Array(NR_ORDERS), pageblocks: 0 }));
    return x;
  }

  function readBlockTable(title: string, set: (z: ZoneFreeState, mt: number, name: string, n: number) => void): void {
    const head = expectLine(new RegExp(`^${title} +(.*)$`), `"${title}" and the migratetype names`);
    const names = head[1]!.trim().split(/\s+/);
    for (let k = 0; k < MIGRATE_TYPES; k++) {
      if (names[k] !== MIGRATE_NAMES[k]) { i--; fail(`"${title}" then ${MIGRATE_NAMES.join(', ')} first`); }
    }
    // the next node's section follows the table directly (pagetypeinfo_show() once per node)
    while (i < lines.length && lines[i] !== '' && !lines[i]!.startsWith('Page block order:')) {
      const line = lines[i]!;
      const m = BLOCK_ROW.exec(line);
      if (!m) fail(`"Node N, zone NAME" followed by ${names.length} pageblock counts`);
      const counts = parseCounts(m![3]!, names.length, file, i + 1, line, 'pageblock counts')!;
      const z = find(Number(m![1]), m![2]!);
      if (!z) fail('a zone listed in the free counts above');
      for (let k = 0; k < names.length; k++) set(z!, k, names[k]!, counts[k]!);
      i++;
    }
  }
}

// ---- /proc/zoneinfo ----------------------------------------------------------------------------

/**
 * Each populated zone's pagesets from a /proc/zoneinfo text: per CPU, pcp->count (pages on its
 * lists) and pcp->high, by zone name (zoneinfo_show_print(), 6.1 and 6.12). A zone without pagesets
 * lines is left out.
 */
export function parsePagesets(text: string): Record<string, { count: number; high: number }[]> {
  const out: Record<string, { count: number; high: number }[]> = {};
  let sets: { count: number; high: number }[] | null = null;
  for (const line of text.split('\n')) {
    const zone = /^Node\s+\d+,\s+zone\s+(\S+)/.exec(line);
    if (zone) { sets = []; out[zone[1]!] = sets; continue; }
    const m = /^\s+(cpu|count|high):\s+(\d+)/.exec(line);
    if (sets === null || m === null) continue;
    if (m[1] === 'cpu') sets.push({ count: 0, high: 0 });
    else if (sets.length > 0) sets[sets.length - 1]![m[1] as 'count' | 'high'] = Number(m[2]);
  }
  for (const z of Object.keys(out)) if (out[z]!.length === 0) delete out[z];
  return out;
}

/** What zoneinfo prints of one zone (the lines the model has). */
export interface ZoneinfoZone {
  node: number;
  zone: string;
  /** NR_FREE_PAGES: the buddy free lists, pages on per-CPU lists left out */
  free: number;
  min: number;
  low: number;
  high: number;
  spanned: number;
  present: number;
  managed: number;
  startPfn: number;
  pagesets: readonly Pageset[];
}

/**
 * /proc/zoneinfo as zoneinfo_show_print() (mm/vmstat.c, 6.1 and 6.12) prints a populated zone,
 * limited to the lines the model has: pages free, the min/low/high watermarks, spanned/present/
 * managed, each CPU's pageset (count, high, batch) and start_pfn. Left out: boost, promo, cma,
 * protection, the vm counters, "vm stats threshold" and node_unreclaimable.
 */
export function formatZoneinfo(zones: readonly ZoneinfoZone[]): string {
  let s = '';
  for (const z of zones) {
    if (z.present === 0) continue;
    s += `Node ${z.node}, zone ${rj(z.zone, 8)}\n  pages free     ${z.free}\n`;
    s += `        min      ${z.min}\n        low      ${z.low}\n        high     ${z.high}\n`;
    s += `        spanned  ${z.spanned}\n        present  ${z.present}\n        managed  ${z.managed}\n  pagesets\n`;
    z.pagesets.forEach((p, cpu) => {
      s += `    cpu: ${cpu}\n              count: ${p.count}\n              high:  ${p.high}\n              batch: ${p.batch}\n`;
    });
    s += `  start_pfn:           ${z.startPfn}\n`;
  }
  return s;
}

/** The zoneinfo lines of a simulated machine's zones (watermarks as integers, as the kernel keeps them). */
export function machineZoneinfo(m: Machine): ZoneinfoZone[] {
  return m.zones.map((z) => {
    const wm = m.watermarks.wmark[z.index]!;
    return {
      node: 0, zone: z.name, free: z.strategy.freePages(), min: Math.floor(wm[0]!), low: Math.floor(wm[1]!), high: Math.floor(wm[2]!),
      spanned: z.spanned, present: z.present, managed: z.managed, startPfn: z.startPfn, pagesets: z.strategy.pagesets?.() ?? [],
    };
  });
}
