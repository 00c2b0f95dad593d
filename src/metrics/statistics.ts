import jStat from 'jstat';

/**
 * Summary statistics for figures that vary across seeds, and the rank test for wall-clock figures.
 *
 * Distributions come from jstat (1.9.6, one package without dependencies: Student's t quantile,
 * the normal CDF). The Mann–Whitney U test is written here: the npm packages that offer it
 * (mann-whitney-utest, @tainakanchu/mann-whitney-utest) are unmaintained single-file ports without
 * an exact small-sample p-value, and @stdlib's statistics pull in some 200 packages for two functions.
 */

/** Mean and two-sided 95% Student-t confidence interval of a sample (n = 1: no interval). */
export interface Estimate {
  n: number;
  mean: number;
  sd: number;
  /** lower and upper bound of the 95% interval; both equal the mean when n < 2 */
  lo: number;
  hi: number;
}

export function estimate(xs: readonly number[], confidence = 0.95): Estimate {
  const n = xs.length;
  if (n === 0) return { n: 0, mean: NaN, sd: NaN, lo: NaN, hi: NaN };
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  if (n < 2) return { n, mean, sd: 0, lo: mean, hi: mean };
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  const half = jStat.studentt.inv(1 - (1 - confidence) / 2, n - 1) * sd / Math.sqrt(n);
  return { n, mean, sd, lo: mean - half, hi: mean + half };
}

/** Intervals that overlap cannot be told apart at this confidence: a tie (points compare by value). */
export function overlaps(a: Estimate, b: Estimate): boolean {
  return a.lo <= b.hi && b.lo <= a.hi;
}

export interface MannWhitney {
  /** U of the first sample: pairs (x, y) with x > y, ties counted one half */
  u: number;
  /** two-sided p-value (exact for small samples without ties, else the normal approximation with tie correction) */
  p: number;
  /**
   * common-language effect size P(X > Y) + P(X = Y)/2 = U / (n1·n2): 0.5 is no effect, 1 or 0
   * complete separation (the rank-biserial correlation is 2·this − 1)
   */
  effect: number;
  exact: boolean;
}

/**
 * Mann–Whitney U (Wilcoxon rank-sum) test of two independent samples. Exact p from the
 * distribution of U counted by recurrence when both samples are ≤ 20 and there are no ties;
 * otherwise the normal approximation with continuity and tie corrections.
 */
export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitney {
  const n1 = x.length, n2 = y.length;
  if (n1 === 0 || n2 === 0) return { u: NaN, p: NaN, effect: NaN, exact: false };
  // ranks of the pooled sample, ties given their mean rank
  const all = [...x.map((v) => ({ v, g: 0 })), ...y.map((v) => ({ v, g: 1 }))].sort((a, b) => a.v - b.v);
  let r1 = 0, tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.g === 0) r1 += rank;
    const t = j - i;
    tieTerm += t ** 3 - t;
    i = j;
  }
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const effect = u / (n1 * n2);
  const uMin = Math.min(u, n1 * n2 - u);
  if (tieTerm === 0 && n1 <= 20 && n2 <= 20) {
    const p = Math.min(1, 2 * exactCdf(n1, n2, uMin));
    return { u, p, effect, exact: true };
  }
  const n = n1 + n2;
  const sigma = Math.sqrt((n1 * n2 / 12) * ((n + 1) - tieTerm / (n * (n - 1))));
  if (sigma === 0) return { u, p: 1, effect, exact: false };
  const z = (Math.abs(u - (n1 * n2) / 2) - 0.5) / sigma;
  return { u, p: Math.min(1, 2 * (1 - jStat.normal.cdf(Math.max(0, z), 0, 1))), effect, exact: false };
}

/**
 * P(U ≤ k) without ties: the number of arrangements of n1 x's among n1 + n2 places with U = u,
 * c(n1, n2, u) = c(n1 − 1, n2, u − n2) + c(n1, n2 − 1, u), over C(n1 + n2, n1).
 */
function exactCdf(n1: number, n2: number, k: number): number {
  // table[a][b] = counts by u for samples of size a and b, built up one b at a time
  let prev: Float64Array[] = [];
  for (let b = 0; b <= n2; b++) {
    const row: Float64Array[] = [];
    for (let a = 0; a <= n1; a++) {
      const c = new Float64Array(a * b + 1);
      if (a === 0 || b === 0) c[0] = 1;
      else {
        const left = row[a - 1]!, up = prev[a]!;
        for (let u = 0; u <= a * b; u++) c[u] = (u - b >= 0 && u - b < left.length ? left[u - b]! : 0) + (u < up.length ? up[u]! : 0);
      }
      row.push(c);
    }
    prev = row;
  }
  const dist = prev[n1]!;
  let total = 0, below = 0;
  for (let u = 0; u < dist.length; u++) {
    total += dist[u]!;
    if (u <= k) below += dist[u]!;
  }
  return below / total;
}

/** Median of a sample (wall-clock figures are summarised by it: robust to a slow spell of the host). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
