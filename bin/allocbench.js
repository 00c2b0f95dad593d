#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (`npm ci` builds it: the prepare script). In a checkout whose
// src/ changed since the last build (an edit, a rebase), the changed files are compiled first; with
// nothing changed that check is a walk of src/ (a few ms). An installed package without src/ skips it.
import { existsSync } from 'node:fs';

const build = new URL('../scripts/build.mjs', import.meta.url);
if (existsSync(new URL('../src', import.meta.url)) && existsSync(build)) await (await import(build.href)).buildStale();
await import('../dist/cli/main.js');
