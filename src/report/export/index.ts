import { bencherExporter } from './bencher.js';
import type { Exporter } from './exporter.js';
import { githubBiggerExporter } from './github-bigger.js';
import { githubSmallerExporter } from './github-smaller.js';

/** Every export format; each adds its --export-* option to `export` and `gate`. */
export const EXPORTERS: Exporter[] = [bencherExporter, githubSmallerExporter, githubBiggerExporter];
