import { CF, PF, ZF, getCF, getPF, getZF, setStatus } from './flags.js';
import type { Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { ea, setReg16 } from './operands.js';
import { ud } from './system.js';
import { FXSAVE_AREA_SIZE, FXSAVE_STATE_BYTES, fxLoad, fxStore } from '../fx-save-area.js';

/**
 * The x87 FPU: eight 80-bit registers as a stack, FCW (precision and rounding control), FSW
 * (condition codes C0..C3, TOP, sticky exception flags), a tag per register, and the instructions
 * compilers and C libraries emit (musl's printf and strtod do their long double arithmetic here).
 *
 * Registers hold the exact 80-bit images (`se` = sign|exponent, `mhi:mlo` = the 64-bit
 * significand with its explicit integer bit), so loads, stores and moves are bit copies.
 * Arithmetic is a software float on exact values m·2^e (BigInt significands) rounded once to the
 * FCW precision (24/53/64 bits) and rounding mode, with denormals, overflow and the IEEE special
 * cases, so results match the hardware bit for bit. x87 code is not on the integer or SSE hot
 * path, which is why BigInt is acceptable here and nowhere else.
 *
 * Exceptions are treated as masked (the default FCW): flags are recorded in FSW, results are the
 * masked responses (QNaN indefinite, ±∞ …), and no #MF is raised. The transcendental
 * instructions (FSIN, FCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1) are computed in double
 * precision and are not bit exact.
 */

// FSW bits.
const IE = 0x1;
const DE = 0x2;
const ZE = 0x4;
const OE = 0x8;
const UE = 0x10;
const PE = 0x20;
const SF_ = 0x40;
const C0 = 0x100;
const C1 = 0x200;
const C2 = 0x400;
const C3 = 0x4000;

// Value classes.
const K_ZERO = 0;
const K_FINITE = 1;
const K_INF = 2;
const K_NAN = 3;

const B0 = 0n;
const B1 = 1n;
const B32 = 32n;
const M32 = 0xffff_ffffn;

export class X87 {
  fcw = 0x37f;
  /** FSW without TOP. */
  fsw = 0;
  top = 0;
  /** Physical registers: sign|exponent, significand high and low words. */
  readonly se = new Uint16Array(8);
  readonly mhi = new Uint32Array(8);
  readonly mlo = new Uint32Array(8);
  /** 1 when the physical register is empty. */
  readonly empty = new Uint8Array(8).fill(1);

  init(): void {
    this.fcw = 0x37f;
    this.fsw = 0;
    this.top = 0;
    this.empty.fill(1);
  }

  /** FSW with TOP. */
  get status(): number {
    return (this.fsw & ~0x3800) | (this.top << 11);
  }

  /** The abridged (FXSAVE) or full (FSTENV) tag word. */
  tagWord(full: boolean): number {
    let t = 0;
    for (let p = 0; p < 8; p++) {
      if (full) {
        let tag = 3;
        if (this.empty[p] === 0) {
          const e = this.se[p]! & 0x7fff;
          if (e === 0x7fff) tag = 2;
          else if (e === 0) tag = this.mhi[p] === 0 && this.mlo[p] === 0 ? 1 : 2;
          else tag = (this.mhi[p]! & 0x8000_0000) !== 0 ? 0 : 2;
        }
        t |= tag << (2 * p);
      } else if (this.empty[p] === 0) {
        t |= 1 << p;
      }
    }
    return t;
  }

  setTagWord(t: number, full: boolean): void {
    for (let p = 0; p < 8; p++) this.empty[p] = full ? ((t >> (2 * p)) & 3) === 3 ? 1 : 0 : (t >> p) & 1 ? 0 : 1;
  }
}

// ---- Unpacked operands (module scratch: operand A, operand B).

let aK = 0;
let aS = 0;
let aE = 0;
let aM = B0;
let bK = 0;
let bS = 0;
let bE = 0;
let bM = B0;
/** Denormal operand seen while unpacking (DE). */
let denormal = false;
/** Signalling NaN seen while unpacking (IE), and per operand. */
let snan = false;
let aSnan = false;
let bSnan = false;
/** The last memory operand converted by fromF32/fromF64 was a signalling NaN. */
let convSnan = false;

/** Unpacks an 80-bit image into (K, S, E, M): value = M · 2^E. */
function unpackExt(se: number, hi: number, lo: number, intoB: boolean): void {
  const s = se >>> 15;
  const e = se & 0x7fff;
  let k: number;
  let ex = 0;
  let m = B0;
  if (e === 0x7fff) {
    if ((hi & 0x7fff_ffff) === 0 && lo === 0 && (hi & 0x8000_0000) !== 0) k = K_INF;
    else {
      k = K_NAN;
      if ((hi & 0x4000_0000) === 0) {
        snan = true;
        if (intoB) bSnan = true;
        else aSnan = true;
      }
    }
  } else if (e === 0) {
    if (hi === 0 && lo === 0) k = K_ZERO;
    else {
      k = K_FINITE;
      denormal = true;
      m = (BigInt(hi) << B32) | BigInt(lo);
      ex = 1 - 16383 - 63;
    }
  } else {
    k = K_FINITE;
    m = (BigInt(hi) << B32) | BigInt(lo);
    ex = e - 16383 - 63;
  }
  if (intoB) {
    bK = k;
    bS = s;
    bE = ex;
    bM = m;
  } else {
    aK = k;
    aS = s;
    aE = ex;
    aM = m;
  }
}

// ---- Rounding and packing.

let outSe = 0;
let outHi = 0;
let outLo = 0;

function bitLength(m: bigint): number {
  return m === B0 ? 0 : m.toString(2).length;
}

/** Rounding: returns the kept integer; sets `rInexact`, `rUp`. */
let rInexact = false;
let rUp = false;

function roundShift(sign: number, m: bigint, shift: number, rc: number): bigint {
  rInexact = false;
  rUp = false;
  if (shift <= 0) return m << BigInt(-shift);
  const bs = BigInt(shift);
  let kept = m >> bs;
  const rem = m - (kept << bs);
  if (rem === B0) return kept;
  rInexact = true;
  let inc: boolean;
  switch (rc) {
    case 0: {
      const half = B1 << (bs - B1);
      inc = rem > half || (rem === half && (kept & B1) === B1);
      break;
    }
    case 1: inc = sign === 1; break;
    case 2: inc = sign === 0; break;
    default: inc = false;
  }
  if (inc) {
    kept += B1;
    rUp = true;
  }
  return kept;
}

/**
 * Rounds sign·m·2^e to `p` significand bits with minimum normal exponent `emin` and maximum
 * `emax` (unbiased). Result: rKept·2^rL, or overflow (rOver). Sets FSW flags on `x`.
 */
let rKept = B0;
let rL = 0;
let rOver = false;
let rTiny = false;

function roundTo(x: X87 | null, sign: number, m: bigint, e: number, p: number, emin: number, emax: number, rc: number): void {
  rOver = false;
  rTiny = false;
  const n = bitLength(m);
  const msb = e + n - 1;
  const L = Math.max(msb, emin) - (p - 1);
  rKept = roundShift(sign, m, L - e, rc);
  rL = L;
  const n2 = bitLength(rKept);
  const msb2 = rKept === B0 ? -Infinity : rL + n2 - 1;
  if (msb < emin) rTiny = true;
  if (msb2 > emax) rOver = true;
  if (x !== null) {
    if (rOver) x.fsw |= OE | PE;
    else if (rInexact) {
      x.fsw |= PE;
      if (rTiny) x.fsw |= UE;
    }
    if (rUp) x.fsw |= C1;
  }
}

/** The largest finite significand at precision p, as (kept, L) for emax. */
function overflowResult(sign: number, rc: number): boolean {
  // true: infinity; false: the largest finite number.
  if (rc === 0) return true;
  if (rc === 3) return false;
  return rc === 1 ? sign === 1 : sign === 0;
}

/** Packs sign·m·2^e as an 80-bit image (rounded to the FCW precision and mode). */
function packExt(x: X87 | null, sign: number, m: bigint, e: number, p: number, rc: number): void {
  if (m === B0) {
    outSe = sign << 15;
    outHi = 0;
    outLo = 0;
    return;
  }
  roundTo(x, sign, m, e, p, -16382, 16383, rc);
  if (rOver) {
    if (overflowResult(sign, rc)) setInf(sign);
    else {
      const mm = ((B1 << BigInt(p)) - B1) << BigInt(64 - p);
      outSe = (sign << 15) | 0x7ffe;
      outHi = Number(mm >> B32);
      outLo = Number(mm & M32);
    }
    return;
  }
  if (rKept === B0) {
    outSe = sign << 15;
    outHi = 0;
    outLo = 0;
    return;
  }
  const n2 = bitLength(rKept);
  const msb2 = rL + n2 - 1;
  let mm: bigint;
  let ex: number;
  if (msb2 >= -16382) {
    ex = msb2 + 16383;
    mm = rKept << BigInt(64 - n2);
  } else {
    ex = 0;
    mm = rKept << BigInt(rL + 16445);
  }
  outSe = (sign << 15) | ex;
  outHi = Number(mm >> B32);
  outLo = Number(mm & M32);
}

function setInf(sign: number): void {
  outSe = (sign << 15) | 0x7fff;
  outHi = 0x8000_0000;
  outLo = 0;
}

function setIndefinite(): void {
  outSe = 0xffff;
  outHi = 0xc000_0000;
  outLo = 0;
}

/** FCW precision control → significand bits. */
function precision(x: X87): number {
  const pc = (x.fcw >>> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

function rounding(x: X87): number {
  return (x.fcw >>> 10) & 3;
}

// ---- Register stack.

function phys(x: X87, i: number): number {
  return (x.top + i) & 7;
}

function loadST(x: X87, i: number, intoB: boolean): void {
  const p = phys(x, i);
  if (x.empty[p] === 1) {
    x.fsw |= IE | SF_;
    x.fsw &= ~C1;
    // Stack underflow: the operand is the indefinite QNaN.
    unpackExt(0xffff, 0xc000_0000, 0, intoB);
    return;
  }
  unpackExt(x.se[p]!, x.mhi[p]!, x.mlo[p]!, intoB);
}

function setST(x: X87, i: number): void {
  const p = phys(x, i);
  x.se[p] = outSe;
  x.mhi[p] = outHi;
  x.mlo[p] = outLo;
  x.empty[p] = 0;
}

function push(x: X87): void {
  const t = (x.top - 1) & 7;
  if (x.empty[t] === 0) {
    // Stack overflow: the pushed value becomes the indefinite QNaN.
    x.fsw |= IE | SF_ | C1;
    x.top = t;
    setIndefinite();
    setST(x, 0);
    pushOverflow = true;
    return;
  }
  x.top = t;
  pushOverflow = false;
}
let pushOverflow = false;

function pop(x: X87): void {
  x.empty[x.top] = 1;
  x.top = (x.top + 1) & 7;
}

/** Pushes the value in out*. */
function pushOut(x: X87): void {
  const se = outSe;
  const hi = outHi;
  const lo = outLo;
  push(x);
  if (pushOverflow) return;
  outSe = se;
  outHi = hi;
  outLo = lo;
  setST(x, 0);
}

// ---- NaN handling.

/** Quiets an operand NaN into out*. */
function quietNaN(se: number, hi: number, lo: number): void {
  outSe = se;
  outHi = (hi | 0xc000_0000) >>> 0;
  outLo = lo;
}

function nanResult(x: X87, ase: number, ahi: number, alo: number, bse: number, bhi: number, blo: number): void {
  if (snan) x.fsw |= IE;
  const aNan = aK === K_NAN;
  const bNan = bK === K_NAN;
  if (aNan && bNan && aSnan !== bSnan) {
    // A signalling and a quiet NaN: the quiet one.
    if (aSnan) quietNaN(bse, bhi, blo);
    else quietNaN(ase, ahi, alo);
  } else if (aNan && bNan) {
    // Both of a kind: the NaN with the larger significand (x87 rule).
    const am = (BigInt(ahi & 0x3fff_ffff) << B32) | BigInt(alo);
    const bm = (BigInt(bhi & 0x3fff_ffff) << B32) | BigInt(blo);
    if (am > bm || (am === bm && ase >= bse)) quietNaN(ase, ahi, alo);
    else quietNaN(bse, bhi, blo);
  } else if (aNan) quietNaN(ase, ahi, alo);
  else quietNaN(bse, bhi, blo);
}

// ---- Arithmetic on unpacked A and B (images kept for NaN propagation).

let imgAse = 0;
let imgAhi = 0;
let imgAlo = 0;
let imgBse = 0;
let imgBhi = 0;
let imgBlo = 0;

function unpackBoth(ase: number, ahi: number, alo: number, bse: number, bhi: number, blo: number): void {
  denormal = false;
  snan = false;
  aSnan = false;
  bSnan = false;
  imgAse = ase;
  imgAhi = ahi;
  imgAlo = alo;
  imgBse = bse;
  imgBhi = bhi;
  imgBlo = blo;
  unpackExt(ase, ahi, alo, false);
  unpackExt(bse, bhi, blo, true);
}

const OPA_ADD = 0;
const OPA_MUL = 1;
const OPA_SUB = 4;
const OPA_SUBR = 5;
const OPA_DIV = 6;
const OPA_DIVR = 7;

/** out* = A op B (op is the ModRM.reg of D8: 0 add, 1 mul, 4 sub, 5 subr, 6 div, 7 divr). */
function arith(x: X87, op: number): void {
  if (op === OPA_SUBR || op === OPA_DIVR) {
    // Swap operands.
    const k = aK; aK = bK; bK = k;
    const sgn = aS; aS = bS; bS = sgn;
    const e = aE; aE = bE; bE = e;
    const m = aM; aM = bM; bM = m;
    const sn = aSnan; aSnan = bSnan; bSnan = sn;
    let t = imgAse; imgAse = imgBse; imgBse = t;
    t = imgAhi; imgAhi = imgBhi; imgBhi = t;
    t = imgAlo; imgAlo = imgBlo; imgBlo = t;
    op = op === OPA_SUBR ? OPA_SUB : OPA_DIV;
  }
  x.fsw &= ~C1;
  if (aK === K_NAN || bK === K_NAN) {
    nanResult(x, imgAse, imgAhi, imgAlo, imgBse, imgBhi, imgBlo);
    return;
  }
  if (denormal) x.fsw |= DE;
  const p = precision(x);
  const rc = rounding(x);
  switch (op) {
    case OPA_ADD:
    case OPA_SUB: {
      const bs = op === OPA_SUB ? bS ^ 1 : bS;
      if (aK === K_INF || bK === K_INF) {
        if (aK === K_INF && bK === K_INF && aS !== bs) {
          x.fsw |= IE;
          setIndefinite();
        } else setInf(aK === K_INF ? aS : bs);
        return;
      }
      if (aK === K_ZERO && bK === K_ZERO) {
        const sign = aS === bs ? aS : rc === 1 ? 1 : 0;
        outSe = sign << 15;
        outHi = 0;
        outLo = 0;
        return;
      }
      if (aK === K_ZERO) return packExt(x, bs, bM, bE, p, rc);
      if (bK === K_ZERO) return packExt(x, aS, aM, aE, p, rc);
      // Exact sum with the smaller operand reduced to a sticky bit when far below.
      let ma = aM;
      let ea = aE;
      let mb = bM;
      let eb = bE;
      const hiA = ea + bitLength(ma);
      const hiB = eb + bitLength(mb);
      // An operand far below the other only decides the sticky bit (and its sign).
      if (hiA - hiB > 140) {
        mb = B1;
        eb = ea - 80;
      } else if (hiB - hiA > 140) {
        ma = B1;
        ea = eb - 80;
      }
      const e0 = Math.min(ea, eb);
      const va = ma << BigInt(ea - e0);
      const vb = mb << BigInt(eb - e0);
      let sum = (aS === 1 ? -va : va) + (bs === 1 ? -vb : vb);
      if (sum === B0) {
        outSe = (rc === 1 ? 1 : 0) << 15;
        outHi = 0;
        outLo = 0;
        return;
      }
      let sign = 0;
      if (sum < B0) {
        sign = 1;
        sum = -sum;
      }
      return packExt(x, sign, sum, e0, p, rc);
    }
    case OPA_MUL: {
      const sign = aS ^ bS;
      if (aK === K_INF || bK === K_INF) {
        if (aK === K_ZERO || bK === K_ZERO) {
          x.fsw |= IE;
          setIndefinite();
        } else setInf(sign);
        return;
      }
      if (aK === K_ZERO || bK === K_ZERO) {
        outSe = sign << 15;
        outHi = 0;
        outLo = 0;
        return;
      }
      return packExt(x, sign, aM * bM, aE + bE, p, rc);
    }
    default: {
      // DIV: A / B
      const sign = aS ^ bS;
      if (aK === K_INF) {
        if (bK === K_INF) {
          x.fsw |= IE;
          setIndefinite();
        } else setInf(sign);
        return;
      }
      if (bK === K_INF) {
        outSe = sign << 15;
        outHi = 0;
        outLo = 0;
        return;
      }
      if (bK === K_ZERO) {
        if (aK === K_ZERO) {
          x.fsw |= IE;
          setIndefinite();
        } else {
          x.fsw |= ZE;
          setInf(sign);
        }
        return;
      }
      if (aK === K_ZERO) {
        outSe = sign << 15;
        outHi = 0;
        outLo = 0;
        return;
      }
      const shift = 140;
      const num = aM << BigInt(shift);
      const q = num / bM;
      const rem = num - q * bM;
      const m = (q << B1) | (rem !== B0 ? B1 : B0);
      return packExt(x, sign, m, aE - bE - shift - 1, p, rc);
    }
  }
}

function sqrtOut(x: X87): void {
  x.fsw &= ~C1;
  if (aK === K_NAN) return nanResult(x, imgAse, imgAhi, imgAlo, imgAse, imgAhi, imgAlo);
  if (aK === K_ZERO) {
    outSe = imgAse;
    outHi = 0;
    outLo = 0;
    return;
  }
  if (aS === 1) {
    x.fsw |= IE;
    return setIndefinite();
  }
  if (aK === K_INF) return setInf(0);
  if (denormal) x.fsw |= DE;
  let m = aM;
  let e = aE;
  const extra = 2 * 140 - bitLength(m);
  let sh = extra > 0 ? extra : 0;
  if (((e - sh) & 1) !== 0) sh++;
  m <<= BigInt(sh);
  e -= sh;
  const r = isqrt(m);
  const sticky = r * r !== m ? B1 : B0;
  packExt(x, 0, (r << B1) | sticky, e / 2 - 1, precision(x), rounding(x));
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = B1 << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> B1;
    if (y >= x) return x;
    x = y;
  }
}

// ---- Conversions from memory formats.

/** Loads an IEEE double (hi, lo words) as an 80-bit image in out* (exact). */
function fromF64(x: X87, hi: number, lo: number): void {
  convSnan = false;
  const s = hi >>> 31;
  const e = (hi >>> 20) & 0x7ff;
  const f = (BigInt(hi & 0xf_ffff) << B32) | BigInt(lo);
  if (e === 0x7ff) {
    if (f === B0) return setInf(s);
    if ((hi & 0x8_0000) === 0) {
      x.fsw |= IE; // SNaN: quieted
      convSnan = true;
    }
    const mm = (B1 << 63n) | (1n << 62n) | (f << 11n);
    outSe = (s << 15) | 0x7fff;
    outHi = Number(mm >> B32);
    outLo = Number(mm & M32);
    return;
  }
  if (e === 0) {
    if (f === B0) {
      outSe = s << 15;
      outHi = 0;
      outLo = 0;
      return;
    }
    x.fsw |= DE;
    return packExt(null, s, f, -1074, 64, 0);
  }
  return packExt(null, s, f | (B1 << 52n), e - 1075, 64, 0);
}

function fromF32(x: X87, v: number): void {
  convSnan = false;
  const s = v >>> 31;
  const e = (v >>> 23) & 0xff;
  const f = v & 0x7f_ffff;
  if (e === 0xff) {
    if (f === 0) return setInf(s);
    if ((v & 0x40_0000) === 0) {
      x.fsw |= IE;
      convSnan = true;
    }
    outSe = (s << 15) | 0x7fff;
    outHi = (0xc000_0000 | (f << 8)) >>> 0;
    outLo = 0;
    return;
  }
  if (e === 0) {
    if (f === 0) {
      outSe = s << 15;
      outHi = 0;
      outLo = 0;
      return;
    }
    x.fsw |= DE;
    return packExt(null, s, BigInt(f), -149, 64, 0);
  }
  return packExt(null, s, BigInt(f | 0x80_0000), e - 150, 64, 0);
}

/** An integer (BigInt) exactly. */
function fromInt(v: bigint): void {
  if (v === B0) {
    outSe = 0;
    outHi = 0;
    outLo = 0;
    return;
  }
  const s = v < B0 ? 1 : 0;
  packExt(null, s, s === 1 ? -v : v, 0, 64, 0);
}

// ---- Conversions to memory formats (rounded per RC, not PC).

/** ST as a double: sets f64Hi/f64Lo. */
let f64Hi = 0;
let f64Lo = 0;

function toF64(x: X87): void {
  if (aK === K_NAN) {
    if (snan) x.fsw |= IE;
    const mm = (BigInt(imgAhi & 0x7fff_ffff) << B32) | BigInt(imgAlo);
    const f = (mm >> 11n) | (B1 << 51n);
    f64Hi = ((aS << 31) | 0x7ff0_0000 | Number(f >> B32)) >>> 0;
    f64Lo = Number(f & M32);
    return;
  }
  if (aK === K_INF) {
    f64Hi = ((aS << 31) | 0x7ff0_0000) >>> 0;
    f64Lo = 0;
    return;
  }
  if (aK === K_ZERO) {
    f64Hi = (aS << 31) >>> 0;
    f64Lo = 0;
    return;
  }
  if (denormal) x.fsw |= DE;
  const rc = rounding(x);
  roundTo(x, aS, aM, aE, 53, -1022, 1023, rc);
  if (rOver) {
    if (overflowResult(aS, rc)) {
      f64Hi = ((aS << 31) | 0x7ff0_0000) >>> 0;
      f64Lo = 0;
    } else {
      f64Hi = ((aS << 31) | 0x7fef_ffff) >>> 0;
      f64Lo = 0xffff_ffff;
    }
    return;
  }
  if (rKept === B0) {
    f64Hi = (aS << 31) >>> 0;
    f64Lo = 0;
    return;
  }
  const n2 = bitLength(rKept);
  const msb2 = rL + n2 - 1;
  let bits: bigint;
  if (msb2 >= -1022) {
    const frac = (rKept << BigInt(53 - n2)) & ((B1 << 52n) - B1);
    bits = (BigInt(msb2 + 1023) << 52n) | frac;
  } else {
    bits = rKept << BigInt(rL + 1074);
  }
  f64Hi = ((aS << 31) | Number(bits >> B32)) >>> 0;
  f64Lo = Number(bits & M32);
}

function toF32(x: X87): number {
  if (aK === K_NAN) {
    if (snan) x.fsw |= IE;
    return ((aS << 31) | 0x7fc0_0000 | ((imgAhi >>> 8) & 0x3f_ffff)) >>> 0;
  }
  if (aK === K_INF) return ((aS << 31) | 0x7f80_0000) >>> 0;
  if (aK === K_ZERO) return (aS << 31) >>> 0;
  if (denormal) x.fsw |= DE;
  const rc = rounding(x);
  roundTo(x, aS, aM, aE, 24, -126, 127, rc);
  if (rOver) return ((aS << 31) | (overflowResult(aS, rc) ? 0x7f80_0000 : 0x7f7f_ffff)) >>> 0;
  if (rKept === B0) return (aS << 31) >>> 0;
  const n2 = bitLength(rKept);
  const msb2 = rL + n2 - 1;
  if (msb2 >= -126) {
    const frac = Number((rKept << BigInt(24 - n2)) & 0x7f_ffffn);
    return ((aS << 31) | ((msb2 + 127) << 23) | frac) >>> 0;
  }
  return ((aS << 31) | Number(rKept << BigInt(rL + 149))) >>> 0;
}

/** ST rounded to an integer per `rc` (BigInt), or null when NaN/∞ (invalid). */
function toInteger(x: X87, rc: number): bigint | null {
  if (aK === K_NAN || aK === K_INF) return null;
  if (aK === K_ZERO) return B0;
  if (denormal) x.fsw |= DE;
  let v = roundShift(aS, aM, -aE, rc);
  if (aE >= 0) v = aM << BigInt(aE);
  if (rInexact) {
    x.fsw |= PE;
    if (rUp) x.fsw |= C1;
  }
  return aS === 1 ? -v : v;
}

// ---- Comparisons.

/** Compares A with B: -1, 0, 1, or 2 (unordered). */
function compare(): number {
  if (aK === K_NAN || bK === K_NAN) return 2;
  const av = signedKey(aK, aS, aE, aM);
  const bv = signedKey(bK, bS, bE, bM);
  return av.cmp(bv);
}

class Key {
  constructor(readonly kind: number, readonly sign: number, readonly e: number, readonly m: bigint) {}
  cmp(o: Key): number {
    const za = this.kind === K_ZERO;
    const zb = o.kind === K_ZERO;
    if (za && zb) return 0;
    const sa = za ? 0 : this.sign === 1 ? -1 : 1;
    const sb = zb ? 0 : o.sign === 1 ? -1 : 1;
    if (za) return -sb;
    if (zb) return sa;
    if (sa !== sb) return sa < sb ? -1 : 1;
    let mag: number;
    if (this.kind === K_INF || o.kind === K_INF) mag = this.kind === o.kind ? 0 : this.kind === K_INF ? 1 : -1;
    else {
      const e0 = Math.min(this.e, o.e);
      const a = this.m << BigInt(this.e - e0);
      const b = o.m << BigInt(o.e - e0);
      mag = a === b ? 0 : a > b ? 1 : -1;
    }
    return sa < 0 ? -mag : mag;
  }
}

function signedKey(k: number, s: number, e: number, m: bigint): Key {
  return new Key(k, s, e, m);
}

// ---- Instruction handlers.

function fpu(s: Interp): X87 {
  return s.x87;
}

/** Reads a memory operand of D8/DC/DA/DE (m32 float, m64 float, m32 int, m16 int) into out*. */
function loadMemOperand(s: Interp, i: Insn, kind: number): void {
  const x = fpu(s);
  const a = ea(s, i);
  const mmu = s.mmu;
  switch (kind) {
    case 0: fromF32(x, mmu.read32(a)); return;
    case 1: {
      const lo = mmu.read64(a);
      fromF64(x, mmu.hi, lo);
      return;
    }
    case 2: fromInt(BigInt(mmu.read32(a) | 0)); return;
    default: fromInt(BigInt((mmu.read16(a) << 16) >> 16));
  }
}

/** D8 / DC / DA / DE with a memory operand: ST(0) = ST(0) op m; FCOM/FICOM for /2 /3. */
function arithMem(s: Interp, i: Insn): void {
  const x = fpu(s);
  const kind = i.imm2; // 0 m32fp, 1 m64fp, 2 m32int, 3 m16int
  convSnan = false;
  loadMemOperand(s, i, kind);
  const memSnan = convSnan;
  const bse = outSe;
  const bhi = outHi;
  const blo = outLo;
  const memFlags = x.fsw;
  const p0 = phys(x, 0);
  loadST(x, 0, false);
  const st = x.empty[p0] === 1;
  const ase = st ? 0xffff : x.se[p0]!;
  const ahi = st ? 0xc000_0000 : x.mhi[p0]!;
  const alo = st ? 0 : x.mlo[p0]!;
  unpackBoth(ase, ahi, alo, bse, bhi, blo);
  if (memSnan) {
    bSnan = true;
    snan = true;
  }
  if ((memFlags & DE) !== 0) denormal = true;
  const op = i.op;
  if (op === 2 || op === 3) {
    fcomFinish(x, compare(), false);
    if (op === 3) pop(x);
    return;
  }
  arith(x, op);
  setST(x, 0);
}

/** D8 /r with mod 3: ST(0) = ST(0) op ST(i); DC: ST(i) = ST(i) op ST(0); DE: the same and pop. */
function arithReg(s: Interp, i: Insn): void {
  const x = fpu(s);
  const r = i.rm & 7;
  const op = i.op;
  const toSti = i.imm2 !== 0; // DC / DE
  x.fsw &= ~C1;
  if (op === 2 || op === 3) {
    // FCOM / FCOMP ST(i)
    loadST(x, 0, false);
    loadST(x, r, true);
    fcomFinish(x, compare(), false);
    if (op === 3) pop(x);
    return;
  }
  const pa = phys(x, toSti ? r : 0);
  const pb = phys(x, toSti ? 0 : r);
  denormal = false;
  snan = false;
  const emptyA = x.empty[pa] === 1;
  const emptyB = x.empty[pb] === 1;
  if (emptyA || emptyB) {
    x.fsw |= IE | SF_;
    setIndefinite();
  } else {
    unpackBoth(x.se[pa]!, x.mhi[pa]!, x.mlo[pa]!, x.se[pb]!, x.mhi[pb]!, x.mlo[pb]!);
    arith(x, op);
  }
  setST(x, toSti ? r : 0);
  if (i.imm2 === 2) pop(x);
}

/** C0/C2/C3 (or ZF/PF/CF for FCOMI) from a comparison; IE for signalling (or, for FCOM, any) NaN. */
function fcomFinish(x: X87, c: number, unordered: boolean): void {
  if (c === 2 && (snan || !unordered)) x.fsw |= IE;
  if (denormal) x.fsw |= DE;
  x.fsw &= ~(C0 | C2 | C3 | C1);
  if (c === 2) x.fsw |= C0 | C2 | C3;
  else if (c < 0) x.fsw |= C0;
  else if (c === 0) x.fsw |= C3;
}

/** FUCOM/FUCOMP/FUCOMPP (unordered compares): `i.op` pops after. */
function fucom(s: Interp, i: Insn): void {
  const x = fpu(s);
  denormal = false;
  snan = false;
  loadST(x, 0, false);
  loadST(x, i.rm & 7, true);
  fcomFinish(x, compare(), true);
  for (let k = 0; k < i.op; k++) pop(x);
}

/** FCOMI/FCOMIP/FUCOMI/FUCOMIP: EFLAGS ZF, PF, CF. `i.op`: bit 0 pop, bit 1 unordered form. */
function fcomi(s: Interp, i: Insn): void {
  const x = fpu(s);
  denormal = false;
  snan = false;
  loadST(x, 0, false);
  loadST(x, i.rm & 7, true);
  const c = compare();
  if (c === 2 && (snan || (i.op & 2) === 0)) x.fsw |= IE;
  if (denormal) x.fsw |= DE;
  x.fsw &= ~C1;
  const f = c === 2 ? ZF | PF | CF : c < 0 ? CF : c === 0 ? ZF : 0;
  setStatus(s, f);
  if ((i.op & 1) !== 0) pop(x);
}

function fld(s: Interp, i: Insn): void {
  const x = fpu(s);
  const mmu = s.mmu;
  x.fsw &= ~C1;
  if (i.mod === 3) {
    const p = phys(x, i.rm & 7);
    if (x.empty[p] === 1) {
      x.fsw |= IE | SF_;
      setIndefinite();
    } else {
      outSe = x.se[p]!;
      outHi = x.mhi[p]!;
      outLo = x.mlo[p]!;
    }
    pushOut(x);
    return;
  }
  const a = ea(s, i);
  switch (i.op) {
    case 0: fromF32(x, mmu.read32(a)); break; // D9 /0
    case 1: { // DD /0
      const lo = mmu.read64(a);
      fromF64(x, mmu.hi, lo);
      break;
    }
    case 2: { // DB /5 m80
      outLo = mmu.read32(a);
      outHi = mmu.read32(a + 4);
      outSe = mmu.read16(a + 8);
      break;
    }
    case 3: fromInt(BigInt((mmu.read16(a) << 16) >> 16)); break; // DF /0
    case 4: fromInt(BigInt(mmu.read32(a) | 0)); break; // DB /0
    default: { // DF /5 m64 int
      const lo = mmu.read64(a);
      fromInt((BigInt(mmu.hi | 0) << B32) | BigInt(lo));
    }
  }
  pushOut(x);
}

/** FST/FSTP to memory (`i.op`: 0 m32, 1 m64, 2 m80) or ST(i); `i.imm2` = pop. */
function fst(s: Interp, i: Insn): void {
  const x = fpu(s);
  x.fsw &= ~C1;
  const p0 = phys(x, 0);
  if (i.mod === 3) {
    const d = phys(x, i.rm & 7);
    if (x.empty[p0] === 1) {
      x.fsw |= IE | SF_;
      x.se[d] = 0xffff;
      x.mhi[d] = 0xc000_0000;
      x.mlo[d] = 0;
    } else {
      x.se[d] = x.se[p0]!;
      x.mhi[d] = x.mhi[p0]!;
      x.mlo[d] = x.mlo[p0]!;
    }
    x.empty[d] = 0;
    if (i.imm2 !== 0) pop(x);
    return;
  }
  const a = ea(s, i);
  const mmu = s.mmu;
  const ase = x.empty[p0] === 1 ? 0xffff : x.se[p0]!;
  const ahi = x.empty[p0] === 1 ? 0xc000_0000 : x.mhi[p0]!;
  const alo = x.empty[p0] === 1 ? 0 : x.mlo[p0]!;
  if (x.empty[p0] === 1) x.fsw |= IE | SF_;
  denormal = false;
  snan = false;
  imgAse = ase;
  imgAhi = ahi;
  imgAlo = alo;
  unpackExt(ase, ahi, alo, false);
  switch (i.op) {
    case 0: mmu.write32(a, toF32(x)); break;
    case 1: toF64(x); mmu.write64(a, f64Lo, f64Hi); break;
    default:
      if ((a & 0xfff) > 0xff6) mmu.write16(a + 8, ase); // fault on the far page first
      mmu.write64(a, alo, ahi);
      mmu.write16(a + 8, ase);
  }
  if (i.imm2 !== 0) pop(x);
}

/** FIST/FISTP/FISTTP (`i.op` size 2/4/8; `i.imm2`: bit 0 pop, bit 1 truncate). */
function fist(s: Interp, i: Insn): void {
  const x = fpu(s);
  x.fsw &= ~C1;
  denormal = false;
  snan = false;
  loadST(x, 0, false);
  const v = toInteger(x, (i.imm2 & 2) !== 0 ? 3 : rounding(x));
  const size = i.op;
  const bits = BigInt(size * 8);
  const max = (B1 << (bits - B1)) - B1;
  const min = -(B1 << (bits - B1));
  let out: bigint;
  if (v === null || v > max || v < min) {
    x.fsw |= IE;
    x.fsw &= ~C1;
    out = min;
  } else out = v;
  const a = ea(s, i);
  const u = BigInt.asUintN(size * 8, out);
  if (size === 2) s.mmu.write16(a, Number(u));
  else if (size === 4) s.mmu.write32(a, Number(u));
  else s.mmu.write64(a, Number(u & M32), Number(u >> B32));
  if ((i.imm2 & 1) !== 0) pop(x);
}

function fxch(s: Interp, i: Insn): void {
  const x = fpu(s);
  const a = phys(x, 0);
  const b = phys(x, i.rm & 7);
  x.fsw &= ~C1;
  if (x.empty[a] === 1 || x.empty[b] === 1) {
    x.fsw |= IE | SF_;
    for (const p of [a, b]) {
      if (x.empty[p] === 1) {
        x.se[p] = 0xffff;
        x.mhi[p] = 0xc000_0000;
        x.mlo[p] = 0;
        x.empty[p] = 0;
      }
    }
  }
  const se = x.se[a]!;
  const hi = x.mhi[a]!;
  const lo = x.mlo[a]!;
  x.se[a] = x.se[b]!;
  x.mhi[a] = x.mhi[b]!;
  x.mlo[a] = x.mlo[b]!;
  x.se[b] = se;
  x.mhi[b] = hi;
  x.mlo[b] = lo;
}

const CONST_MANT: Array<[number, number, number, number]> = [
  // [sign|exp, hi, lo, round-up adjust: +1 when RC = up/zero… see fldConst]
  [0x3fff, 0x8000_0000, 0, 0], // 1
  [0x4000, 0xd49a_784b, 0xcd1b_8afe, 1], // log2(10): ...afe (rounded down from the true value)
  [0x3fff, 0xb8aa_3b29, 0x5c17_f0bc, -1], // log2(e): ...0bc (rounded up)
  [0x4000, 0xc90f_daa2, 0x2168_c235, -1], // pi: ...235 (rounded up)
  [0x3ffd, 0x9a20_9a84, 0xfbcf_f799, -1], // log10(2): ...799 (rounded up)
  [0x3ffe, 0xb172_17f7, 0xd1cf_79ac, -1], // ln(2): ...9ac (rounded up)
  [0, 0, 0, 0], // +0
];

/** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (`i.op` = index in CONST_MANT). */
function fldConst(s: Interp, i: Insn): void {
  const x = fpu(s);
  x.fsw &= ~C1;
  const [se, hi, lo, dir] = CONST_MANT[i.op]!;
  outSe = se;
  outHi = hi;
  outLo = lo;
  const rc = rounding(x);
  // The stored values are round-to-nearest; the true value lies below (dir -1) or above (+1).
  if (dir === -1 && (rc === 1 || rc === 3)) outLo = (lo - 1) >>> 0;
  if (dir === 1 && rc === 2) outLo = (lo + 1) >>> 0;
  pushOut(x);
}

/** D9 E0..FF without operands. */
function fmisc(s: Interp, i: Insn): void {
  const x = fpu(s);
  const p0 = phys(x, 0);
  const op = i.op;
  if (op !== 0xf6 && op !== 0xf7 && op !== 0xd0 && x.empty[p0] === 1 && op !== 0xe5) {
    x.fsw |= IE | SF_;
    if (op === 0xe4) {
      x.fsw |= C0 | C2 | C3;
      return;
    }
    setIndefinite();
    setST(x, 0);
    return;
  }
  x.fsw &= ~C1;
  switch (op) {
    case 0xd0: return; // FNOP
    case 0xe0: x.se[p0] = x.se[p0]! ^ 0x8000; return; // FCHS
    case 0xe1: x.se[p0] = x.se[p0]! & 0x7fff; return; // FABS
    case 0xe4: { // FTST
      denormal = false;
      snan = false;
      unpackExt(x.se[p0]!, x.mhi[p0]!, x.mlo[p0]!, false);
      bK = K_ZERO;
      bS = 0;
      fcomFinish(x, compare(), false);
      return;
    }
    case 0xe5: { // FXAM
      x.fsw &= ~(C0 | C1 | C2 | C3);
      const se = x.se[p0]!;
      if ((se & 0x8000) !== 0) x.fsw |= C1;
      if (x.empty[p0] === 1) {
        x.fsw |= C3 | C0;
        return;
      }
      const e = se & 0x7fff;
      const hi = x.mhi[p0]!;
      const lo = x.mlo[p0]!;
      if (e === 0x7fff) x.fsw |= (hi & 0x7fff_ffff) === 0 && lo === 0 ? C2 | C0 : C0;
      else if (e === 0) x.fsw |= hi === 0 && lo === 0 ? C3 : C3 | C2;
      else x.fsw |= (hi & 0x8000_0000) !== 0 ? C2 : 0;
      return;
    }
    case 0xf6: x.top = (x.top - 1) & 7; return; // FDECSTP
    case 0xf7: x.top = (x.top + 1) & 7; return; // FINCSTP
    case 0xfa: { // FSQRT
      denormal = false;
      snan = false;
      imgAse = x.se[p0]!;
      imgAhi = x.mhi[p0]!;
      imgAlo = x.mlo[p0]!;
      unpackExt(imgAse, imgAhi, imgAlo, false);
      sqrtOut(x);
      setST(x, 0);
      return;
    }
    case 0xfc: { // FRNDINT
      denormal = false;
      snan = false;
      imgAse = x.se[p0]!;
      imgAhi = x.mhi[p0]!;
      imgAlo = x.mlo[p0]!;
      unpackExt(imgAse, imgAhi, imgAlo, false);
      if (aK === K_NAN) {
        nanResult(x, imgAse, imgAhi, imgAlo, imgAse, imgAhi, imgAlo);
        setST(x, 0);
        return;
      }
      if (aK !== K_FINITE) return;
      if (denormal) x.fsw |= DE;
      const v = toInteger(x, rounding(x))!;
      if (v === B0) {
        outSe = aS << 15;
        outHi = 0;
        outLo = 0;
      } else packExt(null, aS, v < B0 ? -v : v, 0, 64, 0);
      setST(x, 0);
      return;
    }
    case 0xfd: { // FSCALE: ST0 · 2^trunc(ST1)
      const p1 = phys(x, 1);
      denormal = false;
      snan = false;
      unpackBoth(x.se[p0]!, x.mhi[p0]!, x.mlo[p0]!, x.se[p1]!, x.mhi[p1]!, x.mlo[p1]!);
      if (aK === K_NAN || bK === K_NAN) {
        nanResult(x, imgAse, imgAhi, imgAlo, imgBse, imgBhi, imgBlo);
        setST(x, 0);
        return;
      }
      if (bK === K_INF) {
        if (bS === 1) {
          if (aK === K_INF) {
            x.fsw |= IE;
            setIndefinite();
          } else {
            outSe = aS << 15;
            outHi = 0;
            outLo = 0;
          }
        } else if (aK === K_ZERO) {
          x.fsw |= IE;
          setIndefinite();
        } else setInf(aS);
        setST(x, 0);
        return;
      }
      if (aK !== K_FINITE) return;
      let n = 0;
      if (bK === K_FINITE) {
        const t = bE >= 0 ? bM << BigInt(bE) : bM >> BigInt(-bE);
        n = t > 100000n ? 100000 : Number(t);
        if (bS === 1) n = -n;
      }
      if (denormal) x.fsw |= DE;
      packExt(x, aS, aM, aE + n, 64, rounding(x));
      setST(x, 0);
      return;
    }
    case 0xf8: case 0xf5: return fprem(s, op === 0xf5);
    case 0xf4: { // FXTRACT
      denormal = false;
      snan = false;
      unpackExt(x.se[p0]!, x.mhi[p0]!, x.mlo[p0]!, false);
      if (aK !== K_FINITE) return;
      const n = bitLength(aM);
      const expo = aE + n - 1;
      fromInt(BigInt(expo));
      setST(x, 0);
      packExt(null, aS, aM, -(n - 1), 64, 0);
      pushOut(x);
      return;
    }
    default: return transcendental(s, op);
  }
}

/** FPREM (truncating) / FPREM1 (round to nearest): partial remainder ST0 rem ST1. */
function fprem(s: Interp, ieee: boolean): void {
  const x = fpu(s);
  const p0 = phys(x, 0);
  const p1 = phys(x, 1);
  denormal = false;
  snan = false;
  unpackBoth(x.se[p0]!, x.mhi[p0]!, x.mlo[p0]!, x.se[p1]!, x.mhi[p1]!, x.mlo[p1]!);
  x.fsw &= ~(C0 | C1 | C2 | C3);
  if (aK === K_NAN || bK === K_NAN) {
    nanResult(x, imgAse, imgAhi, imgAlo, imgBse, imgBhi, imgBlo);
    setST(x, 0);
    return;
  }
  if (aK === K_INF || bK === K_ZERO) {
    x.fsw |= IE;
    setIndefinite();
    setST(x, 0);
    return;
  }
  if (aK === K_ZERO || bK === K_INF) return;
  if (denormal) x.fsw |= DE;
  const ea = aE + bitLength(aM) - 1;
  const eb = bE + bitLength(bM) - 1;
  const d = ea - eb;
  if (d >= 64) {
    // Partial reduction: the exponent drops by an amount N in 32..63 (Bochs: (D & 31) | 32).
    const shift = d - ((d & 31) | 32);
    const e0 = Math.min(aE, bE + shift);
    const av = aM << BigInt(aE - e0);
    const bv = bM << BigInt(bE + shift - e0);
    const q = av / bv;
    const r = av - q * bv;
    x.fsw |= C2;
    if (r === B0) {
      outSe = aS << 15;
      outHi = 0;
      outLo = 0;
    } else packExt(null, aS, r, e0, 64, 0);
    setST(x, 0);
    return;
  }
  const e0 = Math.min(aE, bE);
  const av = aM << BigInt(aE - e0);
  const bv = bM << BigInt(bE - e0);
  let q = av / bv;
  let r = av - q * bv;
  let sign = aS;
  if (ieee) {
    const twice = r << B1;
    if (twice > bv || (twice === bv && (q & B1) === B1)) {
      q += B1;
      r = bv - r;
      sign ^= 1;
    }
  }
  if (r === B0) {
    outSe = aS << 15;
    outHi = 0;
    outLo = 0;
  } else packExt(null, sign, r, e0, 64, 0);
  setST(x, 0);
  const qi = Number(q & 7n);
  if (qi & 1) x.fsw |= C1;
  if (qi & 2) x.fsw |= C3;
  if (qi & 4) x.fsw |= C0;
}

/** Transcendentals in double precision (not bit exact). */
function transcendental(s: Interp, op: number): void {
  const x = fpu(s);
  const st0 = readDouble(x, 0);
  switch (op) {
    case 0xf0: writeDouble(x, 0, Math.pow(2, st0) - 1); return; // F2XM1
    case 0xf1: { // FYL2X
      const st1 = readDouble(x, 1);
      pop(x);
      writeDouble(x, 0, st1 * Math.log2(st0));
      return;
    }
    case 0xf9: { // FYL2XP1
      const st1 = readDouble(x, 1);
      pop(x);
      writeDouble(x, 0, (st1 * Math.log1p(st0)) / Math.LN2);
      return;
    }
    case 0xf2: // FPTAN
      writeDouble(x, 0, Math.tan(st0));
      outSe = 0x3fff;
      outHi = 0x8000_0000;
      outLo = 0;
      pushOut(x);
      x.fsw &= ~C2;
      return;
    case 0xf3: { // FPATAN
      const st1 = readDouble(x, 1);
      pop(x);
      writeDouble(x, 0, Math.atan2(st1, st0));
      return;
    }
    case 0xfb: { // FSINCOS
      writeDouble(x, 0, Math.sin(st0));
      toOutDouble(x, Math.cos(st0));
      pushOut(x);
      x.fsw &= ~C2;
      return;
    }
    case 0xfe: writeDouble(x, 0, Math.sin(st0)); x.fsw &= ~C2; return;
    case 0xff: writeDouble(x, 0, Math.cos(st0)); x.fsw &= ~C2; return;
    default: return;
  }
}

const convF64 = new Float64Array(1);
const convU32 = new Uint32Array(convF64.buffer);

function readDouble(x: X87, i: number): number {
  const p = phys(x, i);
  denormal = false;
  snan = false;
  imgAse = x.se[p]!;
  imgAhi = x.mhi[p]!;
  imgAlo = x.mlo[p]!;
  unpackExt(imgAse, imgAhi, imgAlo, false);
  const save = x.fsw;
  toF64(x);
  x.fsw = save;
  convU32[0] = f64Lo;
  convU32[1] = f64Hi;
  return convF64[0]!;
}

function toOutDouble(x: X87, v: number): void {
  convF64[0] = v;
  fromF64(x, convU32[1]!, convU32[0]!);
}

function writeDouble(x: X87, i: number, v: number): void {
  toOutDouble(x, v);
  setST(x, i);
}

/** FCMOVcc ST(0), ST(i): `i.op` = condition (0 B, 1 E, 2 BE, 3 U, +4 negated). */
function fcmov(s: Interp, i: Insn): void {
  let c: boolean;
  switch (i.op & 3) {
    case 0: c = getCF(s) !== 0; break;
    case 1: c = getZF(s) !== 0; break;
    case 2: c = (getCF(s) | getZF(s)) !== 0; break;
    default: c = getPF(s) !== 0;
  }
  if ((i.op & 4) !== 0) c = !c;
  const x = fpu(s);
  x.fsw &= ~C1;
  if (!c) return;
  const src = phys(x, i.rm & 7);
  const d = phys(x, 0);
  x.se[d] = x.se[src]!;
  x.mhi[d] = x.mhi[src]!;
  x.mlo[d] = x.mlo[src]!;
  x.empty[d] = x.empty[src]!;
}

function ffree(s: Interp, i: Insn): void {
  const x = fpu(s);
  x.empty[phys(x, i.rm & 7)] = 1;
}

/** FNSTSW AX (DF E0) and FNSTSW m16 (DD /7). */
function fnstsw(s: Interp, i: Insn): void {
  const x = fpu(s);
  if (i.mod === 3) setReg16(s, 0, x.status);
  else s.mmu.write16(ea(s, i), x.status);
}

function fnstcw(s: Interp, i: Insn): void {
  s.mmu.write16(ea(s, i), fpu(s).fcw);
}

function fldcw(s: Interp, i: Insn): void {
  fpu(s).fcw = s.mmu.read16(ea(s, i)) | 0x40;
}

function fnclex(s: Interp, _i: Insn): void {
  fpu(s).fsw &= 0x7f00;
}

function fninit(s: Interp, _i: Insn): void {
  fpu(s).init();
}

/** FNSTENV (op 0) / FLDENV (op 1): the 28-byte 32-bit protected-mode environment. */
function fenv(s: Interp, i: Insn): void {
  const x = fpu(s);
  const a = ea(s, i);
  const mmu = s.mmu;
  if (i.op === 0) {
    mmu.write32(a, x.fcw | 0xffff_0000);
    mmu.write32(a + 4, (x.status | 0xffff_0000) >>> 0);
    mmu.write32(a + 8, (x.tagWord(true) | 0xffff_0000) >>> 0);
    for (let k = 12; k < 28; k += 4) mmu.write32(a + k, 0);
    x.fcw |= 0x3f; // FNSTENV masks all exceptions
    return;
  }
  x.fcw = mmu.read16(a) | 0x40;
  const sw = mmu.read16(a + 4);
  x.fsw = sw & ~0x3800;
  x.top = (sw >>> 11) & 7;
  x.setTagWord(mmu.read16(a + 8), true);
}

/** FNSAVE (op 0) / FRSTOR (op 1): environment plus the eight registers (108 bytes). */
function fsave(s: Interp, i: Insn): void {
  const x = fpu(s);
  const a = ea(s, i);
  const mmu = s.mmu;
  if (i.op === 0) {
    fenv(s, { ...i, op: 0 } as Insn);
    for (let k = 0; k < 8; k++) {
      const p = phys(x, k);
      mmu.write32(a + 28 + k * 10, x.mlo[p]!);
      mmu.write32(a + 32 + k * 10, x.mhi[p]!);
      mmu.write16(a + 36 + k * 10, x.se[p]!);
    }
    x.init();
    return;
  }
  fenv(s, { ...i, op: 1 } as Insn);
  for (let k = 0; k < 8; k++) {
    const p = phys(x, k);
    x.mlo[p] = mmu.read32(a + 28 + k * 10);
    x.mhi[p] = mmu.read32(a + 32 + k * 10);
    x.se[p] = mmu.read16(a + 36 + k * 10);
  }
}

/** FXSAVE (op 0) / FXRSTOR (op 1): x87 + MXCSR + XMM0..15 in the 512-byte 64-bit layout. */
/** The FXSAVE image an FXSAVE builds, or an FXRSTOR reads, before it goes to or comes from memory. */
const fxScratch = new DataView(new ArrayBuffer(FXSAVE_AREA_SIZE));

export function fxsave(s: Interp, i: Insn): void {
  const a = ea(s, i);
  if ((a & 15) !== 0) s.cpu.gp0();
  const mmu = s.mmu;
  const img = fxScratch;
  if (i.op === 0) {
    fxStore(s.cpu, fpu(s), img);
    for (let o = 0; o < FXSAVE_STATE_BYTES; o += 8) mmu.write64(a + o, img.getUint32(o, true), img.getUint32(o + 4, true));
    return;
  }
  for (let o = 0; o < FXSAVE_STATE_BYTES; o += 8) {
    img.setUint32(o, mmu.read64(a + o), true);
    img.setUint32(o + 4, mmu.hi, true);
  }
  if (!fxLoad(s.cpu, fpu(s), img)) s.cpu.gp0();
}

// ---- Decoding (D8..DF).

function set(i: Insn, fn: (s: Interp, i: Insn) => void, op = 0, imm2 = 0): void {
  i.fn = fn;
  i.op = op;
  i.imm2 = imm2;
}

export function selectX87(i: Insn, opc: number): void {
  i.fn = ud;
  const reg = i.reg & 7;
  if (i.mod !== 3) {
    switch (opc) {
      case 0xd8: return set(i, arithMem, reg, 0);
      case 0xdc: return set(i, arithMem, reg, 1);
      case 0xda: return set(i, arithMem, reg, 2);
      case 0xde: return set(i, arithMem, reg, 3);
      case 0xd9:
        switch (reg) {
          case 0: return set(i, fld, 0);
          case 2: return set(i, fst, 0, 0);
          case 3: return set(i, fst, 0, 1);
          case 4: return set(i, fenv, 1);
          case 5: return set(i, fldcw);
          case 6: return set(i, fenv, 0);
          case 7: return set(i, fnstcw);
          default: return;
        }
      case 0xdb:
        switch (reg) {
          case 0: return set(i, fld, 4);
          case 1: return set(i, fist, 4, 3);
          case 2: return set(i, fist, 4, 0);
          case 3: return set(i, fist, 4, 1);
          case 5: return set(i, fld, 2);
          case 7: return set(i, fst, 2, 1);
          default: return;
        }
      case 0xdd:
        switch (reg) {
          case 0: return set(i, fld, 1);
          case 1: return set(i, fist, 8, 3);
          case 2: return set(i, fst, 1, 0);
          case 3: return set(i, fst, 1, 1);
          case 4: return set(i, fsave, 1);
          case 6: return set(i, fsave, 0);
          case 7: return set(i, fnstsw);
          default: return;
        }
      default: // DF
        switch (reg) {
          case 0: return set(i, fld, 3);
          case 1: return set(i, fist, 2, 3);
          case 2: return set(i, fist, 2, 0);
          case 3: return set(i, fist, 2, 1);
          case 5: return set(i, fld, 5);
          case 7: return set(i, fist, 8, 1);
          default: return; // FBLD / FBSTP: not modelled
        }
    }
  }
  const rm = i.rm & 7;
  const modrm = 0xc0 | (reg << 3) | rm;
  switch (opc) {
    case 0xd8: return set(i, arithReg, reg, 0);
    case 0xdc:
      if (reg === 2 || reg === 3) return set(i, arithReg, reg, 0);
      return set(i, arithReg, [0, 1, 2, 3, 5, 4, 7, 6][reg]!, 1);
    case 0xde:
      if (modrm === 0xd9) return set(i, fucomCompp);
      if (reg === 2 || reg === 3) return;
      return set(i, arithReg, [0, 1, 2, 3, 5, 4, 7, 6][reg]!, 2);
    case 0xd9:
      if (reg === 0) return set(i, fld);
      if (reg === 1) return set(i, fxch);
      if (modrm === 0xd0) return set(i, fmisc, 0xd0);
      if (modrm >= 0xe8 && modrm <= 0xee) return set(i, fldConst, [0, 1, 2, 3, 4, 5, 6][modrm - 0xe8]!);
      if (modrm >= 0xe0) {
        if (modrm === 0xe2 || modrm === 0xe3 || modrm === 0xe6 || modrm === 0xe7 || modrm === 0xef) return;
        return set(i, fmisc, modrm);
      }
      return;
    case 0xda:
      if (reg < 4) return set(i, fcmov, reg);
      if (modrm === 0xe9) return set(i, fucom, 2);
      return;
    case 0xdb:
      if (reg < 4) return set(i, fcmov, reg + 4);
      if (modrm === 0xe2) return set(i, fnclex);
      if (modrm === 0xe3) return set(i, fninit);
      if (reg === 5) return set(i, fcomi, 2);
      if (reg === 6) return set(i, fcomi, 0);
      if (modrm === 0xe0 || modrm === 0xe1 || modrm === 0xe4) return set(i, fmisc, 0xd0); // FENI/FDISI/FSETPM: no-ops
      return;
    case 0xdd:
      if (reg === 0) return set(i, ffree);
      if (reg === 2) return set(i, fst, 0, 0);
      if (reg === 3) return set(i, fst, 0, 1);
      if (reg === 4) return set(i, fucom, 0);
      if (reg === 5) return set(i, fucom, 1);
      return;
    default: // DF
      if (modrm === 0xe0) return set(i, fnstsw);
      if (reg === 5) return set(i, fcomi, 3);
      if (reg === 6) return set(i, fcomi, 1);
      if (reg === 0) return set(i, ffreep);
      return;
  }
}

function fucomCompp(s: Interp, i: Insn): void {
  // FCOMPP (DE D9): ordered compare ST0 with ST1, pop twice.
  const x = fpu(s);
  denormal = false;
  snan = false;
  loadST(x, 0, false);
  loadST(x, 1, true);
  fcomFinish(x, compare(), false);
  pop(x);
  pop(x);
  void i;
}

function ffreep(s: Interp, i: Insn): void {
  ffree(s, i);
  pop(fpu(s));
}

