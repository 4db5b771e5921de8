import type { Cpu, Interpreter } from '../cpu.js';
import type { Machine } from '../machine.js';
import { CodeCache } from './code-cache.js';
import { crossedPage, decode } from './decoder.js';
import { materialize } from './flags.js';
import { Insn } from './insn.js';
import { Interp } from './interp-state.js';
import * as alu from './alu.js';
import * as mov from './moves.js';
import * as ctl from './control.js';

/**
 * The x86-64 interpreter of one CPU. `step` fetches through the MMU (execute permission, NX,
 * U/S, EPT X), looks the instruction up in the physical-page code cache (decoding it on a miss),
 * sets `cpu.instrLength`, runs its handler, advances RIP unless it branched, and charges
 * `costs.instruction`. It goes on with the next instruction while the clock is below `limit`,
 * and returns early before a native stub or after an instruction that hands over to the CPU
 * (mode switches, VM exits, STI …), so batching is invisible to the CPU's run loop.
 *
 * Arithmetic flags are lazy inside a batch and written back to `cpu.rflags` whenever control
 * leaves the interpreter: at the end of `step`, when a fault propagates, and in `sync` (called by
 * the CPU before an EPT-violation VM exit saves RFLAGS).
 */
export class X86Interpreter extends Interp implements Interpreter {
  readonly cache: CodeCache;

  constructor(cpu: Cpu) {
    super(cpu);
    this.cache = CodeCache.of(cpu.mem);
    this.cache.attach(cpu.mmu);
  }

  step(cpu: Cpu, limit = 0): void {
    const mmu = this.mmu;
    const cache = this.cache;
    const costs = cpu.costs;
    this.stop = false;
    let first = true;
    try {
      for (;;) {
        const rip = cpu.rip;
        const pa = mmu.fetchAddress(rip);
        let insn = cache.lookup(pa);
        if (insn === null) insn = this.decodeAt(rip, pa);
        if (insn.native && !first) break; // the CPU runs natives
        cpu.instrLength = insn.len;
        cpu.branched = false;
        switch (insn.kind) {
          case 5: mov.movRR64(this, insn); break;
          case 6: mov.movRR32(this, insn); break;
          case 7: mov.movLoad64(this, insn); break;
          case 8: mov.movLoad32(this, insn); break;
          case 9: ctl.jne(this, insn); break;
          case 10: ctl.je(this, insn); break;
          case 11: ctl.jb(this, insn); break;
          case 12: alu.incDec32_r(this, insn); break;
          case 13: mov.movzx_m(this, insn); break;
          case 14: mov.movMI(this, insn); break;
          case 20: alu.aluRmR64_r_add(this, insn); break;
          case 21: alu.aluRmR64_r_sub(this, insn); break;
          case 22: alu.aluRmR64_r_cmp(this, insn); break;
          case 23: alu.aluRmR64_r_and(this, insn); break;
          case 24: alu.aluRmR64_r_xor(this, insn); break;
          case 25: alu.aluRmR64_r_test(this, insn); break;
          case 26: alu.aluRmR32_r_add(this, insn); break;
          case 27: alu.aluRmR32_r_sub(this, insn); break;
          case 28: alu.aluRmR32_r_cmp(this, insn); break;
          case 29: alu.aluRmR32_r_and(this, insn); break;
          case 30: alu.aluRmR32_r_xor(this, insn); break;
          case 31: alu.aluRmR32_r_test(this, insn); break;
          case 32: alu.aluRmI64_r_add(this, insn); break;
          case 33: alu.aluRmI64_r_sub(this, insn); break;
          case 34: alu.aluRmI64_r_cmp(this, insn); break;
          case 35: alu.aluRmI64_r_and(this, insn); break;
          case 36: alu.aluRmI32_r_add(this, insn); break;
          case 37: alu.aluRmI32_r_sub(this, insn); break;
          case 38: alu.aluRmI32_r_cmp(this, insn); break;
          case 39: alu.aluRmI32_r_and(this, insn); break;
          default: insn.fn(this, insn);
        }
        if (!cpu.branched) cpu.rip = rip + insn.len;
        cpu.cycles += costs.instruction;
        cpu.instructions++;
        if (this.stop || !(cpu.cycles < limit)) break;
        first = false;
      }
    } catch (e) {
      materialize(this);
      throw e;
    }
    materialize(this);
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

const KINDS = new Map<unknown, number>([
  [alu.aluRmR64_r_add, 20], [alu.aluRmR64_r_sub, 21], [alu.aluRmR64_r_cmp, 22], [alu.aluRmR64_r_and, 23], [alu.aluRmR64_r_xor, 24], [alu.aluRmR64_r_test, 25], [alu.aluRmR32_r_add, 26], [alu.aluRmR32_r_sub, 27], [alu.aluRmR32_r_cmp, 28], [alu.aluRmR32_r_and, 29], [alu.aluRmR32_r_xor, 30], [alu.aluRmR32_r_test, 31], [alu.aluRmI64_r_add, 32], [alu.aluRmI64_r_sub, 33], [alu.aluRmI64_r_cmp, 34], [alu.aluRmI64_r_and, 35], [alu.aluRmI32_r_add, 36], [alu.aluRmI32_r_sub, 37], [alu.aluRmI32_r_cmp, 38], [alu.aluRmI32_r_and, 39],
  [mov.movRR64, 5], [mov.movRR32, 6],
  [mov.movLoad64, 7], [mov.movLoad32, 8], [ctl.jne, 9], [ctl.je, 10], [ctl.jb, 11], [alu.incDec32_r, 12], [mov.movzx_m, 13], [mov.movMI, 14],
]);

/** Installs an interpreter on every CPU of a machine. */
export function installInterpreter(machine: Machine): X86Interpreter[] {
  return machine.cpus.map((cpu) => {
    const it = new X86Interpreter(cpu);
    cpu.interpreter = it;
    return it;
  });
}
