import { parse, View } from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';
import { BenchResult, BenchRow, columnLabels } from './bench-suite.js';
import { errorPercent, formatNumber, formatPercent } from './bench-table.js';

/**
 * The report's charts, as Vega-Lite specifications rendered to SVG when the report is written
 * (vega's headless renderer; no canvas, no network, no script in the page). Every panel has a
 * value axis with ticks and the row's unit, bars are labelled with their value and, for model
 * bars, the error against the paper.
 */

export type BarKind = 'value' | 'linux-model' | 'linux-paper' | 'dune-model' | 'dune-paper';

export const COLOURS: Record<BarKind, string> = {
  'value': '#59a14f',
  'linux-model': '#4e79a7',
  'linux-paper': '#a0cbe8',
  'dune-model': '#e8762b',
  'dune-paper': '#ffbe7d',
};

const KINDS = Object.keys(COLOURS) as BarKind[];
const PANEL_WIDTH = 380;
const LABEL_LIMIT = 170;
/** A panel whose positive values span more than this ratio is drawn on a log scale (on a linear one the small bars would be under 5 % of the width). */
const LOG_SPAN = 20;

interface Bar {
  bar: string;
  kind: BarKind;
  value: number;
  text: string;
}

function finite(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v);
}

function barsOf(r: BenchRow, labels: { linux: string; dune: string }): Bar[] {
  const bars: Bar[] = [];
  const push = (bar: string, kind: BarKind, value: number | undefined, paper?: number): void => {
    if (!finite(value)) return;
    const e = errorPercent(value, paper);
    bars.push({ bar, kind, value, text: formatNumber(value) + (e === undefined ? '' : `  (${formatPercent(e)} % vs paper)`) });
  };
  push(r.id, 'value', r.value);
  push(`${labels.linux} · model`, 'linux-model', r.linux, r.paper?.linux);
  push(`${labels.linux} · paper`, 'linux-paper', r.paper?.linux);
  push(`${labels.dune} · model`, 'dune-model', r.dune, r.paper?.dune);
  push(`${labels.dune} · paper`, 'dune-paper', r.paper?.dune);
  return bars;
}

/**
 * A log axis from the decade below the smallest value to the decade above the largest. Bars on a
 * log scale need an explicit base (x2): there is no zero to grow them from.
 */
function logDomain(values: readonly number[]): [number, number] {
  // A smallest value that is itself a power of ten still gets a bar: its base is a decade lower.
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)) - 1e-9);
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  return [lo, hi > lo ? hi : lo * 10];
}

/** Log scale when every value is positive and they span orders of magnitude. */
function wantsLog(values: readonly number[]): boolean {
  if (values.length < 2 || values.some((v) => !(v > 0))) return false;
  return Math.max(...values) / Math.min(...values) > LOG_SPAN;
}

/** One panel: horizontal bars with value labels, its own scale, its unit on the axis. */
function barPanel(title: string, subtitle: string | undefined, unit: string, bars: readonly Bar[]): Record<string, unknown> {
  const log = wantsLog(bars.map((b) => b.value));
  const domain = log ? logDomain(bars.map((b) => b.value)) : undefined;
  return {
    title: { text: title, subtitle: subtitle ?? '', anchor: 'start', fontSize: 13, subtitleFontSize: 11, limit: PANEL_WIDTH + LABEL_LIMIT },
    width: PANEL_WIDTH,
    height: { step: 18 },
    data: { values: bars },
    encoding: {
      y: { field: 'bar', type: 'nominal', sort: null, axis: { title: null, labelLimit: LABEL_LIMIT } },
      x: {
        field: 'value', type: 'quantitative',
        scale: domain !== undefined ? { type: 'log', domain } : { zero: true, nice: true },
        // SI prefixes (20k, 3M) only for large figures: on small ones '~s' writes 0.1 as 100m.
        axis: { title: log ? `${unit} (log scale)` : unit, format: Math.max(...bars.map((b) => Math.abs(b.value))) >= 1e4 ? '~s' : '~r', tickCount: 5, grid: true },
      },
    },
    layer: [
      {
        mark: { type: 'bar', tooltip: false },
        encoding: {
          ...(domain !== undefined ? { x2: { datum: domain[0] } } : {}),
          color: { field: 'kind', type: 'nominal', scale: { domain: KINDS, range: KINDS.map((k) => COLOURS[k]) }, legend: null },
        },
      },
      { mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4, fontSize: 11 }, encoding: { text: { field: 'text' } } },
    ],
  };
}

/**
 * Points of one or more series over a shared x: a line per series, log axes where values span
 * decades. A point with a paper figure (its `paper.dune`, else `paper.linux`) also puts that
 * figure on a line of its own, "<series> · paper", so each series is drawn against the paper's.
 */
function linePanel(unit: string, rows: readonly BenchRow[]): Record<string, unknown> {
  const points = rows.map((r) => ({ series: r.series!.name, x: r.series!.x, value: r.value!, id: r.id }));
  for (const r of rows) {
    const paper = r.paper?.dune ?? r.paper?.linux;
    if (finite(paper)) points.push({ series: `${r.series!.name} · paper`, x: r.series!.x, value: paper, id: `${r.id} (paper)` });
  }
  const xs = points.map((p) => p.x);
  const xLog = wantsLog(xs);
  return {
    title: { text: unit, subtitle: `over ${rows[0]!.series!.xUnit}`, anchor: 'start', fontSize: 13, subtitleFontSize: 11 },
    width: PANEL_WIDTH,
    height: 180,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: xLog ? { type: 'log', domain: logDomain(xs) } : { zero: false }, axis: { title: rows[0]!.series!.xUnit, format: '~r', grid: true } },
      y: { field: 'value', type: 'quantitative', scale: { zero: true, nice: true }, axis: { title: unit, format: '~r', grid: true } },
      color: { field: 'series', type: 'nominal', legend: { title: null, orient: 'bottom' } },
    },
  };
}

/**
 * The chart of one suite: a row comparing Linux and Dune gets a panel (model and paper bars of
 * each column); single-value rows share one panel and one scale per unit (placed where the unit
 * first appears), so the exec suite's M instr/s rows sit on one axis and its slowdowns on another;
 * rows of a series make a line chart per unit.
 */
export function suiteChartSpec(result: BenchResult): TopLevelSpec {
  const panels: Array<Record<string, unknown> | { unit: string; bars: Bar[] } | { unit: string; rows: BenchRow[] }> = [];
  const values = new Map<string, { unit: string; bars: Bar[] }>();
  const lines = new Map<string, { unit: string; rows: BenchRow[] }>();
  for (const row of result.rows) {
    if (row.series !== undefined && finite(row.value)) {
      let l = lines.get(row.unit);
      if (l === undefined) {
        l = { unit: row.unit, rows: [] };
        lines.set(row.unit, l);
        panels.push(l);
      }
      l.rows.push(row);
      continue;
    }
    const bars = barsOf(row, columnLabels(result, row));
    if (bars.length === 1 && bars[0]!.kind === 'value') {
      let v = values.get(row.unit);
      if (v === undefined) {
        v = { unit: row.unit, bars: [] };
        values.set(row.unit, v);
        panels.push(v);
      }
      v.bars.push(bars[0]!);
      continue;
    }
    if (bars.length > 0) panels.push(barPanel(row.id, row.description, row.unit, bars));
  }
  const specs = panels.map((p) => {
    if ('rows' in p && Array.isArray(p.rows)) return linePanel(p.unit as string, p.rows as BenchRow[]);
    if ('bars' in p && Array.isArray(p.bars)) return barPanel(p.unit as string, undefined, p.unit as string, p.bars as Bar[]);
    return p as Record<string, unknown>;
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    vconcat: specs.length > 0 ? specs : [barPanel(result.suite, 'no figures', '', [])],
    spacing: 24,
    // Bar panels colour by kind (no legend) and series panels by series (with one): each panel
    // keeps its own colour scale and legend instead of merging them.
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'system-ui, sans-serif', view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 11 } },
  } as unknown as TopLevelSpec;
}

/** Whether a larger figure is the better one (throughputs) rather than the smaller (cycles, µs). */
export function higherIsBetter(row: BenchRow): boolean {
  return /\/\s*s\b|per second|req\/s|ops/i.test(row.unit);
}

/** One application's gain over Linux on one row, as the model and the paper give it. */
export interface Gain {
  suite: string;
  row: string;
  column: string;
  model: number;
  paper: number;
}

/**
 * The gains that can be compared: rows with both model columns and both paper columns, all
 * positive, in a unit that is not already a difference (percent). Gain = how many times better
 * the Dune-side column is than Linux: linux ÷ dune for times, dune ÷ linux for throughputs.
 */
export function gains(results: readonly BenchResult[]): Gain[] {
  const out: Gain[] = [];
  for (const r of results) {
    for (const row of r.rows) {
      const { linux, dune } = row;
      const pl = row.paper?.linux;
      const pd = row.paper?.dune;
      if (!finite(linux) || !finite(dune) || !finite(pl) || !finite(pd)) continue;
      if (row.unit.includes('%') || !(linux > 0 && dune > 0 && pl > 0 && pd > 0)) continue;
      const up = higherIsBetter(row);
      out.push({
        suite: r.suite, row: row.id, column: columnLabels(r, row).dune,
        model: up ? dune / linux : linux / dune,
        paper: up ? pd / pl : pl / pd,
      });
    }
  }
  return out;
}

/** Every application's gain over Linux, model beside paper, on one log axis with 1× marked. */
export function comparisonChartSpec(results: readonly BenchResult[]): TopLevelSpec | undefined {
  const g = gains(results);
  if (g.length === 0) return undefined;
  const label = (x: Gain): string => `${x.suite} · ${x.row}${x.column === 'dune' ? '' : ` (${x.column})`}`;
  const values = g.flatMap((x) => [
    { label: label(x), which: 'model', gain: x.model, text: `${formatNumber(x.model)}×` },
    { label: label(x), which: 'paper', gain: x.paper, text: `${formatNumber(x.paper)}×` },
  ]);
  const y = { field: 'label', type: 'nominal', sort: null, axis: { title: null, labelLimit: 300 } };
  const yOffset = { field: 'which', type: 'nominal', sort: ['model', 'paper'] };
  const domain = logDomain([...g.map((v) => v.model), ...g.map((v) => v.paper), 1]);
  const x = { field: 'gain', type: 'quantitative', scale: { type: 'log', domain }, axis: { title: 'gain (×, log scale)', format: '~r', grid: true } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Gain over Linux, model and paper',
      subtitle: 'times better than the Linux column (Linux ÷ Dune for times, Dune ÷ Linux for throughputs); the dashed line is 1×, no gain',
      anchor: 'start', fontSize: 13, subtitleFontSize: 11,
    },
    width: PANEL_WIDTH,
    height: { step: 14 },
    layer: [
      {
        data: { values },
        mark: 'bar',
        encoding: {
          y, yOffset, x, x2: { datum: domain[0] },
          color: { field: 'which', type: 'nominal', scale: { domain: ['model', 'paper'], range: [COLOURS['dune-model'], COLOURS['dune-paper']] }, legend: { title: null, orient: 'bottom' } },
        },
      },
      {
        data: { values },
        mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4, fontSize: 10 },
        encoding: { y, yOffset, x, text: { field: 'text' } },
      },
      { mark: { type: 'rule', color: '#555', strokeDash: [4, 3] }, encoding: { x: { datum: 1, type: 'quantitative' } } },
    ],
    config: { font: 'system-ui, sans-serif', view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 11 } },
  } as unknown as TopLevelSpec;
}

/** Renders a Vega-Lite specification to a standalone SVG element (deterministic for the same input). */
export async function renderChart(spec: TopLevelSpec, label: string): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // Accessible name, and the class the page's CSS scales by.
    return svg
      .replace('class="marks"', 'class="marks chart"')
      .replace('<svg ', `<svg role="img" aria-label="${label.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}" `);
  } finally {
    view.finalize();
  }
}
