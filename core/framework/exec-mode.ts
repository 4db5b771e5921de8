import type { ElfFile } from '../linux/elf/elf-file.js';
import type { Kernel, RunEnd } from '../linux/kernel.js';
import type { Process } from '../linux/task.js';

/**
 * Extension point: a way `dunesim exec` can run a binary besides its own `linux` and `dune`
 * modes (the sandbox plugin adds `--mode sandbox`). The mode names its extra command-line options;
 * `prepare` checks them before any machine is built, so a bad option value (a broken policy file)
 * ends dunesim with status 2 before the run, and returns the launcher for one run.
 */
export const ExecMode = Symbol('ExecMode');

export interface ExecModeOption {
  /** Commander flags, e.g. '--policy <file>'. */
  readonly flags: string;
  /** The attribute commander stores the value under (e.g. 'policy'). */
  readonly name: string;
  readonly description: string;
}

export interface ExecMode {
  /** The value of --mode. */
  readonly id: string;
  readonly description: string;
  /** Options that only this mode accepts. */
  readonly options?: readonly ExecModeOption[];
  /** Checks the mode's options (ConfigError or UsageError: exit status 2) and makes a launcher. */
  prepare(options: Readonly<Record<string, unknown>>): ExecLauncher;
}

/** What a launcher gets to start the program with: the machine's kernel and the parsed ELF. */
export interface ExecLaunchContext {
  readonly kernel: Kernel;
  readonly elf: ElfFile;
  /** The program's name in the guest (core/system/guest-path.ts: a path inside the package is relative to its root); also the execfn of the auxiliary vector. The ELF is already read. */
  readonly path: string;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  /** Where dunesim's own messages go (a line ends with '\n'). */
  readonly report: (line: string) => void;
}

/** One run of a plugin's exec mode. */
export interface ExecLauncher {
  /** CPUs the machine needs for the mode (default 1): the ptrace way keeps one for its supervisor. */
  readonly cpus?: number;
  /** Creates the process (and whatever it needs: the Dune module, a loader) and makes it runnable. */
  launch(ctx: ExecLaunchContext): Process;
  /**
   * Runs the machine until the process is done (default: `kernel.run()`); a watchdog goes here.
   * Returns how the last `kernel.run` ended, so that a blocked run is reported as such.
   */
  run?(kernel: Kernel, process: Process): RunEnd;
  /** Figures of the mode for `--stats` (under the mode's id). */
  stats?(): Record<string, unknown>;
}
