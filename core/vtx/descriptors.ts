import { GD_KD, GD_KT, GD_TSS, GD_UD, GD_UT } from './arch.js';
import { PhysicalMemory } from './physical-memory.js';

const TWO_32 = 0x1_0000_0000;

/**
 * Descriptor tables as bytes in memory (SDM Vol. 3A §3.4.5, §6.14.1, §7.2.3), laid out like
 * libDune's (and Linux's) GDT so the host STAR MSR works unchanged: 0x10 kernel code, 0x18 kernel
 * data, 0x28 user data, 0x30 user code, 0x38 a 16-byte 64-bit TSS descriptor.
 */
export const GDT_ENTRIES = 9;
export const GDT_SIZE = GDT_ENTRIES * 8;
export const TSS_SIZE = 104;

/** A code or data segment descriptor for 64-bit mode, as [lo, hi]. */
function segment(code: boolean, dpl: number): [number, number] {
  // Limit 0xFFFFF, base 0, G=1; access: P | DPL | S | type (code: execute/read, data: read/write).
  const access = 0x80 | (dpl << 5) | 0x10 | (code ? 0xa : 0x2);
  const flags = code ? 0xa : 0xc; // code: G | L; data: G | D/B
  return [0x0000_ffff, ((flags << 20) | (0xf << 16) | (access << 8)) >>> 0];
}

export function writeGdt(mem: PhysicalMemory, pa: number, tssBase: number): void {
  mem.zero(pa, GDT_SIZE);
  const put = (sel: number, [lo, hi]: [number, number]): void => mem.write64(pa + (sel & ~7), lo, hi);
  put(GD_KT, segment(true, 0));
  put(GD_KD, segment(false, 0));
  put(GD_UD, segment(false, 3));
  put(GD_UT, segment(true, 3));
  // 64-bit TSS descriptor (type 9 = available), base split across both quadwords.
  const limit = TSS_SIZE - 1;
  const b = tssBase;
  const lo = ((b & 0xffff) << 16) | limit;
  const hi = ((b >>> 24) << 24) | (0x89 << 8) | ((b >>> 16) & 0xff);
  mem.write64(pa + GD_TSS, lo >>> 0, hi >>> 0);
  mem.write64(pa + GD_TSS + 8, Math.floor(b / TWO_32) >>> 0, 0);
}

export interface GateOptions {
  /** 0xE interrupt gate (clears IF) or 0xF trap gate. */
  type?: 0xe | 0xf;
  dpl?: number;
  ist?: number;
  selector?: number;
  present?: boolean;
}

/** Writes a 16-byte IA-32e interrupt/trap gate for `vector`. */
export function writeIdtGate(mem: PhysicalMemory, idtPa: number, vector: number, target: number, opts: GateOptions = {}): void {
  const type = opts.type ?? 0xe;
  const sel = opts.selector ?? GD_KT;
  const attr = (opts.present === false ? 0 : 0x80) | ((opts.dpl ?? 0) << 5) | type;
  const tLo = target >>> 0;
  const tHi = Math.floor(target / TWO_32) >>> 0;
  const a = idtPa + vector * 16;
  mem.write32(a, ((sel << 16) | (tLo & 0xffff)) >>> 0);
  mem.write32(a + 4, ((tLo & 0xffff_0000) | (attr << 8) | (opts.ist ?? 0)) >>> 0);
  mem.write32(a + 8, tHi);
  mem.write32(a + 12, 0);
}

/** Writes a 64-bit TSS: RSP0..2 at offset 4, IST1..7 at 0x24 (SDM Vol. 3A Figure 8-11). */
export function writeTss(mem: PhysicalMemory, pa: number, rsp: number[], ist: number[] = []): void {
  mem.zero(pa, TSS_SIZE);
  rsp.forEach((v, i) => mem.write64(pa + 4 + i * 8, v >>> 0, Math.floor(v / TWO_32) >>> 0));
  ist.forEach((v, i) => mem.write64(pa + 0x24 + i * 8, v >>> 0, Math.floor(v / TWO_32) >>> 0));
  mem.write16(pa + 102, TSS_SIZE); // I/O map base beyond the limit: no I/O bitmap
}
