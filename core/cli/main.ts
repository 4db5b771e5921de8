import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config-error.js';
import { CliCommand } from '../framework/cli-command.js';
import { DunesimContainer, createContainer, reportPluginErrors } from '../framework/create-container.js';
import { UsageError } from '../framework/usage-error.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Exit statuses: 0 success, 1 failure of the work itself, 2 a wrong command line or configuration, 70 a dunesim bug. */
async function main(argv: string[]): Promise<number> {
  // DUNESIM_MANIFEST: a personal manifest, added to the bundled one (README, "Writing a plugin").
  let made: DunesimContainer;
  try {
    made = await createContainer({ personalManifest: process.env['DUNESIM_MANIFEST'] || undefined });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`dunesim: ${e.message}\n`);
    return 2;
  }
  const { container, plugins } = made;
  // Reported here, once, and the command still runs with the plugins that did load.
  reportPluginErrors(plugins, process.stderr);
  const program = new Command('dunesim')
    .description('An emulated Dune stack: VT-x, EPT, a Linux model, the Dune module and libDune, with Dune applications as plugins')
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError();
  for (const c of container.getAll<CliCommand>(CliCommand)) c.register(program);
  try {
    await program.parseAsync(argv);
    // A command that finished with a status of its own (run: the application's exit code) left
    // it in process.exitCode, the Node convention.
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`dunesim: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // A bug of dunesim, not a failure of the work: EX_SOFTWARE (exec-command's internal errors too).
    process.stderr.write(`dunesim: internal error (a dunesim bug): ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
