import type { Cpu } from '../vtx/cpu.js';
import type { PtRegs } from '../linux/pt-regs.js';
import type { Task } from '../linux/task.js';

/**
 * Extension point: a handler of VM exits that a plugin adds to the Dune module (new hypercalls, a
 * CPUID leaf of its own, an exit IX's dataplane handles …). For each exit of a reason it lists,
 * the module asks the handlers in registration order, before its own handling (kern/vmx.c's
 * exit switch); the first that returns true has handled the exit, and the guest resumes with the
 * registers as the handler left them. A handler that returns false leaves the exit to the next
 * one, and finally to the module.
 *
 * A handler runs in VMX root (the host kernel's side). It sees exits from guest ring 3 as well as
 * ring 0 (`guestCpl`): one that acts for the guest must decide which rings may ask.
 */
export const VmExitHandler = Symbol('VmExitHandler');

export interface VmExitHandler {
  /** Basic exit reasons this handler wants to see (VmExitReason, SDM Vol. 3D Appendix C). */
  readonly reasons: readonly number[];
  handle(exit: VmExitInfo): boolean;
}

export interface VmExitInfo {
  /** Basic exit reason (VM_EXIT_REASON bits 15:0). */
  readonly reason: number;
  readonly qualification: number;
  /** For EPT violations and misconfigurations; 0 otherwise. */
  readonly guestPhysicalAddress: number;
  /** Guest RIP of the exiting instruction, and its length (VM_EXIT_INSTRUCTION_LEN). */
  readonly rip: number;
  readonly instructionLength: number;
  /** The guest's CPL when it exited (from its CS selector). */
  readonly guestCpl: number;
  /** The guest's general-purpose registers: what the handler writes here, the guest resumes with. */
  readonly regs: PtRegs;
  /** The thread whose vCPU exited, and the CPU it ran on. */
  readonly task: Task;
  readonly cpu: Cpu;
  /** Resumes the guest after the exiting instruction (RIP + its length), as for an emulated one. */
  skipInstruction(): void;
}
