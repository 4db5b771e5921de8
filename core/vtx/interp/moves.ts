import { OP_ADD, OP_CMP, aluCompute, aluCompute64 } from './alu.js';
import { K_ADD, K_SUB, ZF, cond, materialize, setSomeFlags } from './flags.js';
import { BASE_RIP, Insn } from './insn.js';
import type { Interp } from './interp-state.js';
import {
  TWO_32, ea, getReg, getReg8, readMem, setReg, setReg16, setReg8, sext32, sizeMask, writeMem,
} from './operands.js';

/**
 * Data movement: MOV in all its forms, MOVZX/MOVSX/MOVSXD, LEA, XCHG, CMOVcc, SETcc, the
 * accumulator sign extensions (CBW … CQO), BSWAP, MOVBE, and the atomic exchanges XADD, CMPXCHG,
 * CMPXCHG8B/16B (atomic by construction: one JS thread).
 */

// ---- MOV register ← register (8B /r mod 3, and 89 mod 3 with the fields swapped at decode).

export function movRR64(s: Interp, i: Insn): void {
  s.lo[i.reg] = s.lo[i.rm]!;
  s.hi[i.reg] = s.hi[i.rm]!;
}

export function movRR32(s: Interp, i: Insn): void {
  s.lo[i.reg] = s.lo[i.rm]!;
  s.hi[i.reg] = 0;
}

export function movRRN(s: Interp, i: Insn): void {
  const v = getReg(s, i.rm, i.size);
  if (i.size === 1) setReg8(s, i.reg, v);
  else setReg16(s, i.reg, v);
}

// ---- MOV register ← memory.

export function movLoad64(s: Interp, i: Insn): void {
  const mmu = s.mmu;
  const v = mmu.read64(ea(s, i));
  s.lo[i.reg] = v;
  s.hi[i.reg] = mmu.hi;
}

export function movLoad32(s: Interp, i: Insn): void {
  s.lo[i.reg] = s.mmu.read32(ea(s, i));
  s.hi[i.reg] = 0;
}

export function movLoadN(s: Interp, i: Insn): void {
  const v = readMem(s, ea(s, i), i.size);
  if (i.size === 1) setReg8(s, i.reg, v);
  else setReg16(s, i.reg, v);
}

// ---- MOV memory ← register.

export function movStore64(s: Interp, i: Insn): void {
  s.mmu.write64(ea(s, i), s.lo[i.reg]!, s.hi[i.reg]!);
}

export function movStore32(s: Interp, i: Insn): void {
  s.mmu.write32(ea(s, i), s.lo[i.reg]!);
}

export function movStoreN(s: Interp, i: Insn): void {
  writeMem(s, ea(s, i), i.size, getReg(s, i.reg, i.size), 0);
}

// ---- MOV with an immediate (B0..BF, C6/C7).

export function movRI(s: Interp, i: Insn): void {
  setReg(s, i.rm, i.size, i.imm, i.immHi);
}

export function movRI32(s: Interp, i: Insn): void {
  s.lo[i.rm] = i.imm;
  s.hi[i.rm] = 0;
}

export function movRI64(s: Interp, i: Insn): void {
  s.lo[i.rm] = i.imm;
  s.hi[i.rm] = i.immHi;
}

export function movMI(s: Interp, i: Insn): void {
  writeMem(s, ea(s, i), i.size, i.imm, i.immHi);
}

// ---- MOVZX / MOVSX / MOVSXD. `i.op` is the source size in bytes.

export function movzx_r(s: Interp, i: Insn): void {
  const v = getReg(s, i.rm, i.op);
  setReg(s, i.reg, i.size, v, 0);
}

export function movzx_m(s: Interp, i: Insn): void {
  const v = readMem(s, ea(s, i), i.op);
  setReg(s, i.reg, i.size, v, 0);
}

function setSext(s: Interp, r: number, size: number, v: number): void {
  // v is int32
  if (size === 8) {
    s.lo[r] = v >>> 0;
    s.hi[r] = v < 0 ? 0xffff_ffff : 0;
  } else {
    setReg(s, r, size, v >>> 0, 0);
  }
}

export function movsx_r(s: Interp, i: Insn): void {
  setSext(s, i.reg, i.size, sext32(getReg(s, i.rm, i.op), i.op));
}

export function movsx_m(s: Interp, i: Insn): void {
  setSext(s, i.reg, i.size, sext32(readMem(s, ea(s, i), i.op), i.op));
}

// ---- LEA (no segment base; exact modulo 2^64).

export function lea(s: Interp, i: Insn): void {
  const lo = s.lo;
  const hi = s.hi;
  const disp = i.disp;
  let l = disp >>> 0;
  let h = disp < 0 ? -1 : 0;
  const b = i.base;
  if (b >= 0) {
    if (b === BASE_RIP) {
      const next = s.cpu.rip + i.len;
      l += next >>> 0;
      h += Math.floor(next / TWO_32);
    } else {
      l += lo[b]!;
      h += hi[b]!;
    }
  }
  const x = i.index;
  if (x >= 0) {
    l += lo[x]! * i.scale;
    h += hi[x]! * i.scale;
  }
  const d = i.reg;
  switch (i.size) {
    case 8: {
      const c = Math.floor(l / TWO_32);
      lo[d] = l >>> 0;
      hi[d] = (h + c) >>> 0;
      break;
    }
    case 4:
      lo[d] = l >>> 0;
      hi[d] = 0;
      break;
    default:
      setReg16(s, d, l);
  }
}

// ---- XCHG.

export function xchg_r(s: Interp, i: Insn): void {
  const size = i.size;
  const a = getReg(s, i.reg, size);
  const ah = s.th;
  const b = getReg(s, i.rm, size);
  const bh = s.th;
  setReg(s, i.reg, size, b, bh);
  setReg(s, i.rm, size, a, ah);
}

export function xchg_m(s: Interp, i: Insn): void {
  const size = i.size;
  const addr = ea(s, i);
  const m = readMem(s, addr, size);
  const mh = s.th;
  const r = getReg(s, i.reg, size);
  writeMem(s, addr, size, r, s.th);
  setReg(s, i.reg, size, m, mh);
}

// ---- CMOVcc (the destination is written — zero-extended — even when the condition is false).

export function cmov_r(s: Interp, i: Insn): void {
  const size = i.size;
  const take = cond(s, i.op);
  const d = i.reg;
  if (size === 8) {
    if (take) {
      s.lo[d] = s.lo[i.rm]!;
      s.hi[d] = s.hi[i.rm]!;
    }
  } else if (size === 4) {
    if (take) s.lo[d] = s.lo[i.rm]!;
    s.hi[d] = 0;
  } else if (take) {
    setReg16(s, d, s.lo[i.rm]!);
  }
}

export function cmov_m(s: Interp, i: Insn): void {
  const size = i.size;
  const v = readMem(s, ea(s, i), size);
  const vh = s.th;
  const d = i.reg;
  const take = cond(s, i.op);
  if (size === 8) {
    if (take) {
      s.lo[d] = v;
      s.hi[d] = vh;
    }
  } else if (size === 4) {
    if (take) s.lo[d] = v;
    s.hi[d] = 0;
  } else if (take) {
    setReg16(s, d, v);
  }
}

// ---- SETcc.

export function setcc_r(s: Interp, i: Insn): void {
  setReg8(s, i.rm, cond(s, i.op) ? 1 : 0);
}

export function setcc_m(s: Interp, i: Insn): void {
  s.mmu.write8(ea(s, i), cond(s, i.op) ? 1 : 0);
}

// ---- CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99).

export function cbw(s: Interp, i: Insn): void {
  const lo = s.lo;
  switch (i.size) {
    case 2: setReg16(s, 0, (lo[0]! << 24) >> 24); break;
    case 4: lo[0] = ((lo[0]! << 16) >> 16) >>> 0; s.hi[0] = 0; break;
    default: s.hi[0] = (lo[0]! | 0) < 0 ? 0xffff_ffff : 0;
  }
}

export function cwd(s: Interp, i: Insn): void {
  const lo = s.lo;
  switch (i.size) {
    case 2: setReg16(s, 2, (lo[0]! & 0x8000) !== 0 ? 0xffff : 0); break;
    case 4: lo[2] = (lo[0]! | 0) < 0 ? 0xffff_ffff : 0; s.hi[2] = 0; break;
    default: {
      const v = (s.hi[0]! | 0) < 0 ? 0xffff_ffff : 0;
      lo[2] = v;
      s.hi[2] = v;
    }
  }
}

// ---- BSWAP / MOVBE.

export function bswap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24)) >>> 0;
}

export function bswap(s: Interp, i: Insn): void {
  const r = i.rm;
  const lo = s.lo;
  const hi = s.hi;
  if (i.size === 8) {
    const l = lo[r]!;
    lo[r] = bswap32(hi[r]!);
    hi[r] = bswap32(l);
  } else if (i.size === 4) {
    lo[r] = bswap32(lo[r]!);
    hi[r] = 0;
  } else {
    setReg16(s, r, 0); // BSWAP r16 is undefined; hardware clears the word
  }
}

/** MOVBE r, m (0F 38 F0). */
export function movbeLoad(s: Interp, i: Insn): void {
  const size = i.size;
  const v = readMem(s, ea(s, i), size);
  if (size === 8) {
    const h = s.th;
    s.lo[i.reg] = bswap32(h);
    s.hi[i.reg] = bswap32(v);
  } else if (size === 4) {
    s.lo[i.reg] = bswap32(v);
    s.hi[i.reg] = 0;
  } else {
    setReg16(s, i.reg, ((v >>> 8) | (v << 8)) & 0xffff);
  }
}

/** MOVBE m, r (0F 38 F1). */
export function movbeStore(s: Interp, i: Insn): void {
  const size = i.size;
  const addr = ea(s, i);
  const r = i.reg;
  if (size === 8) s.mmu.write64(addr, bswap32(s.hi[r]!), bswap32(s.lo[r]!));
  else if (size === 4) s.mmu.write32(addr, bswap32(s.lo[r]!));
  else {
    const v = s.lo[r]! & 0xffff;
    s.mmu.write16(addr, ((v >>> 8) | (v << 8)) & 0xffff);
  }
}

// ---- XADD / CMPXCHG.

function sizeCode(size: number): number {
  return size === 1 ? 0 : size === 2 ? 1 : size === 4 ? 2 : 3;
}

function recordFlags(s: Interp, kind: number, size: number, a: number, ah: number, b: number, bh: number, r: number, rh: number): void {
  s.fop = (kind << 2) | sizeCode(size);
  s.fa = a;
  s.fah = ah;
  s.fb = b;
  s.fbh = bh;
  s.fr = r;
  s.frh = rh;
  s.fcf = 0;
}

export function xadd(s: Interp, i: Insn): void {
  const size = i.size;
  const mem = i.mod !== 3;
  const addr = mem ? ea(s, i) : 0;
  const a = mem ? readMem(s, addr, size) : getReg(s, i.rm, size);
  const ah = size === 8 ? s.th : 0;
  const b = getReg(s, i.reg, size);
  const bh = size === 8 ? s.th : 0;
  let r: number;
  let rh = 0;
  if (size === 8) {
    r = aluCompute64(s, OP_ADD, a, ah, b, bh, 0);
    rh = s.th;
  } else {
    r = aluCompute(OP_ADD, a, b, 0, sizeMask(size));
  }
  if (mem) {
    writeMem(s, addr, size, r, rh);
    setReg(s, i.reg, size, a, ah);
  } else {
    setReg(s, i.reg, size, a, ah);
    setReg(s, i.rm, size, r, rh);
  }
  recordFlags(s, K_ADD, size, a, ah, b, bh, r, rh);
}

export function cmpxchg(s: Interp, i: Insn): void {
  const size = i.size;
  const mem = i.mod !== 3;
  const addr = mem ? ea(s, i) : 0;
  const d = mem ? readMem(s, addr, size) : getReg(s, i.rm, size);
  const dh = size === 8 ? s.th : 0;
  const acc = getReg(s, 0, size);
  const acch = size === 8 ? s.th : 0;
  let r: number;
  let rh = 0;
  if (size === 8) {
    r = aluCompute64(s, OP_CMP, acc, acch, d, dh, 0);
    rh = s.th;
  } else {
    r = aluCompute(OP_CMP, acc, d, 0, sizeMask(size));
  }
  const equal = acc === d && acch === dh;
  if (equal) {
    const src = getReg(s, i.reg, size);
    if (mem) writeMem(s, addr, size, src, s.th);
    else setReg(s, i.rm, size, src, s.th);
  } else {
    if (mem) writeMem(s, addr, size, d, dh); // the processor always writes the destination
    setReg(s, 0, size, d, dh);
  }
  recordFlags(s, K_SUB, size, acc, acch, d, dh, r, rh);
}

/** CMPXCHG8B m64 / CMPXCHG16B m128 (0F C7 /1). */
export function cmpxchg8b16b(s: Interp, i: Insn): void {
  const addr = ea(s, i);
  const lo = s.lo;
  const hi = s.hi;
  const mmu = s.mmu;
  if (i.size === 8) {
    if (addr % 16 !== 0) s.cpu.gp0();
    const m0 = mmu.read64(addr);
    const m1 = mmu.hi;
    const m2 = mmu.read64(addr + 8);
    const m3 = mmu.hi;
    if (m0 === lo[0] && m1 === hi[0] && m2 === lo[2] && m3 === hi[2]) {
      mmu.write64(addr, lo[3]!, hi[3]!);
      mmu.write64(addr + 8, lo[1]!, hi[1]!);
      setSomeFlags(s, ZF, ZF);
    } else {
      mmu.write64(addr, m0, m1);
      mmu.write64(addr + 8, m2, m3);
      lo[0] = m0;
      hi[0] = m1;
      lo[2] = m2;
      hi[2] = m3;
      setSomeFlags(s, ZF, 0);
    }
    return;
  }
  const m0 = mmu.read64(addr);
  const m1 = mmu.hi;
  if (m0 === lo[0] && m1 === lo[2]) {
    mmu.write64(addr, lo[3]!, lo[1]!);
    setSomeFlags(s, ZF, ZF);
  } else {
    mmu.write64(addr, m0, m1);
    lo[0] = m0;
    hi[0] = 0;
    lo[2] = m1;
    hi[2] = 0;
    setSomeFlags(s, ZF, 0);
  }
}

// ---- Misc.

/** XLAT: AL = [rBX + AL]. */
export function xlat(s: Interp, i: Insn): void {
  const al = s.lo[0]! & 0xff;
  const base = i.a32 ? s.lo[3]! : (s.hi[3]! | 0) * TWO_32 + s.lo[3]!;
  let a = base + al;
  if (i.a32) a = a >>> 0;
  if (i.seg !== 0) a += i.seg === 1 ? s.cpu.fsBase : s.cpu.gsBase;
  setReg8(s, 0, s.mmu.read8(a));
}

/** LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
export function lahf(s: Interp, _i: Insn): void {
  materialize(s);
  setReg8(s, 16, (s.cpu.rflags & 0xd5) | 2);
}

/** SAHF: loads SF, ZF, AF, PF, CF from AH. */
export function sahf(s: Interp, _i: Insn): void {
  setSomeFlags(s, 0xd5, getReg8(s, 16));
}

