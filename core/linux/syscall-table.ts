import type { Cpu } from '../vtx/cpu.js';
import type { Kernel, SyscallResult } from './kernel.js';
import { ArgWidth, argOf, prototypeOf } from './syscall-prototypes.js';
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
  /** How wide each argument is read (syscall-prototypes.ts: the SYSCALL_DEFINE types). */
  widths: Uint8Array;
}

/** The system-call table: Linux x86-64 numbers to handlers, dense array for the dispatch. */
export class SyscallTable {
  private readonly rows: Array<SyscallRow | undefined> = [];

  /**
   * A handler for `nr`. The call must have a prototype (syscall-prototypes.ts) with `arity`
   * arguments: the handler then receives each argument cast to its declared type, as
   * SYSCALL_DEFINE's __SC_CAST does.
   */
  add(nr: number, name: string, arity: number, handler: SyscallHandler): void {
    const p = prototypeOf(nr);
    if (p === undefined) throw new Error(`syscall table: ${name} (${nr}) has no prototype in syscall-prototypes.ts`);
    if (p.args.length !== arity) throw new Error(`syscall table: ${name} takes ${arity} arguments here, ${p.args.length} in its prototype`);
    this.rows[nr] = { nr, name, arity, handler, widths: p.widths };
  }

  /**
   * A call the Linux ABI does not have (a plugin's): its prototype comes with it. A number the
   * table already has is refused, so no plugin can replace one of Linux's calls.
   */
  addPrivate(nr: number, name: string, widths: readonly ArgWidth[], handler: SyscallHandler): void {
    if (!Number.isInteger(nr) || nr < 0 || nr > 4095) throw new RangeError(`syscall ${name}: number ${nr} outside 0..4095`);
    const have = this.get(nr);
    if (have !== undefined || prototypeOf(nr) !== undefined) throw new RangeError(`syscall ${name}: number ${nr} is Linux's ${have?.name ?? prototypeOf(nr)!.name}; a plugin adds calls, it does not replace them`);
    if (widths.length > 6) throw new RangeError(`syscall ${name}: ${widths.length} arguments (at most 6 registers)`);
    this.rows[nr] = { nr, name, arity: widths.length, handler, widths: Uint8Array.from(widths) };
  }

  get(nr: number): SyscallRow | undefined {
    return nr >= 0 && nr < this.rows.length ? this.rows[nr] : undefined;
  }

  all(): SyscallRow[] {
    return this.rows.filter((r): r is SyscallRow => r !== undefined);
  }
}

/** Argument `i` of `row` from the two halves of its register (arguments past the arity: 0). */
export function rowArg(row: SyscallRow, i: number, lo: number, hi: number): number {
  return i < row.arity ? argOf(row.widths[i]! as ArgWidth, lo, hi) : 0;
}
