import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/allocbench.js', import.meta.url));
export const FIXTURE_CSV = fileURLToPath(new URL('../fixtures/csv/minimal.csv', import.meta.url));

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/**
 * Runs `node bin/allocbench.js ARGS` (the compiled CLI a user runs, where the exit code matters),
 * killed after `timeoutMs`. `onStart` may signal the child (Ctrl-C tests).
 */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; onStart?: (kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b; });
    child.stderr.on('data', (b: Buffer) => { stderr += b; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    opts.onStart?.((s) => child.kill(s));
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }); });
  });
}

/** The error contract: exactly one line on stderr, starting "allocbench: ", no stack frame. */
export function oneLine(stderr: string): boolean {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  return lines.length === 1 && lines[0]!.startsWith('allocbench: ') && !/\n\s+at /.test(stderr);
}
