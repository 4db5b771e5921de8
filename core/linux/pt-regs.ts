import { Cpu } from '../vtx/cpu.js';

const TWO_32 = 0x1_0000_0000;

/**
 * The user-mode register state of a task while it is in the kernel or not running — what Linux
 * keeps in `struct pt_regs` at the top of the kernel stack. Entry code saves the CPU's registers
 * here and exit code loads them back, so the kernel can switch tasks, deliver signals and let a
 * tracer read or write them.
 */
export class PtRegs {
  readonly lo = new Uint32Array(16);
  readonly hi = new Uint32Array(16);
  rip = 0;
  rflags = 0x202;
  cs = 0x33;
  ss = 0x2b;
  /** The system-call number at entry (`orig_rax`), -1 outside a system call. */
  origRax = -1;
  fsBase = 0;
  gsBase = 0;
  /**
   * IA32_KERNEL_GS_BASE: per-thread state the kernel switches with the task (Linux keeps it with
   * the thread's GS base). It matters to a Dune guest, whose ring 0 keeps its per-CPU area there
   * while ring 3 runs; the VMCS does not switch it, so it must survive other tasks on the CPU.
   */
  kernelGsBase = 0;
  /** DS, ES, FS and GS selectors (`thread.ds`, `es`, `fsindex`, `gsindex`): 0 in a new 64-bit process. */
  ds = 0;
  es = 0;
  fsSel = 0;
  gsSel = 0;

  get(i: number): number {
    return (this.hi[i]! | 0) * TWO_32 + this.lo[i]!;
  }

  set(i: number, v: number): void {
    this.lo[i] = v >>> 0;
    this.hi[i] = Math.floor(v / TWO_32) >>> 0;
  }

  /** Sign-extended 32-bit view of a register (syscall arguments of type int). */
  int(i: number): number {
    return this.lo[i]! | 0;
  }

  saveFrom(cpu: Cpu): void {
    this.lo.set(cpu.lo);
    this.hi.set(cpu.hi);
    this.fsBase = cpu.fsBase;
    this.gsBase = cpu.gsBase;
    this.kernelGsBase = cpu.kernelGsBase;
    this.ds = cpu.ds;
    this.es = cpu.es;
    this.fsSel = cpu.fs;
    this.gsSel = cpu.gs;
  }

  loadInto(cpu: Cpu): void {
    cpu.lo.set(this.lo);
    cpu.hi.set(this.hi);
    cpu.fsBase = this.fsBase;
    cpu.gsBase = this.gsBase;
    cpu.kernelGsBase = this.kernelGsBase;
    cpu.ds = this.ds;
    cpu.es = this.es;
    cpu.fs = this.fsSel;
    cpu.gs = this.gsSel;
  }

  copyFrom(o: PtRegs): void {
    this.lo.set(o.lo);
    this.hi.set(o.hi);
    this.rip = o.rip;
    this.rflags = o.rflags;
    this.cs = o.cs;
    this.ss = o.ss;
    this.origRax = o.origRax;
    this.fsBase = o.fsBase;
    this.gsBase = o.gsBase;
    this.kernelGsBase = o.kernelGsBase;
    this.ds = o.ds;
    this.es = o.es;
    this.fsSel = o.fsSel;
    this.gsSel = o.gsSel;
  }
}
