import { BenchResult, BenchRow } from './bench-suite.js';
import { errorPercent, formatNumber, formatPercent } from './bench-table.js';
import { escapeXml } from './escape-xml.js';

/** One bar: what it shows, its value, and its colour class. */
interface Bar {
  label: string;
  value: number;
  kind: 'value' | 'linux-model' | 'linux-paper' | 'dune-model' | 'dune-paper';
  /** Extra text after the value (the model's error against the paper). */
  note?: string;
}

/** The bars of one row: a row is a "bar group" in the chart. */
interface Group {
  row: BenchRow;
  /** Shown at the left of a single-bar group; a comparison group's label is its panel title. */
  label?: string;
  bars: Bar[];
}

/** A panel: one scale, one title, one or more groups. */
interface Panel {
  title: string;
  groups: Group[];
}

export const COLOURS: Record<Bar['kind'], string> = {
  'value': '#59a14f',
  'linux-model': '#4e79a7',
  'linux-paper': '#a0cbe8',
  'dune-model': '#e8762b',
  'dune-paper': '#ffbe7d',
};

// Layout, in SVG user units (pixels at 100 %).
const WIDTH = 760;
const LABEL_W = 240;
const BAR_W = 360;
const BAR_H = 14;
const BAR_GAP = 4;
const GROUP_GAP = 8;
const TITLE_H = 22;
const PANEL_GAP = 16;
const MAX_LABEL = 36;

function finite(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v);
}

function errNote(model: number | undefined, paper: number | undefined): string | undefined {
  const e = errorPercent(model, paper);
  return e === undefined ? undefined : `${formatPercent(e)} % vs paper`;
}

function barsOf(r: BenchRow): Bar[] {
  const bars: Bar[] = [];
  if (finite(r.value)) bars.push({ label: r.id, value: r.value, kind: 'value' });
  if (finite(r.linux)) bars.push({ label: 'linux · model', value: r.linux, kind: 'linux-model', note: errNote(r.linux, r.paper?.linux) });
  if (finite(r.paper?.linux)) bars.push({ label: 'linux · paper', value: r.paper.linux, kind: 'linux-paper' });
  if (finite(r.dune)) bars.push({ label: 'dune · model', value: r.dune, kind: 'dune-model', note: errNote(r.dune, r.paper?.dune) });
  if (finite(r.paper?.dune)) bars.push({ label: 'dune · paper', value: r.paper.dune, kind: 'dune-paper' });
  return bars;
}

/**
 * Rows of very different magnitudes share no scale: a row comparing Linux and Dune gets a panel
 * of its own (model and paper bars for each), and a run of single-value rows with the same unit
 * shares one panel (so `4 KiB pages` and `2 MiB pages` sit on the same axis).
 */
function panelsOf(rows: readonly BenchRow[]): Panel[] {
  const panels: Panel[] = [];
  let run: Panel | undefined;
  let runUnit = '';
  for (const row of rows) {
    const bars = barsOf(row);
    const valueOnly = bars.length === 1 && bars[0]!.kind === 'value';
    if (valueOnly) {
      if (run === undefined || runUnit !== row.unit) {
        run = { title: row.unit, groups: [] };
        runUnit = row.unit;
        panels.push(run);
      }
      run.groups.push({ row, label: row.id, bars });
    } else {
      run = undefined;
      panels.push({ title: `${row.id} (${row.unit})`, groups: [{ row, bars }] });
    }
  }
  return panels;
}

function clip(s: string): string {
  return s.length > MAX_LABEL ? s.slice(0, MAX_LABEL - 1) + '…' : s;
}

/**
 * The SVG chart of one suite, written by hand: small multiples, one linear scale per panel,
 * every bar labelled with its value. Each row is a `<g class="bar-group">`.
 */
export function renderBenchChart(result: BenchResult): string {
  const panels = panelsOf(result.rows);
  const parts: string[] = [];
  let y = 0;
  for (const panel of panels) {
    const values = panel.groups.flatMap((g) => g.bars.map((b) => b.value));
    const lo = Math.min(0, ...values);
    let hi = Math.max(0, ...values);
    if (hi === lo) hi = lo + 1;
    const x = (v: number): number => LABEL_W + ((v - lo) / (hi - lo)) * BAR_W;
    const x0 = x(0);
    const top = y;
    parts.push(`<g class="panel">`);
    parts.push(`<text class="panel-title" x="0" y="${y + 15}" font-weight="600">${escapeXml(panel.title)}</text>`);
    y += TITLE_H;
    for (const g of panel.groups) {
      parts.push(`<g class="bar-group" data-row="${escapeXml(g.row.id)}">`);
      parts.push(`<title>${escapeXml(g.row.id + (g.row.description !== undefined ? ` — ${g.row.description}` : ''))}</title>`);
      if (g.bars.length === 0) {
        parts.push(`<text class="label" x="${LABEL_W - 6}" y="${y + 11}" text-anchor="end">${escapeXml(clip(g.row.id))}</text>`);
        parts.push(`<text class="val" x="${x0 + 4}" y="${y + 11}">no figure</text>`);
        y += BAR_H + BAR_GAP;
      }
      for (const b of g.bars) {
        const a = Math.min(x0, x(b.value));
        const w = Math.max(Math.abs(x(b.value) - x0), 0.5); // a zero still shows as a hairline
        const text = formatNumber(b.value) + (b.note !== undefined ? `  (${b.note})` : '');
        parts.push(`<text class="label" x="${LABEL_W - 6}" y="${y + 11}" text-anchor="end">${escapeXml(clip(b.label))}</text>`);
        parts.push(`<rect class="bar ${b.kind}" x="${a.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLOURS[b.kind]}"/>`);
        parts.push(`<text class="val" x="${(Math.max(x0, x(b.value)) + 4).toFixed(1)}" y="${y + 11}">${escapeXml(text)}</text>`);
        y += BAR_H + BAR_GAP;
      }
      parts.push('</g>');
      y += GROUP_GAP - BAR_GAP;
    }
    // The zero line, drawn last so bars do not hide it.
    parts.push(`<line class="axis" x1="${x0.toFixed(1)}" y1="${top + TITLE_H - 3}" x2="${x0.toFixed(1)}" y2="${y - GROUP_GAP + BAR_GAP}" stroke="#555"/>`);
    parts.push('</g>');
    y += PANEL_GAP;
  }
  const height = Math.max(y, 1);
  const label = `suite ${result.suite}: model and paper per row`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(label)}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(label)}</title>`,
    ...parts,
    '</svg>',
  ].join('\n');
}
