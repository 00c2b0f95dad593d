/**
 * The snapshot window of a kernel recording: the part of the trace between the instant its
 * before-state was read and the instant its after-state was read.
 *
 * scripts/kernel-init.sh keeps tracing on through both snapshots; scripts/snapshot-read.c writes
 * `snapshot: before` (or `after`) into trace_marker and reads /proc/buddyinfo right after it, with
 * nothing allocated in between. A snapshot is retried until buddyinfo did not move while it was
 * read, so a recording may hold several markers of a snapshot: the last one belongs to the kept
 * state. The window runs from the line after the last `snapshot: before` that precedes the first
 * `snapshot: after` to the start of the last `snapshot: after` line; what lies outside (the
 * snapshot's own processes before the before-state was read, those after the after-state was)
 * is not replayed. A trace without markers has no window (every event is replayed).
 */
import type { Bytes } from './kernel-events.js';

/** Byte offsets of the window: events on lines starting in [start, end) are replayed. */
export interface SnapshotWindow {
  start: number;
  end: number;
}

const NEEDLE = Buffer.from('snapshot: ', 'latin1');
/** what precedes a marker's text: ftrace / trace-cmd `tracing_mark_write: `, perf's `buf=` */
const MARK_PREFIXES = ['tracing_mark_write: ', 'buf='].map((t) => Buffer.from(t, 'latin1'));

function endsWithAt(s: Bytes, end: number, word: Uint8Array): boolean {
  if (end < word.length) return false;
  for (let i = 0; i < word.length; i++) if (s[end - word.length + i] !== word[i]) return false;
  return true;
}

/** 'before', 'after' or null: the marker text from p (just past `snapshot: `) to the line end e. */
function markerKind(s: Bytes, p: number, e: number): 'before' | 'after' | null {
  while (e > p && (s[e - 1] === 32 || s[e - 1] === 9 || s[e - 1] === 13)) e--;
  if (e - p >= 2 && s[e - 2] === 92 && s[e - 1] === 110) e -= 2; // a printed "\n"
  const t = s.toString('latin1', p, e);
  return t === 'before' || t === 'after' ? t : null;
}

/** The snapshot window of the trace text `s`, or null when it holds no snapshot marker. */
export function snapshotWindow(s: Bytes): SnapshotWindow | null {
  let lastBefore = -1; // start of the line after the last before-marker seen before any after-marker
  let firstAfter = -1;
  let lastAfter = -1; // start of the last after-marker's line
  for (let i = s.indexOf(NEEDLE); i >= 0; i = s.indexOf(NEEDLE, i + NEEDLE.length)) {
    if (!MARK_PREFIXES.some((w) => endsWithAt(s, i, w))) continue;
    const lineStart = s.lastIndexOf(10, i) + 1;
    let lineEnd = s.indexOf(10, i);
    if (lineEnd < 0) lineEnd = s.length;
    const kind = markerKind(s, i + NEEDLE.length, lineEnd);
    if (kind === 'before') {
      if (firstAfter < 0) lastBefore = Math.min(lineEnd + 1, s.length);
    } else if (kind === 'after') {
      if (firstAfter < 0) firstAfter = lineStart;
      lastAfter = lineStart;
    }
    i = lineEnd - NEEDLE.length; // the next search starts at the next line
  }
  if (lastBefore < 0 && lastAfter < 0) return null;
  return { start: Math.max(lastBefore, 0), end: lastAfter >= 0 ? lastAfter : s.length };
}
