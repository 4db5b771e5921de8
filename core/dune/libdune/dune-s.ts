import { CANONICAL_LIMIT, GD_TSS, GD_UD, GD_UT, RFLAGS_IF, RFLAGS_IOPL } from '../../vtx/arch.js';
import type { CodeBuilder } from '../../vtx/code-builder.js';
import type { NativeEntry } from '../../vtx/native-code.js';
import { Cpu, RAX, RCX, RDI, RDX, RSI, RSP, R8, R9, R10, R11 } from '../../vtx/cpu.js';
import { GDT_SIZE } from '../../vtx/descriptors.js';
import { NR, DUNE_ENTER } from '../../linux/linux-abi.js';
import { syscall } from '../../linux/user-abi.js';
import type { LibDune } from '../libdune.js';
import { GPR_TF, PERCPU, RFLAGS_G3, TF, userRflags } from './trap-frame.js';

const TWO_32 = 0x1_0000_0000;

/** Instruction counts of dune.S paths, counted from the assembly (for the cost model). */
export const DUNE_S = {
  /** __dune_intr stub + __dune_intr_with_num + SAVE_REGS + call + dune_trap_handler dispatch. */
  trapEntry: 32,
  /** RESTORE_REGS + addq + the IRETQ itself is charged by the CPU. */
  trapExit: 10,
  /** __dune_syscall G3 path up to the call of dune_syscall_handler (incl. SET_G0_FS_BASE, no WRMSR). */
  syscallEntryUser: 27,
  /** dune_syscall_handler's dispatch to the registered callback. */
  syscallDispatch: 6,
  /** after the handler: SET_G3_FS_BASE, RESTORE_REGS, the stack switch (SYSRETQ charged by the CPU). */
  syscallExitUser: 16,
  /** dune_passthrough_syscall: load six arguments and the number from the trap frame, VMCALL, store RAX. */
  passthrough: 10,
  /** __dune_syscall G0 path: testq, jnz, pushq, popfq (VMCALL and the jump are separate). */
  syscallG0: 4,
};

/**
 * libDune's assembly (dune.S) as natives in its text, which the guest page table maps
 * supervisor-only: __dune_ret (the first guest instruction), the 256 IDT entry stubs and the way
 * out of a trap (RESTORE_REGS, IRETQ), the SYSCALL trampoline at the LSTAR address with its G0
 * (VMCALL) and G3 (trap frame, dune_syscall_handler, SYSRETQ) paths, dune_jump_to_user and
 * dune_ret_from_user, __dune_go_dune / __dune_retry around the DUNE_ENTER ioctl, and the fork
 * wrapper's child entry. The natives are shared by a process and its fork children (the text is
 * at one address in both): each finds the libDune of the process running on its CPU.
 */
export class DuneS {
  /** The two natives of __dune_syscall, installed in a pool page at the LSTAR address. */
  private trampolineNatives: [NativeEntry, NativeEntry] | undefined;

  constructor(private readonly lib: LibDune, parent?: DuneS) {
    this.trampolineNatives = parent?.trampolineNatives;
  }

  /** Lays out libDune's text. */
  build(c: CodeBuilder): void {
    const of = (cpu: Cpu): LibDune => this.lib.of(cpu);
    // __dune_ret: the first guest instruction — load GDT, IDT, TR, GS base, return to the caller.
    c.op('__dune_ret', (cpu) => of(cpu).duneS.duneRet(cpu), 12);
    // The IDT entry points (__dune_intr + 16 * vector).
    for (let v = 0; v < 256; v++) {
      // The stub's instructions are charged inside trapEntry, before the handler runs, so a
      // handler that reads the clock sees them (as rdtsc in a C handler would).
      c.op(`intr${v}`, (cpu) => of(cpu).trap.trapEntry(cpu, v), 0);
    }
    // A handler's VMCALL that raises a signal on the thread (see raiseFromTrap), then the way out.
    c.op('__dune_raise', (cpu) => cpu.vmcall(), 1);
    c.op('__dune_intr_done', (cpu) => of(cpu).duneS.trapExit(cpu), DUNE_S.trapExit);
    // The G3 system-call path of __dune_syscall.
    c.op('syscall_g3', (cpu) => {
      cpu.charge((DUNE_S.syscallEntryUser + DUNE_S.syscallDispatch) * cpu.costs.instruction);
      of(cpu).trap.syscallFromUser(cpu);
    }, 0);
    c.op('syscall_g3_passthrough_done', (cpu) => this.passthroughDone(cpu), 2);
    c.op('syscall_g3_exit', (cpu) => this.syscallExitUser(cpu), DUNE_S.syscallExitUser);
    c.op('dune_ret_from_user_finish', (cpu) => cpu.ret(), 3);
    // __dune_go_dune (Linux mode, on the entry stack): DUNE_ENTER with the config as it is; when
    // the ioctl returns, __dune_retry runs on_dune_exit — which re-enters after a signal, or,
    // after raising one itself, falls through to enter again once the signal is dealt with.
    c.ring(3).op('__dune_go_dune', (cpu) => {
      const lib = of(cpu);
      syscall(cpu, NR.ioctl, lib.fd, DUNE_ENTER, lib.entry.threadOf(cpu).confVa);
    }, 4);
    c.op('__dune_retry', (cpu) => of(cpu).entry.onDuneExit(cpu), 10);
    c.op(undefined, (cpu) => cpu.jump(this.lib.text.addr('__dune_go_dune')), 1);
    // libDune's fork wrapper: where a child of fork or clone from inside Dune starts.
    c.op('__dune_fork_child', (cpu) => of(cpu).entry.forkChild(cpu), 20);
    c.build();
  }

  /**
   * __dune_syscall's two natives (registered once per machine run of this text, shared with
   * fork children): the G0/G3 split and, after the VMCALL, `jmp *%rcx`.
   */
  trampoline(): [NativeEntry, NativeEntry] {
    const natives = this.lib.kernel.machine.natives;
    this.trampolineNatives ??= [
      natives.register('libdune:__dune_syscall', (c) => this.lib.of(c).duneS.syscallTrampoline(c), DUNE_S.syscallG0),
      natives.register('libdune:__dune_syscall+vmcall', (c) => this.lib.of(c).duneS.afterVmcall(c), 1),
    ];
    return this.trampolineNatives;
  }

  private duneRet(cpu: Cpu): void {
    const lib = this.lib;
    const th = lib.entry.threadOf(cpu);
    lib.mem.cpu = cpu;
    cpu.lgdt(th.gdt, GDT_SIZE - 1);
    cpu.lidt(lib.entry.idt, 256 * 16 - 1);
    cpu.ltr(GD_TSS);
    cpu.wrmsr(0xc000_0101, th.percpu >>> 0, Math.floor(th.percpu / TWO_32) >>> 0); // GS base
    cpu.rflags |= RFLAGS_IF; // sti
    cpu.setReg(RAX, 0);
    cpu.jump(th.resumeAt);
  }

  /** RESTORE_REGS, drop the trap frame, IRETQ. */
  private trapExit(cpu: Cpu): void {
    const tf = cpu.rsp;
    if ((cpu.mmu.read64(tf + TF.cs) & 3) === 3) {
      cpu.mmu.write64Number(tf + TF.rflags, userRflags(cpu.mmu.read64Number(tf + TF.rflags)));
      cpu.swapgs();
    }
    for (const [reg, off] of GPR_TF) {
      if (off >= TF.rbx && off <= TF.r15) continue;
      cpu.lo[reg] = cpu.mmu.read64(tf + off);
      cpu.hi[reg] = cpu.mmu.hi;
    }
    cpu.setReg(RSP, tf + TF.rip);
    cpu.iretq();
  }

  /** __dune_syscall: from G0, VMCALL (the kernel); from G3, the trap-frame path. */
  private syscallTrampoline(cpu: Cpu): void {
    const text = this.lib.text;
    if ((cpu.lo[R11]! & RFLAGS_IOPL) === RFLAGS_G3) {
      // From ring 3: SWAPGS first, so that every per-CPU value below comes from the per-CPU
      // area (KERNEL_GS_BASE while ring 3 runs), never from a GS base ring 3 set.
      cpu.swapgs();
      cpu.jump(text.addr('syscall_g3'));
      return;
    }
    cpu.rflags = (cpu.lo[R11]! | 0x2) >>> 0; // pushq %r11; popfq
    const nr = cpu.reg(RAX);
    // (A restarted call comes through again with the swap already made.)
    if ((nr === NR.fork || nr === NR.vfork || nr === NR.clone) && cpu.reg(RCX) !== text.addr('__dune_fork_child')) {
      // libDune's fork wrapper: the child starts in Linux mode at the RCX the module finds (the
      // trampoline is at a kernel address); make that __dune_fork_child, with the real return
      // address in R11 (which SYSCALL clobbers anyway), so that the child enters Dune itself.
      cpu.setReg(R11, cpu.reg(RCX));
      cpu.setReg(RCX, text.addr('__dune_fork_child'));
    }
    cpu.vmcall(); // resumes at the next stub: jmp *%rcx
  }

  /** After the trampoline's VMCALL: jmp *%rcx (for a fork-family call, the saved return address). */
  private afterVmcall(cpu: Cpu): void {
    if (cpu.reg(RCX) === this.lib.text.addr('__dune_fork_child')) {
      cpu.setReg(RCX, cpu.reg(R11));
      cpu.setReg(R11, cpu.rflags);
    }
    cpu.jump(cpu.reg(RCX));
  }

  private passthroughDone(cpu: Cpu): void {
    cpu.mmu.write64(cpu.rsp + TF.rax, cpu.lo[RAX]!, cpu.hi[RAX]!);
  }

  /** SET_G3_FS_BASE, RESTORE_REGS, back to the user stack, SYSRETQ. */
  private syscallExitUser(cpu: Cpu): void {
    const tf = cpu.rsp;
    cpu.mmu.write64(cpu.gsBase + PERCPU.inUsermode, 1, 0);
    for (const [reg, off] of [[RDI, TF.rdi], [RSI, TF.rsi], [RDX, TF.rdx], [R8, TF.r8], [R9, TF.r9], [RAX, TF.rax]] as const) {
      cpu.lo[reg] = cpu.mmu.read64(tf + off);
      cpu.hi[reg] = cpu.mmu.hi;
    }
    cpu.lo[R10] = cpu.mmu.read64(tf + TF.rcx);
    cpu.hi[R10] = cpu.mmu.hi;
    // SYSRET loads IOPL from R11: ring 3 always goes back with the ring-3 mark, whatever a
    // handler left in the frame.
    cpu.setReg(R11, userRflags(cpu.mmu.read64Number(tf + TF.rflags)));
    const rip = cpu.mmu.read64Number(tf + TF.rip);
    cpu.setReg(RCX, rip);
    cpu.setReg(RSP, cpu.mmu.read64Number(tf + TF.rsp));
    // Intel's SYSRET raises #GP in ring 0 for a non-canonical RCX: take it here, before SWAPGS,
    // so that the fault finds ring 0's GS and not the one ring 3 left (the SYSRET hole Linux
    // closes by returning through IRET instead).
    if (rip >= CANONICAL_LIMIT || rip < -CANONICAL_LIMIT) cpu.gp0();
    cpu.swapgs();
    cpu.sysret();
  }

  /**
   * dune_jump_to_user: enter guest ring 3 at `rip` with stack `rsp`; `cont` is where G0 resumes
   * when a handler calls retFromUser (the return value in RAX).
   */
  jumpToUser(cpu: Cpu, rip: number, rsp: number, cont: number): void {
    const gs = cpu.gsBase;
    // Save the G0 context (its resume point and stack) and mark user mode.
    this.lib.entry.threadOf(cpu).userReturns.push(cont, cpu.rsp);
    cpu.mmu.write64Number(gs + PERCPU.trapStack, cpu.rsp - 256);
    cpu.mmu.write64(gs + PERCPU.inUsermode, 1, 0);
    const top = cpu.rsp - 256 - 5 * 8;
    cpu.mmu.write64Number(top, rip);
    cpu.mmu.write64Number(top + 8, GD_UT);
    cpu.mmu.write64Number(top + 16, userRflags(0x202));
    cpu.mmu.write64Number(top + 24, rsp);
    cpu.mmu.write64Number(top + 32, GD_UD);
    cpu.setReg(RSP, top);
    cpu.charge(25 * cpu.costs.instruction); // SAVE_REGS, SAVE_REST, pushfq, SET_G3_FS_BASE
    cpu.swapgs(); // ring 3 gets a GS base of its own; the per-CPU area waits in KERNEL_GS_BASE
    cpu.iretq();
  }

  /** dune_ret_from_user: abandon the user context; jumpToUser's caller resumes with `ret`. */
  retFromUser(cpu: Cpu, ret: number): void {
    const ur = this.lib.entry.threadOf(cpu).userReturns;
    const rsp = ur.pop()!;
    const cont = ur.pop()!;
    cpu.mmu.write64(cpu.gsBase + PERCPU.inUsermode, 0, 0);
    cpu.setReg(RAX, ret);
    cpu.setReg(RSP, rsp);
    cpu.jump(cont);
  }

  /** The guest ring-0 FS base of user mode (dune_get/set_user_fs). */
  setUserFs(cpu: Cpu, v: number): void {
    cpu.mmu.write64Number(cpu.gsBase + PERCPU.ufsBase, v);
  }
}
