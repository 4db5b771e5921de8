import { CANONICAL_LIMIT, Vector } from '../arch.js';
import { BASE_RIP, Insn, SEG_FS } from './insn.js';
import type { Interp } from './interp-state.js';

/**
 * Operand access shared by the handlers: effective addresses, registers of every size, and
 * memory reads and writes of every size through the MMU. 64-bit values travel as two 32-bit
 * halves; helpers that produce one return the low half and leave the high half in `s.th`.
 */

export const TWO_32 = 4294967296;

/** Effective (linear) address of a memory operand, as a signed number. */
export function ea(s: Interp, i: Insn): number {
  const lo = s.lo;
  const hi = s.hi;
  let a = i.disp;
  const b = i.base;
  if (b >= 0) a += b === BASE_RIP ? s.cpu.rip + i.len : (hi[b]! | 0) * TWO_32 + lo[b]!;
  const x = i.index;
  if (x >= 0) a += ((hi[x]! | 0) * TWO_32 + lo[x]!) * i.scale;
  if (i.seg !== 0 || i.a32) return eaSlow(s, i, a);
  return a;
}

function eaSlow(s: Interp, i: Insn, a64: number): number {
  let a = a64;
  if (i.a32) {
    // 32-bit address size: the sum wraps at 2^32 and is zero-extended.
    const lo = s.lo;
    a = i.disp;
    const b = i.base;
    if (b >= 0) a += b === BASE_RIP ? s.cpu.rip + i.len : lo[b]!;
    if (i.index >= 0) a += lo[i.index]! * i.scale;
    a = a >>> 0;
  } else if (a >= 2 ** 63 || a < -(2 ** 63)) {
    a = wrap64(a);
  }
  if (i.seg !== 0) a += i.seg === SEG_FS ? s.cpu.fsBase : s.cpu.gsBase;
  return a;
}

/** A number reduced to the signed 64-bit range (exact while it is an integer below 2^53). */
export function wrap64(a: number): number {
  const h = Math.floor(a / TWO_32);
  return (h | 0) * TWO_32 + (a - h * TWO_32);
}

/** A register as a signed number (addresses, counts). */
export function regNum(s: Interp, r: number): number {
  return (s.hi[r]! | 0) * TWO_32 + s.lo[r]!;
}

/** Sets a 64-bit register from a number (its value modulo 2^64). */
export function setRegNum(s: Interp, r: number, v: number): void {
  s.lo[r] = v >>> 0;
  s.hi[r] = Math.floor(v / TWO_32) >>> 0;
}

// ---- Registers by size. Byte registers 16..19 are AH, CH, DH, BH.

export function getReg8(s: Interp, r: number): number {
  return r < 16 ? s.lo[r]! & 0xff : (s.lo[r - 16]! >>> 8) & 0xff;
}

export function setReg8(s: Interp, r: number, v: number): void {
  const lo = s.lo;
  if (r < 16) lo[r] = (lo[r]! & 0xffff_ff00) | (v & 0xff);
  else lo[r - 16] = (lo[r - 16]! & 0xffff_00ff) | ((v & 0xff) << 8);
}

export function setReg16(s: Interp, r: number, v: number): void {
  s.lo[r] = (s.lo[r]! & 0xffff_0000) | (v & 0xffff);
}

export function setReg32(s: Interp, r: number, v: number): void {
  s.lo[r] = v;
  s.hi[r] = 0;
}

/** Reads a register of `size` bytes (low half; high half of a 64-bit register in `s.th`). */
export function getReg(s: Interp, r: number, size: number): number {
  switch (size) {
    case 1: return getReg8(s, r);
    case 2: return s.lo[r]! & 0xffff;
    case 4: return s.lo[r]!;
    default:
      s.th = s.hi[r]!;
      return s.lo[r]!;
  }
}

/** Writes a register of `size` bytes (32-bit writes zero the high half, as on hardware). */
export function setReg(s: Interp, r: number, size: number, v: number, vh: number): void {
  switch (size) {
    case 1: setReg8(s, r, v); break;
    case 2: setReg16(s, r, v); break;
    case 4: s.lo[r] = v; s.hi[r] = 0; break;
    default: s.lo[r] = v; s.hi[r] = vh;
  }
}

// ---- Memory by size.

export function readMem(s: Interp, a: number, size: number): number {
  switch (size) {
    case 1: return s.mmu.read8(a);
    case 2: return s.mmu.read16(a);
    case 4: return s.mmu.read32(a);
    default: {
      const v = s.mmu.read64(a);
      s.th = s.mmu.hi;
      return v;
    }
  }
}

export function writeMem(s: Interp, a: number, size: number, v: number, vh: number): void {
  switch (size) {
    case 1: s.mmu.write8(a, v & 0xff); break;
    case 2: s.mmu.write16(a, v & 0xffff); break;
    case 4: s.mmu.write32(a, v); break;
    default: s.mmu.write64(a, v, vh);
  }
}

/** Reads the r/m operand (register or memory) of `i.size` bytes. */
export function readRM(s: Interp, i: Insn): number {
  if (i.mod === 3) return getReg(s, i.rm, i.size);
  return readMem(s, ea(s, i), i.size);
}

/** Reads the r/m operand with an explicit size (MOVZX/MOVSX sources …). */
export function readRMSize(s: Interp, i: Insn, size: number): number {
  if (i.mod === 3) return getReg(s, i.rm, size);
  return readMem(s, ea(s, i), size);
}

// ---- Sign and zero extension.

/** Sign-extends a `size`-byte value to 32 bits (returned as int32). */
export function sext32(v: number, size: number): number {
  switch (size) {
    case 1: return (v << 24) >> 24;
    case 2: return (v << 16) >> 16;
    default: return v | 0;
  }
}

/** Mask of an operand size (1/2/4 bytes). */
export function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
}

// ---- Stack.

/**
 * A stack reference's linear address: a non-canonical one raises #SS(0), not #GP(0) (SDM Vol. 3A
 * §6.15 "Interrupt 12": a memory operand that uses SS — PUSH, POP, CALL, RET, ENTER, LEAVE —
 * with a non-canonical address).
 */
export function stackAddress(s: Interp, va: number): number {
  if (va >= CANONICAL_LIMIT || va < -CANONICAL_LIMIT) s.cpu.raiseFault(Vector.StackFault, 0, true);
  return va;
}

export function push64(s: Interp, vlo: number, vhi: number): void {
  const lo = s.lo;
  const hi = s.hi;
  const l = lo[4]!;
  const nlo = (l - 8) >>> 0;
  const nhi = l < 8 ? (hi[4]! - 1) >>> 0 : hi[4]!;
  s.mmu.write64(stackAddress(s, (nhi | 0) * TWO_32 + nlo), vlo, vhi);
  lo[4] = nlo;
  hi[4] = nhi;
}

/** Pops 8 bytes: returns the low half, leaves the high half in `s.th`. */
export function pop64(s: Interp): number {
  const lo = s.lo;
  const hi = s.hi;
  const l = lo[4]!;
  const v = s.mmu.read64(stackAddress(s, (hi[4]! | 0) * TWO_32 + l));
  s.th = s.mmu.hi;
  const nlo = (l + 8) >>> 0;
  if (nlo < 8) hi[4] = (hi[4]! + 1) >>> 0;
  lo[4] = nlo;
  return v;
}

export function push16(s: Interp, v: number): void {
  const sp = stackAddress(s, regNum(s, 4) - 2);
  s.mmu.write16(sp, v & 0xffff);
  setRegNum(s, 4, sp);
}

export function pop16(s: Interp): number {
  const sp = stackAddress(s, regNum(s, 4));
  const v = s.mmu.read16(sp);
  setRegNum(s, 4, sp + 2);
  return v;
}

/** Adds a signed delta to a 64-bit register (RSI/RDI/RCX updates). */
export function addReg64(s: Interp, r: number, delta: number): void {
  const lo = s.lo;
  const l = lo[r]!;
  const n = l + delta;
  lo[r] = n >>> 0;
  if (n >= TWO_32) s.hi[r] = (s.hi[r]! + 1) >>> 0;
  else if (n < 0) s.hi[r] = (s.hi[r]! - 1) >>> 0;
}
