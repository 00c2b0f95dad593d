import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllocbenchError } from '../errors.js';

/** One firmware memory-map entry (e820 / multiboot style), byte addresses, end exclusive. */
export interface MemRange {
  start: number;
  end: number;
  type: 'usable' | 'reserved' | 'acpi' | 'nvs' | 'unusable';
}

/** A simulated machine: its firmware map and the knobs the kernel reads at boot. */
export interface MachineConfig {
  name: string;
  description?: string;
  cpus: number;
  map: MemRange[];
  /** kernelcore= in bytes: memory NOT movable; the rest of the highest zone becomes ZONE_MOVABLE */
  kernelcore?: number;
  /** movablecore= in bytes: memory carved into ZONE_MOVABLE from the top */
  movablecore?: number;
  /** transparent huge pages enabled (always/madvise, Debian's default): raises min_free_kbytes */
  thp?: boolean;
  /** vm.min_free_kbytes as a recorded machine had it (machine.json "min_free_kbytes"); unset: computed at boot */
  minFreeKbytes?: number;
  /**
   * The kernel the machine runs (machine.json "kernel_version", "6.1", "6.12"): page strategies with
   * kernel rule sets follow it unless their spec names one (page/kernel-version.ts); unset, or a
   * version without a rule set (5.15): the newest (results say which: metrics.page_rules)
   */
  kernel?: string;
  /**
   * memblock reservations besides the ones the simulated boot makes (machine.ts), byte ranges: a
   * recorded machine's early allocations the simulation does not model (recorded-machine.ts)
   */
  reserve?: { start: number; end: number; label: string }[];
  /** only `reserve` (and the low 1 MiB) are reserved: the recorded reservations replace the modelled image and memmap */
  reserveOnly?: boolean;
}

const TYPES = new Set(['usable', 'reserved', 'acpi', 'nvs', 'unusable']);
export const PRESET_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../machines');

/** Parses "4G", "256M", "64k", "0x1000", "4096" (bytes; binary units). */
export function parseSize(text: string): number {
  const m = /^\s*(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*([kmgt])?i?b?\s*$/i.exec(text);
  if (!m) throw new AllocbenchError(`bad size "${text}": expected a number with an optional K/M/G/T suffix, e.g. 4G`);
  const n = m[1]!.startsWith('0x') ? parseInt(m[1]!, 16) : Number(m[1]);
  const mult = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m[2] ?? '').toLowerCase() as 'k'] ?? 1;
  return Math.round(n * mult);
}

/** A flat map for --mem SIZE: the legacy low 1 MiB layout, then one usable range. */
export function flatMachine(bytes: number, cpus = 2): MachineConfig {
  if (bytes < 32 * 2 ** 20) throw new AllocbenchError(`--mem ${bytes} is too small: the simulated kernel needs at least 32M`);
  checkEnd(bytes, `mem=${formatBytes(bytes)}`);
  return {
    name: `mem${formatBytes(bytes)}`,
    description: `flat map of ${formatBytes(bytes)}`,
    cpus,
    map: [
      { start: 0, end: 0x9f000, type: 'usable' },
      { start: 0x9f000, end: 0x100000, type: 'reserved' },
      { start: 0x100000, end: bytes, type: 'usable' },
    ],
  };
}

export function formatBytes(b: number): string {
  for (const [u, s] of [[2 ** 40, 'T'], [2 ** 30, 'G'], [2 ** 20, 'M'], [2 ** 10, 'K']] as const) {
    if (b >= u && b % u === 0) return `${b / u}${s}`;
  }
  return `${b}`;
}

/**
 * The largest machine: pfns are int32 everywhere (typed arrays, trace columns) and a per-page state
 * costs a few bytes (resources.ts BYTES_PER_PAGE), so the map must end below 4 TiB (2^30 pfns).
 * Whether a machine that size fits this host is the runner's memory check.
 */
export const MAX_MACHINE_BYTES = 2 ** 42;
/** CONFIG_NR_CPUS can be at most 8192 on x86-64 (arch/x86/Kconfig, MAXSMP). */
export const MAX_CPUS = 8192;

function checkCpus(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_CPUS) {
    throw new AllocbenchError(`${where}: cpus ${JSON.stringify(v)}: expected an integer from 1 to ${MAX_CPUS}`);
  }
  return v;
}

function checkEnd(end: number, where: string): void {
  if (end > MAX_MACHINE_BYTES) throw new AllocbenchError(`${where}: memory ends at ${formatBytes(end)}, above the largest machine allocbench models (4T)`);
}

/**
 * A machine file: validated here, once, so the boot code can trust it. e820 entries must be
 * [start, size, type] with non-negative integers, in address order and not overlapping (a
 * firmware map that gave the same memory twice would be handed to the allocator twice).
 */
function parseE820(json: unknown, file: string): MachineConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new AllocbenchError(`${file}: expected a JSON object with an "e820" array`);
  const d = json as { name?: unknown; description?: unknown; cpus?: unknown; e820?: unknown; kernelcore?: unknown; movablecore?: unknown };
  if (!Array.isArray(d.e820) || d.e820.length === 0) throw new AllocbenchError(`${file}: expected a non-empty "e820" array of [start, size, type]`);
  const map: MemRange[] = d.e820.map((e: unknown, i: number) => {
    if (!Array.isArray(e) || e.length !== 3 || !TYPES.has(e[2] as string)) {
      throw new AllocbenchError(`${file}: e820[${i}]: expected [start, size, type] with type one of ${[...TYPES].join('|')}`);
    }
    const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v.trim()) ? Number(v.trim()) : NaN);
    const start = num(e[0]);
    const size = num(e[1]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size <= 0) {
      throw new AllocbenchError(`${file}: e820[${i}]: start and size must be integers, start >= 0 and size > 0 (hex strings allowed)`);
    }
    checkEnd(start + size, `${file}: e820[${i}]`);
    return { start, end: start + size, type: e[2] as MemRange['type'] };
  });
  for (let i = 1; i < map.length; i++) {
    if (map[i]!.start < map[i - 1]!.end) {
      throw new AllocbenchError(`${file}: e820[${i}] starts at 0x${map[i]!.start.toString(16)}, ${map[i]!.start < map[i - 1]!.start ? 'before' : 'inside'} e820[${i - 1}] [0x${map[i - 1]!.start.toString(16)}, 0x${map[i - 1]!.end.toString(16)}): ranges must be in address order and must not overlap`);
    }
  }
  if (!map.some((r) => r.type === 'usable')) throw new AllocbenchError(`${file}: no usable e820 range`);
  const size = (v: unknown, key: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' ? parseSize(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new AllocbenchError(`${file}: ${key}: expected a size (bytes, or a string such as "1G")`);
    return n;
  };
  if (d.name !== undefined && typeof d.name !== 'string') throw new AllocbenchError(`${file}: name: expected a string`);
  return {
    name: typeof d.name === 'string' ? d.name : file,
    description: typeof d.description === 'string' ? d.description : undefined,
    cpus: d.cpus === undefined ? 2 : checkCpus(d.cpus, file),
    map,
    kernelcore: size(d.kernelcore, 'kernelcore'),
    movablecore: size(d.movablecore, 'movablecore'),
    thp: typeof (d as { thp?: unknown }).thp === 'boolean' ? (d as { thp: boolean }).thp : undefined,
    minFreeKbytes: minFreeKbytes(d as { min_free_kbytes?: unknown }, file),
    kernel: kernelVersion(d as { kernel_version?: unknown }, file),
  };
}

/** "kernel_version" of a machine.json: MAJOR.MINOR, maybe with more after it ("6.1", "6.12.57"). */
function kernelVersion(d: { kernel_version?: unknown }, file: string): string | undefined {
  const v = d.kernel_version;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+\.\d+/.test(v)) throw new AllocbenchError(`${file}: "kernel_version" must be a string such as "6.1" or "6.12" (the kernel the machine runs)`);
  return v;
}

/** "min_free_kbytes" of a recorded machine.json (fidelity, issue 13): a positive integer when present. */
function minFreeKbytes(d: { min_free_kbytes?: unknown }, file: string): number | undefined {
  const v = d.min_free_kbytes;
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new AllocbenchError(`${file}: "min_free_kbytes" must be a positive integer (vm.min_free_kbytes in kB)`);
  return v;
}

export function presetNames(): string[] {
  return ['small', 'desktop', 'server'];
}

/**
 * Resolves --machine: a preset name (machines/NAME.json), a JSON file path, or `mem=SIZE` for a
 * flat map. Options after a colon set boot parameters: `desktop:movablecore=1G,cpus=8`.
 */
export function loadMachine(spec: string): MachineConfig {
  const [base, opts] = splitOnce(spec, ':');
  let cfg: MachineConfig;
  if (base.startsWith('mem=')) {
    cfg = flatMachine(parseSize(base.slice(4)));
  } else {
    const file = existsSync(base) ? base : join(PRESET_DIR, `${base}.json`);
    if (!existsSync(file)) {
      throw new AllocbenchError(`unknown machine "${base}": not a preset (${presetNames().join(', ')}), a JSON file or mem=SIZE`);
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new AllocbenchError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    cfg = parseE820(json, file);
  }
  if (opts) {
    for (const kv of opts.split(',')) {
      const [k, v] = splitOnce(kv, '=');
      if (k === 'kernelcore') cfg.kernelcore = parseSize(v);
      else if (k === 'movablecore') cfg.movablecore = parseSize(v);
      else if (k === 'cpus' && /^\d+$/.test(v)) cfg.cpus = checkCpus(Number(v), `machine option "${kv}"`);
      else if (k === 'thp' && (v === 'never' || v === 'madvise' || v === 'always')) cfg.thp = v !== 'never';
      else throw new AllocbenchError(`machine option "${kv}": expected kernelcore=SIZE, movablecore=SIZE, cpus=N or thp=never|madvise|always`);
    }
    cfg.name = spec;
  }
  return cfg;
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}
