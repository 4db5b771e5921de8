import type { ArgWidth } from '../linux/syscall-prototypes.js';
import type { SyscallHandler } from '../linux/syscall-table.js';

/**
 * Extension point: a system call a plugin adds to the Linux model (a private call of its own, as
 * a research kernel module would add one). Its number must be one the table does not have; its
 * arguments are read at the widths it declares, as SYSCALL_DEFINE's casts read Linux's own.
 * The call is in the table of every machine `dunesim exec` builds; inside Dune a VMCALL reaches
 * it only below the module's table size (312), as in the real module.
 */
export const SyscallContribution = Symbol('SyscallContribution');

export interface SyscallContribution {
  readonly nr: number;
  readonly name: string;
  /** One width per argument (ArgWidth: Long for pointers and sizes, Int, Uint, Mode). */
  readonly args: readonly ArgWidth[];
  readonly handler: SyscallHandler;
}
