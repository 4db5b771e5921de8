import type { Cpu, Interpreter } from '../cpu.js';
import type { Machine } from '../machine.js';
import { BlockTranslator } from '../jit/block-translator.js';
import { BlockContext, TranslatedBlock } from '../jit/translated-block.js';
import { CodeCache } from './code-cache.js';
import { crossedPage, decode } from './decoder.js';
import { materialize } from './flags.js';
import { Handler, Insn } from './insn.js';
import { Interp } from './interp-state.js';
import * as alu from './alu.js';
import * as ctl from './control.js';
import * as mov from './moves.js';
import * as md from './mul-div.js';
import * as sh from './shifts.js';

/**
 * The x86-64 interpreter of one CPU. `step` fetches through the MMU (`fetchAddress`: execute
 * permission, NX, U/S, EPT X, the TLB and its walks) whenever execution enters a code page,
 * looks each instruction up in the physical-page code cache (decoding it on a miss), sets
 * `cpu.instrLength`, runs its handler, advances RIP unless it branched, and charges
 * `costs.instruction` per instruction. It goes on with the next instruction while the clock is
 * below `limit`, and returns before a native stub or after an instruction that hands over to the
 * CPU (mode switches, TLB maintenance, VM exits, STI, HLT …), so batching is invisible to the
 * CPU's run loop: `cpu.step()` (limit 0) still executes exactly one instruction.
 *
 * Arithmetic flags are lazy inside a batch and written back to `cpu.rflags` whenever control
 * leaves the interpreter: at the end of `step`, when a fault propagates, and in `sync` (called by
 * the CPU before an EPT-violation VM exit saves RFLAGS).
 *
 * The per-page fetch is a modelling choice: a code page's translation is checked once per run
 * of instructions in it (every branch out of the page, every batch, re-checks), so a TLB entry
 * of the code page evicted by data accesses in the middle of such a run is not re-walked until
 * the run leaves the page. Everything that can change a translation ends the batch.
 */
export class X86Interpreter extends Interp implements Interpreter {
  readonly cache: CodeCache;
  /** The block translator (null: every instruction is interpreted), and what its blocks work on. */
  readonly translator: BlockTranslator | null;
  private readonly blockContext: BlockContext;
  /**
   * Translated blocks entered from the run loop, and the instructions they (and the blocks they
   * chained to) retired (host-side figures, not machine statistics).
   */
  blockRuns = 0;
  blockInstructions = 0;
  /** `clockBound` of the clock when a block was last entered from the run loop. */
  private clockBound = 1;

  constructor(cpu: Cpu, jit = jitByDefault()) {
    super(cpu);
    this.cache = CodeCache.of(cpu.mem);
    this.cache.attach(cpu.mmu);
    this.translator = jit ? new BlockTranslator() : null;
    this.blockContext = new BlockContext(this, this.cache.generation, this.cache);
  }

  step(cpu: Cpu, limit = 0, firstPa = -1): void {
    const mmu = this.mmu;
    const cache = this.cache;
    const costs = cpu.costs;
    const translator = this.translator;
    const generation = cache.generation;
    this.stop = false;
    let first = true;
    // Whether the instruction at RIP was reached by a branch (or starts the batch, or follows a
    // block): only such instructions count towards translating a block from them.
    let head = true;
    // The instruction count when the running block started (-1: none), for `blockInstructions`
    // when a fault leaves the block.
    let blockStart = -1;
    const ctx = this.blockContext;
    // The block whose exit `ctx.slot` led here without chaining, until the next instruction.
    let linkFrom: TranslatedBlock | null = null;
    let linkSlot = 0;
    // A fault may have left a block's exit or page behind.
    ctx.takeExit();
    ctx.miss = 0;
    // The last block left before an instruction whose access misses L0: interpret it (the
    // block would leave again at once), and let the instruction after it start a block.
    let interpret = false;
    // The code page being executed: its linear base, host base and decoded-instruction array.
    // The fetch is translated (and permission-checked) when execution enters a page; anything
    // that could change the translation (INVLPG, MOV CR3, mode switches, VM exits, faults)
    // ends the batch, and SMC invalidation clears the array in place.
    let vPage = NaN;
    let hostBase = 0;
    let code: Array<Insn | null> | null = null;
    try {
      for (;;) {
        const rip = cpu.rip;
        const off = rip & 0xfff;
        if (rip - off !== vPage) {
          // The CPU translated the first fetch already (to look for a native there).
          const pa = first && firstPa >= 0 ? firstPa : mmu.fetchAddress(rip);
          vPage = rip - off;
          hostBase = pa - off;
          code = cache.page(pa >>> 12);
        }
        let insn = code !== null ? code[off]! : null;
        if (insn === null) {
          insn = this.decodeAt(rip, hostBase + off);
          code = cache.page(hostBase >>> 12);
        }
        if (insn.native && !first) break; // the CPU runs natives
        if (translator !== null && !interpret) {
          const b = insn.block;
          if (b !== null) {
            if (b.generation === generation[b.frame] && b.cost === costs.instruction) {
              // The whole block must fit before the slice's limit (else the interpreter steps).
              // ... and below the next power of two above the clock, so that the block may add
              // its instructions' cycles in one addition (BlockSource `pending`).
              const clock = cpu.cycles;
              if (!(clock < this.clockBound && clock >= this.clockBound * 0.5)) this.clockBound = clockBound(clock);
              const lim = limit < this.clockBound ? limit : this.clockBound;
              if (b.rip === rip && clock + b.span < lim) {
                // The block the last one left to without chaining: link that exit to this one
                // (the exit checks, each time, that the run loop would run it: BlockSource.epilogue).
                if (linkFrom !== null) linkFrom.links[linkSlot] = b;
                blockStart = cpu.instructions;
                // Chained blocks: each returns its successor when the run loop would run it next.
                let next = b.run(ctx, lim, b);
                let last = b;
                let chained = 0;
                while (next !== null) {
                  last = next;
                  chained++;
                  next = next.run(ctx, lim, next);
                }
                ctx.chained += chained;
                linkFrom = ctx.takeExit();
                linkSlot = ctx.slot;
                if (last !== b) {
                  // Chaining went on in the last block's code page (in another page, one the
                  // epilogue found through the fetch's L0 entry): the run loop goes on there.
                  vPage = last.rip - (last.rip & 0xfff);
                  hostBase = last.frame * 4096;
                  code = cache.page(last.frame);
                }
                this.blockRuns++;
                this.blockInstructions += cpu.instructions - blockStart;
                blockStart = -1;
                interpret = ctx.miss !== 0;
                ctx.miss = 0;
                if (this.stop || !(cpu.cycles < limit)) break;
                first = false;
                head = true;
                continue;
              }
            } else {
              insn.block = null; // its page's code changed, or the cost model did
              insn.heat = 0;
            }
          } else if (head && insn.heat >= 0 && ++insn.heat >= TRANSLATE_AFTER && code !== null) {
            insn.block = translator.translate(code, rip, hostBase + off, costs.instruction, generation[hostBase >>> 12]!);
            if (insn.block === null) insn.heat = -1;
          }
        }
        linkFrom = null;
        cpu.instrLength = insn.len;
        cpu.branched = false;
        // The most frequent handlers are called directly (and may be inlined); the rest
        // through the record's function.
        switch (insn.kind) {
          case 1: alu.aluRmI64_r_add(this, insn); break;
          case 2: ctl.jne(this, insn); break;
          case 3: mov.movRR64(this, insn); break;
          case 4: alu.aluRmI64_r_cmp(this, insn); break;
          case 5: alu.aluRmR64_r_cmp(this, insn); break;
          case 6: alu.aluRmR64_r_add(this, insn); break;
          case 7: md.imul2(this, insn); break;
          case 8: ctl.je(this, insn); break;
          case 9: mov.movzx_m(this, insn); break;
          case 10: sh.shift_r(this, insn); break;
          case 11: alu.aluRmR32_r_xor(this, insn); break;
          case 12: mov.movMI(this, insn); break;
          case 13: mov.movzx_r(this, insn); break;
          case 14: sh.shiftImm32_r(this, insn); break;
          case 15: mov.movLoad64(this, insn); break;
          case 16: ctl.jle(this, insn); break;
          case 17: ctl.popR(this, insn); break;
          case 18: ctl.pushR(this, insn); break;
          case 19: mov.movStoreN(this, insn); break;
          case 20: mov.movLoad32(this, insn); break;
          case 21: alu.aluRRm32_m_xor(this, insn); break;
          case 22: mov.movStore64(this, insn); break;
          case 23: alu.aluRmIN_m(this, insn); break;
          case 24: mov.lea(this, insn); break;
          case 25: mov.movRR32(this, insn); break;
          case 26: ctl.ret(this, insn); break;
          case 27: ctl.jmpRel(this, insn); break;
          case 28: alu.aluRmR32_r_add(this, insn); break;
          case 29: ctl.callRel(this, insn); break;
          case 30: alu.aluRmR64_r_test(this, insn); break;
          case 31: ctl.jb(this, insn); break;
          case 32: alu.aluRmR32_r_cmp(this, insn); break;
          case 33: alu.aluRmR32_r_test(this, insn); break;
          case 34: alu.aluRmI64_r_sub(this, insn); break;
          case 35: alu.incDec32_r(this, insn); break;
          case 36: mov.movStore32(this, insn); break;
          case 37: alu.aluRmI32_r_and(this, insn); break;
          case 38: alu.aluRmI32_r_cmp(this, insn); break;
          case 39: alu.aluRmR64_r_sub(this, insn); break;
          case 40: mov.movRI32(this, insn); break;
          case 41: alu.aluRmI32_r_add(this, insn); break;
          case 42: alu.aluRmI32_r_sub(this, insn); break;
          case 43: alu.aluRmR64_r_and(this, insn); break;
          case 44: alu.aluRmR64_r_xor(this, insn); break;
          case 45: alu.aluRmR32_r_sub(this, insn); break;
          case 46: alu.aluRmR32_r_and(this, insn); break;
          case 47: alu.aluRRm64_m_add(this, insn); break;
          case 48: alu.aluRRm64_m_cmp(this, insn); break;
          case 49: alu.aluRRm32_m_add(this, insn); break;
          case 50: alu.aluRRm32_m_cmp(this, insn); break;
          case 51: alu.aluRmI64_r_and(this, insn); break;
          case 52: alu.aluRmI64_r_test(this, insn); break;
          case 53: alu.aluRmI32_r_test(this, insn); break;
          case 54: ctl.jl(this, insn); break;
          case 55: ctl.jg(this, insn); break;
          case 56: ctl.jge(this, insn); break;
          case 57: ctl.jae(this, insn); break;
          case 58: ctl.ja(this, insn); break;
          case 59: ctl.jbe(this, insn); break;
          case 60: ctl.js(this, insn); break;
          case 61: ctl.jns(this, insn); break;
          case 62: mov.movRI64(this, insn); break;
          case 63: mov.cmov_r(this, insn); break;
          case 64: mov.setcc_r(this, insn); break;
          default: insn.fn(this, insn);
        }
        if (!cpu.branched) cpu.rip = rip + insn.len;
        cpu.cycles += costs.instruction;
        cpu.instructions++;
        if (this.stop || !(cpu.cycles < limit)) break;
        first = false;
        head = cpu.branched || interpret;
        interpret = false;
      }
    } catch (e) {
      if (blockStart >= 0) this.blockInstructions += cpu.instructions - blockStart;
      materialize(this);
      throw e;
    }
    materialize(this);
  }

  /** Blocks entered by chaining from another block (host-side figure). */
  get chainedRuns(): number {
    return this.blockContext.chained;
  }

  sync(_cpu: Cpu): void {
    materialize(this);
  }

  private decodeAt(rip: number, pa: number): Insn {
    const insn = new Insn();
    decode(this.cpu, rip, pa, insn);
    insn.kind = KINDS.get(insn.fn) ?? 0;
    if (!crossedPage) this.cache.insert(pa, insn);
    return insn;
  }

  /** Decodes (without executing or caching) the instruction at `rip`: for tests and tools. */
  decodeOnly(rip: number): Insn {
    const insn = new Insn();
    decode(this.cpu, rip, this.mmu.fetchAddress(rip), insn);
    return insn;
  }
}

/**
 * Handlers the run loop calls directly, by `Insn.kind` (1-based), ordered by dynamic frequency
 * over the guest programs (examples/guest): the switch cases in `step` follow this order.
 */
const HOT: Handler[] = [
  alu.aluRmI64_r_add, ctl.jne, mov.movRR64, alu.aluRmI64_r_cmp, alu.aluRmR64_r_cmp, alu.aluRmR64_r_add,
  md.imul2, ctl.je, mov.movzx_m, sh.shift_r, alu.aluRmR32_r_xor, mov.movMI,
  mov.movzx_r, sh.shiftImm32_r, mov.movLoad64, ctl.jle, ctl.popR, ctl.pushR,
  mov.movStoreN, mov.movLoad32, alu.aluRRm32_m_xor, mov.movStore64, alu.aluRmIN_m, mov.lea,
  mov.movRR32, ctl.ret, ctl.jmpRel, alu.aluRmR32_r_add, ctl.callRel, alu.aluRmR64_r_test,
  ctl.jb, alu.aluRmR32_r_cmp, alu.aluRmR32_r_test, alu.aluRmI64_r_sub, alu.incDec32_r, mov.movStore32,
  alu.aluRmI32_r_and, alu.aluRmI32_r_cmp, alu.aluRmR64_r_sub, mov.movRI32, alu.aluRmI32_r_add, alu.aluRmI32_r_sub,
  alu.aluRmR64_r_and, alu.aluRmR64_r_xor, alu.aluRmR32_r_sub, alu.aluRmR32_r_and, alu.aluRRm64_m_add, alu.aluRRm64_m_cmp,
  alu.aluRRm32_m_add, alu.aluRRm32_m_cmp, alu.aluRmI64_r_and, alu.aluRmI64_r_test, alu.aluRmI32_r_test, ctl.jl,
  ctl.jg, ctl.jge, ctl.jae, ctl.ja, ctl.jbe, ctl.js,
  ctl.jns, mov.movRI64, mov.cmov_r, mov.setcc_r,
];
const KINDS = new Map<Handler, number>(HOT.map((f, k) => [f, k + 1]));

/** Arrivals by a branch at an instruction before a block is translated from it. */
export const TRANSLATE_AFTER = 16;

/**
 * The smallest power of two above the clock `c` (1 below one cycle, at most 2^53): while the
 * clock stays below it, adding whole numbers of cycles is exact, so a block may add n cycles
 * at once where the interpreter adds one n times, and get the same bits.
 */
export function clockBound(c: number): number {
  let b = 1;
  while (b <= c && b < 9007199254740992) b *= 2;
  return b;
}

/** The block translator is on unless DUNESIM_JIT=0 (`--no-jit` on the command line). */
export function jitByDefault(): boolean {
  return process.env['DUNESIM_JIT'] !== '0';
}

/** `--no-jit`: every machine built from now on (and in worker threads started later) interprets only. */
export function disableJitByDefault(): void {
  process.env['DUNESIM_JIT'] = '0';
}

/** The help line of `--no-jit` (exec, bench, run). */
export const NO_JIT_HELP = 'interpret every instruction, without translating hot blocks to JavaScript (same figures, slower; also DUNESIM_JIT=0)';

/** Installs an interpreter on every CPU of a machine (`jit`: with the block translator). */
export function installInterpreter(machine: Machine, jit = jitByDefault()): X86Interpreter[] {
  return machine.cpus.map((cpu) => {
    const it = new X86Interpreter(cpu, jit);
    cpu.interpreter = it;
    return it;
  });
}
