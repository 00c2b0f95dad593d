import { CsvError, parse } from 'csv-parse/sync';
import { TraceFormatError } from '../../src/errors.js';
import { GFP_KERNEL, ZONE_NAMES, parseGfp } from '../../src/machine/gfp.js';
import * as O from '../../src/trace/ops.js';
import { TraceBuilder, isStorableValue, type Trace } from '../../src/trace/trace.js';
import { CACHE_FLAG_NAMES, CSV_COLUMNS, MAP_NAMES, PROT_NAMES, type CsvColumn } from '../../src/trace/csv.js';

/**
 * The CSV loader as it was before the byte scanner (csv-parse for every row; with the one later
 * change of rule: a freed token allocated again takes its old id back), kept for the differential
 * test (test/csv-scanner.test.ts): the scanner must give the same traces and the same FILE:LINE
 * errors. Not used by src/.
 *
 * (The column list and the symbolic-name tables are the loader's own: src/trace/csv.ts.)
 */
const NUM = /^(?:0[xX][0-9a-fA-F]+|[0-9]+)$/;

function defaultName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.gz$/i, '').replace(/\.csv$/i, '');
}

/**
 * Parses the native CSV format. Id tokens are the user's own strings (pointers, names, numbers),
 * mapped to dense ids as the mtrace loader maps pointers: an allocation takes a new id, a free
 * retires its token, a realloc keeps the id; a free/realloc of a token that is not live gets a
 * fresh never-allocated id, which the replay counts as a trace error (a second free of a freed token
 * frees its old id again: a double free). Tokens live in three
 * namespaces: page blocks, kernel objects (kmalloc and cache objects: kfree may free either), and
 * each pid's user heap. Any malformed row throws TraceFormatError with its line number.
 */
export function parseCsvReference(text: string, file: string, name: string = defaultName(file)): Trace {
  let rows: string[][];
  // Line numbers collected in on_record: csv-parse's `info: true` objects halve its speed.
  const lineOf: number[] = [];
  try {
    rows = parse(text, {
      relax_column_count: true, skip_empty_lines: true, trim: true, bom: true,
      comment: '#', comment_no_infix: true,
      on_record: (r: string[], ctx: { lines: number }) => { lineOf.push(ctx.lines); return r; },
    }) as string[][];
  } catch (e) {
    if (e instanceof CsvError) {
      const ln = typeof e.lines === 'number' ? e.lines : 0;
      throw new TraceFormatError(file, ln, lineText(text, ln), `well-formed CSV (${e.message})`);
    }
    throw e;
  }
  const b = new TraceBuilder(name, file, Math.max(16, rows.length));
  if (rows.length === 0) return b.finish();

  // Header: column name → cell index.
  const head = { record: rows[0]!, info: { lines: lineOf[0]! } };
  const col = new Int32Array(CSV_COLUMNS.length).fill(-1);
  for (let k = 0; k < head.record.length; k++) {
    const h = head.record[k]!;
    const c = (CSV_COLUMNS as readonly string[]).indexOf(h);
    if (c < 0 || col[c] !== -1) {
      throw new TraceFormatError(file, head.info.lines, lineText(text, head.info.lines),
        `a header row of distinct column names from ${CSV_COLUMNS.join(',')} (bad or repeated column ${JSON.stringify(h)})`);
    }
    col[c] = k;
  }
  const C = (c: CsvColumn): number => col[CSV_COLUMNS.indexOf(c)]!;
  const cOp = C('op'), cId = C('id'), cPid = C('pid'), cSize = C('size'), cOrder = C('order'), cGfp = C('gfp');
  const cCache = C('cache'), cAlign = C('align'), cFlags = C('flags'), cAddr = C('addr'), cLen = C('len');
  const cProt = C('prot'), cWrite = C('write'), cChild = C('child'), cLabel = C('label');
  const cTid = C('tid'), cCpu = C('cpu'), cZone = C('zone');
  const cAO = C('alloc_order'), cAM = C('alloc_mt'), cFM = C('fallback_mt'), cFrag = C('fragmenting'), cChg = C('change_ownership');
  if (cOp < 0) {
    throw new TraceFormatError(file, head.info.lines, lineText(text, head.info.lines), 'a header row with an "op" column');
  }
  const width = head.record.length;
  if (cTid >= 0) b.useTid();
  if (cCpu >= 0) b.useCpu();

  // Not the per-event typed-array path of the mtrace loader: csv-parse allocates per record anyway,
  // so a Map keyed by namespaced token costs little next to it.
  const live = new Map<string, number>();
  const cacheByName = new Map<string, number>();
  let rec: string[] = [];
  let ln = 0;

  const fail = (expected: string): never => {
    throw new TraceFormatError(file, ln, lineText(text, ln), expected);
  };
  const cell = (c: number): string => (c < 0 ? '' : rec[c] ?? '');
  const need = (c: number, what: string): string => {
    const s = cell(c);
    if (s === '') fail(`a value in column "${what}" for ${rec[cOp]}`);
    return s;
  };
  const num = (c: number, what: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number => {
    const s = cell(c);
    if (s === '') {
      if (dflt < 0) fail(`a value in column "${what}" for ${rec[cOp]}`);
      return dflt;
    }
    if (!NUM.test(s)) fail(`a number (decimal or 0x hex) in column "${what}"`);
    const v = Number(s);
    if (!isStorableValue(v) || v > max) fail(`a number in column "${what}" from 0 to ${max}`);
    return v;
  };
  /** tid and cpu: an empty cell is -1 (not recorded for this event) */
  const optionalNum = (c: number, what: string): number => (cell(c) === '' ? -1 : num(c, what, 0, 0x7fffffff));
  const symbolic = (c: number, what: string, names: Record<string, number>): number => {
    const s = cell(c);
    if (s === '') return 0;
    if (NUM.test(s)) {
      const v = Number(s);
      if (v > 0xffffff) fail(`a value in column "${what}" below 2^24`);
      return v;
    }
    let v = 0;
    for (const part of s.split('|')) {
      const x = names[part.trim()];
      if (x === undefined) fail(`a number or ${Object.keys(names).join('|')} in column "${what}"`);
      v |= x!;
    }
    return v;
  };
  const gfpOf = (): number => {
    const s = cell(cGfp);
    if (s === '') return GFP_KERNEL;
    if (NUM.test(s)) {
      const v = Number(s);
      if (v > 0xffffffff) fail('gfp flags below 2^32 in column "gfp"');
      return v | 0;
    }
    const g = parseGfp(s);
    if (g === -1) fail('gfp flags in column "gfp": a number, 0x hex or names like GFP_KERNEL|__GFP_ZERO');
    return g;
  };
  const pidOf = (c: number, what: string, dflt: number): number => {
    const p = num(c, what, dflt, 0x7fffffff);
    b.notePid(p);
    return p;
  };
  // Tokens freed and not allocated again, with their old id: a second free is a double free of it.
  const freed = new Map<string, number>();
  const alloc = (key: string): number => {
    const id = freed.get(key) ?? b.newId(); // a freed token allocated again takes its old id back
    live.set(key, id); // a live token reused just takes a new id (its old allocation is never freed)
    freed.delete(key);
    return id;
  };
  const release = (key: string): number => {
    const id = live.get(key);
    if (id === undefined) return freed.get(key) ?? b.newId(); // double free: the old id; unknown: never allocated
    live.delete(key);
    freed.set(key, id);
    return id;
  };

  for (let r = 1; r < rows.length; r++) {
    rec = rows[r]!;
    ln = lineOf[r]!;
    for (let k = width; k < rec.length; k++) if (rec[k] !== '') fail(`at most ${width} cells, as many as the header has`);
    if (cTid >= 0) b.curTid = optionalNum(cTid, 'tid');
    if (cCpu >= 0) b.curCpu = optionalNum(cCpu, 'cpu');
    const opName = rec[cOp] ?? '';
    const op = O.opByName(opName);
    switch (op) {
      case O.OP_PAGE_ALLOC: {
        const order = num(cOrder, 'order', -1, 63);
        const gfp = gfpOf();
        b.push(op, alloc(`p${need(cId, 'id')}`), order, gfp);
        break;
      }
      case O.OP_PAGE_FREE: {
        const order = num(cOrder, 'order', 0, 63);
        b.push(op, release(`p${need(cId, 'id')}`), order, 0);
        break;
      }
      case O.OP_KMALLOC: {
        const size = num(cSize, 'size', -1);
        const gfp = gfpOf();
        b.push(op, alloc(`k${need(cId, 'id')}`), size, gfp);
        break;
      }
      case O.OP_KFREE:
        b.push(op, release(`k${need(cId, 'id')}`), 0, 0);
        break;
      case O.OP_CACHE_CREATE: {
        const cname = need(cCache, 'cache');
        const size = num(cSize, 'size', -1, 0x7fffffff);
        const align = num(cAlign, 'align', 0, 0x7fffffff);
        const flags = symbolic(cFlags, 'flags', CACHE_FLAG_NAMES);
        const idx = b.addCache({ name: cname, size, align, flags });
        cacheByName.set(cname, idx); // a later cache of the same name takes the name over
        b.push(op, idx, 0, 0);
        break;
      }
      case O.OP_CACHE_ALLOC:
      case O.OP_CACHE_FREE: {
        const cname = need(cCache, 'cache');
        const idx = cacheByName.get(cname);
        if (idx === undefined) fail(`the name of a cache created earlier by cache_create in column "cache"`);
        const key = `k${need(cId, 'id')}`;
        b.push(op, op === O.OP_CACHE_ALLOC ? alloc(key) : release(key), 0, idx!);
        break;
      }
      case O.OP_MALLOC:
      case O.OP_REALLOC: {
        const pid = pidOf(cPid, 'pid', 0);
        const size = num(cSize, 'size', -1);
        const key = `u${pid}:${need(cId, 'id')}`;
        let id: number;
        if (op === O.OP_MALLOC) id = alloc(key);
        else {
          // realloc keeps the id; of a token not live it gets a fresh id that then stays live.
          const got = live.get(key);
          if (got === undefined) id = alloc(key); else id = got;
        }
        b.push(op, id, size, pid);
        break;
      }
      case O.OP_FREE: {
        const pid = pidOf(cPid, 'pid', 0);
        b.push(op, release(`u${pid}:${need(cId, 'id')}`), 0, pid);
        break;
      }
      case O.OP_MMAP: {
        const pid = pidOf(cPid, 'pid', 0);
        const addr = num(cAddr, 'addr', -1);
        const len = num(cLen, 'len', -1);
        const prot = symbolic(cProt, 'prot', PROT_NAMES);
        if (prot > 0xff) fail('prot below 256');
        const flags = symbolic(cFlags, 'flags', MAP_NAMES);
        b.push(op, pid, addr, b.addExtra(len, prot + flags * 256));
        break;
      }
      case O.OP_MUNMAP: {
        const pid = pidOf(cPid, 'pid', 0);
        const addr = num(cAddr, 'addr', -1);
        const len = num(cLen, 'len', -1);
        b.push(op, pid, addr, b.addExtra(len, 0));
        break;
      }
      case O.OP_BRK: {
        const pid = pidOf(cPid, 'pid', 0);
        b.push(op, pid, num(cAddr, 'addr', -1), 0);
        break;
      }
      case O.OP_FAULT: {
        const pid = pidOf(cPid, 'pid', 0);
        const addr = num(cAddr, 'addr', -1);
        b.push(op, pid, addr, num(cWrite, 'write', 0, 1));
        break;
      }
      case O.OP_FORK: {
        const pid = pidOf(cPid, 'pid', 0);
        b.push(op, pid, 0, pidOf(cChild, 'child', -1));
        break;
      }
      case O.OP_EXIT:
        b.push(op, pidOf(cPid, 'pid', 0), 0, 0);
        break;
      case O.OP_MARK:
        b.push(op, 0, 0, b.intern(cell(cLabel)));
        break;
      case O.OP_EXTFRAG: {
        const fallbackOrder = num(cOrder, 'order', -1, 15);
        const aux = O.packExtfrag(
          num(cAO, 'alloc_order', -1, 15), num(cAM, 'alloc_mt', 0, 15), num(cFM, 'fallback_mt', 0, 15),
          num(cFrag, 'fragmenting', 0, 1) === 1, num(cChg, 'change_ownership', 0, 1) === 1);
        b.push(op, 0, fallbackOrder, aux);
        break;
      }
      case O.OP_TICK:
      case O.OP_RECLAIM_END:
        b.push(op, 0, 0, 0);
        break;
      case O.OP_RECLAIM_BEGIN:
      case O.OP_PCP_DRAIN: {
        const named = (ZONE_NAMES as readonly string[]).indexOf(cell(cZone));
        b.push(op, 0, 0, named >= 0 ? named : num(cZone, 'zone', -1, ZONE_NAMES.length - 1));
        break;
      }
      default:
        fail(`an op name (${O.OP_NAMES.join(', ')})`);
    }
  }
  return b.finish();
}

/** The text of 1-based line `ln` (error path only). */
function lineText(text: string, ln: number): string {
  let p = 0;
  for (let k = 1; k < ln && p >= 0; k++) {
    p = text.indexOf('\n', p);
    if (p >= 0) p++;
  }
  if (p < 0 || ln < 1) return '';
  let e = text.indexOf('\n', p);
  if (e < 0) e = text.length;
  if (e > p && text.charCodeAt(e - 1) === 13) e--;
  return text.slice(p, e);
}
