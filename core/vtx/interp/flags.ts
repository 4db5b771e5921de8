import type { Interp } from './interp-state.js';
import { imul64Overflows } from './wide-mul.js';

/**
 * Lazy arithmetic flags (v86 `arith.rs`, QEMU `cc_op`): an ALU operation records what it did —
 * its kind and operand size in `fop`, its operands and result in `fa/fb/fr` (and the high halves
 * `fah/fbh/frh` for 64-bit operations) — and CF, PF, AF, ZF, SF, OF are computed only when an
 * instruction reads them. A CMP followed by JL costs a signed compare, never a full RFLAGS.
 *
 * `cpu.rflags` holds the status flags only while `fop` is FOP_NONE; the interpreter writes them
 * back (`materialize`) before anything outside it can look: at the end of every `step`, before a
 * fault is delivered, before delegating to a CPU method, and before an EPT-violation VM exit.
 * Instructions with complicated flag rules (shifts, multiplies, bit tests …) compute RFLAGS
 * eagerly with `setStatus`. Non-status bits (DF, IF, …) always live in `cpu.rflags`.
 */

export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const DF = 0x400;
export const OF = 0x800;
export const STATUS = CF | PF | AF | ZF | SF | OF;

/** `fop` = kind << 2 | size code (0: 8-bit, 1: 16, 2: 32, 3: 64). */
export const FOP_NONE = -1;
export const K_ADD = 0;
export const K_ADC = 1;
export const K_SUB = 2;
export const K_SBB = 3;
export const K_LOGIC = 4;
export const K_INC = 5;
export const K_DEC = 6;
/**
 * Result-defined flags (shifts, multiplies, …): ZF, SF, PF from the result, CF from `fcf`, OF from
 * `fb`, AF clear.
 */
export const K_RESULT = 7;
/** IMUL r64 (two/three operands): operands in fa:fah, fb:fbh; CF = OF = signed overflow. */
export const K_MUL = 8;

/** Size code of an operand size in bytes (1, 2, 4, 8 → 0..3). */
export const SIZE_CODE: readonly number[] = [0, 0, 1, 0, 2, 0, 0, 0, 3];
/** Left shift that brings the sign bit of an 8/16/32-bit value to bit 31, by size code. */
const SIGN_SHIFT = new Int32Array([24, 16, 0, 0]);

/** PF for a result's low byte: PF if the number of set bits is even. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = (b & 1) === 0 ? PF : 0;
}

/** Unsigned 64-bit a < b on halves. */
function ult64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah < bh || (ah === bh && al < bl);
}

export function getCF(s: Interp): number {
  const op = s.fop;
  if (op < 0) return s.cpu.rflags & 1;
  const k = op >> 2;
  if ((op & 3) !== 3) {
    switch (k) {
      case K_ADD: return s.fr < s.fa ? 1 : 0;
      case K_ADC: return s.fr < s.fa || (s.fcf !== 0 && s.fr === s.fa) ? 1 : 0;
      case K_SUB: return s.fa < s.fb ? 1 : 0;
      case K_SBB: return s.fa < s.fb || (s.fcf !== 0 && s.fa === s.fb) ? 1 : 0;
      case K_LOGIC: return 0;
      default: return s.fcf;
    }
  }
  switch (k) {
    case K_ADD: return ult64(s.frh, s.fr, s.fah, s.fa) ? 1 : 0;
    case K_ADC: return ult64(s.frh, s.fr, s.fah, s.fa) || (s.fcf !== 0 && s.fr === s.fa && s.frh === s.fah) ? 1 : 0;
    case K_SUB: return ult64(s.fah, s.fa, s.fbh, s.fb) ? 1 : 0;
    case K_SBB: return ult64(s.fah, s.fa, s.fbh, s.fb) || (s.fcf !== 0 && s.fa === s.fb && s.fah === s.fbh) ? 1 : 0;
    case K_LOGIC: return 0;
    case K_MUL: return imul64Overflows(s.fa, s.fah, s.fb, s.fbh) ? 1 : 0;
    default: return s.fcf;
  }
}

export function getZF(s: Interp): number {
  const op = s.fop;
  if (op < 0) return (s.cpu.rflags >>> 6) & 1;
  if ((op & 3) === 3) return (s.fr | s.frh) === 0 ? 1 : 0;
  return s.fr === 0 ? 1 : 0;
}

export function getSF(s: Interp): number {
  const op = s.fop;
  if (op < 0) return (s.cpu.rflags >>> 7) & 1;
  if ((op & 3) === 3) return s.frh >>> 31;
  return (s.fr << SIGN_SHIFT[op & 3]!) >>> 31;
}

export function getPF(s: Interp): number {
  const op = s.fop;
  if (op < 0) return (s.cpu.rflags >>> 2) & 1;
  return PARITY[s.fr & 0xff]! >>> 2;
}

export function getAF(s: Interp): number {
  const op = s.fop;
  if (op < 0) return (s.cpu.rflags >>> 4) & 1;
  const k = op >> 2;
  if (k === K_LOGIC || k === K_RESULT || k === K_MUL) return 0;
  return ((s.fa ^ s.fb ^ s.fr) >>> 4) & 1;
}

export function getOF(s: Interp): number {
  const op = s.fop;
  if (op < 0) return (s.cpu.rflags >>> 11) & 1;
  const k = op >> 2;
  if (k === K_RESULT) return s.fb;
  if (k === K_MUL) return imul64Overflows(s.fa, s.fah, s.fb, s.fbh) ? 1 : 0;
  if ((op & 3) === 3) {
    switch (k) {
      case K_ADD: case K_ADC: case K_INC: return ((s.fah ^ s.frh) & (s.fbh ^ s.frh)) >>> 31;
      case K_SUB: case K_SBB: case K_DEC: return ((s.fah ^ s.fbh) & (s.fah ^ s.frh)) >>> 31;
      default: return 0;
    }
  }
  const sh = SIGN_SHIFT[op & 3]!;
  switch (k) {
    case K_ADD: case K_ADC: case K_INC: return (((s.fa ^ s.fr) & (s.fb ^ s.fr)) << sh) >>> 31;
    case K_SUB: case K_SBB: case K_DEC: return (((s.fa ^ s.fb) & (s.fa ^ s.fr)) << sh) >>> 31;
    default: return 0;
  }
}

/** The six status flags as RFLAGS bits. */
export function statusFlags(s: Interp): number {
  if (s.fop < 0) return s.cpu.rflags & STATUS;
  return getCF(s) | (getPF(s) << 2) | (getAF(s) << 4) | (getZF(s) << 6) | (getSF(s) << 7) | (getOF(s) << 11);
}

/** Writes lazily kept flags back into `cpu.rflags`. */
export function materialize(s: Interp): void {
  if (s.fop < 0) return;
  const f = statusFlags(s);
  s.cpu.rflags = ((s.cpu.rflags & ~STATUS) | f) >>> 0;
  s.fop = FOP_NONE;
}

/** Records result-defined flags (K_RESULT): CF and OF given, ZF/SF/PF from the result. */
export function setResultFlags(s: Interp, sizeCode: number, r: number, rh: number, cf: number, of: number): void {
  s.fop = (K_RESULT << 2) | sizeCode;
  s.fr = r;
  s.frh = rh;
  s.fcf = cf;
  s.fb = of;
}

/** Sets all six status flags eagerly (bits of `f` outside STATUS are ignored). */
export function setStatus(s: Interp, f: number): void {
  s.fop = FOP_NONE;
  s.cpu.rflags = ((s.cpu.rflags & ~STATUS) | (f & STATUS)) >>> 0;
}

/** Sets the flags in `mask` to the bits of `f`, keeping the other status flags. */
export function setSomeFlags(s: Interp, mask: number, f: number): void {
  materialize(s);
  s.cpu.rflags = ((s.cpu.rflags & ~mask) | (f & mask)) >>> 0;
}

// ---- Condition codes (Jcc / SETcc / CMOVcc low nibble).

/** SF != OF (signed less), with fast paths for CMP/SUB and logic results. */
export function getLT(s: Interp): boolean {
  const op = s.fop;
  const k = op >> 2;
  if (k === K_SUB) {
    const sc = op & 3;
    if (sc === 3) return (s.fah | 0) < (s.fbh | 0) || (s.fah === s.fbh && s.fa < s.fb);
    const sh = SIGN_SHIFT[sc]!;
    return (s.fa << sh) < (s.fb << sh);
  }
  if (k === K_LOGIC) return getSF(s) !== 0;
  return getSF(s) !== getOF(s);
}

export function cond(s: Interp, cc: number): boolean {
  switch (cc) {
    case 0: return getOF(s) !== 0;
    case 1: return getOF(s) === 0;
    case 2: return getCF(s) !== 0;
    case 3: return getCF(s) === 0;
    case 4: return getZF(s) !== 0;
    case 5: return getZF(s) === 0;
    case 6: return (getCF(s) | getZF(s)) !== 0;
    case 7: return (getCF(s) | getZF(s)) === 0;
    case 8: return getSF(s) !== 0;
    case 9: return getSF(s) === 0;
    case 10: return getPF(s) !== 0;
    case 11: return getPF(s) === 0;
    case 12: return getLT(s);
    case 13: return !getLT(s);
    case 14: return getZF(s) !== 0 || getLT(s);
    default: return getZF(s) === 0 && !getLT(s);
  }
}
