import { K_ADC, K_ADD, K_DEC, K_INC, K_LOGIC, K_SBB, K_SUB, getCF } from './flags.js';
import type { Handler, Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { TWO_32, ea, getReg, readMem, setReg, sizeMask, writeMem } from './operands.js';

/**
 * ADD, OR, ADC, SBB, AND, SUB, XOR, CMP (the x86 order, ModRM.reg of group 1) and TEST, with
 * INC, DEC, NEG and NOT. Every form comes as a register handler and a memory handler; 32- and
 * 64-bit forms are specialised, 8- and 16-bit forms share handlers that mask by `i.size`.
 *
 * Flags are lazy (flags.ts). A read-modify-write handler stores its result before it records the
 * flags, so a fault on the store leaves the flags of the previous instruction in place.
 */

export const OP_ADD = 0;
export const OP_OR = 1;
export const OP_ADC = 2;
export const OP_SBB = 3;
export const OP_AND = 4;
export const OP_SUB = 5;
export const OP_XOR = 6;
export const OP_CMP = 7;
export const OP_TEST = 8;

/** Flag kind of each ALU operation. */
const KIND = new Int32Array([K_ADD, K_LOGIC, K_ADC, K_SBB, K_LOGIC, K_SUB, K_LOGIC, K_SUB, K_LOGIC]);
/** fop of each operation, by size code 2 (32-bit) and 3 (64-bit). */
const FOP32 = KIND.map((k) => (k << 2) | 2);
const FOP64 = KIND.map((k) => (k << 2) | 3);

function carryIn(s: Interp, op: number): number {
  return op === OP_ADC || op === OP_SBB ? getCF(s) : 0;
}

/** The result of `op` on values of at most 32 bits, masked by `mask`, as an unsigned number. */
export function aluCompute(op: number, a: number, b: number, c: number, mask: number): number {
  switch (op) {
    case OP_ADD: return ((a + b) & mask) >>> 0;
    case OP_OR: return ((a | b) & mask) >>> 0;
    case OP_ADC: return ((a + b + c) & mask) >>> 0;
    case OP_SBB: return ((a - b - c) & mask) >>> 0;
    case OP_AND: return ((a & b) & mask) >>> 0;
    case OP_XOR: return ((a ^ b) & mask) >>> 0;
    case OP_TEST: return ((a & b) & mask) >>> 0;
    default: return ((a - b) & mask) >>> 0; // SUB, CMP
  }
}

/** 64-bit `op`: returns the low half, leaves the high half in `s.th`. */
export function aluCompute64(s: Interp, op: number, al: number, ah: number, bl: number, bh: number, c: number): number {
  switch (op) {
    case OP_ADD:
    case OP_ADC: {
      const t = al + bl + c;
      s.th = (ah + bh + (t >= TWO_32 ? 1 : 0)) >>> 0;
      return t >>> 0;
    }
    case OP_OR:
      s.th = (ah | bh) >>> 0;
      return (al | bl) >>> 0;
    case OP_AND:
    case OP_TEST:
      s.th = (ah & bh) >>> 0;
      return (al & bl) >>> 0;
    case OP_XOR:
      s.th = (ah ^ bh) >>> 0;
      return (al ^ bl) >>> 0;
    default: {
      // SUB, SBB, CMP
      const t = al - bl - c;
      s.th = (ah - bh - (t < 0 ? 1 : 0)) >>> 0;
      return t >>> 0;
    }
  }
}

function flags32(s: Interp, op: number, a: number, b: number, r: number, c: number): void {
  s.fop = FOP32[op]!;
  s.fa = a;
  s.fb = b;
  s.fr = r;
  s.fcf = c;
}

function flags64(s: Interp, op: number, al: number, ah: number, bl: number, bh: number, rl: number, rh: number, c: number): void {
  s.fop = FOP64[op]!;
  s.fa = al;
  s.fah = ah;
  s.fb = bl;
  s.fbh = bh;
  s.fr = rl;
  s.frh = rh;
  s.fcf = c;
}

function flagsN(s: Interp, op: number, size: number, a: number, b: number, r: number, c: number): void {
  s.fop = (KIND[op]! << 2) | (size === 1 ? 0 : 1);
  s.fa = a;
  s.fb = b;
  s.fr = r;
  s.fcf = c;
}

// ---- 32-bit forms: each decoder form picks its operands, one kernel per destination kind.

/** op r32, b: the result (unless CMP/TEST) zero-extends into the 64-bit register (SDM Vol. 1 §3.4.1.1). */
function aluReg32(s: Interp, op: number, d: number, b: number): void {
  const lo = s.lo;
  const a = lo[d]!;
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, 0xffff_ffff);
  if (op < OP_CMP) {
    lo[d] = r;
    s.hi[d] = 0;
  }
  flags32(s, op, a, b, r, c);
}

/** op m32, b. */
function aluMem32(s: Interp, op: number, addr: number, b: number): void {
  const a = s.mmu.read32(addr);
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, 0xffff_ffff);
  if (op < OP_CMP) s.mmu.write32(addr, r);
  flags32(s, op, a, b, r, c);
}

/** op r/m32, r32 — register destination. */
function aluRmR32_rG(s: Interp, i: Insn, op: number): void {
  aluReg32(s, op, i.rm, s.lo[i.reg]!);
}

function aluRmR32_mG(s: Interp, i: Insn, op: number): void {
  aluMem32(s, op, ea(s, i), s.lo[i.reg]!);
}

/** op r32, r/m32 — register source. */
function aluRRm32_rG(s: Interp, i: Insn, op: number): void {
  aluReg32(s, op, i.reg, s.lo[i.rm]!);
}

function aluRRm32_mG(s: Interp, i: Insn, op: number): void {
  aluReg32(s, op, i.reg, s.mmu.read32(ea(s, i)));
}

function aluRmI32_rG(s: Interp, i: Insn, op: number): void {
  aluReg32(s, op, i.rm, i.imm);
}

function aluRmI32_mG(s: Interp, i: Insn, op: number): void {
  aluMem32(s, op, ea(s, i), i.imm);
}

// ---- 64-bit forms (values as 32-bit halves).

/** op r64, bh:bl. */
function aluReg64(s: Interp, op: number, d: number, bl: number, bh: number): void {
  const lo = s.lo;
  const hi = s.hi;
  const al = lo[d]!;
  const ah = hi[d]!;
  const c = carryIn(s, op);
  const rl = aluCompute64(s, op, al, ah, bl, bh, c);
  const rh = s.th;
  if (op < OP_CMP) {
    lo[d] = rl;
    hi[d] = rh;
  }
  flags64(s, op, al, ah, bl, bh, rl, rh, c);
}

/** op m64, bh:bl. */
function aluMem64(s: Interp, op: number, addr: number, bl: number, bh: number): void {
  const mmu = s.mmu;
  const al = mmu.read64(addr);
  const ah = mmu.hi;
  const c = carryIn(s, op);
  const rl = aluCompute64(s, op, al, ah, bl, bh, c);
  const rh = s.th;
  if (op < OP_CMP) mmu.write64(addr, rl, rh);
  flags64(s, op, al, ah, bl, bh, rl, rh, c);
}

function aluRmR64_rG(s: Interp, i: Insn, op: number): void {
  aluReg64(s, op, i.rm, s.lo[i.reg]!, s.hi[i.reg]!);
}

function aluRmR64_mG(s: Interp, i: Insn, op: number): void {
  aluMem64(s, op, ea(s, i), s.lo[i.reg]!, s.hi[i.reg]!);
}

function aluRRm64_rG(s: Interp, i: Insn, op: number): void {
  aluReg64(s, op, i.reg, s.lo[i.rm]!, s.hi[i.rm]!);
}

function aluRRm64_mG(s: Interp, i: Insn, op: number): void {
  const mmu = s.mmu;
  const bl = mmu.read64(ea(s, i));
  aluReg64(s, op, i.reg, bl, mmu.hi);
}

function aluRmI64_rG(s: Interp, i: Insn, op: number): void {
  aluReg64(s, op, i.rm, i.imm, i.immHi);
}

function aluRmI64_mG(s: Interp, i: Insn, op: number): void {
  aluMem64(s, op, ea(s, i), i.imm, i.immHi);
}

// ---- 8- and 16-bit forms (size in i.size).

export function aluRmRN_r(s: Interp, i: Insn): void {
  const op = i.op;
  const size = i.size;
  const a = getReg(s, i.rm, size);
  const b = getReg(s, i.reg, size);
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, sizeMask(size));
  if (op < OP_CMP) setReg(s, i.rm, size, r, 0);
  flagsN(s, op, size, a, b, r, c);
}

export function aluRmRN_m(s: Interp, i: Insn): void {
  const op = i.op;
  const size = i.size;
  const addr = ea(s, i);
  const a = readMem(s, addr, size);
  const b = getReg(s, i.reg, size);
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, sizeMask(size));
  if (op < OP_CMP) writeMem(s, addr, size, r, 0);
  flagsN(s, op, size, a, b, r, c);
}

export function aluRRmN_r(s: Interp, i: Insn): void {
  const op = i.op;
  const size = i.size;
  const a = getReg(s, i.reg, size);
  const b = getReg(s, i.rm, size);
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, sizeMask(size));
  if (op < OP_CMP) setReg(s, i.reg, size, r, 0);
  flagsN(s, op, size, a, b, r, c);
}

export function aluRRmN_m(s: Interp, i: Insn): void {
  const op = i.op;
  const size = i.size;
  const b = readMem(s, ea(s, i), size);
  const a = getReg(s, i.reg, size);
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, sizeMask(size));
  if (op < OP_CMP) setReg(s, i.reg, size, r, 0);
  flagsN(s, op, size, a, b, r, c);
}

export function aluRmIN_r(s: Interp, i: Insn): void {
  const op = i.op;
  const size = i.size;
  const a = getReg(s, i.rm, size);
  const b = i.imm;
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, sizeMask(size));
  if (op < OP_CMP) setReg(s, i.rm, size, r, 0);
  flagsN(s, op, size, a, b, r, c);
}

export function aluRmIN_m(s: Interp, i: Insn): void {
  const op = i.op;
  const size = i.size;
  const addr = ea(s, i);
  const a = readMem(s, addr, size);
  const b = i.imm;
  const c = carryIn(s, op);
  const r = aluCompute(op, a, b, c, sizeMask(size));
  if (op < OP_CMP) writeMem(s, addr, size, r, 0);
  flagsN(s, op, size, a, b, r, c);
}

// ---- INC / DEC / NEG / NOT (group 3 /2 /3, group 4/5 /0 /1). `i.op`: 0 INC, 1 DEC, 2 NOT, 3 NEG.

const UNARY_INC = 0;
const UNARY_DEC = 1;
const UNARY_NOT = 2;

function unaryValue(s: Interp, op: number, size: number, a: number, ah: number): number {
  if (size === 8) {
    switch (op) {
      case UNARY_INC: {
        const r = (a + 1) >>> 0;
        s.th = r === 0 ? (ah + 1) >>> 0 : ah;
        return r;
      }
      case UNARY_DEC: {
        const r = (a - 1) >>> 0;
        s.th = a === 0 ? (ah - 1) >>> 0 : ah;
        return r;
      }
      case UNARY_NOT:
        s.th = ~ah >>> 0;
        return ~a >>> 0;
      default:
        s.th = (-ah - (a !== 0 ? 1 : 0)) >>> 0;
        return -a >>> 0;
    }
  }
  const m = sizeMask(size);
  switch (op) {
    case UNARY_INC: return ((a + 1) & m) >>> 0;
    case UNARY_DEC: return ((a - 1) & m) >>> 0;
    case UNARY_NOT: return (~a & m) >>> 0;
    default: return (-a & m) >>> 0;
  }
}

function unaryFlags(s: Interp, op: number, size: number, a: number, ah: number, r: number, rh: number): void {
  if (op === UNARY_NOT) return;
  const sc = size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3;
  if (op === UNARY_INC || op === UNARY_DEC) {
    s.fcf = getCF(s);
    s.fop = ((op === UNARY_INC ? K_INC : K_DEC) << 2) | sc;
    s.fa = a;
    s.fah = ah;
    s.fb = 1;
    s.fbh = 0;
  } else {
    s.fop = (K_SUB << 2) | sc;
    s.fa = 0;
    s.fah = 0;
    s.fb = a;
    s.fbh = ah;
  }
  s.fr = r;
  s.frh = rh;
}

export function unary_r(s: Interp, i: Insn): void {
  const size = i.size;
  const a = getReg(s, i.rm, size);
  const ah = size === 8 ? s.th : 0;
  const r = unaryValue(s, i.op, size, a, ah);
  const rh = s.th;
  setReg(s, i.rm, size, r, rh);
  unaryFlags(s, i.op, size, a, ah, r, rh);
}

export function unary_m(s: Interp, i: Insn): void {
  const size = i.size;
  const addr = ea(s, i);
  const a = readMem(s, addr, size);
  const ah = size === 8 ? s.th : 0;
  const r = unaryValue(s, i.op, size, a, ah);
  const rh = s.th;
  writeMem(s, addr, size, r, rh);
  unaryFlags(s, i.op, size, a, ah, r, rh);
}

/** INC/DEC r32 fast path (loop counters). */
export function incDec32_r(s: Interp, i: Insn): void {
  const d = i.rm;
  const a = s.lo[d]!;
  const r = (i.op === UNARY_INC ? a + 1 : a - 1) >>> 0;
  s.lo[d] = r;
  s.hi[d] = 0;
  s.fcf = getCF(s);
  s.fop = ((i.op === UNARY_INC ? K_INC : K_DEC) << 2) | 2;
  s.fa = a;
  s.fb = 1;
  s.fr = r;
}

// ---- Per-operation entry points: the operation is a constant, so the generic body above is
// inlined with its `switch` folded away (one function per (operation, form) pair).

export function aluRmR32_r_add(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 0); }
export function aluRmR32_r_or(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 1); }
export function aluRmR32_r_adc(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 2); }
export function aluRmR32_r_sbb(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 3); }
export function aluRmR32_r_and(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 4); }
export function aluRmR32_r_sub(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 5); }
export function aluRmR32_r_xor(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 6); }
export function aluRmR32_r_cmp(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 7); }
export function aluRmR32_r_test(s: Interp, i: Insn): void { aluRmR32_rG(s, i, 8); }
export const ALURMR32_R: readonly Handler[] = [aluRmR32_r_add, aluRmR32_r_or, aluRmR32_r_adc, aluRmR32_r_sbb, aluRmR32_r_and, aluRmR32_r_sub, aluRmR32_r_xor, aluRmR32_r_cmp, aluRmR32_r_test];

export function aluRmR32_m_add(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 0); }
export function aluRmR32_m_or(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 1); }
export function aluRmR32_m_adc(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 2); }
export function aluRmR32_m_sbb(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 3); }
export function aluRmR32_m_and(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 4); }
export function aluRmR32_m_sub(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 5); }
export function aluRmR32_m_xor(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 6); }
export function aluRmR32_m_cmp(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 7); }
export function aluRmR32_m_test(s: Interp, i: Insn): void { aluRmR32_mG(s, i, 8); }
export const ALURMR32_M: readonly Handler[] = [aluRmR32_m_add, aluRmR32_m_or, aluRmR32_m_adc, aluRmR32_m_sbb, aluRmR32_m_and, aluRmR32_m_sub, aluRmR32_m_xor, aluRmR32_m_cmp, aluRmR32_m_test];

export function aluRRm32_r_add(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 0); }
export function aluRRm32_r_or(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 1); }
export function aluRRm32_r_adc(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 2); }
export function aluRRm32_r_sbb(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 3); }
export function aluRRm32_r_and(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 4); }
export function aluRRm32_r_sub(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 5); }
export function aluRRm32_r_xor(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 6); }
export function aluRRm32_r_cmp(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 7); }
export function aluRRm32_r_test(s: Interp, i: Insn): void { aluRRm32_rG(s, i, 8); }
export const ALURRM32_R: readonly Handler[] = [aluRRm32_r_add, aluRRm32_r_or, aluRRm32_r_adc, aluRRm32_r_sbb, aluRRm32_r_and, aluRRm32_r_sub, aluRRm32_r_xor, aluRRm32_r_cmp, aluRRm32_r_test];

export function aluRRm32_m_add(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 0); }
export function aluRRm32_m_or(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 1); }
export function aluRRm32_m_adc(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 2); }
export function aluRRm32_m_sbb(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 3); }
export function aluRRm32_m_and(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 4); }
export function aluRRm32_m_sub(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 5); }
export function aluRRm32_m_xor(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 6); }
export function aluRRm32_m_cmp(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 7); }
export function aluRRm32_m_test(s: Interp, i: Insn): void { aluRRm32_mG(s, i, 8); }
export const ALURRM32_M: readonly Handler[] = [aluRRm32_m_add, aluRRm32_m_or, aluRRm32_m_adc, aluRRm32_m_sbb, aluRRm32_m_and, aluRRm32_m_sub, aluRRm32_m_xor, aluRRm32_m_cmp, aluRRm32_m_test];

export function aluRmI32_r_add(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 0); }
export function aluRmI32_r_or(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 1); }
export function aluRmI32_r_adc(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 2); }
export function aluRmI32_r_sbb(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 3); }
export function aluRmI32_r_and(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 4); }
export function aluRmI32_r_sub(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 5); }
export function aluRmI32_r_xor(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 6); }
export function aluRmI32_r_cmp(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 7); }
export function aluRmI32_r_test(s: Interp, i: Insn): void { aluRmI32_rG(s, i, 8); }
export const ALURMI32_R: readonly Handler[] = [aluRmI32_r_add, aluRmI32_r_or, aluRmI32_r_adc, aluRmI32_r_sbb, aluRmI32_r_and, aluRmI32_r_sub, aluRmI32_r_xor, aluRmI32_r_cmp, aluRmI32_r_test];

export function aluRmI32_m_add(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 0); }
export function aluRmI32_m_or(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 1); }
export function aluRmI32_m_adc(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 2); }
export function aluRmI32_m_sbb(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 3); }
export function aluRmI32_m_and(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 4); }
export function aluRmI32_m_sub(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 5); }
export function aluRmI32_m_xor(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 6); }
export function aluRmI32_m_cmp(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 7); }
export function aluRmI32_m_test(s: Interp, i: Insn): void { aluRmI32_mG(s, i, 8); }
export const ALURMI32_M: readonly Handler[] = [aluRmI32_m_add, aluRmI32_m_or, aluRmI32_m_adc, aluRmI32_m_sbb, aluRmI32_m_and, aluRmI32_m_sub, aluRmI32_m_xor, aluRmI32_m_cmp, aluRmI32_m_test];

export function aluRmR64_r_add(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 0); }
export function aluRmR64_r_or(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 1); }
export function aluRmR64_r_adc(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 2); }
export function aluRmR64_r_sbb(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 3); }
export function aluRmR64_r_and(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 4); }
export function aluRmR64_r_sub(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 5); }
export function aluRmR64_r_xor(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 6); }
export function aluRmR64_r_cmp(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 7); }
export function aluRmR64_r_test(s: Interp, i: Insn): void { aluRmR64_rG(s, i, 8); }
export const ALURMR64_R: readonly Handler[] = [aluRmR64_r_add, aluRmR64_r_or, aluRmR64_r_adc, aluRmR64_r_sbb, aluRmR64_r_and, aluRmR64_r_sub, aluRmR64_r_xor, aluRmR64_r_cmp, aluRmR64_r_test];

export function aluRmR64_m_add(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 0); }
export function aluRmR64_m_or(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 1); }
export function aluRmR64_m_adc(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 2); }
export function aluRmR64_m_sbb(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 3); }
export function aluRmR64_m_and(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 4); }
export function aluRmR64_m_sub(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 5); }
export function aluRmR64_m_xor(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 6); }
export function aluRmR64_m_cmp(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 7); }
export function aluRmR64_m_test(s: Interp, i: Insn): void { aluRmR64_mG(s, i, 8); }
export const ALURMR64_M: readonly Handler[] = [aluRmR64_m_add, aluRmR64_m_or, aluRmR64_m_adc, aluRmR64_m_sbb, aluRmR64_m_and, aluRmR64_m_sub, aluRmR64_m_xor, aluRmR64_m_cmp, aluRmR64_m_test];

export function aluRRm64_r_add(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 0); }
export function aluRRm64_r_or(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 1); }
export function aluRRm64_r_adc(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 2); }
export function aluRRm64_r_sbb(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 3); }
export function aluRRm64_r_and(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 4); }
export function aluRRm64_r_sub(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 5); }
export function aluRRm64_r_xor(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 6); }
export function aluRRm64_r_cmp(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 7); }
export function aluRRm64_r_test(s: Interp, i: Insn): void { aluRRm64_rG(s, i, 8); }
export const ALURRM64_R: readonly Handler[] = [aluRRm64_r_add, aluRRm64_r_or, aluRRm64_r_adc, aluRRm64_r_sbb, aluRRm64_r_and, aluRRm64_r_sub, aluRRm64_r_xor, aluRRm64_r_cmp, aluRRm64_r_test];

export function aluRRm64_m_add(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 0); }
export function aluRRm64_m_or(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 1); }
export function aluRRm64_m_adc(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 2); }
export function aluRRm64_m_sbb(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 3); }
export function aluRRm64_m_and(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 4); }
export function aluRRm64_m_sub(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 5); }
export function aluRRm64_m_xor(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 6); }
export function aluRRm64_m_cmp(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 7); }
export function aluRRm64_m_test(s: Interp, i: Insn): void { aluRRm64_mG(s, i, 8); }
export const ALURRM64_M: readonly Handler[] = [aluRRm64_m_add, aluRRm64_m_or, aluRRm64_m_adc, aluRRm64_m_sbb, aluRRm64_m_and, aluRRm64_m_sub, aluRRm64_m_xor, aluRRm64_m_cmp, aluRRm64_m_test];

export function aluRmI64_r_add(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 0); }
export function aluRmI64_r_or(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 1); }
export function aluRmI64_r_adc(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 2); }
export function aluRmI64_r_sbb(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 3); }
export function aluRmI64_r_and(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 4); }
export function aluRmI64_r_sub(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 5); }
export function aluRmI64_r_xor(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 6); }
export function aluRmI64_r_cmp(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 7); }
export function aluRmI64_r_test(s: Interp, i: Insn): void { aluRmI64_rG(s, i, 8); }
export const ALURMI64_R: readonly Handler[] = [aluRmI64_r_add, aluRmI64_r_or, aluRmI64_r_adc, aluRmI64_r_sbb, aluRmI64_r_and, aluRmI64_r_sub, aluRmI64_r_xor, aluRmI64_r_cmp, aluRmI64_r_test];

export function aluRmI64_m_add(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 0); }
export function aluRmI64_m_or(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 1); }
export function aluRmI64_m_adc(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 2); }
export function aluRmI64_m_sbb(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 3); }
export function aluRmI64_m_and(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 4); }
export function aluRmI64_m_sub(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 5); }
export function aluRmI64_m_xor(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 6); }
export function aluRmI64_m_cmp(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 7); }
export function aluRmI64_m_test(s: Interp, i: Insn): void { aluRmI64_mG(s, i, 8); }
export const ALURMI64_M: readonly Handler[] = [aluRmI64_m_add, aluRmI64_m_or, aluRmI64_m_adc, aluRmI64_m_sbb, aluRmI64_m_and, aluRmI64_m_sub, aluRmI64_m_xor, aluRmI64_m_cmp, aluRmI64_m_test];
