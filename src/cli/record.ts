import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { AllocbenchError } from '../errors.js';
import { interposerLibrary } from '../record/build.js';
import { readRecording } from '../record/log.js';
import { formatByExtension, traceName } from '../trace/load.js';
import { opCounts } from '../trace/trace.js';
import { OP_NAMES } from '../trace/ops.js';
import { writeTraceAs } from './convert.js';

interface RecordArgs {
  out: string;
  cmd?: string[];
  keep?: string;
}

/**
 * `allocbench record [--out FILE] -- CMD ARGS...`: runs CMD with the allocation interposer preloaded
 * (src/record/interposer.c, built once with the system C compiler) and writes every process's and
 * thread's malloc/free/realloc/memalign family, mmap/munmap/mremap and brk/sbrk calls as one trace:
 * the compiled form (.abt, the default) or native CSV (.csv[.gz]). The exit status is CMD's (a
 * signal gives 128 + its number); the trace is written either way.
 */
export const recordCommand: CommandModule<object, RecordArgs> = {
  command: 'record [cmd..]',
  describe: 'run a program with an allocation recorder preloaded and write its trace (see docs/recording.md)',
  builder: (y: Argv) =>
    y.positional('cmd', { type: 'string', array: true, describe: 'the command and its arguments, after --' })
      .option('out', { type: 'string', default: 'recording.abt', describe: 'output trace (.abt, or .csv / .csv.gz)' })
      .option('keep', { type: 'string', describe: 'keep the raw per-process logs in this (new or empty) directory (debugging)' }) as unknown as Argv<RecordArgs>,
  handler: (a) => {
    // CMD comes after `--` (yargs leaves it in `_` after the command name) or as the positional
    const rest = (a as unknown as { _: (string | number)[] })._.slice(1);
    const cmd = [...(a.cmd ?? []), ...rest].map(String);
    if (cmd.length === 0) throw new AllocbenchError('record: name the program to run: allocbench record [--out FILE] -- CMD ARGS...');
    const lower = a.out.toLowerCase().replace(/\.gz$/, '');
    const to = lower.endsWith('.csv') ? 'csv' : lower.endsWith('.abt') ? 'bin' : undefined;
    if (to === undefined || (formatByExtension(a.out)?.name ?? '') !== (to === 'csv' ? 'csv' : 'bin')) {
      throw new AllocbenchError(`record: --out must end in .abt, .csv or .csv.gz (got "${a.out}")`);
    }
    const lib = interposerLibrary();
    if (a.keep !== undefined) mkdirSync(a.keep, { recursive: true });
    const dir = a.keep ?? mkdtempSync(join(tmpdir(), 'allocbench-record-'));
    try {
      const preload = process.env.LD_PRELOAD ? `${lib} ${process.env.LD_PRELOAD}` : lib;
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env: { ...process.env, LD_PRELOAD: preload, ALLOCBENCH_RECORD_DIR: dir } });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.error !== undefined) throw new AllocbenchError(`record: cannot run ${cmd[0]}: ${r.error.message}`);
      const rec = readRecording(dir, traceName(a.out), `record: ${cmd.join(' ')}`);
      writeTraceAs(rec.trace, to, a.out);
      const c = opCounts(rec.trace);
      const counts = OP_NAMES.map((n, i) => (c[i]! > 0 ? `${n} ${c[i]}` : '')).filter((s) => s !== '').join(', ');
      process.stderr.write(`record: ${a.out}: ${rec.trace.length} events (${counts}) from ${rec.processes} process(es), ${rec.threads} thread(s); ${wall.toFixed(2)} s\n`);
      process.exitCode = r.status ?? (r.signal !== null ? 128 + ((constants.signals as Record<string, number>)[r.signal] ?? 0) : 1);
    } finally {
      if (a.keep === undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
};
