import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { AllocbenchError } from '../errors.js';
import { looksLikeBinaryText, readBinaryFile } from './binary.js';
import { fileChunks } from './chunks.js';
import { parseCsv, parseCsvChunks } from './csv.js';
import { parseMtrace, parseMtraceChunks } from './mtrace.js';
import { looksLikeKernelTrace, parseKernelTrace, type KernelLayers } from './kernel.js';
import { parseRep } from './rep.js';
import { looksLikeHeaptrack, parseHeaptrack } from './heaptrack.js';
import { looksLikeLogalloc, parseLogalloc } from './logalloc.js';
import type { Trace } from './trace.js';

/** One trace format: how to recognise it and how to parse it. */
export interface TraceFormat {
  name: string;
  /** file extensions with the dot, lower case, checked after a `.gz` is removed */
  extensions: string[];
  /** whether text (the start of a file with no known extension) looks like this format */
  sniff(text: string): boolean;
  parse(text: string, file: string, name: string): Trace;
  /** the same parse from the file's bytes (UTF-8), when the format reads bytes: loadTrace then skips the decode */
  parseBytes?(bytes: Buffer, file: string, name: string): Trace;
  /**
   * the same parse from the file's bytes in chunks (chunks.ts; `whole()` reads the whole file, for
   * rare paths): loadTrace then streams a file named with the format's extension
   */
  parseChunks?(next: () => Buffer | null, whole: () => Buffer, size: number, file: string, name: string): Trace;
}

/** The first non-blank, non-comment line of `text` (looks at the first 64 KiB only). */
export function firstLine(text: string, comment = ''): string {
  const head = text.length > 65536 ? text.slice(0, 65536) : text;
  for (const raw of head.split('\n')) {
    const l = raw.trim();
    if (l !== '' && (comment === '' || !l.startsWith(comment))) return l;
  }
  return '';
}

/**
 * Known formats, tried by extension first and then, in this order, by sniffing. Other loaders add
 * their row here (rep, kernel text).
 */
export const FORMATS: TraceFormat[] = [
  {
    name: 'mtrace',
    extensions: ['.mtrace'],
    sniff: (text) => {
      const l = firstLine(text);
      return l === '= Start' || /^(@ .*\] )?[-+<>!] (0x[0-9a-f]+|\(nil\))( (0x[0-9a-f]+|0))?$/i.test(l);
    },
    parse: parseMtrace,
    parseBytes: parseMtrace,
    parseChunks: parseMtraceChunks,
  },
  {
    name: 'csv',
    extensions: ['.csv'],
    sniff: (text) => firstLine(text, '#').replace(/^\uFEFF/, '').split(',').some((c) => c.trim().replace(/^"|"$/g, '') === 'op'),
    parse: parseCsv,
    parseBytes: parseCsv,
    parseChunks: parseCsvChunks,
  },
  {
    name: 'rep',
    extensions: ['.rep'],
    // 2 to 4 integer-only header lines, then an `a|r|f <id>` op (CMU malloc-lab)
    sniff: (text) => /^\uFEFF?(\s*\d+[ \t]*\r?\n){2,4}\s*[arf][ \t]+\d+/.test(text.slice(0, 4096)),
    parse: parseRep,
  },
  { name: 'heaptrack', extensions: ['.zst'], sniff: looksLikeHeaptrack, parse: (t, f, n) => parseHeaptrack(Buffer.from(t), f, n), parseBytes: parseHeaptrack },
  { name: 'logalloc', extensions: ['.logalloc'], sniff: looksLikeLogalloc, parse: (t, f, n) => parseLogalloc(Buffer.from(t), f, n), parseBytes: parseLogalloc },
  {
    name: 'kernel',
    extensions: ['.perf', '.ftrace', '.trace', '.txt'],
    sniff: (text) => looksLikeKernelTrace(text.slice(0, 65536)),
    parse: parseKernelTrace,
    parseBytes: parseKernelTrace,
  },
  {
    name: 'bin',
    extensions: ['.abt'],
    sniff: looksLikeBinaryText,
    // The compiled form is bytes, not text: read the file again as bytes (binary.ts), onto a
    // SharedArrayBuffer so shareTrace has nothing to copy. cache.ts reads .abt without the text pass.
    parse: (_text, file, name) => readBinaryFile(file, { name }),
  },
];

/** The trace name of a path: the file name without directories, `.gz` and a known format extension. */
export function traceName(path: string): string {
  let base = path.replace(/^.*[\\/]/, '');
  if (/\.gz$/i.test(base)) base = base.slice(0, -3);
  const lower = base.toLowerCase();
  for (const f of FORMATS) {
    for (const ext of f.extensions) {
      if (lower.endsWith(ext) && base.length > ext.length) return base.slice(0, -ext.length);
    }
  }
  return base;
}

/** Reads a file, gunzipping `.gz` (or any gzip content), as UTF-8 text. Unreadable or corrupt input → AllocbenchError (exit 2). */
export function readTraceText(path: string): string {
  return readTraceBytes(path).toString('utf8');
}

/** readTraceText without the decode: the file's bytes, gunzipped. */
export function readTraceBytes(path: string): Buffer {
  if (path === '') throw new AllocbenchError('no trace file given');
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new AllocbenchError(`cannot read trace ${path}: ${why}`);
  }
  // gzip magic 1f 8b: the extension is not trusted either way.
  if (/\.gz$/i.test(path) || (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b)) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new AllocbenchError(`cannot read trace ${path}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  return buf;
}

/** The format whose extension `path` has (after a `.gz` is removed), or undefined. */
export function formatByExtension(path: string): TraceFormat | undefined {
  const lower = path.toLowerCase().replace(/\.gz$/, '');
  return FORMATS.find((f) => f.extensions.some((ext) => lower.endsWith(ext)));
}

/** The first format, in table order, whose sniff accepts `text` (the start of a file), or undefined. */
function formatBySniff(text: string): TraceFormat | undefined {
  return FORMATS.find((f) => f.sniff(text));
}

/** Picks the format of `path` by extension, else by sniffing `text`; undefined when none fits. */
export function detectFormat(path: string, text: string): TraceFormat | undefined {
  return formatByExtension(path) ?? formatBySniff(text);
}

/** Characters of a file's start that the sniffs read (firstLine and the kernel sniff: 64 Ki UTF-16 units; rep: 4 Ki). */
const SNIFF_CHARS = 65536;

/**
 * The file's first SNIFF_CHARS characters as its full decode would start: decoded from a prefix of
 * its bytes (a UTF-8 sequence, valid or not, gives at least one UTF-16 unit per 3 bytes, and a
 * sequence cut at the prefix's end only changes the text after those units). The sniffs see the
 * same text without a decode of a whole file, which above ~512 MiB is longer than a string may be.
 */
function sniffText(bytes: Buffer): string {
  return bytes.toString('utf8', 0, Math.min(bytes.length, 4 * SNIFF_CHARS)).slice(0, SNIFF_CHARS);
}

export interface LoadOptions {
  /** kernel text only: attribute and keep one layer view of a recording (attribution.ts); other formats refuse it */
  layers?: KernelLayers;
  /** with layers: other formats load as they are instead of refusing it (run's default layers) */
  layersIfKernel?: boolean;
}

/** Loads a trace file of any known format (optionally gzipped). */
export function loadTrace(path: string, options: LoadOptions = {}): Trace {
  const layers = options.layers;
  // The compiled form is bytes: read it as such, without decoding the file as text first.
  if (/\.abt$/i.test(path) && (layers === undefined || options.layersIfKernel)) return readBinaryFile(path, { shared: true, name: traceName(path) });
  // A format that reads chunks is streamed: memory holds the trace and a chunk, not the file's bytes
  const byName = formatByExtension(path);
  if (layers === undefined && byName?.parseChunks !== undefined) {
    const c = fileChunks(path);
    return byName.parseChunks(c.next, () => readTraceBytes(path), c.size, path, traceName(path));
  }
  const bytes = readTraceBytes(path);
  // detectFormat, with the sniff on the file's start only: a format that reads bytes needs no
  // decode of the whole file
  const f = formatByExtension(path) ?? formatBySniff(sniffText(bytes));
  if (f === undefined) {
    throw new AllocbenchError(`cannot read trace ${path}: unknown format (known: ${FORMATS.map((x) => `${x.name} ${x.extensions.join(' ')}`).join(', ')}; add .gz when gzipped)`);
  }
  if (layers !== undefined && (f.name === 'kernel' || !options.layersIfKernel)) {
    if (f.name !== 'kernel') throw new AllocbenchError(`cannot read trace ${path} by layers: --layers is for kernel traces (perf script, ftrace, trace-cmd text), this is ${f.name}`);
    return parseKernelTrace(bytes, path, traceName(path), { layers });
  }
  return f.parseBytes !== undefined ? f.parseBytes(bytes, path, traceName(path)) : f.parse(bytes.toString('utf8'), path, traceName(path));
}
