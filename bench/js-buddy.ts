/**
 * A line-for-line JavaScript port of the native reference's plain buddy (../shared/native/buddy.h
 * and buddy_replay() in buddy.c): typed arrays for next/prev/order/free, one list per order, no
 * zones, migratetypes, per-CPU lists, watermarks, latency pricing, sampling or metrics. Not a model
 * of allocbench (src/page/buddy.ts is): bench:native runs it beside `replay -m buddy` and `allocbench
 * run` so the gap to native C splits into what JavaScript costs and what the simulator's model does
 * on top. `node --import tsx bench/js-buddy.ts TRACE [PASSES]` (a native `gen page` trace) prints
 * `events=N best_s=S` (best of PASSES timed passes, default 3 as bench:native asks of `replay`,
 * after one untimed) and the blocks on each order's list, which must equal the native replay's
 * `list_blocks` (bench:native checks it).
 */
import { readFileSync } from 'node:fs';

const MAX = 10, P = 1 << 20; // replay's defaults: MAX_ORDER 10, 4 GiB of 4 KiB pages

const lines = readFileSync(process.argv[2]!, 'utf8').split('\n');
const op = new Uint8Array(lines.length), id = new Int32Array(lines.length), arg = new Int32Array(lines.length);
let n = 0, ids = 0;
for (const l of lines) {
  if (l === '' || l[0] === '#') continue;
  const f = l.split(' ');
  op[n] = f[0] === 'a' ? 0 : 1;
  id[n] = Number(f[1]);
  arg[n] = f[0] === 'a' ? Number(f[2]) : 0;
  ids = Math.max(ids, id[n]! + 1);
  n++;
}

const next = new Int32Array(P), prev = new Int32Array(P), order = new Uint8Array(P), free = new Uint8Array(P);
const head = new Int32Array(MAX + 1), nfree = new Float64Array(MAX + 1);
/** per id: pfn << 4 | order of its live block, -1 when none (ph_pack) */
const page = new Int32Array(ids);

function push(pfn: number, o: number): void {
  const first = head[o]!;
  next[pfn] = first; prev[pfn] = -1; order[pfn] = o; free[pfn] = 1;
  if (first >= 0) prev[first] = pfn;
  head[o] = pfn; nfree[o]!++;
}
function del(pfn: number, o: number): void {
  const p = prev[pfn]!, x = next[pfn]!;
  if (p >= 0) next[p] = x; else head[o] = x;
  if (x >= 0) prev[x] = p;
  free[pfn] = 0; nfree[o]!--;
}
function alloc(o: number): number {
  for (let cur = o; cur <= MAX; cur++) {
    const pfn = head[cur]!;
    if (pfn < 0) continue;
    const x = next[pfn]!;
    head[cur] = x;
    if (x >= 0) prev[x] = -1;
    free[pfn] = 0; nfree[cur]!--;
    while (cur > o) { cur--; push(pfn + (1 << cur), cur); }
    return pfn;
  }
  return -1;
}
function release(pfn: number, o: number): void {
  while (o < MAX) {
    const bud = pfn ^ (1 << o);
    if (free[bud] === 0 || order[bud] !== o) break;
    del(bud, o);
    pfn &= bud;
    o++;
  }
  push(pfn, o);
}
function reset(): void {
  head.fill(-1); nfree.fill(0); free.fill(0); page.fill(-1);
  for (let p = P - (1 << MAX); p >= 0; p -= 1 << MAX) push(p, MAX); // list 10 ascending from its head
}
function replay(): void {
  for (let i = 0; i < n; i++) {
    if (op[i] === 0) {
      const a = arg[i]!, pfn = alloc(a);
      page[id[i]!] = pfn < 0 ? -1 : (pfn << 4) | a;
    } else {
      const h = page[id[i]!]!;
      if (h !== -1) release(h >> 4, h & 15);
    }
  }
}

const passes = Number(process.argv[3] ?? 3);
let best = Infinity;
for (let r = 0; r <= passes; r++) {
  reset();
  const t = process.hrtime.bigint();
  replay();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r > 0) best = Math.min(best, s); // pass 0 warms up, as replay's -w 1
}
console.log(`events=${n} best_s=${best} list_blocks=${[...nfree].join(',')}`);
