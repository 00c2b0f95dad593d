import type { Argv, CommandModule } from 'yargs';
import type { ZoneFreeState } from '../machine/machine.js';
import { formatBuddyinfo, formatExtfragIndex, formatPagetypeinfo, formatUnusableIndex, formatZoneinfo, machineZoneinfo, parseBuddyinfo, parsePagetypeinfo, type ZoneinfoZone } from '../metrics/procfs.js';
import { out } from './output.js';
import { inspectOneCell } from './inspect.js';
import { readText } from './read-text.js';
import { matrixOptions, type MatrixArgs } from './run.js';

function fraginfoText(zones: ZoneFreeState[], withPagetype: boolean, zoneinfo?: ZoneinfoZone[]): string {
  const parts = [
    '/proc/buddyinfo', formatBuddyinfo(zones),
    ...(withPagetype ? ['/proc/pagetypeinfo', formatPagetypeinfo(zones)] : []),
    '/sys/kernel/debug/extfrag/unusable_index', formatUnusableIndex(zones),
    '/sys/kernel/debug/extfrag/extfrag_index', formatExtfragIndex(zones),
    // the per-CPU lists' pages are in no file above (buddyinfo counts the buddy free lists only)
    ...(zoneinfo ? ['/proc/zoneinfo', formatZoneinfo(zoneinfo)] : []),
  ];
  // each file exactly as the kernel prints it (trailing spaces included), under a heading line
  return parts.map((p, i) => (i % 2 === 0 ? `== ${p} ==\n` : p)).join('');
}

interface FraginfoArgs extends MatrixArgs { buddyinfo?: string; pagetypeinfo?: string; zoneinfo?: boolean }

/** `allocbench fraginfo`: of a run's end state, or of real /proc files. */
export const fraginfoCommand: CommandModule<object, FraginfoArgs> = {
  builder: (y: Argv) => matrixOptions(y)
    .option('buddyinfo', { type: 'string', describe: 'a real /proc/buddyinfo to compute the indices from' })
    .option('pagetypeinfo', { type: 'string', describe: 'a real /proc/pagetypeinfo' })
    .option('zoneinfo', { type: 'boolean', describe: "also /proc/zoneinfo's lines of the run's end state: free pages, watermarks, each CPU's pageset (count, high, batch)" }) as unknown as Argv<FraginfoArgs>,
  handler: (a) => {
    if (a.buddyinfo || a.pagetypeinfo) {
      const file = (a.pagetypeinfo ?? a.buddyinfo)!;
      const text = readText(file);
      const zones = a.pagetypeinfo ? parsePagetypeinfo(text, file) : parseBuddyinfo(text, file);
      out(fraginfoText(zones, Boolean(a.pagetypeinfo)));
      return;
    }
    inspectOneCell(a, (m) => out(fraginfoText(m.freeState(), true, a.zoneinfo ? machineZoneinfo(m) : undefined)));
  },
};
