import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { CliCommand } from '../framework/cli-command.js';
import { UsageError } from '../framework/usage-error.js';
import { checkOutputDir, checkOutputFile, writeOutputFile } from '../framework/output-path.js';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { writeBenchReport } from './bench-report.js';
import { BenchResult, BenchSuite } from './bench-suite.js';
import { NO_JIT_HELP, disableJitByDefault } from '../vtx/interp/interpreter.js';
import type { BenchWorkerJob, BenchWorkerMessage } from './bench-worker.js';
import { TraceCapture } from '../trace-capture.js';
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

function suiteNamed(n: string, suites: readonly BenchSuite[], flag = ''): BenchSuite {
  const s = suites.find((x) => x.id === n);
  if (s === undefined) throw new UsageError(`${flag}unknown bench suite '${n}'; available: ${suites.map((x) => x.id).join(', ')}`);
  return s;
}

/** A comma-separated list of suite ids (`--only a,b`), each checked. */
function suiteList(list: string | undefined, suites: readonly BenchSuite[], flag: string): BenchSuite[] | undefined {
  if (list === undefined) return undefined;
  return list.split(',').map((x) => x.trim()).filter((x) => x !== '').map((n) => suiteNamed(n, suites, `${flag}: `));
}

/**
 * The suites named on the command line, each once, in the order first named; `all` stands for
 * every installed suite in registration order. `only` keeps just those, `skip` leaves those out.
 */
export function chooseSuites(names: readonly string[], suites: readonly BenchSuite[], filter: { only?: string; skip?: string } = {}): BenchSuite[] {
  const chosen: BenchSuite[] = [];
  for (const n of names) {
    for (const s of n === 'all' ? suites : [suiteNamed(n, suites)]) if (!chosen.includes(s)) chosen.push(s);
  }
  const only = suiteList(filter.only, suites, '--only');
  const skip = suiteList(filter.skip, suites, '--skip');
  const kept = chosen.filter((s) => (only === undefined || only.includes(s)) && (skip === undefined || !skip.includes(s)));
  if (kept.length === 0) throw new UsageError('no bench suite left to run after --only/--skip');
  return kept;
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
          results = await this.runParallel(chosen, opts.profile, jobs, (l) => err.write(l), trace, traced, steps);
          for (const r of results) process.stdout.write(renderBenchTable(r, width) + '\n');
        } else {
          const sink = err.isTTY ? barSink(err) : lineSink((l) => err.write(l));
          results = [];
          for (const suite of chosen) {
            const r = await this.runSuite(suite, opts.profile, sink, trace, traced, steps);
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

  /**
   * The suites that measure the host run first, alone and in this thread; the others then run
   * `jobs` at a time, each in a worker thread with a container of its own. Results come back in
   * the order the suites were chosen; progress is one line per step, prefixed by the suite.
   */
  private async runParallel(
    chosen: readonly BenchSuite[], profile: string, jobs: number, write: (line: string) => void,
    trace: TraceRequest | undefined, traced: string[], steps: Set<string>,
  ): Promise<BenchResult[]> {
    const results: Array<BenchResult | undefined> = chosen.map(() => undefined);
    const alone = chosen.filter((s) => s.exclusive === true);
    for (const s of alone) results[chosen.indexOf(s)] = await this.runSuite(s, profile, lineSink(write), trace, traced, steps);
    const queue = chosen.filter((s) => s.exclusive !== true);
    const worker = async (): Promise<void> => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        const sink = lineSink(write);
        sink.start(s);
        const job: BenchWorkerJob = { suite: s.id, profile, personalManifest: process.env['DUNESIM_MANIFEST'] || undefined, traceDir: trace?.dir, traceRow: trace?.row };
        const { result, written } = await runInWorker(job, (l) => {
          steps.add(l);
          sink.step(l);
        });
        traced.push(...written);
        results[chosen.indexOf(s)] = result;
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker));
    return results as BenchResult[];
  }

  private async runSuite(
    suite: BenchSuite, profile: string, sink: ProgressSink,
    trace?: TraceRequest, traced: string[] = [], steps = new Set<string>(),
  ): Promise<BenchResult> {
    const capture = trace === undefined ? undefined : new TraceCapture(trace.dir, suite.id, trace.row);
    sink.start(suite);
    capture?.start();
    try {
      return await suite.run({
        profile,
        progress: (step) => {
          steps.add(step);
          capture?.step(step);
          sink.step(step);
        },
      });
    } finally {
      capture?.stop();
      if (capture !== undefined) traced.push(...capture.written);
      sink.stop();
    }
  }
}

/** `--trace DIR [--trace-row LABEL]`. */
interface TraceRequest {
  dir: string;
  row?: string;
}

/** Runs one suite in a worker thread; its progress steps arrive through `step`. */
function runInWorker(job: BenchWorkerJob, step: (label: string) => void): Promise<{ result: BenchResult; written: string[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./bench-worker-entry.mjs', import.meta.url), { workerData: job });
    let settled = false;
    w.on('message', (m: BenchWorkerMessage) => {
      if (m.type === 'progress') step(m.label);
      else {
        settled = true;
        if (m.type === 'done') resolve({ result: m.result as BenchResult, written: m.traces });
        else reject(new Error(`bench ${job.suite}: ${m.message}`));
        void w.terminate();
      }
    });
    w.on('error', (e) => {
      settled = true;
      reject(new Error(`bench ${job.suite}: ${e.message}`));
    });
    w.on('exit', (code) => {
      if (!settled) reject(new Error(`bench ${job.suite}: its worker exited (status ${code}) without a result`));
    });
  });
}
