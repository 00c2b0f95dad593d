import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);

describe('CLI start-up', () => {
  it('main.ts imports only yargs and the error type up front: each command loads its module when chosen', () => {
    const src = readFileSync(new URL('src/cli/main.ts', root), 'utf8');
    const staticImports = [...src.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(staticImports.sort()).toEqual(['../errors.js', 'yargs', 'yargs/helpers']);
    expect(src).toMatch(/import\('\.\/report\.js'\)/);
  });

  it('bin/allocbench.js runs the compiled dist/ (built by the global setup) and lists every command', () => {
    const help = execFileSync(process.execPath, [new URL('bin/allocbench.js', root).pathname, '--help'], { encoding: 'utf8' });
    for (const c of ['run', 'start', 'report <dir>', 'compare <base> <current>', 'convert <in>', 'fraginfo', 'slabinfo', 'gen <generator>', 'merge <dirs..>', 'micro', 'list']) {
      expect(help).toContain(`allocbench ${c} `);
    }
  });

  it('a command\'s own --help shows the options its lazily loaded module declares', () => {
    const help = execFileSync(process.execPath, [new URL('bin/allocbench.js', root).pathname, 'gen', '--help'], { encoding: 'utf8' });
    expect(help).toContain('--events');
    expect(help).toContain('--out');
  });
});
