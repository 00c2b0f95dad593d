import { customBenchmarkJson, type Exporter, type Figure } from './exporter.js';

/** github-action-benchmark `tool: 'customBiggerIsBetter'`: the higher-is-better figures (high-order success, utilization, events/s, ...). */
export const githubBiggerExporter: Exporter = {
  option: 'export-github-bigger',
  describe: 'write the higher-is-better figures for github-action-benchmark (tool: customBiggerIsBetter)',
  serialize: (figures: Figure[]): string => customBenchmarkJson(figures, 'higher'),
};
