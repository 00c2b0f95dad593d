/**
 * SLUB slab geometry and the kmalloc size index, as Linux 6.8+ computes them
 * (mm/slub.c calculate_alignment, calculate_sizes, calc_slab_order, calculate_order,
 * set_min_partial; mm/slab_common.c size_index[] and kmalloc_size_index()).
 * Pure integer functions: the slub model, slabinfo's idle geometry and the tests share them.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** slub_max_order default = PAGE_ALLOC_COSTLY_ORDER (mm/slub.c) */
export const SLUB_MAX_ORDER = 3;
/** MAX_OBJS_PER_PAGE (mm/slub.c): the 15-bit objects field of struct slab */
export const MAX_OBJS_PER_PAGE = 32767;
/** MAX_PAGE_ORDER (was MAX_ORDER before 6.8) */
export const MAX_PAGE_ORDER = 10;
/** MIN_PARTIAL / MAX_PARTIAL (mm/slub.c) */
export const MIN_PARTIAL = 5;
export const MAX_PARTIAL = 10;
/** cache_line_size() on x86-64 */
export const CACHE_LINE_SIZE = 64;
/** ARCH_SLAB_MINALIGN = __alignof__(unsigned long long) on x86-64; also sizeof(void *) */
export const WORD = 8;
/** KMALLOC_MAX_CACHE_SIZE = 1 << (PAGE_SHIFT + 1): larger kmallocs go to kmalloc_large() */
export const KMALLOC_MAX_CACHE_SIZE = 8192;
/** KMALLOC_SHIFT_LOW (3 with KMALLOC_MIN_SIZE 8) .. KMALLOC_SHIFT_HIGH (PAGE_SHIFT + 1) */
export const KMALLOC_SHIFT_LOW = 3;
export const KMALLOC_SHIFT_HIGH = 13;

/** fls(): 1-based index of the most significant set bit, 0 for 0. */
export function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}

/** ilog2() of a positive integer (floor). */
export function ilog2(x: number): number {
  return 31 - Math.clz32(x);
}

/** get_order(size): smallest order with PAGE_SIZE << order >= size (size >= 1). */
export function getOrder(size: number): number {
  if (size <= PAGE_SIZE) return 0;
  // fls(ceil(size / PAGE_SIZE) - 1), counted in floating point: size >> PAGE_SHIFT would overflow
  // 32 bits from 16 TiB, and Math.clz32 takes its argument modulo 2^32 (a 112 TiB malloc in a
  // corrupt .abt was order 0, one page, which the replay then write-faulted 2^35 pages of)
  const last = Math.ceil(size / PAGE_SIZE) - 1;
  return last >= 4294967296 ? 32 + fls(Math.floor(last / 4294967296)) : fls(last);
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** order_objects(): objects of `size` in a slab of `order` */
export function orderObjects(order: number, size: number): number {
  return Math.floor((PAGE_SIZE << order) / size);
}

/**
 * calculate_alignment() (mm/slab_common.c): SLAB_HWCACHE_ALIGN aligns to the cache line, halved
 * while the object fits in half of it (a 24-byte object gets 32, not 64); never below
 * ARCH_SLAB_MINALIGN; rounded up to a pointer.
 */
export function calculateAlignment(hwcacheAlign: boolean, align: number, size: number): number {
  let a = align;
  if (hwcacheAlign) {
    let ralign = CACHE_LINE_SIZE;
    while (size <= ralign / 2) ralign /= 2;
    a = Math.max(a, ralign);
  }
  a = Math.max(a, WORD);
  return alignUp(a, WORD);
}

/**
 * s->size from calculate_sizes() without debugging: ALIGN(object_size, sizeof(void *)), plus one
 * word when the free pointer must live outside the object (constructor or SLAB_TYPESAFE_BY_RCU:
 * `s->offset = size; size += sizeof(void *)`), then ALIGN(size, s->align). Otherwise the free
 * pointer sits inside the object (ALIGN_DOWN(object_size / 2, 8)) and costs nothing.
 */
export function slotSize(objectSize: number, align: number, freePointerOutside = false): number {
  let size = alignUp(Math.max(objectSize, 1), WORD);
  if (freePointerOutside) size += WORD;
  return alignUp(size, align);
}

/** min_objects = 4 * (fls(nr_cpus) + 1), where nr_cpus <= 1 means "trust nr_cpu_ids" (we take cpus). */
export function minObjectsFor(cpus: number): number {
  return 4 * (fls(Math.max(1, cpus)) + 1);
}

/** calc_slab_order(): first order in [minOrder, maxOrder] whose leftover is at most slab/fract. */
export function calcSlabOrder(size: number, minOrder: number, maxOrder: number, fract: number): number {
  let order = minOrder;
  for (; order <= maxOrder; order++) {
    const slabSize = PAGE_SIZE << order;
    if (slabSize % size <= Math.floor(slabSize / fract)) break;
  }
  return order;
}

/**
 * calculate_order() as rewritten in 6.8 ("mm/slub: attempt to find layouts up to 1/2 waste"):
 * one min_order from min_objects, then fractions 16, 8, 4, 2 over [min_order, slub_max_order],
 * else get_order(size). Returns -1 for sizes beyond MAX_PAGE_ORDER (the kernel's -ENOSYS).
 */
export function calculateOrder(size: number, cpus: number): number {
  let minObjects = minObjectsFor(cpus);
  const maxObjects = Math.max(orderObjects(SLUB_MAX_ORDER, size), 1);
  minObjects = Math.min(minObjects, maxObjects);
  const minOrder = getOrder(minObjects * size); // slub_min_order = 0
  if (orderObjects(minOrder, size) > MAX_OBJS_PER_PAGE) return getOrder(size * MAX_OBJS_PER_PAGE) - 1;
  for (let fraction = 16; fraction > 1; fraction >>= 1) {
    const order = calcSlabOrder(size, minOrder, SLUB_MAX_ORDER, fraction);
    if (order <= SLUB_MAX_ORDER) return order;
  }
  const order = getOrder(size);
  return order <= MAX_PAGE_ORDER ? order : -1;
}

/** set_min_partial(s, ilog2(s->size) / 2), clamped to [MIN_PARTIAL, MAX_PARTIAL]. */
export function minPartial(size: number): number {
  return Math.min(MAX_PARTIAL, Math.max(MIN_PARTIAL, ilog2(size) >> 1));
}

/**
 * s->cpu_partial_slabs: how many slabs a CPU's partial list holds before put_cpu_partial() moves
 * them to the node (set_cpu_partial() → slub_set_cpu_partial(), 5.16+; the same in 6.1 and 6.12
 * mm/slub.c): an object count by slot size, doubled and divided by the preferred slab's objects.
 */
export function cpuPartialSlabs(size: number, objects: number): number {
  const nrObjects = size >= PAGE_SIZE ? 6 : size >= 1024 ? 24 : size >= 256 ? 52 : 120;
  return objects > 0 ? Math.ceil((nrObjects * 2) / objects) : 0;
}

export interface SlabGeometry {
  /** s->size: bytes per slot */
  size: number;
  /** s->align */
  align: number;
  /** oo: order and objects of the preferred slab */
  order: number;
  objects: number;
  /** s->min: the fallback slab (get_order(size)) tried when the preferred order fails */
  minOrder: number;
  minObjects: number;
  minPartial: number;
  /** s->cpu_partial_slabs (CONFIG_SLUB_CPU_PARTIAL=y) */
  cpuPartialSlabs: number;
}

/** The whole geometry of a cache (kmem_cache_open → calculate_sizes → calculate_order). */
export function cacheGeometry(objectSize: number, align: number, hwcacheAlign: boolean, cpus: number, freePointerOutside = false): SlabGeometry {
  const a = calculateAlignment(hwcacheAlign, align, objectSize);
  const size = slotSize(objectSize, a, freePointerOutside);
  const order = calculateOrder(size, cpus);
  const minOrder = getOrder(size);
  return {
    size,
    align: a,
    order,
    objects: order < 0 ? 0 : orderObjects(order, size),
    minOrder,
    minObjects: orderObjects(minOrder, size),
    minPartial: minPartial(size),
    cpuPartialSlabs: cpuPartialSlabs(size, order < 0 ? 0 : orderObjects(order, size)),
  };
}

/**
 * size_index[] (mm/slab_common.c) for KMALLOC_MIN_SIZE = 8: kmalloc index of sizes 1..192 by
 * (size - 1) / 8. Index 1 is kmalloc-96, 2 is kmalloc-192, n >= 3 is kmalloc-(1 << n).
 */
const SIZE_INDEX = new Uint8Array([
  3, // 8
  4, // 16
  5, // 24
  5, // 32
  6, // 40
  6, // 48
  6, // 56
  6, // 64
  1, // 72
  1, // 80
  1, // 88
  1, // 96
  7, // 104
  7, // 112
  7, // 120
  7, // 128
  2, // 136
  2, // 144
  2, // 152
  2, // 160
  2, // 168
  2, // 176
  2, // 184
  2, // 192
]);

/**
 * kmalloc_slab() index for 1 <= size <= KMALLOC_MAX_CACHE_SIZE: size_index[size_index_elem(size)]
 * up to 192, fls(size - 1) above. Callers handle 0 (ZERO_SIZE_PTR) and large sizes.
 */
export function kmallocIndex(size: number): number {
  if (size <= 192) return SIZE_INDEX[(size - 1) >> 3]!;
  return fls(size - 1);
}

/** kmalloc_info[i].size */
export function kmallocSizeOfIndex(index: number): number {
  return index === 1 ? 96 : index === 2 ? 192 : 1 << index;
}

/** kmalloc_info[i].name suffix: 8, 16, ..., 512, 1k, 2k, 4k, 8k */
export function kmallocSuffix(index: number): string {
  const s = kmallocSizeOfIndex(index);
  return s >= 1024 ? `${s >> 10}k` : String(s);
}

/** The kmalloc indices in creation order: 1 (96), 2 (192), 3 (8) ... 13 (8k). */
export const KMALLOC_INDICES: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
