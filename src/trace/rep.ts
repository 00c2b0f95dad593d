/**
 * Loader for CMU CS:APP malloc-lab traces (`*.rep`, DESIGN.md §2). The traces/README of the lab:
 *
 *   <sugg_heapsize>   suggested heap size (unused)
 *   <num_ids>         number of request ids
 *   <num_ops>         number of requests
 *   <weight>          weight for this trace (unused)
 *   a <id> <bytes>    ptr_<id> = malloc(<bytes>)
 *   r <id> <bytes>    ptr_<id> = realloc(ptr_<id>, <bytes>)
 *   f <id>            free(ptr_<id>)
 *
 * Editions differ in the header (4 lines as above; shorter ones keep only some of the numbers), so
 * the header is however many leading lines hold one integer only (2 to 4). CRLF and blank lines
 * are tolerated. Every op becomes malloc / realloc / free of process 0.
 */
import { TraceFormatError } from '../errors.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC } from './ops.js';
import { TraceBuilder, isStorableValue, type Trace } from './trace.js';
import { AddrMap, isBlank, parseDec, skipBlanks, tokenEnd } from './kernel-events.js';

const TWO32 = 4294967296;
const EXPECT_OP = 'an op "a <id> <bytes>", "r <id> <bytes>" or "f <id>"';
/** Header names by edition (number of header lines). */
const HEADER_NAMES: Record<number, readonly string[]> = {
  2: ['header_ids', 'header_ops'],
  3: ['header_heap_size', 'header_ids', 'header_ops'],
  4: ['header_heap_size', 'header_ids', 'header_ops', 'header_weight'],
};

export function parseRep(text: string, file: string, name?: string): Trace {
  const base = name ?? (file.split(/[\\/]/).pop() ?? file).replace(/\.rep(\.gz)?$/, '');
  const b = new TraceBuilder(base, file, Math.max(1024, text.length >>> 3));
  const ids = new AddrMap(1 << 12);
  const header: number[] = [];
  let inHeader = true;
  let lineNo = 0;
  let ops = 0, allocOfLive = 0, reallocAsMalloc = 0;
  const n = text.length;
  let pos = n > 0 && text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let ls = 0, le = 0;
  const fail = (expected: string): never => {
    throw new TraceFormatError(file, lineNo, text.slice(ls, le), expected);
  };
  /** Next decimal token of the line as an integer in [0, 2^53), or fail. */
  let cur = 0;
  const nextInt = (what: string): number => {
    const p = skipBlanks(text, cur, le);
    const te = tokenEnd(text, p, le);
    const v = parseDec(text, p, te);
    if (p === te) fail(`${what} (line truncated)`);
    if (!(v >= 0)) fail(`${what}: a non-negative integer`);
    if (!Number.isSafeInteger(v)) fail(`${what} below 2^53`);
    cur = te;
    return v;
  };

  while (pos < n) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = n;
    lineNo++;
    ls = pos;
    le = end > pos && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    pos = end + 1;
    const p = skipBlanks(text, ls, le);
    if (p === le) continue;
    const c = text.charCodeAt(p);
    if (inHeader) {
      if (c >= 48 && c <= 57 || c === 45) {
        cur = p;
        const v = nextInt('a header integer');
        if (skipBlanks(text, cur, le) !== le) fail('one integer per header line');
        if (header.length === 4) fail(EXPECT_OP + ' after a header of at most 4 lines');
        header.push(v);
        continue;
      }
      if (header.length < 2) fail('a header of 2 to 4 lines holding one integer each');
      inHeader = false;
    }
    if ((c !== 97 && c !== 114 && c !== 102) || p + 1 >= le || !isBlank(text.charCodeAt(p + 1))) fail(EXPECT_OP);
    cur = p + 1;
    const rid = nextInt('an id');
    const hi = Math.floor(rid / TWO32), lo = rid % TWO32;
    if (c === 102) { // f
      if (skipBlanks(text, cur, le) !== le) fail('"f <id>" and nothing after it');
      const id = ids.take(hi, lo);
      // a free of an id that is not live: a fresh id, which the replay counts as a trace error
      b.push(OP_FREE, id >= 0 ? id : b.newId(), 0, 0);
    } else {
      const bytes = nextInt('a size in bytes');
      if (!isStorableValue(bytes)) fail('a size below 2^48');
      if (skipBlanks(text, cur, le) !== le) fail(`"${c === 97 ? 'a' : 'r'} <id> <bytes>" and nothing after it`);
      const live = ids.get(hi, lo);
      if (c === 114 && live >= 0) {
        b.push(OP_REALLOC, live, bytes, 0);
      } else {
        // mdriver keeps ptr_<id> NULL until it is allocated, so `r` of an unknown id is realloc(NULL,
        // n) = malloc(n); `a` of a live id overwrites ptr_<id> and the old block leaks, as there
        if (c === 114) reallocAsMalloc++;
        else if (live >= 0) allocOfLive++;
        const id = b.newId();
        ids.set(hi, lo, id);
        b.push(OP_MALLOC, id, bytes, 0);
      }
    }
    ops++;
  }
  if (inHeader && header.length < 2) {
    lineNo = Math.max(1, lineNo);
    fail('a header of 2 to 4 lines holding one integer each');
  }
  if (ops > 0) b.notePid(0);
  const stats: Record<string, number> = { ops, alloc_of_live_id: allocOfLive, realloc_as_malloc: reallocAsMalloc };
  const names = HEADER_NAMES[header.length]!;
  for (let i = 0; i < header.length; i++) stats[names[i]!] = header[i]!;
  b.stats = stats;
  return b.finish();
}
