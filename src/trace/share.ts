import { idSlots } from './id-slots.js';
import type { Trace } from './trace.js';

/**
 * The same trace with its columns on SharedArrayBuffers, so worker threads read them without a
 * copy (postMessage shares a SharedArrayBuffer instead of cloning it), and with the replay's id
 * slots (id-slots.ts), made here once for every cell that replays it. A trace already shared and
 * slotted is returned as is.
 */
export function shareTrace(t: Trace): Trace {
  if (t.op.buffer instanceof SharedArrayBuffer && t.id.buffer instanceof SharedArrayBuffer && t.slots?.from === t.id) return t;
  // a column already on a SharedArrayBuffer (a compiled trace read whole: trace/load.ts) is kept
  const share = <T extends Uint8Array | Int32Array | Uint32Array | Uint16Array | Float64Array>(a: T): T => {
    if (a.buffer instanceof SharedArrayBuffer) return a;
    const ctor = a.constructor as { new (b: SharedArrayBuffer): T };
    const out = new ctor(new SharedArrayBuffer(a.byteLength));
    out.set(a as never);
    return out;
  };
  const id = share(t.id), slots = idSlots(t);
  return { ...t, op: share(t.op), id, lo: share(t.lo), hi: share(t.hi), aux: share(t.aux), extra: share(t.extra),
    ...(t.cpu ? { cpu: share(t.cpu) } : {}), ...(t.tid ? { tid: share(t.tid) } : {}),
    slots: { id: share(slots.id), count: slots.count, from: id } };
}
