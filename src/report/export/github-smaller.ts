import { customBenchmarkJson, type Exporter, type Figure } from './exporter.js';

/** github-action-benchmark `tool: 'customSmallerIsBetter'`: the lower-is-better figures (latency, waste, failures, ...). */
export const githubSmallerExporter: Exporter = {
  option: 'export-github-smaller',
  describe: 'write the lower-is-better figures for github-action-benchmark (tool: customSmallerIsBetter)',
  serialize: (figures: Figure[]): string => customBenchmarkJson(figures, 'lower'),
};
