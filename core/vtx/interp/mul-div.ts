import { Vector } from '../arch.js';
import { K_MUL, setResultFlags } from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { TWO_32, ea, getReg, readMem, setReg16, sext32 } from './operands.js';
import { MH, QHI, QLO, RHI, RLO, W, W0, W1, W2, W3, mulu32, mulu64, muls64 } from './wide-mul.js';

/**
 * MUL, IMUL (one, two and three operands), DIV and IDIV on 32-bit halves: 32×32→64 products by
 * 16-bit pieces, 64×64→128 from four of those, and 128/64 division by 16-bit chunks (32-bit
 * divisors) or bit-serially (64-bit divisors), with a floating-point fast path when the dividend
 * is below 2^53. Divide errors raise #DE.
 *
 * Flags: CF = OF = "the high half is significant"; SF, ZF, PF follow the low half (undefined
 * architecturally); DIV/IDIV leave flags as they were (undefined architecturally).
 */

// ---- MUL / IMUL one operand (F6/F7 /4 /5).

function mulSource(s: Interp, i: Insn): number {
  if (i.mod === 3) return getReg(s, i.rm, i.size);
  return readMem(s, ea(s, i), i.size);
}

export function mul1(s: Interp, i: Insn): void {
  const size = i.size;
  const signed = i.op === 5;
  const b = mulSource(s, i);
  const bh = s.th;
  const lo = s.lo;
  const hi = s.hi;
  switch (size) {
    case 1: {
      const a = lo[0]! & 0xff;
      const r = signed ? (sext32(a, 1) * sext32(b, 1)) & 0xffff : a * b;
      setReg16(s, 0, r);
      const over = signed ? sext32(r & 0xff, 1) !== sext32(r, 2) : r > 0xff;
      setResultFlags(s, 0, r & 0xff, 0, over ? 1 : 0, over ? 1 : 0);
      return;
    }
    case 2: {
      const a = lo[0]! & 0xffff;
      const r = signed ? (sext32(a, 2) * sext32(b, 2)) | 0 : a * b;
      setReg16(s, 0, r);
      setReg16(s, 2, r >>> 16);
      const over = signed ? sext32(r & 0xffff, 2) !== r : r > 0xffff;
      setResultFlags(s, 1, r & 0xffff, 0, over ? 1 : 0, over ? 1 : 0);
      return;
    }
    case 4: {
      const a = lo[0]!;
      const rl = mulu32(a, b);
      let rh = W[MH]!;
      if (signed) {
        if ((a | 0) < 0) rh = (rh - b) >>> 0;
        if ((b | 0) < 0) rh = (rh - a) >>> 0;
      }
      lo[0] = rl;
      hi[0] = 0;
      lo[2] = rh;
      hi[2] = 0;
      const over = signed ? rh !== ((rl | 0) < 0 ? 0xffff_ffff : 0) : rh !== 0;
      setResultFlags(s, 2, rl, 0, over ? 1 : 0, over ? 1 : 0);
      return;
    }
    default: {
      if (signed) muls64(lo[0]!, hi[0]!, b, bh);
      else mulu64(lo[0]!, hi[0]!, b, bh);
      lo[0] = W[W0]!;
      hi[0] = W[W1]!;
      lo[2] = W[W2]!;
      hi[2] = W[W3]!;
      const ext = signed && (W[W1]! | 0) < 0 ? 0xffff_ffff : 0;
      const over = signed ? W[W2]! !== ext || W[W3]! !== ext : (W[W2]! | W[W3]!) !== 0;
      setResultFlags(s, 3, W[W0]!, W[W1]!, over ? 1 : 0, over ? 1 : 0);
    }
  }
}

// ---- IMUL two and three operands: dest = a × b truncated.

function imulCore(s: Interp, i: Insn, a: number, ah: number, b: number, bh: number): void {
  const size = i.size;
  const d = i.reg;
  if (size === 8) {
    // The low 64 bits; CF/OF (whether the signed product needs more) are computed lazily.
    const l = mulu32(a, b);
    const h = (W[MH]! + Math.imul(a, bh) + Math.imul(ah, b)) >>> 0;
    s.lo[d] = l;
    s.hi[d] = h;
    s.fop = (K_MUL << 2) | 3;
    s.fa = a;
    s.fah = ah;
    s.fb = b;
    s.fbh = bh;
    s.fr = l;
    s.frh = h;
    return;
  }
  if (size === 4) {
    const rl = Math.imul(a, b);
    const over = (a | 0) * (b | 0) !== rl ? 1 : 0;
    s.lo[d] = rl >>> 0;
    s.hi[d] = 0;
    setResultFlags(s, 2, rl >>> 0, 0, over, over);
    return;
  }
  const r = sext32(a, 2) * sext32(b, 2);
  setReg16(s, d, r);
  const over = sext32(r & 0xffff, 2) !== r ? 1 : 0;
  setResultFlags(s, 1, r & 0xffff, 0, over, over);
}

/** IMUL r, r/m (0F AF). */
export function imul2(s: Interp, i: Insn): void {
  const b = mulSource(s, i);
  const bh = s.th;
  const a = getReg(s, i.reg, i.size);
  imulCore(s, i, a, s.th, b, bh);
}

/** IMUL r, r/m, imm (69, 6B). */
export function imul3(s: Interp, i: Insn): void {
  const b = mulSource(s, i);
  imulCore(s, i, b, s.th, i.imm, i.immHi);
}

// ---- DIV / IDIV (F6/F7 /6 /7).


const REMD = 9;

/** One 32-bit word of a long division by a 32-bit divisor (remainder carried in W[REMD]). */
function divWord(w: number, d: number): number {
  let cur = W[REMD]! * 65536 + (w >>> 16);
  const q1 = Math.floor(cur / d);
  cur -= q1 * d;
  cur = cur * 65536 + (w & 0xffff);
  const q0 = Math.floor(cur / d);
  W[REMD] = cur - q0 * d;
  return (q1 * 65536 + q0) >>> 0;
}

/**
 * Unsigned (nh:nl:ml:mlo) / (dh:dl) where the 128-bit dividend is n = [n3 n2 n1 n0] words and the
 * divisor is below 2^64 with n3:n2 < divisor (so the quotient fits 64 bits). Sets W[QLO]!/W[QHI]!, W[RLO]!/W[RHI]!.
 */
function udiv128(n3: number, n2: number, n1: number, n0: number, dh: number, dl: number): void {
  if (dh === 0) {
    // Chunked long division by a 32-bit divisor: every partial dividend is below 2^48.
    W[REMD] = 0;
    divWord(n3, dl);
    divWord(n2, dl);
    W[QHI] = divWord(n1, dl);
    W[QLO] = divWord(n0, dl);
    W[RLO] = W[REMD]! >>> 0;
    W[RHI] = 0;
    return;
  }
  // Bit-serial: remainder starts as the high 64 bits and takes one dividend bit per step.
  let r1 = n3;
  let r0 = n2;
  let q1 = 0;
  let q0 = 0;
  for (let k = 63; k >= 0; k--) {
    const bit = k >= 32 ? (n1 >>> (k - 32)) & 1 : (n0 >>> k) & 1;
    const top = r1 >>> 31;
    r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
    r0 = ((r0 << 1) | bit) >>> 0;
    q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
    q0 = (q0 << 1) >>> 0;
    if (top !== 0 || r1 > dh || (r1 === dh && r0 >= dl)) {
      const t = r0 - dl;
      r0 = t >>> 0;
      r1 = (r1 - dh - (t < 0 ? 1 : 0)) >>> 0;
      q0 = (q0 | 1) >>> 0;
    }
  }
  W[QLO] = q0;
  W[QHI] = q1;
  W[RLO] = r0;
  W[RHI] = r1;
}

/** Unsigned 64/64 by the fast paths where possible, else udiv128. */
function udiv64(nh: number, nl: number, dh: number, dl: number): void {
  if (nh < 0x20_0000 && dh < 0x20_0000) {
    const n = nh * TWO_32 + nl;
    const d = dh * TWO_32 + dl;
    const q = Math.floor(n / d);
    const r = n - q * d;
    W[QLO] = q >>> 0;
    W[QHI] = Math.floor(q / TWO_32);
    W[RLO] = r >>> 0;
    W[RHI] = Math.floor(r / TWO_32);
    return;
  }
  udiv128(0, 0, nh, nl, dh, dl);
}

function divideError(s: Interp): never {
  return s.cpu.raiseFault(Vector.DivideError, 0, false);
}

export function div(s: Interp, i: Insn): void {
  const size = i.size;
  const signed = i.op === 7;
  const d = mulSource(s, i);
  const dhi = s.th;
  const lo = s.lo;
  const hi = s.hi;
  switch (size) {
    case 1: {
      if (d === 0) divideError(s);
      const n = lo[0]! & 0xffff;
      let q: number;
      let r: number;
      if (signed) {
        const sn = sext32(n, 2);
        const sd = sext32(d, 1);
        q = Math.trunc(sn / sd);
        r = sn - q * sd;
        if (q > 127 || q < -128) divideError(s);
      } else {
        q = Math.floor(n / d);
        r = n - q * d;
        if (q > 0xff) divideError(s);
      }
      setReg16(s, 0, ((r & 0xff) << 8) | (q & 0xff));
      return;
    }
    case 2: {
      if (d === 0) divideError(s);
      const n = ((lo[2]! & 0xffff) << 16) | (lo[0]! & 0xffff);
      let q: number;
      let r: number;
      if (signed) {
        const sd = sext32(d, 2);
        q = Math.trunc((n | 0) / sd);
        r = (n | 0) - q * sd;
        if (q > 32767 || q < -32768) divideError(s);
      } else {
        const un = n >>> 0;
        q = Math.floor(un / d);
        r = un - q * d;
        if (q > 0xffff) divideError(s);
      }
      setReg16(s, 0, q);
      setReg16(s, 2, r);
      return;
    }
    case 4: {
      if (d === 0) divideError(s);
      let nh = lo[2]!;
      let nl = lo[0]!;
      let dd = d;
      let negQ = false;
      let negR = false;
      if (signed) {
        if ((nh | 0) < 0) {
          negQ = true;
          negR = true;
          nl = -nl >>> 0;
          nh = (~nh + (nl === 0 ? 1 : 0)) >>> 0;
        }
        if ((dd | 0) < 0) {
          negQ = !negQ;
          dd = -dd >>> 0;
        }
      }
      if (nh >= dd) divideError(s);
      udiv128(0, 0, nh, nl, 0, dd);
      let q = W[QLO]!;
      let r = W[RLO]!;
      if (signed) {
        if (negQ ? q > 0x8000_0000 : q > 0x7fff_ffff) divideError(s);
        if (negQ) q = -q >>> 0;
        if (negR) r = -r >>> 0;
      }
      lo[0] = q;
      hi[0] = 0;
      lo[2] = r;
      hi[2] = 0;
      return;
    }
    default: {
      if ((d | dhi) === 0) divideError(s);
      let n3 = hi[2]!;
      let n2 = lo[2]!;
      let n1 = hi[0]!;
      let n0 = lo[0]!;
      let dl = d;
      let dh = dhi;
      let negQ = false;
      let negR = false;
      if (signed) {
        if ((n3 | 0) < 0) {
          negQ = true;
          negR = true;
          // 128-bit negation
          n0 = ~n0 >>> 0;
          n1 = ~n1 >>> 0;
          n2 = ~n2 >>> 0;
          n3 = ~n3 >>> 0;
          n0 = (n0 + 1) >>> 0;
          if (n0 === 0) {
            n1 = (n1 + 1) >>> 0;
            if (n1 === 0) {
              n2 = (n2 + 1) >>> 0;
              if (n2 === 0) n3 = (n3 + 1) >>> 0;
            }
          }
        }
        if ((dh | 0) < 0) {
          negQ = !negQ;
          dl = -dl >>> 0;
          dh = (~dh + (dl === 0 ? 1 : 0)) >>> 0;
        }
      }
      if (n3 > dh || (n3 === dh && n2 >= dl)) divideError(s);
      if ((n3 | n2) === 0) udiv64(n1, n0, dh, dl);
      else udiv128(n3, n2, n1, n0, dh, dl);
      let ql = W[QLO]!;
      let qh = W[QHI]!;
      let rl = W[RLO]!;
      let rh = W[RHI]!;
      if (signed) {
        if (negQ ? qh > 0x8000_0000 || (qh === 0x8000_0000 && ql !== 0) : qh > 0x7fff_ffff) divideError(s);
        if (negQ) {
          ql = -ql >>> 0;
          qh = (~qh + (ql === 0 ? 1 : 0)) >>> 0;
        }
        if (negR) {
          rl = -rl >>> 0;
          rh = (~rh + (rl === 0 ? 1 : 0)) >>> 0;
        }
      }
      lo[0] = ql;
      hi[0] = qh;
      lo[2] = rl;
      hi[2] = rh;
    }
  }
}

