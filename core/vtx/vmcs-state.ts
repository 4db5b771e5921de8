import { GD_KD, GD_KT, GD_TSS, RFLAGS_FIXED } from './arch.js';
import { Cpu } from './cpu.js';
import { VmcsField as F } from './vmcs-field.js';

/** A VMWRITE as the VMM issues it (a caller may check VMsucceed after each). */
export type VmcsWrite = (field: F, value: number) => void;

/**
 * The host-state area (SDM Vol. 3C §25.5) for a 64-bit VMM running on `cpu` with the kernel's
 * code and data segments and TSS: where an exit lands (`hostRip`). HOST_CR3 and HOST_RSP are left
 * to the caller, since a VMM that runs guests for several tasks (the Dune module) sets them at
 * each entry.
 */
export function writeHostState(w: VmcsWrite, cpu: Cpu, hostRip: number): void {
  w(F.HOST_CR0, cpu.cr0);
  w(F.HOST_CR4, cpu.cr4);
  w(F.HOST_CS_SELECTOR, GD_KT);
  w(F.HOST_SS_SELECTOR, GD_KD);
  w(F.HOST_TR_SELECTOR, GD_TSS);
  w(F.HOST_TR_BASE, cpu.trBase);
  w(F.HOST_GDTR_BASE, cpu.gdtrBase);
  w(F.HOST_IDTR_BASE, cpu.idtrBase);
  w(F.HOST_RIP, hostRip);
}

/**
 * Guest state (SDM Vol. 3C §25.4) for a 64-bit guest that shares the host's control registers,
 * descriptor tables and TSS — the test and benchmark VMMs' guest. CR3, RIP, RSP and the code and
 * stack segments are set at launch.
 */
export function writeGuestStateLikeHost(w: VmcsWrite, cpu: Cpu): void {
  w(F.GUEST_CR0, cpu.cr0);
  w(F.GUEST_CR4, cpu.cr4);
  w(F.GUEST_GDTR_BASE, cpu.gdtrBase);
  w(F.GUEST_GDTR_LIMIT, cpu.gdtrLimit);
  w(F.GUEST_IDTR_BASE, cpu.idtrBase);
  w(F.GUEST_IDTR_LIMIT, cpu.idtrLimit);
  w(F.GUEST_TR_SELECTOR, GD_TSS);
  w(F.GUEST_TR_BASE, cpu.trBase);
  w(F.GUEST_TR_LIMIT, 103);
  w(F.GUEST_RFLAGS, RFLAGS_FIXED);
}
