import { TF, TF_SIZE } from '../../core/dune/libdune.js';
import {
  CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_SIGHAND,
  CLONE_SYSVSEM, CLONE_THREAD, CLONE_VM, EFAULT, EINVAL, EPERM,
} from '../../core/linux/linux-abi.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { CheckedCall } from './checked-call.js';
import { CLONE_THREAD_FLAGS, CLONE_THREAD_REQUIRED, formatCloneFlags } from './clone-flags.js';
import { HandlerAction } from './runtime-calls.js';
import { RuntimeRegions } from './runtime-regions.js';
import { SandboxPolicy } from './sandbox-policy.js';
import { UntrustedWindows } from './untrusted-windows.js';

const TWO_32 = 0x1_0000_0000;
const hex = (x: number): string => (x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16));

/** The start frame's size on the new thread's ring-0 stack: a dune_tf, then its FS base, 16-byte aligned. */
export const START_FRAME_SIZE = Math.ceil((TF_SIZE + 8) / 16) * 16;

/** The thread the kernel makes for the runtime: one of this group, the ring-0 state shared as pthread_create shares it. */
const HOST_THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
/** The program's own tid words, which the kernel handles for it. */
const TID_FLAGS = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

interface Refusals {
  deny(cpu: Cpu, tf: number, call: CheckedCall, rule: string, errno: number): HandlerAction;
  reject(cpu: Cpu, tf: number, call: CheckedCall, why: string, errno: number): HandlerAction;
}

/**
 * clone in the sandbox (trap.c's clone path): which threads the program may make, and the frame
 * a new thread starts from. The flags must make a thread of the program's own group — the only
 * kind of child the runtime can confine, since it runs in the same address space under the same
 * runtime — and stay within the policy's `cloneFlags`; every address the kernel or the new thread
 * will use must be the program's: the new stack, the TLS block, and the tid words the kernel
 * writes (PARENT_SETTID now, CHILD_CLEARTID when the thread exits, long after any check).
 */
export class ThreadFactory {
  constructor(
    private readonly refusals: Refusals,
    private readonly windows: UntrustedWindows,
    private readonly regions: RuntimeRegions,
    private readonly policy: SandboxPolicy,
  ) {}

  /** undefined when the clone may go ahead; otherwise the refusal, reported. */
  check(cpu: Cpu, tf: number, call: CheckedCall): HandlerAction | undefined {
    const [flags, newsp, ptid, ctid, tls] = call.args as [number, number, number, number, number];
    // The flags are an unsigned long: bits above 31 are no flag clone(2) takes.
    const low = flags >= 0 && flags < TWO_32 ? flags : -1;
    if (low < 0 || (low & ~CLONE_THREAD_FLAGS) !== 0 || (low & CLONE_THREAD_REQUIRED) !== CLONE_THREAD_REQUIRED) {
      const extra = low < 0 ? `flags ${hex(flags)} beyond 32 bits` : (low & ~CLONE_THREAD_FLAGS) !== 0
        ? formatCloneFlags(low & ~CLONE_THREAD_FLAGS)
        : `flags without ${formatCloneFlags(CLONE_THREAD_REQUIRED & ~low)}`;
      return this.refusals.deny(cpu, tf, call, `the sandbox makes threads of the program's own group only, not ${extra}`, EPERM);
    }
    const allowed = this.policy.cloneFlags ?? CLONE_THREAD_FLAGS;
    if ((low & ~allowed) !== 0) {
      return this.refusals.deny(cpu, tf, call, `cloneFlags does not allow ${formatCloneFlags(low & ~allowed)}`, EPERM);
    }
    if (newsp === 0) return this.refusals.reject(cpu, tf, call, 'newsp is 0: a thread needs a stack of its own', EINVAL);
    const bad =
      this.outside('newsp', newsp - 8, 8) ??
      ((low & CLONE_SETTLS) !== 0 ? this.outside('tls', tls, 8) : undefined) ??
      ((low & CLONE_PARENT_SETTID) !== 0 ? this.outside('parent_tid', ptid, 4) : undefined) ??
      ((low & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) !== 0 ? this.outside('child_tid', ctid, 4) : undefined);
    if (bad !== undefined) return this.refusals.reject(cpu, tf, call, bad, EFAULT);
    return undefined;
  }

  /** The flags of the kernel's clone: a thread of the group, with the program's tid words. */
  hostFlags(flags: number): number {
    return (HOST_THREAD_FLAGS | (flags & TID_FLAGS)) >>> 0;
  }

  /**
   * Writes the new thread's start frame below `stackTop` (runtime memory): the parent's trap
   * frame with RAX = 0 and RSP = newsp, the callee-saved registers the trap frame does not hold
   * (still the program's in the CPU), and the FS base — the TLS block with CLONE_SETTLS, else the
   * parent's. Returns the frame's address, the new thread's first stack pointer.
   */
  writeStartFrame(cpu: Cpu, tf: number, call: CheckedCall, stackTop: number): number {
    const [flags, newsp, , , tls] = call.args as [number, number, number, number, number];
    const frame = stackTop - START_FRAME_SIZE;
    const m = cpu.mmu;
    for (let o = 0; o < TF_SIZE; o += 8) {
      const lo = m.read64(tf + o);
      m.write64(frame + o, lo, m.hi);
    }
    for (const [reg, off] of [[3, TF.rbx], [5, TF.rbp], [12, TF.r12], [13, TF.r13], [14, TF.r14], [15, TF.r15]] as const) {
      m.write64(frame + off, cpu.lo[reg]!, cpu.hi[reg]!);
    }
    // What SYSRET leaves in RCX and R11 (the return address and the flags), and R10 as it was.
    m.write64Number(frame + TF.r10, m.read64Number(tf + TF.rcx));
    m.write64Number(frame + TF.rcx, m.read64Number(tf + TF.rip));
    m.write64Number(frame + TF.r11, m.read64Number(tf + TF.rflags));
    m.write64Number(frame + TF.rax, 0);
    m.write64Number(frame + TF.rsp, newsp);
    m.write64Number(frame + TF_SIZE, (flags & CLONE_SETTLS) !== 0 ? tls : cpu.fsBase);
    return frame;
  }

  private outside(name: string, va: number, len: number): string | undefined {
    const f = this.windows.fault(va, len);
    if (f === undefined) return undefined;
    return `${name} [${hex(va)}, +${len}) points into ${this.regions.describe(va)}`;
  }
}
