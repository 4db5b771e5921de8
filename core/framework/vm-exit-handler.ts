/**
 * Extension point: a handler for VM exits the Dune module does not handle itself (a plugin that
 * adds hypercalls, IX's VMCALL_* numbers …). Handlers are consulted in registration order; the
 * first that returns true has handled the exit.
 */
export const VmExitHandler = Symbol('VmExitHandler');

export interface VmExitHandler {
  /** Basic exit reasons this handler wants to see (SDM Appendix C). */
  readonly reasons: readonly number[];
  handle(exit: VmExitInfo): boolean;
}

export interface VmExitInfo {
  readonly reason: number;
  readonly qualification: number;
  readonly guestPhysicalAddress: number;
  /** The vCPU's registers can be read and written through this (RAX, RIP …). */
  readonly cpuIndex: number;
}
