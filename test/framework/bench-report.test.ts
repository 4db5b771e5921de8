import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderBenchChart } from '../../core/bench/bench-chart.js';
import { renderBenchReport, writeBenchReport } from '../../core/bench/bench-report.js';
import { BenchResult } from '../../core/bench/bench-suite.js';

const result: BenchResult = {
  suite: 'fake',
  profile: 'dune-e3-1230v2',
  rows: [
    { id: 'getpid', unit: 'cycles', linux: 140, dune: 900, paper: { linux: 138, dune: 895 }, counts: { vmExits: 1 } },
    { id: 'page <fault> & co', unit: 'cycles', linux: 2700, dune: 3400, paper: { linux: 2687, dune: 2580 } },
    { id: 'raw-read', unit: 'M reads/s', value: 880 },
    { id: 'tlb-hit-read', unit: 'M reads/s', value: 340 },
    { id: 'no figures yet', unit: 'µs' },
  ],
  meta: { note: '<b>not bold</b>' },
};

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('bench report', () => {
  it('writes a self-contained page with one SVG per suite and one bar group per row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-report-'));
    const path = writeBenchReport(dir, [result], { generatedAt: 'test' });
    expect(path).toBe(join(dir, 'index.html'));
    const html = readFileSync(path, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(count(html, '<svg ')).toBe(1);
    expect(count(html, '<g class="bar-group"')).toBe(result.rows.length);
    // Self-contained: inline CSS, no scripts, nothing fetched.
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    // The table has the comparison columns and the mechanism counts.
    for (const h of ['model linux', 'model dune', 'paper linux', 'paper dune', 'err dune %', 'mechanism counts']) {
      expect(html).toContain(`<th>${h}</th>`);
    }
    expect(html).toContain('vmExits=1');
  });

  it('escapes row ids and meta', () => {
    const html = renderBenchReport([result], { generatedAt: 'test' });
    expect(html).toContain('page &lt;fault&gt; &amp; co');
    expect(html).not.toContain('page <fault>');
    expect(html).toContain('&lt;b&gt;not bold&lt;/b&gt;');
    expect(html).not.toContain('<b>');
  });

  it('draws model and paper bars for comparison rows and shares a scale for value rows', () => {
    const svg = renderBenchChart(result);
    expect(count(svg, 'class="bar linux-model"')).toBe(2);
    expect(count(svg, 'class="bar dune-paper"')).toBe(2);
    expect(count(svg, 'class="bar value"')).toBe(2);
    // getpid, page fault, one panel for both M reads/s rows, the empty row.
    expect(count(svg, '<g class="panel">')).toBe(4);
    expect(svg).toContain('no figure');
    // Same panel, same scale: 880 gets the full width, 340 proportionally less.
    const widths = [...svg.matchAll(/class="bar value"[^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[1]! / widths[0]!).toBeCloseTo(340 / 880, 2);
  });
});
