import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { gateCommand } from '../src/cli/gate.js';
import { AllocbenchError } from '../src/errors.js';
import { mutation, MUTATIONS } from '../src/mutation.js';

/**
 * The mutation check of issue 16: each deliberate bug of src/mutation.ts, injected through
 * ALLOCBENCH_MUTATION, must make the gate (baseline/gate.json run and compared with the committed
 * baseline/) exit 1, and the unchanged tree must pass it every time. If a mutation stops being
 * caught, strengthen the gate matrix or the thresholds, not this test. The cells run in this thread
 * (gate's default), where the strategies read the switch when they are built.
 */
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-mutation-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => { delete process.env.ALLOCBENCH_MUTATION; });

let n = 0;
/** Runs `allocbench gate` as the CLI does; returns its exit code and output. */
async function gate(): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const prev = process.exitCode;
  process.exitCode = 0;
  try {
    await gateCommand.handler({ _: [], $0: 'allocbench', out: join(tmp, `run${n++}`), update: false, format: 'text', workers: 0, quiet: true });
    return { code: Number(process.exitCode ?? 0), out };
  } finally {
    spy.mockRestore();
    process.exitCode = prev;
  }
}

describe('mutation check: the gate against the committed baseline', () => {
  it('the unchanged tree passes the gate, 3 runs out of 3 (no false alarm)', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await gate();
      expect(r.code, `the gate fails on the unchanged tree: a model regressed, or baseline/ is stale after an intended change (then: npx allocbench gate --update, review git diff baseline/, commit)\n${r.out}`).toBe(0);
      expect(r.out).toMatch(/ 0 regressed/);
    }
  });

  for (const [name, what] of Object.entries(MUTATIONS)) {
    it(`${name} (${what}) makes the gate exit 1`, async () => {
      process.env.ALLOCBENCH_MUTATION = name;
      const r = await gate();
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(/REGRESSION/);
    });
  }

  it('an unknown mutation name is refused, not ignored', () => {
    process.env.ALLOCBENCH_MUTATION = 'buddy-merge-capp';
    expect(() => mutation('buddy-merge-cap')).toThrow(AllocbenchError);
    expect(() => mutation('buddy-merge-cap')).toThrow(/unknown mutation.*buddy-merge-cap/);
  });
});
