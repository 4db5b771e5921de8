import { existsSync, statSync } from 'node:fs';
import { inject, injectable } from 'inversify';
import { Command } from 'commander';
import { CliCommand } from '../framework/cli-command.js';
import { UsageError } from '../framework/usage-error.js';
import { checkOutputFile } from '../framework/output-path.js';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { MAX_CPUS } from '../vtx/machine.js';
import { NO_JIT_HELP, disableJitByDefault } from '../vtx/interp/interpreter.js';
import { ElfError } from '../linux/elf/elf-file.js';
import { System } from '../system/system.js';
import { DEFAULT_GUEST_ENV } from '../system/run-elf.js';

// The runtime moved to core/system; these names stay importable from here for one release.
export { execElf } from '../system/exec-elf.js';
export type { ExecOptions } from '../system/system.js';
export { vmExitCount } from '../system/run-elf.js';
export type { ExecResult } from '../system/run-elf.js';

/** `--root DIR` must name a directory that exists: chroot(2) fails with ENOENT or ENOTDIR otherwise. */
function checkRoot(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`--root ${dir}: no such directory`);
  }
  if (!isDir) throw new UsageError(`--root ${dir}: not a directory`);
}

/**
 * `dunesim exec [--mode MODE] [--stats FILE] [--strace] [--root DIR] -- ELF [ARGS…]`: argument
 * checks and exit statuses around System.exec. The modes are the container's ExecModes: the
 * core's `linux` and `dune`, and the plugins' (`sandbox` with `--policy FILE` …).
 */
/** commander's collector for a repeatable --env: each NAME=VALUE is checked as it comes. */
function collectEnv(value: string, previous: string[]): string[] {
  const eq = value.indexOf('=');
  if (eq <= 0) {
    throw new UsageError(`--env takes NAME=VALUE with a non-empty NAME, got '${value}'`);
  }
  return [...previous, value];
}

/** The defaults, each replaced by an --env of the same name, then the other --env in order. */
function guestEnv(extra: readonly string[]): string[] {
  const name = (e: string): string => e.slice(0, e.indexOf('='));
  const given = new Set(extra.map(name));
  return [...DEFAULT_GUEST_ENV.filter((e) => !given.has(name(e))), ...extra];
}

@injectable()
export class ExecCommand implements CliCommand {
  constructor(@inject(System) private readonly system: System) {}

  register(program: Command): void {
    const system = this.system;
    const cmd = program
      .command('exec')
      .description('run a static x86-64 Linux binary on the machine model (as a Linux or a Dune process)')
      .argument('<elf>', 'the executable (static ET_EXEC or static-PIE)')
      .argument('[args...]', 'its arguments')
      .option('--mode <mode>', system.modes.map((m) => m.id).join(' | '), 'linux')
      .option('--stats <file>', 'write run statistics as JSON')
      .option('--strace', 'trace system calls on stderr')
      .option('--trace <file>', 'write a Chrome Trace Event file (open it in ui.perfetto.dev or chrome://tracing)')
      .option('--root <dir>', 'host directory the guest sees as / (default: the current directory)')
      .option('--profile <name>', 'cost profile', DEFAULT_PROFILE)
      .option('--memory <MiB>', 'physical memory of the machine', '1024')
      .option('--cpus <n>', 'CPUs of the machine (threads and processes run on them in parallel, deterministically)', '1')
      .option('--net <net>', 'guest sockets: host (real host sockets on loopback) | sim (the simulated TCP/IP stack, in simulated time)', 'host')
      .option('--env <name=value>', `an environment variable for the guest, repeatable (the guest's environment is ${DEFAULT_GUEST_ENV.join(' ')} and these, never the host's)`, collectEnv, [])
      .option('--no-jit', NO_JIT_HELP);
    // The modes' own options; one several modes share (--policy of sandbox and ptrace) is registered once.
    for (const { option, modes } of system.modeOptions()) cmd.option(option.flags, `${option.description} (--mode ${modes.join(', ')})`);
    cmd.action((elfPath: string, args: string[], o: { mode: string; stats?: string; trace?: string; strace?: boolean; root?: string; profile: string; memory: string; cpus: string; net: string; jit: boolean; env: string[] } & Record<string, unknown>) => {
      if (o.jit === false) disableJitByDefault();
      const mode = system.checkModeOptions(o.mode, o);
      const mib = Number(o.memory);
      if (!Number.isInteger(mib) || mib < 16 || mib > 4096) throw new UsageError(`--memory must be a whole number of MiB from 16 to 4096, got '${o.memory}'`);
      const cpus = Number(o.cpus);
      if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new UsageError(`--cpus must be a whole number from 1 to ${MAX_CPUS}, got '${o.cpus}'`);
      if (o.net !== 'host' && o.net !== 'sim') throw new UsageError(`--net must be host or sim, got '${o.net}'`);
      loadProfile(o.profile);
      if (o.root !== undefined) checkRoot(o.root);
      if (o.stats !== undefined) checkOutputFile(o.stats, '--stats');
      if (o.trace !== undefined) checkOutputFile(o.trace, '--trace');
      // A mode's options (a policy file) are checked before the binary, so a broken one is status 2.
      const launcher = mode.prepare(o);
      if (!existsSync(elfPath)) {
        process.stderr.write(`dunesim: ${elfPath}: no such file\n`);
        process.exitCode = 127;
        return;
      }
      try {
          const r = system.exec(elfPath, args, { mode: o.mode, launcher, cpus, stats: o.stats, trace: o.trace, strace: o.strace, root: o.root, profile: o.profile, memory: mib * 1024 * 1024, net: o.net, envp: guestEnv(o.env) });
        process.exitCode = r.exitCode;
      } catch (e) {
        if (e instanceof ElfError) {
          process.stderr.write(`dunesim: ${elfPath}: ${e.message}\n`);
          process.exitCode = 126;
          return;
        }
        throw e;
      }
    });
  }
}
