import { availableParallelism } from 'node:os';
import { injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import { CliCommand } from '../framework/cli-command.js';
import { UsageError } from '../framework/usage-error.js';
import { checkOutputDir, checkOutputFile, writeOutputFile } from '../framework/output-path.js';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { writeBenchReport } from '../bench/bench-report.js';
import { BenchResult, BenchSuite } from '../bench/bench-suite.js';
import { benchJson, barSink, chooseSuites, lineSink, runSuite, runSuitesInParallel } from '../bench/bench-runner.js';
import { renderBenchTable } from '../bench/bench-table.js';
import { NO_JIT_HELP, disableJitByDefault } from '../vtx/interp/interpreter.js';

/** `dunesim bench SUITE… [--json FILE] [--report DIR] [--profile NAME]`. */
@injectable()
export class BenchCommand implements CliCommand {
  constructor(@multiInject(BenchSuite) private readonly suites: BenchSuite[]) {}

  register(program: Command): void {
    program
      .command('bench')
      .description('run benchmark suites and compare model, paper and error')
      .argument('<suite...>', `suites to run, or all (${this.suites.map((s) => s.id).join(', ') || 'none installed'})`)
      .option('--only <ids>', 'with all: run only these suites (comma-separated)')
      .option('--skip <ids>', 'leave these suites out (comma-separated)')
      .option('--json <file>', 'write the results as JSON: an array of results, one per suite (docs/architecture.md §3)')
      .option('--report <dir>', 'write DIR/index.html: tables and SVG charts, one self-contained page')
      .option('--profile <name>', 'cost profile (core/vtx/profiles)', DEFAULT_PROFILE)
      .option('--jobs <n>', 'suites run at once in worker threads (default: the cores; 1: one after another)')
      .option('--trace <dir>', 'write a Chrome Trace Event file per machine of each step into DIR (open in ui.perfetto.dev)')
      .option('--trace-row <label>', 'with --trace: only the step of this label, as the progress lines name it')
      .option('--no-jit', NO_JIT_HELP)
      .action(async (names: string[], opts: { json?: string; report?: string; profile: string; only?: string; skip?: string; jobs?: string; trace?: string; traceRow?: string; jit: boolean }) => {
        if (!opts.jit) disableJitByDefault();
        // Everything that can be refused is refused before the first suite runs.
        loadProfile(opts.profile);
        const chosen = chooseSuites(names, this.suites, opts);
        if (opts.json !== undefined) checkOutputFile(opts.json, '--json');
        if (opts.report !== undefined) checkOutputDir(opts.report, '--report');
        if (opts.traceRow !== undefined && opts.trace === undefined) throw new UsageError('--trace-row needs --trace DIR');
        if (opts.trace !== undefined) checkOutputDir(opts.trace, '--trace', 'trace.json');
        const trace = opts.trace === undefined ? undefined : { dir: opts.trace, row: opts.traceRow };
        const traced: string[] = [];
        const steps = new Set<string>();
        const jobs = opts.jobs === undefined ? availableParallelism() : Number(opts.jobs);
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be a whole number from 1 to 64, got '${opts.jobs}'`);
        const err = process.stderr;
        const width = process.stdout.isTTY ? process.stdout.columns : undefined;
        let results: BenchResult[];
        if (jobs > 1 && chosen.filter((s) => s.exclusive !== true).length > 1) {
          results = await runSuitesInParallel(chosen, opts.profile, jobs, (l) => err.write(l), trace, traced, steps);
          for (const r of results) process.stdout.write(renderBenchTable(r, width) + '\n');
        } else {
          const sink = err.isTTY ? barSink(err) : lineSink((l) => err.write(l));
          results = [];
          for (const suite of chosen) {
            const r = await runSuite(suite, opts.profile, sink, trace, traced, steps);
            results.push(r);
            process.stdout.write(renderBenchTable(r, width) + '\n');
          }
        }
        if (trace !== undefined) {
          if (traced.length === 0 && trace.row !== undefined) {
            throw new UsageError(`--trace-row '${trace.row}': no step of that name; the steps were: ${[...steps].join(', ')}`);
          }
          err.write(`wrote ${traced.length} trace${traced.length === 1 ? '' : 's'} into ${trace.dir}\n`);
        }
        if (opts.json !== undefined) {
          writeOutputFile(opts.json, benchJson(results), '--json');
          err.write(`wrote ${opts.json}\n`);
        }
        if (opts.report !== undefined) {
          let path: string;
          try {
            path = await writeBenchReport(opts.report, results);
          } catch (e) {
            throw new UsageError(`--report ${opts.report}: cannot write it: ${(e as Error).message}`);
          }
          err.write(`wrote ${path}\n`);
        }
      });
  }
}
