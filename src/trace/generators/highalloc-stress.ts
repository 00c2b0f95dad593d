import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_COMP, __GFP_RECLAIMABLE } from '../../machine/gfp.js';
import { PAGEBLOCK_ORDER } from '../../page/strategy.js';
import { OP_MARK, OP_PAGE_ALLOC, OP_PAGE_FREE } from '../ops.js';
import type { Trace } from '../trace.js';
import { builderFor, cumulative, type Generator, IdPool, num, PAGE_BYTES, resolveParams, Rng } from './generator.js';

// Classes of the load, by mobility.
const UNMOVABLE = 0, RECLAIMABLE = 1, MOVABLE = 2;

/**
 * Slab page orders of the two kernel classes, from the pagesperslab column of a 6.1 x86-64
 * /proc/slabinfo (test/fixtures/proc/slabinfo). Unmovable: page tables and small kmalloc /
 * vm_area_struct slabs are order 0, kmalloc-512 order 1, kmalloc-1k order 2, task_struct,
 * signal_cache, mm_struct and kmalloc-2k..8k order 3. Reclaimable: dentry and buffer_head order 0,
 * inode_cache and radix_tree_node order 1, ext4_inode_cache order 2.
 */
const UNMOVABLE_ORDERS = cumulative([60, 10, 15, 15]);
const RECLAIMABLE_ORDERS = cumulative([50, 20, 30]);

/**
 * Share of the load's steps per class: page cache and anonymous memory turn over much faster than
 * slab pages (a slab page is freed only when all its objects are), so movable events dominate.
 */
const CLASS_WEIGHTS = cumulative([0.04, 0.11, 0.85]);

/**
 * Mel Gorman's high-order allocation stress test, the experiment behind grouping pages by mobility
 * (Gorman & Whitcroft, "The What, The Why and The Where To of Anti-Fragmentation", OLS 2006; LWN,
 * "Avoiding - and fixing - memory fragmentation", 2006): run a workload that fills memory with a mix
 * of unmovable kernel allocations, reclaimable caches and movable user/page-cache pages, try to
 * allocate huge pages while it runs, stop it, drop the caches, and try again "at rest".
 *
 * Load: one clock t in [0, 1] advances with the pages allocated (the run allocates
 * (1 + churn) × fill × mem pages in all). Every step picks a class by CLASS_WEIGHTS; a class under
 * its target allocates, one at or over it frees a random live block of its own. Targets:
 *   unmovable   = unmovable·mem × (0.3 + 0.7 t)   boot-time kernel memory, then growth through the run
 *   reclaimable = reclaimable·mem × min(1, 2t)    dcache/icache grow while files are first touched
 *   movable     = fill·mem × min(1, 4t) − the two  page cache/anon fill the rest and give way
 * so after the ramp, kernel memory keeps growing into the holes that movable frees leave, the
 * interleaving that mixes pageblocks when allocations are not grouped by mobility. Movable pages
 * come in groups of mean `group` pages (a file's readahead window, a process's anonymous memory):
 * allocated one after another, freed together when a random live group is evicted. group = 1 is
 * independent pages. (Measured on a 4 GiB zone, seed 1: plain buddy at rest 7.5% with group = 1,
 * 8.3% with 16 or 64; buddy-mobility 88.0% for all three: grouping of movable lifetimes matters
 * little next to the unmovable pages spread through the run.)
 *
 * Then, as the test does: mark `under_load` and `attempts` order-9 requests (GFP_HIGHUSER_MOVABLE |
 * __GFP_COMP, as hugetlbfs asks for a huge page) with the load's memory still held; the test module
 * then gives back what it got (vmregress' bench_highalloc frees its pages after each pass, so the
 * at-rest pass measures the allocator and not what the first pass kept). Mark `reclaim` and free
 * every movable and reclaimable block (the compile jobs exit and `echo 3 > drop_caches` drops page
 * cache, dentries and inodes); only unmovable memory stays. Mark `at_rest` and `attempts` order-9
 * requests again; those stay allocated to the end. The replay reports each phase's order-9 success
 * fraction. There is no reclaim or compaction in the model, so under load only free memory counts.
 */
export const highallocStress: Generator = {
  name: 'highalloc-stress',
  description:
    "Gorman's high-order allocation stress test (OLS 2006, LWN 2006): interleaved unmovable (GFP_KERNEL, orders 0-3, ~unmovable of mem), reclaimable (GFP_KERNEL|__GFP_RECLAIMABLE, orders 0-2) and churning movable (GFP_HIGHUSER_MOVABLE) pages fill mem to `fill`; " +
    'then marks under_load + `attempts` order-9 GFP_HIGHUSER_MOVABLE|__GFP_COMP requests (freed again), reclaim (all movable and reclaimable freed), at_rest + `attempts` order-9 requests.\n' +
    'The replay reports the order-9 success fraction of the under_load and at_rest phases; grouping by mobility should roughly double the at-rest figure (kernel: 30% -> 73%).',
  params: {
    mem: { default: 4 * 1024 ** 3, doc: 'memory to fill (bytes; K/M/G suffixes): the machine size' },
    fill: { default: 0.9, doc: 'fraction of mem occupied at the end of the ramp' },
    unmovable: { default: 0.12, doc: 'fraction of mem held by unmovable allocations at the end of the load' },
    reclaimable: { default: 0.1, doc: 'fraction of mem held by reclaimable allocations' },
    churn: { default: 1, doc: 'pages allocated after the fill, as a multiple of the filled pages' },
    group: { default: 1, doc: 'mean pages of a movable group (uniform in 1..2·group-1): allocated one after another, freed together' },
    attempts: { default: 0, doc: 'order-9 requests per phase (0 = one per pageblock of mem)' },
  },
  generate(given, seed): Trace {
    const p = resolveParams(highallocStress, given);
    const mem = num(highallocStress, p, 'mem', 2 * 1024 * 1024, 2 ** 44);
    const fill = num(highallocStress, p, 'fill', 0, 1);
    const uFrac = num(highallocStress, p, 'unmovable', 0, fill);
    const rFrac = num(highallocStress, p, 'reclaimable', 0, fill - uFrac);
    const churn = num(highallocStress, p, 'churn', 0, 100);
    const group = num(highallocStress, p, 'group', 1, 1 << 20, true);
    const pages = Math.floor(mem / PAGE_BYTES);
    const attempts = num(highallocStress, p, 'attempts', 0, 1 << 24, true) || pages >> PAGEBLOCK_ORDER;

    const filled = pages * fill;
    const uEnd = pages * uFrac;
    const rEnd = pages * rFrac;
    const budget = filled * (1 + churn);
    const rng = new Rng(seed);
    const b = builderFor(highallocStress, given, seed, Math.ceil(budget * 2.2 + 2 * attempts + filled) + 16);
    const pools = [new IdPool(1 << 14), new IdPool(1 << 14)] as const;
    const live = new Float64Array(3); // live pages per class
    const gfpOf = [GFP_KERNEL, GFP_KERNEL | __GFP_RECLAIMABLE, GFP_HIGHUSER_MOVABLE] as const;

    // Movable memory comes in groups (a file's readahead window, a process's anonymous region):
    // allocated page by page while the group is open, freed as a whole when it is evicted or its
    // process exits. Pages of a group are linked through slots: slotId[s] is the page's id,
    // slotNext[s] the next slot of the same group (-1 at the end).
    let slotId = new Int32Array(1 << 16);
    let slotNext = new Int32Array(1 << 16);
    let slots = 0;
    const groups = new IdPool(1 << 12); // closed live groups: id = first slot, tag = pages
    let openHead = -1, openTail = -1, openLeft = 0, openPages = 0; // the group being allocated
    let freeing = -1; // next slot of the group being freed
    const maxGroup = Math.max(1, 2 * group - 1);

    b.push(OP_MARK, 0, 0, b.intern('load'));
    let allocated = 0;
    while (allocated < budget) {
      const t = allocated / budget;
      const cls = rng.pick(CLASS_WEIGHTS);
      const uT = uEnd * (0.3 + 0.7 * t);
      const rT = rEnd * Math.min(1, 2 * t);
      const target = cls === UNMOVABLE ? uT : cls === RECLAIMABLE ? rT : filled * Math.min(1, 4 * t) - uT - rT;
      if (cls === MOVABLE) {
        if (live[MOVABLE]! < target || (groups.size === 0 && freeing < 0)) {
          if (target <= 0) continue; // nothing to do yet
          if (openLeft === 0) { openHead = -1; openPages = 0; openLeft = rng.range(1, maxGroup); }
          const id = b.newId();
          b.push(OP_PAGE_ALLOC, id, 0, GFP_HIGHUSER_MOVABLE);
          if (slots === slotId.length) {
            const a = new Int32Array(slots * 2); a.set(slotId); slotId = a;
            const n = new Int32Array(slots * 2); n.set(slotNext); slotNext = n;
          }
          slotId[slots] = id; slotNext[slots] = -1;
          if (openHead < 0) openHead = slots; else slotNext[openTail] = slots;
          openTail = slots++;
          openPages++;
          if (--openLeft === 0) groups.push(openHead, openPages);
          live[MOVABLE]!++;
          allocated++;
        } else {
          if (freeing < 0) {
            const k = rng.int(groups.size);
            freeing = groups.ids[k]!;
            groups.removeAt(k);
          }
          b.push(OP_PAGE_FREE, slotId[freeing]!, 0, 0);
          freeing = slotNext[freeing]!;
          live[MOVABLE]!--;
        }
        continue;
      }
      const pool = pools[cls]!;
      if (live[cls]! < target || pool.size === 0) {
        if (target <= 0) continue;
        const order = cls === UNMOVABLE ? rng.pick(UNMOVABLE_ORDERS) : rng.pick(RECLAIMABLE_ORDERS);
        const id = b.newId();
        b.push(OP_PAGE_ALLOC, id, order, gfpOf[cls]!);
        pool.push(id, order);
        live[cls]! += 1 << order;
        allocated += 1 << order;
      } else {
        const k = rng.int(pool.size);
        const order = pool.tags[k]!;
        b.push(OP_PAGE_FREE, pool.ids[k]!, order, 0);
        live[cls]! -= 1 << order;
        pool.removeAt(k);
      }
    }

    const hugeGfp = GFP_HIGHUSER_MOVABLE | __GFP_COMP;
    b.push(OP_MARK, 0, 0, b.intern('under_load'));
    const first = b.idCount;
    for (let a = 0; a < attempts; a++) b.push(OP_PAGE_ALLOC, b.newId(), PAGEBLOCK_ORDER, hugeGfp);
    // the test gives back what it got (a free of a failed request is a no-op in the replay)
    for (let a = 0; a < attempts; a++) b.push(OP_PAGE_FREE, first + a, PAGEBLOCK_ORDER, 0);

    b.push(OP_MARK, 0, 0, b.intern('reclaim'));
    // every movable page: the rest of the group being freed, the closed groups, the open group
    for (let sl = freeing; sl >= 0; sl = slotNext[sl]!) b.push(OP_PAGE_FREE, slotId[sl]!, 0, 0);
    for (let k = 0; k < groups.size; k++) {
      for (let sl = groups.ids[k]!; sl >= 0; sl = slotNext[sl]!) b.push(OP_PAGE_FREE, slotId[sl]!, 0, 0);
    }
    if (openLeft > 0) for (let sl = openHead; sl >= 0; sl = slotNext[sl]!) b.push(OP_PAGE_FREE, slotId[sl]!, 0, 0);
    const recl = pools[RECLAIMABLE];
    for (let k = 0; k < recl.size; k++) b.push(OP_PAGE_FREE, recl.ids[k]!, recl.tags[k]!, 0);

    b.push(OP_MARK, 0, 0, b.intern('at_rest'));
    for (let a = 0; a < attempts; a++) b.push(OP_PAGE_ALLOC, b.newId(), PAGEBLOCK_ORDER, hugeGfp);
    return b.finish();
  },
};
