import { injectable, multiInject, optional } from 'inversify';
import { ExecLauncher, ExecMode, ExecModeOption } from '../framework/exec-mode.js';
import { SyscallContribution } from '../framework/syscall-contribution.js';
import { UsageError } from '../framework/usage-error.js';
import { ExecResult, RunOptions, runElf } from './run-elf.js';

export interface ExecOptions extends RunOptions {
  /** The mode's id: linux, dune, or one a plugin contributes (sandbox, ptrace …). */
  mode: string;
  /** A launcher made already (a test that keeps it to look inside afterwards); else the mode prepares one. */
  launcher?: ExecLauncher;
  /** The mode's options, by the names its ExecModeOptions give (`{ policy: 'p.json' }`). */
  modeOptions?: Readonly<Record<string, unknown>>;
  /** Shorthand for modeOptions.pcid (the Linux mode's `--pcid`). */
  pcid?: boolean;
  /** Shorthand for modeOptions.hugePages (`--huge-pages` of the Linux and sandbox modes). */
  hugePages?: boolean;
  /** Shorthand for modeOptions.duneModule (false: the Linux mode's `--no-dune-module`). */
  duneModule?: boolean;
}

/** An option several modes take, once, with the ids of the modes that take it. */
export interface SharedModeOption {
  readonly option: ExecModeOption;
  readonly modes: readonly string[];
}

/**
 * The runtime below the CLI: runs a static ELF in any exec mode the container knows (the core's
 * `linux` and `dune`, and the plugins' ExecModes), on a machine whose Linux model has the plugins'
 * system calls. `dunesim exec` is this plus argument parsing; plugins inject it to run programs
 * the way the CLI would. Each run builds its own machine (runElf): runs share nothing.
 */
@injectable()
export class System {
  /** The exec modes, the core's first (linux, dune), in the order they were bound. */
  readonly modes: readonly ExecMode[];
  /** The plugins' system calls, in the Linux model of every run. */
  readonly syscalls: readonly SyscallContribution[];

  constructor(
    @multiInject(ExecMode) @optional() modes: readonly ExecMode[] = [],
    @multiInject(SyscallContribution) @optional() syscalls: readonly SyscallContribution[] = [],
  ) {
    // An optional multi-injection with no binding arrives as undefined, not as the default.
    this.modes = modes ?? [];
    this.syscalls = syscalls ?? [];
  }

  /** The mode of this id, or a UsageError that lists the modes there are. */
  mode(id: string): ExecMode {
    const m = this.modes.find((x) => x.id === id);
    // The first words stay what they were when linux and dune were the only modes (scripts match them).
    if (m === undefined) throw new UsageError(`--mode must be ${this.modes.map((x) => x.id).join(' or ')}, got '${id}'`);
    return m;
  }

  /** Every mode's options, each flag once (`--policy` of sandbox and ptrace), in the order the modes name them. */
  modeOptions(): SharedModeOption[] {
    const byFlags = new Map<string, { option: ExecModeOption; modes: string[] }>();
    for (const m of this.modes) {
      for (const option of m.options ?? []) {
        const o = byFlags.get(option.flags) ?? { option, modes: [] };
        o.modes.push(m.id);
        byFlags.set(option.flags, o);
      }
    }
    return [...byFlags.values()];
  }

  /**
   * The mode of this id, after refusing an option set that it does not take (`--pcid needs
   * --mode linux`): what `prepare` checks first, and the CLI before its other checks.
   */
  checkModeOptions(id: string, options: Readonly<Record<string, unknown>>): ExecMode {
    const mode = this.mode(id);
    for (const { option, modes } of this.modeOptions()) {
      const v = options[option.name];
      // A negated flag (--no-dune-module) is given when its value is false; true is its default.
      const given = option.flags.startsWith('--no-') ? v === false : v !== undefined && v !== false;
      if (!given || modes.includes(id)) continue;
      throw new UsageError(`${option.flags.split(' ')[0]} needs --mode ${modes.join(' or --mode ')}`);
    }
    return mode;
  }

  /**
   * The launcher of one run of mode `id`: the options are checked (checkModeOptions), then the
   * mode checks its own values (a broken policy file: exit status 2) before any machine is built.
   */
  prepare(id: string, options: Readonly<Record<string, unknown>> = {}): ExecLauncher {
    return this.checkModeOptions(id, options).prepare(options);
  }

  /** Runs the ELF at `path` with `args` in `opts.mode` (see runElf for what a run does). */
  exec(path: string, args: string[], opts: ExecOptions): ExecResult {
    const launcher = opts.launcher ?? this.prepare(opts.mode, {
      ...(opts.pcid !== undefined ? { pcid: opts.pcid } : {}),
      ...(opts.hugePages !== undefined ? { hugePages: opts.hugePages } : {}),
      ...(opts.duneModule !== undefined ? { duneModule: opts.duneModule } : {}),
      ...opts.modeOptions,
    });
    return runElf(path, args, { ...opts, launcher, syscalls: [...this.syscalls, ...(opts.syscalls ?? [])] });
  }
}
