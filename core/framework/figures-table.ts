import Table from 'cli-table3';

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 1e9)) return v.toExponential(3);
  // toPrecision alone would print 123456.7 as 1.235e+5.
  return a >= 1000 ? v.toFixed(1) : v.toPrecision(4);
}

/** The figures an application returned, as a two-column table for people. */
export function renderFiguresTable(figures: Record<string, number>): string {
  const t = new Table({ head: ['figure', 'value'], colAligns: ['left', 'right'], style: { head: [], border: [] } });
  for (const [k, v] of Object.entries(figures)) t.push([k, fmt(v)]);
  return t.toString();
}
