import { CF, ZF, setSomeFlags, setStatus } from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { ea, getReg, readMem, setReg } from './operands.js';

/**
 * Bit tests BT/BTS/BTR/BTC (register or immediate offset; a register offset addresses a bit
 * string beyond the memory operand), bit scans BSF/BSR, LZCNT/TZCNT, POPCNT.
 */

export const BT_TEST = 0;
export const BT_SET = 1;
export const BT_RESET = 2;
export const BT_COMPLEMENT = 3;

function modify(op: number, v: number, mask: number): number {
  switch (op) {
    case BT_SET: return (v | mask) >>> 0;
    case BT_RESET: return (v & ~mask) >>> 0;
    case BT_COMPLEMENT: return (v ^ mask) >>> 0;
    default: return v;
  }
}

/**
 * `i.op` = BT_*; `i.imm2` = 1 for the immediate form (offset in `i.imm`), else the offset is the
 * register `i.reg`.
 */
export function bt(s: Interp, i: Insn): void {
  const size = i.size;
  const bits = size * 8;
  const op = i.op;
  // Bit index within the operand (from the low word: exact) and, for a register offset into
  // memory, the signed operand displacement (offset - index) / bits.
  let b: number;
  let opDisp = 0;
  if (i.imm2 !== 0) {
    b = i.imm & (bits - 1);
  } else {
    const l = s.lo[i.reg]!;
    b = l & (bits - 1);
    if (i.mod !== 3) {
      const off = size === 8 ? (s.hi[i.reg]! | 0) * 4294967296 + l : size === 4 ? l | 0 : (l << 16) >> 16;
      opDisp = (off - b) / bits;
    }
  }
  if (i.mod === 3) {
    let v = getReg(s, i.rm, size);
    let vh = s.th;
    let cf: number;
    if (b >= 32) {
      cf = (vh >>> (b - 32)) & 1;
      vh = modify(op, vh, (1 << (b - 32)) >>> 0);
    } else {
      cf = (v >>> b) & 1;
      v = modify(op, v, (1 << b) >>> 0);
    }
    if (op !== BT_TEST) setReg(s, i.rm, size, v, vh);
    setSomeFlags(s, CF, cf);
    return;
  }
  // Memory: the byte holding the bit (a bit string; register offsets may be negative or large).
  const byteAddr = ea(s, i) + opDisp * size + (b >>> 3);
  const v = s.mmu.read8(byteAddr);
  const m = 1 << (b & 7);
  const cf = (v & m) !== 0 ? 1 : 0;
  if (op !== BT_TEST) s.mmu.write8(byteAddr, modify(op, v, m) & 0xff);
  setSomeFlags(s, CF, cf);
}

function ctz32(v: number): number {
  return 31 - Math.clz32(v & -v);
}

/** BSF (op 0), BSR (op 1), TZCNT (op 2), LZCNT (op 3). */
export function bitScan(s: Interp, i: Insn): void {
  const size = i.size;
  const v = i.mod === 3 ? getReg(s, i.rm, size) : readMem(s, ea(s, i), size);
  const vh = size === 8 ? s.th : 0;
  const bits = size * 8;
  const op = i.op;
  const zero = (v | vh) === 0;
  if (op < 2) {
    if (zero) {
      // Destination left as it was (a 32-bit destination is still zero-extended).
      if (size === 4) s.hi[i.reg] = 0;
      setSomeFlags(s, ZF, ZF);
      return;
    }
    let n: number;
    if (op === 0) n = v !== 0 ? ctz32(v) : 32 + ctz32(vh);
    else n = vh !== 0 ? 63 - Math.clz32(vh) : 31 - Math.clz32(v);
    setReg(s, i.reg, size, n, 0);
    setStatus(s, 0);
    return;
  }
  let n: number;
  if (op === 2) {
    if (zero) n = bits;
    else n = v !== 0 ? ctz32(v) : 32 + ctz32(vh);
  } else if (size === 8) {
    n = vh !== 0 ? Math.clz32(vh) : 32 + Math.clz32(v);
  } else {
    n = Math.clz32(v) - (32 - bits);
  }
  setReg(s, i.reg, size, n, 0);
  setStatus(s, (zero ? CF : 0) | (n === 0 ? ZF : 0));
}

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x5555_5555);
  v = (v & 0x3333_3333) + ((v >>> 2) & 0x3333_3333);
  v = (v + (v >>> 4)) & 0x0f0f_0f0f;
  return Math.imul(v, 0x0101_0101) >>> 24;
}

export function popcnt(s: Interp, i: Insn): void {
  const size = i.size;
  const v = i.mod === 3 ? getReg(s, i.rm, size) : readMem(s, ea(s, i), size);
  const vh = size === 8 ? s.th : 0;
  const n = popcount32(v) + popcount32(vh);
  setReg(s, i.reg, size, n, 0);
  setStatus(s, n === 0 ? ZF : 0);
}

