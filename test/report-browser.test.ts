import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReport } from '../src/cli/report.js';
import { loadResults } from '../src/report/load-results.js';
import { buildSpecs } from '../src/report/specs.js';

// Debian's chromium only: playwright's own browser download is never used (no network here or in CI)
const CHROMIUM = '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
if (!have && process.env.CI) throw new Error(`${CHROMIUM} is missing in CI: .ci/run installs Debian's chromium`);
if (!have) console.warn(`skipping the browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const BASELINE = join(import.meta.dirname, '..', 'baseline');
const tmp = mkdtempSync(join(tmpdir(), 'allocbench-browser-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!have)('report in headless Chromium', () => {
  it('renders every chart with marks, logs no console error and requests nothing but the page', async () => {
    const file = join(tmp, 'report.html');
    await writeReport(BASELINE, file);
    const url = pathToFileURL(file).href;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(url);
      await page.waitForSelector('body[data-charts-done]', { timeout: 30_000 });
      const marks = await page.$$eval('.vega-chart', (els) => els.map((el) => ({
        id: el.getAttribute('data-chart'),
        rendered: el.getAttribute('data-rendered'),
        // data marks: items inside vega's role-mark groups, in SVG or (if ever switched) a canvas
        marks: el.querySelectorAll('svg .role-mark > *').length + el.querySelectorAll('canvas').length,
      })));
      // every chart that is drawn (one whose strategies are all equal is a line of text)
      expect(marks.length).toBe(buildSpecs(loadResults(BASELINE).results).filter((c) => Object.keys(c.spec).length > 0).length);
      expect(marks.length).toBeGreaterThan(4);
      for (const m of marks) {
        expect(m.rendered, m.id ?? '').toBe('1');
        expect(m.marks, m.id ?? '').toBeGreaterThan(0);
      }
      // the per-cell table: collapsed, filters on typing, sorts numerically on a heading click
      expect(await page.$eval('h2 + details, h2 + p + details', (d) => (d as unknown as { open: boolean }).open)).toBe(false);
      await page.$eval('#cells', (t) => { (t.closest('details') as unknown as { open: boolean }).open = true; });
      const total = await page.$$eval('#cells tbody tr', (rs) => rs.length);
      await page.fill('input.filter', 'buddy-mobility');
      const shown = await page.$$eval('#cells tbody tr', (rs) => rs.filter((r) => (r as unknown as { style: { display: string } }).style.display !== 'none').map((r) => r.textContent ?? ''));
      expect(shown.length).toBeGreaterThan(0);
      expect(shown.length).toBeLessThan(total);
      expect(shown.every((t) => t.includes('buddy-mobility'))).toBe(true);
      await page.fill('input.filter', '');
      await page.click('#cells th:text-is("events")');
      const events = await page.$$eval('#cells tbody tr', (rs) => rs.map((r) => Number(r.querySelectorAll('td')[6]?.getAttribute('data-v'))));
      expect(events).toEqual([...events].sort((a, b) => a - b));
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
