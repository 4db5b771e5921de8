import { SyscallSpec } from './syscall-specs.js';

/** A system call whose arguments passed the checks, with the strings read for them. */
export interface CheckedCall {
  readonly nr: number;
  readonly spec: SyscallSpec;
  /** The six argument registers (rdi, rsi, rdx, r10, r8, r9), as signed numbers. */
  readonly args: number[];
  /** C strings (paths and others) read from the program's memory, by argument index. */
  readonly strings: ReadonlyMap<number, string>;
}

/** Why the checks refused a call: the errno it gets and the argument at fault. */
export interface Rejection {
  readonly errno: number;
  readonly arg: number;
  readonly why: string;
}
