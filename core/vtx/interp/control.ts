import { CANONICAL_LIMIT, RFLAGS_AC, RFLAGS_ID, RFLAGS_IF, RFLAGS_IOPL, RFLAGS_NT, RFLAGS_TF } from '../arch.js';
import {
  CF, DF, STATUS, getCF, getLT, getOF, getPF, getSF, getZF, materialize, setSomeFlags,
} from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { TWO_32, ea, pop16, pop64, push16, push64, readMem, regNum, setReg16, setRegNum, stackAddress } from './operands.js';

/**
 * Control transfer and the stack: Jcc/JMP/CALL/RET (near, 64-bit), LOOP*, JRCXZ, PUSH/POP,
 * ENTER/LEAVE, PUSHF/POPF and the flag instructions CLC/STC/CMC/CLD/STD.
 *
 * A taken branch sets `cpu.rip` and `cpu.branched`. A non-canonical target raises #GP(0) at the
 * branch itself, before anything is pushed or popped (SDM Vol. 2A JMP, CALL, RET: "IF tempRIP is
 * not canonical THEN #GP(0)"): the fault's RIP is the branch's, never the bad target, so no
 * exception frame and no kernel ever sees a non-canonical RIP from it.
 */


/** #GP(0) unless `target` is a canonical address (a JS number in [-2^47, 2^47)). */
function checkTarget(s: Interp, target: number): void {
  if (target >= CANONICAL_LIMIT || target < -CANONICAL_LIMIT) s.cpu.gp0();
}

function taken(s: Interp, i: Insn): void {
  const c = s.cpu;
  const target = c.rip + i.len + i.imm;
  checkTarget(s, target);
  c.rip = target;
  c.branched = true;
}

export function jmpRel(s: Interp, i: Insn): void {
  taken(s, i);
}

// Jcc, one handler per condition (the hottest branch in compiled code: no switch).
export function jo(s: Interp, i: Insn): void { if (getOF(s) !== 0) taken(s, i); }
export function jno(s: Interp, i: Insn): void { if (getOF(s) === 0) taken(s, i); }
export function jb(s: Interp, i: Insn): void { if (getCF(s) !== 0) taken(s, i); }
export function jae(s: Interp, i: Insn): void { if (getCF(s) === 0) taken(s, i); }
export function je(s: Interp, i: Insn): void { if (getZF(s) !== 0) taken(s, i); }
export function jne(s: Interp, i: Insn): void { if (getZF(s) === 0) taken(s, i); }
export function jbe(s: Interp, i: Insn): void { if ((getCF(s) | getZF(s)) !== 0) taken(s, i); }
export function ja(s: Interp, i: Insn): void { if ((getCF(s) | getZF(s)) === 0) taken(s, i); }
export function js(s: Interp, i: Insn): void { if (getSF(s) !== 0) taken(s, i); }
export function jns(s: Interp, i: Insn): void { if (getSF(s) === 0) taken(s, i); }
export function jp(s: Interp, i: Insn): void { if (getPF(s) !== 0) taken(s, i); }
export function jnp(s: Interp, i: Insn): void { if (getPF(s) === 0) taken(s, i); }
export function jl(s: Interp, i: Insn): void { if (getLT(s)) taken(s, i); }
export function jge(s: Interp, i: Insn): void { if (!getLT(s)) taken(s, i); }
export function jle(s: Interp, i: Insn): void { if (getZF(s) !== 0 || getLT(s)) taken(s, i); }
export function jg(s: Interp, i: Insn): void { if (getZF(s) === 0 && !getLT(s)) taken(s, i); }

export const JCC = [jo, jno, jb, jae, je, jne, jbe, ja, js, jns, jp, jnp, jl, jge, jle, jg];

/** LOOP (op 2), LOOPE (1), LOOPNE (0): decrement rCX without touching flags. */
export function loop(s: Interp, i: Insn): void {
  const lo = s.lo;
  let nz: boolean;
  if (i.a32) {
    const c = (lo[1]! - 1) >>> 0;
    lo[1] = c;
    s.hi[1] = 0;
    nz = c !== 0;
  } else {
    const c = (lo[1]! - 1) >>> 0;
    if (c === 0xffff_ffff) s.hi[1] = (s.hi[1]! - 1) >>> 0;
    lo[1] = c;
    nz = c !== 0 || s.hi[1] !== 0;
  }
  if (!nz) return;
  if (i.op === 2 || (i.op === 1 ? getZF(s) !== 0 : getZF(s) === 0)) taken(s, i);
}

export function jrcxz(s: Interp, i: Insn): void {
  const zero = i.a32 ? s.lo[1] === 0 : s.lo[1] === 0 && s.hi[1] === 0;
  if (zero) taken(s, i);
}

// ---- CALL / RET / JMP indirect.

export function callRel(s: Interp, i: Insn): void {
  const c = s.cpu;
  const next = c.rip + i.len;
  checkTarget(s, next + i.imm);
  push64(s, next >>> 0, Math.floor(next / TWO_32) >>> 0);
  c.rip = next + i.imm;
  c.branched = true;
}

/** The target of an indirect near branch (FF /2, FF /4): 64-bit register or memory. */
function indirectTarget(s: Interp, i: Insn): number {
  if (i.mod === 3) return regNum(s, i.rm);
  const mmu = s.mmu;
  if (i.size === 2) return mmu.read16(ea(s, i));
  const l = mmu.read64(ea(s, i));
  return (mmu.hi | 0) * TWO_32 + l;
}

export function callInd(s: Interp, i: Insn): void {
  const c = s.cpu;
  const target = indirectTarget(s, i);
  checkTarget(s, target);
  const next = c.rip + i.len;
  push64(s, next >>> 0, Math.floor(next / TWO_32) >>> 0);
  c.rip = target;
  c.branched = true;
}

export function jmpInd(s: Interp, i: Insn): void {
  const c = s.cpu;
  const target = indirectTarget(s, i);
  checkTarget(s, target);
  c.rip = target;
  c.branched = true;
}

export function ret(s: Interp, _i: Insn): void {
  // The target is checked before RSP moves: a faulting RET pops nothing.
  const sp = stackAddress(s, regNum(s, 4));
  const mmu = s.mmu;
  const l = mmu.read64(sp);
  const target = (mmu.hi | 0) * TWO_32 + l;
  checkTarget(s, target);
  setRegNum(s, 4, sp + 8);
  const c = s.cpu;
  c.rip = target;
  c.branched = true;
}

/** RET imm16: pops RIP, then releases imm16 bytes of arguments. */
export function retImm(s: Interp, i: Insn): void {
  const sp = stackAddress(s, regNum(s, 4));
  const mmu = s.mmu;
  const l = mmu.read64(sp);
  const target = (mmu.hi | 0) * TWO_32 + l;
  checkTarget(s, target);
  setRegNum(s, 4, sp + 8 + i.imm);
  const c = s.cpu;
  c.rip = target;
  c.branched = true;
}

// ---- PUSH / POP.

export function pushR(s: Interp, i: Insn): void {
  if (i.size === 2) push16(s, s.lo[i.rm]!);
  else push64(s, s.lo[i.rm]!, s.hi[i.rm]!);
}

export function popR(s: Interp, i: Insn): void {
  if (i.size === 2) {
    const v = pop16(s);
    setReg16(s, i.rm, v);
    return;
  }
  const v = pop64(s);
  s.lo[i.rm] = v;
  s.hi[i.rm] = s.th;
}

export function pushI(s: Interp, i: Insn): void {
  if (i.size === 2) push16(s, i.imm);
  else push64(s, i.imm, i.immHi);
}

/** PUSH r/m (FF /6). */
export function pushM(s: Interp, i: Insn): void {
  if (i.size === 2) {
    push16(s, i.mod === 3 ? s.lo[i.rm]! : s.mmu.read16(ea(s, i)));
    return;
  }
  if (i.mod === 3) {
    push64(s, s.lo[i.rm]!, s.hi[i.rm]!);
    return;
  }
  const v = readMem(s, ea(s, i), 8);
  push64(s, v, s.th);
}

/** POP r/m (8F /0): with RSP as base, the address is computed after the increment. */
export function popM(s: Interp, i: Insn): void {
  const lo = s.lo;
  const hi = s.hi;
  const size = i.size === 2 ? 2 : 8;
  const sp = regNum(s, 4);
  const v = readMem(s, sp, size);
  const vh = s.th;
  if (i.mod === 3) {
    setRegNum(s, 4, sp + size);
    if (size === 2) setReg16(s, i.rm, v);
    else {
      lo[i.rm] = v;
      hi[i.rm] = vh;
    }
    return;
  }
  const oldLo = lo[4]!;
  const oldHi = hi[4]!;
  setRegNum(s, 4, sp + size);
  try {
    const a = ea(s, i);
    if (size === 2) s.mmu.write16(a, v);
    else s.mmu.write64(a, v, vh);
  } catch (e) {
    lo[4] = oldLo;
    hi[4] = oldHi;
    throw e;
  }
}

// ---- ENTER / LEAVE.

export function enter(s: Interp, i: Insn): void {
  const size = i.size === 2 ? 2 : 8;
  const alloc = i.imm;
  const level = i.imm2 & 31;
  const lo = s.lo;
  const hi = s.hi;
  const mmu = s.mmu;
  let sp = regNum(s, 4);
  const rbp = regNum(s, 5);
  // Compute everything on a scratch stack pointer; commit registers at the end.
  sp = stackAddress(s, sp - size);
  if (size === 8) mmu.write64(sp, lo[5]!, hi[5]!);
  else mmu.write16(sp, lo[5]! & 0xffff);
  const frame = sp;
  if (level > 0) {
    let bp = rbp;
    for (let n = 1; n < level; n++) {
      bp = stackAddress(s, bp - size);
      sp = stackAddress(s, sp - size);
      if (size === 8) {
        const l = mmu.read64(bp);
        mmu.write64(sp, l, mmu.hi);
      } else {
        mmu.write16(sp, mmu.read16(bp));
      }
    }
    sp = stackAddress(s, sp - size);
    if (size === 8) mmu.write64(sp, frame >>> 0, Math.floor(frame / TWO_32) >>> 0);
    else mmu.write16(sp, frame & 0xffff);
  }
  if (size === 8) setRegNum(s, 5, frame);
  else setReg16(s, 5, frame);
  setRegNum(s, 4, sp - alloc);
}

export function leave(s: Interp, i: Insn): void {
  const lo = s.lo;
  const hi = s.hi;
  const mmu = s.mmu;
  // LEAVE's read of [RBP] is a stack reference (SS): #SS(0) if RBP is not canonical.
  if (i.size === 2) {
    const bp = stackAddress(s, regNum(s, 5));
    const v = mmu.read16(bp);
    setRegNum(s, 4, bp + 2);
    setReg16(s, 5, v);
    return;
  }
  const bp = stackAddress(s, regNum(s, 5));
  const v = mmu.read64(bp);
  const vh = mmu.hi;
  setRegNum(s, 4, bp + 8);
  lo[5] = v;
  hi[5] = vh;
}

// ---- Flags.

/** PUSHF/PUSHFQ: the image has RF and VM clear. */
export function pushf(s: Interp, i: Insn): void {
  materialize(s);
  const f = s.cpu.rflags & 0x00fc_ffff;
  if (i.size === 2) push16(s, f);
  else push64(s, f, 0);
}

/** POPF/POPFQ: which bits change depends on CPL and IOPL (SDM Vol. 2B "POPF"). */
export function popf(s: Interp, i: Insn): void {
  const c = s.cpu;
  const v = i.size === 2 ? pop16(s) | (c.rflags & 0xffff_0000) : pop64(s);
  let mask = STATUS | RFLAGS_TF | DF | RFLAGS_NT | RFLAGS_AC | RFLAGS_ID;
  const iopl = (c.rflags & RFLAGS_IOPL) >>> 12;
  if (c.cpl === 0) mask |= RFLAGS_IOPL | RFLAGS_IF;
  else if (c.cpl <= iopl) mask |= RFLAGS_IF;
  if (i.size === 2) mask &= 0xffff;
  s.fop = -1;
  const old = c.rflags;
  c.rflags = ((old & ~mask) | (v & mask) | 2) >>> 0;
  // Enabling interrupts (or tracing) must be seen by the CPU's run loop.
  if (((old ^ c.rflags) & (RFLAGS_IF | RFLAGS_TF)) !== 0) s.stop = true;
}

export function clc(s: Interp, _i: Insn): void { setSomeFlags(s, CF, 0); }
export function stc(s: Interp, _i: Insn): void { setSomeFlags(s, CF, CF); }
export function cmc(s: Interp, _i: Insn): void { setSomeFlags(s, CF, getCF(s) ^ 1); }
export function cld(s: Interp, _i: Insn): void { s.cpu.rflags = (s.cpu.rflags & ~DF) >>> 0; }
export function std(s: Interp, _i: Insn): void { s.cpu.rflags = (s.cpu.rflags | DF) >>> 0; }

export function nop(_s: Interp, _i: Insn): void {}
