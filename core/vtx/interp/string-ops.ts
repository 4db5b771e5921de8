import { DF, K_SUB } from './flags.js';
import { REP_NE, SEG_FS, type Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import { TWO_32, getReg, readMem, regNum, setReg, sizeMask, writeMem } from './operands.js';

/**
 * String instructions MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE, DF, 32-bit address size
 * and a segment override on the source. Registers are worked on in locals and written back in
 * a `finally`, so a fault in the middle leaves RSI/RDI/RCX describing the elements done and RIP
 * on the instruction: re-executing it continues (SDM Vol. 1 §7.3.9.3).
 *
 * A REP instruction runs at most CHUNK iterations per execution and then re-executes itself, so
 * very long strings do not hold up the run loop's clock checks.
 */

const CHUNK = 1 << 16;

const RCX = 1;
const RSI = 6;
const RDI = 7;

// Iteration state shared with the finally blocks, in typed arrays (module-level number variables
// would be boxed on every store): source and destination pointers, count, compared values.
const P = new Float64Array(2);
const U = new Uint32Array(6);
const SI = 0;
const DI = 1;
const CL = 0;
const CH = 1;
const CA = 2;
const CAH = 3;
const CB = 4;
const CBH = 5;

function srcBase(s: Interp, i: Insn): number {
  return i.seg === 0 ? 0 : i.seg === SEG_FS ? s.cpu.fsBase : s.cpu.gsBase;
}

function loadState(s: Interp, i: Insn): void {
  if (i.a32) {
    P[SI] = s.lo[RSI]!;
    P[DI] = s.lo[RDI]!;
    U[CL] = s.lo[RCX]!;
    U[CH] = 0;
  } else {
    P[SI] = regNum(s, RSI);
    P[DI] = regNum(s, RDI);
    U[CL] = s.lo[RCX]!;
    U[CH] = s.hi[RCX]!;
  }
}

function storePointers(s: Interp, i: Insn, src: boolean, dst: boolean): void {
  if (i.a32) {
    if (src) {
      s.lo[RSI] = P[SI]! >>> 0;
      s.hi[RSI] = 0;
    }
    if (dst) {
      s.lo[RDI] = P[DI]! >>> 0;
      s.hi[RDI] = 0;
    }
    return;
  }
  if (src) {
    s.lo[RSI] = P[SI]! >>> 0;
    s.hi[RSI] = Math.floor(P[SI]! / TWO_32) >>> 0;
  }
  if (dst) {
    s.lo[RDI] = P[DI]! >>> 0;
    s.hi[RDI] = Math.floor(P[DI]! / TWO_32) >>> 0;
  }
}

function storeCount(s: Interp, i: Insn): void {
  s.lo[RCX] = U[CL]!;
  if (i.a32) s.hi[RCX] = 0;
  else s.hi[RCX] = U[CH]!;
}

/** Decrements the count; true when it reached zero. */
function decCount(): boolean {
  if (U[CL]! === 0) {
    U[CH] = (U[CH]! - 1) >>> 0;
    U[CL] = 0xffff_ffff;
    return false;
  }
  U[CL] = U[CL]! - 1;
  return U[CL]! === 0 && U[CH]! === 0;
}

function wrap(i: Insn, v: number): number {
  return i.a32 ? v >>> 0 : v;
}

export function movs(s: Interp, i: Insn): void {
  const size = i.size;
  const step = (s.cpu.rflags & DF) !== 0 ? -size : size;
  const base = srcBase(s, i);
  loadState(s, i);
  if (i.rep === 0) {
    const v = readMem(s, base + P[SI]!, size);
    writeMem(s, P[DI]!, size, v, s.th);
    P[SI] = wrap(i, P[SI]! + step);
    P[DI] = wrap(i, P[DI]! + step);
    storePointers(s, i, true, true);
    return;
  }
  if ((U[CL]! | U[CH]!) === 0) return;
  let done = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const v = readMem(s, base + P[SI]!, size);
      writeMem(s, P[DI]!, size, v, s.th);
      P[SI] = wrap(i, P[SI]! + step);
      P[DI] = wrap(i, P[DI]! + step);
      if (decCount()) {
        done = true;
        break;
      }
    }
  } finally {
    storePointers(s, i, true, true);
    storeCount(s, i);
  }
  if (!done) s.cpu.branched = true;
}

export function stos(s: Interp, i: Insn): void {
  const size = i.size;
  const step = (s.cpu.rflags & DF) !== 0 ? -size : size;
  const v = getReg(s, 0, size);
  const vh = s.th;
  loadState(s, i);
  if (i.rep === 0) {
    writeMem(s, P[DI]!, size, v, vh);
    P[DI] = wrap(i, P[DI]! + step);
    storePointers(s, i, false, true);
    return;
  }
  if ((U[CL]! | U[CH]!) === 0) return;
  let done = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      writeMem(s, P[DI]!, size, v, vh);
      P[DI] = wrap(i, P[DI]! + step);
      if (decCount()) {
        done = true;
        break;
      }
    }
  } finally {
    storePointers(s, i, false, true);
    storeCount(s, i);
  }
  if (!done) s.cpu.branched = true;
}

export function lods(s: Interp, i: Insn): void {
  const size = i.size;
  const step = (s.cpu.rflags & DF) !== 0 ? -size : size;
  const base = srcBase(s, i);
  loadState(s, i);
  if (i.rep === 0) {
    const v = readMem(s, base + P[SI]!, size);
    setReg(s, 0, size, v, s.th);
    P[SI] = wrap(i, P[SI]! + step);
    storePointers(s, i, true, false);
    return;
  }
  if ((U[CL]! | U[CH]!) === 0) return;
  let done = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const v = readMem(s, base + P[SI]!, size);
      setReg(s, 0, size, v, s.th);
      P[SI] = wrap(i, P[SI]! + step);
      if (decCount()) {
        done = true;
        break;
      }
    }
  } finally {
    storePointers(s, i, true, false);
    storeCount(s, i);
  }
  if (!done) s.cpu.branched = true;
}

// ---- CMPS / SCAS: flags as CMP of the last pair compared.

let compared = false;

function recordCompare(s: Interp, size: number): void {
  let rl: number;
  let rh = 0;
  if (size === 8) {
    const t = U[CA]! - U[CB]!;
    rl = t >>> 0;
    rh = (U[CAH]! - U[CBH]! - (t < 0 ? 1 : 0)) >>> 0;
  } else {
    rl = ((U[CA]! - U[CB]!) & sizeMask(size)) >>> 0;
  }
  s.fop = (K_SUB << 2) | (size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3);
  s.fa = U[CA]!;
  s.fah = U[CAH]!;
  s.fb = U[CB]!;
  s.fbh = U[CBH]!;
  s.fr = rl;
  s.frh = rh;
  s.fcf = 0;
}

function equal(): boolean {
  return U[CA]! === U[CB]! && U[CAH]! === U[CBH]!;
}

export function cmps(s: Interp, i: Insn): void {
  const size = i.size;
  const step = (s.cpu.rflags & DF) !== 0 ? -size : size;
  const base = srcBase(s, i);
  loadState(s, i);
  if (i.rep === 0) {
    U[CA] = readMem(s, base + P[SI]!, size);
    U[CAH] = s.th;
    U[CB] = readMem(s, P[DI]!, size);
    U[CBH] = s.th;
    if (size !== 8) U[CAH] = U[CBH] = 0;
    P[SI] = wrap(i, P[SI]! + step);
    P[DI] = wrap(i, P[DI]! + step);
    storePointers(s, i, true, true);
    recordCompare(s, size);
    return;
  }
  if ((U[CL]! | U[CH]!) === 0) return;
  const untilEqual = i.rep === REP_NE;
  let done = false;
  compared = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const a = readMem(s, base + P[SI]!, size);
      const ah = s.th;
      const b = readMem(s, P[DI]!, size);
      U[CA] = a;
      U[CB] = b;
      U[CAH] = size === 8 ? ah : 0;
      U[CBH] = size === 8 ? s.th : 0;
      compared = true;
      P[SI] = wrap(i, P[SI]! + step);
      P[DI] = wrap(i, P[DI]! + step);
      const zero = decCount();
      if (zero || equal() === untilEqual) {
        done = true;
        break;
      }
    }
  } finally {
    storePointers(s, i, true, true);
    storeCount(s, i);
    if (compared) recordCompare(s, size);
  }
  if (!done) s.cpu.branched = true;
}

export function scas(s: Interp, i: Insn): void {
  const size = i.size;
  const step = (s.cpu.rflags & DF) !== 0 ? -size : size;
  const acc = getReg(s, 0, size);
  const acch = size === 8 ? s.th : 0;
  loadState(s, i);
  if (i.rep === 0) {
    U[CB] = readMem(s, P[DI]!, size);
    U[CBH] = size === 8 ? s.th : 0;
    U[CA] = acc;
    U[CAH] = acch;
    P[DI] = wrap(i, P[DI]! + step);
    storePointers(s, i, false, true);
    recordCompare(s, size);
    return;
  }
  if ((U[CL]! | U[CH]!) === 0) return;
  const untilEqual = i.rep === REP_NE;
  let done = false;
  compared = false;
  U[CA] = acc;
  U[CAH] = acch;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const b = readMem(s, P[DI]!, size);
      U[CB] = b;
      U[CBH] = size === 8 ? s.th : 0;
      compared = true;
      P[DI] = wrap(i, P[DI]! + step);
      const zero = decCount();
      if (zero || equal() === untilEqual) {
        done = true;
        break;
      }
    }
  } finally {
    storePointers(s, i, false, true);
    storeCount(s, i);
    if (compared) recordCompare(s, size);
  }
  if (!done) s.cpu.branched = true;
}
