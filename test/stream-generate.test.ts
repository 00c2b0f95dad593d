import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBinaryFile } from '../src/trace/binary.js';
import { openBinaryStream } from '../src/trace/binary-stream.js';
import { GENERATORS } from '../src/trace/generators/index.js';
import { writePageChurn } from '../src/trace/generators/page-churn.js';
import { OP_KMALLOC, OP_PAGE_ALLOC } from '../src/trace/ops.js';
import { opCounts } from '../src/trace/trace.js';
import { plain } from './support/plain-trace.js';
import { runCli } from './support/cli.js';

describe('page-churn streamed to .abt', () => {
  const params = { events: 200_000, mem: 64 * 1024 * 1024, objects: 3000 };

  it('writes, 7 events a chunk, the trace generate() gives, with op counts in the metadata', () => {
    const t = GENERATORS['page-churn']!.generate(params, 9);
    const p = join(mkdtempSync(join(tmpdir(), 'allocbench-churn-')), 'c.abt');
    expect(writePageChurn(p, params, 9, 7)).toEqual({ events: t.length, idCount: t.idCount });
    expect(plain(readBinaryFile(p, { shared: false }))).toEqual(plain(t));
    expect(openBinaryStream(p).opCounts).toEqual(opCounts(t));
  });

  it('recycles ids: the id count is the peak live set, far below the allocations', () => {
    const t = GENERATORS['page-churn']!.generate(params, 9);
    const c = opCounts(t);
    const allocs = c[OP_PAGE_ALLOC]! + c[OP_KMALLOC]!;
    expect(allocs).toBeGreaterThan(90_000);
    // targets: 3000 objects, 8192 pages at fill 0.5 (~5000 blocks of mean 1.65 pages); the churn overshoots a little
    expect(t.idCount).toBeLessThan(12_000);
    expect(t.idCount).toBeGreaterThan(6_000);
  });

  it('allocbench gen page-churn --out x.abt writes it in chunks; other generators to .abt whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allocbench-churn-cli-'));
    const r = await runCli(['gen', 'page-churn:mem=64M,objects=3000', '--events', '200000', '--seed', '9', '--out', join(dir, 'c.abt')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/c\.abt: 200000 events/);
    expect(plain(readBinaryFile(join(dir, 'c.abt'), { shared: false }))).toEqual(plain(GENERATORS['page-churn']!.generate(params, 9)));
    const m = await runCli(['gen', 'page-mix', '--events', '500', '--out', join(dir, 'm.abt')]);
    expect(m.code).toBe(0);
    expect(plain(readBinaryFile(join(dir, 'm.abt'), { shared: false }))).toEqual(plain(GENERATORS['page-mix']!.generate({ events: 500 }, 1)));
  });
});
