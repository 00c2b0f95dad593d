/** Formats rows as a left/right-aligned plain-text table (numbers right-aligned). */
export function formatTable(header: string[], rows: unknown[][]): string {
  const cells = [header, ...rows.map((r) => r.map((v) => (v === undefined || v === null ? '' : typeof v === 'number' ? fmtNum(v) : String(v))))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const numeric = header.map((_, c) => rows.every((r) => typeof r[c] === 'number' || r[c] === undefined || r[c] === ''));
  return cells
    .map((r, i) => {
      const line = r.map((v, c) => (numeric[c] ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ').trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

function fmtNum(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}
