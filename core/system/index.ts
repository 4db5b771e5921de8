/**
 * core/system: the runtime below the CLI. Everything that builds a machine and runs guest code
 * goes through here; `dunesim exec` is System.exec plus argument parsing.
 *
 * - buildMachine: a Machine with the x86-64 interpreter on every CPU (bare metal: no kernel).
 * - bootLinux: that machine with the Linux model on it (and the plugins' system calls).
 * - runElf: one run of a static ELF by a mode's launcher, to an exit status and `--stats` figures.
 * - System (injectable): runs an ELF in any mode the container binds (linux, dune, the plugins').
 * - execElf: the same with the core's own modes and no container (tests, scripts).
 * - LinuxExecMode / DuneExecMode: the core's two ExecModes, and their launchers.
 */
export { buildMachine } from './build-machine.js';
export type { MachineOptions } from './build-machine.js';
export { bootLinux } from './boot-linux.js';
export type { LinuxBootOptions, LinuxSystem } from './boot-linux.js';
export { DEFAULT_GUEST_ENV, runElf, vmExitCount } from './run-elf.js';
export type { ExecResult, RunElfOptions, RunOptions } from './run-elf.js';
export { runStats } from './run-stats.js';
export { System } from './system.js';
export type { ExecOptions, SharedModeOption } from './system.js';
export { execElf } from './exec-elf.js';
export { LinuxExecMode, LinuxLauncher, HUGE_PAGES_OPTION } from './linux-exec-mode.js';
export { DuneExecMode, DuneLauncher } from './dune-exec-mode.js';
export { EXIT_INTERNAL_ERROR } from './internal-error.js';
export { CPU_BOUND_PROGRAMS, GUEST_BIN } from './guest-programs.js';
export { guestPath, spawnProgram } from './guest-path.js';
