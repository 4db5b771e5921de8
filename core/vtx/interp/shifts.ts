import { CF, OF, getCF, setResultFlags, setSomeFlags } from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { ea, getReg, readMem, setReg, sext32, sizeMask, writeMem } from './operands.js';

/**
 * Shifts and rotates (group 2: ROL ROR RCL RCR SHL SHR SAL SAR), SHLD and SHRD. The count is
 * masked to 5 bits (6 for 64-bit operands); a masked count of 0 changes no flags (a 32-bit
 * register destination is still zero-extended). RCL/RCR rotate through CF modulo size + 1.
 *
 * The value and the pending flags are computed first (`pk`, `pcf`, `pof` on the state) and the
 * flags are recorded after the result is stored.
 */

export const SH_ROL = 0;
export const SH_ROR = 1;
export const SH_RCL = 2;
export const SH_RCR = 3;
export const SH_SHL = 4;
export const SH_SHR = 5;
export const SH_SAL = 6;
export const SH_SAR = 7;

const PK_NONE = 0;
const PK_RESULT = 1;
const PK_ROTATE = 2;

// ---- 64-bit helpers on halves: return the low half, leave the high half in s.th.

export function shl64(s: Interp, l: number, h: number, c: number): number {
  if (c === 0) {
    s.th = h;
    return l;
  }
  if (c < 32) {
    s.th = ((h << c) | (l >>> (32 - c))) >>> 0;
    return (l << c) >>> 0;
  }
  s.th = c < 64 ? (l << (c - 32)) >>> 0 : 0;
  return 0;
}

export function shr64(s: Interp, l: number, h: number, c: number): number {
  if (c === 0) {
    s.th = h;
    return l;
  }
  if (c < 32) {
    s.th = h >>> c;
    return ((l >>> c) | (h << (32 - c))) >>> 0;
  }
  s.th = 0;
  return c < 64 ? h >>> (c - 32) : 0;
}

export function sar64(s: Interp, l: number, h: number, c: number): number {
  if (c === 0) {
    s.th = h;
    return l;
  }
  if (c < 32) {
    s.th = (h >> c) >>> 0;
    return ((l >>> c) | (h << (32 - c))) >>> 0;
  }
  s.th = (h >> 31) >>> 0;
  return c < 64 ? (h >> (c - 32)) >>> 0 : (h >> 31) >>> 0;
}

function bit64(l: number, h: number, n: number): number {
  return n < 32 ? (l >>> n) & 1 : (h >>> (n - 32)) & 1;
}

function sizeCode(size: number): number {
  return size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3;
}

/**
 * Computes `op` of a (ah) by the raw count into s.tl (low) and s.th (high), and leaves the flags
 * to record in s.pk / s.pcf / s.pof. (Results go to fields: a returned number above 2^30 would be
 * boxed.)
 */
export function shiftValue(s: Interp, op: number, size: number, a: number, ah: number, count: number): void {
  const c = count & (size === 8 ? 63 : 31);
  s.pk = PK_NONE;
  if (c === 0) {
    s.th = ah;
    s.tl = a;
    return;
  }
  const bits = size * 8;
  if (size === 8) {
    shiftValue64(s, op, a, ah, c);
    return;
  }
  const mask = sizeMask(size);
  const msb = bits - 1;
  let r: number;
  switch (op) {
    case SH_ROL: {
      const k = c % bits;
      r = k === 0 ? a : (((a << k) | (a >>> (bits - k))) & mask) >>> 0;
      s.pk = PK_ROTATE;
      s.pcf = r & 1;
      s.pof = ((r >>> msb) & 1) ^ (r & 1);
      s.tl = r;
      return;
    }
    case SH_ROR: {
      const k = c % bits;
      r = k === 0 ? a : (((a >>> k) | (a << (bits - k))) & mask) >>> 0;
      s.pk = PK_ROTATE;
      s.pcf = (r >>> msb) & 1;
      s.pof = ((r >>> msb) & 1) ^ ((r >>> (msb - 1)) & 1);
      s.tl = r;
      return;
    }
    case SH_RCL: {
      let k = size === 1 ? c % 9 : size === 2 ? c % 17 : c;
      let cf = getCF(s);
      r = a;
      while (k-- > 0) {
        const out = (r >>> msb) & 1;
        r = (((r << 1) | cf) & mask) >>> 0;
        cf = out;
      }
      s.pk = PK_ROTATE;
      s.pcf = cf;
      s.pof = ((r >>> msb) & 1) ^ cf;
      s.tl = r;
      return;
    }
    case SH_RCR: {
      let k = size === 1 ? c % 9 : size === 2 ? c % 17 : c;
      let cf = getCF(s);
      s.pof = ((a >>> msb) & 1) ^ cf;
      r = a;
      while (k-- > 0) {
        const out = r & 1;
        r = ((r >>> 1) | (cf << msb)) >>> 0;
        cf = out;
      }
      s.pk = PK_ROTATE;
      s.pcf = cf;
      s.tl = r;
      return;
    }
    case SH_SHL:
    case SH_SAL:
      r = c < 32 ? ((a << c) & mask) >>> 0 : 0;
      s.pk = PK_RESULT;
      s.pcf = c <= bits ? (a >>> (bits - c)) & 1 : 0;
      s.pof = ((r >>> msb) & 1) ^ s.pcf;
      s.tl = r;
      return;
    case SH_SHR:
      r = a >>> c;
      s.pk = PK_RESULT;
      s.pcf = (a >>> (c - 1)) & 1;
      s.pof = (a >>> msb) & 1;
      s.tl = r;
      return;
    default: {
      // SAR
      const sa = sext32(a, size);
      r = ((sa >> c) & mask) >>> 0;
      s.pk = PK_RESULT;
      s.pcf = (sa >> (c - 1)) & 1;
      s.pof = 0;
      s.tl = r;
      return;
    }
  }
}

function shiftValue64(s: Interp, op: number, a: number, ah: number, c: number): void {
  let r: number;
  let rh: number;
  switch (op) {
    case SH_ROL: {
      const l1 = shl64(s, a, ah, c);
      const h1 = s.th;
      const l2 = shr64(s, a, ah, 64 - c);
      r = (l1 | l2) >>> 0;
      rh = (h1 | s.th) >>> 0;
      s.pk = PK_ROTATE;
      s.pcf = r & 1;
      s.pof = (rh >>> 31) ^ (r & 1);
      break;
    }
    case SH_ROR: {
      const l1 = shr64(s, a, ah, c);
      const h1 = s.th;
      const l2 = shl64(s, a, ah, 64 - c);
      r = (l1 | l2) >>> 0;
      rh = (h1 | s.th) >>> 0;
      s.pk = PK_ROTATE;
      s.pcf = rh >>> 31;
      s.pof = (rh >>> 31) ^ ((rh >>> 30) & 1);
      break;
    }
    case SH_RCL: {
      let cf = getCF(s);
      r = a;
      rh = ah;
      for (let k = c; k > 0; k--) {
        const out = rh >>> 31;
        rh = ((rh << 1) | (r >>> 31)) >>> 0;
        r = ((r << 1) | cf) >>> 0;
        cf = out;
      }
      s.pk = PK_ROTATE;
      s.pcf = cf;
      s.pof = (rh >>> 31) ^ cf;
      break;
    }
    case SH_RCR: {
      let cf = getCF(s);
      s.pof = (ah >>> 31) ^ cf;
      r = a;
      rh = ah;
      for (let k = c; k > 0; k--) {
        const out = r & 1;
        r = ((r >>> 1) | (rh << 31)) >>> 0;
        rh = ((rh >>> 1) | (cf << 31)) >>> 0;
        cf = out;
      }
      s.pk = PK_ROTATE;
      s.pcf = cf;
      break;
    }
    case SH_SHL:
    case SH_SAL:
      r = shl64(s, a, ah, c);
      rh = s.th;
      s.pk = PK_RESULT;
      s.pcf = bit64(a, ah, 64 - c);
      s.pof = (rh >>> 31) ^ s.pcf;
      break;
    case SH_SHR:
      r = shr64(s, a, ah, c);
      rh = s.th;
      s.pk = PK_RESULT;
      s.pcf = bit64(a, ah, c - 1);
      s.pof = ah >>> 31;
      break;
    default:
      r = sar64(s, a, ah, c);
      rh = s.th;
      s.pk = PK_RESULT;
      s.pcf = c - 1 < 64 ? bit64(a, ah, c - 1) : ah >>> 31;
      s.pof = 0;
  }
  s.th = rh;
  s.tl = r;
}

/** Records the flags `shiftValue` left pending. */
export function applyShiftFlags(s: Interp, size: number, r: number, rh: number): void {
  const pk = s.pk;
  if (pk === PK_RESULT) setResultFlags(s, sizeCode(size), r, size === 8 ? rh : 0, s.pcf, s.pof);
  else if (pk === PK_ROTATE) setSomeFlags(s, CF | OF, s.pcf | (s.pof << 11));
}

/** Count source: CL when i.imm2 is 1, else the immediate (1 for D0/D1). */
function count(s: Interp, i: Insn): number {
  return i.imm2 !== 0 ? s.lo[1]! & 0xff : i.imm;
}

export function shift_r(s: Interp, i: Insn): void {
  const size = i.size;
  const a = getReg(s, i.rm, size);
  const ah = size === 8 ? s.th : 0;
  shiftValue(s, i.op, size, a, ah, count(s, i));
  const r = s.tl;
  const rh = s.th;
  setReg(s, i.rm, size, r, rh);
  applyShiftFlags(s, size, r, rh);
}

export function shift_m(s: Interp, i: Insn): void {
  const size = i.size;
  const addr = ea(s, i);
  const a = readMem(s, addr, size);
  const ah = size === 8 ? s.th : 0;
  shiftValue(s, i.op, size, a, ah, count(s, i));
  const r = s.tl;
  const rh = s.th;
  if (s.pk !== PK_NONE) writeMem(s, addr, size, r, rh);
  applyShiftFlags(s, size, r, rh);
}

/** SHL/SHR/SAR r32 by an immediate (the common compiled forms). */
export function shiftImm32_r(s: Interp, i: Insn): void {
  const d = i.rm;
  const a = s.lo[d]!;
  const c = i.imm & 31;
  if (c === 0) {
    s.hi[d] = 0;
    return;
  }
  let r: number;
  let cf: number;
  let of: number;
  switch (i.op) {
    case SH_SHR:
      r = a >>> c;
      cf = (a >>> (c - 1)) & 1;
      of = a >>> 31;
      break;
    case SH_SAR:
      r = (a >> c) >>> 0;
      cf = (a >> (c - 1)) & 1;
      of = 0;
      break;
    default:
      r = (a << c) >>> 0;
      cf = (a >>> (32 - c)) & 1;
      of = (r >>> 31) ^ cf;
  }
  s.lo[d] = r;
  s.hi[d] = 0;
  setResultFlags(s, 2, r, 0, cf, of);
}

// ---- SHLD / SHRD (0F A4/A5, 0F AC/AD). `i.op`: 0 SHLD, 1 SHRD.

function doubleShift(s: Interp, shrd: boolean, size: number, d: number, dh: number, src: number, srch: number, count: number): void {
  const c = count & (size === 8 ? 63 : 31);
  s.pk = PK_NONE;
  if (c === 0) {
    s.th = dh;
    s.tl = d;
    return;
  }
  const bits = size * 8;
  if (size === 8) {
    let r: number;
    let rh: number;
    if (!shrd) {
      const l1 = shl64(s, d, dh, c);
      const h1 = s.th;
      const l2 = shr64(s, src, srch, 64 - c);
      r = (l1 | l2) >>> 0;
      rh = (h1 | s.th) >>> 0;
      s.pcf = bit64(d, dh, 64 - c);
    } else {
      const l1 = shr64(s, d, dh, c);
      const h1 = s.th;
      const l2 = shl64(s, src, srch, 64 - c);
      r = (l1 | l2) >>> 0;
      rh = (h1 | s.th) >>> 0;
      s.pcf = bit64(d, dh, c - 1);
    }
    s.pk = PK_RESULT;
    s.pof = (rh >>> 31) ^ (dh >>> 31);
    s.th = rh;
    s.tl = r;
    return;
  }
  const mask = sizeMask(size);
  const msb = bits - 1;
  let r: number;
  if (size === 2) {
    // 16-bit counts above 16 are undefined; model the 32-bit concatenation (Intel's behaviour).
    if (!shrd) {
      const wide = ((d << 16) | src) >>> 0;
      const v = c < 32 ? ((wide << c) | (c > 16 ? (src << (c - 16)) : 0)) >>> 0 : 0;
      r = (v >>> 16) & mask;
      s.pcf = c <= 32 ? (wide >>> (32 - c)) & 1 : 0;
    } else {
      const wide = ((src << 16) | d) >>> 0;
      const v = (wide >>> c) | (c > 16 ? (d << (32 - c)) : 0);
      r = (v & mask) >>> 0;
      s.pcf = (wide >>> (c - 1)) & 1;
    }
  } else if (!shrd) {
    r = ((d << c) | (src >>> (bits - c))) >>> 0;
    s.pcf = (d >>> (bits - c)) & 1;
  } else {
    r = ((d >>> c) | (src << (bits - c))) >>> 0;
    s.pcf = (d >>> (c - 1)) & 1;
  }
  s.pk = PK_RESULT;
  s.pof = ((r >>> msb) & 1) ^ ((d >>> msb) & 1);
  s.th = 0;
  s.tl = r;
}

export function shxd(s: Interp, i: Insn): void {
  const size = i.size;
  const mem = i.mod !== 3;
  const addr = mem ? ea(s, i) : 0;
  const d = mem ? readMem(s, addr, size) : getReg(s, i.rm, size);
  const dh = size === 8 ? s.th : 0;
  const src = getReg(s, i.reg, size);
  const srch = size === 8 ? s.th : 0;
  doubleShift(s, i.op === 1, size, d, dh, src, srch, count(s, i));
  const r = s.tl;
  const rh = s.th;
  if (mem) {
    if (s.pk !== PK_NONE) writeMem(s, addr, size, r, rh);
  } else {
    setReg(s, i.rm, size, r, rh);
  }
  applyShiftFlags(s, size, r, rh);
}
