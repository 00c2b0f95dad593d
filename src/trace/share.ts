import type { Trace } from './trace.js';

/**
 * The same trace with its columns on SharedArrayBuffers, so worker threads read them without a
 * copy (postMessage shares a SharedArrayBuffer instead of cloning it). A trace already shared is
 * returned as is.
 */
export function shareTrace(t: Trace): Trace {
  if (t.op.buffer instanceof SharedArrayBuffer) return t;
  const share = <T extends Uint8Array | Int32Array | Uint32Array | Uint16Array | Float64Array>(a: T): T => {
    const ctor = a.constructor as { new (b: SharedArrayBuffer): T };
    const out = new ctor(new SharedArrayBuffer(a.byteLength));
    out.set(a as never);
    return out;
  };
  return { ...t, op: share(t.op), id: share(t.id), lo: share(t.lo), hi: share(t.hi), aux: share(t.aux), extra: share(t.extra),
    ...(t.cpu ? { cpu: share(t.cpu) } : {}), ...(t.tid ? { tid: share(t.tid) } : {}) };
}
