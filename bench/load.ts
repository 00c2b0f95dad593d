/**
 * Loader throughput: `node --import tsx bench/load.ts [--lines N]`.
 * Builds a large mtrace log (≥ 2 M lines by default) by repeating the bundled perl recording with
 * its heap addresses shifted by 2^40 per copy, so every copy allocates distinct pointers, then
 * times parseMtrace on it; writes the resulting trace as native CSV and times parseCsv on that;
 * prints lines/s and the Trace's bytes per event. Wall-clock figures: for information only.
 */
import { parseCsv } from '../src/trace/csv.js';
import { writeCsv } from '../src/trace/csv-writer.js';
import { readTraceText } from '../src/trace/load.js';
import { parseMtrace } from '../src/trace/mtrace.js';
import type { Trace } from '../src/trace/trace.js';

const argLines = process.argv.indexOf('--lines');
const target = argLines > 0 ? Number(process.argv[argLines + 1]) : 2_000_000;
const source = 'traces/perl-strings.mtrace.gz';

const base = readTraceText(source).split('\n').filter((l) => l !== '' && !l.startsWith('='));
const parts: string[] = ['= Start'];
for (let copy = 0; parts.length < target; copy++) {
  const shift = copy * 2 ** 40;
  for (const l of base) {
    parts.push(copy === 0 ? l : l.replace(/([-+<>!] )0x([0-9a-f]+)/, (_m, op: string, hex: string) => `${op}0x${(parseInt(hex, 16) + shift).toString(16)}`));
  }
}
parts.push('= End');
const text = `${parts.join('\n')}\n`;
const lines = parts.length;

function bytesPerEvent(t: Trace): number {
  const bytes = t.op.byteLength + t.id.byteLength + t.lo.byteLength + t.hi.byteLength + t.aux.byteLength + t.extra.byteLength;
  return bytes / Math.max(1, t.length);
}

/** Best of `runs` by wall clock, and the CPU time of that run (steadier on a shared machine). */
function best<T>(runs: number, f: () => T): { ms: number; cpuMs: number; out: T } {
  let ms = Infinity;
  let cpuMs = Infinity;
  let out!: T;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    out = f();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (wall < ms) { ms = wall; cpuMs = (c.user + c.system) / 1e3; }
  }
  return { ms, cpuMs, out };
}
const rate = (n: number, r: { ms: number; cpuMs: number }): string =>
  `${(n / r.ms / 1e3).toFixed(2)} M/s wall (${r.ms.toFixed(0)} ms), ${(n / r.cpuMs / 1e3).toFixed(2)} M/s per CPU-second`;

const m = best(5, () => parseMtrace(text, 'bench.mtrace'));
console.log(`mtrace: ${lines} lines (${(text.length / 1e6).toFixed(1)} MB): ${rate(lines, m)} lines; ` +
  `${m.out.length} events, ${bytesPerEvent(m.out).toFixed(1)} bytes/event`);

const csvEvents = Math.min(m.out.length, 500_000);
const sub: Trace = { ...m.out, length: csvEvents, op: m.out.op.subarray(0, csvEvents), id: m.out.id.subarray(0, csvEvents), lo: m.out.lo.subarray(0, csvEvents), hi: m.out.hi.subarray(0, csvEvents), aux: m.out.aux.subarray(0, csvEvents) };
const w = best(1, () => writeCsv(sub));
const csvLines = csvEvents + 1;
const c = best(3, () => parseCsv(w.out, 'bench.csv'));
console.log(`csv write: ${csvEvents} events: ${rate(csvEvents, w)} events`);
console.log(`csv: ${csvLines} lines (${(w.out.length / 1e6).toFixed(1)} MB): ${rate(csvLines, c)} lines; ` +
  `${c.out.length} events, ${bytesPerEvent(c.out).toFixed(1)} bytes/event`);
