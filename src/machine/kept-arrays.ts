/**
 * Large per-page typed arrays kept by this thread from one machine to the next. A worker boots a
 * machine per cell; every fresh 4 KiB of a new array that the replay touches is a page fault (~10 us
 * on a VM whose host takes freed memory back, as this project's CI machine does: a 4 GiB buddy's
 * 9 MB of links and states cost a cell tens of ms), while clearing a kept array is a memset.
 *
 * A strategy's constructor takes its big arrays from here (zero-filled like `new`, or filled with its
 * own initial value, or only partly set: keptArray()'s `fill` and `from`). runCell calls
 * keepArrays() before it boots its machine and releaseKept() once it is done with it; only arrays
 * taken in between are kept. Everywhere else (tests, benches building strategies directly, a
 * machine that outlives its cell) keptArray() is plain `new`.
 */
type Kept = Int32Array | Uint32Array | Int8Array | Uint8Array;
type Ctor<T extends Kept> = { new (n: number): T; readonly name: string };

/** free arrays by constructor name and length */
const free = new Map<string, Kept[]>();
/** handed out since keepArrays(); null outside a cell */
let taken: Kept[] | null = null;
/** arrays smaller than this are not worth keeping */
const MIN_BYTES = 64 * 1024;

/**
 * An array of `length` elements whose elements [from, length) are `fill` (default: all zero, like
 * `new`): a kept one if this thread has one, else a new one. Elements [0, from) are left as a kept
 * array's last machine wrote them: pass `from` > 0 only when the caller writes each of them before
 * anything reads it (dlmalloc's growth copies its old arrays over them), so a reused array is not
 * cleared and then written again (issue 17: clearing kept arrays was ~0.6 s of a worker's ~16 s profile).
 */
export function keptArray<T extends Kept>(ctor: Ctor<T>, length: number, fill = 0, from = 0): T {
  const keep = taken !== null && length * (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT >= MIN_BYTES;
  const kept = keep ? (free.get(`${ctor.name}:${length}`)?.pop() as T | undefined) : undefined;
  const a = kept ?? new ctor(length);
  if (keep) taken!.push(a);
  if (kept !== undefined || fill !== 0) a.fill(fill, from); // a new array is zero already
  return a;
}

/**
 * An array of `length` elements with unspecified contents (a kept array is not cleared), for a
 * caller that writes every element before it reads it; say where, next to the call.
 */
export function keptArrayUnset<T extends Kept>(ctor: Ctor<T>, length: number): T {
  return keptArray(ctor, length, 0, length);
}

/**
 * Arrays taken from now on are kept for a later machine. A cell that threw left its arrays taken:
 * its machine is dropped, so they are free again.
 */
export function keepArrays(): void {
  releaseKept();
  taken = [];
}

/** The arrays taken since keepArrays() are free for the next machine (the caller drops its machine). */
export function releaseKept(): void {
  if (taken === null) return;
  for (const a of taken) {
    const key = `${a.constructor.name}:${a.length}`;
    const list = free.get(key);
    if (list) list.push(a);
    else free.set(key, [a]);
  }
  taken = null;
}
