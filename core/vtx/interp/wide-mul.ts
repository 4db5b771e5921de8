import { TWO_32 } from './operands.js';

/**
 * Wide multiplication on 32-bit halves: 32×32 → 64 by 16-bit pieces (exact), 64×64 → 128 from
 * four of those. Results go to the scratch words W (a typed array: module-level numbers would be
 * boxed on every store).
 */

export const W = new Uint32Array(12);
export const W0 = 0; // 128-bit product, lowest word first
export const W1 = 1;
export const W2 = 2;
export const W3 = 3;
export const MH = 4; // high word of mulu32
export const QLO = 5; // division results
export const QHI = 6;
export const RLO = 7;
export const RHI = 8;

/** Unsigned 32×32: returns the low word, leaves the high word in W[MH]. */
export function mulu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  W[MH] = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  return (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
}

/** Unsigned 64×64 → 128 into W[W0..W3]. */
export function mulu64(al: number, ah: number, bl: number, bh: number): void {
  const l0 = mulu32(al, bl);
  const h0 = W[MH]!;
  const l1 = mulu32(al, bh);
  const h1 = W[MH]!;
  const l2 = mulu32(ah, bl);
  const h2 = W[MH]!;
  const l3 = mulu32(ah, bh);
  const h3 = W[MH]!;
  W[W0] = l0;
  const t1 = h0 + l1 + l2;
  W[W1] = t1;
  const t2 = h1 + h2 + l3 + Math.floor(t1 / TWO_32);
  W[W2] = t2;
  W[W3] = h3 + Math.floor(t2 / TWO_32);
}

/** Signed 64×64 → 128 into W[W0..W3]. */
export function muls64(al: number, ah: number, bl: number, bh: number): void {
  mulu64(al, ah, bl, bh);
  // Two's complement correction of the high 64 bits.
  if ((ah | 0) < 0) sub64Hi(bl, bh);
  if ((bh | 0) < 0) sub64Hi(al, ah);
}

function sub64Hi(l: number, h: number): void {
  const t = W[W2]! - l;
  W[W2] = t;
  W[W3] = W[W3]! - h - (t < 0 ? 1 : 0);
}

/** Whether the signed 64×64 product of (al,ah)·(bl,bh) overflows 64 bits (CF = OF of IMUL). */
export function imul64Overflows(al: number, ah: number, bl: number, bh: number): boolean {
  muls64(al, ah, bl, bh);
  const ext = (W[W1]! | 0) < 0 ? 0xffff_ffff : 0;
  return W[W2] !== ext || W[W3] !== ext;
}
