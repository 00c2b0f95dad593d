/**
 * A migratetype beyond the four the models use (CMA, Isolate): only real /proc/pagetypeinfo files
 * have them. Kept so that a parsed file re-formats byte for byte; the kernel counts their blocks in
 * zone->free_area[order].nr_free, so the indices count them too.
 */
export interface ExtraMigratetype {
  /** as migratetype_names[] prints it (mm/page_alloc.c): 'CMA', 'Isolate' */
  name: string;
  /** free blocks per order, length NR_ORDERS */
  freeArea: Float64Array;
  /** pageblocks of this type */
  pageblocks: number;
  /** "Number of mixed blocks" column (CONFIG_PAGE_OWNER only) */
  mixed?: number;
}

/**
 * Free blocks of one zone as the buddy allocator would hold them (zone->free_area and the
 * pageblock types): what the machine reports (Machine.freeState()), what a recorded
 * /proc/pagetypeinfo parses to (machine/start-state.ts), and the input of every fragmentation
 * metric (metrics/fragmentation.ts).
 */
export interface ZoneFreeState {
  /** NUMA node (0) */
  node: number;
  /** 'DMA' | 'DMA32' | 'Normal' | 'Movable' */
  zone: string;
  /** free blocks, index mt * NR_ORDERS + order (MIGRATE_TYPES types) */
  freeArea: Float64Array;
  /** pageblocks per migratetype, length MIGRATE_TYPES */
  pageblocks: Float64Array;
  /** types after HighAtomic in a real pagetypeinfo (CMA, Isolate); absent for simulated zones */
  extraTypes?: ExtraMigratetype[];
  /** "Number of mixed blocks" per migratetype (length MIGRATE_TYPES), only when a parsed file had the table */
  mixedPageblocks?: Float64Array;
  /** present pages; 0 means unpopulated, and the /proc and debugfs files skip the zone (walk_zones_in_node) */
  present?: number;
}
