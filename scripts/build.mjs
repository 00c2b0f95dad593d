#!/usr/bin/env node
/**
 * Builds dist/ from src/: the JavaScript the CLI and its worker threads run (no TypeScript compiler at
 * run time).
 *
 *   node scripts/build.mjs             full build: tsc -p tsconfig.build.json (type-checked) into a
 *                                      fresh dist/, plus src/'s other files (cost-table.json, ...)
 *   node scripts/build.mjs --if-stale  only the src/ files newer than their dist/ copy, each compiled
 *                                      alone (ts.transpileModule: no type check; `npm test` runs tsc)
 *
 * `npm ci` runs the full build (the prepare script). bin/allocbench.js and vitest's global setup run
 * the --if-stale form, so a checkout whose sources changed since (an edit, a rebase) never runs old
 * code: with nothing stale it costs a directory walk and two stat calls a file.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

/** Every file under src/ with the dist/ path it builds to. */
function sources() {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.d.ts')) {
        out.push({ src: p, dist: join(DIST, relative(SRC, p)).replace(/\.ts$/, '.js') });
      }
    }
  };
  walk(SRC);
  return out;
}

const mtime = (f) => { try { return statSync(f).mtimeMs; } catch { return -1; } };

/** The src/ files whose dist/ copy is missing or older. */
export function staleFiles() {
  const config = Math.max(mtime(join(ROOT, 'tsconfig.json')), mtime(join(ROOT, 'tsconfig.build.json')));
  return sources().filter((f) => { const d = mtime(f.dist); return d < 0 || d < mtime(f.src) || d < config; });
}

/** Writes through a temporary file, so a concurrent reader sees the old file or the new, never half. */
function writeAtomic(file, data) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Compiles (or copies) the stale files; returns how many there were. */
export async function buildStale() {
  const stale = staleFiles();
  if (stale.length === 0) return 0;
  const { default: ts } = await import('typescript');
  const cfg = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  for (const f of stale) {
    if (!f.src.endsWith('.ts')) {
      writeAtomic(f.dist, readFileSync(f.src));
      continue;
    }
    // package.json says "type": "module", so tsc's NodeNext emits ES modules; a file compiled alone cannot look that up
    const { outputText } = ts.transpileModule(ts.sys.readFile(f.src), { compilerOptions: { ...cfg.options, module: ts.ModuleKind.ES2022 }, fileName: f.src });
    writeAtomic(f.dist, outputText);
  }
  return stale.length;
}

/** The full build: a fresh dist/ from tsc, then src/'s other files copied beside the JavaScript. */
export function buildAll() {
  rmSync(DIST, { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  for (const f of sources()) {
    if (f.src.endsWith('.ts')) continue;
    mkdirSync(dirname(f.dist), { recursive: true });
    copyFileSync(f.src, f.dist);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--if-stale')) {
    const n = await buildStale();
    if (n > 0) process.stderr.write(`dist/: ${n} file(s) rebuilt from src/\n`);
  } else {
    buildAll();
  }
}
