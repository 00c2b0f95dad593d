/**
 * The real kernel's allocator state recorded beside a kernel trace (scripts/record-kernel-trace.sh):
 * `before/` and `after/` folders next to the trace file holding /proc/buddyinfo, pagetypeinfo,
 * slabinfo, zoneinfo and debugfs extfrag/unusable_index and extfrag/extfrag_index as the kernel
 * printed them. Reports show them beside the simulated figures.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Snapshot files read (in this order); anything else in the folders is left out. */
export const SNAPSHOT_FILES = ['buddyinfo', 'pagetypeinfo', 'unusable_index', 'extfrag_index', 'slabinfo', 'zoneinfo', 'vmstat', 'meminfo'] as const;

function readFolder(dir: string): Record<string, string> | null {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return null;
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  for (const f of SNAPSHOT_FILES) {
    if (!names.includes(f)) continue;
    try {
      out[f] = readFileSync(join(dir, f), 'utf8');
    } catch {
      // unreadable file: left out like a missing one
    }
  }
  return Object.keys(out).length > 0 ? out : null;
}

/**
 * The `before/` and `after/` snapshots next to `tracePath` (file name → text), or null when the
 * trace has neither folder. A recording with only one of them returns the other as `{}`.
 */
export function findSnapshots(tracePath: string): { before: Record<string, string>; after: Record<string, string> } | null {
  const dir = dirname(tracePath);
  const before = readFolder(join(dir, 'before'));
  const after = readFolder(join(dir, 'after'));
  if (before === null && after === null) return null;
  return { before: before ?? {}, after: after ?? {} };
}
