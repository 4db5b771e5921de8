import type { TranslatedBlock } from '../jit/translated-block.js';
import type { Interp } from './interp-state.js';

/** An instruction handler: executes one decoded instruction on the interpreter's CPU. */
export type Handler = (s: Interp, i: Insn) => void;

/** Register number of RIP as a base (RIP-relative addressing). */
export const BASE_RIP = 16;
/** No base / no index register. */
export const NO_REG = -1;

/** Segment override: none, FS, GS (ES/CS/SS/DS overrides are null in 64-bit mode). */
export const SEG_NONE = 0;
export const SEG_FS = 1;
export const SEG_GS = 2;

/** REP prefixes as recorded in `rep`. */
export const REP_NONE = 0;
export const REP_E = 1; // F3: REP / REPE / REPZ
export const REP_NE = 2; // F2: REPNE / REPNZ

function notDecoded(): void {
  throw new Error('instruction record used before it was decoded');
}

/**
 * One decoded instruction (blink's `rde` + disp + imm, as a fixed-shape object). Decoded once
 * per code address and cached per physical code page; executing it costs one indirect call.
 *
 * Register operands are GPR numbers 0..15 (REX applied). For byte operands without REX, numbers
 * 16..19 name AH, CH, DH, BH (bits 8..15 of registers 0..3).
 */
export class Insn {
  fn: Handler = notDecoded;
  /** Index of the handler in the run loop's switch of hot handlers (0: call `fn`). */
  kind = 0;
  /** Length in bytes (1..15). */
  len = 0;
  /** Sub-operation: ALU operation, condition code, shift kind, … (handler specific). */
  op = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  size = 4;
  /** ModRM.reg with REX.R (or the register encoded in the opcode). */
  reg = 0;
  /** ModRM.rm with REX.B when mod = 3. */
  rm = 0;
  /** ModRM.mod (3 = register operand); -1 without ModRM. */
  mod = -1;
  /** Memory operand: base register, BASE_RIP, or NO_REG. */
  base = NO_REG;
  /** Memory operand: index register or NO_REG. */
  index = NO_REG;
  /** Memory operand: scale factor (1, 2, 4, 8). */
  scale = 1;
  /** Memory operand: signed displacement. */
  disp = 0;
  /** Segment override (SEG_*). */
  seg = SEG_NONE;
  /** Address size 32 (0x67 prefix). */
  a32 = false;
  /** Immediate: low 32 bits (unsigned), or a signed relative displacement for branches. */
  imm = 0;
  /** Immediate: high 32 bits (sign extension, or the top of a 64-bit immediate). */
  immHi = 0;
  /** Second immediate (ENTER's nesting level; SHLD/SHRD count source flag …). */
  imm2 = 0;
  /** REP prefix (REP_*). */
  rep = REP_NONE;
  /** Mandatory-prefix selector for SSE: 0 none, 1 = 66, 2 = F3, 3 = F2. */
  pfx = 0;
  lock = false;
  /** REX prefix present (byte registers 4..7 are SPL..DIL). */
  rex = false;
  /** The bytes are a native-code stub (0F FF 05 id): the run loop yields to the CPU. */
  native = false;
  /** Primary opcode (0x0F00 | b for the two-byte map, 0x0F3800 / 0x0F3A00 for three-byte maps). */
  opcode = 0;
  /**
   * Block translation (core/vtx/jit): how often the run loop arrived here by a branch (a block
   * head), and the block translated from here once that passed the threshold (-1: not translatable).
   */
  heat = 0;
  block: TranslatedBlock | null = null;
}

