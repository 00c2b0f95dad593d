// The file piscina loads in each worker. Piscina tries require() first, and tsx would then compile
// the TypeScript to CommonJS, whose exports are getters that slow the hot loops ~2.5x. Top-level
// await cannot be compiled to CommonJS, so require() fails here and piscina falls back to import().
// The worker registers tsx's ESM loader itself (hooks given by --import do not reach worker threads
// on Node 20), so the modules load as ESM.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./worker.ts');
export default worker.default;
export const input = worker.input;
export const start = worker.start;
