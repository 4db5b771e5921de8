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

// Iteration state shared with the finally blocks (module locals: no allocation).
let si = 0;
let di = 0;
let cl = 0;
let ch = 0;

function srcBase(s: Interp, i: Insn): number {
  return i.seg === 0 ? 0 : i.seg === SEG_FS ? s.cpu.fsBase : s.cpu.gsBase;
}

function loadState(s: Interp, i: Insn): void {
  if (i.a32) {
    si = s.lo[RSI]!;
    di = s.lo[RDI]!;
    cl = s.lo[RCX]!;
    ch = 0;
  } else {
    si = regNum(s, RSI);
    di = regNum(s, RDI);
    cl = s.lo[RCX]!;
    ch = s.hi[RCX]!;
  }
}

function storePointers(s: Interp, i: Insn, src: boolean, dst: boolean): void {
  if (i.a32) {
    if (src) {
      s.lo[RSI] = si >>> 0;
      s.hi[RSI] = 0;
    }
    if (dst) {
      s.lo[RDI] = di >>> 0;
      s.hi[RDI] = 0;
    }
    return;
  }
  if (src) {
    s.lo[RSI] = si >>> 0;
    s.hi[RSI] = Math.floor(si / TWO_32) >>> 0;
  }
  if (dst) {
    s.lo[RDI] = di >>> 0;
    s.hi[RDI] = Math.floor(di / TWO_32) >>> 0;
  }
}

function storeCount(s: Interp, i: Insn): void {
  s.lo[RCX] = cl;
  if (i.a32) s.hi[RCX] = 0;
  else s.hi[RCX] = ch;
}

/** Decrements the count; true when it reached zero. */
function decCount(): boolean {
  if (cl === 0) {
    ch = (ch - 1) >>> 0;
    cl = 0xffff_ffff;
    return false;
  }
  cl = cl - 1;
  return cl === 0 && ch === 0;
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
    const v = readMem(s, base + si, size);
    writeMem(s, di, size, v, s.th);
    si = wrap(i, si + step);
    di = wrap(i, di + step);
    storePointers(s, i, true, true);
    return;
  }
  if ((cl | ch) === 0) return;
  let done = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const v = readMem(s, base + si, size);
      writeMem(s, di, size, v, s.th);
      si = wrap(i, si + step);
      di = wrap(i, di + step);
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
    writeMem(s, di, size, v, vh);
    di = wrap(i, di + step);
    storePointers(s, i, false, true);
    return;
  }
  if ((cl | ch) === 0) return;
  let done = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      writeMem(s, di, size, v, vh);
      di = wrap(i, di + step);
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
    const v = readMem(s, base + si, size);
    setReg(s, 0, size, v, s.th);
    si = wrap(i, si + step);
    storePointers(s, i, true, false);
    return;
  }
  if ((cl | ch) === 0) return;
  let done = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const v = readMem(s, base + si, size);
      setReg(s, 0, size, v, s.th);
      si = wrap(i, si + step);
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

let ca = 0;
let cah = 0;
let cb = 0;
let cbh = 0;
let compared = false;

function recordCompare(s: Interp, size: number): void {
  let rl: number;
  let rh = 0;
  if (size === 8) {
    const t = ca - cb;
    rl = t >>> 0;
    rh = (cah - cbh - (t < 0 ? 1 : 0)) >>> 0;
  } else {
    rl = ((ca - cb) & sizeMask(size)) >>> 0;
  }
  s.fop = (K_SUB << 2) | (size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3);
  s.fa = ca;
  s.fah = cah;
  s.fb = cb;
  s.fbh = cbh;
  s.fr = rl;
  s.frh = rh;
  s.fcf = 0;
}

function equal(): boolean {
  return ca === cb && cah === cbh;
}

export function cmps(s: Interp, i: Insn): void {
  const size = i.size;
  const step = (s.cpu.rflags & DF) !== 0 ? -size : size;
  const base = srcBase(s, i);
  loadState(s, i);
  if (i.rep === 0) {
    ca = readMem(s, base + si, size);
    cah = s.th;
    cb = readMem(s, di, size);
    cbh = s.th;
    if (size !== 8) cah = cbh = 0;
    si = wrap(i, si + step);
    di = wrap(i, di + step);
    storePointers(s, i, true, true);
    recordCompare(s, size);
    return;
  }
  if ((cl | ch) === 0) return;
  const untilEqual = i.rep === REP_NE;
  let done = false;
  compared = false;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const a = readMem(s, base + si, size);
      const ah = s.th;
      const b = readMem(s, di, size);
      ca = a;
      cb = b;
      cah = size === 8 ? ah : 0;
      cbh = size === 8 ? s.th : 0;
      compared = true;
      si = wrap(i, si + step);
      di = wrap(i, di + step);
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
    cb = readMem(s, di, size);
    cbh = size === 8 ? s.th : 0;
    ca = acc;
    cah = acch;
    di = wrap(i, di + step);
    storePointers(s, i, false, true);
    recordCompare(s, size);
    return;
  }
  if ((cl | ch) === 0) return;
  const untilEqual = i.rep === REP_NE;
  let done = false;
  compared = false;
  ca = acc;
  cah = acch;
  try {
    for (let n = 0; n < CHUNK; n++) {
      const b = readMem(s, di, size);
      cb = b;
      cbh = size === 8 ? s.th : 0;
      compared = true;
      di = wrap(i, di + step);
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
