import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { inject, injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { CliCommand } from '../framework/cli-command.js';
import { UsageError } from '../framework/usage-error.js';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { writeBenchReport } from './bench-report.js';
import { BenchResult, BenchSuite } from './bench-suite.js';
import { renderBenchTable } from './bench-table.js';

/** `dunesim bench SUITE… [--json FILE] [--report DIR] [--profile NAME]`. */
@injectable()
export class BenchCommand implements CliCommand {
  constructor(@multiInject(BenchSuite) private readonly suites: BenchSuite[]) {}

  register(program: Command): void {
    program
      .command('bench')
      .description('run benchmark suites and compare model, paper and error')
      .argument('<suite...>', `suites to run (${this.suites.map((s) => s.id).join(', ') || 'none installed'})`)
      .option('--json <file>', 'write the results as JSON (the schema of docs/architecture.md §3)')
      .option('--report <dir>', 'write DIR/index.html: tables and SVG charts, one self-contained page')
      .option('--profile <name>', 'cost profile (core/vtx/profiles)', DEFAULT_PROFILE)
      .action(async (names: string[], opts: { json?: string; report?: string; profile: string }) => {
        loadProfile(opts.profile); // refuse a bad profile before any work
        const chosen = names.map((n) => {
          const s = this.suites.find((x) => x.id === n);
          if (s === undefined) {
            throw new UsageError(`unknown bench suite '${n}'; available: ${this.suites.map((x) => x.id).join(', ')}`);
          }
          return s;
        });
        const results: BenchResult[] = [];
        for (const suite of chosen) results.push(await this.runSuite(suite, opts.profile));
        for (const r of results) process.stdout.write(renderBenchTable(r) + '\n');
        if (opts.json !== undefined) {
          mkdirSync(dirname(opts.json), { recursive: true });
          writeFileSync(opts.json, JSON.stringify(results.length === 1 ? results[0] : results, null, 2) + '\n');
          process.stderr.write(`wrote ${opts.json}\n`);
        }
        if (opts.report !== undefined) process.stderr.write(`wrote ${writeBenchReport(opts.report, results)}\n`);
      });
  }

  private async runSuite(suite: BenchSuite, profile: string): Promise<BenchResult> {
    const bar = new cliProgress.SingleBar(
      { format: `${suite.id} [{bar}] {value}/{total} {step}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(suite.steps, 0, { step: '' });
    try {
      return await suite.run({ profile, progress: (step) => bar.increment(1, { step }) });
    } finally {
      bar.stop();
    }
  }
}
