import { Vector, vectorHasErrorCode } from '../../vtx/arch.js';
import { Cpu, RAX, RDI, RDX, RSI, RSP, R8, R9, R10, R11, RCX } from '../../vtx/cpu.js';
import { NR } from '../../linux/linux-abi.js';
import { loadSyscallArgs } from '../../linux/user-abi.js';
import type { LibDune } from '../libdune.js';
import { DUNE_S } from './dune-s.js';
import { GPR_TF, PERCPU, TF, TF_SIZE } from './trap-frame.js';

export type PgfltHandler = (cpu: Cpu, addr: number, fec: number, tf: number) => void;
export type IntrHandler = (cpu: Cpu, tf: number) => void;
/**
 * Returns 'passthrough' to forward the call (tf.rax set by the kernel), 'done' when the handler
 * set tf.rax itself, or 'redirected' when it transferred control (retFromUser).
 */
export type SyscallHandler = (cpu: Cpu, tf: number) => 'passthrough' | 'done' | 'redirected';

/**
 * libDune's trap side (trap.c): the registered handlers (dune_register_intr_handler,
 * _pgflt_handler, _syscall_handler), dune_trap_handler's dispatch of an IDT vector,
 * dune_syscall_handler for SYSCALL from guest ring 3, dune_passthrough_syscall, and the trap
 * frame (struct dune_tf in guest memory) they all work on.
 */
export class Trap {
  private intrHandlers: Array<IntrHandler | undefined>;
  private pgfltHandler: PgfltHandler | undefined;
  private syscallHandler: SyscallHandler | undefined;

  constructor(private readonly lib: LibDune, parent?: Trap) {
    if (parent !== undefined) {
      this.intrHandlers = [...parent.intrHandlers];
      this.pgfltHandler = parent.pgfltHandler;
      this.syscallHandler = parent.syscallHandler;
    } else {
      this.intrHandlers = new Array(256).fill(undefined);
    }
  }

  registerPgfltHandler(h: PgfltHandler): void {
    this.pgfltHandler = h;
  }

  registerIntrHandler(vector: number, h: IntrHandler): void {
    this.intrHandlers[vector] = h;
  }

  registerSyscallHandler(h: SyscallHandler): void {
    this.syscallHandler = h;
  }

  /**
   * __dune_intr: build a dune_tf below the hardware frame (with a placeholder error code for
   * vectors without one), then dune_trap_handler: a registered vector handler, else the page
   * fault handler with CR2, else a fatal dump.
   */
  trapEntry(cpu: Cpu, vector: number): void {
    const lib = this.lib;
    lib.mem.cpu = cpu;
    cpu.charge(DUNE_S.trapEntry * cpu.costs.instruction);
    const sp = cpu.rsp;
    const tf = vectorHasErrorCode(vector) ? sp + 8 - TF.rip : sp - TF.rip;
    // The CS the CPU pushed says where the event came from; from ring 3, SWAPGS to the per-CPU area.
    if ((cpu.mmu.read64(tf + TF.cs) & 3) === 3) cpu.swapgs();
    for (const [reg, off] of GPR_TF) {
      if (off >= TF.rbx && off <= TF.r15) continue; // callee-saved registers are not saved
      cpu.mmu.write64(tf + off, cpu.lo[reg]!, cpu.hi[reg]!);
    }
    if (!vectorHasErrorCode(vector)) cpu.mmu.write64(tf + TF.err, 0, 0);
    cpu.setReg(RSP, tf);
    const h = this.intrHandlers[vector];
    if (h !== undefined) h(cpu, tf);
    else if (vector === Vector.PageFault && this.pgfltHandler !== undefined) {
      this.pgfltHandler(cpu, cpu.cr2, cpu.mmu.read64(tf + TF.err), tf);
    } else {
      const rip = this.tfGet(cpu, tf, TF.rip);
      lib.kernel.console(2, new TextEncoder().encode(`dune: unhandled exception ${vector} at rip 0x${rip.toString(16)}, cr2 0x${cpu.cr2.toString(16)}\n`));
      loadSyscallArgs(cpu, NR.exit_group, 1); // dune_die: SYS_exit (60) with a failure status
      cpu.vmcall();
      return;
    }
    // A handler that transferred control itself (dune_ret_from_user) does not return here.
    if (!cpu.branched) cpu.jump(lib.text.addr('__dune_intr_done'));
  }

  /** G3 entry: switch to the trap stack, push a dune_tf, call dune_syscall_handler. */
  syscallFromUser(cpu: Cpu): void {
    const lib = this.lib;
    lib.mem.cpu = cpu;
    const gs = cpu.gsBase;
    const userRsp = cpu.rsp;
    const top = cpu.mmu.read64Number(gs + PERCPU.trapStack);
    const tf = top - TF_SIZE;
    cpu.mmu.write64Number(tf + TF.rip, cpu.reg(RCX));
    cpu.mmu.write64Number(tf + TF.rflags, cpu.lo[R11]!);
    cpu.mmu.write64(tf + TF.rcx, cpu.lo[R10]!, cpu.hi[R10]!); // r10 in the rcx slot (C ABI)
    for (const [reg, off] of [[RDI, TF.rdi], [RSI, TF.rsi], [RDX, TF.rdx], [R8, TF.r8], [R9, TF.r9], [RAX, TF.rax]] as const) {
      cpu.mmu.write64(tf + off, cpu.lo[reg]!, cpu.hi[reg]!);
    }
    cpu.mmu.write64Number(tf + TF.rsp, userRsp);
    cpu.setReg(RSP, tf);
    cpu.mmu.write64(gs + PERCPU.inUsermode, 0, 0); // SET_G0_FS_BASE (FS bases equal: no WRMSR)
    const h = this.syscallHandler;
    if (h === undefined) {
      lib.kernel.console(2, new TextEncoder().encode('dune: missing handler for system call - #' + cpu.lo[RAX] + '\n'));
      loadSyscallArgs(cpu, NR.exit_group, 1); // dune_die: SYS_exit (60) with a failure status
      cpu.vmcall();
      return;
    }
    const action = h(cpu, tf);
    if (action === 'passthrough') {
      this.passthroughSyscall(cpu, tf);
      return;
    }
    if (action === 'done') cpu.jump(lib.text.addr('syscall_g3_exit'));
  }

  /**
   * dune_passthrough_syscall: the call in the trap frame as a VMCALL (the kernel's syscall
   * table); RAX goes back into the frame at the next instruction. Called from the system-call
   * handler (inside the syscall_g3 native).
   */
  passthroughSyscall(cpu: Cpu, tf: number): void {
    const g = (off: number): number => cpu.mmu.read64Number(tf + off);
    loadSyscallArgs(cpu, g(TF.rax), g(TF.rdi), g(TF.rsi), g(TF.rdx), g(TF.rcx), g(TF.r8), g(TF.r9));
    cpu.charge(DUNE_S.passthrough * cpu.costs.instruction);
    // The VMCALL is this native's last action: the module resumes at the next instruction,
    // syscall_g3_passthrough_done (laid out right after syscall_g3).
    cpu.vmcall();
  }

  /**
   * From a vector handler: the thread sends itself `signo` with the given si_code and si_addr
   * (rt_tgsigqueueinfo as a VMCALL, the siginfo on the trap stack below the frame), then leaves
   * the trap as any handler does. The pending signal makes the module leave Dune with
   * DUNE_RET_SIGNAL before the guest resumes: Linux runs the handler in host mode, and when it
   * returns libDune re-enters and the IRETQ goes back to the faulting instruction.
   */
  raiseFromTrap(cpu: Cpu, tf: number, signo: number, code: number, addr: number): void {
    const t = this.lib.kernel.current[cpu.index]!;
    const info = tf - 256;
    for (let o = 0; o < 128; o += 8) cpu.mmu.write64(info + o, 0, 0);
    cpu.mmu.write32(info, signo);
    cpu.mmu.write32(info + 8, code >>> 0);
    cpu.mmu.write64Number(info + 16, addr);
    loadSyscallArgs(cpu, NR.rt_tgsigqueueinfo, t.process.pid, t.tid, signo, info);
    cpu.jump(this.lib.text.addr('__dune_raise'));
  }

  /** A trap-frame register (tf is a guest address). */
  tfGet(cpu: Cpu, tf: number, off: number): number {
    return cpu.mmu.read64Number(tf + off);
  }

  tfSet(cpu: Cpu, tf: number, off: number, v: number): void {
    cpu.mmu.write64Number(tf + off, v);
  }
}
