import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordedMachine } from '../src/machine/recorded-machine.js';
import { listOrder, startMachine } from '../src/machine/start-state.js';
import { BuddyAllocator } from '../src/page/buddy.js';
import { startInputFor } from '../src/metrics/fidelity.js';
import { formatPagetypeinfo, parsePagesets } from '../src/metrics/procfs.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { runCell } from '../src/run/cell.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { preTraceFrees } from '../src/trace/attribution.js';

/** one line of a recording's ftrace text, task sh-100 on CPU 0 */
const ftraceLine = (ev: string, f: string, ts: number, flags: string): string => `              sh-100     [000] ${flags}     ${ts.toFixed(6)}: ${ev}: ${f}`;
const NONE = { ids: new Int32Array(0), pfns: new Int32Array(0), orders: new Uint8Array(0) };
const bundled = readdirSync('traces/kernel', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('traces/kernel', d.name, 'before', 'pagetypeinfo')) && existsSync(join('traces/kernel', d.name, 'machine.json')))
  .map((d) => d.name);

describe('start state from a recording\'s before-state', () => {
  for (const name of bundled) {
    const trace = join('traces/kernel', name, `${name}.ftrace.gz`);
    for (const kpage of [true, false]) {
      it(`${name} (${kpage ? 'kpageflags' : 'placement'}): fraginfo before any event is before/pagetypeinfo, byte for byte`, () => {
        const input = startInputFor(trace, kpage)!;
        expect(input.kpage !== undefined).toBe(kpage && existsSync(join('traces/kernel', name, 'before', 'kpageflags.gz')));
        const s = startMachine(recordedMachine(trace, name)!.config, pageStrategyFactory('buddy-mobility'), NONE, input);
        s.machine.check();
        const zones = s.machine.freeState().map((z) => ({ ...z, extraTypes: input.pagetypeinfo.find((r) => r.zone === z.zone)?.extraTypes }));
        if (kpage || s.stats.unplaced_blocks === 0) {
          expect(formatPagetypeinfo(zones)).toBe(readFileSync(join('traces/kernel', name, 'before', 'pagetypeinfo'), 'utf8'));
          expect(s.stats).toMatchObject({ unplaced_blocks: 0, type_mismatch_blocks: 0 });
        } else {
          // the placement may leave a few small blocks out (counted): everything else is exact
          let missing = 0;
          for (const z of zones) {
            const real = input.pagetypeinfo.find((r) => r.zone === z.zone)!;
            expect(Array.from(z.pageblocks)).toEqual(Array.from(real.pageblocks));
            for (let i = 0; i < real.freeArea.length; i++) { expect(z.freeArea[i]).toBeLessThanOrEqual(real.freeArea[i]!); missing += real.freeArea[i]! - z.freeArea[i]!; }
          }
          expect(missing).toBe(s.stats.unplaced_blocks);
          expect(s.stats.unplaced_blocks).toBeLessThanOrEqual(4);
        }
        expect(s.preTrace.pages + s.machine.freePageCount() + s.machine.pcpPageCount()).toBe(s.machine.managedPages());
        if (!kpage) return;
        // without the recording's refills, the per-CPU lists start as before/zoneinfo has them: each
        // CPU's count and high, every zone
        const real = parsePagesets(readFileSync(join('traces/kernel', name, 'before', 'zoneinfo'), 'utf8'));
        const all = startMachine(recordedMachine(trace, name)!.config, pageStrategyFactory('buddy-mobility'), NONE, { ...input, refilled: [] });
        for (const z of all.machine.zones) {
          if (real[z.name] === undefined) continue;
          expect(z.strategy.pagesets!().map((p) => ({ count: p.count, high: p.high })), `${name} ${z.name}`).toEqual(real[z.name]);
        }
        expect(all.stats.pcp_seeded_pages).toBe(Object.values(real).flat().reduce((a, p) => a + p.count, 0));
        expect(all.stats.pcp_seeded_pages).toBeGreaterThan(0);
        // with them, no page the trace never shows starts on a list the recording refills (here no
        // candidate is given, so a CPU whose three order-0 lists are all refilled starts empty)
        const refilled = new Set(input.refilled);
        expect(refilled.size).toBeGreaterThan(0);
        for (const z of s.machine.zones) {
          if (real[z.name] === undefined) continue;
          z.strategy.pagesets!().forEach((p, cpu) => {
            expect(p.high).toBe(real[z.name]![cpu]!.high);
            expect(p.count).toBeLessThanOrEqual(real[z.name]![cpu]!.count);
            if ([0, 1, 2].every((mt) => refilled.has(cpu * 64 + mt))) expect(p.count, `${name} ${z.name} cpu ${cpu}`).toBe(0);
          });
        }
      });
    }
  }

  it('a recording that frees a pre-trace pfn replays it as a real free, not a trace error', () => {
    const line = (ev: string, f: string, ts: number): string => ftraceLine(ev, f, ts, '.....');
    // pfn 0x5000 was allocated before tracing began (the fixture's before-state leaves it in use)
    const text = [
      line('mm_page_alloc', 'page=ffffea0000000000 pfn=0x8000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE', 1),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0x5000 order=2', 2),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0x8000 order=0', 3),
    ].join('\n');
    const tracePath = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const t = parseKernelTrace(text, 'pre.ftrace', 'pre', { layers: 'pages' });
    // (0x8000, first seen by an allocation, is a per-CPU-list candidate: negative, kept only with kpageflags)
    expect(preTraceFrees(t).pfns).toEqual(Int32Array.from([-0x8000, 0x5000]));
    const input = startInputFor(tracePath, false)!;
    const cfg = recordedMachine(tracePath, 'build-compress')!.config;
    // pcp=off: the freed block goes straight back to the free lists (with pcp it would sit on a per-CPU list)
    const cell = { trace: 'pre', machine: cfg.name, page: 'buddy-mobility:pcp=off', object: 'slub', seed: 1 };
    const from = runCell(cell, t, cfg, { check: true, start: input });
    expect(from.trace_errors).toBe(0);
    expect((from.metrics.start as { pre_trace_blocks: number }).pre_trace_blocks).toBe(1);
    const before = startMachine(cfg, pageStrategyFactory('buddy-mobility'), NONE, input).machine.freePageCount();
    expect(from.metrics.free_pages).toBe(before + 4); // the order-2 pre-trace block came back
    // from an empty machine the same free is an unknown id
    const empty = runCell(cell, t, cfg, { check: true });
    expect(empty.trace_errors).toBe(1);
  });

  it('pages on per-CPU lists at the start (allocated in the snapshot, then allocated or drained with no free) return to the free pages', () => {
    const line = (ev: string, f: string, ts: number): string => ftraceLine(ev, f, ts, 'd..3.');
    // build-compress's before/kpageflags: 0xf840 and 0xf841 are LRU pages (not KPF_BUDDY), 0xfe80 heads a free block
    const text = [
      line('mm_page_alloc', 'page=ffffea0000000000 pfn=0xf840 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE', 1),
      line('mm_page_pcpu_drain', 'page=ffffea0000000000 pfn=0xf841 order=0 migratetype=1', 2),
      line('mm_page_alloc', 'page=ffffea0000000000 pfn=0xfe80 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE', 3),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0xf840 order=0', 4),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0xfe80 order=0', 5),
    ].join('\n');
    const tracePath = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const t = parseKernelTrace(text, 'pcp.ftrace', 'pcp', { layers: 'pages' });
    expect(t.stats?.pcp_start_frees).toBe(3);
    // the recording's own takes and refills say nothing of this handmade trace
    const input = { ...startInputFor(tracePath, true)!, takes: undefined, refilled: undefined };
    expect(input.kpage).toBeDefined();
    const cfg = recordedMachine(tracePath, 'build-compress')!.config;
    // pcp=off: the frees go straight to the free lists, so free_pages counts them
    const cell = { trace: 'pcp', machine: cfg.name, page: 'buddy-mobility:pcp=off', object: 'slub', seed: 1 };
    const r = runCell(cell, t, cfg, { check: true, start: input });
    expect(r.trace_errors).toBe(0);
    expect((r.metrics.start as { pcp_start_pages: number }).pcp_start_pages).toBe(2);
    const before = startMachine(cfg, pageStrategyFactory('buddy-mobility:pcp=off'), NONE, input).machine.freePageCount();
    // 0xf840 and 0xf841 were free to the kernel (on a pcp list) all along; 0xfe80 came from the buddy lists and went back
    // (the simulated per-CPU lists hold some of the free pages at the end: free to the machine too)
    expect((r.metrics.free_pages as number) + (r.metrics.page_counters as { pcp_pages: number }).pcp_pages).toBe(before + 2);
    // with per-CPU lists, the two candidates start on CPU 0's list (before/zoneinfo: 50 pages there):
    // no longer pre-trace memory, their recorded frees are skipped and the allocation takes from the list
    const pcp = runCell({ ...cell, page: 'buddy-mobility' }, t, cfg, { check: true, start: input });
    expect(pcp.trace_errors).toBe(0);
    expect(pcp.metrics.start).toMatchObject({ pcp_start_pages: 0, pcp_seeded_pages: 50 });
    // without a start state the candidates are skipped silently (the recorded frees are no errors either)
    const empty = runCell(cell, t, cfg, { check: true });
    expect(empty.trace_errors).toBe(0);
  });
});

describe('the order of the start\'s free lists', () => {
  it('listOrder(): the blocks the recording takes first come first, the others after in pfn order', () => {
    // zone from pfn 100: blocks at local 0 (order 3), 8 (3), 16 (4), 64 (0)
    const blocks = [0, 3, 8, 3, 16, 4, 64, 0];
    // takes: a page outside any head (ignored), then 164, 116, 164 again, 108
    expect(Array.from(listOrder(blocks, 100, Int32Array.from([101, 164, 116, 164, 108])))).toEqual([3, 2, 1, 0]);
    expect(Array.from(listOrder(blocks, 100, new Int32Array(0)))).toEqual([0, 1, 2, 3]);
  });

  it('on a recording, the blocks of each start list are in the order the kernel first takes them', () => {
    const name = 'fork-fragment', trace = join('traces/kernel', name, `${name}.ftrace.gz`);
    const input = startInputFor(trace, true)!;
    const where = (takes: Int32Array | undefined): { at: string[]; head: string[] } => {
      const s = startMachine(recordedMachine(trace, name)!.config, pageStrategyFactory('buddy-mobility:6.1'), NONE, { ...input, takes });
      const z = s.machine.zones.find((x) => x.name === 'DMA32')!;
      const b = z.strategy as BuddyAllocator;
      // each start block the recording takes (its head), in the order of its first take, and where it is listed
      const seen = new Set<number>(), at: string[] = [];
      for (const p of input.takes!) {
        if (p < z.startPfn || seen.has(p)) continue;
        const w = b.locate(p - z.startPfn);
        if (/^free \d+ mt\d #\d+$/.test(w)) { seen.add(p); at.push(w); }
      }
      return { at, head: at.map((w) => w.replace(/ #\d+$/, '')) };
    };
    const ordered = where(input.takes);
    expect(ordered.at.length).toBeGreaterThan(20);
    // per list (order, type): the k-th block taken is k-th from the head
    const next = new Map<string, number>();
    ordered.at.forEach((w, k) => {
      const list = ordered.head[k]!, i = next.get(list) ?? 0;
      expect(w).toBe(`${list} #${i}`);
      next.set(list, i + 1);
    });
    // the hand-over in pfn order (no takes) lists some of them elsewhere
    expect(where(undefined).at).not.toEqual(ordered.at);
  });
});

describe('the start\'s per-CPU lists follow the recording', () => {
  it('a pcp candidate goes on the list of the type its first recorded event names', () => {
    const trace = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const input = startInputFor(trace, true)!;
    const cfg = recordedMachine(trace, 'build-compress')!.config;
    const dma32 = 4096; // DMA32's first pfn on the 256 MiB guests
    // a pre-trace order-0 page of DMA32 that is neither free nor flagged: a candidate on CPU 0
    const pfn = Array.from(input.kpage!.keys()).find((p) => p > 0xa000 && input.kpage![p] === 0)!;
    const pre = { ids: Int32Array.of(1), pfns: Int32Array.of(-pfn), orders: Uint8Array.of(0), cpus: Int32Array.of(0) };
    const where = (type: number): string => {
      const s = startMachine(cfg, pageStrategyFactory('buddy-mobility'), pre, { ...input, pcpTypes: { pfn: Int32Array.of(pfn), type: Uint8Array.of(type) } });
      return (s.machine.zones.find((z) => z.name === 'DMA32')!.strategy as BuddyAllocator).locate(pfn - dma32);
    };
    expect(where(2)).toBe('pcp mt2');
    expect(where(0)).toBe('pcp mt0');
    expect(input.pcpTypes!.pfn.length).toBeGreaterThan(0); // the recording's own types are read
  });
});

describe('the start\'s per-CPU lists are used at both ends', () => {
  it('a block the recording first allocates is toward its list\'s head, the first one it drains at the tail', () => {
    const trace = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const input = startInputFor(trace, true)!;
    const cfg = recordedMachine(trace, 'build-compress')!.config;
    const dma32 = 4096;
    // three pre-trace order-0 pages of DMA32, neither free nor flagged: candidates of CPU 0's Unmovable
    // order-0 list, in the order the trace first uses them
    const c = Array.from(input.kpage!.keys()).filter((p) => p > 0xa000 && input.kpage![p] === 0).slice(0, 3);
    const pre = { ids: Int32Array.of(1, 2, 3), pfns: Int32Array.from(c, (p) => -p), orders: new Uint8Array(3), cpus: new Int32Array(3) };
    const listed = (drained: number[]): number[] => {
      const s = startMachine(cfg, pageStrategyFactory('buddy-mobility'), pre, { ...input, pcpTypes: { pfn: Int32Array.from(c), type: new Uint8Array(3), drained: Uint8Array.from(drained) } });
      const buddy = s.machine.zones.find((z) => z.name === 'DMA32')!.strategy as BuddyAllocator;
      // the lists head to tail (PerCpuPages.forEach: list by list, each from its head)
      const seq: number[] = [];
      (buddy as unknown as { pcp: { forEach(fn: (pfn: number) => void): void } }).pcp.forEach((p) => { if (c.includes(p + dma32)) seq.push(p + dma32); });
      return seq;
    };
    // all first allocated: from the head in first-use order
    expect(listed([0, 0, 0])).toEqual([c[0], c[1], c[2]]);
    // the last two first drained: behind the allocated one, the first drained at the tail
    expect(listed([0, 1, 1])).toEqual([c[0], c[2], c[1]]);
    expect(listed([1, 0, 1])).toEqual([c[1], c[2], c[0]]);
    expect(input.pcpTypes!.drained!.some((d) => d === 1)).toBe(true); // the recording has drain-first candidates
  });
});
