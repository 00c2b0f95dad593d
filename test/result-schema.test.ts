import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import Ajv2020 from 'ajv/dist/2020.js';
import { loadMachine } from '../src/machine/memory-map.js';
import { failedCell, runCell } from '../src/run/cell.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { parseMtrace } from '../src/trace/mtrace.js';

const schema = JSON.parse(readFileSync(new URL('../schema/result-line.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv2020.default({ allErrors: true, strict: false }).compile(schema);
const ok = (line: unknown): string => (validate(line) ? '' : JSON.stringify(validate.errors));

describe('results.jsonl lines follow schema/result-line.schema.json', () => {
  it('for a kernel workload, a user heap with processes, and a failed cell', () => {
    const small = loadMachine('small');
    const km = GENERATORS['kernel-mix']!.generate({ events: 5000 }, 1);
    const heap = parseMtrace('= Start\n@ [0x1] + 0x1000 0x40\n@ [0x1] - 0x1000\n= End\n', 'tiny.mtrace');
    const lines = [
      runCell({ trace: km.name, machine: 'small', page: 'buddy-mobility', object: 'slub', seed: 1 }, km, small),
      runCell({ trace: heap.name, machine: 'small', page: 'bitmap', object: 'dlmalloc', seed: 1 }, heap, small),
      failedCell({ trace: 'x', machine: 'small', page: 'buddy', object: 'slub', seed: 1 }, new Error('boom')),
    ].map((r) => JSON.parse(JSON.stringify(r)) as unknown);
    for (const l of lines) expect(ok(l)).toBe('');
  });

  it('rejects a line that mixes a wall-clock figure into the deterministic part or misses a field', () => {
    expect(ok({ cell: { trace: 't', machine: 'm', page: 'p', object: 'o', seed: 1 }, status: 'ok', events: 1, trace_errors: 0, failed_allocs: 0, metrics: {}, wall: {}, replay_ms: 3 })).not.toBe('');
    expect(ok({ cell: { trace: 't', machine: 'm', page: 'p', object: 'o', seed: 1 }, status: 'ok', events: 1, trace_errors: 0, metrics: {}, wall: {} })).not.toBe('');
    expect(ok({ cell: { trace: 't', machine: 'm', page: 'p', object: 'o', seed: 1 }, status: 'done', events: 1, trace_errors: 0, failed_allocs: 0, metrics: {}, wall: {} })).not.toBe('');
  });
});
