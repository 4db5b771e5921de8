import type { SyscallContribution } from '../framework/syscall-contribution.js';
import { Kernel } from '../linux/kernel.js';
import type { Machine } from '../vtx/machine.js';
import { MachineOptions, buildMachine } from './build-machine.js';

export interface LinuxBootOptions extends MachineOptions {
  /** System calls plugins add to the Linux model (SyscallContribution), in every table this kernel has. */
  syscalls?: readonly SyscallContribution[];
}

/** A machine with the Linux model running on it: what a Dune module is loaded into, and what processes run on. */
export interface LinuxSystem {
  readonly machine: Machine;
  readonly kernel: Kernel;
}

/**
 * Builds a machine (buildMachine) and the Linux kernel model on it, with the plugins' system calls
 * in its table. The Dune module is not loaded: a mode or a rig that needs it loads it
 * (`new DuneModule(kernel)`), as `insmod dune.ko` would.
 */
export function bootLinux(o: LinuxBootOptions): LinuxSystem {
  const machine = buildMachine(o);
  const kernel = new Kernel(machine);
  for (const c of o.syscalls ?? []) kernel.syscalls.addPrivate(c.nr, c.name, c.args, c.handler);
  return { machine, kernel };
}
