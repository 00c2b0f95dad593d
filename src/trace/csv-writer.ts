import * as O from './ops.js';
import { ZONE_NAMES } from '../machine/gfp.js';
import { CSV_COLUMNS } from './csv.js';
import { valueAt, type Trace } from './trace.js';

const NCOL = CSV_COLUMNS.length;
const col = (c: (typeof CSV_COLUMNS)[number]): number => CSV_COLUMNS.indexOf(c);
const ID = col('id'), PID = col('pid'), SIZE = col('size'), ORDER = col('order'), GFP = col('gfp');
const CACHE = col('cache'), ALIGN = col('align'), FLAGS = col('flags'), ADDR = col('addr'), LEN = col('len');
const PROT = col('prot'), WRITE = col('write'), CHILD = col('child'), LABEL = col('label');
const TID = col('tid'), CPU = col('cpu'), ZONE = col('zone');
const AO = col('alloc_order'), AM = col('alloc_mt'), FM = col('fallback_mt'), FRAG = col('fragmenting'), CHG = col('change_ownership');

/** RFC 4180 quoting, plus a leading `#` (the reader takes it for a comment) and surrounding spaces (it trims). */
function quote(s: string): string {
  return /[",\r\n]|^[#\s]|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** The columns each op writes (besides op). */
const OP_COLUMNS: number[][] = [];
OP_COLUMNS[O.OP_PAGE_ALLOC] = [ID, ORDER, GFP];
OP_COLUMNS[O.OP_PAGE_FREE] = [ID, ORDER];
OP_COLUMNS[O.OP_KMALLOC] = [ID, SIZE, GFP];
OP_COLUMNS[O.OP_KFREE] = [ID];
OP_COLUMNS[O.OP_CACHE_CREATE] = [CACHE, SIZE, ALIGN, FLAGS];
OP_COLUMNS[O.OP_CACHE_ALLOC] = [ID, CACHE];
OP_COLUMNS[O.OP_CACHE_FREE] = [ID, CACHE];
OP_COLUMNS[O.OP_MALLOC] = [ID, PID, SIZE];
OP_COLUMNS[O.OP_FREE] = [ID, PID];
OP_COLUMNS[O.OP_REALLOC] = [ID, PID, SIZE];
OP_COLUMNS[O.OP_MMAP] = [PID, ADDR, LEN, PROT, FLAGS];
OP_COLUMNS[O.OP_MUNMAP] = [PID, ADDR, LEN];
OP_COLUMNS[O.OP_BRK] = [PID, ADDR];
OP_COLUMNS[O.OP_FAULT] = [PID, ADDR, WRITE];
OP_COLUMNS[O.OP_FORK] = [PID, CHILD];
OP_COLUMNS[O.OP_EXIT] = [PID];
OP_COLUMNS[O.OP_MARK] = [LABEL];
OP_COLUMNS[O.OP_EXTFRAG] = [ORDER, AO, AM, FM, FRAG, CHG];
OP_COLUMNS[O.OP_TICK] = [];
OP_COLUMNS[O.OP_RECLAIM_BEGIN] = [ZONE];
OP_COLUMNS[O.OP_RECLAIM_END] = [];
OP_COLUMNS[O.OP_PCP_DRAIN] = [ZONE];

/**
 * Writes any Trace in the native CSV format (csv.ts, docs/trace-formats.md), with the columns its
 * ops use, in the canonical order. Ids are written as the dense ids, so parseCsv(writeCsv(t)) gives back t's events for any
 * trace whose ids are handed out in order of first use and never reused after a free (what every
 * loader produces). Gfp flags and addresses are written in hex.
 */
export function writeCsv(t: Trace): string {
  // Only the columns some op of this trace uses: an mtrace trace is written as op,id,pid,size,
  // which csv-parse reads several times faster than all twenty columns.
  const present = new Uint8Array(O.OP_COUNT);
  for (let i = 0; i < t.length; i++) present[t.op[i]!] = 1;
  const used = new Uint8Array(NCOL);
  used[0] = 1;
  for (let o = 0; o < O.OP_COUNT; o++) if (present[o]) for (const c of OP_COLUMNS[o] ?? []) used[c] = 1;
  if (t.tid) used[TID] = 1;
  if (t.cpu) used[CPU] = 1;
  const keep: number[] = [];
  for (let c = 0; c < NCOL; c++) if (used[c]) keep.push(c);
  const out: string[] = [keep.map((c) => CSV_COLUMNS[c]).join(',')];
  const cells = new Array<string>(NCOL);
  const row = new Array<string>(keep.length);
  for (let i = 0; i < t.length; i++) {
    cells.fill('');
    const op = t.op[i]!;
    const id = t.id[i]!;
    const aux = t.aux[i]!;
    const v = valueAt(t, i);
    cells[0] = O.OP_NAMES[op] ?? String(op);
    switch (op) {
      case O.OP_PAGE_ALLOC: cells[ID] = String(id); cells[ORDER] = String(v); cells[GFP] = hex(aux >>> 0); break;
      case O.OP_PAGE_FREE: cells[ID] = String(id); cells[ORDER] = String(v); break;
      case O.OP_KMALLOC: cells[ID] = String(id); cells[SIZE] = String(v); cells[GFP] = hex(aux >>> 0); break;
      case O.OP_KFREE: cells[ID] = String(id); break;
      case O.OP_CACHE_CREATE: {
        const c = t.caches[id];
        cells[CACHE] = quote(c?.name ?? `cache${id}`);
        cells[SIZE] = String(c?.size ?? 0); cells[ALIGN] = String(c?.align ?? 0); cells[FLAGS] = String(c?.flags ?? 0);
        break;
      }
      case O.OP_CACHE_ALLOC:
      case O.OP_CACHE_FREE:
        cells[ID] = String(id); cells[CACHE] = quote(t.caches[aux]?.name ?? `cache${aux}`); break;
      case O.OP_MALLOC:
      case O.OP_REALLOC: cells[ID] = String(id); cells[PID] = String(aux); cells[SIZE] = String(v); break;
      case O.OP_FREE: cells[ID] = String(id); cells[PID] = String(aux); break;
      case O.OP_MMAP: {
        const pf = t.extra[aux * 2 + 1] ?? 0;
        cells[PID] = String(id); cells[ADDR] = hex(v); cells[LEN] = String(t.extra[aux * 2] ?? 0);
        cells[PROT] = String(pf % 256); cells[FLAGS] = hex(Math.floor(pf / 256));
        break;
      }
      case O.OP_MUNMAP: cells[PID] = String(id); cells[ADDR] = hex(v); cells[LEN] = String(t.extra[aux * 2] ?? 0); break;
      case O.OP_BRK: cells[PID] = String(id); cells[ADDR] = hex(v); break;
      case O.OP_FAULT: cells[PID] = String(id); cells[ADDR] = hex(v); cells[WRITE] = String(aux); break;
      case O.OP_FORK: cells[PID] = String(id); cells[CHILD] = String(aux); break;
      case O.OP_EXIT: cells[PID] = String(id); break;
      case O.OP_MARK: cells[LABEL] = quote(t.strings[aux] ?? ''); break;
      case O.OP_EXTFRAG:
        cells[ORDER] = String(v);
        cells[AO] = String(aux & 15); cells[AM] = String((aux >> 4) & 15); cells[FM] = String((aux >> 8) & 15);
        cells[FRAG] = String((aux >> 12) & 1); cells[CHG] = String((aux >> 13) & 1);
        break;
      case O.OP_RECLAIM_BEGIN:
      case O.OP_PCP_DRAIN:
        cells[ZONE] = ZONE_NAMES[aux] ?? String(aux);
        break;
      default:
        break;
    }
    if (t.tid && t.tid[i]! >= 0) cells[TID] = String(t.tid[i]);
    if (t.cpu && t.cpu[i]! >= 0) cells[CPU] = String(t.cpu[i]);
    for (let k = 0; k < keep.length; k++) row[k] = cells[keep[k]!]!;
    out.push(row.join(','));
  }
  return `${out.join('\n')}\n`;
}
