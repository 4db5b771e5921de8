import { CANONICAL_LIMIT } from '../arch.js';
import * as alu from '../interp/alu.js';
import * as ctl from '../interp/control.js';
import { K_ADD, K_DEC, K_INC, K_LOGIC, K_MUL, K_RESULT, K_SUB, cond, getCF, getLT, getOF } from '../interp/flags.js';
import { BASE_RIP, Handler, Insn, SEG_FS, SEG_NONE } from '../interp/insn.js';
import * as md from '../interp/mul-div.js';
import * as mov from '../interp/moves.js';
import * as sh from '../interp/shifts.js';
import * as sse from '../interp/sse.js';
import * as str from '../interp/string-ops.js';
import { DF } from '../interp/flags.js';
import { MH, W, mulu32 } from '../interp/wide-mul.js';
import * as sys from '../interp/system.js';
import { BlockFunction, TranslatedBlock } from './translated-block.js';

/**
 * The block translator: turns a run of decoded instructions of one code page into one JavaScript
 * function (`new Function`), the way QEMU's TCG or v86's wasm JIT turn guest blocks into host code,
 * but keeping the interpreter's every observable effect:
 *
 * - The general registers a block names live in JavaScript locals, and so do the interpreter's
 *   lazy flag fields (flags.ts), written exactly as the interpreter's handlers write them; both are
 *   stored back before every handler call and at every exit, and loaded again after a handler
 *   call (resolveFlags). A conditional branch tests the flags with code specialised for the flag
 *   operation the block last recorded, behind a check that this is still the recorded operation
 *   (else the generic test).
 * - Each instruction's effect is inlined with its operands as constants: register numbers,
 *   immediates, displacements, RIP-relative addresses, branch targets.
 * - Memory operands take the MMU's L0 hit path inline (same tables, same hit test). When any
 *   access of an instruction would miss, nothing has been changed yet, and the block leaves
 *   before it (`missExit`): the run loop interprets that instruction, so page walks, EPT
 *   violations, faults and self-modifying-code reports happen in the interpreter's code, with its
 *   state, and the instruction after it may start a block of its own.
 * - Instructions the translator does not inline call their interpreter handler ("call-out"), with
 *   RIP, the instruction length, the flags, the registers and the clock set as the interpreter
 *   would have them.
 * - The clock: the interpreter adds `costs.instruction` to the clock after every instruction and
 *   counts it. A block keeps the clock in a local and adds the cycles of the instructions since
 *   it last did where anything can look — before a call-out, at every exit, at a loop's back
 *   edge — in one addition. The bits are the interpreter's: the clock is fractional (walk
 *   references cost 20.6 cycles), but the run loop enters a block only when its whole span stays
 *   below the next power of two above the clock (`clockBound`), where adding whole cycles is
 *   exact, so n additions of the cost equal one of n times it (a cost that is not a whole number
 *   is added after every instruction, as the interpreter does). The instruction count is an
 *   integer and is added once on leaving (k before a call-out in the k-th instruction, taken
 *   back after it), so whatever runs inside — a walk charging references, a fault, a VMM at an
 *   EPT violation — sees the interpreter's clock and count.
 * - The interpreter stops a slice after the instruction that reaches `limit`. A block runs only
 *   when its whole length fits (`blockSpan`); after a call-out (which may add walk or device
 *   cycles) it checks again, and leaves after that instruction if it no longer fits, or if the
 *   instruction branched, asked to stop the batch, or dropped decoded code of the block's page
 *   (self-modifying code: the rest of the block may be stale).
 * - Exits assign locals only (`leave`), and one shared epilogue writes the CPU's state: code that
 *   runs rarely (a side exit, the end of a slice) then has no property access of its own, which
 *   V8 would compile as a deoptimisation point and, once taken, send the block back to its
 *   interpreter until it is optimised again.

 * A block ends at an unconditional control transfer, at a system instruction, at the end of the
 * page, at an instruction not yet decoded or crossing the page, at a native stub, or at MAX_LENGTH;
 * conditional branches inside it are side exits, and a branch back to its first instruction runs
 * it again in place (a loop) when the run loop would have. An exit to another translated block
 * runs next without the run loop (chaining) when the run loop would have run that block next
 * (`epilogue`): through the link the exit remembers, or, for an exit whose target changes (a
 * RET, an indirect jump), the block the code cache holds at the target (`BlockContext.blockAt`).
 */
export class BlockTranslator {
  /** Blocks translated, and translations refused (the first instruction cannot start a block). */
  translated = 0;
  refused = 0;
  /** Translations that found their function compiled already (by this or another translator). */
  reused = 0;

  /**
   * Translates the block starting at linear `rip`, host-physical `pa`, from the decoded page
   * `page` of the code cache; null when there is nothing to translate there.
   */
  translate(page: ReadonlyArray<Insn | null>, rip: number, pa: number, cost: number, generation: number): TranslatedBlock | null {
    const insns: Insn[] = [];
    const rips: number[] = [];
    let off = pa & 0xfff;
    let r = rip;
    while (insns.length < MAX_LENGTH && off < 4096) {
      const insn = page[off];
      if (insn === null || insn === undefined || insn.native || off + insn.len > 4096) break;
      insns.push(insn);
      rips.push(r);
      if (ENDS_BLOCK.has(insn.fn)) {
        // A JMP or CALL with a relative target in the same page, not yet in the block: the block
        // goes on at the target (a superblock), as execution will; the jump itself becomes
        // nothing and the call its push.
        if (insn.fn !== ctl.jmpRel && insn.fn !== ctl.callRel) break;
        const target = r + insn.len + insn.imm;
        if (!canonical(target) || target - (target & 4095) !== r - (r & 4095) || rips.includes(target)) break;
        off = target & 4095;
        r = target;
        continue;
      }
      off += insn.len;
      r += insn.len;
    }
    if (insns.length === 0) {
      this.refused++;
      return null;
    }
    const key = blockKey(insns, rip, cost);
    let c = COMPILED.get(key);
    if (c !== undefined) {
      this.reused++;
    } else {
      const text = new BlockSource(insns, rips, cost);
      const source = text.build();
      const fn = new Function('H', 'cond', 'getCF', 'getLT', 'getOF', 'mulu32', 'W', source)(
        insns.map((i) => i.fn), cond, getCF, getLT, getOF, mulu32, W,
      ) as BlockFunction;
      if (COMPILED.size >= MAX_COMPILED) COMPILED.clear();
      c = { fn, source, slots: text.slots };
      COMPILED.set(key, c);
    }
    this.translated++;
    return new TranslatedBlock(c.fn, pa >>> 12, generation, rip, cost, blockSpan(insns.length, cost), insns, c.source, c.slots);
  }
}

/**
 * What a block's source is made of: its linear address (the instructions follow from it, as
 * RIP-relative operands and branch targets do), the cost per instruction, and each instruction's
 * handler and every decoded field. Equal keys give equal sources, so the key stands for the source
 * in the cache below without building it (building it is most of a translation's cost).
 */
function blockKey(insns: readonly Insn[], rip: number, cost: number): string {
  let key = `${rip}:${cost}`;
  for (const i of insns) {
    let id = HANDLER_IDS.get(i.fn);
    if (id === undefined) {
      id = HANDLER_IDS.size;
      HANDLER_IDS.set(i.fn, id);
    }
    key += `;${id},${i.len},${i.op},${i.size},${i.reg},${i.rm},${i.mod},${i.base},${i.index},${i.scale},${i.disp},` +
      `${i.seg},${i.a32 ? 1 : 0},${i.imm},${i.immHi},${i.imm2},${i.rep},${i.pfx},${i.lock ? 1 : 0},${i.rex ? 1 : 0},${i.opcode}`;
  }
  return key;
}

/** A number per handler, for block keys. */
const HANDLER_IDS = new Map<Handler, number>();

/**
 * Compiled block functions for the whole process, by block key (see blockKey), with their source.
 * A machine that runs code another one ran (the same program in a new machine, a fork, a second
 * run of a benchmark) gets the function V8 has already optimised instead of compiling and warming
 * up another: the source holds everything the block does except its decoded records, frame and
 * generation, which it reads from the TranslatedBlock it is called with. The bound: a guest that
 * keeps generating new code (a JIT, a loop rewriting its own immediates) must not grow the host's
 * memory without limit, so the cache starts over when it holds this many sources (each a few KiB
 * of text plus V8's code for it).
 */
const COMPILED = new Map<string, { fn: BlockFunction; source: string; slots: number }>();
const MAX_COMPILED = 4096;

/**
 * The clock headroom a block of n instructions needs before `limit`: n × cost + 1. A cost that is
 * not a whole number is added after each instruction, as the interpreter adds it (the sum of n
 * additions may then differ from n × cost in the last bits); the extra cycle covers that, so the
 * interpreter would not have stopped inside the block. When the test fails the run loop
 * interprets, which is always exact.
 */
export function blockSpan(n: number, cost: number): number {
  return n * cost + 1;
}

/** Longest block, in instructions. */
export const MAX_LENGTH = 64;


/** Handlers after which a block ends: unconditional transfers and system instructions. */
const ENDS_BLOCK = new Set<Handler>([
  ctl.jmpRel, ctl.jmpInd, ctl.callRel, ctl.callInd, ctl.ret, ctl.retImm,
  ...Object.values(sys).filter((f): f is Handler => typeof f === 'function'),
]);

/** ALU handlers the translator inlines: form and operation (not ADC/SBB, which read CF). */
interface AluForm {
  /**
   * 'rm': op r/m(reg), reg; 'r': op reg, r/m(reg); 'i': op r/m(reg), imm; 'm': op reg, [mem];
   * 'mr': op [mem], reg; 'mi': op [mem], imm (read-modify-write, or a read for CMP and TEST).
   */
  form: 'rm' | 'r' | 'i' | 'm' | 'mr' | 'mi';
  wide: boolean;
  op: number;
}
const ALU = new Map<Handler, AluForm>();
function aluForms(list: readonly Handler[], form: AluForm['form'], wide: boolean): void {
  list.forEach((h, op) => {
    if (op !== alu.OP_ADC && op !== alu.OP_SBB) ALU.set(h, { form, wide, op });
  });
}
aluForms(alu.ALURMR32_R, 'rm', false);
aluForms(alu.ALURRM32_R, 'r', false);
aluForms(alu.ALURMI32_R, 'i', false);
aluForms(alu.ALURRM32_M, 'm', false);
aluForms(alu.ALURMR32_M, 'mr', false);
aluForms(alu.ALURMI32_M, 'mi', false);
aluForms(alu.ALURMR64_R, 'rm', true);
aluForms(alu.ALURMR64_M, 'mr', true);
aluForms(alu.ALURMI64_M, 'mi', true);
aluForms(alu.ALURRM64_R, 'r', true);
aluForms(alu.ALURMI64_R, 'i', true);
aluForms(alu.ALURRM64_M, 'm', true);

/** Flag kind of each ALU operation (alu.ts's order). */
const ALU_KIND = [K_ADD, K_LOGIC, -1, -1, K_LOGIC, K_SUB, K_LOGIC, K_SUB, K_LOGIC];

const JCC = new Map<Handler, number>(ctl.JCC.map((h, cc) => [h, cc]));

const TWO_32 = 4294967296;
/** Left shift that brings the sign bit of an 8/16/32-bit value to bit 31 (flags.ts). */
const SIGN_SHIFT = [24, 16, 0, 0];

function canonical(a: number): boolean {
  return a < CANONICAL_LIMIT && a >= -CANONICAL_LIMIT;
}

/** The lazy-flag fields of Interp (flags.ts) a block keeps in locals, without their leading `f`. */
const FLAG_FIELDS = ['op', 'a', 'ah', 'b', 'bh', 'r', 'rh', 'cf'];
const EMPTY = new Set<string>();
/** `s.fop`, `s.fa` … in emitted code (the longer names first). */
const FLAG_FIELD = /\bs\.f(op|ah|bh|rh|cf|a|b|r)\b/g;
/** A write of a flag local (`Fop = …`), and any use of one. */
const FLAG_WRITE = /\bF(op|ah|bh|rh|cf|a|b|r) = /g;
const FLAG_LOCAL = /\bF(op|ah|bh|rh|cf|a|b|r)\b/g;
/** A general register's half in emitted code (`lo[3]`), its local (`Rl3`), a write of one, any use. */
const GPR_LO = /\blo\[(\d+)\]/g;
const GPR_HI = /\bhi\[(\d+)\]/g;
const GPR_WRITE = /\bR([lh]\d+) = /g;
const GPR_LOCAL = /\bR([lh]\d+)\b/g;

/** The source text of one block. */
class BlockSource {
  private readonly out: string[] = [];
  /** Context fields the body uses (loaded once at entry). */
  private readonly uses = new Set<string>();
  /** The fop the block's last inlined flag-setting instruction recorded (-1: none). */
  private knownFop = -1;
  /** Whether the instruction being emitted calls out: never, on its slow path, or always. */
  private check: 'none' | 'always' = 'none';
  private readonly span: number;
  /** The instruction being emitted. */
  private cur = 0;
  /** Whether the block branches back to its first instruction (runs again in place). */
  private loops = false;
  /** Exits that may chain to a successor block (`epilogue`): the length of `TranslatedBlock.links`. */
  slots = 0;
  /**
   * Instructions emitted since the clock local `cy` was last brought up to date (`syncClock`),
   * when `batch`: their cycles are added in one addition where the clock is looked at — before
   * a handler call, at every exit, at a loop's back edge — instead of one addition after each
   * instruction. The sum is the same to the last bit: the run loop enters a block only when
   * its whole span stays below the next power of two above the clock (`clockBound`), so
   * every partial sum of whole-cycle costs is exactly representable, and n additions of the
   * cost equal one addition of n times it.
   */
  private pending = 0;
  /** Whether the per-instruction cost is a whole number of cycles (see `pending`). */
  private readonly batch: boolean;

  constructor(
    private readonly insns: Insn[],
    private readonly rips: number[],
    private readonly cost: number,
  ) {
    this.span = blockSpan(insns.length, cost);
    this.batch = Number.isInteger(cost) && cost > 0;
    // Registers in locals pay for their loads at entry and stores at exit only when the block
    // runs many instructions per entry: when it loops in place. A short block entered millions
    // of times (qsort's, seven instructions between calls and returns) would load and store
    // every register it names at each entry, and its source grows by a third.
    this.registerLocals = insns.some((i, k) => {
      const target = rips[k]! + i.len + i.imm;
      return (JCC.has(i.fn) || i.fn === ctl.jmpRel) && target === rips[0];
    });
  }

  /** Whether the general registers live in locals (see the constructor). */
  private readonly registerLocals: boolean;

  build(): string {
    const n = this.insns.length;
    // Where each instruction's lines start in `out` (for the flag fields each one writes).
    const starts: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = this.insns[k]!;
      starts.push(this.out.length);
      this.cur = k;
      this.emit(`// ${k}: ${i.fn.name} at ${this.rips[k]!.toString(16)}`);
      this.check = 'none';
      this.instruction(k, i);
      // The instruction's cycle: added now when the cost is not a whole number, else counted
      // and added where the clock is looked at (see `pending`).
      if (this.batch) this.pending++;
      else this.emit(`cy += ${this.cost};`);
      const check = this.pendingCheck();
      if (check === 'always') this.emit(this.afterCallOut(k));
    }
    // Falling off the end (unreachable after a last instruction that always leaves).
    this.cur = n - 1;
    this.emit(this.leave(n - 1, false, String(this.rips[n - 1]! + this.insns[n - 1]!.len)));
    starts.push(this.out.length);
    const body = this.resolveFlags(starts);
    if (this.slots > 0) this.use('s', 'generation', 'mmu', 'xTag', 'xHostW');
    const vars = ['s', 'cpu', 'lo', 'hi', 'mmu', 'rTag', 'wTag', 'rHostW', 'wHostW', 'xTag', 'xHostW', 'u8', 'u16', 'u32', 'x32', 'f64', 'generation']
      .filter((v) => this.uses.has(v) || v === 'cpu' || (v === 's' && /\bs\.f/.test(body.flagLoads)))
      .map((v) => `const ${v} = x.${v};`);
    const consts = this.insns.map((_, k) => `const H${k} = H[${k}];`);
    return [
      ...consts,
      // Named after the block's guest address: a host profile or a deoptimisation trace says which block.
      `return function block_${this.rips[0]! < 0 ? 'n' : ''}${Math.abs(this.rips[0]!).toString(16)}(x, limit, b) {`,
      ...vars,
      'let a = 0, o = 0, t = 0, j = 0, c = 0, xr = NaN, xc = 0, xm = 0, xb = false, xl = 0, xk = 0, xt = 0, xs = -1, v = 0, vh = 0, r = 0, rh = 0, done = 0, nb = null, cy = cpu.cycles, m = ' + (this.uses.has('mmu') ? 'mmu.l0Mode' : '0') + ';',
      body.flagLoads,
      'run: for (;;) {',
      ...body.lines,
      '}',
      this.epilogue(body.flushFlags, body.flushRegs),
      '};',
    ].join('\n');
  }

  /**
   * The general registers the block names (`lo[3]`, `hi[3]` in the emitted text) become locals
   * (`Rl3`, `Rh3`) in the same way as the flags below: every one is loaded at entry and after a
   * handler call, and those instructions 0..k wrote are stored back at FLUSHREGS(k) (all of them
   * when the block loops in place), so a handler, a fault and the run loop see the interpreter's
   * registers.
   *
   * The lazy flag fields live in JavaScript locals inside the block (`Fop`, `Fa` … for `s.fop`,
   * `s.fa` …): loaded at entry, written back (the ones the block may have changed) wherever
   * something outside the block can look — before a handler call, before the generic flag
   * helpers, and when the block leaves — and loaded again after a handler call. The interpreter
   * therefore sees its own lazy-flag state at every such point, while flag results that a later
   * instruction overwrites inside the block are never stored (V8 drops the dead local writes).
   * The placeholders FLUSH(k) and RELOAD left in the text are resolved here: FLUSH(k) writes back
   * the fields instructions 0..k write (all the block writes, when it loops in place).
   */
  private resolveFlags(starts: number[]): { lines: string[]; flagLoads: string; flushFlags: string; flushRegs: string } {
    const n = this.insns.length;
    const written: Array<Set<string>> = [];
    const acc = new Set<string>();
    const used = new Set<string>();
    const regsWritten: Array<Set<string>> = [];
    const regAcc = new Set<string>();
    const regsUsed = new Set<string>();
    for (let k = 0; k <= n; k++) {
      for (let l = starts[k]!; l < starts[k + 1]! && k < n; l++) {
        const line = this.out[l]!;
        for (const m of line.matchAll(FLAG_WRITE)) acc.add(m[1]!);
        for (const m of line.matchAll(FLAG_LOCAL)) used.add(m[1]!);
        for (const m of line.matchAll(GPR_WRITE)) regAcc.add(m[1]!);
        for (const m of line.matchAll(GPR_LOCAL)) regsUsed.add(m[1]!);
      }
      written.push(new Set(acc));
      regsWritten.push(new Set(regAcc));
    }
    // Registers: every one the block names is loaded at entry and after each handler call, and
    // those written so far are stored back at the same points as the flags.
    const regOrder = [...regsUsed].sort();
    const regArray = (r: string): string => `${r[0] === 'l' ? 'lo' : 'hi'}[${r.slice(1)}]`;
    const regsAll = regsWritten[n]!;
    const flushRegs = (k: number, after: boolean): string => {
      const set = this.loops ? regsAll : k === 0 && !after ? EMPTY : regsWritten[after ? k : k - 1]!;
      const parts = regOrder.filter((r) => set.has(r)).map((r) => `${regArray(r)} = R${r}`);
      return parts.length === 0 ? '0' : parts.join(', ');
    };
    const reloadRegs = regOrder.map((r) => `R${r} = ${regArray(r)}`).join(', ') || '0';
    const regLoads = regOrder.length === 0 ? '' : `let ${regOrder.map((r) => `R${r} = ${regArray(r)}`).join(', ')};`;
    const all = written[n]!;
    const order = FLAG_FIELDS.filter((f) => used.has(f) || all.has(f));
    // FLUSH(k, before): the fields instructions 0..k-1 (before) or 0..k wrote. A block that loops
    // in place may have written any of them in an earlier pass, so it writes back all of them and
    // loads them all at entry (a local it writes back before writing it must hold the field).
    const flush = (k: number, after: boolean): string => {
      const set = this.loops ? all : k === 0 && !after ? EMPTY : written[after ? k : k - 1]!;
      const parts = order.filter((f) => set.has(f)).map((f) => `s.f${f} = F${f}`);
      return parts.length === 0 ? '0' : parts.join(', ');
    };
    const reload = order.map((f) => `F${f} = s.f${f}`).join(', ') || '0';
    const lines = this.out.map((line) => line
      .replace(/\u0001(\d+):(\d)\u0001/g, (_m, k: string, a: string) => flush(Number(k), a === '1'))
      .replace(/\u0002/g, reload)
      .replace(/\u0003(\d+):(\d)\u0003/g, (_m, k: string, a: string) => flushRegs(Number(k), a === '1'))
      .replace(/\u0004/g, reloadRegs));
    // Every exit stores back all the flag locals the block writes (`epilogue`), so they are loaded
    // at entry: a local not yet written by the time of an exit stores the field's own value.
    const declared = order.map((f) => `F${f} = s.f${f}`);
    const flagLoads = order.length === 0 ? '' : `let ${declared.join(', ')};`;
    const flushAllFlags = order.filter((f) => all.has(f)).map((f) => `s.f${f} = F${f}`).join(', ') || '0';
    const flushAllRegs = regOrder.filter((r) => regsAll.has(r)).map((r) => `${regArray(r)} = R${r}`).join(', ') || '0';
    return { lines, flagLoads: regLoads + flagLoads, flushFlags: flushAllFlags, flushRegs: flushAllRegs };
  }

  /**
   * Writes the flag locals back to the interpreter (an expression; see resolveFlags): before the
   * current instruction's own flag writes (handler calls, the generic flag helpers) or after them
   * (leaving the block).
   */
  private flushFlags(after = false): string {
    this.use('s');
    return `\u0001${this.cur}:${after ? 1 : 0}\u0001`;
  }

  /**
   * Writes the register locals back to the CPU's register arrays (an expression; see
   * resolveFlags), like flushFlags: those instructions 0..k-1 (or 0..k, `after`) wrote.
   */
  private flushRegs(after = false): string {
    this.use('lo', 'hi');
    return `\u0003${this.cur}:${after ? 1 : 0}\u0003`;
  }

  /** Loads every register local again (after a handler ran, which may have written any). */
  private reloadRegs(): string {
    this.use('lo', 'hi');
    return '\u0004';
  }

  /** Loads the flag locals from the interpreter again (after a handler ran; an expression). */
  private reloadFlags(): string {
    return '\u0002';
  }

  private pendingCheck(): 'none' | 'always' {
    return this.check;
  }

  private emit(line: string): void {
    const l = line.replace(FLAG_FIELD, 'F$1');
    this.out.push(this.registerLocals ? l.replace(GPR_LO, 'Rl$1').replace(GPR_HI, 'Rh$1') : l);
  }

  private use(...names: string[]): void {
    for (const n of names) this.uses.add(n);
  }

  // ---- Leaving the block.

  /**
   * Leaves after instruction k (the clock `cy` counts it already): the CPU's clock, instruction
   * count, RIP (unless the instruction branched and set it), and the per-instruction fields as the
   * interpreter leaves them.
   */
  private leave(k: number, branched: boolean, target: string | null = null, rip: string | null = null, charge = false): string {
    const i = this.insns[k]!;
    // A branch the handler made has set cpu.rip already (NaN: keep it).
    const r = branched ? (rip ?? target ?? 'NaN') : String(this.rips[k]! + i.len);
    const chain = target === null ? 'xs = -1;' : `xt = ${target}; xs = ${this.slots++};`;
    return `{ xr = ${r}; xc = ${(this.pending + (charge ? 1 : 0)) * this.cost}; xb = ${branched}; xl = ${i.len}; xk = ${k + 1}; ${chain} break run; }`;
  }

  /**
   * Leaves before instruction k, whose memory access would miss the MMU's L0 hit cache: nothing
   * of it has happened, and the state is the interpreter's before it (k instructions done). The
   * run loop interprets it (`BlockContext.miss`), where the walk, the fault or the VM exit
   * happens in the interpreter's code.
   */
  private missExit(k: number): string {
    const i = this.insns[k]!;
    return `{ xr = ${this.rips[k]}; xc = ${this.pending * this.cost}; xb = false; xl = ${i.len}; xk = ${k}; xs = -1; xm = 1; break run; }`;
  }

  /** Leaves from inside instruction k to `rip`, the clock `cy` already counting it (a loop's back edge at the limit). */
  private leaveSynced(k: number, rip: string): string {
    const p = this.pending;
    this.pending = 0;
    const text = this.leave(k, true, null, rip);
    this.pending = p;
    return text;
  }

  /** Brings the clock local up to date (see `pending`): before anything outside the block reads it. */
  private syncClock(): string {
    const p = this.pending;
    this.pending = 0;
    return p === 0 ? '' : `cy += ${p * this.cost}; `;
  }

  /**
   * Leaves from inside instruction k, which branched to `target` (an expression; RIP is set to
   * it): its cycles counted, then on to the successor block if one is linked (`epilogue`).
   */
  private exitBranched(k: number, target: string): string {
    return this.leave(k, true, target, null, true);
  }

  /**
   * Block chaining: after the block has left (the CPU's state written back as the run loop
   * expects it), returns the block linked to this exit for the run loop to call at once, without
   * its look-up (`TranslatedBlock.links`, filled by the run
   * loop the first time it went from here to a block) when the run loop would have run that same
   * block next: it starts at `target`; in the same code page it is in the same frame (the run
   * loop fetches only when execution enters another page), in another page the fetch would hit
   * the MMU's L0 execute entry and find the block's frame; its code page unchanged since translation, the
   * cost per instruction unchanged, the whole block fitting before the limit, and nothing having
   * asked to stop the batch. A dynamic target (RET, an indirect jump or call) is checked against
   * the linked block's address, so the link works as a one-entry cache; when it holds another
   * target (or none yet) the block the code cache holds at the target is taken instead
   * (`BlockContext.blockAt`). When the test fails the block returns null and records (`x.from`,
   * `x.slot`) for the run loop to link the exit. The
   * successor is returned rather than called: a call from block to block would let V8 inline one
   * block's code into another's and recompile both whenever a link changed, and would nest
   * without bound (JavaScript has no tail calls).
   *
   * Every exit sets what differs between exits (`xr` the RIP to set or NaN, `xc` cycles not yet
   * added, `xb` branched, `xl` length, `xk` instructions done, `xt` target, `xs` link slot or -1,
   * `xm` left before a missing access) and breaks out to this one shared sequence, so the source
   * does not repeat it at each exit; it stores back every flag and register local the block
   * writes (all of them hold the interpreter's values: they are loaded at entry).
   */
  private epilogue(flushFlags: string, flushRegs: string): string {
    const leave = `if (xr === xr) cpu.rip = xr; cy += xc; cpu.branched = xb; cpu.instrLength = xl; cpu.cycles = cy; cpu.instructions += done + xk; x.miss = xm; ${flushFlags}; ${flushRegs};`;
    if (this.slots === 0) return `${leave}\nreturn null;`;
    const page = this.rips[0]! - (this.rips[0]! & 4095);
    // Another code page: the run loop would fetch there, and chaining may stand in for that fetch
    // only when it is an L0 hit (no TLB look-up, no walk, no counter); the run loop then goes on
    // in the page of the last block it ran.
    const fetched = '(o = xt & 4095, t = ((xt >>> 12) & 255) + m, xTag[t] === xt - o && xHostW[t] === nb.frame * 1024)';
    const where = `(xt - (xt & 4095) === ${page} ? nb.frame === b.frame : ${fetched})`;
    return `${leave}\nif (xs >= 0) { nb = b.links[xs]; if (nb === null || nb.rip !== xt) nb = x.blockAt(xt, b, m); if (nb !== null && !(nb.rip === xt && nb.generation === generation[nb.frame] && nb.cost === ${this.cost} && cy + nb.span < limit && !s.stop && ${where})) nb = null; }\n` +
      'if (nb === null && xs >= 0) { x.from = b; x.slot = xs; }\nreturn nb;';
  }

  /**
   * Instruction k through its interpreter handler, with the interpreter's view: RIP, length,
   * `branched` cleared, the clock and the count of the k instructions before it. The checks that
   * may end the block follow the instruction (`afterCallOut`).
   */
  private callOut(k: number): string {
    this.use('s', 'mmu', 'generation');
    this.check = 'always';
    const i = this.insns[k]!;
    const pre = `cpu.instructions += done + ${k}; `;
    const post = ` cpu.instructions -= done + ${k};`;
    return `cpu.rip = ${this.rips[k]}; cpu.instrLength = ${i.len}; cpu.branched = false; cpu.cycles = cy; ${pre}${this.flushFlags()}; ${this.flushRegs()}; H${k}(s, b.insns[${k}]); ${this.reloadFlags()}; ${this.reloadRegs()};${post} cy = cpu.cycles; m = mmu.l0Mode;`;
  }

  /**
   * After an instruction that went through its handler: leave if it branched, stopped the batch,
   * dropped decoded code of this page, or if the clock (walks, devices) no longer leaves room for
   * the rest of the block.
   */
  private afterCallOut(k: number): string {
    let text = `if (cpu.branched) ${this.leave(k, true)}`;
    if (k < this.insns.length - 1) {
      text += ` if (s.stop || generation[b.frame] !== b.generation || !(cy + ${this.span} < limit)) ${this.leave(k, false)}`;
    }
    return text;
  }

  // ---- Operands.

  private reg64(r: number): string {
    this.use('lo', 'hi');
    return `((hi[${r}] | 0) * ${TWO_32} + lo[${r}])`;
  }

  /** The effective address as `ea` in operands.ts computes it (same operations, same order). */
  private ea(k: number): string {
    const i = this.insns[k]!;
    // FS:disp / GS:disp (TLS, the stack protector's canary): eaSlow adds the base to the displacement.
    if (i.seg !== SEG_NONE) return `(${i.disp} + cpu.${i.seg === SEG_FS ? 'fsBase' : 'gsBase'})`;
    let e = `${i.disp}`;
    if (i.base >= 0) e = `(${e} + ${i.base === BASE_RIP ? String(this.rips[k]! + i.len) : this.reg64(i.base)})`;
    if (i.index >= 0) e = `(${e} + ${this.reg64(i.index)} * ${i.scale})`;
    return e;
  }

  /**
   * Whether the memory operand is one the block computes itself: 64-bit address size, and either no
   * segment base or an FS/GS base plus a displacement alone.
   */
  private plainMemory(i: Insn): boolean {
    return !i.a32 && (i.seg === SEG_NONE || (i.base < 0 && i.index < 0));
  }

  /**
   * The L0 hit test of `a` for an access of `size` bytes (reads: rTag; writes: wTag, and rTag
   * as well for read-modify-write), as mmu.ts's read/write fast paths test it.
   */
  private hit(size: number, write: boolean): string {
    this.use('mmu');
    const tag = write ? 'wTag' : 'rTag';
    this.use(tag);
    const align = size === 1 ? '' : ` && (o & ${size - 1}) === 0`;
    return `(o = a & 4095, t = ((a >>> 12) & 255) + m, ${tag}[t] === a - o${align})`;
  }

  /** A load of `size` bytes at `a` after a read hit test: the value (low half; high in vh). */
  private load(size: number): string {
    this.use('rHostW');
    switch (size) {
      case 1: this.use('u8'); return 'u8[rHostW[t] * 4 + o]';
      case 2: this.use('u16'); return 'u16[rHostW[t] * 2 + (o >>> 1)]';
      case 4: this.use('u32'); return 'u32[rHostW[t] + (o >>> 2)]';
      default: this.use('u32'); return '(j = rHostW[t] + (o >>> 2), vh = u32[j + 1], u32[j])';
    }
  }

  /** A store after a write hit test. */
  private store(size: number, value: string, valueHi: string): string {
    this.use('wHostW');
    switch (size) {
      case 1: this.use('u8'); return `u8[wHostW[t] * 4 + o] = ${value};`;
      case 2: this.use('u16'); return `u16[wHostW[t] * 2 + (o >>> 1)] = ${value};`;
      case 4: this.use('u32'); return `u32[wHostW[t] + (o >>> 2)] = ${value};`;
      default: this.use('u32'); return `j = wHostW[t] + (o >>> 2); u32[j] = ${value}; u32[j + 1] = ${valueHi};`;
    }
  }

  /** An instruction whose accesses all hit: `guard` tests (and may load), `body` commits. */
  private guarded(k: number, guard: string, body: string): void {
    this.emit(`if (${guard}) { ${body} } else ${this.missExit(k)}`);
  }

  /** The byte register r (AH..BH for 16..19) as getReg8 reads it. */
  private reg8(r: number): string {
    this.use('lo');
    return r < 16 ? `(lo[${r}] & 0xff)` : `((lo[${r - 16}] >>> 8) & 0xff)`;
  }

  // ---- Instructions.

  private instruction(k: number, i: Insn): void {
    const f = i.fn;
    const a = ALU.get(f);
    if (a !== undefined && (a.form === 'mr' || a.form === 'mi')) {
      if (this.plainMemory(i)) return this.aluMemDest(k, i, a);
    } else if (a !== undefined && (a.form !== 'm' || this.plainMemory(i))) return this.aluOp(k, i, a);
    const cc = JCC.get(f);
    if (cc !== undefined && canonical(this.rips[k]! + i.len + i.imm)) return this.jcc(k, i, cc);
    this.use('lo', 'hi');
    const R = i.reg;
    const M = i.rm;
    switch (f) {
      case mov.movRR64: return this.emit(`lo[${R}] = lo[${M}]; hi[${R}] = hi[${M}];`);
      case mov.movRR32: return this.emit(`lo[${R}] = lo[${M}]; hi[${R}] = 0;`);
      case mov.movRI32: return this.emit(`lo[${M}] = ${i.imm}; hi[${M}] = 0;`);
      case mov.movRI64: return this.emit(`lo[${M}] = ${i.imm}; hi[${M}] = ${i.immHi};`);
      case mov.movzx_r:
        if (i.size === 4 || i.size === 8) {
          const src = i.op === 1 ? this.reg8(M) : `(lo[${M}] & 0xffff)`;
          return this.emit(`lo[${R}] = ${src}; hi[${R}] = 0;`);
        }
        break;
      case mov.lea:
        if (i.size === 4 || i.size === 8) return this.lea(k, i);
        break;
      case alu.incDec32_r: {
        // INC and DEC keep CF: the record carries the one the previous operation left (getCF).
        // Without calling out for the kinds whose CF needs no arithmetic: INC, DEC and
        // result-defined flags hold it in fcf, logic operations clear it.
        this.use('s');
        const fop = ((i.op === 0 ? K_INC : K_DEC) << 2) | 2;
        this.knownFop = fop;
        const cf = `(s.fop >= ${K_INC << 2} && s.fop < ${(K_RESULT + 1) << 2} ? s.fcf : s.fop >= ${K_LOGIC << 2} && s.fop < ${K_INC << 2} ? 0 : (${this.flushFlags()}, getCF(s)))`;
        return this.emit(
          `v = lo[${M}]; r = (v ${i.op === 0 ? '+' : '-'} 1) >>> 0; lo[${M}] = r; hi[${M}] = 0; ` +
          `s.fcf = ${cf}; s.fop = ${fop}; s.fa = v; s.fb = 1; s.fr = r;`,
        );
      }
      case sh.shiftImm32_r:
        return this.shiftImm(i);
      case mov.setcc_r: {
        // moves.ts setcc_r: the byte register (AH..BH for 16..19) gets the condition, 1 or 0.
        const test = this.condition(i.op);
        if (M < 16) return this.emit(`lo[${M}] = (lo[${M}] & 0xffffff00) | (${test} ? 1 : 0);`);
        return this.emit(`lo[${M - 16}] = (lo[${M - 16}] & 0xffff00ff) | (${test} ? 256 : 0);`);
      }
      case ctl.nop:
        return; // an empty handler: only the instruction's cycle
      case mov.cmov_r: {
        // moves.ts cmov_r: a 32-bit CMOVcc zero-extends its destination even when not taken.
        if (i.size === 8) return this.emit(`if (${this.condition(i.op)}) { lo[${R}] = lo[${M}]; hi[${R}] = hi[${M}]; }`);
        if (i.size === 4) return this.emit(`if (${this.condition(i.op)}) lo[${R}] = lo[${M}]; hi[${R}] = 0;`);
        break;
      }
      case alu.unary_r: {
        // alu.ts unary_r, NOT (no flags) and NEG (flags of 0 - a) of 32- and 64-bit registers.
        if (i.op !== 2 && i.op !== 3) break;
        if (i.size === 4) {
          if (i.op === 2) return this.emit(`lo[${M}] = ~lo[${M}] >>> 0; hi[${M}] = 0;`);
          this.use('s');
          this.knownFop = (K_SUB << 2) | 2;
          return this.emit(`v = lo[${M}]; r = -v >>> 0; lo[${M}] = r; hi[${M}] = 0; s.fop = ${(K_SUB << 2) | 2}; s.fa = 0; s.fah = 0; s.fb = v; s.fbh = 0; s.fr = r;`);
        }
        if (i.size === 8) {
          if (i.op === 2) return this.emit(`lo[${M}] = ~lo[${M}] >>> 0; hi[${M}] = ~hi[${M}] >>> 0;`);
          this.use('s');
          this.knownFop = (K_SUB << 2) | 3;
          return this.emit(
            `v = lo[${M}]; vh = hi[${M}]; r = -v >>> 0; rh = (-vh - (v !== 0 ? 1 : 0)) >>> 0; lo[${M}] = r; hi[${M}] = rh; ` +
            `s.fop = ${(K_SUB << 2) | 3}; s.fa = 0; s.fah = 0; s.fb = v; s.fbh = vh; s.fr = r; s.frh = rh;`,
          );
        }
        break;
      }
      case mov.movsx_r: {
        // moves.ts movsx_r: sign-extend the byte, word or dword (MOVSXD) source to 32 or 64 bits.
        if (i.size !== 4 && i.size !== 8) break;
        const src = i.op === 1 ? `((${this.reg8(M)} << 24) >> 24)` : i.op === 2 ? `((lo[${M}] << 16) >> 16)` : `(lo[${M}] | 0)`;
        return this.emit(`v = ${src}; lo[${R}] = v >>> 0; hi[${R}] = ${i.size === 8 ? 'v < 0 ? 4294967295 : 0' : '0'};`);
      }
      case sh.shift_r:
        if (i.op >= sh.SH_SHL && (i.size === 4 || i.size === 8)) return i.imm2 === 0 ? this.shiftImm(i) : this.shiftCl(i);
        break;
      case md.imul2:
      case md.imul3:
        if ((i.size === 4 || i.size === 8) && (i.mod === 3 || this.plainMemory(i))) return this.imul(k, i);
        break;
      case ctl.jmpRel: {
        const target = this.rips[k]! + i.len + i.imm;
        if (!canonical(target)) break;
        if (this.rips[k + 1] === target) return; // the block goes on at the target
        return this.emit(this.branchTo(k, target));
      }
      default:
    }
    if (this.plainMemory(i)) {
      switch (f) {
        case mov.movLoad64:
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(8, false)})`, `v = ${this.load(8)}; lo[${R}] = v; hi[${R}] = vh;`);
        case mov.movLoad32:
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(4, false)})`, `lo[${R}] = ${this.load(4)}; hi[${R}] = 0;`);
        case mov.movzx_m:
          if (i.size !== 4 && i.size !== 8) break;
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(i.op, false)})`, `lo[${R}] = ${this.load(i.op)}; hi[${R}] = 0;`);
        case mov.movsx_m: {
          // moves.ts movsx_m: a byte, word or dword (MOVSXD) from memory, sign-extended.
          if (i.size !== 4 && i.size !== 8) break;
          const ext = i.op === 1 ? '((v << 24) >> 24)' : i.op === 2 ? '((v << 16) >> 16)' : '(v | 0)';
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(i.op, false)})`,
            `v = ${this.load(i.op)}; v = ${ext}; lo[${R}] = v >>> 0; hi[${R}] = ${i.size === 8 ? 'v < 0 ? 4294967295 : 0' : '0'};`);
        }
        case mov.movStore64:
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(8, true)})`, this.store(8, `lo[${R}]`, `hi[${R}]`));
        case mov.movStore32:
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(4, true)})`, this.store(4, `lo[${R}]`, ''));
        case mov.movStoreN: {
          if (i.size !== 1 && i.size !== 2) break;
          const value = i.size === 1 ? this.reg8(R) : `(lo[${R}] & 0xffff)`;
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(i.size, true)})`, this.store(i.size, value, ''));
        }
        case alu.aluRmIN_m: {
          // CMP/TEST of a byte or word in memory with an immediate (alu.ts aluRmIN_m, read-only forms).
          if ((i.op !== alu.OP_CMP && i.op !== alu.OP_TEST) || (i.size !== 1 && i.size !== 2)) break;
          const fop = (ALU_KIND[i.op]! << 2) | (i.size === 1 ? 0 : 1);
          const mask = i.size === 1 ? 0xff : 0xffff;
          this.use('s');
          this.knownFop = fop;
          const r = i.op === alu.OP_CMP ? `((v - ${i.imm}) & ${mask}) >>> 0` : `((v & ${i.imm}) & ${mask}) >>> 0`;
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(i.size, false)})`,
            `v = ${this.load(i.size)}; s.fop = ${fop}; s.fa = v; s.fb = ${i.imm}; s.fr = ${r}; s.fcf = 0;`);
        }
        case mov.movMI: {
          const size = i.size;
          const value = size === 1 ? String(i.imm & 0xff) : size === 2 ? String(i.imm & 0xffff) : String(i.imm);
          return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(size, true)})`, this.store(size, value, String(i.immHi)));
        }
        default:
      }
    }
    if (f === str.movs && i.rep === 0 && !i.a32 && i.seg === SEG_NONE) return this.movs(k, i);
    if ((f === str.movs || f === str.stos) && i.rep !== 0 && !i.a32) {
      // REP with RCX = 0 (memcpy and memset of fewer than 8 bytes: `rep movsq` of n / 8 qwords)
      // does nothing but retire (string-ops.ts returns before any access); any other count
      // goes through the handler.
      this.knownFop = -1;
      this.use('cpu', 'lo', 'hi');
      return this.emit(`${this.syncClock()}if ((lo[1] | hi[1]) === 0) cpu.branched = false; else { ${this.callOut(k)} }`);
    }
    const sseOp = this.sse(k, i);
    if (sseOp) return;
    switch (f) {
      case ctl.pushR:
        if (i.size !== 8) break;
        // push64: the new RSP, the store, then RSP (a faulting PUSH changes nothing).
        return this.guarded(
          k,
          `(v = lo[${M}], vh = hi[${M}], r = (lo[4] - 8) >>> 0, rh = lo[4] < 8 ? (hi[4] - 1) >>> 0 : hi[4], a = (rh | 0) * ${TWO_32} + r, ${this.hit(8, true)})`,
          `${this.store(8, 'v', 'vh')} lo[4] = r; hi[4] = rh;`,
        );
      case ctl.popR:
        if (i.size !== 8) break;
        // pop64: the load, RSP + 8, then the destination (POP RSP keeps the loaded value).
        return this.guarded(
          k,
          `(a = (hi[4] | 0) * ${TWO_32} + lo[4], ${this.hit(8, false)})`,
          `v = ${this.load(8)}; r = (lo[4] + 8) >>> 0; if (r < 8) hi[4] = (hi[4] + 1) >>> 0; lo[4] = r; lo[${M}] = v; hi[${M}] = vh;`,
        );
      case ctl.callRel: {
        const next = this.rips[k]! + i.len;
        const target = next + i.imm;
        if (!canonical(target)) break;
        return this.guarded(
          k,
          `(r = (lo[4] - 8) >>> 0, rh = lo[4] < 8 ? (hi[4] - 1) >>> 0 : hi[4], a = (rh | 0) * ${TWO_32} + r, ${this.hit(8, true)})`,
          `${this.store(8, String(next >>> 0), String(Math.floor(next / TWO_32) >>> 0))} lo[4] = r; hi[4] = rh;` +
            (this.rips[k + 1] === target ? '' : ` ${this.exitBranched(k, String(target))}`),
        );
      }
      case ctl.jmpInd:
        // control.ts jmpInd: the target (register, or a qword in memory) must be canonical, else #GP in the handler.
        if (i.mod === 3) {
          return this.guarded(k, `(r = ${this.reg64(M)}, r < ${CANONICAL_LIMIT} && r >= ${-CANONICAL_LIMIT})`, this.exitBranched(k, 'r'));
        }
        if (!this.plainMemory(i)) break;
        return this.guarded(
          k,
          `(a = ${this.ea(k)}, ${this.hit(8, false)} && (v = ${this.load(8)}, r = (vh | 0) * ${TWO_32} + v, r < ${CANONICAL_LIMIT} && r >= ${-CANONICAL_LIMIT}))`,
          this.exitBranched(k, 'r'),
        );
      case ctl.callInd: {
        // control.ts callInd, register form: the target is checked before the push (#GP pushes nothing).
        if (i.mod !== 3) break;
        const next = this.rips[k]! + i.len;
        return this.guarded(
          k,
          `(v = ${this.reg64(M)}, v < ${CANONICAL_LIMIT} && v >= ${-CANONICAL_LIMIT}) && (r = (lo[4] - 8) >>> 0, rh = lo[4] < 8 ? (hi[4] - 1) >>> 0 : hi[4], a = (rh | 0) * ${TWO_32} + r, ${this.hit(8, true)})`,
          `${this.store(8, String(next >>> 0), String(Math.floor(next / TWO_32) >>> 0))} lo[4] = r; hi[4] = rh; ${this.exitBranched(k, 'v')}`,
        );
      }
      case ctl.ret:
        // The target is read and checked before RSP moves; a non-canonical one faults in the handler.
        return this.guarded(
          k,
          `(a = (hi[4] | 0) * ${TWO_32} + lo[4], ${this.hit(8, false)} && (v = ${this.load(8)}, r = (vh | 0) * ${TWO_32} + v, r < ${CANONICAL_LIMIT} && r >= ${-CANONICAL_LIMIT}))`,
          `t = lo[4] + 8; lo[4] = t >>> 0; if (t > 4294967295) hi[4] = (hi[4] + 1) >>> 0; ${this.exitBranched(k, 'r')}`,
        );
      default:
    }
    // Anything else: the interpreter's handler.
    this.knownFop = -1;
    this.emit(this.syncClock() + this.callOut(k));
  }

  /**
   * The scalar-double SSE2 instructions compiled code is made of (sse.ts): MOVSD loads, stores and
   * register moves, ADDSD/SUBSD/MULSD/DIVSD, PXOR/XORPS of registers, CVTSI2SD from a 32-bit
   * register. XMM registers are the interpreter's `x32`/`f64` views; a memory source also lands
   * in the scratch register 16, as src64 leaves it. An arithmetic result is stored only when it is
   * a number and MXCSR rounds to nearest: a NaN (x86's NaN rules pick the payload) or a directed
   * rounding mode goes through the handler, nothing having changed yet. True when emitted.
   */
  private sse(k: number, i: Insn): boolean {
    const f = i.fn;
    if (f !== sse.movsdLoad && f !== sse.movsdStore && f !== sse.pint && f !== sse.cvtsi2s && f !== sse.farith) return false;
    this.use('x32', 'f64');
    const d = i.reg;
    const m = i.rm;
    if (f === sse.movsdLoad) {
      if (i.mod === 3) {
        this.emit(`x32[${d * 4}] = x32[${m * 4}]; x32[${d * 4 + 1}] = x32[${m * 4 + 1}];`);
        return true;
      }
      if (!this.plainMemory(i)) return false;
      this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(8, false)})`,
        `v = ${this.load(8)}; x32[${d * 4}] = v; x32[${d * 4 + 1}] = vh; x32[${d * 4 + 2}] = 0; x32[${d * 4 + 3}] = 0;`);
      return true;
    }
    if (f === sse.movsdStore) {
      if (i.mod === 3) {
        this.emit(`x32[${m * 4}] = x32[${d * 4}]; x32[${m * 4 + 1}] = x32[${d * 4 + 1}];`);
        return true;
      }
      if (!this.plainMemory(i)) return false;
      this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(8, true)})`, this.store(8, `x32[${d * 4}]`, `x32[${d * 4 + 1}]`));
      return true;
    }
    if (f === sse.pint && i.mod === 3 && i.op === 0xef) {
      const line = [0, 1, 2, 3].map((w) => `x32[${d * 4 + w}] = x32[${d * 4 + w}] ^ x32[${m * 4 + w}];`).join(' ');
      this.emit(line);
      return true;
    }
    if (f === sse.cvtsi2s && i.pfx === 3 && i.mod === 3 && i.size !== 8) {
      this.use('lo');
      this.emit(`f64[${d * 2}] = lo[${m}] | 0;`);
      return true;
    }
    if (f === sse.farith && i.pfx === 3) {
      const op = i.op === sse.F_ADD ? '+' : i.op === sse.F_SUB ? '-' : i.op === sse.F_MUL ? '*' : i.op === sse.F_DIV ? '/' : null;
      if (op === null) return false;
      const rounding = '((cpu.mxcsr >>> 13) & 3) === 0';
      if (i.mod === 3) {
        this.guarded(k, `(${rounding} && (r = f64[${d * 2}] ${op} f64[${m * 2}], r === r))`, `f64[${d * 2}] = r;`);
        return true;
      }
      if (!this.plainMemory(i)) return false;
      this.guarded(k,
        `(${rounding} && (a = ${this.ea(k)}, ${this.hit(8, false)}) && (v = ${this.load(8)}, x32[64] = v, x32[65] = vh, r = f64[${d * 2}] ${op} f64[32], r === r))`,
        `f64[${d * 2}] = r;`);
      return true;
    }
    return false;
  }

  /**
   * MOVSB/W/D/Q without a REP prefix, 64-bit addresses, no segment override (string-ops.ts movs):
   * the read at RSI and the write at RDI must both hit L0, then RSI and RDI move by the size,
   * down when RFLAGS.DF is set. A miss changes nothing and runs the handler.
   */
  private movs(k: number, i: Insn): void {
    const size = i.size;
    const align = (o: string): string => (size === 1 ? '' : ` && (${o} & ${size - 1}) === 0`);
    this.use('mmu', 'rTag', 'wTag', 'rHostW', 'wHostW', 'lo', 'hi');
    const read = `(a = ${this.reg64(6)}, o = a & 4095, t = ((a >>> 12) & 255) + m, rTag[t] === a - o${align('o')})`;
    const write = `(v = ${this.load(size)}, a = ${this.reg64(7)}, o = a & 4095, t = ((a >>> 12) & 255) + m, wTag[t] === a - o${align('o')})`;
    const step = `r = (cpu.rflags & ${DF}) !== 0 ? ${-size} : ${size};`;
    const move = (reg: number): string =>
      // RSI/RDI ± the size on their 32-bit halves: a carry or borrow moves the high half.
      `t = lo[${reg}] + r; lo[${reg}] = t >>> 0; if (t > 4294967295) hi[${reg}] = (hi[${reg}] + 1) >>> 0; else if (t < 0) hi[${reg}] = (hi[${reg}] - 1) >>> 0;`;
    this.guarded(k, `${read} && ${write}`, `${this.store(size, 'v', 'vh')} ${step} ${move(6)} ${move(7)}`);
  }

  /**
   * SHL/SAL/SHR/SAR of a 32- or 64-bit register by an immediate (or by 1), as shifts.ts's
   * shiftValue and applyShiftFlags compute it: a masked count of 0 changes nothing but the
   * zero-extension of a 32-bit destination; else the result-defined flags (K_RESULT) with CF the
   * last bit shifted out and OF as the SDM defines it for a count of 1 (kept for larger counts,
   * as the interpreter does).
   */
  private shiftImm(i: Insn): void {
    const d = i.rm;
    const wide = i.size === 8;
    const c = i.imm & (wide ? 63 : 31);
    if (c === 0) return this.emit(wide ? '' : `hi[${d}] = 0;`);
    this.use('s');
    this.knownFop = (K_RESULT << 2) | (wide ? 3 : 2);
    const left = i.op === sh.SH_SHL || i.op === sh.SH_SAL;
    let calc: string;
    if (!wide) {
      if (i.op === sh.SH_SHR) calc = `r = v >>> ${c}; t = (v >>> ${c - 1}) & 1; j = v >>> 31;`;
      else if (i.op === sh.SH_SAR) calc = `r = (v >> ${c}) >>> 0; t = (v >> ${c - 1}) & 1; j = 0;`;
      else calc = `r = (v << ${c}) >>> 0; t = (v >>> ${32 - c}) & 1; j = (r >>> 31) ^ t;`;
      return this.emit(`v = lo[${d}]; ${calc} lo[${d}] = r; hi[${d}] = 0; s.fop = ${(K_RESULT << 2) | 2}; s.fr = r; s.frh = 0; s.fcf = t; s.fb = j;`);
    }
    // The bit of the 64-bit value (v, vh) at position n (shifts.ts bit64), with n known here.
    const bit = (n: number): string => (n < 32 ? `((v >>> ${n}) & 1)` : `((vh >>> ${n - 32}) & 1)`);
    if (left) {
      calc = c < 32
        ? `rh = ((vh << ${c}) | (v >>> ${32 - c})) >>> 0; r = (v << ${c}) >>> 0;`
        : `rh = (v << ${c - 32}) >>> 0; r = 0;`;
      calc += ` t = ${bit(64 - c)}; j = (rh >>> 31) ^ t;`;
    } else if (i.op === sh.SH_SHR) {
      calc = c < 32
        ? `rh = vh >>> ${c}; r = ((v >>> ${c}) | (vh << ${32 - c})) >>> 0;`
        : `rh = 0; r = vh >>> ${c - 32};`;
      calc += ` t = ${bit(c - 1)}; j = vh >>> 31;`;
    } else {
      calc = c < 32
        ? `rh = (vh >> ${c}) >>> 0; r = ((v >>> ${c}) | (vh << ${32 - c})) >>> 0;`
        : `rh = (vh >> 31) >>> 0; r = (vh >> ${c - 32}) >>> 0;`;
      calc += ` t = ${bit(c - 1)}; j = 0;`;
    }
    this.emit(`v = lo[${d}]; vh = hi[${d}]; ${calc} lo[${d}] = r; hi[${d}] = rh; s.fop = ${(K_RESULT << 2) | 3}; s.fr = r; s.frh = rh; s.fcf = t; s.fb = j;`);
  }

  /**
   * IMUL r, r/m (imul2) and IMUL r, r/m, imm (imul3) of 32 or 64 bits, register or memory source
   * (mul-div.ts imulCore): 32-bit CF = OF = whether the signed product needs more bits, set now;
   * 64-bit the low half now and CF/OF lazily (K_MUL), with the operands in imulCore's order
   * (imul2: the destination times the source; imul3: the source times the immediate).
   */
  private imul(k: number, i: Insn): void {
    this.use('s', 'lo', 'hi');
    this.knownFop = i.size === 8 ? (K_MUL << 2) | 3 : (K_RESULT << 2) | 2;
    const R = i.reg;
    const three = i.fn === md.imul3;
    const wide = i.size === 8;
    // The source in v (and vh).
    const src = i.mod === 3 ? `v = lo[${i.rm}]; vh = hi[${i.rm}];` : '';
    // a, o: the first factor; v, vh: the second.
    const factors = three ? `a = v; o = vh; v = ${i.imm}; vh = ${i.immHi};` : `a = lo[${R}]; o = hi[${R}];`;
    const body = wide
      ? `${factors} r = mulu32(a, v); rh = (W[${MH}] + Math.imul(a, vh) + Math.imul(o, v)) >>> 0; lo[${R}] = r; hi[${R}] = rh; ` +
        `s.fop = ${(K_MUL << 2) | 3}; s.fa = a; s.fah = o; s.fb = v; s.fbh = vh; s.fr = r; s.frh = rh;`
      : `${factors} r = Math.imul(a, v); t = (a | 0) * (v | 0) !== r ? 1 : 0; ` +
        `lo[${R}] = r >>> 0; hi[${R}] = 0; s.fop = ${(K_RESULT << 2) | 2}; s.fr = r >>> 0; s.frh = 0; s.fcf = t; s.fb = t;`;
    if (i.mod === 3) return this.emit(`${src} ${body}`);
    const size = wide ? 8 : 4;
    this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(size, false)})`, `v = ${this.load(size)};${wide ? '' : ' vh = 0;'} ${body}`);
  }

  /**
   * SHL/SAL/SHR/SAR of a 32- or 64-bit register by CL (shifts.ts shift_r): shiftImm's formulas
   * with the count known only at run time. A masked count of 0 changes no flag and only
   * zero-extends a 32-bit destination, as setReg does.
   */
  private shiftCl(i: Insn): void {
    const d = i.rm;
    const wide = i.size === 8;
    this.use('s', 'lo', 'hi');
    // A masked count of 0 leaves the previous fop: condition() tests the recorded one at run time.
    this.knownFop = (K_RESULT << 2) | (wide ? 3 : 2);
    const left = i.op === sh.SH_SHL || i.op === sh.SH_SAL;
    const count = `c = lo[1] & ${wide ? 63 : 31};`;
    if (!wide) {
      let calc: string;
      if (i.op === sh.SH_SHR) calc = 'r = v >>> c; t = (v >>> (c - 1)) & 1; j = v >>> 31;';
      else if (i.op === sh.SH_SAR) calc = 'r = (v >> c) >>> 0; t = (v >> (c - 1)) & 1; j = 0;';
      else calc = 'r = (v << c) >>> 0; t = (v >>> (32 - c)) & 1; j = (r >>> 31) ^ t;';
      return this.emit(`${count} if (c === 0) { hi[${d}] = 0; } else { v = lo[${d}]; ${calc} lo[${d}] = r; hi[${d}] = 0; ` +
        `s.fop = ${(K_RESULT << 2) | 2}; s.fr = r; s.frh = 0; s.fcf = t; s.fb = j; }`);
    }
    // The bit of (v, vh) at run-time position p (shifts.ts bit64).
    const bit = (p: string): string => `((${p}) < 32 ? (v >>> (${p})) & 1 : (vh >>> ((${p}) - 32)) & 1)`;
    let calc: string;
    if (left) {
      calc = 'if (c < 32) { rh = ((vh << c) | (v >>> (32 - c))) >>> 0; r = (v << c) >>> 0; } else { rh = (v << (c - 32)) >>> 0; r = 0; } ' +
        `t = ${bit('64 - c')}; j = (rh >>> 31) ^ t;`;
    } else if (i.op === sh.SH_SHR) {
      calc = 'if (c < 32) { rh = vh >>> c; r = ((v >>> c) | (vh << (32 - c))) >>> 0; } else { rh = 0; r = vh >>> (c - 32); } ' +
        `t = ${bit('c - 1')}; j = vh >>> 31;`;
    } else {
      calc = 'if (c < 32) { rh = (vh >> c) >>> 0; r = ((v >>> c) | (vh << (32 - c))) >>> 0; } else { rh = (vh >> 31) >>> 0; r = (vh >> (c - 32)) >>> 0; } ' +
        `t = ${bit('c - 1')}; j = 0;`;
    }
    this.emit(`${count} if (c !== 0) { v = lo[${d}]; vh = hi[${d}]; ${calc} lo[${d}] = r; hi[${d}] = rh; ` +
      `s.fop = ${(K_RESULT << 2) | 3}; s.fr = r; s.frh = rh; s.fcf = t; s.fb = j; }`);
  }

  private aluOp(k: number, i: Insn, f: AluForm): void {
    const op = f.op;
    const writes = op < alu.OP_CMP;
    const fop = (ALU_KIND[op]! << 2) | (f.wide ? 3 : 2);
    this.knownFop = fop;
    this.use('s', 'lo', 'hi');
    const d = f.form === 'rm' || f.form === 'i' ? i.rm : i.reg;
    if (!f.wide) {
      const b = f.form === 'rm' ? `lo[${i.reg}]` : f.form === 'r' ? `lo[${i.rm}]` : f.form === 'i' ? String(i.imm) : 'v';
      const body =
        `a = lo[${d}]; r = ${compute32(op, 'a', 'b')}; ` +
        (writes ? `lo[${d}] = r; hi[${d}] = 0; ` : '') +
        `s.fop = ${fop}; s.fa = a; s.fb = b; s.fr = r; s.fcf = 0;`;
      // b is a block-scoped constant of the instruction (the source read before the destination).
      if (f.form === 'm') {
        return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(4, false)})`, `v = ${this.load(4)}; { const b = v; ${body} }`);
      }
      return this.emit(`{ const b = ${b}; ${body} }`);
    }
    let bl: string;
    let bh: string;
    switch (f.form) {
      case 'rm': bl = `lo[${i.reg}]`; bh = `hi[${i.reg}]`; break;
      case 'r': bl = `lo[${i.rm}]`; bh = `hi[${i.rm}]`; break;
      case 'i': bl = String(i.imm); bh = String(i.immHi); break;
      default: bl = 'v'; bh = 'vh';
    }
    const body =
      `const al = lo[${d}], ah = hi[${d}]; ${compute64(op)} ` +
      (writes ? `lo[${d}] = r; hi[${d}] = rh; ` : '') +
      `s.fop = ${fop}; s.fa = al; s.fah = ah; s.fb = bl; s.fbh = bh; s.fr = r; s.frh = rh; s.fcf = 0;`;
    if (f.form === 'm') {
      return this.guarded(k, `(a = ${this.ea(k)}, ${this.hit(8, false)})`, `v = ${this.load(8)}; { const bl = v, bh = vh; ${body} }`);
    }
    this.emit(`{ const bl = ${bl}, bh = ${bh}; ${body} }`);
  }

  /**
   * op [mem], reg/imm (alu.ts aluMem32/aluMem64): the read, the operation, the write unless CMP or
   * TEST, the flags. Both the read and the write must hit L0 (the interpreter makes two accesses;
   * if either would miss, the handler makes both).
   */
  private aluMemDest(k: number, i: Insn, f: AluForm): void {
    const op = f.op;
    const writes = op < alu.OP_CMP;
    const size = f.wide ? 8 : 4;
    const fop = (ALU_KIND[op]! << 2) | (f.wide ? 3 : 2);
    this.knownFop = fop;
    this.use('s', 'lo', 'hi');
    const guard = `(a = ${this.ea(k)}, ${this.hit(size, false)}${writes ? ` && wTag[t] === a - o` : ''})`;
    if (writes) this.use('wTag');
    if (!f.wide) {
      const b = f.form === 'mr' ? `lo[${i.reg}]` : String(i.imm);
      return this.guarded(k, guard,
        `{ const b = ${b}; a = ${this.load(4)}; r = ${compute32(op, 'a', 'b')}; ` +
        (writes ? this.store(4, 'r', '') + ' ' : '') +
        `s.fop = ${fop}; s.fa = a; s.fb = b; s.fr = r; s.fcf = 0; }`);
    }
    const [bl, bh] = f.form === 'mr' ? [`lo[${i.reg}]`, `hi[${i.reg}]`] : [String(i.imm), String(i.immHi)];
    // compute64 uses t, the L0 slot: the store's word index is taken first.
    if (writes) this.use('wHostW', 'u32');
    this.guarded(k, guard,
      `{ const bl = ${bl}, bh = ${bh}; v = ${this.load(8)}; const al = v, ah = vh; ${writes ? 'j = wHostW[t] + (o >>> 2); ' : ''}${compute64(op)} ` +
      (writes ? 'u32[j] = r; u32[j + 1] = rh; ' : '') +
      `s.fop = ${fop}; s.fa = al; s.fah = ah; s.fb = bl; s.fbh = bh; s.fr = r; s.frh = rh; s.fcf = 0; }`);
  }

  private lea(k: number, i: Insn): void {
    // moves.ts `lea`: halves summed separately, the carry out of the low sum added to the high.
    const disp = i.disp;
    let l = String(disp >>> 0);
    let h = String(disp < 0 ? -1 : 0);
    const b = i.base;
    if (b >= 0) {
      if (b === BASE_RIP) {
        const next = this.rips[k]! + i.len;
        l = `(${l} + ${next >>> 0})`;
        h = `(${h} + ${Math.floor(next / TWO_32)})`;
      } else {
        l = `(${l} + lo[${b}])`;
        h = `(${h} + hi[${b}])`;
      }
    }
    const x = i.index;
    if (x >= 0) {
      l = `(${l} + lo[${x}] * ${i.scale})`;
      h = `(${h} + hi[${x}] * ${i.scale})`;
    }
    const d = i.reg;
    if (i.size === 8) this.emit(`v = ${l}; vh = ${h}; lo[${d}] = v >>> 0; hi[${d}] = (vh + Math.floor(v / ${TWO_32})) >>> 0;`);
    else this.emit(`lo[${d}] = ${l} >>> 0; hi[${d}] = 0;`);
  }

  private jcc(k: number, i: Insn, cc: number): void {
    const target = this.rips[k]! + i.len + i.imm;
    this.emit(`if (${this.condition(cc)}) ${this.branchTo(k, target)}`);
  }

  /** Condition code cc (flags.ts cond), specialised for the flag operation the block last recorded. */
  private condition(cc: number): string {
    const fast = this.knownFop >= 0 ? fastCondition(cc, this.knownFop) : null;
    this.use('s');
    const generic = `(${this.flushFlags()}, cond(s, ${cc}))`;
    return fast === null ? generic : `(s.fop === ${this.knownFop} ? ${fast.replace('getLT(s)', `(${this.flushFlags()}, getLT(s))`)} : ${generic})`;
  }

  /**
   * A taken branch of instruction k to `target`. A branch back to the block's first instruction
   * runs the block again in place when the run loop would: the same code page (no new fetch),
   * the block still valid (a call-out that dropped code of the page has left already), and the
   * whole block fitting before the limit again.
   */
  private branchTo(k: number, target: number): string {
    if (target === this.rips[0]) {
      this.loops = true;
      return `{ cy += ${(this.pending + 1) * this.cost}; if (cy + ${this.span} < limit) { done += ${k + 1}; continue; } ${this.leaveSynced(k, String(target))} }`;
    }
    return this.exitBranched(k, String(target));
  }
}

/** aluCompute (alu.ts) for a 32-bit operation, as an expression. */
function compute32(op: number, a: string, b: string): string {
  switch (op) {
    case alu.OP_ADD: return `((${a} + ${b}) & 0xffffffff) >>> 0`;
    case alu.OP_OR: return `((${a} | ${b}) & 0xffffffff) >>> 0`;
    case alu.OP_AND: case alu.OP_TEST: return `((${a} & ${b}) & 0xffffffff) >>> 0`;
    case alu.OP_XOR: return `((${a} ^ ${b}) & 0xffffffff) >>> 0`;
    default: return `((${a} - ${b}) & 0xffffffff) >>> 0`; // SUB, CMP
  }
}

/** aluCompute64 (alu.ts) without carry in: statements setting r and rh from al, ah, bl, bh. */
function compute64(op: number): string {
  switch (op) {
    case alu.OP_ADD: return `t = al + bl; rh = (ah + bh + (t >= ${TWO_32} ? 1 : 0)) >>> 0; r = t >>> 0;`;
    case alu.OP_OR: return 'rh = (ah | bh) >>> 0; r = (al | bl) >>> 0;';
    case alu.OP_AND: case alu.OP_TEST: return 'rh = (ah & bh) >>> 0; r = (al & bl) >>> 0;';
    case alu.OP_XOR: return 'rh = (ah ^ bh) >>> 0; r = (al ^ bl) >>> 0;';
    default: return `t = al - bl; rh = (ah - bh - (t < 0 ? 1 : 0)) >>> 0; r = t >>> 0;`;
  }
}

/**
 * A condition code evaluated directly from the lazy flag fields, for a known fop of ADD, SUB/CMP
 * or a logic operation (flags.ts's getCF/getZF/getSF/getLT specialised); null when the generic
 * `cond` is used.
 */
export function fastCondition(cc: number, fop: number): string | null {
  const kind = fop >> 2;
  const sc = fop & 3;
  if (kind !== K_ADD && kind !== K_SUB && kind !== K_LOGIC && kind !== K_INC && kind !== K_DEC && kind !== K_RESULT) return null;
  const sh = SIGN_SHIFT[sc]!;
  const zf = sc === 3 ? '((s.fr | s.frh) === 0)' : '(s.fr === 0)';
  const sf = sc === 3 ? '((s.frh >>> 31) !== 0)' : `(((s.fr << ${sh}) >>> 31) !== 0)`;
  let cf: string;
  let lt: string;
  if (kind === K_SUB) {
    cf = sc === 3 ? '(s.fah < s.fbh || (s.fah === s.fbh && s.fa < s.fb))' : '(s.fa < s.fb)';
    lt = sc === 3 ? '((s.fah | 0) < (s.fbh | 0) || (s.fah === s.fbh && s.fa < s.fb))' : `((s.fa << ${sh}) < (s.fb << ${sh}))`;
  } else if (kind === K_ADD) {
    cf = sc === 3 ? '(s.frh < s.fah || (s.frh === s.fah && s.fr < s.fa))' : '(s.fr < s.fa)';
    lt = 'getLT(s)';
  } else if (kind === K_LOGIC) {
    cf = 'false';
    lt = sf;
  } else {
    // INC, DEC and result-defined flags: CF is the recorded one; OF needs getOF (getLT).
    cf = '(s.fcf !== 0)';
    lt = 'getLT(s)';
  }
  switch (cc) {
    case 2: return cf;
    case 3: return `!${cf}`;
    case 4: return zf;
    case 5: return `!${zf}`;
    case 6: return `(${cf} || ${zf})`;
    case 7: return `!(${cf} || ${zf})`;
    case 8: return sf;
    case 9: return `!${sf}`;
    case 12: return lt;
    case 13: return `!${lt}`;
    case 14: return `(${zf} || ${lt})`;
    case 15: return `(!${zf} && !${lt})`;
    default: return null;
  }
}
