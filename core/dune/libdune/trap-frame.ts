import { RFLAGS_IOPL } from '../../vtx/arch.js';
import { RAX, RCX, RDI, RDX, RSI, R8, R9, R10, R11 } from '../../vtx/cpu.js';

/** struct dune_tf offsets (packed, 168 bytes). */
export const TF = {
  rdi: 0, rsi: 8, rdx: 16, rcx: 24, r8: 32, r9: 40, r10: 48, r11: 56, rbx: 64, rbp: 72, r12: 80,
  r13: 88, r14: 96, r15: 104, rax: 112, err: 120, rip: 128, cs: 136, rflags: 144, rsp: 152, ss: 160,
} as const;
export const TF_SIZE = 168;

/** The general registers and their struct dune_tf slots, in SAVE_REGS order. */
export const GPR_TF: ReadonlyArray<readonly [number, number]> = [
  [RDI, TF.rdi], [RSI, TF.rsi], [RDX, TF.rdx], [RCX, TF.rcx], [R8, TF.r8], [R9, TF.r9], [R10, TF.r10], [R11, TF.r11],
  [3, TF.rbx], [5, TF.rbp], [12, TF.r12], [13, TF.r13], [14, TF.r14], [15, TF.r15], [RAX, TF.rax],
];

/** Offsets in the per-CPU area libDune reaches through GS (dune.S). */
export const PERCPU = { self: 0, tmp: 8, kfsBase: 16, ufsBase: 24, inUsermode: 32, tss: 40, trapStack: 44 } as const;

/**
 * The IOPL guest ring 3 runs with, and the mark by which ring-0 entry code knows a SYSCALL came
 * from ring 3. Nothing ring 3 can write may decide that: it can load GS (MOV to GS clears the
 * base on Intel), map page 0, or set registers at will, but it cannot change IOPL — POPF and IRET
 * at CPL 3 leave the field as it is (SDM Vol. 2B POPF, Vol. 2A IRET) — and SYSCALL saves RFLAGS
 * in R11 before it masks anything. Ring 0 runs with IOPL 0, ring 3 with IOPL 1 (so CPL 3 > IOPL
 * still makes IN/OUT/CLI/STI fault), and the trampoline tests R11, as gVisor's ring0 entry does.
 * Upstream libDune reads %gs:IN_USERMODE instead, which ring 3 can redirect.
 */
export const RFLAGS_G3 = 1 << 12;

/** RFLAGS for guest ring 3: IOPL is the ring-3 mark (RFLAGS_G3), whatever `rflags` held. */
export function userRflags(rflags: number): number {
  return ((rflags & ~RFLAGS_IOPL) | RFLAGS_G3) >>> 0;
}
