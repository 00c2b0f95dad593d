/**
 * GFP flags as in Linux 6.1 include/linux/gfp_types.h (the Debian 12 kernel). Only the zone and
 * mobility bits (the low five) change what the models do; the rest are kept so that recorded
 * symbolic and hex gfp_flags round-trip.
 */
export const __GFP_DMA = 0x01;
export const __GFP_HIGHMEM = 0x02;
export const __GFP_DMA32 = 0x04;
export const __GFP_MOVABLE = 0x08;
export const __GFP_RECLAIMABLE = 0x10;
export const __GFP_HIGH = 0x20;
export const __GFP_IO = 0x40;
export const __GFP_FS = 0x80;
export const __GFP_ZERO = 0x100;
export const __GFP_ATOMIC = 0x200;
export const __GFP_DIRECT_RECLAIM = 0x400;
export const __GFP_KSWAPD_RECLAIM = 0x800;
export const __GFP_WRITE = 0x1000;
export const __GFP_NOWARN = 0x2000;
export const __GFP_RETRY_MAYFAIL = 0x4000;
export const __GFP_NOFAIL = 0x8000;
export const __GFP_NORETRY = 0x10000;
export const __GFP_MEMALLOC = 0x20000;
export const __GFP_COMP = 0x40000;
export const __GFP_NOMEMALLOC = 0x80000;
export const __GFP_HARDWALL = 0x100000;
export const __GFP_THISNODE = 0x200000;
export const __GFP_ACCOUNT = 0x400000;
export const __GFP_ZEROTAGS = 0x800000;
export const __GFP_SKIP_ZERO = 0x1000000;
export const __GFP_SKIP_KASAN_UNPOISON = 0x2000000;
export const __GFP_SKIP_KASAN_POISON = 0x4000000;
export const __GFP_NOLOCKDEP = 0x8000000;

export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
export const GFP_ATOMIC = __GFP_HIGH | __GFP_ATOMIC | __GFP_KSWAPD_RECLAIM;
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
export const GFP_NOIO = __GFP_RECLAIM;
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
export const GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
export const GFP_DMA = __GFP_DMA;
export const GFP_DMA32 = __GFP_DMA32;
export const GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
export const GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE | __GFP_SKIP_KASAN_POISON | __GFP_SKIP_KASAN_UNPOISON;
export const GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM;
export const GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;

/** Names as the kernel's show_gfp_flags() prints them (include/trace/events/mmflags.h), composites first. */
export const GFP_NAMES: ReadonlyArray<readonly [string, number]> = [
  ['GFP_TRANSHUGE', GFP_TRANSHUGE],
  ['GFP_TRANSHUGE_LIGHT', GFP_TRANSHUGE_LIGHT],
  ['GFP_HIGHUSER_MOVABLE', GFP_HIGHUSER_MOVABLE],
  ['GFP_HIGHUSER', GFP_HIGHUSER],
  ['GFP_USER', GFP_USER],
  ['GFP_KERNEL_ACCOUNT', GFP_KERNEL_ACCOUNT],
  ['GFP_KERNEL', GFP_KERNEL],
  ['GFP_NOFS', GFP_NOFS],
  ['GFP_ATOMIC', GFP_ATOMIC],
  ['GFP_NOIO', GFP_NOIO],
  ['GFP_NOWAIT', GFP_NOWAIT],
  ['GFP_DMA', GFP_DMA],
  ['GFP_DMA32', GFP_DMA32],
  ['__GFP_HIGH', __GFP_HIGH],
  ['__GFP_ATOMIC', __GFP_ATOMIC],
  ['__GFP_IO', __GFP_IO],
  ['__GFP_FS', __GFP_FS],
  ['__GFP_NOWARN', __GFP_NOWARN],
  ['__GFP_RETRY_MAYFAIL', __GFP_RETRY_MAYFAIL],
  ['__GFP_NOFAIL', __GFP_NOFAIL],
  ['__GFP_NORETRY', __GFP_NORETRY],
  ['__GFP_COMP', __GFP_COMP],
  ['__GFP_ZERO', __GFP_ZERO],
  ['__GFP_NOMEMALLOC', __GFP_NOMEMALLOC],
  ['__GFP_MEMALLOC', __GFP_MEMALLOC],
  ['__GFP_HARDWALL', __GFP_HARDWALL],
  ['__GFP_THISNODE', __GFP_THISNODE],
  ['__GFP_RECLAIMABLE', __GFP_RECLAIMABLE],
  ['__GFP_MOVABLE', __GFP_MOVABLE],
  ['__GFP_ACCOUNT', __GFP_ACCOUNT],
  ['__GFP_WRITE', __GFP_WRITE],
  ['__GFP_RECLAIM', __GFP_RECLAIM],
  ['__GFP_DIRECT_RECLAIM', __GFP_DIRECT_RECLAIM],
  ['__GFP_KSWAPD_RECLAIM', __GFP_KSWAPD_RECLAIM],
  ['__GFP_ZEROTAGS', __GFP_ZEROTAGS],
  ['__GFP_SKIP_ZERO', __GFP_SKIP_ZERO],
  ['__GFP_SKIP_KASAN_UNPOISON', __GFP_SKIP_KASAN_UNPOISON],
  ['__GFP_SKIP_KASAN_POISON', __GFP_SKIP_KASAN_POISON],
  ['__GFP_NOLOCKDEP', __GFP_NOLOCKDEP],
  ['__GFP_DMA', __GFP_DMA],
  ['__GFP_HIGHMEM', __GFP_HIGHMEM],
  ['__GFP_DMA32', __GFP_DMA32],
];
const GFP_BY_NAME = new Map(GFP_NAMES);
GFP_BY_NAME.set('GFP_NOWAIT', GFP_NOWAIT);

/**
 * Parses gfp_flags as trace events print them: symbolic (`GFP_KERNEL|__GFP_ZERO`), hex (`0x400dc0`),
 * `0` / `none`. Returns -1 for an unknown name so the caller can report the line.
 */
export function parseGfp(text: string): number {
  const s = text.trim();
  if (s === '' || s === '0' || s === 'none' || s === '0x0') return 0;
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16) | 0;
  let gfp = 0;
  for (const part of s.split('|')) {
    if (/^0x[0-9a-f]+$/i.test(part)) { gfp |= parseInt(part, 16); continue; }
    const v = GFP_BY_NAME.get(part);
    if (v === undefined) return -1;
    gfp |= v;
  }
  return gfp | 0;
}

/**
 * parseGfp() that never refuses: flags newer than this table knows (renamed across 6.x) are dropped,
 * each counted through `onUnknown`; a single flag printed without its underscores (kernels before
 * 4.10: GFP_NOWARN) is read as __GFP_NOWARN.
 */
export function parseGfpLenient(text: string, onUnknown: () => void = () => {}): number {
  const g = parseGfp(text);
  if (g !== -1) return g;
  let out = 0;
  for (const part of text.split('|')) {
    let x = parseGfp(part);
    if (x === -1 && part.startsWith('GFP_')) x = parseGfp(`__${part}`);
    if (x === -1) onUnknown();
    else out |= x;
  }
  return out;
}

/** Migratetypes (include/linux/mmzone.h). MIGRATE_PCPTYPES = 3 types have per-order free lists with fallbacks. */
export const MIGRATE_UNMOVABLE = 0;
export const MIGRATE_MOVABLE = 1;
export const MIGRATE_RECLAIMABLE = 2;
export const MIGRATE_HIGHATOMIC = 3;
export const MIGRATE_TYPES = 4;
export const MIGRATE_NAMES = ['Unmovable', 'Movable', 'Reclaimable', 'HighAtomic'] as const;

/** gfp_migratetype(): (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT, include/linux/gfp.h. */
export function gfpMigratetype(gfp: number): number {
  return (gfp & (__GFP_RECLAIMABLE | __GFP_MOVABLE)) >> 3;
}

/** Zone indices (x86-64, no HIGHMEM). */
export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_MOVABLE = 3;
export const ZONE_NAMES = ['DMA', 'DMA32', 'Normal', 'Movable'] as const;

/**
 * gfp_zone() on x86-64 (GFP_ZONE_TABLE in include/linux/gfp.h): the highest zone a request may use.
 * __GFP_MOVABLE alone stays in Normal; only __GFP_MOVABLE|__GFP_HIGHMEM reaches ZONE_MOVABLE.
 */
export function gfpZone(gfp: number): number {
  if (gfp & __GFP_DMA) return ZONE_DMA;
  if (gfp & __GFP_DMA32) return ZONE_DMA32;
  if ((gfp & (__GFP_MOVABLE | __GFP_HIGHMEM)) === (__GFP_MOVABLE | __GFP_HIGHMEM)) return ZONE_MOVABLE;
  return ZONE_NORMAL;
}
