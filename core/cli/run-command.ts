import { injectable, multiInject } from 'inversify';
import { Command } from 'commander';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { Application } from '../framework/application.js';
import { parseAppOptions } from '../framework/app-options.js';
import { CliCommand } from '../framework/cli-command.js';
import { renderFiguresTable } from '../framework/figures-table.js';
import { UsageError } from '../framework/usage-error.js';
import { checkOutputDir, checkOutputFile, writeOutputFile } from '../framework/output-path.js';
import { TraceCapture } from '../trace-capture.js';
import { NO_JIT_HELP, disableJitByDefault } from '../vtx/interp/interpreter.js';

/**
 * `dunesim run <plugin>/<app> [--name value…]`: runs one Application contribution. Its exit code
 * becomes dunesim's (through process.exitCode, which main.ts returns), its figures a table.
 */
@injectable()
export class RunCommand implements CliCommand {
  constructor(@multiInject(Application) private readonly apps: Application[]) {}

  register(program: Command): void {
    program
      .command('run')
      .description('run an application a plugin contributes')
      .argument('<app>', 'the application, as <plugin>/<app> (see `dunesim list`)')
      .argument('[options...]', "the application's own options, as --name value")
      .option('--profile <name>', 'cost profile (core/vtx/profiles)', DEFAULT_PROFILE)
      .option('--json <file>', 'also write { app, profile, exitCode, figures } as JSON')
      .option('--trace <dir>', 'write a Chrome Trace Event file per machine the application builds into DIR')
      .option('--no-jit', NO_JIT_HELP)
      // Everything after the application name belongs to it; commander keeps what it does not
      // know in [options...] instead of refusing it.
      .allowUnknownOption()
      .addHelpText('after', () => this.helpText())
      .action(async (name: string, rest: string[], opts: { profile: string; json?: string; trace?: string; jit: boolean }) => {
        if (!opts.jit) disableJitByDefault();
        const app = this.find(name);
        const options = parseAppOptions(rest);
        // An option the application does not take is a typo or a flag of another command
        // (`--root` is exec's): refused, not silently ignored while the application runs.
        const known = Object.keys(app.options ?? {});
        for (const k of Object.keys(options)) {
          if (!known.includes(k)) {
            const takes = known.length > 0 ? `it takes ${known.map((x) => `--${x}`).join(', ')}` : 'it takes no options';
            throw new UsageError(`${app.plugin}/${app.id} has no option --${k}; ${takes}`);
          }
        }
        loadProfile(opts.profile); // refuse a bad profile before any work
        if (opts.json !== undefined) checkOutputFile(opts.json, '--json');
        if (opts.trace !== undefined) checkOutputDir(opts.trace, '--trace', 'trace.json');
        const capture = opts.trace === undefined ? undefined : new TraceCapture(opts.trace, app.plugin, undefined);
        capture?.start();
        let result;
        try {
          result = await app.run({ options, profile: opts.profile, out: process.stdout });
          capture?.step(app.id);
        } finally {
          capture?.stop();
        }
        if (capture !== undefined) process.stderr.write(`wrote ${capture.written.length} trace${capture.written.length === 1 ? '' : 's'} into ${opts.trace}\n`);
        if (result.figures !== undefined && Object.keys(result.figures).length > 0) {
          process.stdout.write(renderFiguresTable(result.figures) + '\n');
        }
        if (opts.json !== undefined) {
          const doc = { app: `${app.plugin}/${app.id}`, profile: opts.profile, exitCode: result.exitCode, figures: result.figures ?? {} };
          writeOutputFile(opts.json, JSON.stringify(doc, null, 2) + '\n', '--json');
          process.stderr.write(`wrote ${opts.json}\n`);
        }
        process.exitCode = result.exitCode;
      });
  }

  /** The application named `<plugin>/<app>`, or a UsageError that lists what exists. */
  find(name: string): Application {
    const all = this.apps.map((a) => `${a.plugin}/${a.id}`);
    const available = all.length > 0 ? `available: ${all.join(', ')}` : 'no plugin contributes an application';
    const slash = name.indexOf('/');
    if (slash < 0) throw new UsageError(`expected <plugin>/<app>, got '${name}'; ${available}`);
    const plugin = name.slice(0, slash);
    const id = name.slice(slash + 1);
    const ofPlugin = this.apps.filter((a) => a.plugin === plugin);
    if (ofPlugin.length === 0) {
      const plugins = [...new Set(this.apps.map((a) => a.plugin))];
      throw new UsageError(`unknown plugin '${plugin}'; plugins with applications: ${plugins.join(', ') || 'none'}; ${available}`);
    }
    const app = ofPlugin.find((a) => a.id === id);
    if (app === undefined) {
      throw new UsageError(`plugin '${plugin}' has no application '${id}'; it has: ${ofPlugin.map((a) => `${a.plugin}/${a.id}`).join(', ')}`);
    }
    return app;
  }

  private helpText(): string {
    if (this.apps.length === 0) return '\nNo plugin contributes an application.\n';
    const lines = ['', 'Applications:'];
    for (const a of this.apps) {
      lines.push(`  ${a.plugin}/${a.id}  ${a.description}`);
      for (const [k, d] of Object.entries(a.options ?? {})) lines.push(`      ${`--${k}`.padEnd(14)} ${d}`);
    }
    return lines.join('\n') + '\n';
  }
}
