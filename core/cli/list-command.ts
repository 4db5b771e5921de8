import { inject, injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import { BenchSuite } from '../bench/bench-suite.js';
import { Application } from '../framework/application.js';
import { CliCommand } from '../framework/cli-command.js';
import { LoadedPlugin, LoadedPlugins } from '../framework/plugin-manifest.js';
import { checkOutputFile, writeOutputFile } from '../framework/output-path.js';

/** What `dunesim list --json` writes. */
export interface ListDocument {
  plugins: Array<{ name: string; description: string; module?: string; error?: string; applications: string[] }>;
  applications: Array<{ name: string; description: string; options: Record<string, string> }>;
  suites: Array<{ id: string; description: string }>;
}

/**
 * `dunesim list`: the manifest's plugins (with their load errors), the applications they
 * contribute, and the bench suites that are installed (the core's and the plugins').
 */
@injectable()
export class ListCommand implements CliCommand {
  constructor(
    @inject(LoadedPlugins) private readonly plugins: LoadedPlugin[],
    @multiInject(Application) private readonly apps: Application[],
    @multiInject(BenchSuite) private readonly suites: BenchSuite[],
  ) {}

  register(program: Command): void {
    program
      .command('list')
      .description('list plugins, their applications and the benchmark suites')
      .option('--json <file>', 'write the listing as JSON instead of printing it')
      .action((opts: { json?: string }) => {
        if (opts.json !== undefined) {
          checkOutputFile(opts.json, '--json');
          writeOutputFile(opts.json, JSON.stringify(this.document(), null, 2) + '\n', '--json');
          process.stderr.write(`wrote ${opts.json}\n`);
          return;
        }
        process.stdout.write(this.render());
      });
  }

  document(): ListDocument {
    const name = (a: Application): string => `${a.plugin}/${a.id}`;
    return {
      plugins: this.plugins.map((p) => ({
        name: p.entry.name,
        description: p.entry.description,
        ...(p.entry.module !== undefined ? { module: p.entry.module } : {}),
        ...(p.error !== undefined ? { error: p.error } : {}),
        applications: this.apps.filter((a) => a.plugin === p.entry.name).map(name),
      })),
      applications: this.apps.map((a) => ({ name: name(a), description: a.description, options: a.options ?? {} })),
      suites: this.suites.map((s) => ({ id: s.id, description: s.description })),
    };
  }

  render(): string {
    const out: string[] = ['plugins:'];
    if (this.plugins.length === 0) out.push('  (none in the manifest)');
    for (const p of this.plugins) {
      out.push(`  ${p.entry.name.padEnd(18)} ${p.entry.description || '(no description)'}`);
      if (p.error !== undefined) out.push(`    FAILED TO LOAD: ${p.error}`);
      for (const a of this.apps.filter((x) => x.plugin === p.entry.name)) {
        out.push(`    run ${`${a.plugin}/${a.id}`.padEnd(28)} ${a.description}`);
      }
    }
    // Applications bound by something that is not a manifest plugin (the core, a test module).
    const known = new Set(this.plugins.map((p) => p.entry.name));
    const others = this.apps.filter((a) => !known.has(a.plugin));
    if (others.length > 0) {
      out.push('other applications:');
      for (const a of others) out.push(`  ${`${a.plugin}/${a.id}`.padEnd(32)} ${a.description}`);
    }
    out.push('bench suites:');
    if (this.suites.length === 0) out.push('  (none)');
    for (const s of this.suites) out.push(`  ${s.id.padEnd(18)} ${s.description}`);
    return out.join('\n') + '\n';
  }
}
