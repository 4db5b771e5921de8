import Table from 'cli-table3';
import { BenchResult, BenchRow } from './bench-suite.js';

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e7)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Relative error of the model against the paper, in percent. */
export function errorPercent(model: number | undefined, paper: number | undefined): number | undefined {
  if (model === undefined || paper === undefined || paper === 0) return undefined;
  return ((model - paper) / paper) * 100;
}

function counts(r: BenchRow): string {
  if (r.counts === undefined) return '';
  return Object.entries(r.counts).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
}

/** The table people read: columns appear only when some row has them. */
export function renderBenchTable(result: BenchResult): string {
  const rows = result.rows;
  const has = (f: (r: BenchRow) => unknown): boolean => rows.some((r) => f(r) !== undefined);
  const cols: Array<[string, (r: BenchRow) => string]> = [['id', (r) => r.id], ['unit', (r) => r.unit]];
  if (has((r) => r.value)) cols.push(['value', (r) => fmt(r.value)]);
  if (has((r) => r.linux)) cols.push(['model linux', (r) => fmt(r.linux)]);
  if (has((r) => r.dune)) cols.push(['model dune', (r) => fmt(r.dune)]);
  if (has((r) => r.paper?.linux)) cols.push(['paper linux', (r) => fmt(r.paper?.linux)]);
  if (has((r) => r.paper?.dune)) cols.push(['paper dune', (r) => fmt(r.paper?.dune)]);
  if (has((r) => errorPercent(r.linux, r.paper?.linux))) {
    cols.push(['err linux %', (r) => fmt(errorPercent(r.linux, r.paper?.linux))]);
  }
  if (has((r) => errorPercent(r.dune, r.paper?.dune))) {
    cols.push(['err dune %', (r) => fmt(errorPercent(r.dune, r.paper?.dune))]);
  }
  if (has((r) => r.counts)) cols.push(['mechanism counts', counts]);
  if (has((r) => r.note)) cols.push(['note', (r) => r.note ?? '']);
  const t = new Table({ head: cols.map(([h]) => h), style: { head: [], border: [] } });
  for (const r of rows) t.push(cols.map(([, f]) => f(r)));
  return `suite ${result.suite} (profile ${result.profile})\n${t.toString()}`;
}
