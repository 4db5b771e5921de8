import { Cpu, RAX, RDI, RDX, RSI, R8, R9, R10 } from '../vtx/cpu.js';

/**
 * What user code (a native in ring 3, or libDune in guest ring 0) does to make a system call:
 * load the Linux ABI registers and execute SYSCALL — which must be the native's last action,
 * since SYSCALL transfers control. The result is in RAX at the next instruction.
 */
export function syscall(cpu: Cpu, nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): void {
  loadSyscallArgs(cpu, nr, a0, a1, a2, a3, a4, a5);
  cpu.syscall();
}

export function loadSyscallArgs(cpu: Cpu, nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): void {
  cpu.setReg(RAX, nr);
  cpu.setReg(RDI, a0);
  cpu.setReg(RSI, a1);
  cpu.setReg(RDX, a2);
  cpu.setReg(R10, a3);
  cpu.setReg(R8, a4);
  cpu.setReg(R9, a5);
}

/** RAX as a signed result (-errno on failure). */
export function result(cpu: Cpu): number {
  return cpu.reg(RAX);
}
