import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { parseKernelTrace } from '../src/trace/kernel.js';
import { ftraceText } from '../src/metrics/pcp-traffic.js';
import { OP_CACHE_ALLOC, OP_EXTFRAG, OP_FAULT, OP_KMALLOC, OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';
import type { Trace } from '../src/trace/trace.js';
import { findSnapshots } from '../src/trace/snapshots.js';
import { formatExtfragIndex, formatUnusableIndex, parseBuddyinfo } from '../src/metrics/procfs.js';
import { TRACE_DIR, bundledTraces } from '../src/trace/bundled.js';
import { loadMachine } from '../src/machine/memory-map.js';

const KERNEL_DIR = join(TRACE_DIR, 'kernel');
const recordings = existsSync(KERNEL_DIR)
  ? readdirSync(KERNEL_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  : [];

function tracePath(name: string): string {
  return join(KERNEL_DIR, name, `${name}.ftrace.gz`);
}

function countOps(t: Trace, op: number): number {
  let n = 0;
  for (let i = 0; i < t.length; i++) if (t.op[i] === op) n++;
  return n;
}

// Parsed once per recording: a few hundred thousand lines each. The text is what the loader
// replays: the lines between the before- and after-snapshot markers (ftraceText leaves the
// others empty, trace/snapshot-window.ts); the trace is parsed from the file itself.
const texts = new Map<string, string>();
const traces = new Map<string, Trace>();
function load(name: string): { text: string; trace: Trace } {
  let text = texts.get(name);
  if (text === undefined) { text = ftraceText(tracePath(name))!; texts.set(name, text); }
  let trace = traces.get(name);
  if (trace === undefined) { trace = parseKernelTrace(gunzipSync(readFileSync(tracePath(name))), tracePath(name)); traces.set(name, trace); }
  return { text, trace };
}

/** a compaction isolation the kprobe on __isolate_free_page() recorded (scripts/kernel-init.sh) */
const ISOLATION = / isolate_free_page: /;
/** the return of an isolation that took its block (ret=0: refused by the watermark check) */
const ISOLATED = / isolate_free_page_ret: .* ret=[1-9]/g;

/**
 * 50,000 lines of a recording: its first ones, or, when compaction ran after them, its first
 * 40,000 and the 10,000 from 1,000 before its first isolation on (so the excerpt has the early
 * phases' faults and slab events, and migration targets with their pieces' frees).
 */
function excerpt(text: string): string {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => ISOLATION.test(l));
  const head = first >= 0 && first < 50_000 ? lines.slice(0, 50_000) : lines.slice(0, 40_000);
  const tail = first >= 50_000 ? lines.slice(first - 1_000, first + 9_000) : [];
  return [...head, ...tail].join('\n') + '\n';
}

/**
 * Page events counted straight from the text, independently of the loader: one alloc per
 * successful mm_page_alloc line, one free per mm_page_free line, and a mm_page_free_batched line
 * is one more free only when no mm_page_free already reported that pfn since its last alloc (the
 * kernel logs both for a page freed through a list: free_unref_page_list in mm/page_alloc.c).
 */
function independentPageCounts(text: string): { allocs: number; frees: number; batchedPaired: number } {
  const re = /^.*\] .{0,8}?\s*\d+\.\d+: (mm_page_alloc|mm_page_free|mm_page_free_batched): page=\S+ pfn=(0x[0-9a-f]+)/gm;
  const freedPlain = new Set<string>();
  let allocs = 0, frees = 0, batchedPaired = 0;
  for (const m of text.matchAll(re)) {
    const ev = m[1]!, pfn = m[2]!;
    if (ev === 'mm_page_alloc') {
      if (pfn !== '0x0') { allocs++; freedPlain.delete(pfn); }
    } else if (ev === 'mm_page_free') {
      frees++; freedPlain.add(pfn);
    } else if (freedPlain.has(pfn)) {
      batchedPaired++; freedPlain.delete(pfn);
    } else {
      frees++;
    }
  }
  return { allocs, frees, batchedPaired };
}


/** Zones of a /proc/zoneinfo: name, start_pfn, spanned, present, managed and the min watermark. */
function zoneinfoZones(text: string): { name: string; start: number; spanned: number; present: number; managed: number; min: number; pagesetCpus: number }[] {
  return text.split(/^(?=Node \d+, zone)/m).filter((b) => b.startsWith('Node')).map((b) => {
    const num = (re: RegExp): number => Number(re.exec(b)?.[1] ?? NaN);
    return {
      name: /^Node \d+, zone +(\S+)/.exec(b)![1]!,
      start: num(/start_pfn: +(\d+)/),
      spanned: num(/^ +spanned +(\d+)/m),
      present: num(/^ +present +(\d+)/m),
      managed: num(/^ +managed +(\d+)/m),
      min: num(/^ +min +(\d+)/m),
      pagesetCpus: (b.match(/^ +cpu: \d+$/gm) ?? []).length,
    };
  }).filter((z) => z.spanned > 0);
}

/**
 * The free blocks of a /proc/kpageflags snapshot: since 4.x (fs/proc/page.c stable_page_flags(),
 * is_free_buddy_page()) KPF_BUDDY (bit 10) is set on every page of a free buddy block, not only
 * its head, so each run of KPF_BUDDY pages in a zone is cut into the largest pfn-aligned blocks
 * (two free buddies of one order always merge, so this decomposition is the kernel's).
 */
function kpageflagsFreeBlocks(flags: Buffer, start: number, end: number, orders: number): number[] {
  const counts = new Array<number>(orders).fill(0);
  const buddy = (pfn: number): boolean => pfn < flags.length / 8 && (flags.readUInt32LE(pfn * 8) & (1 << 10)) !== 0;
  for (let pfn = start; pfn < end;) {
    if (!buddy(pfn)) { pfn++; continue; }
    let runEnd = pfn;
    while (runEnd < end && buddy(runEnd)) runEnd++;
    while (pfn < runEnd) {
      let o = orders - 1;
      while (o > 0 && (pfn % 2 ** o !== 0 || pfn + 2 ** o > runEnd)) o--;
      counts[o]!++;
      pfn += 2 ** o;
    }
  }
  return counts;
}

/**
 * Object allocations at an address still live (no kfree / kmem_cache_free since its last
 * allocation): returns that last allocation's line, the one whose free was not traced.
 */
function untracedObjectFrees(text: string): string[] {
  const re = /^.* (kmalloc|kmem_cache_alloc|kfree|kmem_cache_free): call_site=\S+ ptr=(\S+)/gm;
  const live = new Map<string, string>();
  const out: string[] = [];
  for (const m of text.matchAll(re)) {
    const ev = m[1]!, ptr = m[2]!;
    if (ev === 'kfree' || ev === 'kmem_cache_free') { live.delete(ptr); continue; }
    if (/^(0x0|\(null\)|0+)$/.test(ptr)) continue;
    const previous = live.get(ptr);
    if (previous !== undefined) out.push(previous);
    live.set(ptr, m[0]);
  }
  return out;
}

describe('bundled kernel recordings', () => {
  it('there are at least two, of different workloads, each found by the default run', () => {
    expect(recordings.length).toBeGreaterThanOrEqual(2);
    const workloads = new Set(recordings.map((r) => readFileSync(join(KERNEL_DIR, r, 'workload.sh'), 'utf8')));
    expect(workloads.size).toBe(recordings.length);
    const bundled = bundledTraces().map((p) => p.replace(/\\/g, '/'));
    for (const r of recordings) expect(bundled.some((p) => p.endsWith(`kernel/${r}/${r}.ftrace.gz`)), r).toBe(true);
  });

  for (const name of recordings) {
    describe(name, () => {
      it('loads with zero malformed lines and no event lost by the ring buffer', () => {
        const { text, trace } = load(name);
        expect(trace.length).toBeGreaterThan(100_000);
        // the loader throws on a malformed line; nothing skipped as unknown except the two kmem
        // events that are not replayed (mm_page_alloc_zone_locked, mm_page_pcpu_drain), the
        // compaction tracepoints but mm_compaction_end (kcompactd's drains) and the vmscan ones
        // but kswapd's wake and sleep (when reclaim ran)
        const notReplayed = (text.match(/ (mm_page_alloc_zone_locked|mm_page_pcpu_drain|mm_compaction_(?!end)\w+|mm_vmscan_(?!kswapd_wake|kswapd_sleep)\w+): /g) ?? []).length;
        expect(trace.stats!.skipped_unknown_events).toBe(notReplayed);
        // nothing lost means no implied frees, except for objects the kernel frees without a
        // tracepoint: kmem_cache_free_bulk() (mm/slub.c) has none, and the maple tree gives the
        // nodes mas_alloc_nodes() preallocated and did not use back through it (mas_destroy() ->
        // mt_free_bulk()); seen in the 6.12 recordings only
        const untraced = untracedObjectFrees(text);
        expect(trace.stats!.implied_frees).toBe(untraced.length);
        for (const line of untraced) expect(line).toMatch(/ kmem_cache_alloc: call_site=mas_alloc_nodes\+/);
        expect(text).not.toMatch(/LOST \d+ EVENTS/);
        const stats = readFileSync(join(KERNEL_DIR, name, 'ring-buffer-stats'), 'utf8');
        expect(stats).toMatch(/^overrun: 0$/m);
        expect(stats).toMatch(/^dropped events: 0$/m);
      });

      it('produces as many page allocations and frees as a count made over the text', () => {
        const { text, trace } = load(name);
        const c = independentPageCounts(text);
        expect(c.allocs).toBeGreaterThan(1000);
        // plus one allocation per compaction isolation that took its block, and one per page of each
        // vmalloc area (its page array's bytes_req / 8: __alloc_pages_bulk() takes them untraced)
        const vmallocPages = [...text.matchAll(/ kmalloc: call_site=__vmalloc_node_range\S* ptr=\S+ bytes_req=(\d+)/g)].reduce((n, m) => n + Number(m[1]) / 8, 0);
        expect(vmallocPages).toBeGreaterThan(0);
        expect(trace.stats!.vmalloc_bulk_pages).toBe(vmallocPages);
        expect(countOps(trace, OP_PAGE_ALLOC)).toBe(c.allocs + (text.match(ISOLATED) ?? []).length + vmallocPages);
        expect(countOps(trace, OP_PAGE_FREE)).toBe(c.frees);
        // the kernel's double report of a list free is swallowed once per pair, not freed twice
        expect(trace.stats!.duplicate_batched_frees).toBe(c.batchedPaired);
        expect(c.batchedPaired).toBeGreaterThan(0);
      });

      it('records every compaction isolation (kprobes on a function the guest\'s kallsyms lists): the migrated pages had targets', () => {
        const { trace } = load(name);
        // a global text symbol: compaction.c calls it in another file, so the kprobe sees every call
        expect(readFileSync(join(KERNEL_DIR, name, 'kallsyms'), 'utf8')).toMatch(/^[0-9a-f]{16} T __isolate_free_page$/m);
        const vmstat = (s: string, key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(join(KERNEL_DIR, name, s, 'vmstat'), 'utf8'))![1]);
        const migrated = vmstat('after', 'pgmigrate_success') - vmstat('before', 'pgmigrate_success');
        const st = trace.stats!;
        expect(migrated).toBeGreaterThan(100);
        // every migrated page went to an isolated target; the rest came back as pieces
        expect(st.compaction_isolated_pages).toBeGreaterThanOrEqual(migrated);
        expect(st.compaction_isolated_pages! - migrated).toBeLessThanOrEqual(st.compaction_isolated_pages! / 10);
        expect(st.compaction_isolation_returns_unpaired).toBe(0);
        expect(st.compaction_isolation_conflicts).toBe(0);
        expect(st.compaction_target_pages_held_at_end).toBeLessThanOrEqual(migrated);
      });

      it('holds every page allocation the kernel made: its page events replayed at their own pfns from before/kpageflags free what after/kpageflags has free', () => {
        // no model: each mm_page_alloc / isolation takes its pfns, each mm_page_free puts them on a
        // per-CPU list (orders 0-3 and pageblock order: pcp_allowed_order(), 6.1 and 6.12) or the free
        // lists, mm_page_pcpu_drain moves them to the free lists, a refill (percpu_refill=1) to a list
        const { text } = load(name);
        const flags = (s: string): Buffer => gunzipSync(readFileSync(join(KERNEL_DIR, name, s, 'kpageflags.gz')));
        const before = flags('before'), after = flags('after');
        const n = before.length / 8;
        const st = new Uint8Array(n); // 0 in use (or unknown), 1 on the free lists, 2 on a per-CPU list
        for (let p = 0; p < n; p++) st[p] = (before.readUInt32LE(p * 8) >> 10) & 1;
        const set = (pfn: number, o: number, v: number): void => { st.fill(v, pfn, pfn + 2 ** o); };
        const pending = new Map<string, [number, number]>();
        let isolatedNotFree = 0;
        // the last page event of each CPU's task context (flags without h/s: not in an interrupt)
        const lastTaskEvent = new Map<string, string>();
        let trylockFails = 0;
        const re = /\[(\d+)\] (\S+) .*? (mm_page_alloc|mm_page_free|mm_page_free_batched|mm_page_pcpu_drain|mm_page_alloc_zone_locked|isolate_free_page|isolate_free_page_ret): (?:page=\S+ pfn=0x([0-9a-f]+) order=(\d+)(.*)|.*?(?:page=0x([0-9a-f]+) order=(\d+) vmemmap_base=0x([0-9a-f]+)|ret=(\d+)))$/gm;
        for (const match of text.matchAll(re)) {
          const flags = match[2]!;
          const m = [match[0], match[1], ...match.slice(3)]; // the groups as before the flags column was read
          const ev = m[2]!;
          const inIrq = /^..[hsHb]/.test(flags);
          const previous = lastTaskEvent.get(m[1]!);
          if (!inIrq && ev.startsWith('mm_page_free')) lastTaskEvent.set(m[1]!, ev);
          else if (!inIrq && ev === 'mm_page_alloc') lastTaskEvent.set(m[1]!, ev);
          if (ev === 'mm_page_free_batched') continue;
          // An interrupt's free while the task it interrupted holds the CPU's pcp lock (inside
          // free_unref_page_list() / free_unref_folios(), between its mm_page_free_batched
          // reports, preempt depth 2: pcpu_task_pin() + spin_lock()) finds the lock taken and goes
          // straight to the free lists (6.1 and 6.12 free_unref_page(): pcp_spin_trylock() fails
          // -> free_one_page()), with no mm_page_pcpu_drain.
          if (ev === 'mm_page_free' && inIrq && previous === 'mm_page_free_batched' && Number(flags[3]) >= 2) {
            trylockFails++;
            set(parseInt(m[3]!, 16), Number(m[4]), 1);
            continue;
          }
          if (ev === 'isolate_free_page') { pending.set(m[1]!, [Number((BigInt(`0x${m[6]}`) - BigInt(`0x${m[8]}`)) / 64n), Number(m[7])]); continue; }
          if (ev === 'isolate_free_page_ret') {
            const [pfn, o] = pending.get(m[1]!)!;
            if (Number(m[9]) === 0) continue;
            // the kprobe's pfn, (page - vmemmap_base) / 64, is a block on the free lists at that moment
            for (let q = pfn; q < pfn + 2 ** o; q++) if (st[q] !== 1) isolatedNotFree++;
            set(pfn, o, 0);
            continue;
          }
          const pfn = parseInt(m[3]!, 16), o = Number(m[4]);
          if (pfn === 0) continue;
          if (ev === 'mm_page_alloc') set(pfn, o, 0);
          else if (ev === 'mm_page_free') set(pfn, o, o <= 3 || o === 9 ? 2 : 1);
          else if (ev === 'mm_page_pcpu_drain') set(pfn, o, 1);
          else if (m[5]!.includes('percpu_refill=1')) set(pfn, o, 2);
        }
        expect(isolatedNotFree).toBe(0);
        // a rare race: none in the bundled recordings; in trial recordings of 2026-12-04 (RCU
        // callbacks during rm) 8 and 23 pages on build-compress, 1 on build-compress-smp, where
        // this replay of it made the check below pass
        expect(trylockFails).toBeLessThanOrEqual(16);
        let onlyReplay = 0, onlyReal = 0;
        for (let p = 0; p < n; p++) {
          const free = (after.readUInt32LE(p * 8) >> 10) & 1;
          if (st[p] === 1 && !free) onlyReplay++;
          if (st[p] !== 1 && free) onlyReal++;
        }
        // nothing free at the end that the events have in use (no free went untraced) ...
        expect(onlyReal).toBe(0);
        // ... and nothing in use at the end that the events did not allocate, but for the per-CPU
        // lists' share (their content at the start is unknown): before the recording script made
        // the after-snapshot's kpage files before tracing and recorded compaction's isolations,
        // this was 867 / 6836 / 2043 / 10656 pages
        const pcpEnd = [...readFileSync(join(KERNEL_DIR, name, 'after', 'zoneinfo'), 'utf8').matchAll(/^\s+count:\s+(\d+)$/gm)].reduce((a, x) => a + Number(x[1]), 0);
        expect(onlyReplay).toBeLessThanOrEqual(pcpEnd + 64);
      });

      it('keeps slab allocations, faults, extfrag reports and phase marks', () => {
        const { text, trace } = load(name);
        const kmallocs = (text.match(/ kmalloc: call_site=\S+ ptr=(?!0x0 |\(null\)|0+ )/g) ?? []).length;
        const cacheAllocs = (text.match(/ kmem_cache_alloc: call_site=\S+ ptr=(?!0x0 |\(null\)|0+ )/g) ?? []).length;
        const faults = (text.match(/ page_fault_user: address=0x[0-9a-f]+ /g) ?? []).length;
        const extfrag = (text.match(/ mm_page_alloc_extfrag: /g) ?? []).length;
        expect(countOps(trace, OP_KMALLOC)).toBe(kmallocs);
        expect(countOps(trace, OP_CACHE_ALLOC)).toBe(cacheAllocs);
        expect(countOps(trace, OP_FAULT)).toBe(faults);
        expect(countOps(trace, OP_EXTFRAG)).toBe(extfrag);
        expect(trace.strings).toContain('phase: workload-start');
        expect(countOps(trace, OP_MARK)).toBeGreaterThanOrEqual(3);
      });

      it('the layers option splits page events from slab events without changing either', () => {
        // the split is the loader's property, not the recording's: 50,000 lines of it (with page,
        // slab and fault events, and kcompactd frees where the recording has any) are enough,
        // parsed three times instead of the whole recording twice more (about 10 s each)
        const text = excerpt(load(name).text);
        const trace = parseKernelTrace(text, tracePath(name), name);
        expect(countOps(trace, OP_PAGE_ALLOC)).toBeGreaterThan(1000);
        expect(countOps(trace, OP_CACHE_ALLOC)).toBeGreaterThan(1000);
        expect(countOps(trace, OP_KMALLOC)).toBeGreaterThan(100);
        expect(countOps(trace, OP_FAULT)).toBeGreaterThan(1000);
        const pages = parseKernelTrace(text, tracePath(name), name, { layers: 'pages' });
        const objects = parseKernelTrace(text, tracePath(name), name, { layers: 'objects' });
        // recorded isolations are the migration targets: no synthetic ones from kcompactd's frees (attribution.ts layerView)
        const isolations = (text.match(ISOLATED) ?? []).length;
        expect(pages.stats!.compaction_isolations ?? 0).toBe(isolations);
        if (isolations > 0) expect(pages.stats!.compaction_targets).toBe(0);
        expect(countOps(pages, OP_PAGE_ALLOC)).toBe(countOps(trace, OP_PAGE_ALLOC) + pages.stats!.compaction_targets!);
        // plus one free of a new id before the first sight of a pfn by an allocation or a pcp drain (kernel.ts pcpStartFree)
        expect(pages.stats!.pcp_start_frees).toBeGreaterThan(0);
        expect(countOps(pages, OP_PAGE_FREE)).toBe(countOps(trace, OP_PAGE_FREE) + pages.stats!.pcp_start_frees!);
        expect(countOps(pages, OP_CACHE_ALLOC) + countOps(pages, OP_KMALLOC)).toBe(0);
        expect(countOps(objects, OP_PAGE_ALLOC) + countOps(objects, OP_PAGE_FREE)).toBe(0);
        expect(countOps(objects, OP_CACHE_ALLOC)).toBe(countOps(trace, OP_CACHE_ALLOC));
        expect(countOps(objects, OP_KMALLOC)).toBe(countOps(trace, OP_KMALLOC));
        // faults are not replayed in any layer view: the pages that served them are recorded page events
        expect(countOps(objects, OP_FAULT) + countOps(pages, OP_FAULT)).toBe(0);
      });

      it('nothing lost on any CPU: every ring buffer reports zero overruns and dropped events', () => {
        const stats = readFileSync(join(KERNEL_DIR, name, 'ring-buffer-stats'), 'utf8');
        const cpus = (stats.match(/^cpu\d+$/gm) ?? []).length;
        expect(cpus).toBeGreaterThanOrEqual(1);
        for (const key of ['overrun', 'commit overrun', 'dropped events']) {
          const values = [...stats.matchAll(new RegExp(`^${key}: (\\d+)$`, 'gm'))].map((m) => Number(m[1]));
          expect(values, key).toEqual(new Array(cpus).fill(0));
        }
      });

      it('machine.json describes the guest: loadMachine reads it, and its map, CPUs and min_free_kbytes agree with zoneinfo', () => {
        const file = join(KERNEL_DIR, name, 'machine.json');
        const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        for (const k of ['kernel', 'kernel_version', 'cmdline', 'memory_map_source', 'qemu']) expect(typeof json[k], k).toBe('string');
        expect(json.kernel_version).toMatch(/^6\.(1|12)$/);
        expect(String(json.kernel).startsWith(String(json.kernel_version))).toBe(true);
        expect(json.qemu).toContain(`-smp ${String(json.cpus)} `);
        expect(readFileSync(join(KERNEL_DIR, name, 'recording.txt'), 'utf8')).toContain(`kernel: ${String(json.kernel)}\n`);
        const m = loadMachine(file);
        const zones = zoneinfoZones(readFileSync(join(KERNEL_DIR, name, 'before', 'zoneinfo'), 'utf8'));
        expect(zones.map((z) => z.name)).toContain('DMA32');
        // one pageset per possible CPU in zoneinfo
        for (const z of zones) expect(z.pagesetCpus, z.name).toBe(m.cpus);
        // the usable e820 pages are the zones' present pages, less pfn 0 (x86 trim_bios_range())
        let usable = 0;
        for (const r of m.map) if (r.type === 'usable') usable += Math.floor(r.end / 4096) - Math.ceil(r.start / 4096);
        expect(zones.reduce((s, z) => s + z.present, 0)).toBe(usable - 1);
        // __setup_per_zone_wmarks(): each zone's min is its floored share of min_free_kbytes / 4
        const pagesMin = Number(json.min_free_kbytes) >> 2;
        const sumMin = zones.reduce((s, z) => s + z.min, 0);
        expect(sumMin).toBeLessThanOrEqual(pagesMin);
        expect(sumMin).toBeGreaterThanOrEqual(pagesMin - zones.length);
      });

      it('before/kpageflags.gz holds one u64 per pfn whose free pages are exactly the before buddyinfo', () => {
        const dir = join(KERNEL_DIR, name, 'before');
        const flags = gunzipSync(readFileSync(join(dir, 'kpageflags.gz')));
        const count = gunzipSync(readFileSync(join(dir, 'kpagecount.gz')));
        const zones = zoneinfoZones(readFileSync(join(dir, 'zoneinfo'), 'utf8'));
        const last = zones[zones.length - 1]!;
        expect(flags.length).toBe(count.length);
        expect(flags.length / 8).toBeGreaterThanOrEqual(last.start + last.spanned);
        const buddy = readFileSync(join(dir, 'buddyinfo'), 'utf8');
        for (const z of zones) {
          const row = new RegExp(`^Node 0, zone +${z.name} +(.*)$`, 'm').exec(buddy)![1]!.trim().split(/\s+/).map(Number);
          expect(kpageflagsFreeBlocks(flags, z.start, z.start + z.spanned, row.length), z.name).toEqual(row);
        }
      });

      it("the fraginfo indices of each before/after buddyinfo equal the kernel's own files", () => {
        const snaps = findSnapshots(tracePath(name));
        expect(snaps).not.toBeNull();
        for (const when of ['before', 'after'] as const) {
          const s = snaps![when];
          for (const f of ['buddyinfo', 'pagetypeinfo', 'slabinfo', 'zoneinfo', 'unusable_index', 'extfrag_index']) {
            expect(s[f], `${when}/${f}`).toBeTruthy();
          }
          const zones = parseBuddyinfo(s.buddyinfo!, `${when}/buddyinfo`);
          expect(formatUnusableIndex(zones)).toBe(s.unusable_index);
          expect(formatExtfragIndex(zones)).toBe(s.extfrag_index);
        }
      });
    });
  }
});

describe('findSnapshots', () => {
  it('returns null for a trace without before/after folders', () => {
    expect(findSnapshots(join(TRACE_DIR, 'perl-strings.mtrace.gz'))).toBeNull();
  });
});
