import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderBenchChart } from './bench-chart.js';
import { BenchResult } from './bench-suite.js';
import { benchColumns } from './bench-table.js';
import { escapeXml } from './escape-xml.js';

export interface ReportOptions {
  /** Shown in the header; pass a fixed value for reproducible output. */
  generatedAt?: string;
}

// Inline, so that the page is one file that opens anywhere, offline.
const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; font-size: 12px; } .chart { max-width: 100%; height: auto; }
.chart .panel-title { font-weight: 600; } .chart .label, .chart .val { fill: #333; }
`;

/** Columns whose cells are numbers (right-aligned). */
const TEXT_COLUMNS = new Set(['id', 'unit', 'mechanism counts', 'note']);

function table(result: BenchResult): string {
  const cols = benchColumns(result.rows);
  const head = cols.map(([h]) => `<th>${escapeXml(h)}</th>`).join('');
  const body = result.rows.map((r) => {
    const cells = cols.map(([h, f]) => {
      const cls = TEXT_COLUMNS.has(h) ? '' : ' class="num"';
      const title = h === 'id' && r.description !== undefined ? ` title="${escapeXml(r.description)}"` : '';
      return `<td${cls}${title}>${escapeXml(f(r))}</td>`;
    });
    return `<tr>${cells.join('')}</tr>`;
  });
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

/** An id attribute for a suite: ids may not contain spaces, and anchors read better plain. */
function anchor(suite: string): string {
  return 'suite-' + suite.replace(/[^A-Za-z0-9_-]/g, '-');
}

function section(result: BenchResult): string {
  const meta = result.meta !== undefined ? `<p class="meta">${escapeXml(JSON.stringify(result.meta))}</p>` : '';
  return [
    `<section id="${anchor(result.suite)}">`,
    `<h2>${escapeXml(result.suite)}</h2>`,
    `<p class="meta">profile ${escapeXml(result.profile)}</p>`,
    meta,
    table(result),
    `<figure>\n${renderBenchChart(result)}\n</figure>`,
    '</section>',
  ].join('\n');
}

/** The whole page: per suite, the comparison table and its SVG chart. No scripts, no network. */
export function renderBenchReport(results: readonly BenchResult[], opts: ReportOptions = {}): string {
  const when = opts.generatedAt ?? new Date().toISOString();
  const toc = results.map((r) => `<a href="#${anchor(r.suite)}">${escapeXml(r.suite)}</a>`).join(' · ');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>dunesim bench report</title>',
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<h1>dunesim bench report</h1>',
    `<p class="meta">generated ${escapeXml(when)} · suites: ${toc}</p>`,
    '<p class="meta">Model figures come from the emulated machine; paper figures from the Dune and IX papers. Each chart panel has its own scale.</p>',
    ...results.map(section),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes DIR/index.html; returns its path. */
export function writeBenchReport(dir: string, results: readonly BenchResult[], opts?: ReportOptions): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'index.html');
  writeFileSync(path, renderBenchReport(results, opts));
  return path;
}
