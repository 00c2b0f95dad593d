import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TraceFormatError } from '../src/errors.js';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_COMP, __GFP_NORETRY, __GFP_NOWARN, __GFP_ZERO } from '../src/machine/gfp.js';
import { looksLikeKernelTrace, parseKernelTrace } from '../src/trace/kernel.js';
import {
  CACHE_RECLAIMABLE, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_EXTFRAG, OP_FAULT, OP_KFREE, OP_KMALLOC,
  OP_MARK, OP_NAMES, OP_PAGE_ALLOC, OP_PAGE_FREE, packExtfrag,
} from '../src/trace/ops.js';
import { valueAt, type Trace } from '../src/trace/trace.js';

const fixture = (f: string): string => readFileSync(new URL(`./fixtures/kernel/${f}`, import.meta.url), 'utf8');

/** Rows as [op name, id, value, aux] for exact comparisons. */
function rows(t: Trace): [string, number, number, number][] {
  const out: [string, number, number, number][] = [];
  for (let i = 0; i < t.length; i++) out.push([OP_NAMES[t.op[i]!]!, t.id[i]!, valueAt(t, i), t.aux[i]!]);
  return out;
}

/** A line in each prefix style with the given event text. */
const ftrace = (ev: string, task = 'bash-2154'): string => `            ${task}    [001] d..1.   812.331090: ${ev}`;

function expectFormatError(text: string, line: number): TraceFormatError {
  try {
    parseKernelTrace(text, 'bad.trace');
  } catch (e) {
    expect(e).toBeInstanceOf(TraceFormatError);
    const err = e as TraceFormatError;
    expect(err.line).toBe(line);
    expect(err.file).toBe('bad.trace');
    return err;
  }
  throw new Error('expected a TraceFormatError');
}

describe('kernel trace loader: recorded fixtures', () => {
  it('reads a 6.x ftrace buffer: hex pfns, name= caches, faults with pids, marks, failed allocs and unknown events', () => {
    const t = parseKernelTrace(fixture('ftrace-6x.ftrace'), 'test/fixtures/kernel/ftrace-6x.ftrace');
    expect(t.name).toBe('ftrace-6x');
    expect(rows(t)).toEqual([
      ['mark', 0, 0, 0],
      ['page_alloc', 0, 0, GFP_HIGHUSER_MOVABLE | __GFP_ZERO],
      ['page_alloc', 1, 2, GFP_KERNEL | __GFP_COMP],
      ['cache_create', 0, 0, 0],
      ['cache_alloc', 2, 0, 0],
      ['kmalloc', 3, 640, 0x2a20], // GFP_ATOMIC|__GFP_NOWARN
      ['cache_free', 2, 0, 0],
      ['kfree', 3, 0, 0],
      ['extfrag', 0, 9, packExtfrag(0, 0, 1, false, true)],
      ['fault', 2154, 0x7f3a2c1b4010, 1], // error_code 0x6: user write
      ['fault', 2154, 0x55d0c7a1e000, 0], // 0x4: user read
      ['page_free', 0, 0, 0], // mm_page_free, then its mm_page_free_batched report is swallowed
      ['page_free', 1, 2, 0],
      ['fault', 2155, 0x7ffd5e8c9ff8, 1], // pid 1500321 ≥ 2^20 → first dense number above 2154
      ['fault', 2150, 0x7f3a2c1b5000, 1], // the (tgid) column wins over the thread's pid
      ['mark', 0, 0, 1],
    ]);
    expect(t.strings).toEqual(['phase-1', 'phase-2']);
    expect(t.caches).toEqual([{ name: 'skbuff_head_cache', size: 256, align: 0, flags: 0 }]);
    expect(t.idCount).toBe(4);
    expect(t.pidCount).toBe(2156);
    expect(t.stats).toMatchObject({
      skipped_unknown_events: 1, recorded_failed_allocs: 1, duplicate_batched_frees: 1, null_frees: 1, kernel_faults_skipped: 0,
    });
  });

  it('reads perf script output: pid/tid, period column, callchains, decimal pfns, hex gfp, old gfp names and caches per size', () => {
    const t = parseKernelTrace(fixture('perf-4x.perf'), 'x/perf-4x.perf');
    expect(rows(t)).toEqual([
      ['page_alloc', 0, 0, GFP_KERNEL],
      ['kmalloc', 1, 4096, GFP_KERNEL | __GFP_NOWARN],
      ['cache_create', 0, 0, 0],
      ['cache_alloc', 2, 0, 0],
      ['cache_alloc', 3, 0, 0], // 0x6000c0 hex gfp, same 192-byte cache
      ['cache_create', 1, 0, 0],
      ['cache_alloc', 4, 0, 1],
      ['cache_free', 2, 0, 0],
      ['kfree', 1, 0, 0],
      ['page_free', 0, 0, 0], // batched first (pre-4.15 order), the plain report swallowed
      ['fault', 1840, 0x7f5e1c000000, 1], // `1840/1843`: the process, not the thread
      ['mark', 0, 0, 0],
      ['page_free', 5, 1, 1223232], // never allocated in the trace: a fresh id (its pfn in aux for a start state), counted by the replay
    ]);
    expect(t.caches.map((c) => [c.name, c.size])).toEqual([['cache-192', 192], ['cache-512', 512]]);
    expect(t.strings).toEqual(['warmup done']);
    expect(t.stats).toMatchObject({ callchain_lines: 2, kernel_faults_skipped: 1, recorded_failed_allocs: 1, null_frees: 1, duplicate_batched_frees: 1, unknown_gfp_names: 0 });
  });

  it('reads trace-cmd report output with its cpus= and empty-CPU headers and padded event names', () => {
    const t = parseKernelTrace(fixture('trace-cmd.trace'), 'trace-cmd.trace');
    expect(rows(t)).toEqual([
      ['page_alloc', 0, 0, GFP_HIGHUSER_MOVABLE],
      ['page_alloc', 1, 3, GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY | __GFP_COMP],
      ['kmalloc', 2, 28, GFP_KERNEL],
      ['mark', 0, 0, 0],
      ['kfree', 2, 0, 0],
      ['page_free', 1, 3, 0],
      ['page_free', 0, 0, 0],
      ['page_free', 3, 0, 0], // a second plain free of the same pfn is a real double free: not swallowed
    ]);
    expect(t.strings).toEqual(['build start']);
    expect(t.pidCount).toBe(0);
    expect(t.stats!.skipped_unknown_events).toBe(1);
  });

  it('sniffs kernel trace text and rejects other formats', () => {
    expect(looksLikeKernelTrace(fixture('ftrace-6x.ftrace'))).toBe(true);
    expect(looksLikeKernelTrace(fixture('perf-4x.perf'))).toBe(true);
    expect(looksLikeKernelTrace(fixture('trace-cmd.trace'))).toBe(true);
    expect(looksLikeKernelTrace('20000\n3\n8\n1\na 0 512\n')).toBe(false);
    expect(looksLikeKernelTrace('= Start\n@ ./a.out:[0x4005d6] + 0x1c3b460 0x10\n')).toBe(false);
  });
});

describe('kernel trace loader: line prefixes', () => {
  const ev = 'kmalloc: call_site=foo+0x1/0x2 ptr=ffff888003c2a000 bytes_req=24 bytes_alloc=32 gfp_flags=GFP_KERNEL';
  const fault = 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6';

  it('anchors on [cpu] and the timestamp whatever the task name holds', () => {
    for (const task of ['a b: c [x]-77', 'kworker/u8:2-77', '<...>-77', 'Web Content 12-77']) {
      const t = parseKernelTrace(ftrace(fault, task), 'x.trace');
      expect(rows(t)).toEqual([['fault', 77, 0x7f0000001000, 1]]);
    }
  });

  it('accepts every prefix variant: no flags, old 4-char flags, perf tid, perf pid/tid, no cpu column, trace-cmd latency format', () => {
    const lines = [
      `bash-77 [000] 10.000001: ${fault}`,
      `bash-77 [000] d..1 10.000001: ${fault}`,
      `  bash 77 [003] 10.000001: exceptions:${fault}`,
      `  bash 77/78 [003] 10.000001: exceptions:${fault}`,
      `  bash 77 10.000001: exceptions:${fault}`,
      `bash-77  1d..1 10.000001: ${fault}`,
      `bash-77 [000] 123456789: ${fault}`,
    ];
    for (const l of lines) expect(rows(parseKernelTrace(l, 'x.trace')), l).toEqual([['fault', 77, 0x7f0000001000, 1]]);
  });

  it('skips comments, blank lines, CRLF endings and trace-cmd headers', () => {
    const text = `# comment\r\n\r\ncpus=2\r\nCPU 1 is empty\r\n${ftrace(ev)}\r\n`;
    const t = parseKernelTrace(text, 'x.trace');
    expect(rows(t)).toEqual([['kmalloc', 0, 24, GFP_KERNEL]]);
  });

  it('reports a malformed CPU line even when a later line is a trace-cmd "CPU n is empty" header', () => {
    const err = expectFormatError(`CPU 3 garbage\n${ftrace(ev)}\nCPU 1 is empty\n`, 1);
    expect(err.text).toBe('CPU 3 garbage');
    expectFormatError(`CPU 1 is empty\nCPU 3 garbage\n`, 2);
  });

  it('reads perf\'s kmem: and exceptions: subsystem prefixes (and any other) as the bare event names', () => {
    const events = [
      'mm_page_alloc: page=0x1 pfn=0x100 order=1 migratetype=0 gfp_flags=GFP_KERNEL',
      'mm_page_free_batched: page=0x1 pfn=0x100 order=0',
      'mm_page_free: page=0x1 pfn=0x100 order=1',
      'mm_page_free: page=0x1 pfn=0x200 order=0',
      ev,
      'kmem_cache_alloc: call_site=x ptr=ffff888003c2b000 name=dentry bytes_req=192 bytes_alloc=192 gfp_flags=GFP_KERNEL',
      'kmem_cache_free: call_site=x ptr=ffff888003c2b000 name=dentry',
      'kfree: call_site=x ptr=ffff888003c2a000',
      fault,
      'sched_switch: prev_comm=bash prev_pid=1',
    ];
    const bare = parseKernelTrace(events.map((e) => `bash 77 [000] 10.000001: ${e}`).join('\n'), 'x.perf');
    expect(rows(bare).map((r) => r[0])).toEqual(['page_alloc', 'page_free', 'page_free', 'kmalloc', 'cache_create', 'cache_alloc', 'cache_free', 'kfree', 'fault']);
    expect(bare.stats!.duplicate_batched_frees).toBe(1);
    expect(bare.stats!.skipped_unknown_events).toBe(1);
    for (const sub of ['kmem:', 'exceptions:', 'foo:', 'a:b:']) {
      const t = parseKernelTrace(events.map((e) => `bash 77 [000] 10.000001: ${sub}${e}`).join('\n'), 'x.perf');
      expect(rows(t), sub).toEqual(rows(bare));
      expect(t.stats).toEqual(bare.stats);
    }
    // a name that only starts like one the fast path knows is another event
    const t = parseKernelTrace(['kmem:kmallocx: ptr=1', 'kmem:kfree:x: ptr=1', 'exceptions:page_fault_users: address=0x1'].map((e) => `bash 77 [000] 1.5: ${e}`).join('\n'), 'x.perf');
    expect(t.length).toBe(0);
    expect(t.stats!.skipped_unknown_events).toBe(3);
  });

  it('counts unknown tracepoints without failing', () => {
    const t = parseKernelTrace([ftrace('sched_switch: prev_comm=bash prev_pid=1'), ftrace('mm_page_pcpu_drain: page=x pfn=0x1 order=0 migratetype=1')].join('\n'), 'x');
    expect(t.length).toBe(0);
    expect(t.stats!.skipped_unknown_events).toBe(2);
  });
});

describe('kernel trace loader: event semantics', () => {
  const alloc = (pfn: string, order: number, gfp = 'GFP_KERNEL'): string => ftrace(`mm_page_alloc: page=0000000012345678 pfn=${pfn} order=${order} migratetype=0 gfp_flags=${gfp}`);
  const free = (pfn: string, order: number): string => ftrace(`mm_page_free: page=0000000012345678 pfn=${pfn} order=${order}`);
  const batched = (pfn: string): string => ftrace(`mm_page_free_batched: page=0000000012345678 pfn=${pfn} order=0`);

  it('frees a block reported by both mm_page_free and mm_page_free_batched exactly once, in either order', () => {
    for (const pair of [[free('0x100', 0), batched('0x100')], [batched('0x100'), free('0x100', 0)]]) {
      const t = parseKernelTrace([alloc('0x100', 0), ...pair, alloc('0x100', 0), free('0x100', 0)].join('\n'), 'x');
      expect(rows(t)).toEqual([['page_alloc', 0, 0, GFP_KERNEL], ['page_free', 0, 0, 0], ['page_alloc', 1, 0, GFP_KERNEL], ['page_free', 1, 0, 0]]);
      expect(t.stats!.duplicate_batched_frees).toBe(1);
    }
  });

  it('keeps a second report of the same kind as a free of a fresh id (a real double free)', () => {
    const t = parseKernelTrace([alloc('0x100', 0), batched('0x100'), batched('0x100')].join('\n'), 'x');
    expect(rows(t)).toEqual([['page_alloc', 0, 0, GFP_KERNEL], ['page_free', 0, 0, 0], ['page_free', 1, 0, 0]]);
    expect(t.idCount).toBe(2);
  });

  it('frees a block allocated as order N and freed as order M under the alloc id (the replay uses the stored order)', () => {
    const t = parseKernelTrace([alloc('0x200', 3), free('0x200', 0)].join('\n'), 'x');
    expect(rows(t)).toEqual([['page_alloc', 0, 3, GFP_KERNEL], ['page_free', 0, 0, 0]]);
  });

  it('replays a lost free when a live pfn or pointer is allocated again', () => {
    const k = (p: string): string => ftrace(`kmalloc: call_site=x ptr=${p} bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL`);
    const t = parseKernelTrace([alloc('0x300', 1), alloc('0x300', 0), k('0xffff888000001000'), k('0xffff888000001000')].join('\n'), 'x');
    expect(rows(t)).toEqual([
      ['page_alloc', 0, 1, GFP_KERNEL], ['page_free', 0, 1, 0], ['page_alloc', 1, 0, GFP_KERNEL],
      ['kmalloc', 2, 8, GFP_KERNEL], ['kfree', 2, 0, 0], ['kmalloc', 3, 8, GFP_KERNEL],
    ]);
    expect(t.stats!.implied_frees).toBe(2);
  });

  it('skips failed allocations in every spelling and counts them', () => {
    const lines = [
      ftrace('mm_page_alloc: page=0000000000000000 pfn=0x0 order=0 migratetype=0 gfp_flags=GFP_KERNEL'),
      ftrace('mm_page_alloc: page=(null) pfn=0 order=0 migratetype=0 gfp_flags=GFP_KERNEL'),
      ftrace('mm_page_alloc: page=0x0 pfn=18446744073709551615 order=0 migratetype=0 gfp_flags=GFP_KERNEL'),
      ftrace('kmalloc: call_site=x ptr=0000000000000000 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL'),
      ftrace('kmem_cache_alloc: call_site=x ptr=(null) name=foo bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL'),
    ];
    const t = parseKernelTrace(lines.join('\n'), 'x');
    expect(t.length).toBe(0);
    expect(t.caches).toEqual([]);
    expect(t.stats!.recorded_failed_allocs).toBe(5);
  });

  it('treats kfree and kmem_cache_free of NULL as no-ops and frees unknown pointers under fresh ids', () => {
    const t = parseKernelTrace([
      ftrace('kfree: call_site=x ptr=(null)'), ftrace('kfree: call_site=x ptr=0x0'), ftrace('kmem_cache_free: call_site=x ptr=0000000000000000 name=foo'),
      ftrace('kfree: call_site=x ptr=ffff888003c2a000'),
    ].join('\n'), 'x');
    expect(rows(t)).toEqual([['kfree', 0, 0, 0]]);
    expect(t.stats!.null_frees).toBe(3);
  });

  it('marks a named cache reclaimable when its allocations carry __GFP_RECLAIMABLE, and frees a cache object through kfree with its cache', () => {
    const t = parseKernelTrace([
      ftrace('kmem_cache_alloc: call_site=x ptr=00000000aaaa0000 name=dentry bytes_req=192 bytes_alloc=192 gfp_flags=GFP_KERNEL|__GFP_RECLAIMABLE'),
      ftrace('kfree: call_site=x ptr=00000000aaaa0000'),
    ].join('\n'), 'x');
    expect(t.caches).toEqual([{ name: 'dentry', size: 192, align: 0, flags: CACHE_RECLAIMABLE }]);
    expect(rows(t)).toEqual([['cache_create', 0, 0, 0], ['cache_alloc', 0, 0, 0], ['cache_free', 0, 0, 0]]);
  });

  it('drops gfp names it does not know instead of failing, and counts them', () => {
    const t = parseKernelTrace(ftrace('kmalloc: call_site=x ptr=ffff888003c2a000 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL|__GFP_NO_OBJ_EXT'), 'x');
    expect(rows(t)).toEqual([['kmalloc', 0, 8, GFP_KERNEL]]);
    expect(t.stats!.unknown_gfp_names).toBe(1);
  });

  it('reads marks from trace_marker in ftrace, trace-cmd and perf spellings', () => {
    const t = parseKernelTrace([
      ftrace('tracing_mark_write: a b c'), ftrace('print: tracing_mark_write: two'), ftrace('print: ip=0xffffffff81000000 buf=three'),
      ftrace('tracing_mark_write: a b c'),
    ].join('\n'), 'x');
    expect(rows(t).map((r) => r[0])).toEqual(['mark', 'mark', 'mark', 'mark']);
    expect(t.strings).toEqual(['a b c', 'two', 'three']);
  });
});

describe('kernel trace loader: malformed input', () => {
  it('names file, line and text of a line without a trace prefix', () => {
    const err = expectFormatError(`# ok\n${ftrace('kfree: call_site=x ptr=0x0')}\nthis is not a trace line\n`, 3);
    expect(err.text).toBe('this is not a trace line');
    expect(err.message).toContain('bad.trace:3');
  });

  it('rejects sizes past 2^48 and numbers past 2^53', () => {
    expectFormatError(ftrace(`kmalloc: call_site=x ptr=0xffff888000001000 bytes_req=${2 ** 48} bytes_alloc=8 gfp_flags=GFP_KERNEL`), 1);
    expectFormatError(ftrace('kmalloc: call_site=x ptr=0xffff888000001000 bytes_req=18014398509481985 bytes_alloc=8 gfp_flags=GFP_KERNEL'), 1);
    expectFormatError(ftrace('mm_page_free: page=0x1 pfn=99999999999999999999 order=0'), 1);
    expectFormatError(ftrace('mm_page_alloc: page=0x1 pfn=0x10 order=40 migratetype=0 gfp_flags=GFP_KERNEL'), 1);
  });

  it('rejects negative sizes and pointers longer than 64 bits', () => {
    expectFormatError(ftrace('kmalloc: call_site=x ptr=0xffff888000001000 bytes_req=-8 bytes_alloc=8 gfp_flags=GFP_KERNEL'), 1);
    expectFormatError(ftrace('kfree: call_site=x ptr=0x1ffff888000001000'), 1);
  });

  it('rejects truncated lines: missing fields or a cut-off event name', () => {
    expectFormatError(ftrace('kmalloc: call_site=x ptr=0xffff888000001000'), 1);
    expectFormatError(ftrace('mm_page_alloc: page=0x1 pfn='), 1);
    expectFormatError('bash-1 [000] 1.5: kmallo', 1);
    expectFormatError('bash-1 [000] 1.', 1);
  });

  const valid = [
    ftrace('mm_page_alloc: page=000000009c3d2f10 pfn=0x11b600 order=2 migratetype=0 gfp_flags=GFP_KERNEL|__GFP_COMP'),
    ftrace('mm_page_free: page=000000009c3d2f10 pfn=0x11b600 order=2'),
    ftrace('kmem_cache_alloc: call_site=__alloc_skb+0x4e/0x1f0 ptr=00000000f2ba1d8f name=skbuff_head_cache bytes_req=232 bytes_alloc=256 gfp_flags=GFP_ATOMIC node=-1 accounted=false'),
    ftrace('kfree: call_site=skb_free_head+0x7a/0x90 ptr=000000004e28a1c7'),
    ftrace('page_fault_user: address=0x7f3a2c1b4010 ip=0x7f3a2bf6e2a9 error_code=0x6'),
    ftrace('mm_page_alloc_extfrag: page=0000000081d1aa36 pfn=0x10f000 alloc_order=0 fallback_order=9 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1'),
    ftrace('tracing_mark_write: x'),
  ];
  const onlyTraceOrFormatError = (text: string): void => {
    try {
      const t = parseKernelTrace(text, 'fuzz.trace');
      expect(t.length).toBeGreaterThanOrEqual(0);
      for (let i = 0; i < t.length; i++) {
        const id = t.id[i]!;
        if (t.op[i] !== OP_FAULT && t.op[i] !== OP_CACHE_CREATE) expect(id < Math.max(1, t.idCount)).toBe(true);
      }
    } catch (e) {
      if (!(e instanceof TraceFormatError)) throw e;
    }
  };

  it('returns a Trace or throws TraceFormatError for arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), onlyTraceOrFormatError), { numRuns: 400 });
    fc.assert(fc.property(fc.array(fc.constantFrom(...valid, '', '#', '[001]', ' 12.5: ', 'pfn=', 'ptr=', '\r', ' ')).map((a) => a.join('')), onlyTraceOrFormatError), { numRuns: 300 });
  });

  it('returns a Trace or throws TraceFormatError for mutated valid lines', () => {
    const mutated = fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.nat({ max: 8 }), fc.string({ maxLength: 6 })).map(([l, at, del, ins]) => {
      const p = at % (l.length + 1);
      return l.slice(0, p) + ins + l.slice(p + del);
    });
    fc.assert(fc.property(fc.array(mutated, { maxLength: 6 }).map((a) => a.join('\n')), onlyTraceOrFormatError), { numRuns: 1000 });
  });
});

/** Seeded generator (mulberry32) of a mixed kernel trace and the rows the loader must produce. */
function synth(seed: number, lines: number): { text: string; expected: [string, number, number, number][]; caches: number } {
  let a = seed >>> 0;
  const rnd = (n: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296 * n) | 0;
  };
  const out: string[] = [];
  const expected: [string, number, number, number][] = [];
  let nextId = 0;
  const livePages: [number, number, number][] = []; // pfn, id, order
  const liveObjs: [string, number, number][] = []; // ptr, id, cache (-1 kmalloc)
  const names = ['dentry', 'inode_cache', 'kmalloc-64', 'filp', 'buffer_head'];
  const cacheIdx = new Map<string, number>();
  let nextPfn = 0x1000, nextPtr = 0x1000;
  // one second of timestamps (a crossed second would add a tick event)
  const prefix = (): string => rnd(2) === 0
    ? `  kworker/u16:${rnd(9)}-${100 + rnd(50)}     [00${rnd(4)}] d..1.  1000.${100000 + rnd(899999)}: `
    : `   Web Content ${100 + rnd(50)}/${200 + rnd(50)} [00${rnd(4)}] 1000.${100000 + rnd(899999)}: kmem:`;
  while (out.length < lines) {
    const k = rnd(10);
    if (k <= 1) {
      const order = rnd(4);
      const pfn = nextPfn; nextPfn += 1 << 4;
      out.push(`${prefix()}mm_page_alloc: page=00000000deadbeef pfn=0x${pfn.toString(16)} order=${order} migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE`);
      expected.push(['page_alloc', nextId, order, GFP_HIGHUSER_MOVABLE]);
      livePages.push([pfn, nextId++, order]);
    } else if (k === 2 && livePages.length) {
      const [pfn, id, order] = livePages.splice(rnd(livePages.length), 1)[0]!;
      const plain = `${prefix()}mm_page_free: page=00000000deadbeef pfn=0x${pfn.toString(16)} order=${order}`;
      const batch = `${prefix()}mm_page_free_batched: page=00000000deadbeef pfn=0x${pfn.toString(16)} order=0`;
      const r = rnd(3);
      if (r === 0) out.push(plain);
      else if (r === 1) out.push(plain, batch);
      else out.push(`\tffffffff811a3b4c free_unref_page_list+0x1ac ([kernel.kallsyms])`, plain, batch);
      expected.push(['page_free', id, order, 0]);
    } else if (k <= 4) {
      const ptr = `ffff8880${(nextPtr++).toString(16).padStart(8, '0')}`;
      const bytes = 1 + rnd(4000);
      if (rnd(2) === 0) {
        out.push(`${prefix()}kmalloc: call_site=foo+0x1/0x2 ptr=${ptr} bytes_req=${bytes} bytes_alloc=${bytes} gfp_flags=GFP_KERNEL node=-1 accounted=false`);
        expected.push(['kmalloc', nextId, bytes, GFP_KERNEL]);
        liveObjs.push([ptr, nextId++, -1]);
      } else {
        const name = names[rnd(names.length)]!;
        let c = cacheIdx.get(name);
        if (c === undefined) { c = cacheIdx.size; cacheIdx.set(name, c); expected.push(['cache_create', c, 0, 0]); }
        out.push(`${prefix()}kmem_cache_alloc: call_site=bar+0x1/0x2 ptr=${ptr} name=${name} bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false`);
        expected.push(['cache_alloc', nextId, 0, c]);
        liveObjs.push([ptr, nextId++, c]);
      }
    } else if (k <= 6 && liveObjs.length) {
      const [ptr, id, c] = liveObjs.splice(rnd(liveObjs.length), 1)[0]!;
      out.push(c >= 0 && rnd(2) === 0
        ? `${prefix()}kmem_cache_free: call_site=baz+0x1/0x2 ptr=${ptr} name=${[...cacheIdx.keys()][c]}`
        : `${prefix()}kfree: call_site=baz+0x1/0x2 ptr=${ptr}`);
      expected.push(c >= 0 ? ['cache_free', id, 0, c] : ['kfree', id, 0, 0]);
    } else if (k === 7) {
      out.push(`${prefix()}kfree: call_site=baz+0x1/0x2 ptr=0000000000000000`);
    } else if (k === 8) {
      out.push(`${prefix()}sched_wakeup: comm=foo pid=1 prio=120 target_cpu=001`);
    } else {
      out.push(`# comment ${rnd(100)}`, '');
    }
  }
  return { text: out.join('\n') + '\n', expected, caches: cacheIdx.size };
}

describe('kernel trace loader: synthetic trace', () => {
  it('reproduces the generated event stream exactly over thousands of mixed-format lines', () => {
    for (const seed of [1, 42, 20240601]) {
      const { text, expected, caches } = synth(seed, 6000);
      const t = parseKernelTrace(text, 'synth.perf');
      expect(rows(t)).toEqual(expected);
      expect(t.caches.length).toBe(caches);
      expect(t.idCount).toBe(expected.filter((r) => r[0] === 'page_alloc' || r[0] === 'kmalloc' || r[0] === 'cache_alloc').length);
    }
  });

  it('gives every free the id of an earlier allocation in a balanced synthetic trace', () => {
    const t = parseKernelTrace(synth(7, 4000).text, 'synth.perf');
    const live = new Set<number>();
    for (let i = 0; i < t.length; i++) {
      const op = t.op[i]!;
      if (op === OP_PAGE_ALLOC || op === OP_KMALLOC || op === OP_CACHE_ALLOC) { expect(live.has(t.id[i]!)).toBe(false); live.add(t.id[i]!); }
      if (op === OP_PAGE_FREE || op === OP_KFREE || op === OP_CACHE_FREE) expect(live.delete(t.id[i]!)).toBe(true);
      expect(op === OP_EXTFRAG || op === OP_MARK).toBe(false);
    }
  });
});

describe('kernel trace loader: format table', () => {
  it('is picked by extension and by content sniff, and loadTrace names the trace after the file', async () => {
    const { detectFormat, loadTrace } = await import('../src/trace/load.js');
    for (const ext of ['.perf', '.ftrace', '.trace', '.txt', '.perf.gz']) expect(detectFormat(`a/b${ext}`, '')?.name).toBe('kernel');
    expect(detectFormat('capture.log', fixture('ftrace-6x.ftrace'))?.name).toBe('kernel');
    expect(detectFormat('capture.log', fixture('perf-4x.perf'))?.name).toBe('kernel');
    const t = loadTrace(new URL('./fixtures/kernel/perf-4x.perf', import.meta.url).pathname);
    expect(t.name).toBe('perf-4x');
    expect(t.length).toBe(13);
  });
});
