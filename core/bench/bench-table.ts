import Table from 'cli-table3';
import { BenchResult, BenchRow } from './bench-suite.js';

/** A number as people read it in a table: 3–4 significant digits, exponent when far from 1. */
export function formatNumber(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e7)) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v); // counts: 0 and 8208, not 0.00 and 8208.00
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
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

/**
 * The columns of a result, shared by the terminal table and the HTML report: a column appears
 * only when some row has it.
 */
export function benchColumns(rows: readonly BenchRow[]): BenchColumn[] {
  const has = (f: (r: BenchRow) => unknown): boolean => rows.some((r) => f(r) !== undefined);
  const cols: BenchColumn[] = [['id', (r) => r.id], ['unit', (r) => r.unit]];
  if (has((r) => r.value)) cols.push(['value', (r) => formatNumber(r.value)]);
  if (has((r) => r.linux)) cols.push(['model linux', (r) => formatNumber(r.linux)]);
  if (has((r) => r.dune)) cols.push(['model dune', (r) => formatNumber(r.dune)]);
  if (has((r) => r.paper?.linux)) cols.push(['paper linux', (r) => formatNumber(r.paper?.linux)]);
  if (has((r) => r.paper?.dune)) cols.push(['paper dune', (r) => formatNumber(r.paper?.dune)]);
  if (has((r) => errorPercent(r.linux, r.paper?.linux))) {
    cols.push(['err linux %', (r) => formatNumber(errorPercent(r.linux, r.paper?.linux))]);
  }
  if (has((r) => errorPercent(r.dune, r.paper?.dune))) {
    cols.push(['err dune %', (r) => formatNumber(errorPercent(r.dune, r.paper?.dune))]);
  }
  if (has((r) => r.counts)) cols.push(['mechanism counts', counts]);
  if (has((r) => r.note)) cols.push(['note', (r) => r.note ?? '']);
  return cols;
}

/** The table people read in the terminal. */
export function renderBenchTable(result: BenchResult): string {
  const cols = benchColumns(result.rows);
  const t = new Table({ head: cols.map(([h]) => h), style: { head: [], border: [] } });
  for (const r of result.rows) t.push(cols.map(([, f]) => f(r)));
  return `suite ${result.suite} (profile ${result.profile})\n${t.toString()}`;
}
