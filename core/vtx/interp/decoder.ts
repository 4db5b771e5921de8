import { Vector } from '../arch.js';
import type { Cpu } from '../cpu.js';
import * as alu from './alu.js';
import { OP_CMP, OP_TEST } from './alu.js';
import * as bits from './bit-ops.js';
import * as ctl from './control.js';
import { BASE_RIP, Handler, Insn, NO_REG, REP_E, REP_NE, REP_NONE, SEG_FS, SEG_GS, SEG_NONE } from './insn.js';
import * as mov from './moves.js';
import * as md from './mul-div.js';
import * as sh from './shifts.js';
import { selectSse } from './sse.js';
import * as str from './string-ops.js';
import * as sys from './system.js';
import { selectX87 } from './x87.js';

/**
 * The x86-64 decoder: prefixes (legacy, REX), the one-, two- and three-byte opcode maps, ModRM,
 * SIB, displacements (RIP-relative included) and immediates, into an `Insn` whose handler is
 * chosen here once — by opcode, operand size and register-versus-memory form — so executing it
 * needs no further decoding (v86's instr32_XX_reg / _mem split).
 *
 * Bytes are fetched through the MMU (`fetchAddress`), so an instruction that crosses into an
 * unmapped or non-executable page faults with the fetch's #PF. More than 15 bytes is #GP(0).
 * Undefined or unsupported encodings decode to a handler that raises #UD when executed.
 */

// ---- Opcode property tables.

/** Immediate kinds. */
const I_NONE = 0;
const I_B = 1; // imm8
const I_W = 2; // imm16
const I_Z = 3; // imm16/32 by operand size
const I_V = 4; // imm16/32/64 (MOV r, imm)
const I_MOFFS = 5; // address-size offset
const I_WB = 6; // ENTER imm16, imm8
const I_GRP3 = 7; // F6/F7: imm only for /0 /1
const I_REL8 = 8;
const I_REL32 = 9;

const MODRM0 = new Uint8Array(256);
const IMM0 = new Uint8Array(256);
const MODRM1 = new Uint8Array(256);
const IMM1 = new Uint8Array(256);

function set(table: Uint8Array, value: number, ...ops: number[]): void {
  for (const o of ops) table[o] = value;
}
function range(a: number, b: number): number[] {
  const r: number[] = [];
  for (let i = a; i <= b; i++) r.push(i);
  return r;
}

for (let row = 0; row < 0x40; row += 8) {
  set(MODRM0, 1, row, row + 1, row + 2, row + 3);
  IMM0[row + 4] = I_B;
  IMM0[row + 5] = I_Z;
}
set(MODRM0, 1, 0x62, 0x63, 0x69, 0x6b, ...range(0x80, 0x8f), 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, ...range(0xd0, 0xd3),
  ...range(0xd8, 0xdf), 0xf6, 0xf7, 0xfe, 0xff);
set(IMM0, I_Z, 0x68, 0x69, 0x81, 0xa9, 0xc7);
set(IMM0, I_B, 0x6a, 0x6b, 0x80, 0x82, 0x83, 0xa8, ...range(0xb0, 0xb7), 0xc0, 0xc1, 0xc6, 0xcd, 0xd4, 0xd5,
  0xe4, 0xe5, 0xe6, 0xe7);
set(IMM0, I_REL8, ...range(0x70, 0x7f), 0xe0, 0xe1, 0xe2, 0xe3, 0xeb);
set(IMM0, I_REL32, 0xe8, 0xe9);
set(IMM0, I_V, ...range(0xb8, 0xbf));
set(IMM0, I_MOFFS, 0xa0, 0xa1, 0xa2, 0xa3);
set(IMM0, I_W, 0xc2, 0xca);
IMM0[0xc8] = I_WB;
set(IMM0, I_GRP3, 0xf6, 0xf7);

MODRM1.fill(1);
set(MODRM1, 0, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0e, ...range(0x30, 0x37), 0x39, 0x3b, 0x3c,
  0x3d, 0x3e, 0x3f, 0x77, ...range(0x80, 0x8f), 0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa, ...range(0xc8, 0xcf));
set(IMM1, I_B, 0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6, 0x0f);
set(IMM1, I_REL32, ...range(0x80, 0x8f));

/** One-byte opcodes LOCK may prefix (with a memory destination), and two-byte ones. */
const LOCKABLE0 = new Uint8Array(256);
const LOCKABLE1 = new Uint8Array(256);
for (let row = 0; row < 0x38; row += 8) set(LOCKABLE0, 1, row, row + 1);
set(LOCKABLE0, 1, 0x80, 0x81, 0x83, 0x86, 0x87, 0xf6, 0xf7, 0xfe, 0xff);
set(LOCKABLE1, 1, 0xab, 0xb0, 0xb1, 0xb3, 0xba, 0xbb, 0xc0, 0xc1, 0xc7);

// ---- Fetch state (module locals: decoding allocates only the Insn it returns).

let dCpu: Cpu;
let dRip = 0;
let dPa = 0;
let dRoom = 0; // bytes left in the first page
let dU8: Uint8Array;

function byteAt(k: number): number {
  if (k >= 15) dCpu.raiseFault(Vector.GeneralProtection, 0, true);
  if (k < dRoom) return dU8[dPa + k]!;
  return dU8[dCpu.mmu.fetchAddress(dRip + k)]!;
}

/** Reports whether the instruction decoded last crossed into the next page. */
export let crossedPage = false;

function ud(i: Insn): void {
  i.fn = sys.ud;
}

/** Byte-register number: without REX, 4..7 are AH, CH, DH, BH (16..19). */
function r8(i: Insn, r: number): number {
  return !i.rex && r >= 4 && r < 8 ? r + 12 : r;
}

function byName(size: number, h8: Handler, h4: Handler, hn: Handler): Handler {
  return size === 8 ? h8 : size === 4 ? h4 : hn;
}

/** Sign-extends the raw immediate `v` of `bytes` bytes to the operand size. */
function immSigned(i: Insn, v: number, bytes: number, size: number): void {
  const sv = bytes === 1 ? (v << 24) >> 24 : bytes === 2 ? (v << 16) >> 16 : v | 0;
  switch (size) {
    case 1: i.imm = sv & 0xff; i.immHi = 0; break;
    case 2: i.imm = sv & 0xffff; i.immHi = 0; break;
    case 4: i.imm = sv >>> 0; i.immHi = 0; break;
    default: i.imm = sv >>> 0; i.immHi = sv < 0 ? 0xffff_ffff : 0;
  }
}

/**
 * Decodes the instruction at `rip` (host-physical `pa`) into `i`.
 */
export function decode(cpu: Cpu, rip: number, pa: number, i: Insn): void {
  dCpu = cpu;
  dRip = rip;
  dPa = pa;
  dRoom = 4096 - (pa & 0xfff);
  dU8 = cpu.mem.u8;
  crossedPage = false;

  // A native-code stub (0F FF 05 id, within one page): UD0 unless the CPU runs it as a native.
  if (dRoom >= 7 && dU8[pa] === 0x0f && dU8[pa + 1] === 0xff && dU8[pa + 2] === 0x05) {
    i.len = 7;
    i.native = true;
    i.opcode = 0x0fff;
    i.mod = 0;
    i.fn = sys.ud;
    return;
  }

  let k = 0;
  let osize = false;
  let a32 = false;
  let rep = REP_NONE;
  let lastRep = 0; // 0xf2 / 0xf3 — the last one is the mandatory prefix
  let lock = false;
  let seg = SEG_NONE;
  let rex = 0;
  let b: number;
  for (;;) {
    b = byteAt(k);
    if (b >= 0x40 && b <= 0x4f) {
      rex = b;
      k++;
      continue;
    }
    let legacy = true;
    switch (b) {
      case 0x66: osize = true; break;
      case 0x67: a32 = true; break;
      case 0xf2: rep = REP_NE; lastRep = 0xf2; break;
      case 0xf3: rep = REP_E; lastRep = 0xf3; break;
      case 0xf0: lock = true; break;
      case 0x2e: case 0x36: case 0x3e: case 0x26: break;
      case 0x64: seg = SEG_FS; break;
      case 0x65: seg = SEG_GS; break;
      default: legacy = false;
    }
    if (!legacy) break;
    rex = 0; // a REX prefix must immediately precede the opcode
    k++;
  }
  k++;
  rexBits = rex;
  const rexW = (rex & 8) !== 0;
  const rexR = (rex & 4) !== 0 ? 8 : 0;
  const rexX = (rex & 2) !== 0 ? 8 : 0;
  const rexB = (rex & 1) !== 0 ? 8 : 0;

  i.rex = rex !== 0;
  i.a32 = a32;
  i.seg = seg;
  i.rep = rep;
  i.lock = lock;
  i.pfx = lastRep === 0xf3 ? 2 : lastRep === 0xf2 ? 3 : osize ? 1 : 0;
  i.size = rexW ? 8 : osize ? 2 : 4;
  i.base = NO_REG;
  i.index = NO_REG;
  i.scale = 1;
  i.disp = 0;
  i.imm = 0;
  i.immHi = 0;
  i.imm2 = 0;
  i.op = 0;
  i.mod = -1;
  i.reg = 0;
  i.rm = 0;
  i.native = false;

  let map = 0;
  let opc = b;
  if (b === 0x0f) {
    opc = byteAt(k++);
    map = 1;
    if (opc === 0x38) {
      opc = byteAt(k++);
      map = 2;
    } else if (opc === 0x3a) {
      opc = byteAt(k++);
      map = 3;
    }
  }
  i.opcode = map === 0 ? opc : map === 1 ? 0x0f00 | opc : map === 2 ? 0x0f3800 | opc : 0x0f3a00 | opc;

  // VEX / EVEX prefixes: no AVX in the model.
  if (map === 0 && (opc === 0xc4 || opc === 0xc5 || opc === 0x62)) {
    i.len = k;
    ud(i);
    return;
  }

  const hasModrm = map === 0 ? MODRM0[opc] === 1 : map === 1 ? MODRM1[opc] === 1 : true;
  if (hasModrm) {
    const m = byteAt(k++);
    const mod = m >> 6;
    const regf = ((m >> 3) & 7) | rexR;
    let rm = m & 7;
    i.mod = mod;
    i.reg = regf;
    if (mod === 3) {
      i.rm = rm | rexB;
    } else {
      let dispBytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
      if (rm === 4) {
        const sib = byteAt(k++);
        const idx = ((sib >> 3) & 7) | rexX;
        i.scale = 1 << (sib >> 6);
        i.index = idx === 4 ? NO_REG : idx;
        const base = sib & 7;
        if (base === 5 && mod === 0) {
          i.base = NO_REG;
          dispBytes = 4;
        } else {
          i.base = base | rexB;
        }
      } else if (rm === 5 && mod === 0) {
        i.base = BASE_RIP;
        dispBytes = 4;
      } else {
        i.base = rm | rexB;
      }
      rm = 0;
      if (dispBytes === 1) {
        i.disp = (byteAt(k++) << 24) >> 24;
      } else if (dispBytes === 4) {
        i.disp = (byteAt(k) | (byteAt(k + 1) << 8) | (byteAt(k + 2) << 16) | (byteAt(k + 3) << 24)) | 0;
        k += 4;
      }
    }
  }

  // Immediates.
  let ik = map === 0 ? IMM0[opc]! : map === 1 ? IMM1[opc]! : map === 3 ? I_B : I_NONE;
  if (ik === I_GRP3) ik = (i.reg & 7) < 2 ? (opc === 0xf6 ? I_B : I_Z) : I_NONE;
  let immBytes = 0;
  let raw = 0;
  switch (ik) {
    case I_B: case I_REL8:
      raw = byteAt(k);
      immBytes = 1;
      break;
    case I_W:
      raw = byteAt(k) | (byteAt(k + 1) << 8);
      immBytes = 2;
      break;
    case I_Z:
      if (i.size === 2) {
        raw = byteAt(k) | (byteAt(k + 1) << 8);
        immBytes = 2;
      } else {
        raw = (byteAt(k) | (byteAt(k + 1) << 8) | (byteAt(k + 2) << 16) | (byteAt(k + 3) << 24)) >>> 0;
        immBytes = 4;
      }
      break;
    case I_REL32:
      raw = (byteAt(k) | (byteAt(k + 1) << 8) | (byteAt(k + 2) << 16) | (byteAt(k + 3) << 24)) >>> 0;
      immBytes = 4;
      break;
    case I_V:
      if (i.size === 8) {
        raw = (byteAt(k) | (byteAt(k + 1) << 8) | (byteAt(k + 2) << 16) | (byteAt(k + 3) << 24)) >>> 0;
        i.immHi = (byteAt(k + 4) | (byteAt(k + 5) << 8) | (byteAt(k + 6) << 16) | (byteAt(k + 7) << 24)) >>> 0;
        immBytes = 8;
      } else if (i.size === 2) {
        raw = byteAt(k) | (byteAt(k + 1) << 8);
        immBytes = 2;
      } else {
        raw = (byteAt(k) | (byteAt(k + 1) << 8) | (byteAt(k + 2) << 16) | (byteAt(k + 3) << 24)) >>> 0;
        immBytes = 4;
      }
      break;
    case I_MOFFS: {
      const lo = (byteAt(k) | (byteAt(k + 1) << 8) | (byteAt(k + 2) << 16) | (byteAt(k + 3) << 24)) >>> 0;
      if (a32) {
        i.disp = lo;
        immBytes = 4;
      } else {
        const hi = (byteAt(k + 4) | (byteAt(k + 5) << 8) | (byteAt(k + 6) << 16) | (byteAt(k + 7) << 24)) | 0;
        i.disp = hi * 4294967296 + lo;
        immBytes = 8;
      }
      break;
    }
    case I_WB:
      raw = byteAt(k) | (byteAt(k + 1) << 8);
      i.imm2 = byteAt(k + 2);
      immBytes = 3;
      break;
  }
  k += immBytes;
  i.len = k;
  crossedPage = k > dRoom;

  if (ik === I_REL8) i.imm = (raw << 24) >> 24;
  else if (ik === I_REL32) i.imm = raw | 0;
  else if (ik !== I_MOFFS && ik !== I_V) i.imm = raw;
  else if (ik === I_V) i.imm = raw;

  if (map === 0) select0(i, opc, immBytes, raw);
  else if (map === 1) select1(i, opc, raw);
  else if (map === 2) select2(i, opc);
  else selectSse(i, map, opc);

  if (lock) {
    const lockable = map === 0 ? LOCKABLE0[opc] === 1 : map === 1 ? LOCKABLE1[opc] === 1 : false;
    if (!lockable || i.mod === 3 || i.mod < 0) ud(i);
  }
}

// ---- One-byte map.

function select0(i: Insn, opc: number, immBytes: number, raw: number): void {
  const size = i.size;
  const mem = i.mod >= 0 && i.mod !== 3;
  const regOp = i.reg & 7;

  if (opc < 0x40 && (opc & 7) < 6) {
    const op = opc >> 3;
    i.op = op;
    switch (opc & 7) {
      case 0:
        i.size = 1;
        i.reg = r8(i, i.reg);
        if (!mem) i.rm = r8(i, i.rm);
        i.fn = mem ? alu.aluRmRN_m : alu.aluRmRN_r;
        return;
      case 1:
        i.fn = mem ? byName(size, alu.ALURMR64_M[i.op]!, alu.ALURMR32_M[i.op]!, alu.aluRmRN_m) : byName(size, alu.ALURMR64_R[i.op]!, alu.ALURMR32_R[i.op]!, alu.aluRmRN_r);
        return;
      case 2:
        i.size = 1;
        i.reg = r8(i, i.reg);
        if (!mem) i.rm = r8(i, i.rm);
        i.fn = mem ? alu.aluRRmN_m : alu.aluRRmN_r;
        return;
      case 3:
        i.fn = mem ? byName(size, alu.ALURRM64_M[i.op]!, alu.ALURRM32_M[i.op]!, alu.aluRRmN_m) : byName(size, alu.ALURRM64_R[i.op]!, alu.ALURRM32_R[i.op]!, alu.aluRRmN_r);
        return;
      case 4:
        i.size = 1;
        i.mod = 3;
        i.rm = 0;
        i.imm = raw & 0xff;
        i.fn = alu.aluRmIN_r;
        return;
      default:
        i.mod = 3;
        i.rm = 0;
        immSigned(i, raw, immBytes, size);
        i.fn = byName(size, alu.ALURMI64_R[i.op]!, alu.ALURMI32_R[i.op]!, alu.aluRmIN_r);
        return;
    }
  }
  if (opc >= 0x50 && opc <= 0x5f) {
    i.rm = (opc & 7) | rexBOf(i);
    i.mod = 3;
    i.size = size === 2 ? 2 : 8;
    i.fn = opc < 0x58 ? ctl.pushR : ctl.popR;
    return;
  }
  if (opc >= 0x70 && opc <= 0x7f) {
    i.fn = ctl.JCC[opc & 15]!;
    return;
  }
  if (opc >= 0xb0 && opc <= 0xb7) {
    i.size = 1;
    i.rm = r8(i, (opc & 7) | rexBOf(i));
    i.imm = raw & 0xff;
    i.fn = mov.movRI;
    return;
  }
  if (opc >= 0xb8 && opc <= 0xbf) {
    i.rm = (opc & 7) | rexBOf(i);
    i.fn = size === 8 ? mov.movRI64 : size === 4 ? mov.movRI32 : mov.movRI;
    return;
  }
  if (opc >= 0x91 && opc <= 0x97) {
    i.mod = 3;
    i.reg = 0;
    i.rm = (opc & 7) | rexBOf(i);
    i.fn = mov.xchg_r;
    return;
  }
  if (opc >= 0xd8 && opc <= 0xdf) {
    selectX87(i, opc);
    return;
  }
  switch (opc) {
    case 0x63:
      if (size === 8) {
        i.op = 4;
        i.fn = mem ? mov.movsx_m : mov.movsx_r;
      } else if (size === 4) {
        i.fn = mem ? mov.movLoad32 : mov.movRR32;
      } else {
        i.op = 2;
        i.fn = mem ? mov.movzx_m : mov.movzx_r;
      }
      return;
    case 0x68:
      i.size = size === 2 ? 2 : 8;
      immSigned(i, raw, immBytes, i.size);
      i.fn = ctl.pushI;
      return;
    case 0x6a:
      i.size = size === 2 ? 2 : 8;
      immSigned(i, raw, 1, i.size);
      i.fn = ctl.pushI;
      return;
    case 0x69:
    case 0x6b:
      immSigned(i, raw, immBytes, size);
      i.fn = md.imul3;
      return;
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
      i.size = (opc & 1) === 0 ? 1 : size === 2 ? 2 : 4;
      i.op = opc >= 0x6e ? 1 : 0;
      i.fn = sys.ioString;
      return;
    case 0x80: case 0x81: case 0x83:
      i.op = regOp;
      if (opc === 0x80) {
        i.size = 1;
        if (!mem) i.rm = r8(i, i.rm);
        i.imm = raw & 0xff;
        i.fn = mem ? alu.aluRmIN_m : alu.aluRmIN_r;
      } else {
        immSigned(i, raw, immBytes, size);
        i.fn = mem ? byName(size, alu.ALURMI64_M[i.op]!, alu.ALURMI32_M[i.op]!, alu.aluRmIN_m) : byName(size, alu.ALURMI64_R[i.op]!, alu.ALURMI32_R[i.op]!, alu.aluRmIN_r);
      }
      if (regOp === OP_CMP) i.lock = false;
      return;
    case 0x84:
      i.op = OP_TEST;
      i.size = 1;
      i.reg = r8(i, i.reg);
      if (!mem) i.rm = r8(i, i.rm);
      i.fn = mem ? alu.aluRmRN_m : alu.aluRmRN_r;
      return;
    case 0x85:
      i.op = OP_TEST;
      i.fn = mem ? byName(size, alu.ALURMR64_M[i.op]!, alu.ALURMR32_M[i.op]!, alu.aluRmRN_m) : byName(size, alu.ALURMR64_R[i.op]!, alu.ALURMR32_R[i.op]!, alu.aluRmRN_r);
      return;
    case 0x86: case 0x87:
      if (opc === 0x86) {
        i.size = 1;
        i.reg = r8(i, i.reg);
        if (!mem) i.rm = r8(i, i.rm);
      }
      i.fn = mem ? mov.xchg_m : mov.xchg_r;
      return;
    case 0x88: case 0x8a:
      i.size = 1;
      i.reg = r8(i, i.reg);
      if (!mem) {
        i.rm = r8(i, i.rm);
        if (opc === 0x88) swapRegRm(i);
        i.fn = mov.movRRN;
      } else {
        i.fn = opc === 0x88 ? mov.movStoreN : mov.movLoadN;
      }
      return;
    case 0x89: case 0x8b:
      if (!mem) {
        if (opc === 0x89) swapRegRm(i);
        i.fn = byName(size, mov.movRR64, mov.movRR32, mov.movRRN);
      } else if (opc === 0x89) {
        i.fn = byName(size, mov.movStore64, mov.movStore32, mov.movStoreN);
      } else {
        i.fn = byName(size, mov.movLoad64, mov.movLoad32, mov.movLoadN);
      }
      return;
    case 0x8c:
      if (mem) i.size = 2;
      i.fn = sys.movFromSreg;
      return;
    case 0x8d:
      if (!mem) return ud(i);
      i.fn = mov.lea;
      return;
    case 0x8e:
      i.fn = sys.movToSreg;
      return;
    case 0x8f:
      if (regOp !== 0) return ud(i);
      i.size = size === 2 ? 2 : 8;
      i.fn = ctl.popM;
      return;
    case 0x90:
      if (rexBOf(i) !== 0) {
        i.mod = 3;
        i.reg = 0;
        i.rm = 8;
        i.fn = mov.xchg_r;
      } else {
        i.fn = ctl.nop; // NOP, and PAUSE with F3
      }
      return;
    case 0x98: i.fn = mov.cbw; return;
    case 0x99: i.fn = mov.cwd; return;
    case 0x9b: i.fn = ctl.nop; return; // FWAIT
    case 0x9c: i.size = size === 2 ? 2 : 8; i.fn = ctl.pushf; return;
    case 0x9d: i.size = size === 2 ? 2 : 8; i.fn = ctl.popf; return;
    case 0x9e: i.fn = mov.sahf; return;
    case 0x9f: i.fn = mov.lahf; return;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3:
      i.mod = 0;
      i.reg = 0;
      if ((opc & 1) === 0) i.size = 1;
      if (opc < 0xa2) i.fn = byName(i.size, mov.movLoad64, mov.movLoad32, mov.movLoadN);
      else i.fn = byName(i.size, mov.movStore64, mov.movStore32, mov.movStoreN);
      return;
    case 0xa4: case 0xa5: i.size = opc === 0xa4 ? 1 : size; i.fn = str.movs; return;
    case 0xa6: case 0xa7: i.size = opc === 0xa6 ? 1 : size; i.fn = str.cmps; return;
    case 0xaa: case 0xab: i.size = opc === 0xaa ? 1 : size; i.fn = str.stos; return;
    case 0xac: case 0xad: i.size = opc === 0xac ? 1 : size; i.fn = str.lods; return;
    case 0xae: case 0xaf: i.size = opc === 0xae ? 1 : size; i.fn = str.scas; return;
    case 0xa8:
      i.op = OP_TEST;
      i.size = 1;
      i.mod = 3;
      i.rm = 0;
      i.imm = raw & 0xff;
      i.fn = alu.aluRmIN_r;
      return;
    case 0xa9:
      i.op = OP_TEST;
      i.mod = 3;
      i.rm = 0;
      immSigned(i, raw, immBytes, size);
      i.fn = byName(size, alu.ALURMI64_R[i.op]!, alu.ALURMI32_R[i.op]!, alu.aluRmIN_r);
      return;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
      if ((opc & 1) === 0) {
        i.size = 1;
        if (!mem) i.rm = r8(i, i.rm);
      }
      i.op = regOp;
      if (opc >= 0xd2) i.imm2 = 1;
      else if (opc >= 0xd0) i.imm = 1;
      else i.imm = raw & 0xff;
      if (opc === 0xc1 && i.size === 4 && !mem && regOp >= 4) i.fn = sh.shiftImm32_r;
      else i.fn = mem ? sh.shift_m : sh.shift_r;
      return;
    case 0xc2: i.imm = raw & 0xffff; i.fn = ctl.retImm; return;
    case 0xc3: i.fn = ctl.ret; return;
    case 0xc6: case 0xc7:
      if (regOp !== 0) return ud(i); // XABORT / XBEGIN: no RTM
      if (opc === 0xc6) {
        i.size = 1;
        i.imm = raw & 0xff;
        if (!mem) i.rm = r8(i, i.rm);
      } else {
        immSigned(i, raw, immBytes, size);
      }
      i.fn = mem ? mov.movMI : mov.movRI;
      return;
    case 0xc8: i.size = size === 2 ? 2 : 8; i.imm = raw & 0xffff; i.fn = ctl.enter; return;
    case 0xc9: i.size = size === 2 ? 2 : 8; i.fn = ctl.leave; return;
    case 0xcc: i.imm = 3; i.fn = sys.int3; return;
    case 0xcd: i.imm = raw & 0xff; i.fn = sys.intN; return;
    case 0xcf:
      if (i.size !== 8) return ud(i); // IRETD/IRETW: not modelled
      i.fn = sys.iretq;
      return;
    case 0xd7: i.fn = mov.xlat; return;
    case 0xe0: case 0xe1: case 0xe2:
      i.op = opc - 0xe0;
      i.fn = ctl.loop;
      return;
    case 0xe3: i.fn = ctl.jrcxz; return;
    case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef:
      i.size = (opc & 1) === 0 ? 1 : size === 2 ? 2 : 4;
      i.op = ((opc & 2) !== 0 ? 1 : 0) | (opc >= 0xec ? 2 : 0);
      i.imm = raw & 0xff;
      i.fn = sys.io;
      return;
    case 0xe8: i.fn = ctl.callRel; return;
    case 0xe9: case 0xeb: i.fn = ctl.jmpRel; return;
    case 0xf4: i.fn = sys.hlt; return;
    case 0xf5: i.fn = ctl.cmc; return;
    case 0xf6: case 0xf7:
      if (opc === 0xf6) {
        i.size = 1;
        if (!mem) i.rm = r8(i, i.rm);
      }
      switch (regOp) {
        case 0: case 1:
          i.op = OP_TEST;
          if (opc === 0xf6) i.imm = raw & 0xff;
          else immSigned(i, raw, immBytes, i.size);
          i.fn = mem ? byName(i.size, alu.ALURMI64_M[i.op]!, alu.ALURMI32_M[i.op]!, alu.aluRmIN_m) : byName(i.size, alu.ALURMI64_R[i.op]!, alu.ALURMI32_R[i.op]!, alu.aluRmIN_r);
          return;
        case 2: case 3:
          i.op = regOp;
          i.fn = mem ? alu.unary_m : alu.unary_r;
          return;
        case 4: case 5:
          i.op = regOp;
          i.fn = md.mul1;
          return;
        default:
          i.op = regOp;
          i.fn = md.div;
          return;
      }
    case 0xf8: i.fn = ctl.clc; return;
    case 0xf9: i.fn = ctl.stc; return;
    case 0xfa: i.fn = sys.cli; return;
    case 0xfb: i.fn = sys.sti; return;
    case 0xfc: i.fn = ctl.cld; return;
    case 0xfd: i.fn = ctl.std; return;
    case 0xfe:
      if (regOp > 1) return ud(i);
      i.size = 1;
      if (!mem) i.rm = r8(i, i.rm);
      i.op = regOp;
      i.fn = mem ? alu.unary_m : alu.unary_r;
      return;
    case 0xff:
      switch (regOp) {
        case 0: case 1:
          i.op = regOp;
          i.fn = mem ? alu.unary_m : size === 4 ? alu.incDec32_r : alu.unary_r;
          return;
        case 2: i.size = 8; i.fn = ctl.callInd; return;
        case 4: i.size = 8; i.fn = ctl.jmpInd; return;
        case 6: i.size = size === 2 ? 2 : 8; i.fn = ctl.pushM; return;
        default: return ud(i); // far CALL/JMP: not modelled
      }
    default:
      return ud(i);
  }
}

/** REX.B of the instruction being decoded, for the opcode-register forms (50+r, B8+r …). */
function rexBOf(_i: Insn): number {
  return (rexBits & 1) !== 0 ? 8 : 0;
}

// REX prefix of the instruction being decoded.
let rexBits = 0;

function swapRegRm(i: Insn): void {
  const t = i.reg;
  i.reg = i.rm;
  i.rm = t;
}

// ---- Two-byte map (0F xx).

function select1(i: Insn, opc: number, raw: number): void {
  const size = i.size;
  const mem = i.mod !== 3;
  const regOp = i.reg & 7;
  if (opc >= 0x40 && opc <= 0x4f) {
    i.op = opc & 15;
    i.fn = mem ? mov.cmov_m : mov.cmov_r;
    return;
  }
  if (opc >= 0x80 && opc <= 0x8f) {
    i.fn = ctl.JCC[opc & 15]!;
    return;
  }
  if (opc >= 0x90 && opc <= 0x9f) {
    i.op = opc & 15;
    i.size = 1;
    if (!mem) i.rm = r8(i, i.rm);
    i.fn = mem ? mov.setcc_m : mov.setcc_r;
    return;
  }
  if (opc >= 0xc8 && opc <= 0xcf) {
    i.rm = (opc & 7) | rexBOf(i);
    i.fn = mov.bswap;
    return;
  }
  switch (opc) {
    case 0x00:
      switch (regOp) {
        case 0: case 1: i.op = regOp; if (mem) i.size = 2; i.fn = sys.strSldt; return;
        case 3: i.fn = sys.ltr; return;
        default: return ud(i);
      }
    case 0x01:
      if (mem) {
        switch (regOp) {
          case 0: case 1: i.op = regOp; i.fn = sys.sgdtSidt; return;
          case 2: case 3: i.op = regOp; i.fn = sys.lgdtLidt; return;
          case 4: i.size = 2; i.fn = sys.smsw; return;
          case 7: i.fn = sys.invlpg; return;
          default: return ud(i);
        }
      }
      if (regOp === 4) {
        i.fn = sys.smsw;
        return;
      }
      switch (((i.reg & 7) << 3) | (i.rm & 7)) {
        case 0o01: i.fn = sys.vmcall; return;
        case 0o70: i.fn = sys.swapgs; return;
        case 0o71: i.fn = sys.rdtscp; return;
        default: return ud(i);
      }
    case 0x05: i.fn = sys.syscall; return;
    case 0x06: case 0x08: case 0x09: i.fn = sys.privilegedNop; return;
    case 0x07:
      if (size !== 8) return ud(i); // SYSRET to 32-bit code: not modelled
      i.fn = sys.sysret;
      return;
    case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      i.fn = ctl.nop; // PREFETCH*, hint NOPs, ENDBR64
      return;
    case 0x20: case 0x22:
      i.mod = 3;
      i.fn = opc === 0x20 ? sys.movFromCr : sys.movToCr;
      return;
    case 0x30: i.fn = sys.wrmsr; return;
    case 0x31: i.fn = sys.rdtsc; return;
    case 0x32: i.fn = sys.rdmsr; return;
    case 0xa2: i.fn = sys.cpuid; return;
    case 0xa3: case 0xab: case 0xb3: case 0xbb:
      i.op = opc === 0xa3 ? bits.BT_TEST : opc === 0xab ? bits.BT_SET : opc === 0xb3 ? bits.BT_RESET : bits.BT_COMPLEMENT;
      i.fn = bits.bt;
      return;
    case 0xba:
      if (regOp < 4) return ud(i);
      i.op = regOp - 4;
      i.imm2 = 1;
      i.imm = raw & 0xff;
      i.fn = bits.bt;
      return;
    case 0xa4: case 0xa5: case 0xac: case 0xad:
      i.op = opc >= 0xac ? 1 : 0;
      if ((opc & 1) !== 0) i.imm2 = 1;
      else i.imm = raw & 0xff;
      i.fn = sh.shxd;
      return;
    case 0xaf: i.fn = md.imul2; return;
    case 0xb0: case 0xb1:
      if (opc === 0xb0) {
        i.size = 1;
        i.reg = r8(i, i.reg);
        if (!mem) i.rm = r8(i, i.rm);
      }
      i.fn = mov.cmpxchg;
      return;
    case 0xc0: case 0xc1:
      if (opc === 0xc0) {
        i.size = 1;
        i.reg = r8(i, i.reg);
        if (!mem) i.rm = r8(i, i.rm);
      }
      i.fn = mov.xadd;
      return;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf:
      i.op = (opc & 1) === 0 ? 1 : 2;
      if (i.op === 1 && !mem) i.rm = r8(i, i.rm);
      if (opc < 0xbe) i.fn = mem ? mov.movzx_m : mov.movzx_r;
      else i.fn = mem ? mov.movsx_m : mov.movsx_r;
      return;
    case 0xb8:
      if (i.pfx !== 2) return ud(i);
      i.fn = bits.popcnt;
      return;
    case 0xbc: case 0xbd:
      i.op = (opc === 0xbc ? 0 : 1) + (i.pfx === 2 ? 2 : 0);
      i.fn = bits.bitScan;
      return;
    case 0xc3:
      if (!mem || i.pfx !== 0) return ud(i);
      i.fn = size === 8 ? mov.movStore64 : mov.movStore32; // MOVNTI
      return;
    case 0xc7:
      if (mem && regOp === 1) {
        i.fn = mov.cmpxchg8b16b;
        return;
      }
      return ud(i);
    case 0xae:
      if (mem) {
        switch (regOp) {
          case 2: i.fn = sys.ldmxcsr; return;
          case 3: i.fn = sys.stmxcsr; return;
          case 7: i.fn = ctl.nop; return; // CLFLUSH / CLFLUSHOPT
          default: selectSse(i, 1, opc); return; // FXSAVE / FXRSTOR
        }
      }
      if (i.pfx === 0 && regOp >= 5) {
        i.fn = ctl.nop; // LFENCE / MFENCE / SFENCE
        return;
      }
      if (i.pfx === 2 && regOp <= 3) {
        i.op = regOp; // RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE
        i.size = size === 8 ? 8 : 4;
        i.fn = sys.fsgsbase;
        return;
      }
      return ud(i);
    case 0x0b: case 0xb9: case 0xff:
      return ud(i); // UD2, UD1, UD0
    default:
      selectSse(i, 1, opc);
  }
}

// ---- Three-byte map 0F 38.

function select2(i: Insn, opc: number): void {
  const mem = i.mod !== 3;
  if ((opc === 0xf0 || opc === 0xf1) && i.pfx !== 3 && i.pfx !== 2) {
    if (!mem) return ud(i);
    i.fn = opc === 0xf0 ? mov.movbeLoad : mov.movbeStore;
    return;
  }
  if (opc === 0x82 && i.pfx === 1) {
    if (!mem) return ud(i);
    i.fn = sys.invpcid;
    return;
  }
  selectSse(i, 2, opc);
}
