import type { Cpu } from '../vtx/cpu.js';
import type { Kernel, SyscallResult } from './kernel.js';
import type { Task } from './task.js';

export interface SyscallContext {
  readonly kernel: Kernel;
  readonly cpu: Cpu;
  readonly task: Task;
}

export type SyscallHandler = (ctx: SyscallContext, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number) => SyscallResult;

/** One row of the declarative system-call table (blink's SYSCALL(arity, nr, name, fn, strace)). */
export interface SyscallRow {
  nr: number;
  name: string;
  arity: number;
  handler: SyscallHandler;
}

/** The system-call table: Linux x86-64 numbers to handlers, dense array for the dispatch. */
export class SyscallTable {
  private readonly rows: Array<SyscallRow | undefined> = [];

  add(nr: number, name: string, arity: number, handler: SyscallHandler): void {
    this.rows[nr] = { nr, name, arity, handler };
  }

  get(nr: number): SyscallRow | undefined {
    return nr >= 0 && nr < this.rows.length ? this.rows[nr] : undefined;
  }

  all(): SyscallRow[] {
    return this.rows.filter((r): r is SyscallRow => r !== undefined);
  }
}
