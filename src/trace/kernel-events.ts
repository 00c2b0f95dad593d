/**
 * Allocation-free scanning helpers for the text trace loaders (kernel.ts, rep.ts). Everything works
 * on (text, start, end) offsets into the whole file so the per-line loop makes no substrings and
 * no regex matches (kernel.ts looks words up in a Map off its fast path only: `is`, `startsWith`
 * for the event names knownEvent does not read, headers, marks). rep.ts reads a JS string;
 * kernel.ts reads the file's bytes (the *Bytes helpers, scanPtr, scanNum, TokenCache): a byte
 * from a Buffer costs about half a charCodeAt here, and the file needs no UTF-8 decode. Structure
 * is ASCII, and a UTF-8 byte of a multi-byte character is never ASCII, so byte offsets find the
 * same tokens as char offsets; text that leaves the parser (names, marks, error lines) is decoded
 * as UTF-8 from token boundaries.
 */

/** What the kernel loader reads: the file's bytes (a Buffer, for its memchr indexOf and utf8 decode). */
export type Bytes = Buffer;

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

/** skipBlanks on bytes. */
export function skipBlankBytes(s: Bytes, p: number, end: number): number {
  while (p < end && isBlank(s[p]!)) p++;
  return p;
}

/** tokenEnd on bytes. */
export function tokenEndBytes(s: Bytes, p: number, end: number): number {
  while (p < end && !isBlank(s[p]!)) p++;
  return p;
}

/** Whether the bytes of `word` (ASCII) start at p. */
export function bytesAt(s: Bytes, p: number, word: Uint8Array): boolean {
  const n = word.length;
  if (p < 0 || p + n > s.length) return false;
  for (let i = 0; i < n; i++) if (s[p + i] !== word[i]) return false;
  return true;
}

/** Whether s[p, e) is exactly `word` (ASCII). */
export function bytesIs(s: Bytes, p: number, e: number, word: Uint8Array): boolean {
  return e - p === word.length && bytesAt(s, p, word);
}

/**
 * Start of the value of `key` (given with its '=', e.g. 'buf=') in s[from, end), or -1. The key must
 * start a field (at `from` or after a blank), so 'page=' does not match inside 'fallback_page='.
 */
export function fieldValueBytes(s: Bytes, key: Uint8Array, from: number, end: number): number {
  for (let p = from; p < end; p++) {
    if ((p === from || isBlank(s[p - 1]!)) && bytesAt(s, p, key)) return p + key.length;
  }
  return -1;
}

/** parseDec on bytes. */
export function parseDecBytes(s: Bytes, p: number, e: number): number {
  if (p >= e) return NaN;
  let neg = false;
  if (s[p] === 45) { neg = true; p++; if (p >= e) return NaN; }
  let v = 0;
  for (; p < e; p++) {
    const d = s[p]! - 48;
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

/** hexDigit of every byte */
const HEX = Int8Array.from({ length: 256 }, (_, c) => hexDigit(c));

/**
 * Whether the token at p (it ends at a blank or at `end`) starts with a 0x / 0X prefix: the prefix
 * counts only in a token longer than 2 (a lone `0x` is not a number).
 */
function hexPrefix(s: Bytes, p: number, end: number): boolean {
  return s[p] === 48 && p + 2 < end && (s[p + 1]! | 32) === 120 && !isBlank(s[p + 2]!);
}

/** Result of the last scanPtr as [hi, lo] 32-bit halves (scratch, so the hot loop allocates nothing). */
export const PTR = new Uint32Array(2);

/** scanPtr results */
export const PTR_BAD = -1;
export const PTR_NULL = 0;
export const PTR_OK = 1;

/**
 * End of the token that the last scanPtr / scanNum read (scratch, like PTR). The scan* functions
 * find a value's end and parse it in one pass over its bytes.
 */
export let scanEnd = 0;

const NULL_PTR = Buffer.from('(null)');

/**
 * A pointer as %p prints it, the token at p (it ends at a blank or at `end`): hashed
 * (`00000000a1b2c3d4`), raw (`ffff888003c2a000`), with or without 0x, or NULL (`(null)`, `0x0`,
 * all zeros). Up to 64 bits, split into PTR[0]:PTR[1]; scanEnd is set to the token's end.
 */
export function scanPtr(s: Bytes, p: number, end: number): number {
  if (p >= end) { scanEnd = p; return PTR_BAD; }
  let c = s[p]!;
  if (c === 40) {
    // the token must be exactly "(null)"
    const z = tokenEndBytes(s, p, end);
    scanEnd = z;
    return bytesIs(s, p, z, NULL_PTR) ? PTR_NULL : PTR_BAD;
  }
  if (hexPrefix(s, p, end)) p += 2;
  const d0 = p;
  // int32 halves (PTR stores them mod 2^32): no conversion to a double in the loop
  let hi = 0, lo = 0;
  for (; p < end; p++) {
    c = s[p]!;
    const d = HEX[c]!;
    if (d < 0) {
      if (isBlank(c)) break;
      scanEnd = tokenEndBytes(s, p, end);
      return PTR_BAD;
    }
    hi = (hi << 4) | (lo >>> 28);
    lo = (lo << 4) | d;
  }
  scanEnd = p;
  if (p === d0 || p - d0 > 16) return PTR_BAD;
  PTR[0] = hi; PTR[1] = lo;
  return (hi | lo) === 0 ? PTR_NULL : PTR_OK;
}

/**
 * Unsigned integer of the token at p (it ends at a blank or at `end`): decimal, or hex with a 0x
 * prefix; NaN when malformed. scanEnd is set to the token's end.
 */
export function scanNum(s: Bytes, p: number, end: number): number {
  const p0 = p;
  let c: number;
  if (hexPrefix(s, p, end)) {
    let v = 0;
    for (p += 2; p < end; p++) {
      c = s[p]!;
      const d = HEX[c]!;
      if (d < 0) {
        if (isBlank(c)) break;
        scanEnd = tokenEndBytes(s, p, end);
        return NaN;
      }
      v = v * 16 + d;
    }
    scanEnd = p;
    return v;
  }
  let v = 0;
  for (; p < end; p++) {
    c = s[p]!;
    const d = c - 48;
    if (d < 0 || d > 9) {
      if (isBlank(c)) break;
      // not plain digits (a sign, a stray char): parseDec decides (a 0x token took the branch above)
      const z = tokenEndBytes(s, p, end);
      scanEnd = z;
      const x = parseDecBytes(s, p0, z);
      return x < 0 ? NaN : x;
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

/** Whether the n bytes at p equal the n bytes at a. */
function sameBytes(s: Bytes, p: number, a: number, n: number): boolean {
  let i = 0;
  while (i < n && s[p + i] === s[a + i]) i++;
  return i === n;
}

/** OR of the bytes of the token the last tokenScan read: below 128 when they are all ASCII (scratch, like scanEnd). */
let tokenOr = 0;

/** End of the token at p (it ends at a blank or at `end`), with tokenOr set to the OR of its bytes. */
function tokenScan(s: Bytes, p: number, end: number): number {
  let or = 0;
  for (; p < end; p++) { const c = s[p]!; if (isBlank(c)) break; or |= c; }
  tokenOr = or;
  return p;
}

/**
 * A small cache from a text token (found by offsets, not sliced) to a number: gfp_flags strings and
 * cache names repeat on almost every line, so they are parsed once and then only compared in place.
 * Direct-mapped on the token's text (a slot is picked by a hash of the decoded token, and holds
 * one key): whether a token hits depends only on the text, so the answers are those of a cache of
 * JS strings. Keys are compared as bytes against an earlier occurrence in the same file; tokens
 * with non-ASCII bytes (rare) are decoded, since invalid UTF-8 decodes to the same U+FFFD text
 * from different bytes.
 */
export class TokenCache {
  private readonly keys: (string | undefined)[];
  private readonly vals: Float64Array;
  /** per slot: where its key's bytes are in the file, their length, and whether they are all ASCII */
  private readonly keyAt: Int32Array;
  private readonly keyLen: Int32Array;
  private readonly keyAscii: Uint8Array;
  private readonly mask: number;
  /** per call site: the slot of its last hit or put, tried first by getToken */
  private readonly recent = new Int32Array(4);
  /** end of the token the last getToken read */
  end = 0;

  constructor(bits = 10) {
    this.keys = new Array<string | undefined>(1 << bits);
    this.vals = new Float64Array(1 << bits);
    this.keyAt = new Int32Array(1 << bits);
    this.keyLen = new Int32Array(1 << bits).fill(-1);
    this.keyAscii = new Uint8Array(1 << bits);
    this.mask = (1 << bits) - 1;
  }

  /**
   * Cached value of the token at p (it ends at a blank or at `end`), or NaN when not cached; sets
   * `this.end` to the token's end. The slot that call site `site` (0..3) used last is tried first:
   * a key is only ever stored in its own slot, so when that slot's bytes are exactly this token,
   * the slot lookup would answer from it too, and a token that repeats at a call site costs one
   * byte compare (no end scan, no hash).
   */
  getToken(s: Bytes, p: number, end: number, site: number): number {
    const r = this.recent[site]!;
    const n = this.keyLen[r]!;
    const z = p + n;
    if (n >= 0 && (z === end || (z < end && isBlank(s[z]!))) && sameBytes(s, p, this.keyAt[r]!, n)) {
      this.end = z;
      return this.vals[r]!;
    }
    const e = tokenScan(s, p, end);
    this.end = e;
    const ascii = tokenOr < 128;
    const k = this.slot(s, p, e, ascii);
    if (this.holds(k, s, p, e, ascii)) { this.recent[site] = k; return this.vals[k]!; }
    return NaN;
  }

  /** Whether slot k's key is the text s[p, e). */
  private holds(k: number, s: Bytes, p: number, e: number, ascii: boolean): boolean {
    const key = this.keys[k];
    if (key === undefined) return false;
    const n = e - p;
    if (this.keyLen[k] === n && sameBytes(s, p, this.keyAt[k]!, n)) return true;
    if (ascii && this.keyAscii[k] === 1) return false;
    return s.toString('utf8', p, e) === key;
  }

  /** Slot of the text s[p, e): a hash of its length and first and last 8 chars (UTF-16 units). */
  private slot(s: Bytes, p: number, e: number, ascii: boolean): number {
    let h: number;
    if (ascii) {
      h = 0x811c9dc5 ^ (e - p);
      const m = e - p > 16 ? p + 8 : e;
      for (let i = p; i < m; i++) h = Math.imul(h ^ s[i]!, 0x01000193);
      for (let i = m > e - 8 ? m : e - 8; i < e; i++) h = Math.imul(h ^ s[i]!, 0x01000193);
    } else {
      const t = s.toString('utf8', p, e);
      const n = t.length;
      h = 0x811c9dc5 ^ n;
      const m = n > 16 ? 8 : n;
      for (let i = 0; i < m; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
      for (let i = m > n - 8 ? m : n - 8; i < n; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
    }
    return (h >>> 0) & this.mask;
  }

  /** Caches the value of the token s[p, e) (e is its end, as getToken found it; replacing whatever shared its slot). */
  put(s: Bytes, p: number, e: number, v: number, site = -1): void {
    tokenScan(s, p, e);
    const ascii = tokenOr < 128;
    const k = this.slot(s, p, e, ascii);
    this.keys[k] = s.toString('utf8', p, e);
    this.keyAt[k] = p;
    this.keyLen[k] = e - p;
    this.keyAscii[k] = ascii ? 1 : 0;
    this.vals[k] = v;
    if (site >= 0) this.recent[site] = k;
  }
}
