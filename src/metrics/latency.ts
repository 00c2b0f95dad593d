import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { OP_COUNT, OP_NAMES } from '../trace/ops.js';

/** Per-op summary of simulated latency (nanoseconds) and the op's total simulated time. */
export interface LatencySummary {
  count: number;
  total_ns: number;
  mean_ns: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Histograms store tenths of a nanosecond: cost-table prices like 5.5 ns stay exact. */
const SCALE = 10;

/**
 * One HDR histogram per op type (hdr-histogram-js, 3 significant digits). Consecutive equal
 * values of the same op are recorded as one run, so a warm fast path costs one comparison per
 * event instead of a histogram update.
 */
export class LatencyRecorder {
  private readonly hist: (Histogram | null)[] = new Array<Histogram | null>(OP_COUNT).fill(null);
  private readonly total = new Float64Array(OP_COUNT);
  private runOp = -1;
  private runVal = 0;
  private runCount = 0;

  record(op: number, ns: number): void {
    this.total[op]! += ns;
    const v = Math.round(ns * SCALE);
    if (op === this.runOp && v === this.runVal) { this.runCount++; return; }
    this.flush();
    this.runOp = op; this.runVal = v; this.runCount = 1;
  }

  private flush(): void {
    if (this.runCount === 0) return;
    let h = this.hist[this.runOp];
    if (!h) h = this.hist[this.runOp] = hdr.build({ numberOfSignificantValueDigits: 3, useWebAssembly: false });
    h.recordValueWithCount(this.runVal, this.runCount);
    this.runCount = 0;
  }

  totalNs(): number {
    let t = 0;
    for (let i = 0; i < OP_COUNT; i++) t += this.total[i]!;
    return t;
  }

  summary(): Record<string, LatencySummary> {
    this.flush();
    const out: Record<string, LatencySummary> = {};
    this.hist.forEach((h, op) => {
      if (!h || h.totalCount === 0) return;
      const p = (q: number): number => h.getValueAtPercentile(q) / SCALE;
      out[OP_NAMES[op]!] = {
        count: h.totalCount,
        total_ns: Math.round(this.total[op]!),
        mean_ns: Math.round((this.total[op]! / h.totalCount) * 10) / 10,
        p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: h.maxValue / SCALE,
      };
    });
    return out;
  }
}
