import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../src/errors.js';
import { loadCostTable } from '../src/machine/cost.js';
import { newSteps, PRICE_SCALE, setPrices, STEP_CALL, STEP_LIST, STEP_NS, tick } from '../src/machine/steps.js';
import { LatencyRecorder } from '../src/metrics/latency.js';
import { OP_PAGE_ALLOC, OP_PAGE_FREE } from '../src/trace/ops.js';

describe('priced steps in whole tenths of a ns', () => {
  it('an event priced from the steps is a whole number of tenths', () => {
    const s = newSteps();
    setPrices(s, loadCostTable());
    tick(s, STEP_CALL); // 1.5 ns
    tick(s, STEP_LIST); // 15 ns
    expect(s[STEP_NS]).toBe(165);
    expect(PRICE_SCALE).toBe(10);
  });

  it('a cost table price that is not a multiple of 0.1 ns is refused with the step named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allocbench-cost-'));
    try {
      const table = JSON.parse(readFileSync(fileURLToPath(new URL('../src/machine/cost-table.json', import.meta.url)), 'utf8')) as { ns: Record<string, number> };
      table.ns.list = 15.05;
      const file = join(dir, 'cost.json');
      writeFileSync(file, JSON.stringify(table));
      expect(() => loadCostTable(file)).toThrow(AllocbenchError);
      expect(() => loadCostTable(file)).toThrow(/ns\.list.*multiple of 0\.1/);
      table.ns.list = 15.3;
      writeFileSync(file, JSON.stringify(table));
      expect(loadCostTable(file)[STEP_LIST]).toBe(15.3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LatencyRecorder.recordUnits', () => {
  it('totals include the directly counted values whether totalNs() or summary() comes first', () => {
    const units = [15, 55, 900, 4095, 4096, 12005, 900];
    const a = new LatencyRecorder(), b = new LatencyRecorder();
    for (const v of units) { a.recordUnits(OP_PAGE_ALLOC, v); b.recordUnits(OP_PAGE_ALLOC, v); }
    a.recordUnits(OP_PAGE_FREE, 15);
    b.recordUnits(OP_PAGE_FREE, 15);
    const sum = units.reduce((x, y) => x + y, 0) + 15;
    // a run cell asks for the total first, then the summary
    expect(a.totalNs()).toBe(sum / 10);
    const sa = a.summary();
    const sb = b.summary();
    expect(b.totalNs()).toBe(sum / 10);
    expect(sa).toEqual(sb);
    expect(sa.page_alloc!.total_ns).toBe(Math.round(units.reduce((x, y) => x + y, 0) / 10));
    expect(sa.page_alloc!.count).toBe(units.length);
    expect(sa.page_alloc!.p50).toBe(90);
    // settling twice adds nothing
    expect(a.totalNs()).toBe(sum / 10);
  });
});
