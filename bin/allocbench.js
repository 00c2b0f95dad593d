#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader (esbuild strips types; hot loops run as written).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
