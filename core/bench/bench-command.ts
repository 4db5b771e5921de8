import { injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { CliCommand } from '../framework/cli-command.js';
import { UsageError } from '../framework/usage-error.js';
import { checkOutputDir, checkOutputFile, writeOutputFile } from '../framework/output-path.js';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { writeBenchReport } from './bench-report.js';
import { BenchResult, BenchSuite } from './bench-suite.js';
import { renderBenchTable } from './bench-table.js';

/** Where a run's progress goes: a bar on a terminal, one line per step otherwise (a log, CI). */
export interface ProgressSink {
  start(suite: BenchSuite): void;
  step(label: string): void;
  stop(): void;
}

/** A redrawn bar, for a terminal. */
function barSink(stream: NodeJS.WriteStream): ProgressSink {
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(suite) {
      bar = new cliProgress.SingleBar(
        { format: `${suite.id} [{bar}] {value}/{total} {step}`, stream, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(suite.steps, 0, { step: '' });
    },
    step(label) {
      bar?.increment(1, { step: label });
    },
    stop() {
      bar?.stop();
    },
  };
}

/**
 * Plain lines, for a stream that is not a terminal: a redrawn bar would be escape codes in a log,
 * and no output at all leaves a user staring at a silent minute.
 */
export function lineSink(write: (line: string) => void): ProgressSink {
  let id = '';
  let total = 0;
  let done = 0;
  return {
    start(suite) {
      id = suite.id;
      total = suite.steps;
      done = 0;
      write(`bench ${id}: ${total} steps\n`);
    },
    step(label) {
      done++;
      write(`bench ${id}: ${done}/${total} ${label}\n`);
    },
    stop() {},
  };
}

/** The suites named on the command line, each once, in the order first named. */
export function chooseSuites(names: readonly string[], suites: readonly BenchSuite[]): BenchSuite[] {
  const chosen: BenchSuite[] = [];
  for (const n of names) {
    const s = suites.find((x) => x.id === n);
    if (s === undefined) throw new UsageError(`unknown bench suite '${n}'; available: ${suites.map((x) => x.id).join(', ')}`);
    if (!chosen.includes(s)) chosen.push(s);
  }
  return chosen;
}

/**
 * What `--json` writes: always an array of results, one per suite run, whether one suite ran or
 * several, so that a reader has one shape to parse (docs/architecture.md §3).
 */
export function benchJson(results: readonly BenchResult[]): string {
  return JSON.stringify(results, null, 2) + '\n';
}

/** `dunesim bench SUITE… [--json FILE] [--report DIR] [--profile NAME]`. */
@injectable()
export class BenchCommand implements CliCommand {
  constructor(@multiInject(BenchSuite) private readonly suites: BenchSuite[]) {}

  register(program: Command): void {
    program
      .command('bench')
      .description('run benchmark suites and compare model, paper and error')
      .argument('<suite...>', `suites to run (${this.suites.map((s) => s.id).join(', ') || 'none installed'})`)
      .option('--json <file>', 'write the results as JSON: an array of results, one per suite (docs/architecture.md §3)')
      .option('--report <dir>', 'write DIR/index.html: tables and SVG charts, one self-contained page')
      .option('--profile <name>', 'cost profile (core/vtx/profiles)', DEFAULT_PROFILE)
      .action(async (names: string[], opts: { json?: string; report?: string; profile: string }) => {
        // Everything that can be refused is refused before the first suite runs.
        loadProfile(opts.profile);
        const chosen = chooseSuites(names, this.suites);
        if (opts.json !== undefined) checkOutputFile(opts.json, '--json');
        if (opts.report !== undefined) checkOutputDir(opts.report, '--report');
        const err = process.stderr;
        const sink = err.isTTY ? barSink(err) : lineSink((l) => err.write(l));
        const width = process.stdout.isTTY ? process.stdout.columns : undefined;
        const results: BenchResult[] = [];
        for (const suite of chosen) {
          const r = await this.runSuite(suite, opts.profile, sink);
          results.push(r);
          process.stdout.write(renderBenchTable(r, width) + '\n');
        }
        if (opts.json !== undefined) {
          writeOutputFile(opts.json, benchJson(results), '--json');
          err.write(`wrote ${opts.json}\n`);
        }
        if (opts.report !== undefined) {
          let path: string;
          try {
            path = writeBenchReport(opts.report, results);
          } catch (e) {
            throw new UsageError(`--report ${opts.report}: cannot write it: ${(e as Error).message}`);
          }
          err.write(`wrote ${path}\n`);
        }
      });
  }

  private async runSuite(suite: BenchSuite, profile: string, sink: ProgressSink): Promise<BenchResult> {
    sink.start(suite);
    try {
      return await suite.run({ profile, progress: (step) => sink.step(step) });
    } finally {
      sink.stop();
    }
  }
}
