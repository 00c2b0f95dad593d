import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, GFP_KERNEL_ACCOUNT } from '../../machine/gfp.js';
import {
  CACHE_HWCACHE_ALIGN, CACHE_RECLAIMABLE, OP_CACHE_ALLOC, OP_CACHE_CREATE, OP_CACHE_FREE, OP_KFREE, OP_KMALLOC, OP_MARK,
  OP_PAGE_ALLOC, OP_PAGE_FREE,
} from '../ops.js';
import type { Trace } from '../trace.js';
import { builderFor, cumulative, type Generator, IdPool, num, resolveParams, Rng } from './generator.js';

/**
 * Named caches with their object sizes and flags as a Debian 12 (6.1) x86-64 /proc/slabinfo shows
 * them (test/fixtures/proc/slabinfo), and a relative share of the live slab objects.
 * Reclaimable ones are created with SLAB_RECLAIM_ACCOUNT in the kernel (fs/dcache.c dcache_init,
 * fs/inode.c inode_init, fs/ext4/super.c, fs/buffer.c buffer_init, lib/radix-tree.c).
 */
const CACHES: readonly { name: string; size: number; align: number; flags: number; weight: number }[] = [
  { name: 'dentry', size: 192, align: 0, flags: CACHE_RECLAIMABLE, weight: 30 },
  { name: 'inode_cache', size: 624, align: 0, flags: CACHE_RECLAIMABLE, weight: 4 },
  { name: 'ext4_inode_cache', size: 1128, align: 0, flags: CACHE_RECLAIMABLE, weight: 14 },
  { name: 'buffer_head', size: 104, align: 0, flags: CACHE_RECLAIMABLE, weight: 6 },
  { name: 'radix_tree_node', size: 584, align: 0, flags: CACHE_RECLAIMABLE, weight: 10 },
  { name: 'vm_area_struct', size: 192, align: 0, flags: 0, weight: 8 },
  { name: 'anon_vma', size: 104, align: 0, flags: 0, weight: 4 },
  { name: 'filp', size: 192, align: 0, flags: CACHE_HWCACHE_ALIGN, weight: 4 },
  { name: 'pid', size: 192, align: 0, flags: CACHE_HWCACHE_ALIGN, weight: 2 },
  { name: 'signal_cache', size: 1152, align: 0, flags: CACHE_HWCACHE_ALIGN, weight: 1 },
  { name: 'mm_struct', size: 1600, align: 0, flags: CACHE_HWCACHE_ALIGN, weight: 1 },
  { name: 'task_struct', size: 5888, align: 64, flags: 0, weight: 1 },
];

// Event classes of one step.
const C_CACHE = 0, C_KMALLOC = 1, C_PAGECACHE = 2, C_HIGHORDER = 3;

/** p(free) = ½·(live/target)³: a class grows to its target, then frees as often as it allocates. */
function freeProbability(live: number, target: number): number {
  const r = live / target;
  return Math.min(1, 0.5 * r * r * r);
}

/**
 * Slab object churn from named caches, kmallocs of assorted sizes, page-cache pages and occasional
 * high-order unmovable requests (order 2-4, as network/driver buffers take), with a phase mark
 * every `phase` events. Each class keeps a live pool around its own target.
 */
export const kernelMix: Generator = {
  name: 'kernel-mix',
  description:
    'kernel object churn: cache_create of 12 named caches (dentry, inode_cache, ext4_inode_cache, buffer_head, radix_tree_node reclaimable; vm_area_struct, task_struct, ... unmovable) with their 6.1 x86-64 sizes, ' +
    'cache_alloc/free, kmalloc/kfree (log-uniform 8 B..8 KiB, 2% above 8 KiB that go to pages), page-cache page_allocs (GFP_HIGHUSER_MOVABLE) and rare order 2-4 GFP_KERNEL requests, marks phase-N every `phase` events.\n' +
    'Each class holds a live pool near its target (free probability ½·(live/target)³), so the run ramps up then churns.',
  params: {
    events: { default: 1_000_000, doc: 'number of events' },
    objects: { default: 200_000, doc: 'target live slab objects (named caches)' },
    kmallocs: { default: 50_000, doc: 'target live kmalloc objects' },
    pagecache: { default: 100_000, doc: 'target live page-cache pages' },
    highorder: { default: 0.002, doc: 'share of steps that are order 2-4 unmovable page allocations (target live: 64)' },
    phase: { default: 100_000, doc: 'events between phase marks (0 = none)' },
  },
  generate(given, seed): Trace {
    const p = resolveParams(kernelMix, given);
    const events = num(kernelMix, p, 'events', 0, 2 ** 31 - 1, true);
    const objTarget = num(kernelMix, p, 'objects', 1, 2 ** 30, true);
    const kmTarget = num(kernelMix, p, 'kmallocs', 1, 2 ** 30, true);
    const pcTarget = num(kernelMix, p, 'pagecache', 1, 2 ** 30, true);
    const highorder = num(kernelMix, p, 'highorder', 0, 0.5);
    const phase = num(kernelMix, p, 'phase', 0, 2 ** 31 - 1, true);
    const rng = new Rng(seed);
    const b = builderFor(kernelMix, given, seed, events);

    const nc = CACHES.length;
    const cacheCum = cumulative(CACHES.map((c) => c.weight));
    const caches = new IdPool(1 << 14); // tag: cache index
    const kmallocs = new IdPool(1 << 12); // tag: 0
    const pages = new IdPool(1 << 12); // tag: order
    const high = new IdPool(64); // tag: order
    // Step mix: objects churn most, then kmalloc, then page cache; high-order requests are rare.
    const rest = 1 - highorder;
    const classCum = cumulative([0.55 * rest, 0.25 * rest, 0.2 * rest, highorder]);

    let nextMark = phase;
    let phaseNo = 0;
    const mark = (): void => { b.push(OP_MARK, 0, 0, b.intern(`phase-${phaseNo++}`)); };
    for (let i = 0; i < nc && b.length < events; i++) {
      const c = CACHES[i]!;
      b.push(OP_CACHE_CREATE, b.addCache({ name: c.name, size: c.size, align: c.align, flags: c.flags }), 0, 0);
    }
    if (phase > 0 && b.length < events) mark();
    while (b.length < events) {
      if (phase > 0 && b.length >= nextMark) {
        mark();
        nextMark += phase;
        continue;
      }
      const cls = rng.pick(classCum);
      if (cls === C_CACHE) {
        if (caches.size > 0 && rng.float() < freeProbability(caches.size, objTarget)) {
          const k = rng.int(caches.size);
          b.push(OP_CACHE_FREE, caches.ids[k]!, 0, caches.tags[k]!);
          caches.removeAt(k);
        } else {
          const c = rng.pick(cacheCum);
          const id = b.newId();
          b.push(OP_CACHE_ALLOC, id, 0, c);
          caches.push(id, c);
        }
      } else if (cls === C_KMALLOC) {
        if (kmallocs.size > 0 && rng.float() < freeProbability(kmallocs.size, kmTarget)) {
          const k = rng.int(kmallocs.size);
          b.push(OP_KFREE, kmallocs.ids[k]!, 0, 0);
          kmallocs.removeAt(k);
        } else {
          // log-uniform 8 B .. 8 KiB (small kmallocs dominate by count), 2% large (16-64 KiB)
          const bytes = rng.chance(0.02) ? rng.range(8193, 65536) : Math.floor(Math.exp(Math.log(8) + rng.float() * Math.log(1024)));
          const id = b.newId();
          b.push(OP_KMALLOC, id, bytes, rng.chance(0.3) ? GFP_KERNEL_ACCOUNT : GFP_KERNEL);
          kmallocs.push(id, 0);
        }
      } else {
        const pool = cls === C_PAGECACHE ? pages : high;
        const target = cls === C_PAGECACHE ? pcTarget : 64;
        if (pool.size > 0 && rng.float() < freeProbability(pool.size, target)) {
          const k = rng.int(pool.size);
          b.push(OP_PAGE_FREE, pool.ids[k]!, pool.tags[k]!, 0);
          pool.removeAt(k);
        } else {
          const order = cls === C_PAGECACHE ? 0 : rng.range(2, 4);
          const id = b.newId();
          b.push(OP_PAGE_ALLOC, id, order, cls === C_PAGECACHE ? GFP_HIGHUSER_MOVABLE : GFP_KERNEL);
          pool.push(id, order);
        }
      }
    }
    return b.finish();
  },
};
