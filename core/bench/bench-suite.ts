/**
 * Extension point: a benchmark suite (`dunesim bench <id>`). Theia-style: a Symbol and an
 * interface of the same name; plugins bind their suites to it in their ContainerModule.
 */
export const BenchSuite = Symbol('BenchSuite');

export interface BenchSuite {
  readonly id: string;
  readonly description: string;
  /** Number of steps `run` reports through `progress` (for the progress bar). */
  readonly steps: number;
  /**
   * The suite measures the host itself (wall-clock speed of the simulator): it runs alone, never
   * beside another suite in a parallel `bench all`.
   */
  readonly exclusive?: boolean;
  run(ctx: BenchContext): Promise<BenchResult> | BenchResult;
}

export interface BenchContext {
  /** Cost profile name to use for machines the suite builds. */
  readonly profile: string;
  /** Reports that one more step finished (`label` names it). */
  progress(label: string): void;
}

/** A figure of the papers: Linux and Dune (or IX) columns, either may be absent. */
export interface PaperFigure {
  linux?: number;
  dune?: number;
  source?: string;
}

/**
 * One row of a result. Comparison suites fill `linux`/`dune` (model) and `paper`; suites that
 * measure one quantity (e.g. the simulator's own speed) fill `value`. `counts` holds the
 * mechanism counts per operation that explain the figure (VM exits by reason, walks, faults…).
 */
export interface BenchRow {
  id: string;
  unit: string;
  description?: string;
  value?: number;
  linux?: number;
  dune?: number;
  paper?: PaperFigure;
  /**
   * The same row measured a second, independent way (dune-micro: the TypeScript workloads beside
   * the C programs whose figures fill `linux` and `dune`), shown beside the model's as a check.
   */
  crossCheck?: PaperFigure;
  counts?: Record<string, number>;
  note?: string;
  /** What this row's linux and dune columns hold, when not Linux and Dune (e.g. ptrace vs the sandbox). */
  columns?: ColumnLabels;
  /** The row is one point of a series (its `value` at `x`): consecutive such rows of one unit make a line chart. */
  series?: { name: string; x: number; xUnit: string };
}

/** Names of the two comparison columns as tables and charts show them. */
export interface ColumnLabels {
  linux?: string;
  dune?: string;
}

/** The labels of a row's columns: the row's own, else the result's, else linux and dune. */
export function columnLabels(result: BenchResult, row?: BenchRow): { linux: string; dune: string } {
  return {
    linux: row?.columns?.linux ?? result.columns?.linux ?? 'linux',
    dune: row?.columns?.dune ?? result.columns?.dune ?? 'dune',
  };
}

export interface BenchResult {
  suite: string;
  profile: string;
  rows: BenchRow[];
  /** Free-form facts about the run (machine, iterations, host). */
  meta?: Record<string, unknown>;
  /** What the linux and dune columns hold in this suite (the sandbox suite's dune column is the sandbox). */
  columns?: ColumnLabels;
}
