import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { recordCommand } from '../src/cli/record.js';
import { AllocbenchError } from '../src/errors.js';
import { interposerLibrary } from '../src/record/build.js';
import { readRecording } from '../src/record/log.js';
import { loadTrace } from '../src/trace/load.js';
import { OP_EXIT, OP_FORK, OP_FREE, OP_MALLOC, OP_MMAP, OP_MUNMAP, OP_REALLOC } from '../src/trace/ops.js';

const tmp = mkdtempSync(join(tmpdir(), 'allocbench-record-'));
const env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache') };
const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

/** Builds test/fixtures/record/threads.c and runs it under the interposer: its stdout lines "tid calls" and the log directory. */
function runThreads(): { counts: Map<number, number>; dir: string } {
  const lib = interposerLibrary(env);
  const exe = join(tmp, 'threads');
  const cc = spawnSync('cc', ['-O2', '-pthread', '-o', exe, 'test/fixtures/record/threads.c'], { encoding: 'utf8' });
  expect(cc.status, cc.stderr).toBe(0);
  const dir = join(tmp, 'logs');
  mkdirSync(dir);
  const r = spawnSync(exe, [], { encoding: 'utf8', env: { ...env, LD_PRELOAD: lib, ALLOCBENCH_RECORD_DIR: dir } });
  expect(r.status, r.stderr).toBe(0);
  const counts = new Map<number, number>();
  for (const l of r.stdout.trim().split('\n')) { const [tid, n] = l.split(' ').map(Number); counts.set(tid!, n!); }
  return { counts, dir };
}

describe.skipIf(!hasCc)('allocbench record', () => {
  it('builds the interposer once, cached by its source hash', () => {
    const a = interposerLibrary(env);
    expect(a.startsWith(join(tmp, 'cache', 'allocbench'))).toBe(true);
    expect(interposerLibrary(env)).toBe(a);
    expect(readdirSync(join(tmp, 'cache', 'allocbench')).filter((f) => f.endsWith('.so'))).toHaveLength(1);
  });

  it('loses no event of a 4-thread program, a fork child that _exits, or what main leaves buffered at exit', () => {
    const { counts, dir } = runThreads();
    expect(counts.size).toBe(6); // 4 workers, the child, main
    const rec = readRecording(dir, 'threads');
    const t = rec.trace;
    expect(rec.processes).toBe(2);
    const perTid = new Map<number, number>();
    for (let i = 0; i < t.length; i++) {
      const op = t.op[i]!;
      if (op === OP_MALLOC || op === OP_FREE || op === OP_REALLOC || op === OP_MMAP || op === OP_MUNMAP) {
        perTid.set(t.tid![i]!, (perTid.get(t.tid![i]!) ?? 0) + 1);
      }
    }
    const tids = [...counts.keys()];
    // the 4 workers: exactly the calls they made (each thread's own count)
    for (const tid of tids.slice(0, 4)) expect(perTid.get(tid)).toBe(counts.get(tid));
    // the fork child (_exit) and main (returns from main: flushed by the destructor); main's libc
    // start-up may add a few allocations of its own
    expect(perTid.get(tids[4]!)).toBe(counts.get(tids[4]!));
    expect(perTid.get(tids[5]!)).toBeGreaterThanOrEqual(counts.get(tids[5]!)!);
    expect(perTid.get(tids[5]!)).toBeLessThan(counts.get(tids[5]!)! + 50);
    // one fork from pid 0 to pid 1, and the child's exit; nothing unknown
    const forks = [...t.op].flatMap((op, i) => (op === OP_FORK ? [[t.id[i], t.aux[i]]] : []));
    expect(forks).toEqual([[0, 1]]);
    expect([...t.op].filter((op) => op === OP_EXIT)).toHaveLength(1);
    expect(t.stats).toMatchObject({ recorded_failed_allocs: 0, reordered_frees: 0 });
  });

  it('records a command into a trace that loads (allocbench record --out FILE -- CMD)', async () => {
    const out = join(tmp, 'sh.abt');
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    const cache = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = env.XDG_CACHE_HOME;
    try {
      await yargs(['record', '--out', out, '--', 'sort', '-o', '/dev/null', 'README.md']).command(recordCommand).strict()
        .fail((msg, e) => { throw e ?? new AllocbenchError(msg); }).parseAsync();
    } finally {
      process.stderr.write = err;
      if (cache === undefined) delete process.env.XDG_CACHE_HOME; else process.env.XDG_CACHE_HOME = cache;
    }
    expect(existsSync(out)).toBe(true);
    const t = loadTrace(out);
    expect(t.name).toBe('sh');
    expect([...t.op].filter((op) => op === OP_MALLOC).length).toBeGreaterThan(10);
    expect(t.tid).toBeDefined(); // the thread ids survive the .abt form
  });
});

describe('allocbench record without a compiler', () => {
  it('says so and exits 2', () => {
    let e: unknown;
    try { interposerLibrary({ PATH: join(tmp, 'nothing'), CC: '', XDG_CACHE_HOME: join(tmp, 'nocache') }); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(AllocbenchError);
    expect((e as AllocbenchError).exitCode).toBe(2);
    expect((e as Error).message).toMatch(/no C compiler/);
  });
});
