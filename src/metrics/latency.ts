import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { PRICE_SCALE } from '../machine/steps.js';
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

/** Histograms store tenths of a nanosecond (the priced steps' units): cost-table prices like 5.5 ns stay exact. */
const SCALE = PRICE_SCALE;

/**
 * Values below this (in tenths of a ns: up to 409.5 ns, most events' prices) are counted in a plain
 * per-op array indexed by the value: one increment, no probe.
 */
const DIRECT = 4096;
/** (exported apart from the constant the methods use: a private constant is folded into their code) */
export const LATENCY_DIRECT = DIRECT;
/** Slots of the per-op table of the other distinct values seen since the last flush (a power of two). */
const TABLE = 256;
const EMPTY = -1;

/**
 * One HDR histogram per op type (hdr-histogram-js, 3 significant digits). Simulated costs take few
 * distinct values (sums of priced steps), so each op first counts its values — below DIRECT in an
 * array indexed by the value, the rest in a small open-addressing table of typed arrays — and hands
 * them to its histogram in bulk (recordValueWithCount) when the table fills up and at the end:
 * recording an event is an increment (or a hash probe), not a histogram update. A histogram's counts
 * do not depend on the order values arrive in, so the summary is the same as recording each event.
 */
export class LatencyRecorder {
  private readonly hist: (Histogram | null)[] = new Array<Histogram | null>(OP_COUNT).fill(null);
  /** per op, tenths of a ns of the values in the histogram and the table (the direct counts' join at the end) */
  private readonly total = new Float64Array(OP_COUNT);
  private readonly keys = new Float64Array(OP_COUNT * TABLE).fill(EMPTY);
  private readonly counts = new Float64Array(OP_COUNT * TABLE);
  private readonly used = new Int32Array(OP_COUNT);
  /**
   * per op, DIRECT counts indexed by value (fresh memory: only the pages of values seen are touched);
   * the replay's loop increments them itself (run/replay.ts says why) and calls recordWide() for the rest
   */
  readonly direct = new Float64Array(OP_COUNT * DIRECT);

  record(op: number, ns: number): void {
    this.recordUnits(op, Math.round(ns * SCALE));
  }

  /**
   * An event of `v` tenths of a ns (a whole number: the replay's priced steps, machine/steps.ts).
   * Small, so V8 inlines it into the replay's loop for a fraction of its inlining budget (issue 17:
   * with the table's probe in it, this took 273 of the 920 bytes of bytecode V8 inlines into one
   * function, and less of the page path was inlined); the rest is recordWide().
   */
  recordUnits(op: number, v: number): void {
    // v | 0: the index as an int32 (v is a whole number below DIRECT here), not a float64 checked
    // for being one
    if (v < DIRECT) this.direct[op * DIRECT + (v | 0)]!++;
    else this.recordWide(op, v);
  }

  /** recordUnits() of a value of DIRECT or more: the per-op table, flushed to the histogram when half full. */
  recordWide(op: number, v: number): void {
    this.total[op]! += v;
    const base = op * TABLE;
    const keys = this.keys;
    let slot = (v * 40503) & (TABLE - 1);
    for (;;) {
      const k = keys[base + slot]!;
      if (k === v) { this.counts[base + slot]!++; return; }
      if (k === EMPTY) break;
      slot = (slot + 1) & (TABLE - 1);
    }
    if (this.used[op]! >= TABLE / 2) {
      this.flush(op);
      slot = (v * 40503) & (TABLE - 1);
    }
    keys[base + slot] = v;
    this.counts[base + slot] = 1;
    this.used[op]!++;
  }

  private histogram(op: number): Histogram {
    return (this.hist[op] ??= hdr.build({ numberOfSignificantValueDigits: 3, useWebAssembly: false }));
  }

  /** The direct counts into the histogram and the total (at the end: they never overflow). */
  private flushDirect(op: number): void {
    const d = this.direct, base = op * DIRECT;
    for (let v = 0; v < DIRECT; v++) {
      const c = d[base + v]!;
      if (c === 0) continue;
      this.histogram(op).recordValueWithCount(v, c);
      this.total[op]! += v * c;
      d[base + v] = 0;
    }
  }

  /** Every count into its histogram and total (what totalNs() and summary() read). */
  private settle(): void {
    for (let op = 0; op < OP_COUNT; op++) { this.flush(op); this.flushDirect(op); }
  }

  private flush(op: number): void {
    if (this.used[op] === 0) return;
    const h = this.histogram(op);
    const base = op * TABLE;
    for (let s = 0; s < TABLE; s++) {
      const k = this.keys[base + s]!;
      if (k === EMPTY) continue;
      h.recordValueWithCount(k, this.counts[base + s]!);
      this.keys[base + s] = EMPTY;
      this.counts[base + s] = 0;
    }
    this.used[op] = 0;
  }

  /** (the totals are sums of whole tenths: exact, and divided once) */
  totalNs(): number {
    this.settle();
    let t = 0;
    for (let i = 0; i < OP_COUNT; i++) t += this.total[i]!;
    return t / SCALE;
  }

  summary(): Record<string, LatencySummary> {
    this.settle();
    const out: Record<string, LatencySummary> = {};
    this.hist.forEach((h, op) => {
      if (!h || h.totalCount === 0) return;
      const p = (q: number): number => h.getValueAtPercentile(q) / SCALE;
      const total = this.total[op]! / SCALE;
      out[OP_NAMES[op]!] = {
        count: h.totalCount,
        total_ns: Math.round(total),
        mean_ns: Math.round((total / h.totalCount) * 10) / 10,
        p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: h.maxValue / SCALE,
      };
    });
    return out;
  }
}
