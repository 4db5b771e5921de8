import { BenchResult, columnLabels } from './bench-suite.js';
import { errorPercent, formatNumber } from './bench-table.js';

/** The band within which a model figure counts as reproducing the paper's. */
export const WITHIN_PERCENT = 10;

/** One figure of a paper beside the model's value for it. */
export interface PaperComparison {
  suite: string;
  row: string;
  /** The column's name: linux, dune, sandbox, ptrace… */
  column: string;
  unit: string;
  model: number;
  paper: number;
  /** Signed error of the model against the paper, in percent. */
  errorPercent: number;
  within: boolean;
  source?: string;
  /** What explains the figure: the row's note, else its mechanism counts. */
  mechanism: string;
}

function mechanismOf(counts: Record<string, number> | undefined, note: string | undefined): string {
  if (note !== undefined && note !== '') return note;
  if (counts === undefined) return '';
  return Object.entries(counts).slice(0, 6).map(([k, v]) => `${k}=${formatNumber(v)}`).join(' ');
}

/** Every paper figure of every result that the model also produced, in suite and row order. */
export function paperComparisons(results: readonly BenchResult[]): PaperComparison[] {
  const out: PaperComparison[] = [];
  for (const r of results) {
    for (const row of r.rows) {
      const labels = columnLabels(r, row);
      for (const col of ['linux', 'dune'] as const) {
        const model = row[col];
        const paper = row.paper?.[col];
        const e = errorPercent(model, paper);
        if (model === undefined || paper === undefined || e === undefined || !Number.isFinite(e)) continue;
        out.push({
          suite: r.suite, row: row.id, column: labels[col], unit: row.unit, model, paper,
          errorPercent: e, within: Math.abs(e) <= WITHIN_PERCENT, source: row.paper?.source,
          mechanism: mechanismOf(row.counts, row.note),
        });
      }
    }
  }
  return out;
}
