import { CANONICAL_LIMIT, CR4_FSGSBASE, RFLAGS_IOPL, Vector } from '../arch.js';
import { VmExitReason } from '../vmcs-field.js';
import { materialize } from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { TWO_32, ea, regNum, setReg, setRegNum } from './operands.js';

/**
 * Instructions that belong to the CPU rather than to the interpreter: SYSCALL/SYSRET, INT n,
 * IRETQ, HLT, CPUID, RDTSC(P), RDMSR/WRMSR, MOV to/from CRn, INVLPG, INVPCID, LGDT/LIDT/LTR,
 * SWAPGS, CLI/STI, VMCALL, and port I/O. Each writes the lazy flags back first (the CPU method
 * may save RFLAGS, e.g. in a VM exit), then delegates to the Cpu method, which does the CPL
 * checks and VM exits; most end the run batch (`s.stop`) because they change the mode, the
 * address space or the interrupt flag.
 */

function handOver(s: Interp): void {
  materialize(s);
  s.stop = true;
}

export function syscall(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.syscall();
}

export function sysret(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.sysret();
}

/** INT n (CD ib), INT3 (CC: imm 3). */
export function intN(s: Interp, i: Insn): void {
  handOver(s);
  s.cpu.int(i.imm);
}

/** INT3 (CC): a #BP software exception, which the exception bitmap can turn into a VM exit. */
export function int3(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.int3();
}

export function iretq(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.iretq();
}

export function hlt(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.hlt();
}

export function cpuid(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.cpuid();
}

export function rdtsc(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.rdtsc();
}

export function rdtscp(s: Interp, _i: Insn): void {
  handOver(s);
  const aux = s.cpu.tscAux;
  s.cpu.rdtsc();
  s.lo[1] = aux >>> 0;
  s.hi[1] = 0;
}

export function rdmsr(s: Interp, _i: Insn): void {
  handOver(s);
  const c = s.cpu;
  const v = c.rdmsr(s.lo[1]!);
  s.lo[0] = v >>> 0;
  s.hi[0] = 0;
  s.lo[2] = c.msrHi >>> 0;
  s.hi[2] = 0;
}

export function wrmsr(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.wrmsr(s.lo[1]!, s.lo[0]!, s.lo[2]!);
}

/** MOV r64, CRn (0F 20): `i.reg` is the control register, `i.rm` the GPR. */
export function movFromCr(s: Interp, i: Insn): void {
  handOver(s);
  const v = s.cpu.readCr(i.reg);
  setRegNum(s, i.rm, v);
}

/** MOV CRn, r64 (0F 22). */
export function movToCr(s: Interp, i: Insn): void {
  handOver(s);
  s.cpu.writeCr(i.reg, s.lo[i.rm]!, s.hi[i.rm]!, i.rm);
}

export function invlpg(s: Interp, i: Insn): void {
  handOver(s);
  s.cpu.invlpg(ea(s, i));
}

/** INVPCID r64, m128 (66 0F 38 82). */
export function invpcid(s: Interp, i: Insn): void {
  handOver(s);
  const c = s.cpu;
  if (c.cpl !== 0) c.gp0();
  const a = ea(s, i);
  const mmu = s.mmu;
  const pcidLo = mmu.read64(a);
  const pcidHi = mmu.hi;
  const vaLo = mmu.read64(a + 8);
  const va = (mmu.hi | 0) * TWO_32 + vaLo;
  if (pcidHi !== 0 || pcidLo > 0xfff) c.gp0();
  const type = s.hi[i.reg] !== 0 ? 4 : s.lo[i.reg]!;
  c.invpcid(type, pcidLo, va);
}

/** LGDT (op 2) / LIDT (op 3): m16&64. */
export function lgdtLidt(s: Interp, i: Insn): void {
  handOver(s);
  const c = s.cpu;
  if (c.cpl !== 0) c.gp0();
  const a = ea(s, i);
  const limit = s.mmu.read16(a);
  const l = s.mmu.read64(a + 2);
  const base = (s.mmu.hi | 0) * TWO_32 + l;
  if (i.op === 2) c.lgdt(base, limit);
  else c.lidt(base, limit);
}

/** SGDT (op 0) / SIDT (op 1). */
export function sgdtSidt(s: Interp, i: Insn): void {
  const c = s.cpu;
  const a = ea(s, i);
  const base = i.op === 0 ? c.gdtrBase : c.idtrBase;
  const limit = i.op === 0 ? c.gdtrLimit : c.idtrLimit;
  s.mmu.write16(a, limit & 0xffff);
  s.mmu.write64(a + 2, base >>> 0, Math.floor(base / TWO_32) >>> 0);
}

/** LTR r/m16 (0F 00 /3). */
export function ltr(s: Interp, i: Insn): void {
  handOver(s);
  const sel = i.mod === 3 ? s.lo[i.rm]! & 0xffff : s.mmu.read16(ea(s, i));
  s.cpu.ltr(sel);
}

/** STR (0F 00 /1) and SLDT (0F 00 /0): the selector (the LDT is always null). */
export function strSldt(s: Interp, i: Insn): void {
  const v = i.op === 1 ? s.cpu.trSelector & 0xffff : 0;
  if (i.mod === 3) setReg(s, i.rm, i.size, v, 0);
  else s.mmu.write16(ea(s, i), v);
}

/** SMSW (0F 01 /4). */
export function smsw(s: Interp, i: Insn): void {
  const v = s.cpu.cr0 & 0xffff;
  if (i.mod === 3) setReg(s, i.rm, i.size, v, 0);
  else s.mmu.write16(ea(s, i), v);
}

export function swapgs(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.swapgs();
}

export function cli(s: Interp, _i: Insn): void {
  s.cpu.cli();
}

export function sti(s: Interp, _i: Insn): void {
  s.cpu.sti();
  s.stop = true; // the CPU accepts pending interrupts at the next boundary
}

export function vmcall(s: Interp, _i: Insn): void {
  handOver(s);
  s.cpu.vmcall();
}

/** CLTS, INVD, WBINVD: privileged, no architectural effect in the model. */
export function privilegedNop(s: Interp, _i: Insn): void {
  if (s.cpu.cpl !== 0) s.cpu.gp0();
}

export function ud(s: Interp, _i: Insn): void {
  s.cpu.ud();
}

/** MOV r/m, Sreg (8C): selectors of the flat 64-bit segments. */
export function movFromSreg(s: Interp, i: Insn): void {
  const c = s.cpu;
  let v: number;
  switch (i.reg & 7) {
    case 1: v = c.cs; break; // CS
    case 2: v = c.ss; break; // SS
    case 0: v = c.es; break;
    case 3: v = c.ds; break;
    case 4: v = c.fs; break;
    case 5: v = c.gs; break;
    default: return c.ud();
  }
  if (i.mod === 3) setReg(s, i.rm, i.size, v, 0);
  else s.mmu.write16(ea(s, i), v);
}

/**
 * MOV Sreg, r/m (8E): the descriptor checks of the SDM at the current CPL (`Cpu.loadSegment`);
 * a FS or GS load replaces the base, which is why ring-0 code must never trust the GS base ring
 * 3 left behind (libDune's entry code uses SWAPGS).
 */
export function movToSreg(s: Interp, i: Insn): void {
  const r = i.reg & 7;
  if (r === 1 || r > 5) s.cpu.ud();
  const sel = i.mod !== 3 ? s.mmu.read16(ea(s, i)) : s.lo[i.rm]! & 0xffff;
  s.cpu.loadSegment(r, sel);
}

// ---- Port I/O: #GP(0) when CPL > IOPL; in a guest it exits (unconditional I/O exiting, as
// Dune configures it); natively it reaches the machine's port bus (IN of an unclaimed port reads
// all ones, OUT to one is dropped).

/** `i.op`: bit 0 = OUT, bit 1 = port in DX (else imm8). */
export function io(s: Interp, i: Insn): void {
  const c = s.cpu;
  if (c.cpl > ((c.rflags & RFLAGS_IOPL) >>> 12)) c.gp0();
  const out = (i.op & 1) !== 0;
  const port = (i.op & 2) !== 0 ? s.lo[2]! & 0xffff : i.imm;
  if (c.vmx.nonRoot) {
    handOver(s);
    const qual = (i.size - 1) | (out ? 0 : 8) | ((i.op & 2) === 0 ? 64 : 0) | (port << 16);
    c.vmx.exit(VmExitReason.IoInstruction, qual, 0, 0, 0, 0);
  }
  const size = i.size as 1 | 2 | 4;
  if (out) c.ports.out(port, size, s.lo[0]! & (size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff));
  else setReg(s, 0, i.size, c.ports.in(port, size), 0);
}

/** INS/OUTS: privileged like IN/OUT; no devices behind them. */
export function ioString(s: Interp, i: Insn): void {
  const c = s.cpu;
  if (c.cpl > ((c.rflags & RFLAGS_IOPL) >>> 12)) c.gp0();
  if (c.vmx.nonRoot) {
    handOver(s);
    const out = (i.op & 1) !== 0;
    const qual = (i.size - 1) | (out ? 0 : 8) | 16 | (i.rep !== 0 ? 32 : 0) | ((s.lo[2]! & 0xffff) << 16);
    c.vmx.exit(VmExitReason.IoInstruction, qual, 0, 0, 0, 0);
  }
  c.raiseFault(Vector.GeneralProtection, 0, true);
}

// ---- MXCSR (0F AE /2 /3). CR4.OSFXSR is not enforced (the boot state leaves it clear).

export function ldmxcsr(s: Interp, i: Insn): void {
  const c = s.cpu;
  const v = s.mmu.read32(ea(s, i));
  if ((v & 0xffff_0000) !== 0) c.gp0();
  c.mxcsr = v;
}

export function stmxcsr(s: Interp, i: Insn): void {
  s.mmu.write32(ea(s, i), s.cpu.mxcsr);
}

/**
 * RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE (F3 [REX.W] 0F AE /0../3 with a register operand;
 * SDM Vol. 2D, and Vol. 3A §2.5: usable at any CPL, but only with CR4.FSGSBASE set, else #UD).
 * The 32-bit forms read the low half and write the base zero-extended; a 64-bit write of a
 * non-canonical base is #GP(0). No serialisation, no MSR access: one instruction's cost.
 */
export function fsgsbase(s: Interp, i: Insn): void {
  const c = s.cpu;
  if ((c.cr4 & CR4_FSGSBASE) === 0) c.ud();
  const gs = (i.op & 1) !== 0;
  if (i.op < 2) {
    const base = gs ? c.gsBase : c.fsBase;
    if (i.size === 8) setRegNum(s, i.rm, base);
    else setReg(s, i.rm, 4, base >>> 0, 0);
    return;
  }
  const base = i.size === 8 ? regNum(s, i.rm) : s.lo[i.rm]!;
  if (base >= CANONICAL_LIMIT || base < -CANONICAL_LIMIT) c.gp0();
  if (gs) c.gsBase = base;
  else c.fsBase = base;
}
