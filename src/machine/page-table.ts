import { InvariantError } from '../errors.js';
import { GFP_KERNEL, __GFP_ACCOUNT, __GFP_ZERO } from './gfp.js';

/**
 * x86-64 4-level page tables of one process (PGD → PUD → PMD → PTE, 512 entries per 4 KiB table,
 * 48-bit virtual addresses; arch/x86/include/asm/pgtable_64_types.h).
 *
 * Every table is one real page taken from the machine's page allocator, as pte_alloc_one() /
 * pmd_alloc_one() / pud_alloc_one() / pgd_alloc() take them with GFP_PGTABLE_USER =
 * GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT (include/asm-generic/pgalloc.h): unmovable pages, so page
 * table memory shows up in fragmentation. The PGD exists for the life of the process (pgd_alloc at
 * fork/exec, pgd_free at exit); a lower table is allocated when the first entry of its 512-entry
 * range is populated and freed as soon as its last entry is cleared. (The kernel frees tables
 * lazily in free_pgtables() when the VMAs covering them go away; freeing on empty is the same
 * count at exit and the documented simplification in between.)
 *
 * Layout, with no JS object per entry or per table: a table is a "slot" (an index into typed
 * arrays: its level, key, pfn, count of used entries). Lower tables are found by key through an
 * open-addressing hash (linear probing, backward-shift deletion) of key → slot where
 *   key = level << 28 | (virtual page number >> 9·level)
 * so a PTE table (level 1) is keyed by the 2 MiB region it maps, a PMD (2) by its 1 GiB, a PUD (3)
 * by its 512 GiB. Only PTE tables hold entries (a 512-entry Int32Array range per slot); upper
 * tables only count their children, which is all the model needs of them.
 *
 * PTE entry encoding (Int32): 0 = not present, else (pfn + 1) << 2 | PTE_SHARED | PTE_WRITE.
 */
export const PTE_WRITE = 1;
/** the page belongs to a shared mapping (never copy-on-write) */
export const PTE_SHARED = 2;
export const PTRS_PER_TABLE = 512;
export const GFP_PGTABLE_USER = GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT;

export function pteEntry(pfn: number, flags: number): number {
  return ((pfn + 1) << 2) | flags;
}
export function ptePfn(entry: number): number {
  return (entry >>> 2) - 1;
}

/** Where table pages come from and go (the VM counts them: STEP_PT_PAGE, live/peak figures). */
export interface TablePages {
  /** one zeroed unmovable page, or -1 when out of memory */
  allocTable(): number;
  freeTable(pfn: number): void;
}

const LEVEL_SHIFT = 28;
const REGION = 2 ** 21; // bytes mapped by one PTE table
const EMPTY = -1;

export class PageTable {
  /** number of table pages held, PGD included */
  tables = 0;
  /** pfn of the PGD page (-1 after destroy) */
  pgd: number;
  /** number of present entries in the PGD (PUD tables) */
  private pgdCount = 0;

  // slots
  slotKey: Int32Array;
  slotPfn: Int32Array;
  /** used entries: present PTEs for a PTE table, child tables for upper levels */
  slotCount: Int32Array;
  /** PTE entries, 512 per slot (unused for upper-level slots) */
  pte: Int32Array;
  /** slots in use are 0..slotTop-1 minus the free stack */
  slotTop = 0;
  private freeSlots: Int32Array;
  private nFree = 0;

  // hash key → slot
  private hKey: Int32Array;
  private hVal: Int32Array;
  private hMask: number;
  private hUsed = 0;

  // last PTE table looked up (sequential touches hit it)
  private lastKey = -1;
  private lastSlot = -1;

  /** Allocates the PGD; check `pgd >= 0` (out of memory otherwise). */
  constructor(private readonly pages: TablePages, slots = 8) {
    this.slotKey = new Int32Array(slots).fill(EMPTY);
    this.slotPfn = new Int32Array(slots);
    this.slotCount = new Int32Array(slots);
    this.pte = new Int32Array(slots * PTRS_PER_TABLE);
    this.freeSlots = new Int32Array(slots);
    this.hKey = new Int32Array(16).fill(EMPTY);
    this.hVal = new Int32Array(16);
    this.hMask = 15;
    this.pgd = pages.allocTable();
    if (this.pgd >= 0) this.tables = 1;
  }

  /** The key of the PTE table mapping `addr`. */
  static regionOf(addr: number): number {
    return Math.floor(addr / REGION);
  }

  /** The slot of the PTE table for region `r` (addr / 2 MiB), or -1. */
  pteSlot(r: number): number {
    if (r === this.lastKey) return this.lastSlot;
    const key = (1 << LEVEL_SHIFT) | r;
    const s = this.lookup(key);
    if (s >= 0) { this.lastKey = r; this.lastSlot = s; }
    return s;
  }

  /** The PTE entry for `addr` (0 when not present). */
  entry(addr: number): number {
    const r = Math.floor(addr / REGION);
    const s = this.pteSlot(r);
    if (s < 0) return 0;
    return this.pte[s * PTRS_PER_TABLE + Math.floor((addr - r * REGION) / 4096)]!;
  }

  /**
   * The slot of the PTE table for region r, allocating the PTE table and any missing PMD/PUD on
   * the way down (__pte_alloc / __pmd_alloc / __pud_alloc). -1 when a table page cannot be had;
   * tables allocated on the way stay (empty upper tables are then freed by release()).
   */
  ensurePte(r: number): number {
    const s = this.pteSlot(r);
    if (s >= 0) return s;
    // upper levels: PUD key = r >> 18 (512 GiB), PMD key = r >> 9 (1 GiB)
    const pudKey = (3 << LEVEL_SHIFT) | Math.floor(r / 262144);
    let pud = this.lookup(pudKey);
    if (pud < 0) {
      pud = this.newTable(pudKey);
      if (pud < 0) return -1;
      this.pgdCount++;
    }
    const pmdKey = (2 << LEVEL_SHIFT) | Math.floor(r / 512);
    let pmd = this.lookup(pmdKey);
    if (pmd < 0) {
      pmd = this.newTable(pmdKey);
      if (pmd < 0) { this.releaseUpper(r); return -1; }
      this.slotCount[pud]!++;
    }
    const pt = this.newTable((1 << LEVEL_SHIFT) | r);
    if (pt < 0) { this.releaseUpper(r); return -1; }
    this.slotCount[pmd]!++;
    this.lastKey = r; this.lastSlot = pt;
    return pt;
  }

  /** Sets entry i of PTE slot s; frees the table (and emptied parents) when its last entry goes. */
  set(s: number, i: number, value: number): void {
    const k = s * PTRS_PER_TABLE + i;
    const old = this.pte[k]!;
    this.pte[k] = value;
    if (old === 0 && value !== 0) this.slotCount[s]!++;
    else if (old !== 0 && value === 0 && --this.slotCount[s]! === 0) this.freePteTable(s);
  }

  /** After a failed fault: frees PTE slot s if ensurePte() made it and nothing was mapped. */
  releaseIfEmpty(s: number): void {
    if (this.slotCount[s] === 0) this.freePteTable(s);
  }

  /** Frees an empty PTE table and any upper table it leaves empty. */
  private freePteTable(s: number): void {
    const r = this.slotKey[s]! & ((1 << LEVEL_SHIFT) - 1);
    this.dropTable(s);
    const pmd = this.lookup((2 << LEVEL_SHIFT) | Math.floor(r / 512));
    if (pmd >= 0 && --this.slotCount[pmd]! === 0) {
      this.dropTable(pmd);
      const pud = this.lookup((3 << LEVEL_SHIFT) | Math.floor(r / 262144));
      if (pud >= 0 && --this.slotCount[pud]! === 0) { this.dropTable(pud); this.pgdCount--; }
    }
  }

  /** After a failed allocation on the way down: free the PMD/PUD of region r if left empty. */
  private releaseUpper(r: number): void {
    const pmd = this.lookup((2 << LEVEL_SHIFT) | Math.floor(r / 512));
    const pudKey = (3 << LEVEL_SHIFT) | Math.floor(r / 262144);
    const pud = this.lookup(pudKey);
    if (pmd >= 0 && this.slotCount[pmd] === 0) {
      this.dropTable(pmd);
      if (pud >= 0) this.slotCount[pud]!--;
    }
    if (pud >= 0 && this.slotCount[pud] === 0) { this.dropTable(pud); this.pgdCount--; }
  }

  /** Frees every table (callers clear the entries first); the PGD last, as exit_mmap → pgd_free. */
  destroy(): void {
    for (let s = 0; s < this.slotTop; s++) {
      if (this.slotKey[s] !== EMPTY) this.dropTable(s);
    }
    this.pgdCount = 0;
    if (this.pgd >= 0) { this.pages.freeTable(this.pgd); this.pgd = -1; this.tables--; }
  }

  /** Whether slot s is a PTE table in use. */
  isPteSlot(s: number): boolean {
    const k = this.slotKey[s]!;
    return k !== EMPTY && k >>> LEVEL_SHIFT === 1;
  }

  /** Region (addr / 2 MiB) of PTE slot s. */
  regionOfSlot(s: number): number {
    return this.slotKey[s]! & ((1 << LEVEL_SHIFT) - 1);
  }

  /** Verifies the table counts against the entries; throws InvariantError. */
  check(): void {
    let live = 0;
    const children = new Map<number, number>();
    for (let s = 0; s < this.slotTop; s++) {
      const key = this.slotKey[s]!;
      if (key === EMPTY) continue;
      live++;
      if (this.lookup(key) !== s) throw new InvariantError(`page table: slot ${s} key ${key} not found by its hash`);
      const level = key >>> LEVEL_SHIFT;
      const idx = key & ((1 << LEVEL_SHIFT) - 1);
      if (level === 1) {
        let n = 0;
        for (let i = 0; i < PTRS_PER_TABLE; i++) if (this.pte[s * PTRS_PER_TABLE + i] !== 0) n++;
        if (n !== this.slotCount[s]) throw new InvariantError(`page table: PTE table ${idx} counts ${this.slotCount[s]} entries, holds ${n}`);
        if (n === 0) throw new InvariantError(`page table: empty PTE table ${idx} not freed`);
      }
      if (level < 3) {
        const parent = ((level + 1) << LEVEL_SHIFT) | Math.floor(idx / 512);
        children.set(parent, (children.get(parent) ?? 0) + 1);
        if (this.lookup(parent) < 0) throw new InvariantError(`page table: level-${level} table ${idx} has no parent`);
      } else {
        children.set(-2, (children.get(-2) ?? 0) + 1);
      }
    }
    for (let s = 0; s < this.slotTop; s++) {
      const key = this.slotKey[s]!;
      if (key === EMPTY || key >>> LEVEL_SHIFT === 1) continue;
      if ((children.get(key) ?? 0) !== this.slotCount[s]) throw new InvariantError(`page table: table key ${key} counts ${this.slotCount[s]} children, has ${children.get(key) ?? 0}`);
    }
    if ((children.get(-2) ?? 0) !== this.pgdCount) throw new InvariantError(`page table: PGD counts ${this.pgdCount} PUDs, has ${children.get(-2) ?? 0}`);
    if (live + (this.pgd >= 0 ? 1 : 0) !== this.tables) throw new InvariantError(`page table: ${this.tables} table pages counted, ${live} tables + PGD held`);
    if (live !== this.hUsed) throw new InvariantError(`page table: ${live} tables, ${this.hUsed} hash entries`);
  }

  // --- slots and the hash ---

  private newTable(key: number): number {
    const pfn = this.pages.allocTable();
    if (pfn < 0) return -1;
    let s: number;
    if (this.nFree > 0) s = this.freeSlots[--this.nFree]!;
    else {
      if (this.slotTop === this.slotKey.length) this.growSlots();
      s = this.slotTop++;
    }
    this.slotKey[s] = key;
    this.slotPfn[s] = pfn;
    this.slotCount[s] = 0;
    this.insert(key, s);
    this.tables++;
    return s;
  }

  private dropTable(s: number): void {
    const key = this.slotKey[s]!;
    this.pages.freeTable(this.slotPfn[s]!);
    this.remove(key);
    this.slotKey[s] = EMPTY;
    this.slotCount[s] = 0;
    this.freeSlots[this.nFree++] = s;
    this.tables--;
    if (key >>> LEVEL_SHIFT === 1 && this.lastSlot === s) { this.lastKey = -1; this.lastSlot = -1; }
  }

  private growSlots(): void {
    const n = this.slotKey.length * 2;
    const k = new Int32Array(n).fill(EMPTY); k.set(this.slotKey); this.slotKey = k;
    const p = new Int32Array(n); p.set(this.slotPfn); this.slotPfn = p;
    const c = new Int32Array(n); c.set(this.slotCount); this.slotCount = c;
    const e = new Int32Array(n * PTRS_PER_TABLE); e.set(this.pte); this.pte = e;
    const f = new Int32Array(n); f.set(this.freeSlots); this.freeSlots = f;
  }

  private hash(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 7) & this.hMask;
  }

  private lookup(key: number): number {
    const hk = this.hKey;
    let h = this.hash(key);
    for (;;) {
      const k = hk[h]!;
      if (k === key) return this.hVal[h]!;
      if (k === EMPTY) return -1;
      h = (h + 1) & this.hMask;
    }
  }

  private insert(key: number, slot: number): void {
    if ((this.hUsed + 1) * 2 > this.hMask + 1) this.rehash((this.hMask + 1) * 2);
    let h = this.hash(key);
    while (this.hKey[h] !== EMPTY) h = (h + 1) & this.hMask;
    this.hKey[h] = key;
    this.hVal[h] = slot;
    this.hUsed++;
  }

  /** Linear-probing deletion by backward shift (no tombstones). */
  private remove(key: number): void {
    const hk = this.hKey, hv = this.hVal, mask = this.hMask;
    let h = this.hash(key);
    while (hk[h] !== key) h = (h + 1) & mask;
    let j = h;
    for (;;) {
      j = (j + 1) & mask;
      const k = hk[j]!;
      if (k === EMPTY) break;
      const home = this.hash(k);
      // move k back into the hole at h unless its home lies cyclically in (h, j]
      const between = h <= j ? home > h && home <= j : home > h || home <= j;
      if (!between) { hk[h] = k; hv[h] = hv[j]!; h = j; }
    }
    hk[h] = EMPTY;
    this.hUsed--;
  }

  private rehash(size: number): void {
    const ok = this.hKey, ov = this.hVal;
    this.hKey = new Int32Array(size).fill(EMPTY);
    this.hVal = new Int32Array(size);
    this.hMask = size - 1;
    this.hUsed = 0;
    for (let h = 0; h < ok.length; h++) if (ok[h] !== EMPTY) this.insert(ok[h]!, ov[h]!);
  }
}
