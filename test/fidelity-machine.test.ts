import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/machine/machine.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { recordedMachine, zoneinfoManaged } from '../src/machine/recorded-machine.js';
import { pageStrategyFactory } from '../src/page/registry.js';

const FIXTURE = 'test/fixtures/kernel/recorded/rec.ftrace';
const bundled = readdirSync('traces/kernel', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('traces/kernel', d.name, 'machine.json')))
  .map((d) => join('traces/kernel', d.name, `${d.name}.ftrace.gz`));

describe('recorded machine (machine.json beside a recording)', () => {
  it('loadMachine reads min_free_kbytes; the watermarks follow it', () => {
    const cfg = loadMachine('test/fixtures/kernel/recorded/machine.json');
    expect(cfg.minFreeKbytes).toBe(1836);
    expect(cfg.cpus).toBe(1);
    const m = new Machine(cfg, pageStrategyFactory('buddy'));
    expect(m.watermarks.minFreeKbytes).toBe(1836);
  });

  for (const trace of [FIXTURE, ...bundled]) {
    it(`${trace}: managed pages per zone equal the recording's before/zoneinfo`, () => {
      const rec = recordedMachine(trace, 'x')!;
      expect(rec).toBeDefined();
      const zi = join(trace, '..', 'before', 'zoneinfo');
      const real = zoneinfoManaged(readFileSync(zi, 'utf8'), zi);
      const m = new Machine(rec.config, pageStrategyFactory('buddy-mobility'));
      for (const z of m.zones) {
        expect(z.managed, z.name).toBe(real.get(z.name));
        // the pages really are there to allocate: the strategy holds them all
        expect(z.strategy.freePages(), z.name).toBe(real.get(z.name));
      }
      expect(Object.values(rec.residual).every((r) => r === 0)).toBe(true);
      // the map alone (no correction) manages more: the kernel's early reservations the boot does not model
      const raw = new Machine(loadMachine(rec.path), pageStrategyFactory('buddy'));
      expect(raw.managedPages()).toBeGreaterThan(m.managedPages());
    });
  }

  it('a trace without machine.json has no recorded machine', () => {
    expect(recordedMachine('test/fixtures/kernel/none/x.ftrace', 'x')).toBeUndefined();
  });
});
