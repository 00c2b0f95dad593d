import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import yargs, { type Argv } from 'yargs';
import { exportCommand } from '../src/cli/export.js';
import { AllocbenchError } from '../src/errors.js';
import { bencherExporter } from '../src/report/export/bencher.js';
import { collectFigures, unitOf } from '../src/report/export/exporter.js';
import { githubBiggerExporter } from '../src/report/export/github-bigger.js';
import { githubSmallerExporter } from '../src/report/export/github-smaller.js';
import { loadResults } from '../src/report/load-results.js';
import { loadThresholds } from '../src/report/thresholds.js';
import type { CellResult } from '../src/run/cell.js';

const BASELINE = join(import.meta.dirname, '..', 'baseline');
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** https://bencher.dev/bmf.json (draft-07): benchmark -> measure -> { value, lower_value?, upper_value? } */
const BMF_SCHEMA = {
  type: 'object',
  patternProperties: { '.+': { type: 'object', patternProperties: { '.+': {
    type: 'object',
    properties: { value: { type: 'number' }, lower_value: { type: 'number' }, upper_value: { type: 'number' } },
    required: ['value'], additionalProperties: false,
  } } } },
};

/** github-action-benchmark's custom tools: [{ name, unit, value, range?, extra? }] */
const GAB_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1 }, unit: { type: 'string' }, value: { type: 'number' }, range: { type: 'string' }, extra: { type: 'string' } },
    required: ['name', 'unit', 'value'], additionalProperties: false,
  },
};

const baseline = loadResults(BASELINE).results;
const figures = collectFigures(baseline, loadThresholds().metrics);

function seeded(): CellResult[] {
  const r0 = baseline[0]!;
  return [1, 2, 3].map((seed, i) => ({ ...r0, cell: { ...r0.cell, seed }, failed_allocs: 10 + 10 * i }));
}

describe('exports for Bencher and github-action-benchmark', () => {
  it('Bencher Metric Format: valid against BMF\'s schema, one benchmark per cell, the metrics as measures', () => {
    const bmf = JSON.parse(bencherExporter.serialize(figures)) as Record<string, Record<string, { value: number }>>;
    expect(new Ajv().validate(BMF_SCHEMA, bmf)).toBe(true);
    expect(Object.keys(bmf)).toHaveLength(baseline.length); // one seed each: a benchmark per cell
    const first = `${baseline[0]!.cell.trace}|${baseline[0]!.cell.machine}|${baseline[0]!.cell.page}|${baseline[0]!.cell.object}`;
    expect(bmf[first]!.failed_allocs).toEqual({ value: baseline[0]!.failed_allocs });
    expect(bmf[first]!['wall.events_per_sec']!.value).toBe(baseline[0]!.wall.events_per_sec);
    for (const measures of Object.values(bmf)) for (const m of Object.keys(measures)) expect(m.length).toBeLessThanOrEqual(64);
  });

  it('Bencher: several seeds give the mean as value and the extremes as lower/upper_value', () => {
    const bmf = JSON.parse(bencherExporter.serialize(collectFigures(seeded(), loadThresholds().metrics))) as Record<string, Record<string, unknown>>;
    expect(Object.keys(bmf)).toHaveLength(1);
    expect(Object.values(bmf)[0]!.failed_allocs).toEqual({ value: 20, lower_value: 10, upper_value: 30 });
    expect(new Ajv().validate(BMF_SCHEMA, bmf)).toBe(true);
  });

  it('github-action-benchmark: valid custom JSON, each file one direction, together every figure', () => {
    const smaller = JSON.parse(githubSmallerExporter.serialize(figures)) as { name: string; unit: string; value: number }[];
    const bigger = JSON.parse(githubBiggerExporter.serialize(figures)) as { name: string; unit: string; value: number }[];
    const ajv = new Ajv();
    expect(ajv.validate(GAB_SCHEMA, smaller), JSON.stringify(ajv.errors)).toBe(true);
    expect(ajv.validate(GAB_SCHEMA, bigger), JSON.stringify(ajv.errors)).toBe(true);
    expect(smaller.length + bigger.length).toBe(figures.length);
    // names are unique within a file (the action keys its history by name)
    expect(new Set(smaller.map((e) => e.name)).size).toBe(smaller.length);
    expect(smaller.some((e) => e.name.endsWith(' failed_allocs') && e.unit === 'count')).toBe(true);
    expect(smaller.some((e) => e.name.endsWith(' metrics.sim_total_ns') && e.unit === 'ns')).toBe(true);
    expect(bigger.some((e) => e.name.endsWith(' wall.events_per_sec') && e.unit === 'events/s')).toBe(true);
    expect(bigger.some((e) => e.name.endsWith(' metrics.largest_free_order'))).toBe(true);
    expect(smaller.some((e) => e.name.endsWith(' wall.events_per_sec') || e.name.endsWith(' metrics.largest_free_order'))).toBe(false);
    // seeds: the spread goes to range
    const s = JSON.parse(githubSmallerExporter.serialize(collectFigures(seeded(), loadThresholds().metrics))) as { name: string; value: number; range?: string; extra: string }[];
    expect(s.find((e) => e.name.endsWith(' failed_allocs'))).toMatchObject({ value: 20, range: '± 10', extra: '3 seeds, min 10, max 30' });
  });

  it('units follow the figure', () => {
    expect(['metrics.latency.page_alloc.p99', 'metrics.sim_total_ns', 'metrics.waste.internal_waste_bytes', 'failed_allocs', 'metrics.waste.utilization'].map(unitOf))
      .toEqual(['ns', 'ns', 'bytes', 'count', 'fraction']);
  });

  it('allocbench export writes the files it is given; none is a usage error (exit 2)', async () => {
    const run = async (args: string[]) => yargs(args).command('export <dir>', 'x', exportCommand.builder as (y: Argv) => Argv, exportCommand.handler).strict()
      .fail((msg, err) => { throw err ?? new AllocbenchError(msg); }).parseAsync();
    const bmf = join(tmp, 'bmf.json'), big = join(tmp, 'big.json');
    await run(['export', BASELINE, '--export-json', bmf, '--export-github-bigger', big]);
    expect(JSON.parse(readFileSync(bmf, 'utf8'))).toEqual(JSON.parse(bencherExporter.serialize(figures)));
    expect(JSON.parse(readFileSync(big, 'utf8'))).toEqual(JSON.parse(githubBiggerExporter.serialize(figures)));
    await expect(run(['export', BASELINE])).rejects.toThrow(/name at least one of --export-json FILE/);
    await expect(run(['export', BASELINE, '--export-json', join(tmp, 'no', 'such', 'dir', 'f.json')])).rejects.toThrow(/cannot write/);
  });
});

describe('run --export-json', () => {
  it('a run writes the Bencher file of its own results (the same as export OUT afterwards)', async () => {
    const { runCli } = await import('./support/cli.js');
    const out = join(tmp, 'run'), bmf = join(tmp, 'run-bmf.json');
    const r = await runCli(['run', '--gen', 'page-mix:events=3000', '--page', 'buddy,bitmap', '--object', 'slub', '--machine', 'small', '--quiet', '--workers', '0', '--out', out, '--export-json', bmf]);
    expect(r.code, r.stderr).toBe(0);
    const written = JSON.parse(readFileSync(bmf, 'utf8')) as Record<string, Record<string, { value: number }>>;
    expect(written).toEqual(JSON.parse(bencherExporter.serialize(collectFigures(loadResults(out).results, loadThresholds().metrics))));
    expect(Object.keys(written).sort()).toEqual(['page-mix_events=3000|small|bitmap|slub', 'page-mix_events=3000|small|buddy|slub']);
  }, 60_000);
});
