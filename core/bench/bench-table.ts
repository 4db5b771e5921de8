import Table from 'cli-table3';
import { BenchResult, BenchRow, columnLabels } from './bench-suite.js';

/**
 * A number as people read it in a table: counts exactly (0 and 8208, not 0.00 and 8.21e+3), other
 * values to four significant digits in plain notation (0.0046, 35.8, 4.323, 701415), an exponent
 * only for magnitudes plain notation cannot show sensibly (below 1e-4, from 1e12).
 */
export function formatNumber(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e15) return String(v);
  if (a >= 1e12 || a < 1e-4) return v.toExponential(2);
  if (a >= 1000) return v.toFixed(0);
  // Trailing zeros claim a precision the figure may not have (a paper's 35.8 is not 35.80).
  return v.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/**
 * An error in percent with one decimal and its sign (−0.2, +1.6, −64.0): the model's error
 * against a paper is never meaningful below a tenth of a percent, so rounding noise such as
 * 3.97e-11 % reads as 0.0.
 */
export function formatPercent(e: number | undefined): string {
  if (e === undefined || Number.isNaN(e)) return '';
  const r = Math.abs(e) >= 1000 ? e.toFixed(0) : e.toFixed(1);
  if (Number(r) === 0) return '0.0';
  return e > 0 ? `+${r}` : r;
}

/** Relative error of the model against the paper, in percent. */
export function errorPercent(model: number | undefined, paper: number | undefined): number | undefined {
  if (model === undefined || paper === undefined || paper === 0) return undefined;
  return ((model - paper) / paper) * 100;
}

function counts(r: BenchRow): string {
  if (r.counts === undefined) return '';
  return Object.entries(r.counts).map(([k, v]) => `${k}=${formatNumber(v)}`).join(' ');
}

export type BenchColumn = [header: string, cell: (r: BenchRow) => string];

/** Columns of free text, which wrap or move below their row when the table is too wide. */
export const TEXT_COLUMNS: ReadonlySet<string> = new Set(['mechanism counts', 'note']);

/**
 * The columns of a result, shared by the terminal table and the HTML report: a column appears
 * only when some row has it.
 */
export function benchColumns(rows: readonly BenchRow[], labels: { linux: string; dune: string } = { linux: 'linux', dune: 'dune' }): BenchColumn[] {
  const has = (f: (r: BenchRow) => unknown): boolean => rows.some((r) => f(r) !== undefined);
  const { linux: L, dune: D } = labels;
  const cols: BenchColumn[] = [['id', (r) => r.id], ['unit', (r) => r.unit]];
  if (has((r) => r.value)) cols.push(['value', (r) => formatNumber(r.value)]);
  if (has((r) => r.linux)) cols.push([`model ${L}`, (r) => formatNumber(r.linux)]);
  if (has((r) => r.dune)) cols.push([`model ${D}`, (r) => formatNumber(r.dune)]);
  if (has((r) => r.paper?.linux)) cols.push([`paper ${L}`, (r) => formatNumber(r.paper?.linux)]);
  if (has((r) => r.paper?.dune)) cols.push([`paper ${D}`, (r) => formatNumber(r.paper?.dune)]);
  if (has((r) => errorPercent(r.linux, r.paper?.linux))) {
    cols.push([`err ${L} %`, (r) => formatPercent(errorPercent(r.linux, r.paper?.linux))]);
  }
  if (has((r) => errorPercent(r.dune, r.paper?.dune))) {
    cols.push([`err ${D} %`, (r) => formatPercent(errorPercent(r.dune, r.paper?.dune))]);
  }
  if (has((r) => r.crossCheck?.linux)) cols.push([`check ${L}`, (r) => formatNumber(r.crossCheck?.linux)]);
  if (has((r) => r.crossCheck?.dune)) cols.push([`check ${D}`, (r) => formatNumber(r.crossCheck?.dune)]);
  if (has((r) => r.counts)) cols.push(['mechanism counts', counts]);
  if (has((r) => r.note)) cols.push(['note', (r) => r.note ?? '']);
  return cols;
}

/** Display width of a rendered table: its longest line. */
function widthOf(text: string): number {
  let w = 0;
  for (const line of text.split('\n')) w = Math.max(w, line.length);
  return w;
}

/** Breaks text into lines of at most `width` characters, at spaces where it can. */
export function wrapText(text: string, width: number): string {
  const w = Math.max(8, width);
  const out: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter((x) => x !== '')) {
    while (word.length > w) {
      if (line !== '') {
        out.push(line);
        line = '';
      }
      out.push(word.slice(0, w));
      word = word.slice(w);
    }
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= w) line += ' ' + word;
    else {
      out.push(line);
      line = word;
    }
  }
  if (line !== '') out.push(line);
  return out.join('\n');
}

const STYLE = { head: [], border: [] };

/**
 * The table people read in the terminal, no wider than `width` columns (the terminal's; unlimited
 * when undefined). When the whole table would be wider, the free-text columns (mechanism counts,
 * notes) move below their row, wrapped to the table's width; when even the numbers do not fit,
 * each row becomes a block of `column: value` lines.
 */
export function renderBenchTable(result: BenchResult, width?: number): string {
  const title = `suite ${result.suite} (profile ${result.profile})`;
  const cols = benchColumns(result.rows, columnLabels(result));
  const full = new Table({ head: cols.map(([h]) => h), style: STYLE });
  for (const r of result.rows) full.push(cols.map(([, f]) => f(r)));
  const text = full.toString();
  if (width === undefined || widthOf(text) <= width) return `${title}\n${text}`;

  const main = cols.filter(([h]) => !TEXT_COLUMNS.has(h));
  const below = cols.filter(([h]) => TEXT_COLUMNS.has(h));
  // Two-word headers ('model linux') go on two lines: the numbers under them are narrower.
  const head = main.map(([h]) => h.replace(' ', '\n'));
  const narrow = new Table({ head, style: STYLE });
  for (const r of result.rows) narrow.push(main.map(([, f]) => f(r)));
  const narrowWidth = widthOf(narrow.toString());
  if (narrowWidth <= width) {
    if (below.length === 0) return `${title}\n${narrow.toString()}`;
    // The text cell spans the row; 4 = its two borders and two padding spaces.
    const t = new Table({ head, style: STYLE });
    for (const r of result.rows) {
      t.push(main.map(([, f]) => f(r)));
      const extra = below.filter(([, f]) => f(r) !== '').map(([h, f]) => wrapText(`${h}: ${f(r)}`, narrowWidth - 4));
      if (extra.length > 0) t.push([{ colSpan: main.length, content: extra.join('\n') }]);
    }
    return `${title}\n${t.toString()}`;
  }
  // Too narrow for any table: one block per row.
  const lines = [title];
  for (const r of result.rows) {
    lines.push('');
    for (const [h, f] of cols) {
      const v = f(r);
      if (v !== '') lines.push(wrapText(`${h}: ${v}`, width));
    }
  }
  return lines.join('\n');
}
