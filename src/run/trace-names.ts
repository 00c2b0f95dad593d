
/**
 * Cell names must stay unique: two traces with the same file name in different folders
 * (`a/x.csv`, `b/x.csv`) were one cell, each result overwriting the other's. Traces whose names
 * collide are named by the shortest tail of their paths that tells them apart (`a/x`, `b/x`); a
 * name nobody else has is left alone. The same file given twice is one trace.
 */
export function uniqueTraceNames<T extends { name: string; source: string }>(traces: T[]): T[] {
  const bySource = new Map<string, T>();
  for (const t of traces) if (!bySource.has(t.source)) bySource.set(t.source, t);
  const groups = new Map<string, T[]>();
  for (const t of bySource.values()) groups.set(t.name, [...(groups.get(t.name) ?? []), t]);
  const renamed = new Map<string, string>();
  for (const [name, group] of groups) {
    if (group.length < 2) continue;
    const dirs = group.map((t) => t.source.split(/[\\/]+/).slice(0, -1).filter((s) => s !== '' && s !== '.'));
    for (let depth = 1; ; depth++) {
      const names = dirs.map((d) => [...d.slice(Math.max(0, d.length - depth)), name].join('/'));
      if (new Set(names).size === names.length || dirs.every((d) => d.length < depth)) {
        // identical tails all the way up (only possible with odd paths): number them in the order given
        const unique = new Set(names).size === names.length ? names : names.map((n, i) => `${n}#${i + 1}`);
        group.forEach((t, i) => renamed.set(t.source, unique[i]!));
        break;
      }
    }
  }
  // one entry per input, in order (callers pair them with their paths)
  return traces.map((t) => (renamed.has(t.source) ? { ...t, name: renamed.get(t.source)! } : t));
}
