import type { VmExitHandler } from '../framework/vm-exit-handler.js';
import { DuneExecMode } from './dune-exec-mode.js';
import { LinuxExecMode } from './linux-exec-mode.js';
import type { ExecResult } from './run-elf.js';
import { ExecOptions, System } from './system.js';

/**
 * Runs a static x86-64 ELF with the core's own modes and no container: `linux`, or `dune` with
 * the VM-exit handlers given here; a plugin's mode with its launcher (`launcher`). For tests,
 * scripts and the core's bench suites; a plugin or a command injects `System`, which also knows
 * the plugins' modes, exit handlers and system calls.
 */
export function execElf(path: string, args: string[], opts: ExecOptions & { vmExitHandlers?: readonly VmExitHandler[] }): ExecResult {
  const system = new System([new LinuxExecMode(opts.vmExitHandlers ?? []), new DuneExecMode(opts.vmExitHandlers ?? [])], []);
  return system.exec(path, args, opts);
}
