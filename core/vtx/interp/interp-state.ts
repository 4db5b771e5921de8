import type { Cpu } from '../cpu.js';
import type { Mmu } from '../mmu.js';
import { FOP_NONE } from './flags.js';
import { X87 } from './x87.js';

/**
 * The per-CPU state the instruction handlers work on: direct references to the CPU's register
 * arrays and MMU (so a handler does one property load, not a chain), the lazily kept arithmetic
 * flags (v86 `arith.rs` style, see flags.ts), typed-array views of the XMM registers, and
 * scratch slots for the high half of 64-bit results.
 */
export class Interp {
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  readonly mmu: Mmu;
  readonly u8: Uint8Array;

  // ---- Lazy flags: the last flag-setting operation (FOP_* | size code) and its operands.
  /** Kind and size of the last flag-setting operation, or FOP_NONE when `cpu.rflags` is current. */
  fop = FOP_NONE;
  /** First operand, second operand and result (low halves; masked to the operand size). */
  fa = 0;
  fb = 0;
  fr = 0;
  /** High halves for 64-bit operations. */
  fah = 0;
  fbh = 0;
  frh = 0;
  /** Carry in (ADC/SBB) or the preserved CF (INC/DEC). */
  fcf = 0;

  /** High half of a 64-bit value returned by a helper. */
  th = 0;
  /** Low half of a helper's result (helpers too big to inline return through here, unboxed). */
  tl = 0;
  /** Flags a shift/rotate computed, applied once its result is stored: kind (0 none, 1 result, 2 CF/OF only), CF, OF. */
  pk = 0;
  pcf = 0;
  pof = 0;
  /** The x87 FPU of this CPU. */
  readonly x87 = new X87();
  /** Set by a handler that hands control to the CPU (mode change, VM exit …): ends the batch. */
  stop = false;

  // ---- XMM views (aliases of cpu.xmm's buffer: XMM0..15 and a scratch register 16 that holds
  // the memory operand of an SSE instruction).
  readonly x32: Uint32Array;
  readonly xi32: Int32Array;
  readonly x16: Uint16Array;
  readonly xi16: Int16Array;
  readonly x8: Uint8Array;
  readonly xi8: Int8Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;

  constructor(readonly cpu: Cpu) {
    this.lo = cpu.lo;
    this.hi = cpu.hi;
    this.mmu = cpu.mmu;
    this.u8 = cpu.mem.u8;
    const b = cpu.xmm.buffer;
    this.x32 = new Uint32Array(b, 0, 68);
    this.xi32 = new Int32Array(b, 0, 68);
    this.x16 = new Uint16Array(b, 0, 136);
    this.xi16 = new Int16Array(b, 0, 136);
    this.x8 = new Uint8Array(b, 0, 272);
    this.xi8 = new Int8Array(b, 0, 272);
    this.f32 = new Float32Array(b, 0, 68);
    this.f64 = new Float64Array(b, 0, 34);
  }
}
