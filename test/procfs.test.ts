import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { TraceFormatError } from '../src/errors.js';
import { MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_TYPES, MIGRATE_UNMOVABLE } from '../src/machine/gfp.js';
import { NR_ORDERS } from '../src/page/strategy.js';
import { zoneFragMetrics, type ZoneFreeState } from '../src/metrics/fragmentation.js';
import {
  formatBuddyinfo, formatExtfragIndex, formatPagetypeinfo, formatUnusableIndex, parseBuddyinfo, parsePagetypeinfo,
} from '../src/metrics/procfs.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/proc/${name}`, import.meta.url), 'utf8');
const BUDDYINFO = fixture('buddyinfo');
const PAGETYPEINFO = fixture('pagetypeinfo');

function zone(name: string, blocks: Record<number, number>, node = 0, mt = MIGRATE_UNMOVABLE): ZoneFreeState {
  const freeArea = new Float64Array(MIGRATE_TYPES * NR_ORDERS);
  for (const [o, n] of Object.entries(blocks)) freeArea[mt * NR_ORDERS + Number(o)] = n;
  return { node, zone: name, freeArea, pageblocks: new Float64Array(MIGRATE_TYPES) };
}

function thrown(f: () => unknown): TraceFormatError {
  try { f(); } catch (e) { if (e instanceof TraceFormatError) return e; throw e; }
  throw new Error('no error thrown');
}

describe('/proc/buddyinfo', () => {
  it('re-formats this machine\'s buddyinfo byte for byte', () => {
    expect(formatBuddyinfo(parseBuddyinfo(BUDDYINFO, 'buddyinfo'))).toBe(BUDDYINFO);
  });

  it('parses every block as Unmovable with no pageblocks', () => {
    const zones = parseBuddyinfo(BUDDYINFO, 'buddyinfo');
    expect(zones.map((z) => z.zone)).toEqual(['DMA', 'DMA32', 'Normal']);
    const dma32 = zones[1]!;
    expect(dma32.freeArea[MIGRATE_UNMOVABLE * NR_ORDERS + 10]).toBe(752);
    expect(dma32.freeArea[MIGRATE_MOVABLE * NR_ORDERS + 10]).toBe(0);
    expect(Array.from(dma32.pageblocks)).toEqual([0, 0, 0, 0]);
  });

  it('gives the free page counts the kernel reports in /proc/zoneinfo for the same moment', () => {
    const zoneinfo = fixture('zoneinfo');
    const freeByZone = new Map<string, number>();
    let current = '';
    for (const line of zoneinfo.split('\n')) {
      const head = /^Node 0, zone +(\S+)/.exec(line);
      if (head) current = head[1]!;
      const free = /^  pages free +(\d+)/.exec(line);
      if (free) freeByZone.set(current, Number(free[1]));
    }
    for (const z of parseBuddyinfo(BUDDYINFO, 'buddyinfo')) {
      expect(zoneFragMetrics(z).free_pages).toBe(freeByZone.get(z.zone));
    }
  });

  it('rejects a line without 11 counts, naming file, line and text', () => {
    const bad = BUDDYINFO.replace('    752 \n', '\n');
    const e = thrown(() => parseBuddyinfo(bad, 'bi.txt'));
    expect(e.file).toBe('bi.txt');
    expect(e.line).toBe(2);
    expect(e.text).toMatch(/^Node 0, zone    DMA32/);
    expect(e.message).toContain('11 free-block counts');
  });

  it('rejects text that is not buddyinfo at all, and an empty file', () => {
    expect(thrown(() => parseBuddyinfo('MemTotal: 100 kB\n', 'x')).line).toBe(1);
    expect(thrown(() => parseBuddyinfo('', 'x')).message).toContain('at least one');
    expect(thrown(() => parseBuddyinfo('Node 0, zone DMA 1 2 3 4 5 6 7 8 9 10 x\n', 'x')).line).toBe(1);
  });
});

describe('/proc/pagetypeinfo', () => {
  it('re-formats this machine\'s pagetypeinfo byte for byte', () => {
    expect(formatPagetypeinfo(parsePagetypeinfo(PAGETYPEINFO, 'pagetypeinfo'))).toBe(PAGETYPEINFO);
  });

  it('parses free lists per migratetype, pageblocks, and Isolate as an extra type; its totals are the buddyinfo', () => {
    const zones = parsePagetypeinfo(PAGETYPEINFO, 'pagetypeinfo');
    const normal = zones.find((z) => z.zone === 'Normal')!;
    expect(normal.freeArea[MIGRATE_RECLAIMABLE * NR_ORDERS + 0]).toBe(437);
    expect(normal.freeArea[MIGRATE_MOVABLE * NR_ORDERS + 10]).toBe(90);
    expect(Array.from(normal.pageblocks)).toEqual([38, 330, 16, 0]);
    expect(normal.extraTypes?.map((x) => [x.name, x.pageblocks])).toEqual([['Isolate', 0]]);
    expect(formatBuddyinfo(zones)).toBe(BUDDYINFO);
  });

  it('prints a simulated zone with an all-zero Isolate row and column, in the kernel\'s column layout', () => {
    const z = zone('Normal', { 0: 3, 10: 12 }, 0, MIGRATE_MOVABLE);
    z.pageblocks[MIGRATE_MOVABLE] = 24;
    const lines = formatPagetypeinfo([z]).split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'Page block order: 9',
      'Pages per block:  512',
      '',
      'Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 ',
    ]);
    expect(lines[5]).toBe('Node    0, zone   Normal, type      Movable      3      0      0      0      0      0      0      0      0      0     12 ');
    expect(lines[8]).toBe('Node    0, zone   Normal, type      Isolate      0      0      0      0      0      0      0      0      0      0      0 ');
    expect(lines[10]).toBe('Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate ');
    expect(lines[11]).toBe('Node 0, zone   Normal            0           24            0            0            0 ');
  });

  it('caps a free count at ">100000" as pagetypeinfo_showfree_print does, and reads it back as 100000', () => {
    const text = formatPagetypeinfo([zone('DMA32', { 0: 123456 })]);
    expect(text).toContain('Unmovable >100000      0 ');
    const back = parsePagetypeinfo(text, 'p')[0]!;
    expect(back.freeArea[0]).toBe(100000);
    expect(formatPagetypeinfo([back])).toBe(text);
  });

  it('round-trips random simulated zones on several nodes (one section per node)', () => {
    const counts = fc.array(fc.integer({ min: 0, max: 99_999 }), { minLength: MIGRATE_TYPES * NR_ORDERS, maxLength: MIGRATE_TYPES * NR_ORDERS });
    const blocks = fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: MIGRATE_TYPES, maxLength: MIGRATE_TYPES });
    const zoneArb = fc.record({ node: fc.integer({ min: 0, max: 2 }), zone: fc.constantFrom('DMA', 'DMA32', 'Normal', 'Movable'), counts, blocks });
    fc.assert(fc.property(fc.uniqueArray(zoneArb, { minLength: 1, maxLength: 5, selector: (z) => `${z.node}/${z.zone}` }), (spec) => {
      const zones: ZoneFreeState[] = spec.map((s) => ({ node: s.node, zone: s.zone, freeArea: Float64Array.from(s.counts), pageblocks: Float64Array.from(s.blocks) }));
      const text = formatPagetypeinfo(zones);
      const back = parsePagetypeinfo(text, 'p');
      expect(formatPagetypeinfo(back)).toBe(text);
      expect(back.length).toBe(zones.length);
      for (const z of zones) {
        const b = back.find((x) => x.node === z.node && x.zone === z.zone)!;
        expect(Array.from(b.freeArea)).toEqual(Array.from(z.freeArea));
        expect(Array.from(b.pageblocks)).toEqual(Array.from(z.pageblocks));
      }
      expect(text.split('Page block order: 9').length - 1).toBe(new Set(spec.map((s) => s.node)).size);
      expect(formatBuddyinfo(parseBuddyinfo(formatBuddyinfo(zones), 'b'))).toBe(formatBuddyinfo(zones));
    }), { numRuns: 60 });
  });

  it('round-trips the CONFIG_PAGE_OWNER "Number of mixed blocks" table', () => {
    const withMixed = PAGETYPEINFO +
      '\nNumber of mixed blocks    Unmovable      Movable  Reclaimable   HighAtomic      Isolate \n' +
      'Node 0, zone      DMA            1            0            0            0            0 \n' +
      'Node 0, zone    DMA32            0            2            0            0            0 \n' +
      'Node 0, zone   Normal           10           40            3            0            0 \n';
    const zones = parsePagetypeinfo(withMixed, 'p');
    expect(Array.from(zones[2]!.mixedPageblocks!)).toEqual([10, 40, 3, 0]);
    expect(formatPagetypeinfo(zones)).toBe(withMixed);
  });

  it('rejects malformed input, naming the line and what was expected', () => {
    const lines = PAGETYPEINFO.split('\n');
    const at = (i: number, text: string): string => lines.map((l, k) => (k === i ? text : l)).join('\n');
    let e = thrown(() => parsePagetypeinfo(at(0, 'Page block order: 10'), 'pt'));
    expect([e.file, e.line]).toEqual(['pt', 1]);
    expect(e.message).toContain('Page block order: 9');
    e = thrown(() => parsePagetypeinfo(at(5, 'Node    0, zone      DMA, type      Movable      0      0'), 'pt'));
    expect(e.line).toBe(6);
    expect(e.message).toContain('11 free counts');
    e = thrown(() => parsePagetypeinfo(at(23, 'Node 0, zone  Highmem            1            7            0            0            0 '), 'pt'));
    expect(e.line).toBe(24);
    expect(e.message).toContain('a zone listed in the free counts');
    e = thrown(() => parsePagetypeinfo(at(23, 'Node 0, zone      DMA            1            7 '), 'pt'));
    expect(e.message).toContain('5 pageblock counts');
    e = thrown(() => parsePagetypeinfo(at(3, 'Free pages count per migrate type at order 0 1 2'), 'pt'));
    expect(e.line).toBe(4);
    expect(thrown(() => parsePagetypeinfo(BUDDYINFO, 'pt')).line).toBe(1);
  });
});

describe('debugfs extfrag/unusable_index and extfrag/extfrag_index', () => {
  const zones = parseBuddyinfo(BUDDYINFO, 'buddyinfo');

  it('prints the unusable index of this machine\'s buddyinfo (hand-checked: DMA order 9 = 256/3840 -> 0.066, Normal order 10 = 77442/169602 -> 0.456)', () => {
    expect(formatUnusableIndex(zones)).toBe(
      'Node 0, zone      DMA 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.066 0.200 \n' +
      'Node 0, zone    DMA32 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.001 0.002 0.003 \n' +
      'Node 0, zone   Normal 0.000 0.002 0.011 0.028 0.054 0.090 0.145 0.212 0.293 0.375 0.456 \n');
  });

  it('prints -1.000 at every order for zones that still hold an order-10 block', () => {
    const line = `${' -1.000'.repeat(NR_ORDERS).trimStart()} `;
    expect(formatExtfragIndex(zones)).toBe(
      `Node 0, zone      DMA ${line}\nNode 0, zone    DMA32 ${line}\nNode 0, zone   Normal ${line}\n`);
  });

  it('prints %2d.%03d as C does: -1.000, 0.250, 0.000 and a negative index as " 0.-500"', () => {
    // 4 single pages, 1000 - (1000 + 4000 / 2^j) / 4 with both divisions truncating: order 0 -1.000 (suitable),
    // 1: 1000-3000/4 = 250, 2: 1000-2000/4 = 500, 3: 1000-1500/4 = 625, 4: 1000-1250/4 = 688, 5: 1000-1125/4 = 719,
    // 6: 1000-1062/4 = 735, 7: 1000-1031/4 = 743, 8: 1000-1015/4 = 747, 9: 1000-1007/4 = 749, 10: 1000-1003/4 = 750
    expect(formatExtfragIndex([zone('Normal', { 0: 4 })])).toBe(
      'Node 0, zone   Normal -1.000  0.250  0.500  0.625  0.688  0.719  0.735  0.743  0.747  0.749  0.750 \n');
    // one order-2 block: suitable up to order 2, then 1000 - (1000 + 4000 / 2^j) / 1 = -500, -250, ... -3; C prints
    // index / 1000 = 0 and index % 1000 = -500 with %03d, zero padding after the sign ("-07")
    expect(formatExtfragIndex([zone('DMA', { 2: 1 })])).toBe(
      'Node 0, zone      DMA -1.000 -1.000 -1.000  0.-500  0.-250  0.-125  0.-62  0.-31  0.-15  0.-07  0.-03 \n');
    expect(formatExtfragIndex([zone('DMA', {})])).toBe(`Node 0, zone      DMA ${' 0.000 '.repeat(NR_ORDERS)}\n`);
    expect(formatUnusableIndex([zone('DMA', {})])).toBe(`Node 0, zone      DMA ${'1.000 '.repeat(NR_ORDERS)}\n`);
  });

  it('skips unpopulated zones in all four files, as walk_zones_in_node(assert_populated) does', () => {
    const movable = { ...zone('Movable', {}), present: 0 };
    const normal = zone('Normal', { 3: 1 });
    for (const f of [formatBuddyinfo, formatPagetypeinfo, formatUnusableIndex, formatExtfragIndex]) {
      const text = f([normal, movable]);
      expect(text).toContain('Normal');
      expect(text).not.toContain('Movable,');
      expect(text).not.toMatch(/zone  Movable/);
    }
  });
});
