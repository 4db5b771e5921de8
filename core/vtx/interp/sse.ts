import { AccessKind } from '../mmu.js';
import { CF, PF, ZF, setStatus } from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { TWO_32, ea, getReg, readMem, setReg, setReg32 } from './operands.js';
import { ud } from './system.js';
import { errorSign, roundOp64, toF32 } from './float-round.js';
import { fxsave } from './x87.js';

/**
 * SSE and SSE2 (legacy encodings, the subset compilers and static C libraries emit): 128-bit
 * moves, packed integer arithmetic, logic, compares, shifts, shuffles, packs and unpacks, packed
 * and scalar single/double arithmetic, comparisons and conversions, MOVMSK/PMOVMSKB.
 *
 * XMM registers live in `cpu.xmm` (viewed as bytes, words, dwords, floats and doubles); the
 * memory operand of an instruction is read into scratch register 16 first. Packed 128-bit memory
 * operands must be 16-byte aligned (#GP(0)) except for the unaligned moves. Float results follow
 * the x86 NaN rules (first operand's NaN, quieted; default NaN for invalid operations) whatever
 * the host does; rounding is round-to-nearest-even except for conversions, which honour
 * MXCSR.RC. Exception flags in MXCSR are not maintained (exceptions stay masked).
 */

const SCR = 16;
const QNAN64_HI = 0xfff8_0000;
const QNAN32 = 0xffc0_0000;

// ---- Operand helpers.

function alignCheck(s: Interp, a: number): void {
  if ((a & 15) !== 0) s.cpu.gp0();
}

/** The 128-bit source operand: its register number (the scratch register for memory). */
function src128(s: Interp, i: Insn, aligned: boolean): number {
  if (i.mod === 3) return i.rm;
  const a = ea(s, i);
  if (aligned) alignCheck(s, a);
  const x = s.x32;
  const mmu = s.mmu;
  x[64] = mmu.read64(a);
  x[65] = mmu.hi;
  x[66] = mmu.read64(a + 8);
  x[67] = mmu.hi;
  return SCR;
}

/** A 64-bit source operand (low quadword of a register, or memory). */
function src64(s: Interp, i: Insn): number {
  if (i.mod === 3) return i.rm;
  const x = s.x32;
  x[64] = s.mmu.read64(ea(s, i));
  x[65] = s.mmu.hi;
  return SCR;
}

/** A 32-bit source operand (low dword of a register, or memory). */
function src32(s: Interp, i: Insn): number {
  if (i.mod === 3) return i.rm;
  s.x32[64] = s.mmu.read32(ea(s, i));
  return SCR;
}

function store128(s: Interp, a: number, r: number): void {
  const x = s.x32;
  const mmu = s.mmu;
  if ((a & 0xfff) > 0xff0) mmu.translate(a + 15, AccessKind.Write); // no partial store
  mmu.write64(a, x[r * 4]!, x[r * 4 + 1]!);
  mmu.write64(a + 8, x[r * 4 + 2]!, x[r * 4 + 3]!);
}

function copy128(x: Uint32Array, d: number, r: number): void {
  const dd = d * 4;
  const rr = r * 4;
  x[dd] = x[rr]!;
  x[dd + 1] = x[rr + 1]!;
  x[dd + 2] = x[rr + 2]!;
  x[dd + 3] = x[rr + 3]!;
}

// ---- Moves.

/** MOVUPS/MOVUPD/MOVDQU (op 0) and MOVAPS/MOVAPD/MOVDQA (op 1): xmm ← xmm/m128. */
function movLoad128(s: Interp, i: Insn): void {
  const r = src128(s, i, i.op === 1);
  copy128(s.x32, i.reg, r);
}

/** Stores: xmm/m128 ← xmm (op 1: aligned). */
function movStore128(s: Interp, i: Insn): void {
  if (i.mod === 3) {
    copy128(s.x32, i.rm, i.reg);
    return;
  }
  const a = ea(s, i);
  if (i.op === 1) alignCheck(s, a);
  store128(s, a, i.reg);
}

/** MOVSS xmm, xmm/m32. */
function movssLoad(s: Interp, i: Insn): void {
  const x = s.x32;
  const d = i.reg * 4;
  if (i.mod === 3) {
    x[d] = x[i.rm * 4]!;
    return;
  }
  x[d] = s.mmu.read32(ea(s, i));
  x[d + 1] = 0;
  x[d + 2] = 0;
  x[d + 3] = 0;
}

function movssStore(s: Interp, i: Insn): void {
  const x = s.x32;
  if (i.mod === 3) x[i.rm * 4] = x[i.reg * 4]!;
  else s.mmu.write32(ea(s, i), x[i.reg * 4]!);
}

/** MOVSD xmm, xmm/m64 (the SSE2 one). */
export function movsdLoad(s: Interp, i: Insn): void {
  const x = s.x32;
  const d = i.reg * 4;
  if (i.mod === 3) {
    x[d] = x[i.rm * 4]!;
    x[d + 1] = x[i.rm * 4 + 1]!;
    return;
  }
  x[d] = s.mmu.read64(ea(s, i));
  x[d + 1] = s.mmu.hi;
  x[d + 2] = 0;
  x[d + 3] = 0;
}

export function movsdStore(s: Interp, i: Insn): void {
  const x = s.x32;
  const r = i.reg * 4;
  if (i.mod === 3) {
    x[i.rm * 4] = x[r]!;
    x[i.rm * 4 + 1] = x[r + 1]!;
  } else {
    s.mmu.write64(ea(s, i), x[r]!, x[r + 1]!);
  }
}

/** MOVLPS/MOVLPD load (op 0: low half from m64), MOVHLPS (reg: low ← high of src), MOVHPS/MOVHPD (op 1), MOVLHPS. */
function movHalfLoad(s: Interp, i: Insn): void {
  const x = s.x32;
  const d = i.reg * 4 + (i.op === 1 ? 2 : 0);
  if (i.mod === 3) {
    const r = i.rm * 4 + (i.op === 1 ? 0 : 2); // MOVLHPS takes the low half, MOVHLPS the high half
    const l = x[r]!;
    const h = x[r + 1]!;
    x[d] = l;
    x[d + 1] = h;
    return;
  }
  x[d] = s.mmu.read64(ea(s, i));
  x[d + 1] = s.mmu.hi;
}

function movHalfStore(s: Interp, i: Insn): void {
  if (i.mod === 3) return ud(s, i);
  const x = s.x32;
  const r = i.reg * 4 + (i.op === 1 ? 2 : 0);
  s.mmu.write64(ea(s, i), x[r]!, x[r + 1]!);
}

/** MOVD/MOVQ xmm, r/m32/64 (66 0F 6E): zero-extends. */
function movdToXmm(s: Interp, i: Insn): void {
  const x = s.x32;
  const d = i.reg * 4;
  const size = i.size === 8 ? 8 : 4;
  const v = i.mod === 3 ? getReg(s, i.rm, size) : readMem(s, ea(s, i), size);
  x[d] = v;
  x[d + 1] = size === 8 ? s.th : 0;
  x[d + 2] = 0;
  x[d + 3] = 0;
}

/** MOVD/MOVQ r/m32/64, xmm (66 0F 7E). */
function movdFromXmm(s: Interp, i: Insn): void {
  const x = s.x32;
  const r = i.reg * 4;
  const size = i.size === 8 ? 8 : 4;
  if (i.mod === 3) setReg(s, i.rm, size, x[r]!, x[r + 1]!);
  else if (size === 8) s.mmu.write64(ea(s, i), x[r]!, x[r + 1]!);
  else s.mmu.write32(ea(s, i), x[r]!);
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): zero-extends to 128 bits. */
function movqLoad(s: Interp, i: Insn): void {
  const r = src64(s, i);
  const x = s.x32;
  const d = i.reg * 4;
  x[d] = x[r * 4]!;
  x[d + 1] = x[r * 4 + 1]!;
  x[d + 2] = 0;
  x[d + 3] = 0;
}

/** MOVQ xmm/m64, xmm (66 0F D6). */
function movqStore(s: Interp, i: Insn): void {
  const x = s.x32;
  const r = i.reg * 4;
  if (i.mod === 3) {
    const d = i.rm * 4;
    x[d] = x[r]!;
    x[d + 1] = x[r + 1]!;
    x[d + 2] = 0;
    x[d + 3] = 0;
  } else {
    s.mmu.write64(ea(s, i), x[r]!, x[r + 1]!);
  }
}

/** PMOVMSKB r32, xmm (66 0F D7); MOVMSKPS (op 4), MOVMSKPD (op 8). */
function movmsk(s: Interp, i: Insn): void {
  if (i.mod !== 3) return ud(s, i);
  const r = i.rm;
  let m = 0;
  if (i.op === 1) {
    const b = s.x8;
    for (let k = 15; k >= 0; k--) m = (m << 1) | (b[r * 16 + k]! >>> 7);
  } else if (i.op === 4) {
    const x = s.x32;
    for (let k = 3; k >= 0; k--) m = (m << 1) | (x[r * 4 + k]! >>> 31);
  } else {
    const x = s.x32;
    m = (x[r * 4 + 1]! >>> 31) | ((x[r * 4 + 3]! >>> 31) << 1);
  }
  setReg32(s, i.reg, m);
}

/** MASKMOVDQU xmm, xmm (66 0F F7): byte stores selected by the mask's sign bits, to [rDI]. */
function maskmovdqu(s: Interp, i: Insn): void {
  if (i.mod !== 3) return ud(s, i);
  let a = i.a32 ? s.lo[7]! : (s.hi[7]! | 0) * TWO_32 + s.lo[7]!;
  if (i.seg !== 0) a += i.seg === 1 ? s.cpu.fsBase : s.cpu.gsBase;
  const b = s.x8;
  for (let k = 0; k < 16; k++) {
    if ((b[i.rm * 16 + k]! & 0x80) !== 0) s.mmu.write8(a + k, b[i.reg * 16 + k]!);
  }
}

/** PINSRW xmm, r32/m16, imm8 (66 0F C4). */
function pinsrw(s: Interp, i: Insn): void {
  const v = i.mod === 3 ? s.lo[i.rm]! & 0xffff : s.mmu.read16(ea(s, i));
  s.x16[i.reg * 8 + (i.imm & 7)] = v;
}

/** PEXTRW r32, xmm, imm8 (66 0F C5). */
function pextrw(s: Interp, i: Insn): void {
  if (i.mod !== 3) return ud(s, i);
  setReg32(s, i.reg, s.x16[i.rm * 8 + (i.imm & 7)]!);
}

// ---- Packed integer (and bitwise PS/PD) operations: `i.op` is the opcode byte.

const tmp = new Uint32Array(4);
const tmp16 = new Uint16Array(tmp.buffer);
const tmpI16 = new Int16Array(tmp.buffer);
const tmp8 = new Uint8Array(tmp.buffer);
const tmpI8 = new Int8Array(tmp.buffer);

function satS8(v: number): number {
  return v > 127 ? 127 : v < -128 ? -128 : v;
}
function satU8(v: number): number {
  return v > 255 ? 255 : v < 0 ? 0 : v;
}
function satS16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}
function satU16(v: number): number {
  return v > 65535 ? 65535 : v < 0 ? 0 : v;
}

export function pint(s: Interp, i: Insn): void {
  const r = src128(s, i, true);
  const x = s.x32;
  const d = i.reg;
  const d4 = d * 4;
  const r4 = r * 4;
  switch (i.op) {
    // Bitwise (also ANDPS/ANDNPS/ORPS/XORPS and the PD forms).
    case 0xdb: for (let k = 0; k < 4; k++) x[d4 + k] = x[d4 + k]! & x[r4 + k]!; return;
    case 0xdf: for (let k = 0; k < 4; k++) x[d4 + k] = ~x[d4 + k]! & x[r4 + k]!; return;
    case 0xeb: for (let k = 0; k < 4; k++) x[d4 + k] = x[d4 + k]! | x[r4 + k]!; return;
    case 0xef: for (let k = 0; k < 4; k++) x[d4 + k] = x[d4 + k]! ^ x[r4 + k]!; return;
    // Add / subtract.
    case 0xfc: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = b[d * 16 + k]! + b[r * 16 + k]!; return; }
    case 0xfd: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = w[d * 8 + k]! + w[r * 8 + k]!; return; }
    case 0xfe: for (let k = 0; k < 4; k++) x[d4 + k] = x[d4 + k]! + x[r4 + k]!; return;
    case 0xd4: for (let k = 0; k < 4; k += 2) {
      const t = x[d4 + k]! + x[r4 + k]!;
      x[d4 + k] = t;
      x[d4 + k + 1] = x[d4 + k + 1]! + x[r4 + k + 1]! + (t >= TWO_32 ? 1 : 0);
    } return;
    case 0xf8: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = b[d * 16 + k]! - b[r * 16 + k]!; return; }
    case 0xf9: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = w[d * 8 + k]! - w[r * 8 + k]!; return; }
    case 0xfa: for (let k = 0; k < 4; k++) x[d4 + k] = x[d4 + k]! - x[r4 + k]!; return;
    case 0xfb: for (let k = 0; k < 4; k += 2) {
      const t = x[d4 + k]! - x[r4 + k]!;
      x[d4 + k] = t;
      x[d4 + k + 1] = x[d4 + k + 1]! - x[r4 + k + 1]! - (t < 0 ? 1 : 0);
    } return;
    // Saturating add / subtract.
    case 0xec: { const b = s.xi8; for (let k = 0; k < 16; k++) b[d * 16 + k] = satS8(b[d * 16 + k]! + b[r * 16 + k]!); return; }
    case 0xed: { const w = s.xi16; for (let k = 0; k < 8; k++) w[d * 8 + k] = satS16(w[d * 8 + k]! + w[r * 8 + k]!); return; }
    case 0xdc: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = satU8(b[d * 16 + k]! + b[r * 16 + k]!); return; }
    case 0xdd: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = satU16(w[d * 8 + k]! + w[r * 8 + k]!); return; }
    case 0xe8: { const b = s.xi8; for (let k = 0; k < 16; k++) b[d * 16 + k] = satS8(b[d * 16 + k]! - b[r * 16 + k]!); return; }
    case 0xe9: { const w = s.xi16; for (let k = 0; k < 8; k++) w[d * 8 + k] = satS16(w[d * 8 + k]! - w[r * 8 + k]!); return; }
    case 0xd8: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = satU8(b[d * 16 + k]! - b[r * 16 + k]!); return; }
    case 0xd9: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = satU16(w[d * 8 + k]! - w[r * 8 + k]!); return; }
    // Compares.
    case 0x74: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = b[d * 16 + k] === b[r * 16 + k] ? 0xff : 0; return; }
    case 0x75: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = w[d * 8 + k] === w[r * 8 + k] ? 0xffff : 0; return; }
    case 0x76: for (let k = 0; k < 4; k++) x[d4 + k] = x[d4 + k] === x[r4 + k] ? 0xffff_ffff : 0; return;
    case 0x64: { const b = s.xi8; for (let k = 0; k < 16; k++) b[d * 16 + k] = b[d * 16 + k]! > b[r * 16 + k]! ? -1 : 0; return; }
    case 0x65: { const w = s.xi16; for (let k = 0; k < 8; k++) w[d * 8 + k] = w[d * 8 + k]! > w[r * 8 + k]! ? -1 : 0; return; }
    case 0x66: { const v = s.xi32; for (let k = 0; k < 4; k++) v[d4 + k] = v[d4 + k]! > v[r4 + k]! ? -1 : 0; return; }
    // Min / max / average.
    case 0xda: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = Math.min(b[d * 16 + k]!, b[r * 16 + k]!); return; }
    case 0xde: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = Math.max(b[d * 16 + k]!, b[r * 16 + k]!); return; }
    case 0xea: { const w = s.xi16; for (let k = 0; k < 8; k++) w[d * 8 + k] = Math.min(w[d * 8 + k]!, w[r * 8 + k]!); return; }
    case 0xee: { const w = s.xi16; for (let k = 0; k < 8; k++) w[d * 8 + k] = Math.max(w[d * 8 + k]!, w[r * 8 + k]!); return; }
    case 0xe0: { const b = s.x8; for (let k = 0; k < 16; k++) b[d * 16 + k] = (b[d * 16 + k]! + b[r * 16 + k]! + 1) >>> 1; return; }
    case 0xe3: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = (w[d * 8 + k]! + w[r * 8 + k]! + 1) >>> 1; return; }
    // Multiplies.
    case 0xd5: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = Math.imul(w[d * 8 + k]!, w[r * 8 + k]!); return; }
    case 0xe5: { const w = s.xi16; for (let k = 0; k < 8; k++) w[d * 8 + k] = (w[d * 8 + k]! * w[r * 8 + k]!) >> 16; return; }
    case 0xe4: { const w = s.x16; for (let k = 0; k < 8; k++) w[d * 8 + k] = (w[d * 8 + k]! * w[r * 8 + k]!) >>> 16; return; }
    case 0xf4: {
      for (let k = 0; k < 4; k += 2) {
        // 32×32 → 64 by 16-bit pieces (exact).
        const a0 = x[d4 + k]! & 0xffff, a1 = x[d4 + k]! >>> 16, b0 = x[r4 + k]! & 0xffff, b1 = x[r4 + k]! >>> 16;
        const lo = (Math.imul(x[d4 + k]!, x[r4 + k]!)) >>> 0;
        const mid = (a0 * b0 >>> 16) + (a0 * b1 & 0xffff) + (a1 * b0 & 0xffff);
        const hi = (a1 * b1 + (a0 * b1 >>> 16) + (a1 * b0 >>> 16) + (mid >>> 16)) >>> 0;
        x[d4 + k] = lo;
        x[d4 + k + 1] = hi;
      }
      return;
    }
    case 0xf5: {
      const w = s.xi16;
      const v = s.xi32;
      for (let k = 0; k < 4; k++) {
        v[d4 + k] = w[d * 8 + 2 * k]! * w[r * 8 + 2 * k]! + w[d * 8 + 2 * k + 1]! * w[r * 8 + 2 * k + 1]!;
      }
      return;
    }
    case 0xf6: {
      const b = s.x8;
      for (let q = 0; q < 2; q++) {
        let sum = 0;
        for (let k = 0; k < 8; k++) sum += Math.abs(b[d * 16 + q * 8 + k]! - b[r * 16 + q * 8 + k]!);
        x[d4 + q * 2] = sum;
        x[d4 + q * 2 + 1] = 0;
      }
      return;
    }
    // Unpacks.
    case 0x60: case 0x68: {
      const off = i.op === 0x68 ? 8 : 0;
      const b = s.x8;
      for (let k = 0; k < 16; k++) tmp8[k] = (k & 1) === 0 ? b[d * 16 + off + (k >> 1)]! : b[r * 16 + off + (k >> 1)]!;
      break;
    }
    case 0x61: case 0x69: {
      const off = i.op === 0x69 ? 4 : 0;
      const w = s.x16;
      for (let k = 0; k < 8; k++) tmp16[k] = (k & 1) === 0 ? w[d * 8 + off + (k >> 1)]! : w[r * 8 + off + (k >> 1)]!;
      break;
    }
    case 0x62: case 0x6a: case 0x14: case 0x15: {
      const off = i.op === 0x6a || i.op === 0x15 ? 2 : 0;
      if (i.pfx === 1 && i.op < 0x60) {
        // UNPCKLPD / UNPCKHPD: quadwords
        const q = i.op === 0x15 ? 2 : 0;
        tmp[0] = x[d4 + q]!; tmp[1] = x[d4 + q + 1]!; tmp[2] = x[r4 + q]!; tmp[3] = x[r4 + q + 1]!;
        break;
      }
      tmp[0] = x[d4 + off]!; tmp[1] = x[r4 + off]!; tmp[2] = x[d4 + off + 1]!; tmp[3] = x[r4 + off + 1]!;
      break;
    }
    case 0x6c: tmp[0] = x[d4]!; tmp[1] = x[d4 + 1]!; tmp[2] = x[r4]!; tmp[3] = x[r4 + 1]!; break;
    case 0x6d: tmp[0] = x[d4 + 2]!; tmp[1] = x[d4 + 3]!; tmp[2] = x[r4 + 2]!; tmp[3] = x[r4 + 3]!; break;
    // Packs.
    case 0x63: case 0x67: {
      const w = s.xi16;
      const sat = i.op === 0x63 ? satS8 : satU8;
      for (let k = 0; k < 8; k++) tmpI8[k] = sat(w[d * 8 + k]!);
      for (let k = 0; k < 8; k++) tmpI8[8 + k] = sat(w[r * 8 + k]!);
      break;
    }
    case 0x6b: {
      const v = s.xi32;
      for (let k = 0; k < 4; k++) tmpI16[k] = satS16(v[d4 + k]!);
      for (let k = 0; k < 4; k++) tmpI16[4 + k] = satS16(v[r4 + k]!);
      break;
    }
    // Shifts by an XMM count.
    case 0xd1: case 0xd2: case 0xd3: case 0xe1: case 0xe2: case 0xf1: case 0xf2: case 0xf3: {
      const count = x[r4 + 1] !== 0 ? 64 : x[r4]!;
      shiftLanes(s, d, i.op, count);
      return;
    }
    default:
      return ud(s, i);
  }
  x[d4] = tmp[0]!;
  x[d4 + 1] = tmp[1]!;
  x[d4 + 2] = tmp[2]!;
  x[d4 + 3] = tmp[3]!;
}

/** Lane shifts: the opcode of the XMM-count form names the kind and lane width. */
function shiftLanes(s: Interp, d: number, opc: number, count: number): void {
  const x = s.x32;
  const d4 = d * 4;
  switch (opc) {
    case 0xd1: case 0xf1: case 0xe1: { // PSRLW, PSLLW, PSRAW
      const w = s.x16;
      const wi = s.xi16;
      for (let k = 0; k < 8; k++) {
        const j = d * 8 + k;
        if (opc === 0xe1) wi[j] = wi[j]! >> (count > 15 ? 15 : count);
        else if (count > 15) w[j] = 0;
        else w[j] = opc === 0xd1 ? w[j]! >>> count : w[j]! << count;
      }
      return;
    }
    case 0xd2: case 0xf2: case 0xe2: { // PSRLD, PSLLD, PSRAD
      for (let k = 0; k < 4; k++) {
        const j = d4 + k;
        if (opc === 0xe2) x[j] = x[j]! >> (count > 31 ? 31 : count);
        else if (count > 31) x[j] = 0;
        else x[j] = opc === 0xd2 ? x[j]! >>> count : x[j]! << count;
      }
      return;
    }
    default: { // PSRLQ (d3), PSLLQ (f3)
      for (let k = 0; k < 4; k += 2) {
        const l = x[d4 + k]!;
        const h = x[d4 + k + 1]!;
        let nl = 0;
        let nh = 0;
        if (count === 0) {
          nl = l;
          nh = h;
        } else if (count < 32) {
          if (opc === 0xd3) {
            nl = (l >>> count) | (h << (32 - count));
            nh = h >>> count;
          } else {
            nh = (h << count) | (l >>> (32 - count));
            nl = l << count;
          }
        } else if (count < 64) {
          if (opc === 0xd3) nl = h >>> (count - 32);
          else nh = l << (count - 32);
        }
        x[d4 + k] = nl;
        x[d4 + k + 1] = nh;
      }
    }
  }
}

/** 66 0F 71/72/73 /n ib: shifts by an immediate; PSRLDQ/PSLLDQ shift bytes. */
function shiftImm(s: Interp, i: Insn): void {
  if (i.mod !== 3) return ud(s, i);
  const n = i.reg & 7;
  const d = i.rm;
  const c = i.imm & 0xff;
  switch (i.op) {
    case 0x71:
      if (n === 2) return shiftLanes(s, d, 0xd1, c);
      if (n === 4) return shiftLanes(s, d, 0xe1, c);
      if (n === 6) return shiftLanes(s, d, 0xf1, c);
      return ud(s, i);
    case 0x72:
      if (n === 2) return shiftLanes(s, d, 0xd2, c);
      if (n === 4) return shiftLanes(s, d, 0xe2, c);
      if (n === 6) return shiftLanes(s, d, 0xf2, c);
      return ud(s, i);
    default: {
      if (n === 2) return shiftLanes(s, d, 0xd3, c);
      if (n === 6) return shiftLanes(s, d, 0xf3, c);
      if (n !== 3 && n !== 7) return ud(s, i);
      const b = s.x8;
      const k = c > 16 ? 16 : c;
      for (let j = 0; j < 16; j++) tmp8[j] = b[d * 16 + j]!;
      for (let j = 0; j < 16; j++) {
        const from = n === 3 ? j + k : j - k;
        b[d * 16 + j] = from >= 0 && from < 16 ? tmp8[from]! : 0;
      }
    }
  }
}

/** PSHUFD (pfx 1), PSHUFHW (2), PSHUFLW (3). */
function pshuf(s: Interp, i: Insn): void {
  const r = src128(s, i, true);
  const imm = i.imm;
  const d = i.reg;
  if (i.pfx === 1) {
    const x = s.x32;
    for (let k = 0; k < 4; k++) tmp[k] = x[r * 4 + ((imm >> (2 * k)) & 3)]!;
    for (let k = 0; k < 4; k++) x[d * 4 + k] = tmp[k]!;
    return;
  }
  const w = s.x16;
  const base = i.pfx === 2 ? 4 : 0;
  for (let k = 0; k < 8; k++) tmp16[k] = w[r * 8 + k]!;
  for (let k = 0; k < 8; k++) {
    w[d * 8 + k] = k >= base && k < base + 4 ? tmp16[base + ((imm >> (2 * (k - base))) & 3)]! : tmp16[k]!;
  }
}

/** SHUFPS (pfx 0) / SHUFPD (pfx 1). */
function shufp(s: Interp, i: Insn): void {
  const r = src128(s, i, true);
  const x = s.x32;
  const d4 = i.reg * 4;
  const r4 = r * 4;
  const imm = i.imm;
  if (i.pfx === 1) {
    const a = (imm & 1) * 2;
    const b = ((imm >> 1) & 1) * 2;
    tmp[0] = x[d4 + a]!; tmp[1] = x[d4 + a + 1]!; tmp[2] = x[r4 + b]!; tmp[3] = x[r4 + b + 1]!;
  } else {
    tmp[0] = x[d4 + (imm & 3)]!;
    tmp[1] = x[d4 + ((imm >> 2) & 3)]!;
    tmp[2] = x[r4 + ((imm >> 4) & 3)]!;
    tmp[3] = x[r4 + ((imm >> 6) & 3)]!;
  }
  for (let k = 0; k < 4; k++) x[d4 + k] = tmp[k]!;
}

// ---- Floating point.

export const F_ADD = 0x58;
export const F_MUL = 0x59;
export const F_SUB = 0x5c;
const F_MIN = 0x5d;
export const F_DIV = 0x5e;
const F_MAX = 0x5f;
const F_SQRT = 0x51;
const F_RSQRT = 0x52;
const F_RCP = 0x53;

function arith(op: number, a: number, b: number): number {
  switch (op) {
    case F_ADD: return a + b;
    case F_MUL: return a * b;
    case F_SUB: return a - b;
    case F_MIN: return a < b ? a : b;
    case F_DIV: return a / b;
    case F_MAX: return a > b ? a : b;
    case F_SQRT: return Math.sqrt(b);
    case F_RSQRT: return 1 / Math.sqrt(b);
    default: return 1 / b; // RCP
  }
}

/** Stores a double result at f64 slot `di` with x86 NaN rules (operands at slots ai, bi). */
function putF64(s: Interp, di: number, r: number, ai: number, bi: number): void {
  if (r === r) {
    s.f64[di] = r;
    return;
  }
  const x = s.x32;
  const f = s.f64;
  let lo: number;
  let hi: number;
  if (ai >= 0 && f[ai] !== f[ai]) {
    lo = x[ai * 2]!;
    hi = x[ai * 2 + 1]! | 0x8_0000;
  } else if (bi >= 0 && f[bi] !== f[bi]) {
    lo = x[bi * 2]!;
    hi = x[bi * 2 + 1]! | 0x8_0000;
  } else {
    lo = 0;
    hi = QNAN64_HI;
  }
  x[di * 2] = lo;
  x[di * 2 + 1] = hi >>> 0;
}

/** As putF64 for a float result at f32 slot `di`. */
function putF32(s: Interp, di: number, r: number, ai: number, bi: number): void {
  if (r === r) {
    s.f32[di] = r;
    return;
  }
  const x = s.x32;
  const f = s.f32;
  let v: number;
  if (ai >= 0 && f[ai] !== f[ai]) v = x[ai]! | 0x40_0000;
  else if (bi >= 0 && f[bi] !== f[bi]) v = x[bi]! | 0x40_0000;
  else v = QNAN32;
  x[di] = v >>> 0;
}

/** Packed and scalar arithmetic (58-5F, 51-53): `i.op` the opcode, `i.pfx` the format (PS, PD, SS, SD). */
export function farith(s: Interp, i: Insn): void {
  const fmt = i.pfx;
  const op = i.op;
  const unary = op === F_SQRT || op === F_RSQRT || op === F_RCP;
  const r = fmt === 2 ? src32(s, i) : fmt === 3 ? src64(s, i) : src128(s, i, true);
  const d = i.reg;
  const minmax = op === F_MIN || op === F_MAX;
  if (fmt === 1 || fmt === 3) {
    const f = s.f64;
    const n = fmt === 3 ? 1 : 2;
    for (let k = 0; k < n; k++) {
      const di = d * 2 + k;
      const ri = r * 2 + k;
      const res = arith(op, f[di]!, f[ri]!);
      if (minmax) {
        // MIN/MAX return the second operand when either is NaN (or both are zeros): bit copy.
        const pickDst = op === F_MIN ? f[di]! < f[ri]! : f[di]! > f[ri]!;
        if (!pickDst) {
          s.x32[di * 2] = s.x32[ri * 2]!;
          s.x32[di * 2 + 1] = s.x32[ri * 2 + 1]!;
        }
        continue;
      }
      const rc = (s.cpu.mxcsr >>> 13) & 3;
      putF64(s, di, rc === 0 || op === F_RSQRT || op === F_RCP ? res : roundOp64(op, f[di]!, f[ri]!, res, rc), unary ? -1 : di, ri);
    }
    return;
  }
  const f = s.f32;
  const n = fmt === 2 ? 1 : 4;
  for (let k = 0; k < n; k++) {
    const di = d * 4 + k;
    const ri = r * 4 + k;
    if (minmax) {
      const pickDst = op === F_MIN ? f[di]! < f[ri]! : f[di]! > f[ri]!;
      if (!pickDst) s.x32[di] = s.x32[ri]!;
      continue;
    }
    const a = f[di]!;
    const b = f[ri]!;
    const res = arith(op, a, b);
    const rc = (s.cpu.mxcsr >>> 13) & 3;
    const directed = rc !== 0 && op !== F_RSQRT && op !== F_RCP && res === res && Number.isFinite(res);
    putF32(s, di, directed ? toF32(res, errorSign(op, a, b, res), rc) : res, unary ? -1 : di, ri);
  }
}

/** UCOMISS/UCOMISD/COMISS/COMISD: ZF, PF, CF; OF, SF, AF cleared. */
function comis(s: Interp, i: Insn): void {
  let a: number;
  let b: number;
  if (i.pfx === 1) {
    const r = src64(s, i);
    a = s.f64[i.reg * 2]!;
    b = s.f64[r * 2]!;
  } else {
    const r = src32(s, i);
    a = s.f32[i.reg * 4]!;
    b = s.f32[r * 4]!;
  }
  let f: number;
  if (a !== a || b !== b) f = ZF | PF | CF;
  else if (a > b) f = 0;
  else if (a < b) f = CF;
  else f = ZF;
  setStatus(s, f);
}

function cmpPredicate(p: number, a: number, b: number): boolean {
  const unord = a !== a || b !== b;
  switch (p & 7) {
    case 0: return a === b;
    case 1: return a < b;
    case 2: return a <= b;
    case 3: return unord;
    case 4: return !(a === b);
    case 5: return !(a < b);
    case 6: return !(a <= b);
    default: return !unord;
  }
}

/** CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8 (0F C2). */
function fcmp(s: Interp, i: Insn): void {
  const fmt = i.pfx;
  const r = fmt === 2 ? src32(s, i) : fmt === 3 ? src64(s, i) : src128(s, i, true);
  const d = i.reg;
  const x = s.x32;
  if (fmt === 1 || fmt === 3) {
    const f = s.f64;
    for (let k = 0; k < (fmt === 3 ? 1 : 2); k++) {
      const m = cmpPredicate(i.imm, f[d * 2 + k]!, f[r * 2 + k]!) ? 0xffff_ffff : 0;
      x[d * 4 + 2 * k] = m;
      x[d * 4 + 2 * k + 1] = m;
    }
    return;
  }
  const f = s.f32;
  for (let k = 0; k < (fmt === 2 ? 1 : 4); k++) {
    x[d * 4 + k] = cmpPredicate(i.imm, f[d * 4 + k]!, f[r * 4 + k]!) ? 0xffff_ffff : 0;
  }
}

// ---- Conversions.

/** Rounds per MXCSR.RC (0 nearest-even, 1 down, 2 up, 3 toward zero). */
function roundMx(s: Interp, v: number): number {
  switch ((s.cpu.mxcsr >>> 13) & 3) {
    case 0: {
      const f = Math.floor(v);
      const diff = v - f;
      if (diff < 0.5) return f;
      if (diff > 0.5) return f + 1;
      return f % 2 === 0 ? f : f + 1;
    }
    case 1: return Math.floor(v);
    case 2: return Math.ceil(v);
    default: return Math.trunc(v);
  }
}

/** A double to int32 (integer indefinite 0x80000000 when out of range or NaN). */
function toI32(v: number): number {
  return v >= -2147483648 && v <= 2147483647 ? v | 0 : -2147483648;
}

/** CVTSI2SS / CVTSI2SD xmm, r/m32/64 (F3/F2 0F 2A). */
export function cvtsi2s(s: Interp, i: Insn): void {
  const size = i.size === 8 ? 8 : 4;
  const v = i.mod === 3 ? getReg(s, i.rm, size) : readMem(s, ea(s, i), size);
  const n = size === 8 ? (s.th | 0) * TWO_32 + v : v | 0;
  if (i.pfx === 3) s.f64[i.reg * 2] = n;
  else s.f32[i.reg * 4] = n;
}

/** CVT(T)SS2SI / CVT(T)SD2SI r32/64, xmm/m (0F 2C truncates, 0F 2D rounds per MXCSR). */
function cvts2si(s: Interp, i: Insn): void {
  let v: number;
  if (i.pfx === 3) {
    const r = src64(s, i);
    v = s.f64[r * 2]!;
  } else {
    const r = src32(s, i);
    v = s.f32[r * 4]!;
  }
  const t = i.op === 0x2c ? Math.trunc(v) : roundMx(s, v);
  if (i.size === 8) {
    if (t >= -9223372036854775808 && t < 9223372036854775808) {
      const h = Math.floor(t / TWO_32);
      s.lo[i.reg] = (t - h * TWO_32) >>> 0;
      s.hi[i.reg] = h >>> 0;
    } else {
      s.lo[i.reg] = 0;
      s.hi[i.reg] = 0x8000_0000;
    }
  } else {
    setReg32(s, i.reg, toI32(t) >>> 0);
  }
}

/** A double's NaN as a float NaN (quieted, top payload bits kept). */
function nanToF32(hi: number, lo: number): number {
  return ((hi & 0x8000_0000) | 0x7fc0_0000 | ((hi & 0xf_ffff) << 3) | (lo >>> 29)) >>> 0;
}

/** CVTSS2SD (F3 0F 5A), CVTSD2SS (F2), CVTPS2PD (none), CVTPD2PS (66). */
function cvtFloat(s: Interp, i: Insn): void {
  const x = s.x32;
  const d = i.reg;
  switch (i.pfx) {
    case 2: { // ss → sd
      const r = src32(s, i);
      const bits = x[r * 4]!;
      f32ToF64(s, d * 2, bits, s.f32[r * 4]!);
      return;
    }
    case 3: { // sd → ss
      const r = src64(s, i);
      const v = s.f64[r * 2]!;
      if (v !== v) x[d * 4] = nanToF32(x[r * 4 + 1]!, x[r * 4]!);
      else s.f32[d * 4] = toF32(v, 0, (s.cpu.mxcsr >>> 13) & 3);
      return;
    }
    case 0: { // ps → pd (low two floats)
      const r = src64(s, i);
      const b0 = x[r * 4]!;
      const b1 = x[r * 4 + 1]!;
      const v0 = s.f32[r * 4]!;
      const v1 = s.f32[r * 4 + 1]!;
      f32ToF64(s, d * 2, b0, v0);
      f32ToF64(s, d * 2 + 1, b1, v1);
      return;
    }
    default: { // pd → ps, upper half zeroed
      const r = src128(s, i, true);
      for (let k = 0; k < 2; k++) {
        const v = s.f64[r * 2 + k]!;
        tmp[k] = v !== v ? nanToF32(x[r * 4 + 2 * k + 1]!, x[r * 4 + 2 * k]!) : 0;
        if (v === v) {
          s.f32[64 + k] = toF32(v, 0, (s.cpu.mxcsr >>> 13) & 3); // scratch lane as a rounding buffer
          tmp[k] = x[64 + k]!;
        }
      }
      x[d * 4] = tmp[0]!;
      x[d * 4 + 1] = tmp[1]!;
      x[d * 4 + 2] = 0;
      x[d * 4 + 3] = 0;
    }
  }
}

function f32ToF64(s: Interp, di: number, bits: number, v: number): void {
  if (v === v) {
    s.f64[di] = v;
    return;
  }
  const m = (bits & 0x7f_ffff) | 0x40_0000;
  s.x32[di * 2] = (m & 7) << 29;
  s.x32[di * 2 + 1] = ((bits & 0x8000_0000) | 0x7ff0_0000 | (m >>> 3)) >>> 0;
}

/** CVTDQ2PS (none 5B), CVTPS2DQ (66 5B), CVTTPS2DQ (F3 5B). */
function cvt5b(s: Interp, i: Insn): void {
  const r = src128(s, i, true);
  const x = s.x32;
  const d = i.reg;
  if (i.pfx === 0) {
    for (let k = 0; k < 4; k++) s.f32[d * 4 + k] = s.xi32[r * 4 + k]!;
    return;
  }
  for (let k = 0; k < 4; k++) {
    const v = s.f32[r * 4 + k]!;
    tmp[k] = toI32(i.pfx === 2 ? Math.trunc(v) : roundMx(s, v)) >>> 0;
  }
  for (let k = 0; k < 4; k++) x[d * 4 + k] = tmp[k]!;
}

/** CVTTPD2DQ (66 E6), CVTDQ2PD (F3 E6), CVTPD2DQ (F2 E6). */
function cvtE6(s: Interp, i: Insn): void {
  const x = s.x32;
  const d = i.reg;
  if (i.pfx === 2) {
    const r = src64(s, i);
    const a = s.xi32[r * 4]!;
    const b = s.xi32[r * 4 + 1]!;
    s.f64[d * 2] = a;
    s.f64[d * 2 + 1] = b;
    return;
  }
  const r = src128(s, i, true);
  for (let k = 0; k < 2; k++) {
    const v = s.f64[r * 2 + k]!;
    tmp[k] = toI32(i.pfx === 1 ? Math.trunc(v) : roundMx(s, v)) >>> 0;
  }
  x[d * 4] = tmp[0]!;
  x[d * 4 + 1] = tmp[1]!;
  x[d * 4 + 2] = 0;
  x[d * 4 + 3] = 0;
}

// ---- Selection.

function set(i: Insn, fn: (s: Interp, i: Insn) => void, op = i.op): void {
  i.fn = fn;
  i.op = op;
}

/** Picks the SSE handler for 0F `opc` (map 1) or the 0F 38 / 0F 3A maps (none supported). */
export function selectSse(i: Insn, map: number, opc: number): void {
  i.fn = ud;
  if (map !== 1) return;
  const p = i.pfx;
  const mem = i.mod !== 3;
  switch (opc) {
    case 0x10:
      if (p === 2) return set(i, movssLoad);
      if (p === 3) return set(i, movsdLoad);
      return set(i, movLoad128, 0);
    case 0x11:
      if (p === 2) return set(i, movssStore);
      if (p === 3) return set(i, movsdStore);
      return set(i, movStore128, 0);
    case 0x12: case 0x16:
      if (p > 1) return; // SSE3 MOVSLDUP/MOVSHDUP/MOVDDUP
      if (p === 1 && !mem) return;
      return set(i, movHalfLoad, opc === 0x16 ? 1 : 0);
    case 0x13: case 0x17:
      if (p > 1 || !mem) return;
      return set(i, movHalfStore, opc === 0x17 ? 1 : 0);
    case 0x14: case 0x15:
      if (p > 1) return;
      return set(i, pint, opc);
    case 0x28:
      if (p > 1) return;
      return set(i, movLoad128, 1);
    case 0x29:
      if (p > 1) return;
      return set(i, movStore128, 1);
    case 0x2b:
      if (p > 1 || !mem) return;
      return set(i, movStore128, 1);
    case 0x2a:
      if (p < 2) return; // CVTPI2PS/PD: MMX
      return set(i, cvtsi2s);
    case 0x2c: case 0x2d:
      if (p < 2) return;
      return set(i, cvts2si, opc);
    case 0x2e: case 0x2f:
      if (p > 1) return;
      return set(i, comis);
    case 0x50:
      if (p > 1 || mem) return;
      return set(i, movmsk, p === 1 ? 8 : 4);
    case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
      return set(i, farith, opc);
    case 0x52: case 0x53:
      if (p === 1 || p === 3) return;
      return set(i, farith, opc);
    case 0x54: case 0x55: case 0x56: case 0x57:
      if (p > 1) return;
      return set(i, pint, [0xdb, 0xdf, 0xeb, 0xef][opc - 0x54]!);
    case 0x5a:
      return set(i, cvtFloat);
    case 0x5b:
      if (p === 3) return;
      return set(i, cvt5b);
    case 0x6e:
      if (p !== 1) return;
      return set(i, movdToXmm);
    case 0x7e:
      if (p === 1) return set(i, movdFromXmm);
      if (p === 2) return set(i, movqLoad);
      return;
    case 0x6f:
      if (p === 1) return set(i, movLoad128, 1);
      if (p === 2) return set(i, movLoad128, 0);
      return;
    case 0x7f:
      if (p === 1) return set(i, movStore128, 1);
      if (p === 2) return set(i, movStore128, 0);
      return;
    case 0x70:
      if (p === 0) return;
      return set(i, pshuf);
    case 0x71: case 0x72: case 0x73:
      if (p !== 1) return;
      return set(i, shiftImm, opc);
    case 0xc2:
      return set(i, fcmp);
    case 0xc4:
      if (p !== 1) return;
      return set(i, pinsrw);
    case 0xc5:
      if (p !== 1) return;
      return set(i, pextrw);
    case 0xc6:
      if (p > 1) return;
      return set(i, shufp);
    case 0xd6:
      if (p !== 1) return;
      return set(i, movqStore);
    case 0xd7:
      if (p !== 1) return;
      return set(i, movmsk, 1);
    case 0xe6:
      if (p === 0) return;
      return set(i, cvtE6);
    case 0xe7:
      if (p !== 1 || !mem) return;
      return set(i, movStore128, 1);
    case 0xf7:
      if (p !== 1) return;
      return set(i, maskmovdqu);
    case 0xae:
      if (mem && (i.reg & 7) < 2) set(i, fxsave, i.reg & 7); // FXSAVE / FXRSTOR
      return;
    default:
      break;
  }
  // The 66-prefixed packed-integer block.
  if (p === 1 && ((opc >= 0x60 && opc <= 0x6d) || (opc >= 0x74 && opc <= 0x76) || (opc >= 0xd1 && opc <= 0xfe))) {
    set(i, pint, opc);
  }
}
