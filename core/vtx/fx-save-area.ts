import type { X87 } from './interp/x87.js';

/**
 * The FXSAVE area (Intel SDM Vol. 1 §10.5.1, Table 10-2): the x87 and SSE state as FXSAVE writes
 * it and FXRSTOR reads it. Without XSAVE (our CPUID does not offer it) it is also what Linux keeps
 * per task (`struct fxregs_state`) and what a 64-bit signal frame's `fpstate` points to.
 *
 * Layout: FCW 0, FSW 2, abridged FTW 4, FOP 6, FIP 8, FDP 16, MXCSR 24, MXCSR_MASK 28, ST0..7 at
 * 32 + 16i (80 bits each), XMM0..15 at 160 + 16i; 416..463 reserved, 464..511 left to software.
 */
export const FXSAVE_AREA_SIZE = 512;
/** The bytes FXSAVE writes: the x87 and XMM registers (the reserved tail is left alone). */
export const FXSAVE_STATE_BYTES = 416;
export const FX_FCW = 0, FX_FSW = 2, FX_FTW = 4, FX_MXCSR = 24, FX_MXCSR_MASK = 28, FX_ST0 = 32, FX_XMM0 = 160;
/** MXCSR after reset and in a new task (all exceptions masked, round to nearest). */
export const MXCSR_DEFAULT = 0x1f80;
/** The MXCSR bits this CPU implements (DAZ included); FXRSTOR of a reserved bit is #GP. */
export const MXCSR_MASK = 0xffff;
/** FCW after FNINIT. */
export const FCW_DEFAULT = 0x37f;

/** The state FXSAVE and FXRSTOR move: the CPU's XMM registers and MXCSR, and the x87 FPU. */
export interface FxState {
  readonly xmm: Uint32Array;
  mxcsr: number;
}

/** Writes the initial state (FNINIT, MXCSR reset, XMM zero) as an FXSAVE image: fpu__init_state. */
export function fxInitImage(img: DataView): void {
  for (let i = 0; i < FXSAVE_AREA_SIZE; i += 4) img.setUint32(i, 0, true);
  img.setUint16(FX_FCW, FCW_DEFAULT, true);
  img.setUint32(FX_MXCSR, MXCSR_DEFAULT, true);
  img.setUint32(FX_MXCSR_MASK, MXCSR_MASK, true);
}

/** A new FXSAVE image holding the initial state. */
export function newFxImage(): DataView {
  const img = new DataView(new ArrayBuffer(FXSAVE_AREA_SIZE));
  fxInitImage(img);
  return img;
}

/** FXSAVE into `img` (bytes 0..415). Without an x87 (no interpreter) its part is the initial state. */
export function fxStore(s: FxState, x: X87 | undefined, img: DataView): void {
  img.setUint16(FX_FCW, x === undefined ? FCW_DEFAULT : x.fcw, true);
  img.setUint16(FX_FSW, x === undefined ? 0 : x.status, true);
  img.setUint16(FX_FTW, x === undefined ? 0 : x.tagWord(false), true);
  img.setUint16(6, 0, true);
  for (let i = 8; i < 24; i += 4) img.setUint32(i, 0, true); // FIP, FDP: not tracked
  img.setUint32(FX_MXCSR, s.mxcsr, true);
  img.setUint32(FX_MXCSR_MASK, MXCSR_MASK, true);
  for (let k = 0; k < 8; k++) {
    const o = FX_ST0 + k * 16;
    if (x === undefined) {
      for (let i = 0; i < 16; i += 4) img.setUint32(o + i, 0, true);
      continue;
    }
    const p = (x.top + k) & 7;
    img.setUint32(o, x.mlo[p]!, true);
    img.setUint32(o + 4, x.mhi[p]!, true);
    img.setUint32(o + 8, x.se[p]!, true);
    img.setUint32(o + 12, 0, true);
  }
  const xmm = s.xmm;
  for (let i = 0; i < 64; i++) img.setUint32(FX_XMM0 + i * 4, xmm[i]!, true);
}

/**
 * FXRSTOR from `img`. An MXCSR with a reserved bit set changes nothing and returns false (the
 * instruction's #GP; a signal frame's bad fpstate).
 */
export function fxLoad(s: FxState, x: X87 | undefined, img: DataView): boolean {
  const mx = img.getUint32(FX_MXCSR, true);
  if ((mx & ~MXCSR_MASK) !== 0) return false;
  s.mxcsr = mx;
  if (x !== undefined) {
    x.fcw = img.getUint16(FX_FCW, true);
    const sw = img.getUint16(FX_FSW, true);
    x.fsw = sw & ~0x3800;
    x.top = (sw >>> 11) & 7;
    x.setTagWord(img.getUint16(FX_FTW, true) & 0xff, false);
    for (let k = 0; k < 8; k++) {
      const o = FX_ST0 + k * 16;
      const p = (x.top + k) & 7;
      x.mlo[p] = img.getUint32(o, true);
      x.mhi[p] = img.getUint32(o + 4, true);
      x.se[p] = img.getUint16(o + 8, true);
    }
  }
  const xmm = s.xmm;
  for (let i = 0; i < 64; i++) xmm[i] = img.getUint32(FX_XMM0 + i * 4, true);
  return true;
}
