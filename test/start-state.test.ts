import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordedMachine } from '../src/machine/recorded-machine.js';
import { startMachine } from '../src/machine/start-state.js';
import { startInputFor } from '../src/metrics/fidelity.js';
import { formatPagetypeinfo, parsePagesets } from '../src/metrics/procfs.js';
import { pageStrategyFactory } from '../src/page/registry.js';
import { runCell } from '../src/run/cell.js';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { preTraceFrees } from '../src/trace/attribution.js';

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
        // the per-CPU lists start as before/zoneinfo has them: each CPU's count and high, every zone
        const real = parsePagesets(readFileSync(join('traces/kernel', name, 'before', 'zoneinfo'), 'utf8'));
        for (const z of s.machine.zones) {
          if (real[z.name] === undefined) continue;
          expect(z.strategy.pagesets!().map((p) => ({ count: p.count, high: p.high })), `${name} ${z.name}`).toEqual(real[z.name]);
        }
        expect(s.stats.pcp_seeded_pages).toBe(Object.values(real).flat().reduce((a, p) => a + p.count, 0));
        expect(s.stats.pcp_seeded_pages).toBeGreaterThan(0);
      });
    }
  }

  it('a recording that frees a pre-trace pfn replays it as a real free, not a trace error', () => {
    const line = (ev: string, f: string, ts: number): string => `              sh-100     [000] .....     ${ts.toFixed(6)}: ${ev}: ${f}`;
    // pfn 0x6000 was allocated before tracing began (the fixture's before-state leaves it in use)
    const text = [
      line('mm_page_alloc', 'page=ffffea0000000000 pfn=0x8000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE', 1),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0x6000 order=2', 2),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0x8000 order=0', 3),
    ].join('\n');
    const tracePath = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const t = parseKernelTrace(text, 'pre.ftrace', 'pre', { layers: 'pages' });
    // (0x8000, first seen by an allocation, is a per-CPU-list candidate: negative, kept only with kpageflags)
    expect(preTraceFrees(t).pfns).toEqual(Int32Array.from([-0x8000, 0x6000]));
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
    const line = (ev: string, f: string, ts: number): string => `              sh-100     [000] d..3.     ${ts.toFixed(6)}: ${ev}: ${f}`;
    // build-compress's before/kpageflags: 0xa802 and 0xa803 are LRU pages (not KPF_BUDDY), 0xa840 heads a free block
    const text = [
      line('mm_page_alloc', 'page=ffffea0000000000 pfn=0xa802 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE', 1),
      line('mm_page_pcpu_drain', 'page=ffffea0000000000 pfn=0xa803 order=0 migratetype=1', 2),
      line('mm_page_alloc', 'page=ffffea0000000000 pfn=0xa840 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE', 3),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0xa802 order=0', 4),
      line('mm_page_free', 'page=ffffea0000000000 pfn=0xa840 order=0', 5),
    ].join('\n');
    const tracePath = 'traces/kernel/build-compress/build-compress.ftrace.gz';
    const t = parseKernelTrace(text, 'pcp.ftrace', 'pcp', { layers: 'pages' });
    expect(t.stats?.pcp_start_frees).toBe(3);
    const input = startInputFor(tracePath, true)!;
    expect(input.kpage).toBeDefined();
    const cfg = recordedMachine(tracePath, 'build-compress')!.config;
    // pcp=off: the frees go straight to the free lists, so free_pages counts them
    const cell = { trace: 'pcp', machine: cfg.name, page: 'buddy-mobility:pcp=off', object: 'slub', seed: 1 };
    const r = runCell(cell, t, cfg, { check: true, start: input });
    expect(r.trace_errors).toBe(0);
    expect((r.metrics.start as { pcp_start_pages: number }).pcp_start_pages).toBe(2);
    const before = startMachine(cfg, pageStrategyFactory('buddy-mobility:pcp=off'), NONE, input).machine.freePageCount();
    // 0xa802 and 0xa803 were free to the kernel (on a pcp list) all along; 0xa840 came from the buddy lists and went back
    // (the simulated per-CPU lists hold some of the free pages at the end: free to the machine too)
    expect((r.metrics.free_pages as number) + (r.metrics.page_counters as { pcp_pages: number }).pcp_pages).toBe(before + 2);
    // with per-CPU lists, the two candidates start on CPU 0's list (before/zoneinfo: 77 pages there):
    // no longer pre-trace memory, their recorded frees are skipped and the allocation takes from the list
    const pcp = runCell({ ...cell, page: 'buddy-mobility' }, t, cfg, { check: true, start: input });
    expect(pcp.trace_errors).toBe(0);
    expect(pcp.metrics.start).toMatchObject({ pcp_start_pages: 0, pcp_seeded_pages: 77 });
    // without a start state the candidates are skipped silently (the recorded frees are no errors either)
    const empty = runCell(cell, t, cfg, { check: true });
    expect(empty.trace_errors).toBe(0);
  });
});
