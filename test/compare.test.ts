import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { compareCommand, runCompare } from '../src/cli/compare.js';
import { AllocbenchError } from '../src/errors.js';
import { compareMetric, formatJson, formatMarkdown, formatText } from '../src/report/compare.js';
import { loadThresholds, parseThresholds } from '../src/report/thresholds.js';
import type { CellResult } from '../src/run/cell.js';

// the committed CI baseline is a real run: the fixture for both sides
const BASELINE = join(import.meta.dirname, '..', 'baseline');
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A copy of the baseline with every result line passed through `edit` (return null to drop the cell). */
function copyWith(edit: (r: CellResult, i: number) => CellResult | null = (r) => r): string {
  const dir = join(tmp, `run${n++}`);
  cpSync(BASELINE, dir, { recursive: true });
  const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
  const out = lines.map((l, i) => edit(JSON.parse(l) as CellResult, i)).filter((r): r is CellResult => r !== null);
  writeFileSync(join(dir, 'results.jsonl'), out.map((r) => JSON.stringify(r) + '\n').join(''));
  return dir;
}

function firstKey(): string {
  const r = JSON.parse(readFileSync(join(BASELINE, 'results.jsonl'), 'utf8').split('\n')[0]!) as CellResult;
  return `${r.cell.trace}|${r.cell.machine}|${r.cell.page}|${r.cell.object}|${r.cell.seed}`;
}

/** Runs the yargs command as main.ts will register it; returns exit code and stdout. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const prev = process.exitCode;
  process.exitCode = 0;
  try {
    await yargs(args).command(compareCommand).strict().fail((msg, err) => { throw err ?? new AllocbenchError(msg); }).parseAsync();
    return { code: Number(process.exitCode ?? 0), out };
  } catch (e) {
    if (e instanceof AllocbenchError) return { code: e.exitCode, out };
    throw e;
  } finally {
    spy.mockRestore();
    process.exitCode = prev;
  }
}

describe('compare gate', () => {
  it('identical runs compare clean and exit 0', async () => {
    const r = await cli(['compare', BASELINE, copyWith()]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/OK: no deterministic metric worsened/);
    expect(r.out).toMatch(/0 regressed/);
  });

  it('a deterministic metric made worse exits 1 and names the metric and the cell', async () => {
    const cur = copyWith((r, i) => (i === 0 ? { ...r, failed_allocs: r.failed_allocs + 5 } : r));
    for (const format of ['text', 'md', 'json']) {
      const r = await cli(['compare', BASELINE, cur, '--format', format]);
      expect(r.code).toBe(1);
      expect(r.out).toContain('failed_allocs');
      expect(r.out).toContain(format === 'md' ? firstKey().replace(/\|/g, '\\|') : firstKey());
    }
  });

  it('higher-is-better metrics regress when they fall and improve when they rise', () => {
    const down = copyWith((r, i) => (i === 0 ? { ...r, metrics: { ...r.metrics, largest_free_order: (r.metrics.largest_free_order as number) - 1 } } : r));
    const up = copyWith((r, i) => (i === 0 ? { ...r, metrics: { ...r.metrics, largest_free_order: (r.metrics.largest_free_order as number) + 1 } } : r));
    const worse = runCompare(BASELINE, down);
    expect(worse.ok).toBe(false);
    expect(worse.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric)).toEqual(['metrics.largest_free_order']);
    const better = runCompare(BASELINE, up);
    expect(better.ok).toBe(true);
    expect(better.metrics.filter((m) => m.verdict === 'improved').map((m) => m.metric)).toEqual(['metrics.largest_free_order']);
  });

  it('lower-is-better metrics regress when they rise past the tolerance, not within it', () => {
    // unusable_index_9 is derived from the largest zone; the default tolerance is 0.02 absolute
    const bump = (d: number) => copyWith((r, i) => {
      if (i !== 0) return r;
      const zones = structuredClone(r.metrics.zones) as Record<string, { managed_pages: number; unusable_index: number[] }>;
      const main = Object.values(zones).reduce((a, b) => (b.managed_pages > a.managed_pages ? b : a));
      main.unusable_index[9] = Math.max(0, main.unusable_index[9]! + d);
      return { ...r, metrics: { ...r.metrics, zones } };
    });
    const big = runCompare(BASELINE, bump(0.1));
    const row = big.metrics.find((m) => m.metric === 'unusable_index_9' && m.verdict !== 'unchanged');
    expect(row?.verdict).toBe('regressed');
    expect(big.ok).toBe(false);
    const small = runCompare(BASELINE, bump(0.01));
    expect(small.ok).toBe(true);
    expect(small.metrics.some((m) => m.metric === 'unusable_index_9' && m.verdict === 'within')).toBe(true);
  });

  it('wildcard paths expand per op: a worse latency p99 is named by its op', () => {
    const cur = copyWith((r, i) => {
      if (i !== 0) return r;
      const lat = structuredClone(r.metrics.latency) as Record<string, { p99: number }>;
      lat.page_alloc!.p99 = lat.page_alloc!.p99 * 2 + 10;
      return { ...r, metrics: { ...r.metrics, latency: lat } };
    });
    const rep = runCompare(BASELINE, cur);
    expect(rep.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric)).toEqual(['metrics.latency.page_alloc.p99']);
  });

  it('wall-clock changes never gate, however large, and are shown separately', async () => {
    const cur = copyWith((r) => ({ ...r, wall: { ...r.wall, events_per_sec: 1, replay_ms: 1e9 } }));
    const r = await cli(['compare', BASELINE, cur]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Wall clock[^\n]*never gates/);
    expect(parseThresholds.bind(null, { metrics: [{ path: 'wall.events_per_sec', better: 'higher' }] })).toThrow(/never gate/);
  });

  it('a cell that was ok and disappeared regresses unless --allow-missing; a new cell does not', async () => {
    const dropped = copyWith((r, i) => (i === 0 ? null : r));
    const r = await cli(['compare', BASELINE, dropped]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(firstKey());
    expect((await cli(['compare', BASELINE, dropped, '--allow-missing'])).code).toBe(0);
    // the reverse: the current run has a cell the base lacks
    expect((await cli(['compare', dropped, BASELINE])).code).toBe(0);
  });

  it('a cell that failed now regresses; one that was already failing does not', () => {
    const fail = (r: CellResult): CellResult => ({ ...r, status: 'failed', error: 'InvariantError: boom' });
    const nowFailing = copyWith((r, i) => (i === 0 ? fail(r) : r));
    const rep = runCompare(BASELINE, nowFailing);
    expect(rep.ok).toBe(false);
    expect(rep.cells[0]).toMatchObject({ base: 'ok', current: 'failed', regression: true, error: 'InvariantError: boom' });
    expect(formatText(rep)).toContain('InvariantError: boom');
    expect(runCompare(nowFailing, nowFailing).ok).toBe(true);
  });

  it('unreadable inputs exit 2 with a message', async () => {
    expect((await cli(['compare', join(tmp, 'nope'), BASELINE])).code).toBe(2);
    const bad = copyWith();
    writeFileSync(join(bad, 'results.jsonl'), '{not json\n{"also": "bad"}\n');
    expect(() => runCompare(BASELINE, bad)).toThrow(AllocbenchError);
    const th = join(tmp, 'th.json');
    writeFileSync(th, '{"metrics": [{"path": "failed_allocs", "better": "sideways"}]}');
    expect((await cli(['compare', BASELINE, BASELINE, '--thresholds', th])).code).toBe(2);
  });

  it('the default thresholds load and gate every listed metric', () => {
    const t = loadThresholds();
    expect(t.metrics.map((m) => m.path)).toEqual(expect.arrayContaining(['failed_allocs', 'trace_errors', 'unusable_index_9', 'metrics.latency.*.p99', 'metrics.sim_total_ns']));
    const rep = runCompare(BASELINE, BASELINE);
    expect(new Set(rep.metrics.map((m) => m.metric))).toContain('metrics.latency.page_alloc.p99');
    expect(JSON.parse(formatJson(rep)).ok).toBe(true);
    expect(formatMarkdown(rep)).toMatch(/^### allocbench compare/);
  });

  it('a thresholds path that no result has is refused with exit 2, naming it and the nearest paths', async () => {
    const th = join(tmp, 'misspelt.json');
    writeFileSync(th, JSON.stringify({ metrics: [{ path: 'failed_allocs', better: 'lower' }, { path: 'metrics.larget_free_order', better: 'higher' }] }));
    const cur = copyWith((r, i) => (i === 0 ? { ...r, metrics: { ...r.metrics, largest_free_order: 0 } } : r));
    expect(() => runCompare(BASELINE, cur, { thresholds: th })).toThrow(/metrics\[1\]\.path "metrics\.larget_free_order" names no numeric figure.*did you mean "metrics\.largest_free_order"/);
    const r = await cli(['compare', BASELINE, cur, '--thresholds', th]);
    expect(r.code).toBe(2);
    // a wildcard that expands to nothing and an index past the array are refused too
    for (const path of ['metrics.latency.*.p98', 'metrics.zones.DMA32.unusable_index.11']) {
      writeFileSync(th, JSON.stringify({ metrics: [{ path, better: 'lower' }] }));
      expect(() => runCompare(BASELINE, BASELINE, { thresholds: th })).toThrow(AllocbenchError);
    }
    // an entry marked optional may match nothing; a path outside the result schema is refused at load
    writeFileSync(th, JSON.stringify({ metrics: [{ path: 'metrics.highorder_success.no_such_phase', better: 'higher', optional: true }] }));
    expect(runCompare(BASELINE, BASELINE, { thresholds: th }).ok).toBe(true);
    expect(() => parseThresholds({ metrics: [{ path: 'metrics.zones.DMA.unusable_index.x', better: 'lower' }] })).toThrow(/not a path of a result line/);
  });

  it('figures present in one run and not the other are reported, the gated ones as gone / new', async () => {
    const dropped = copyWith((r) => {
      const { reclaim: _gone, ...rest } = r.metrics as Record<string, unknown>;
      return { ...r, metrics: { ...rest, sim_total_ns: undefined, brand_new: { x: 1 } } } as unknown as CellResult;
    });
    const rep = runCompare(BASELINE, dropped);
    expect(rep.only_in_base).toEqual(expect.arrayContaining(['metrics.reclaim.runs', 'metrics.sim_total_ns']));
    expect(rep.only_in_current).toEqual(['metrics.brand_new.x']);
    expect(rep.metrics.filter((m) => m.metric === 'metrics.sim_total_ns').every((m) => m.verdict === 'gone')).toBe(true);
    expect(rep.ok).toBe(false);
    const r = await cli(['compare', BASELINE, dropped]);
    expect(r.out).toMatch(/Figures only in the base[^\n]*:\n(  .*\n)*  metrics\.reclaim\.runs/);
    expect(r.out).toMatch(/Figures only in the current run[^\n]*:\n  metrics\.brand_new\.x/);
    expect(formatMarkdown(rep)).toMatch(/Figures only in the base[^]*`metrics\.reclaim\.runs`/);
    expect(runCompare(BASELINE, BASELINE).only_in_base).toEqual([]);
  });

  it('verdicts follow direction and tolerance exactly (property)', () => {
    fc.assert(fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: 0, max: 1e3, noNaN: true }), fc.boolean(),
      (base, current, abs, lower) => {
        const row = compareMetric('c', 'm', { path: 'm', better: lower ? 'lower' : 'higher', abs }, base, current);
        const worse = lower ? current - base : base - current;
        const eps = 1e-9 * Math.max(1, Math.abs(base));
        expect(row.verdict === 'regressed').toBe(worse > abs + eps);
        if (worse < -eps) expect(row.verdict).toBe('improved');
      },
    ));
  });
});
