import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AllocbenchError, reportError } from '../src/errors.js';
import { intOption, MAX_CELL_TIMEOUT_S, numberOption, parseIntIn, parseShard } from '../src/cli/validate.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { Machine } from '../src/machine/machine.js';
import { checkPidCount, PID_MAX_LIMIT, Vm } from '../src/machine/vm.js';
import { PAGE_STRATEGIES, pageStrategyFactory } from '../src/page/registry.js';
import { objectStrategyFactory } from '../src/object/registry.js';
import { generateFromSpec } from '../src/run/runner.js';
import { downsample, MAX_SAMPLES, TimeSeries, type TimeSeriesData } from '../src/metrics/timeseries.js';
import { memoryBudget, requireMemory } from '../src/memory-budget.js';
import { workersThatFit } from '../src/run/resources.js';
import { ensureDir } from '../src/run/output.js';
import { MAX_PHASE_LABELS, OTHER_LABELS, runCell } from '../src/run/cell.js';
import { TraceBuilder } from '../src/trace/trace.js';
import { OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';
import { GFP_KERNEL } from '../src/machine/gfp.js';

/** Issue 18 items 1-3 in-process: every refusal is an AllocbenchError (exit 2) with a message that says what was expected. */
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-hostile-input-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const json = (name: string, v: unknown): string => { const p = join(tmp, name); writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v)); return p; };
const refused = (f: () => unknown, message: RegExp): void => {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(AllocbenchError);
  expect((err as Error).message).toMatch(message);
};

describe('numeric options', () => {
  it.each([
    ['--workers', '-5'], ['--workers', 'abc'], ['--workers', '1.5'], ['--workers', ''], ['--workers', '1e3'],
  ])('%s %j is refused', (name, v) => refused(() => intOption(name, 0, 8)(v), new RegExp(`${name} .*expected an integer from 0 to 8`)));

  it('--cell-timeout: -1, abc and above Node\'s timer limit are refused; seconds with a fraction are kept', () => {
    const t = numberOption('--cell-timeout', 0, MAX_CELL_TIMEOUT_S);
    for (const v of ['-1', 'abc', '3000000', 'Infinity', 'NaN', '1e400']) refused(() => t(v), /--cell-timeout/);
    expect(t('0.5')).toBe(0.5);
    expect(MAX_CELL_TIMEOUT_S * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('--seed beyond 2^53, --shard with K > N, 0 or 20 digits, and an option given twice are refused', () => {
    refused(() => parseIntIn('99999999999999999999', '--seed', 0, Number.MAX_SAFE_INTEGER), /--seed/);
    for (const s of ['0/2', '3/2', '99999999999999999999/99999999999999999999', '1/0', 'a/b', '1/2/3']) refused(() => parseShard(s), /--shard/);
    expect(parseShard('2/4')).toEqual({ k: 2, n: 4 });
    refused(() => intOption('--workers', 0, 8)(['1', '2']), /given 2 times/);
  });
});

describe('machine files', () => {
  const e820 = [[0, 0x9f000, 'usable'], [0x100000, 2 ** 30, 'usable']];
  it.each([
    ['null', 'null', /expected a JSON object/],
    ['an array', [], /expected a JSON object/],
    ['{}', {}, /"e820" array/],
    ['overlapping ranges', { e820: [...e820, [0x200000, 4096, 'usable']] }, /must not overlap/],
    ['unsorted ranges', { e820: [e820[1], e820[0]] }, /address order/],
    ['a negative start', { e820: [[-4096, 8192, 'usable'], ...e820.slice(1)] }, /start >= 0/],
    ['a zero size', { e820: [[0, 0, 'usable'], ...e820.slice(1)] }, /size > 0/],
    ['memory past 4 TiB', { e820: [...e820, [2 ** 31, 2 ** 42, 'usable']] }, /largest machine/],
    ['cpus 0', { cpus: 0, e820 }, /cpus 0: expected an integer from 1 to 8192/],
    ['cpus -4', { cpus: -4, e820 }, /cpus -4/],
    ['cpus 1.5', { cpus: 1.5, e820 }, /cpus 1\.5/],
    ['cpus "4"', { cpus: '4', e820 }, /cpus "4"/],
    ['no usable range', { e820: [[0, 4096, 'reserved']] }, /no usable/],
  ])('%s is refused', (name, v, message) => refused(() => loadMachine(json(`${name.replace(/\W/g, '_')}.json`, v)), message));

  it('spec options: cpus=0 and cpus=99999 are refused; mem= past 4 TiB too', () => {
    refused(() => loadMachine('desktop:cpus=0'), /cpus/);
    refused(() => loadMachine('desktop:cpus=99999'), /cpus/);
    refused(() => loadMachine('mem=8T'), /largest machine/);
  });
});

describe('page strategies and MAX_ORDER', () => {
  it.each(Object.keys(PAGE_STRATEGIES))('%s is refused orders 11 and 12 (buddy refuses them; bitmap and bitmap2 granted them)', (name) => {
    const m = new Machine(loadMachine('mem=256M'), pageStrategyFactory(name));
    const free = m.freePageCount();
    expect(m.allocPages(11, 0)).toBe(-1);
    expect(m.allocPages(12, 0)).toBe(-1);
    expect(m.allocPages(-1, 0)).toBe(-1);
    expect(m.freePageCount()).toBe(free);
    expect(m.allocPages(10, 0)).toBeGreaterThanOrEqual(0);
  });

  it('a variant a strategy does not have is refused (buddy:weird, slub:weird)', () => {
    refused(() => pageStrategyFactory('buddy:weird')({ pages: 1024, steps: new Float64Array(64) as never }), /unknown option "weird"/);
    refused(() => objectStrategyFactory('slub:weird')({ pages: { totalPfns: 1, allocPages: () => -1, freePages: () => {} }, steps: new Float64Array(64) as never, cpus: 1 }), /slub:weird.*unknown option/);
  });
});

describe('pids', () => {
  it('pid_max is bounded by PID_MAX_LIMIT: the process table never grows past 4 Mi slots', () => {
    expect(() => checkPidCount(PID_MAX_LIMIT + 1, 'x')).not.toThrow();
    refused(() => checkPidCount(2 ** 31, 'trace t.csv'), /trace t\.csv: pid 2147483647 is above Linux's largest pid_max \(4194304/);
    refused(() => new Vm(new Machine(loadMachine('mem=64M'), pageStrategyFactory('buddy')), { pids: 2 ** 31 }), /pid_max/);
  });
});

describe('memory bounds', () => {
  let saved: string | undefined;
  beforeEach(() => { saved = process.env.ALLOCBENCH_MEMORY; process.env.ALLOCBENCH_MEMORY = '1G'; });
  afterEach(() => { if (saved === undefined) delete process.env.ALLOCBENCH_MEMORY; else process.env.ALLOCBENCH_MEMORY = saved; });

  it('generators refuse before allocating what would not fit (page-mix:events=2147483647, buddy-adversarial:mem=1T, highalloc-stress:mem=16T)', () => {
    const rss = process.memoryUsage().rss;
    for (const spec of ['page-mix:events=2147483647', 'buddy-adversarial:mem=1T', 'highalloc-stress:mem=16T', 'kernel-mix:events=2000000000']) {
      refused(() => generateFromSpec(spec, 1), /needs about .* more than the 1\.0 GiB this host allows/);
    }
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
    expect(generateFromSpec('page-mix:events=1000', 1).length).toBeGreaterThan(0);
  });

  it('the budget follows ALLOCBENCH_MEMORY; a bad value is refused; workers are cut to what fits', () => {
    expect(memoryBudget()).toBe(2 ** 30);
    refused(() => requireMemory('x', 2 ** 31), /x needs about 2\.0 GiB/);
    process.env.ALLOCBENCH_MEMORY = 'lots';
    refused(() => memoryBudget(), /ALLOCBENCH_MEMORY=lots/);
    process.env.ALLOCBENCH_MEMORY = '1G';
    const warnings: string[] = [];
    expect(workersThatFit(8, 300 * 2 ** 20, (m) => warnings.push(m))).toBe(3);
    expect(warnings[0]).toMatch(/running 3 workers/);
    expect(workersThatFit(8, 4 * 2 ** 30, () => {})).toBe(1);
    expect(workersThatFit(2, 1, () => {})).toBe(2);
  });
});

describe('time series stay bounded (20 M marks made an 86 MB result line)', () => {
  it('downsampling keeps first, last and the extremes, and at most 2 x MAX_SAMPLES points', () => {
    const d: TimeSeriesData = { event: [], label: [], free_pages: [], largest_free_order: [], unusable_index_9: [], extfrag_index_9: [], internal_waste_bytes: [], utilization: [] };
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      d.event.push(i); d.label.push(i % 2 ? 'a' : 'b');
      d.free_pages.push(i === 123_457 ? 0 : i === 77_777 ? 10 ** 9 : 5000 + (i % 97));
      d.largest_free_order.push(i % 11); d.unusable_index_9.push(0); d.extfrag_index_9.push(0); d.internal_waste_bytes.push(i); d.utilization.push(0.5);
      if (d.event.length >= 2 * MAX_SAMPLES) downsample(d);
    }
    expect(d.event.length).toBeLessThan(2 * MAX_SAMPLES);
    expect(d.event[0]).toBe(0);
    expect(d.event.at(-1)).toBe(n - 1);
    expect(d.free_pages).toContain(0);
    expect(d.free_pages).toContain(10 ** 9);
    for (const col of Object.values(d)) expect((col as unknown[]).length).toBe(d.event.length);
    expect(d.event.every((e, i) => i === 0 || e > d.event[i - 1]!)).toBe(true);
    expect(JSON.stringify(d).length).toBeLessThan(2 ** 20);
  });
});

describe('sampling time stays bounded (each sample walks every zone\'s free state)', () => {
  it('1 M sample requests (marks) take few samples once the series has been halved', () => {
    let walks = 0;
    const machine = { zones: [{ name: 'DMA32', managed: 1 }], freeState: () => { walks++; return []; } } as unknown as InstanceType<typeof Machine>;
    const series = new TimeSeries(machine, () => ({ bytesReserved: 0, pagesHeld: 0 }));
    const n = 1_000_000;
    for (let i = 0; i < n; i++) series.sample(i, 'mark', 0);
    // every request until the first halving, then every 2nd, 4th, ...: O(MAX_SAMPLES log n), not n
    expect(walks).toBeLessThan(n / 20);
    expect(walks).toBeGreaterThan(2 * MAX_SAMPLES);
    expect(series.data.event.length).toBeLessThan(2 * MAX_SAMPLES);
    expect(series.data.event[0]).toBe(0);
  });
});

describe('a result line stays small whatever the marks', () => {
  it('10 000 marks of distinct labels: at most 2 x MAX_SAMPLES samples and MAX_PHASE_LABELS + 1 labels', () => {
    const b = new TraceBuilder('marks', 'marks.csv');
    for (let i = 0; i < 10_000; i++) {
      const id = b.newId();
      b.push(OP_PAGE_ALLOC, id, 9, GFP_KERNEL);
      b.push(OP_MARK, 0, 0, b.intern(`phase-${i}`));
      b.push(OP_PAGE_FREE, id, 9, 0);
    }
    const r = runCell({ trace: 'marks', machine: 'small', page: 'buddy', object: 'slub', seed: 1 }, b.finish(), loadMachine('small'));
    const ts = r.metrics.timeseries as TimeSeriesData;
    expect(ts.event.length).toBeLessThan(2 * MAX_SAMPLES);
    expect(ts.event.length).toBeGreaterThan(MAX_SAMPLES / 2);
    const labels = Object.keys(r.metrics.highorder_success as object);
    expect(labels).toHaveLength(MAX_PHASE_LABELS + 1);
    expect(labels).toContain(OTHER_LABELS);
    expect(JSON.stringify(r).length).toBeLessThan(2 ** 20);
  });
});

describe('output folders', () => {
  it('/proc/foo is refused at once (Node\'s recursive mkdir loops there), a file and \'\' too', () => {
    const t0 = Date.now();
    refused(() => ensureDir('/proc/allocbench-foo/bar'), /cannot create output folder/);
    expect(Date.now() - t0).toBeLessThan(2000);
    refused(() => ensureDir(json('plain.txt', 'x')), /is a file, not a folder/);
    refused(() => ensureDir(''), /empty string/);
  });
});

describe('the top-level handler', () => {
  const report = (e: unknown, debug = false): { code: number; text: string } => {
    let text = '';
    const code = reportError(e, debug, (s) => { text += s; });
    return { code, text };
  };
  it('user errors exit 2 in one line; a bug says "internal error, please report", exits 1 and shows a stack only with --debug', () => {
    expect(report(new AllocbenchError('bad'))).toEqual({ code: 2, text: 'allocbench: bad\n' });
    expect(report(new AllocbenchError('regressed', 1)).code).toBe(1);
    const fsErr = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: '/x/results.jsonl' });
    expect(report(fsErr)).toEqual({ code: 2, text: 'allocbench: cannot write /x/results.jsonl: no space left on the device (ENOSPC)\n' });
    expect(report(Object.assign(new Error('Cannot create a string longer than 0x1fffffe8 characters'), { code: 'ERR_STRING_TOO_LONG' })).code).toBe(2);
    const bug = report(new TypeError('x is undefined\nsecond line'));
    expect(bug.code).toBe(1);
    expect(bug.text).toBe('allocbench: internal error, please report (with --debug for the stack): TypeError: x is undefined ...\n');
    expect(report(new TypeError('boom'), true).text).toMatch(/\n\s+at /);
  });
});

describe('a legal but huge malloc is an out-of-memory result, not a crash', () => {
  // dlmalloc's boundary-tag arrays grew to the heap's size: a 64 GiB malloc threw a RangeError
  it.each([['with a pid (the process model: brk/mmap refused by the overcommit rule)', 'op,id,pid,size\nmalloc,p,7,68719476760\nmalloc,q,7,100\nfree,p,7,\nfree,q,7,\n'],
    ['without (the eager page-backed heap)', 'op,id,size\nmalloc,p,68719476760\nmalloc,q,100\nfree,p,\nfree,q,\n']])('%s', async (_name, csv) => {
    const { loadTrace } = await import('../src/trace/load.js');
    const t = loadTrace(json(`huge-${csv.length}.csv`, csv));
    const r = runCell({ trace: t.name, machine: 'small', page: 'buddy', object: 'dlmalloc', seed: 1 }, t, loadMachine('small'), { check: true });
    expect(r.status).toBe('ok');
    expect(r.failed_allocs).toBe(1); // the 64 GiB one; the 100-byte one is served
  });

  it('Vm: one brk growth or private writable mmap larger than RAM fails (OVERCOMMIT_GUESS); within RAM it maps', () => {
    const vm = new Vm(new Machine(loadMachine('mem=64M'), pageStrategyFactory('buddy')), { pids: 2 });
    const rw = 0x3 | (0x22 << 8); // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    expect(vm.mmap(1, 0, 1 << 30, rw)).toBe(-1);
    expect(vm.mmap(1, 0, 8 << 20, rw)).toBeGreaterThan(0); // mem=64M manages ~28 MiB (kernel image, memmap)
  });
});
