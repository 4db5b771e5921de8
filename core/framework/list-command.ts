import { injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import { BenchSuite } from '../bench/bench-suite.js';
import { CliCommand } from './cli-command.js';
import { readManifest } from './plugin-manifest.js';

/** `dunesim list`: plugins of the manifest and the bench suites that are installed. */
@injectable()
export class ListCommand implements CliCommand {
  constructor(@multiInject(BenchSuite) private readonly suites: BenchSuite[]) {}

  register(program: Command): void {
    program
      .command('list')
      .description('list plugins and benchmark suites')
      .action(() => {
        const out: string[] = ['plugins:'];
        const plugins = readManifest();
        if (plugins.length === 0) out.push('  (none yet)');
        for (const p of plugins) out.push(`  ${p.name.padEnd(16)} ${p.description}`);
        out.push('bench suites:');
        for (const s of this.suites) out.push(`  ${s.id.padEnd(16)} ${s.description}`);
        process.stdout.write(out.join('\n') + '\n');
      });
  }
}
