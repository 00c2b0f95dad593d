import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { ChartSpec } from './specs.js';

/** Renders one vega-lite spec to SVG in Node: vega's headless View needs no canvas for SVG output. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = vegaLite.compile(spec as unknown as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Data marks drawn in an SVG produced by vega: children of `<g class="mark-… role-mark …">` groups
 * (axes, legends and titles have other roles). The browser test counts the same thing in the DOM.
 */
export function countDataMarks(svg: string): number {
  let n = 0;
  const re = /<g class="mark-(\w+) role-mark[^"]*"[^>]*>/g;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    // count the group's direct item elements up to its closing tag
    const rest = svg.slice(re.lastIndex);
    const end = rest.indexOf('</g>');
    const body = end < 0 ? rest : rest.slice(0, end);
    n += (body.match(/<(path|rect|line|circle|text|image)\b/g) ?? []).length;
  }
  return n;
}

/** Writes DIR/<chart id>.svg for every chart; returns the files with their data-mark counts. */
export async function writeSvgs(charts: ChartSpec[], dir: string): Promise<{ file: string; marks: number }[]> {
  mkdirSync(dir, { recursive: true });
  const out: { file: string; marks: number }[] = [];
  for (const c of charts) {
    if (Object.keys(c.spec).length === 0) continue; // every panel equal: a line of text, no chart
    const svg = await renderSvg(c.spec);
    const file = join(dir, `${c.id}.svg`);
    writeFileSync(file, svg);
    out.push({ file, marks: countDataMarks(svg) });
  }
  return out;
}
