import type { Cpu } from '../cpu.js';
import type { Mmu } from '../mmu.js';
import type { Interp } from '../interp/interp-state.js';
import type { Insn } from '../interp/insn.js';
import type { CodeCache } from '../interp/code-cache.js';

/**
 * What a translated block works on, bound once per CPU: the interpreter state (registers as
 * 32-bit halves, lazy flags), the CPU (RIP, clock), the MMU's L0 hit tables and the host memory
 * views behind them, and the code cache's frame generations. A block's function takes it as a
 * parameter, so one translation serves every CPU sharing the physical memory.
 */
export class BlockContext {
  readonly cpu: Cpu;
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  readonly mmu: Mmu;
  readonly rTag: Float64Array;
  readonly wTag: Float64Array;
  readonly rHostW: Int32Array;
  readonly wHostW: Int32Array;
  /** The MMU's L0 execute entries (fetchAddress's hit path), for chaining into another page. */
  readonly xTag: Float64Array;
  readonly xHostW: Int32Array;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** The XMM registers (interp-state.ts), as dwords and as doubles. */
  readonly x32: Uint32Array;
  readonly f64: Float64Array;

  constructor(
    readonly s: Interp,
    readonly generation: Int32Array,
    /** The physical-page code cache the run loop finds blocks in. */
    readonly cache: CodeCache,
  ) {
    this.cpu = s.cpu;
    this.lo = s.lo;
    this.hi = s.hi;
    this.mmu = s.mmu;
    this.rTag = s.mmu.rTag;
    this.wTag = s.mmu.wTag;
    this.rHostW = s.mmu.rHostW;
    this.wHostW = s.mmu.wHostW;
    this.xTag = s.mmu.xTag;
    this.xHostW = s.mmu.xHostW;
    this.u8 = s.cpu.mem.u8;
    this.u16 = s.cpu.mem.u16;
    this.u32 = s.cpu.mem.u32;
    this.x32 = s.x32;
    this.f64 = s.f64;
  }

  /**
   * The exit a block last left by without chaining (see BlockSource.epilogue): the run loop links
   * it to the block it runs next, if that one qualifies. Null after any other exit.
   */
  from: TranslatedBlock | null = null;
  slot = 0;
  /** Blocks entered by chaining (host-side figure). */
  chained = 0;
  /**
   * 1 when the last block left before an instruction whose memory access would miss the MMU's
   * L0 hit cache (BlockSource.missExit): the run loop interprets that instruction next.
   */
  miss = 0;

  /**
   * The translated block the run loop would find at linear `rip` if it went on from block `b`:
   * in b's code page, b's frame; in another page, the frame the MMU's L0 execute entry for it
   * holds (`l0Mode`: the block's `m`), or none when that would miss (the run loop would fetch).
   * The caller checks it as it checks a link. For an exit whose link holds another target (a
   * RET or an indirect jump going somewhere else this time) or none yet: without this look-up
   * such an exit would return to the run loop, which finds the same block more slowly.
   */
  blockAt(rip: number, b: TranslatedBlock, l0Mode: number): TranslatedBlock | null {
    const off = rip & 4095;
    let frame = b.frame;
    if (rip - off !== b.rip - (b.rip & 4095)) {
      const t = ((rip >>> 12) & 255) + l0Mode;
      if (this.xTag[t] !== rip - off) return null;
      frame = this.xHostW[t]! >>> 10;
    }
    const page = this.cache.page(frame);
    if (page === null) return null;
    const insn = page[off];
    return insn === null || insn === undefined ? null : insn.block;
  }

  /** The exit left by the last block run (see `from`), cleared. */
  takeExit(): TranslatedBlock | null {
    const f = this.from;
    this.from = null;
    return f;
  }
}

/**
 * The JavaScript function of a block: runs it from its first instruction (see BlockTranslator).
 * It reads the block's decoded records, frame and generation from `b`, so one function serves
 * every block with the same code. It returns the block to run next when its exit is chained to
 * one the run loop would run next (BlockSource.epilogue), else null.
 */
export type BlockFunction = (x: BlockContext, limit: number, b: TranslatedBlock) => TranslatedBlock | null;

/**
 * A straight-line run of guest instructions of one code page, compiled to one JavaScript function.
 * It is keyed by the host-physical address of its first instruction (it hangs off that
 * instruction's cached record) and valid while the frame's code-cache generation is unchanged,
 * execution reaches it at the linear address it was translated for, and the per-instruction
 * cost is the one folded into it.
 */
export class TranslatedBlock {
  constructor(
    readonly run: BlockFunction,
    /** Host frame of the code page, and its code-cache generation at translation. */
    readonly frame: number,
    readonly generation: number,
    /** Linear address of the first instruction (RIP-relative operands and branch targets are folded). */
    readonly rip: number,
    /** `costs.instruction` at translation. */
    readonly cost: number,
    /**
     * Clock headroom the block needs (`blockSpan`). The interpreter checks the slice's limit after
     * every instruction; with `cycles + span < limit` at entry, none of those checks inside the
     * block can stop it (the run loop makes the one after the block).
     */
    readonly span: number,
    /** The decoded instructions (handler calls take theirs from here). */
    readonly insns: readonly Insn[],
    /** The JavaScript source (for tests and debugging). */
    readonly source: string,
    /** Exits that may chain to a successor in the same code page. */
    slots: number,
  ) {
    this.length = insns.length;
    this.links = new Array<TranslatedBlock | null>(slots).fill(null);
  }

  /**
   * Block chaining: per exit, the block that ran after it (in the same frame and linear page),
   * which the exit runs directly while the run loop would run it too (BlockSource.epilogue).
   */
  readonly links: Array<TranslatedBlock | null>;

  /** Guest instructions in the block. */
  readonly length: number;
}
