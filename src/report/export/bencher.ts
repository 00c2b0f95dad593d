import type { Exporter, Figure } from './exporter.js';

/**
 * Bencher Metric Format (https://bencher.dev/docs/reference/bencher-metric-format/), for
 * `bencher run --adapter json --file FILE`: { benchmark: { measure: { value, lower_value?,
 * upper_value? } } }. A benchmark is a cell without its seed; a measure is a metric path (at most
 * 64 characters, a Bencher measure name's limit); with several seeds value is their mean and
 * lower/upper_value the smallest and largest sample.
 */
export const bencherExporter: Exporter = {
  option: 'export-json',
  describe: 'write the figures as Bencher Metric Format JSON (bencher run --adapter json)',
  serialize(figures: Figure[]): string {
    const out: Record<string, Record<string, { value: number; lower_value?: number; upper_value?: number }>> = {};
    for (const f of figures) {
      const bench = (out[f.benchmark] ??= {});
      bench[f.metric.slice(0, 64)] = f.seeds > 1 ? { value: f.value, lower_value: f.min, upper_value: f.max } : { value: f.value };
    }
    return JSON.stringify(out, null, 2) + '\n';
  },
};
