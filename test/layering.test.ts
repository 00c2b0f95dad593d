import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The developers' rule (docs: "Imports flow downward"): cli → report/run → metrics → object →
 * trace → page → machine. A file may import from its own layer or a lower one; top-level
 * src/*.ts files (errors.ts, strategy-spec.ts, mutation.ts, ...) are shared leaf modules that
 * anyone may import. And no file-level import cycles, even inside a layer.
 */
const RANK: Record<string, number> = {
  cli: 0,
  report: 1,
  run: 1,
  metrics: 2,
  object: 3,
  // not in the guide's list: recording turns an interposer's logs into a Trace, so it sits
  // directly above trace (it imports trace/, only cli/ imports it)
  record: 3.5,
  trace: 4,
  page: 5,
  machine: 6,
};

/**
 * Deliberate exceptions, "from -> to" (paths under src/), each with its reason. The test also
 * fails when an exception is no longer needed, so this list only shrinks.
 */
const EXCEPTIONS: Record<string, string> = {};

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// static imports and re-exports (type-only too, any line breaks inside the braces) and import('...')
const IMPORT = /(?:^|[;\n])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"\n]+)['"]|\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** Relative imports of one file, as src-relative .ts paths. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    out.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
  }
  return out;
}

const layerOf = (rel: string): string | null => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : null);

const graph = new Map<string, string[]>();
for (const f of sourceFiles(SRC)) graph.set(relative(SRC, f), importsOf(f, readFileSync(f, 'utf8')));

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

describe('import layering (cli → report/run → metrics → object → trace → page → machine)', () => {
  it('finds the imports it checks (the parser is not blind)', () => {
    expect(graph.size).toBeGreaterThan(100);
    const parsed = importsOf(join(SRC, 'object/x.ts'), "import type {\n  A,\n  B,\n} from '../machine/a.js';\nexport { c } from './c.js';\nconst m = await import('../page/d.js');\nimport 'node:fs';");
    expect(parsed).toEqual(['machine/a.ts', 'object/c.ts', 'page/d.ts']);
    expect(graph.get('cli/main.ts')!.length).toBeGreaterThan(0);
  });

  it('every source file resolves and every folder has a layer', () => {
    const unresolved = [...graph].flatMap(([f, to]) => to.filter((t) => !graph.has(t)).map((t) => `${f} -> ${t}`));
    expect(unresolved).toEqual([]);
    const unranked = [...new Set([...graph.keys()].map(layerOf).filter((l): l is string => l !== null && !(l in RANK)))];
    expect(unranked).toEqual([]);
  });

  it('no import cycles between files', () => {
    expect(cycles(graph)).toEqual([]);
    // the cycle finder itself finds one
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]))).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('no import from a lower layer to a higher one (except the stated exceptions)', () => {
    const upward: string[] = [];
    for (const [f, to] of graph) {
      const from = layerOf(f);
      if (from === null) continue;
      for (const t of to) {
        const into = layerOf(t);
        if (into !== null && RANK[into]! < RANK[from]!) upward.push(`${f} -> ${t}`);
      }
    }
    const unique = [...new Set(upward)].sort();
    expect(unique.filter((e) => !(e in EXCEPTIONS))).toEqual([]);
    // an exception that is no longer needed is removed, not kept
    expect(Object.keys(EXCEPTIONS).filter((e) => !unique.includes(e))).toEqual([]);
  });
});
