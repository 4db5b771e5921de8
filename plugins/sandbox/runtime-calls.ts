import type { Cpu } from '../../core/vtx/cpu.js';
import { CheckedCall } from './checked-call.js';

/** What a libDune system-call handler returns (see LibDune.registerSyscallHandler). */
export type HandlerAction = 'passthrough' | 'done' | 'redirected';

/**
 * How the parts of the runtime finish a trapped call. `kernel` makes one system call of the
 * runtime's own (a VMCALL from guest ring 0) and then runs `then` with its result — which must in
 * turn `finish` the trapped call or make another kernel call; `deny` refuses the call with a
 * report.
 */
export interface RuntimeCalls {
  kernel(cpu: Cpu, tf: number, nr: number, args: readonly number[], then: (cpu: Cpu, result: number) => void): HandlerAction;
  finish(cpu: Cpu, tf: number, value: number): HandlerAction;
  /** Refuses the call with -errno, or with `returned` when the call fails that way (brk). */
  deny(cpu: Cpu, tf: number, call: CheckedCall, rule: string, errno: number, returned?: number): HandlerAction;
}
