/**
 * Allocation-free scanning helpers for the text trace loaders (kernel.ts, rep.ts). Everything works
 * on (text, start, end) offsets into the whole file so the per-line loop makes no substrings,
 * no regex matches and no Map lookups.
 */

/** Whether c is a space or tab. */
export function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** Index of the first non-blank at or after p (end when none). */
export function skipBlanks(s: string, p: number, end: number): number {
  while (p < end && isBlank(s.charCodeAt(p))) p++;
  return p;
}

/** Index of the first blank at or after p (end when none). */
export function tokenEnd(s: string, p: number, end: number): number {
  while (p < end && !isBlank(s.charCodeAt(p))) p++;
  return p;
}

/**
 * Start of the value of `key` (given with its '=', e.g. 'pfn=') in s[from, end), or -1. The key must
 * start a field (at `from` or after a blank), so 'page=' does not match inside 'fallback_page='.
 */
export function fieldValue(s: string, key: string, from: number, end: number): number {
  let p = s.indexOf(key, from);
  while (p >= 0 && p < end) {
    if (p === from || isBlank(s.charCodeAt(p - 1))) return p + key.length;
    p = s.indexOf(key, p + 1);
  }
  return -1;
}

/** Decimal integer in s[p, e) (optional leading '-'), or NaN when it is not one. */
export function parseDec(s: string, p: number, e: number): number {
  if (p >= e) return NaN;
  let neg = false;
  if (s.charCodeAt(p) === 45) { neg = true; p++; if (p >= e) return NaN; }
  let v = 0;
  for (; p < e; p++) {
    const d = s.charCodeAt(p) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Unsigned integer in s[p, e): decimal, or hex with a 0x prefix. NaN when malformed. */
export function parseNum(s: string, p: number, e: number): number {
  if (e - p > 2 && s.charCodeAt(p) === 48 && (s.charCodeAt(p + 1) | 32) === 120) {
    let v = 0;
    for (p += 2; p < e; p++) {
      const d = hexDigit(s.charCodeAt(p));
      if (d < 0) return NaN;
      v = v * 16 + d;
    }
    return v;
  }
  const v = parseDec(s, p, e);
  return v < 0 ? NaN : v;
}

/** Result of the last parsePtr as [hi, lo] 32-bit halves (scratch, so the hot loop allocates nothing). */
export const PTR = new Uint32Array(2);

/** parsePtr results */
export const PTR_BAD = -1;
export const PTR_NULL = 0;
export const PTR_OK = 1;

/**
 * A pointer as %p prints it: hashed (`00000000a1b2c3d4`), raw (`ffff888003c2a000`), with or without
 * 0x, or NULL (`(null)`, `0x0`, all zeros). Up to 64 bits, split into PTR[0]:PTR[1].
 */
export function parsePtr(s: string, p: number, e: number): number {
  if (p >= e) return PTR_BAD;
  if (s.charCodeAt(p) === 40) return s.startsWith('(null)', p) && e - p === 6 ? PTR_NULL : PTR_BAD;
  if (e - p > 2 && s.charCodeAt(p) === 48 && (s.charCodeAt(p + 1) | 32) === 120) p += 2;
  if (p >= e || e - p > 16) return PTR_BAD;
  let hi = 0, lo = 0;
  for (; p < e; p++) {
    const d = hexDigit(s.charCodeAt(p));
    if (d < 0) return PTR_BAD;
    hi = ((hi << 4) | (lo >>> 28)) >>> 0;
    lo = ((lo << 4) | d) >>> 0;
  }
  PTR[0] = hi; PTR[1] = lo;
  return hi === 0 && lo === 0 ? PTR_NULL : PTR_OK;
}

/**
 * End of the token that the last scanPtr / scanNum read (scratch, like PTR). The scan* functions
 * find a value's end and parse it in one pass over its chars instead of tokenEnd then parse*.
 */
export let scanEnd = 0;

/** parsePtr of the token at p (it ends at a blank or at `end`), with scanEnd set to the token's end. */
export function scanPtr(s: string, p: number, end: number): number {
  if (p >= end) { scanEnd = p; return PTR_BAD; }
  let c = s.charCodeAt(p);
  if (c === 40) {
    // parsePtr: the token must be exactly "(null)"
    const z = tokenEnd(s, p, end);
    scanEnd = z;
    return z - p === 6 && s.startsWith('(null)', p) ? PTR_NULL : PTR_BAD;
  }
  // a 0x prefix counts only in a token longer than 2
  if (c === 48 && p + 2 < end && (s.charCodeAt(p + 1) | 32) === 120 && !isBlank(s.charCodeAt(p + 2))) p += 2;
  const d0 = p;
  let hi = 0, lo = 0;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    let d = c - 48;
    if (d < 0 || d > 9) {
      const l = c | 32;
      if (l >= 97 && l <= 102) d = l - 87;
      else {
        if (isBlank(c)) break;
        scanEnd = tokenEnd(s, p, end);
        return PTR_BAD;
      }
    }
    hi = ((hi << 4) | (lo >>> 28)) >>> 0;
    lo = ((lo << 4) | d) >>> 0;
  }
  scanEnd = p;
  if (p === d0 || p - d0 > 16) return PTR_BAD;
  PTR[0] = hi; PTR[1] = lo;
  return hi === 0 && lo === 0 ? PTR_NULL : PTR_OK;
}

/** parseNum of the token at p (it ends at a blank or at `end`), with scanEnd set to the token's end. */
export function scanNum(s: string, p: number, end: number): number {
  const p0 = p;
  let c = p < end ? s.charCodeAt(p) : 32;
  if (c === 48 && p + 2 < end && (s.charCodeAt(p + 1) | 32) === 120 && !isBlank(s.charCodeAt(p + 2))) {
    let v = 0;
    for (p += 2; p < end; p++) {
      c = s.charCodeAt(p);
      const d = hexDigit(c);
      if (d < 0) {
        if (isBlank(c)) break;
        scanEnd = tokenEnd(s, p, end);
        return NaN;
      }
      v = v * 16 + d;
    }
    scanEnd = p;
    return v;
  }
  let v = 0;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    const d = c - 48;
    if (d < 0 || d > 9) {
      if (isBlank(c)) break;
      // not plain digits (a sign, a stray char): the general parser decides
      const z = tokenEnd(s, p, end);
      scanEnd = z;
      return parseNum(s, p0, z);
    }
    v = v * 10 + d;
  }
  scanEnd = p;
  return p === p0 ? NaN : v;
}

/** AddrMap slot value marking a free slot (stored values are ids ≥ 0 or small negative states). */
const EMPTY = -0x80000000;

/**
 * Open-addressing hash map from a 64-bit key (hi:lo) to an int32, on one typed array: the loaders'
 * map from recorded pointers / pfns / ids to dense trace ids. Linear probing with backward-shift
 * deletion (Knuth vol. 3, 6.4 Algorithm R), so frees leave no tombstones and the table is rebuilt
 * only to grow: a recording with many live pointers then allocates little besides the table itself
 * (large array buffers count as external memory, which makes V8 run full collections).
 */
export class AddrMap {
  private mask: number;
  /** per slot: key hi, key lo, value (EMPTY when the slot is free) */
  private slots: Int32Array;
  private used = 0;
  private limit: number;

  constructor(capacity = 1 << 12) {
    let c = 16;
    while (c < capacity * 2) c *= 2;
    this.mask = c - 1;
    this.slots = new Int32Array(c * 3).fill(EMPTY);
    this.limit = (c >>> 2) * 3;
  }

  get size(): number {
    return this.used;
  }

  private static hash(hi: number, lo: number): number {
    // pfns and pointers differ mostly in their low bits; murmur3-style finaliser spreads them
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** Slot of the key (≥ 0), or -1 - the free slot where it would go. */
  lookup(hi: number, lo: number): number {
    const t = this.slots;
    const mask = this.mask;
    const h = hi | 0, l = lo | 0;
    let i = AddrMap.hash(hi, lo) & mask;
    for (;;) {
      const k = i * 3;
      if (t[k + 2] === EMPTY) return -1 - i;
      if (t[k + 1] === l && t[k] === h) return i;
      i = (i + 1) & mask;
    }
  }

  /** Value in slot i (from lookup). */
  valueAt(i: number): number {
    return this.slots[i * 3 + 2]!;
  }

  /** Replaces the value in slot i (from lookup). */
  setAt(i: number, v: number): void {
    this.slots[i * 3 + 2] = v;
  }

  /** Inserts the key at free slot `free` (-1 - lookup's result); nothing else may change the map in between. */
  insertAt(free: number, hi: number, lo: number, v: number): void {
    if (this.used >= this.limit) { this.grow(); this.set(hi, lo, v); return; }
    const k = free * 3;
    const t = this.slots;
    t[k] = hi; t[k + 1] = lo; t[k + 2] = v;
    this.used++;
  }

  /** The value stored for the key, or `missing`. */
  get(hi: number, lo: number, missing = -1): number {
    const i = this.lookup(hi, lo);
    return i < 0 ? missing : this.slots[i * 3 + 2]!;
  }

  set(hi: number, lo: number, v: number): void {
    const i = this.lookup(hi, lo);
    if (i >= 0) this.slots[i * 3 + 2] = v;
    else this.insertAt(-1 - i, hi, lo, v);
  }

  /** Removes the key; returns its value or `missing`. */
  take(hi: number, lo: number, missing = -1): number {
    const i = this.lookup(hi, lo);
    if (i < 0) return missing;
    const v = this.slots[i * 3 + 2]!;
    this.removeAt(i);
    return v;
  }

  /** Empties slot i, moving later entries of its probe run back so lookups need no tombstones. */
  removeAt(i: number): void {
    const t = this.slots;
    const mask = this.mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const kj = j * 3;
      if (t[kj + 2] === EMPTY) break;
      const h = AddrMap.hash(t[kj]! >>> 0, t[kj + 1]! >>> 0) & mask;
      // the entry at j may move to the hole at i unless its home slot h lies cyclically in (i, j]
      if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
      const ki = i * 3;
      t[ki] = t[kj]!; t[ki + 1] = t[kj + 1]!; t[ki + 2] = t[kj + 2]!;
      i = j;
    }
    t[i * 3 + 2] = EMPTY;
    this.used--;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    const t = new Int32Array(cap * 3).fill(EMPTY);
    const mask = cap - 1;
    for (let k = 0; k < old.length; k += 3) {
      const v = old[k + 2]!;
      if (v === EMPTY) continue;
      const hi = old[k]!, lo = old[k + 1]!;
      let i = AddrMap.hash(hi >>> 0, lo >>> 0) & mask;
      while (t[i * 3 + 2] !== EMPTY) i = (i + 1) & mask;
      t[i * 3] = hi; t[i * 3 + 1] = lo; t[i * 3 + 2] = v;
    }
    this.slots = t;
    this.mask = mask;
    this.limit = (cap >>> 2) * 3;
  }
}

/**
 * A small cache from a text token (found by offsets, not sliced) to a number: gfp_flags strings and
 * cache names repeat on almost every line, so they are parsed once and then only compared in place.
 */
export class TokenCache {
  private readonly keys: (string | undefined)[];
  private readonly vals: Float64Array;
  private readonly mask: number;
  /** per call site: the slot of its last hit or put, tried first by getToken */
  private readonly recent = new Int32Array(4);
  /**
   * per slot: the first occurrence of its key at or after the last position getToken compared it
   * at (-1: not known). getToken is called at increasing positions, so an indexOf from there
   * never rescans text: V8's indexOf compares far faster than startsWith.
   */
  private readonly next: Float64Array;
  /** end of the token the last getToken read */
  end = 0;

  constructor(bits = 10) {
    this.keys = new Array<string | undefined>(1 << bits);
    this.vals = new Float64Array(1 << bits);
    this.next = new Float64Array(1 << bits).fill(-1);
    this.mask = (1 << bits) - 1;
  }

  /** Whether the key k of slot i starts at p (getToken's positions only: they never decrease). */
  private keyAt(s: string, p: number, i: number, k: string): boolean {
    let x = this.next[i]!;
    if (x < p) {
      x = s.indexOf(k, p);
      if (x < 0) x = Infinity;
      this.next[i] = x;
    }
    return x === p;
  }

  /**
   * get() of the token at p (it ends at a blank or at `end`), with `this.end` set to the token's
   * end; for one parse of one text, at positions that never decrease. The slot that call site
   * `site` (0..3) used last is tried first: a key is only ever stored in its own slot, so when that
   * slot holds exactly this token, get() would answer from it too, and a token that repeats at a
   * call site costs no end scan and no hash.
   */
  getToken(s: string, p: number, end: number, site: number): number {
    const r = this.recent[site]!;
    const k = this.keys[r];
    if (k !== undefined) {
      const z = p + k.length;
      // cheap checks first (the token ends where the key would, same first and last char), so
      // that keyAt's indexOf rarely has to look ahead for a key that is not here
      if ((z === end || (z < end && isBlank(s.charCodeAt(z)))) && z > p && s.charCodeAt(p) === k.charCodeAt(0) &&
        s.charCodeAt(z - 1) === k.charCodeAt(z - p - 1) && this.keyAt(s, p, r, k)) {
        this.end = z;
        return this.vals[r]!;
      }
    }
    const z = tokenEnd(s, p, end);
    this.end = z;
    const i = this.slot(s, p, z);
    const k2 = this.keys[i];
    if (k2 !== undefined && k2.length === z - p && this.keyAt(s, p, i, k2)) { this.recent[site] = i; return this.vals[i]!; }
    return NaN;
  }

  private slot(s: string, p: number, e: number): number {
    // the length and the first and last 8 chars pick the slot; get() compares the whole token
    let h = 0x811c9dc5 ^ (e - p);
    const m = e - p > 16 ? p + 8 : e;
    for (let i = p; i < m; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    for (let i = m > e - 8 ? m : e - 8; i < e; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return (h >>> 0) & this.mask;
  }

  /** Cached value of s[p, e), or NaN when not cached. */
  get(s: string, p: number, e: number): number {
    const i = this.slot(s, p, e);
    const k = this.keys[i];
    if (k !== undefined && k.length === e - p && s.startsWith(k, p)) return this.vals[i]!;
    return NaN;
  }

  /** Caches the value of s[p, e) (replacing whatever shared its slot). */
  put(s: string, p: number, e: number, v: number, site = -1): void {
    const i = this.slot(s, p, e);
    this.keys[i] = s.slice(p, e);
    this.vals[i] = v;
    this.next[i] = -1;
    if (site >= 0) this.recent[site] = i;
  }
}
