import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { TaskState, type Task } from '../../core/linux/task.js';
import { ARG_COPIES_SIZE } from './argument-copies.js';

/**
 * Where the runtime keeps the state of the threads the program makes (the first thread uses
 * RUNTIME_STACK and ARG_COPIES_VA): slots above the runtime's own stack and copies, outside the
 * untrusted windows and mapped without PTE_U like the rest of the runtime. Each slot is a guard
 * page, the thread's ring-0 stack (its dune_jump_to_user frame, the trap frames of its system
 * calls, the frame it starts from), then its own argument-copy area: two threads in system calls
 * at once never share a copy (SECURITY.md, class 9).
 */
export const THREAD_AREA_VA = 0x7100_0000;
export const THREAD_SLOT_SIZE = 0x4_0000;
export const THREAD_STACK_SIZE = 0x1_0000;
/** Threads at once, the first included: a clone past it is -EAGAIN, as past RLIMIT_NPROC. */
export const MAX_THREADS = 64;

/** The ring-0 stack of slot `i` (1 … MAX_THREADS - 1). */
export function slotStack(i: number): { start: number; end: number } {
  const start = THREAD_AREA_VA + (i - 1) * THREAD_SLOT_SIZE + PAGE_SIZE;
  return { start, end: start + THREAD_STACK_SIZE };
}

/** The argument-copy area of slot `i`, right above its stack. */
export function slotCopies(i: number): number {
  return slotStack(i).end;
}

if (PAGE_SIZE + THREAD_STACK_SIZE + ARG_COPIES_SIZE > THREAD_SLOT_SIZE) throw new Error('sandbox: a thread slot is too small');

/** The pending kernel call of a thread (the runtime's VMCALL, and what to do with its result). */
export interface PendingCall {
  readonly nr: number;
  readonly args: readonly number[];
  readonly then: (cpu: import('../../core/vtx/cpu.js').Cpu, result: number) => void;
}

/**
 * One thread of the sandboxed program as the runtime sees it: the state trap.c keeps per
 * pthread — the ring-0 stack its calls run on, its argument-copy area, the kernel call it is in
 * the middle of, whether a dune_jump_to_user frame of it is live, its signal mask, and how it is
 * leaving (exit ends the thread, exit_group the group).
 */
export class SandboxThread {
  pending: PendingCall | undefined;
  inUser = false;
  /** rt_sigprocmask's mask (a thread's own, inherited by the threads it makes). */
  sigmask = 0n;
  /** NR.exit or NR.exit_group once the thread asked to leave. */
  exitNr = 0;
  /** Its robust futex list head (set_robust_list, kept here: robust-list.ts); 0: none. */
  robustList = 0;

  constructor(
    readonly task: Task,
    /** Its slot (0: the first thread, on RUNTIME_STACK and ARG_COPIES_VA). */
    readonly slot: number,
    readonly copiesVa: number,
  ) {}
}

/**
 * The slots: taken by clone before the kernel makes the thread (its start frame goes on the
 * slot's stack), given back when the clone fails or the thread it held is dead.
 */
export class ThreadSlots {
  private readonly held: Array<{ thread: SandboxThread | undefined; sigmask: bigint } | undefined> = new Array(MAX_THREADS).fill(undefined);

  /** A free slot, reserved; undefined when all are held by live threads. */
  take(sigmask: bigint): number | undefined {
    for (let i = 1; i < MAX_THREADS; i++) {
      const h = this.held[i];
      if (h === undefined || (h.thread !== undefined && h.thread.task.state === TaskState.Dead)) {
        this.held[i] = { thread: undefined, sigmask };
        return i;
      }
    }
    return undefined;
  }

  release(i: number): void {
    this.held[i] = undefined;
  }

  /** The thread now running from slot `i`; returns the mask its creator had. */
  occupy(i: number, thread: SandboxThread): bigint {
    const h = this.held[i];
    if (h === undefined) throw new Error(`sandbox: thread slot ${i} was not reserved`);
    h.thread = thread;
    return h.sigmask;
  }

  /** The slot whose ring-0 stack holds `va`. */
  slotOf(va: number): number | undefined {
    const i = Math.floor((va - THREAD_AREA_VA) / THREAD_SLOT_SIZE) + 1;
    if (i < 1 || i >= MAX_THREADS) return undefined;
    const s = slotStack(i);
    return va >= s.start && va <= s.end ? i : undefined;
  }
}
