import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { comparisonChartSpec, gains, renderChart, suiteChartSpec } from './bench-chart.js';
import { BenchResult, columnLabels } from './bench-suite.js';
import { benchColumns, formatNumber, formatPercent } from './bench-table.js';
import { paperComparisons, WITHIN_PERCENT } from './paper-summary.js';
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
td.ok { color: #1a7f37; } td.miss { color: #b42318; font-weight: 600; }
`;

/** Columns whose cells are numbers (right-aligned). */
const TEXT_COLUMNS = new Set(['id', 'unit', 'mechanism counts', 'note']);

function table(result: BenchResult): string {
  const cols = benchColumns(result.rows, columnLabels(result));
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

async function section(result: BenchResult): Promise<string> {
  const meta = result.meta !== undefined ? `<p class="meta">${escapeXml(JSON.stringify(result.meta))}</p>` : '';
  return [
    `<section id="${anchor(result.suite)}">`,
    `<h2>${escapeXml(result.suite)}</h2>`,
    `<p class="meta">profile ${escapeXml(result.profile)}</p>`,
    meta,
    table(result),
    `<figure>\n${await renderChart(suiteChartSpec(result), `suite ${result.suite}: model and paper per row`)}\n</figure>`,
    '</section>',
  ].join('\n');
}

/** Every paper figure beside the model's, with its error and whether it is within the band. */
function summary(results: readonly BenchResult[]): string {
  const rows = paperComparisons(results);
  if (rows.length === 0) return '<p class="meta">No suite in this run has a paper figure.</p>';
  const within = rows.filter((r) => r.within).length;
  const body = rows.map((r) => [
    `<td><a href="#${anchor(r.suite)}">${escapeXml(r.suite)}</a></td>`,
    `<td>${escapeXml(r.row)}</td>`,
    `<td>${escapeXml(r.column)}</td>`,
    `<td>${escapeXml(r.unit)}</td>`,
    `<td class="num">${escapeXml(formatNumber(r.model))}</td>`,
    `<td class="num">${escapeXml(formatNumber(r.paper))}</td>`,
    `<td class="num">${escapeXml(formatPercent(r.errorPercent))}</td>`,
    `<td class="${r.within ? 'ok' : 'miss'}">${r.within ? 'yes' : 'no'}</td>`,
    `<td>${escapeXml(r.source ?? '')}</td>`,
    `<td>${escapeXml(r.mechanism)}</td>`,
  ].join(''));
  return [
    `<p>${within} of ${rows.length} paper figures are within ±${WITHIN_PERCENT} % of the model.</p>`,
    '<table class="summary">',
    '<thead><tr><th>suite</th><th>row</th><th>column</th><th>unit</th><th>model</th><th>paper</th><th>error %</th>' +
      `<th>within ±${WITHIN_PERCENT} %</th><th>source</th><th>mechanism</th></tr></thead>`,
    '<tbody>',
    ...body.map((b) => `<tr>${b}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

/** Each application's gain over Linux beside the paper's, on one chart. */
async function comparison(results: readonly BenchResult[]): Promise<string> {
  const spec = comparisonChartSpec(results);
  if (spec === undefined) return '<p class="meta">No row of this run has both columns in the model and in the paper.</p>';
  const g = gains(results);
  return [
    `<p class="meta">${g.length} rows with both columns measured and published.</p>`,
    `<figure>\n${await renderChart(spec, 'gain over Linux, model and paper')}\n</figure>`,
  ].join('\n');
}

/**
 * The whole page: the paper figures against the model, the plugin comparison, then per suite its
 * table and chart. One file: inline CSS, charts as inline SVG, no scripts, nothing fetched.
 */
export async function renderBenchReport(results: readonly BenchResult[], opts: ReportOptions = {}): Promise<string> {
  const when = opts.generatedAt ?? new Date().toISOString();
  const toc = results.map((r) => `<a href="#${anchor(r.suite)}">${escapeXml(r.suite)}</a>`).join(' · ');
  const sections: string[] = [];
  for (const r of results) sections.push(await section(r));
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
    '<h2 id="paper-figures">Paper figures against the model</h2>',
    summary(results),
    '<h2 id="comparison">The applications against Linux</h2>',
    await comparison(results),
    ...sections,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes DIR/index.html; returns its path. */
export async function writeBenchReport(dir: string, results: readonly BenchResult[], opts?: ReportOptions): Promise<string> {
  const html = await renderBenchReport(results, opts);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'index.html');
  writeFileSync(path, html);
  return path;
}
