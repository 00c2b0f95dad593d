import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('loadMachine reads kernel_version: buddy follows that kernel\'s rules unless its spec names a version', () => {
    const d = mkdtempSync(join(tmpdir(), 'kv-'));
    const base = JSON.parse(readFileSync('test/fixtures/kernel/recorded/machine.json', 'utf8')) as Record<string, unknown>;
    const write = (kv: unknown): string => { const f = join(d, `m${String(kv).replace(/\W/g, '')}.json`); writeFileSync(f, JSON.stringify({ ...base, kernel_version: kv })); return f; };
    const cfg = loadMachine(write('6.1.0-56-amd64'));
    expect(cfg.kernel).toBe('6.1.0-56-amd64');
    expect(new Machine(cfg, pageStrategyFactory('buddy-mobility')).zones[0]!.strategy.rules?.version).toBe('6.1');
    expect(new Machine(cfg, pageStrategyFactory('buddy:6.12')).zones[0]!.strategy.rules?.version).toBe('6.12');
    // a preset has no kernel: the newest rules
    expect(new Machine(loadMachine('small'), pageStrategyFactory('buddy')).zones[0]!.strategy.rules?.version).toBe('6.12');
    expect(() => loadMachine(write(6.1))).toThrow(/"kernel_version" must be a string such as "6.1"/);
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
