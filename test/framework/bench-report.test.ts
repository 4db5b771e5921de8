import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparisonChartSpec, gains, renderChart, suiteChartSpec } from '../../core/bench/bench-chart.js';
import { renderBenchReport, writeBenchReport } from '../../core/bench/bench-report.js';
import { BenchResult } from '../../core/bench/bench-suite.js';
import { paperComparisons } from '../../core/bench/paper-summary.js';

const result: BenchResult = {
  suite: 'fake',
  profile: 'dune-e3-1230v2',
  rows: [
    { id: 'getpid', unit: 'cycles', linux: 140, dune: 900, paper: { linux: 138, dune: 895, source: 'Table 2' }, counts: { vmExits: 1 } },
    { id: 'page <fault> & co', unit: 'cycles', linux: 2700, dune: 3400, paper: { linux: 2687, dune: 2580 } },
    { id: 'raw-read', unit: 'M reads/s', value: 880 },
    { id: 'tlb-hit-read', unit: 'M reads/s', value: 340 },
    { id: 'no figures yet', unit: 'µs' },
  ],
  meta: { note: '<b>not bold</b>' },
};

const sandboxLike: BenchResult = {
  suite: 'box',
  profile: 'dune-e3-1230v2',
  columns: { dune: 'sandbox' },
  rows: [
    { id: 'interpose', unit: 'cycles', linux: 27_000, dune: 1_000, paper: { linux: 27_317, dune: 1_091 }, columns: { linux: 'ptrace' } },
    { id: 'httpd', unit: 'requests/s', linux: 2_200, dune: 2_100, paper: { linux: 2_236, dune: 2_206 } },
    { id: 'mean', unit: '%', dune: 1.4, paper: { dune: 2.93 } },
  ],
};

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('bench report', () => {
  it('writes one self-contained page: the paper summary, the comparison chart, one chart per suite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-report-'));
    const path = await writeBenchReport(dir, [result, sandboxLike], { generatedAt: 'test' });
    expect(path).toBe(join(dir, 'index.html'));
    const html = readFileSync(path, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(count(html, '<svg ')).toBe(3); // comparison + two suites
    // Self-contained: inline CSS, inline SVG, no scripts, nothing fetched (vega's SVG names its namespaces only).
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|https?:\/\/(?!www\.w3\.org\/(2000\/svg|1999\/xlink))/);
    for (const h of ['model linux', 'model dune', 'paper linux', 'paper dune', 'err dune %', 'mechanism counts', 'model sandbox', 'err sandbox %']) {
      expect(html).toContain(`<th>${h}</th>`);
    }
    expect(html).toContain('vmExits=1');
    // 7 paper figures with a model value; within ±10 %: getpid ×2, page fault linux, interpose ×2, httpd ×2.
    expect(html).toContain('7 of 9 paper figures are within ±10 % of the model.');
  });

  it('escapes row ids and meta', async () => {
    const html = await renderBenchReport([result], { generatedAt: 'test' });
    expect(html).toContain('page &lt;fault&gt; &amp; co');
    expect(html).not.toContain('page <fault>');
    expect(html).toContain('&lt;b&gt;not bold&lt;/b&gt;');
    expect(html).not.toContain('<b>');
  });

  it('lists every paper figure the model produced, with its error and the column as the suite names it', () => {
    const rows = paperComparisons([result, sandboxLike]);
    expect(rows.map((r) => `${r.suite}/${r.row}/${r.column}`)).toEqual([
      'fake/getpid/linux', 'fake/getpid/dune', 'fake/page <fault> & co/linux', 'fake/page <fault> & co/dune',
      'box/interpose/ptrace', 'box/interpose/sandbox', 'box/httpd/linux', 'box/httpd/sandbox', 'box/mean/sandbox',
    ]);
    const pf = rows.find((r) => r.row.startsWith('page') && r.column === 'dune')!;
    expect(pf.errorPercent).toBeCloseTo((3400 / 2580 - 1) * 100, 9);
    expect(pf.within).toBe(false);
    expect(rows[0]!.mechanism).toBe('vmExits=1');
    expect(rows[0]!.source).toBe('Table 2');
  });

  it('computes gains the way each unit reads: linux ÷ dune for times, dune ÷ linux for throughputs; no gain of a percentage', () => {
    const g = gains([sandboxLike]);
    expect(g.map((x) => x.row)).toEqual(['interpose', 'httpd']);
    expect(g[0]!.model).toBeCloseTo(27, 9);
    expect(g[0]!.paper).toBeCloseTo(27_317 / 1_091, 9);
    expect(g[1]!.model).toBeCloseTo(2_100 / 2_200, 9);
    expect(comparisonChartSpec([{ suite: 'x', profile: 'p', rows: [{ id: 'v', unit: 'M/s', value: 3 }] }])).toBeUndefined();
  });

  it('draws axes with units, one bar per figure, and a log axis where the values span orders of magnitude', async () => {
    const svg = await renderChart(suiteChartSpec(result), 'fake');
    // getpid: 4 bars; page fault: 4; the M reads/s panel: 2 (the row without figures draws none).
    expect(count(svg, 'aria-roledescription="bar"')).toBe(10);
    expect(svg).toContain('>cycles</text>');
    expect(svg).toContain('>M reads/s</text>');
    expect(svg).toContain('(+1.4 % vs paper)'); // getpid linux: 140 vs 138
    const box = await renderChart(suiteChartSpec(sandboxLike), 'box');
    expect(box).toContain('cycles (log scale)'); // 27,317 vs 1,000: 27×
    expect(box).toContain('>ptrace · model</text>');
    expect(box).toContain('>sandbox · paper</text>');
    // Each bar has a width: a log axis needs its base, or its bars come out empty.
    for (const m of box.matchAll(/aria-roledescription="bar" d="M[\d.-]+,[\d.-]+h([\d.-]+)/g)) expect(Math.abs(Number(m[1]))).toBeGreaterThan(0);
  });

  it('draws a series (rows with series.x) as a line per series over its x axis', async () => {
    const rows = [1, 16, 128].flatMap((mib) => [
      { id: `${mib} · 4K`, unit: 'walks / 1000 accesses', value: mib > 1 ? 15.6 : 0, series: { name: '4 KiB pages', x: mib, xUnit: 'region (MiB)' } },
      { id: `${mib} · 2M`, unit: 'walks / 1000 accesses', value: 0, series: { name: '2 MiB pages', x: mib, xUnit: 'region (MiB)' } },
    ]);
    const svg = await renderChart(suiteChartSpec({ suite: 'reach', profile: 'p', rows }), 'reach');
    expect(count(svg, 'aria-roledescription="line mark"')).toBe(2);
    expect(svg).toContain('>region (MiB)</text>');
    expect(svg).not.toContain('aria-roledescription="bar"');
  });

  it('draws a series point\'s paper figure on a line of its own, beside the model\'s', async () => {
    const rows = [1, 2, 4].map((cores) => ({
      id: `cores=${cores}`, unit: 'M msgs/s', value: cores * 0.7, series: { name: 'IX-10', x: cores, xUnit: 'server cores' },
      paper: cores === 4 ? undefined : { dune: cores * 0.65 },
    }));
    const spec = suiteChartSpec({ suite: 'ix', profile: 'p', rows }) as unknown as { vconcat: Array<{ data: { values: Array<{ series: string; value: number }> } }> };
    const points = spec.vconcat[0]!.data.values;
    expect(points.filter((p) => p.series === 'IX-10').length).toBe(3);
    expect(points.filter((p) => p.series === 'IX-10 · paper').map((p) => p.value)).toEqual([0.65, 1.3]);
    const svg = await renderChart(suiteChartSpec({ suite: 'ix', profile: 'p', rows }), 'ix');
    expect(count(svg, 'aria-roledescription="line mark"')).toBe(2);
  });

  it('renders the same SVG for the same results', async () => {
    const a = await renderChart(comparisonChartSpec([result, sandboxLike])!, 'c');
    const b = await renderChart(comparisonChartSpec([result, sandboxLike])!, 'c');
    expect(a).toBe(b);
    expect(count(a, 'aria-roledescription="bar"')).toBe(8); // 4 rows × model, paper
  });
});
