/**
 * Shared scaffolding for the core/vtx architectural tests: a booted machine, programs of natives
 * laid out back to back (so each falls through to the next, as real instructions do), IDT gates
 * whose handlers record the exception frame, and runners.
 *
 * Everything a test observes comes from the mechanism: page-table bytes in emulated memory, the
 * frame the CPU pushed on the stack, CR2, the CPU's registers and the stats counters.
 */
import { GD_UD, GD_UT, PAGE_SIZE, PTE_P, PTE_U, PTE_W, RFLAGS_FIXED, vectorHasErrorCode } from '../../core/vtx/arch.js';
import { LongModeBoot } from '../../core/vtx/boot.js';
import { Cpu, RSP } from '../../core/vtx/cpu.js';
import { GateOptions } from '../../core/vtx/descriptors.js';
import { Machine, MachineConfig } from '../../core/vtx/machine.js';
import { NATIVE_STUB_LENGTH, NativeCpl, NativeFn } from '../../core/vtx/native-code.js';

export const MiB = 1 << 20;
/** A fresh PML4 slot (index 2): no entry on its walk path is shared with the boot direct map. */
export const FRESH = 0x100_0000_0000;

export interface Rig {
  m: Machine;
  boot: LongModeBoot;
  cpu: Cpu;
}

export function rig(opts: Partial<MachineConfig> & { pcid?: boolean } = {}): Rig {
  const m = new Machine({ memory: 16 * MiB, ...opts });
  const boot = new LongModeBoot(m, { pcid: opts.pcid ?? false });
  return { m, boot, cpu: m.cpus[0]! };
}

/**
 * Natives placed contiguously (7-byte stride) on one page, so that a native that does not branch
 * falls through to the next one, and RIP + instruction length is the next "instruction".
 */
export class Program {
  private n = 0;
  constructor(private readonly m: Machine, readonly va: number, readonly pa: number, private readonly cpl: NativeCpl = 0) {}

  add(fn: NativeFn, name = `insn${this.n}`, instructions = 1): number {
    const off = this.n * NATIVE_STUB_LENGTH;
    if (off + NATIVE_STUB_LENGTH > PAGE_SIZE) throw new Error('program page is full');
    const e = this.m.natives.register(name, fn, instructions, this.cpl);
    this.m.natives.install(this.m.mem, this.pa + off, e);
    this.n++;
    return this.va + off;
  }
}

/** A program in a fresh supervisor frame, reached through the direct map (linear == physical). */
export function kernelProgram(r: Rig): Program {
  const pa = r.m.frames.alloc();
  return new Program(r.m, pa, pa);
}

/** A program on a user page (P|U, read-only, executable) mapped at `va`. */
export function userProgram(r: Rig, va: number): Program {
  const pa = r.boot.userPage(va, PTE_P | PTE_U);
  return new Program(r.m, va, pa, 3);
}

/** Maps a user stack page at `va`; returns the top of it. */
export function userStack(r: Rig, va: number): number {
  r.boot.userPage(va, PTE_P | PTE_W | PTE_U);
  return va + PAGE_SIZE;
}

/** Puts the CPU in ring 3 with the libDune user selectors (as IRETQ/SYSRET would leave it). */
export function enterUser(cpu: Cpu, rsp: number, rflags = RFLAGS_FIXED): void {
  cpu.cpl = 3;
  cpu.cs = GD_UT;
  cpu.ss = GD_UD;
  cpu.rflags = rflags;
  cpu.setReg(RSP, rsp);
  cpu.updateMmuContext();
}

/** Runs from `rip` until a native calls `stop()`; fails if the CPU ran out of budget instead. */
export function run(r: Rig, rip: number, budget = 1e8): void {
  const c = r.cpu;
  c.stopped = false;
  c.rip = rip;
  c.runUntil(c.cycles + budget);
  if (!c.stopped) throw new Error(`cpu did not stop: rip 0x${c.rip.toString(16)}, halted ${c.halted}`);
}

/** Runs `fn` as one supervisor native instruction (CPL 0) and returns its result. */
export function exec<T>(r: Rig, fn: (c: Cpu) => T): T {
  let out: T | undefined;
  const at = r.boot.native('exec', (c) => {
    out = fn(c);
    c.stop();
  });
  run(r, at);
  return out as T;
}

/** What an exception handler saw on entry: the pushed frame and the CPU state. */
export interface Trap {
  vector: number;
  errorCode: number | undefined;
  cr2: number;
  /** The frame at RSP on entry (after the error code, if any). */
  rip: number;
  cs: number;
  rflags: number;
  rsp: number;
  ss: number;
  /** RSP on entry to the handler, and the CPU state there. */
  handlerRsp: number;
  cpl: number;
  csNow: number;
  ssNow: number;
  rflagsNow: number;
}

export interface TrapOptions extends GateOptions {
  /** Whether the frame holds an error code (default: the vector's architectural rule). */
  errorCode?: boolean;
  /** What the handler does after recording (default: stop the CPU). */
  then?: (c: Cpu, t: Trap) => void;
}

/** Installs an IDT gate for `vector` whose handler records the frame (and stops). */
export function trapOn(r: Rig, vector: number, opts: TrapOptions = {}): Trap[] {
  const traps: Trap[] = [];
  const hasErr = opts.errorCode ?? vectorHasErrorCode(vector);
  const handler = r.boot.native(`trap${vector}`, (c) => {
    const sp = c.rsp;
    const word = (i: number): number => c.mmu.read64Number(sp + 8 * i);
    const b = hasErr ? 1 : 0;
    const t: Trap = {
      vector,
      errorCode: hasErr ? word(0) : undefined,
      cr2: c.cr2,
      rip: word(b),
      cs: word(b + 1),
      rflags: word(b + 2),
      rsp: word(b + 3),
      ss: word(b + 4),
      handlerRsp: sp,
      cpl: c.cpl,
      csNow: c.cs,
      ssNow: c.ss,
      rflagsNow: c.rflags,
    };
    traps.push(t);
    if (opts.then) opts.then(c, t);
    else c.stop();
  });
  r.boot.gate(vector, handler, opts);
  return traps;
}

/** Runs `fn` as one native at `va` in ring 3 (on a fresh user code page) with a user stack. */
export function runUser(r: Rig, fn: NativeFn, codeVa = 0x7000_0000, stackVa = 0x7010_0000): void {
  const p = userProgram(r, codeVa);
  const at = p.add(fn);
  enterUser(r.cpu, userStack(r, stackVa) - 0x40);
  run(r, at);
}

/** Counter delta of `name` across `fn`, measured inside one supervisor native. */
export function delta(r: Rig, name: string, fn: (c: Cpu) => void): number {
  return exec(r, (c) => {
    const before = r.m.stats.get(name);
    fn(c);
    return r.m.stats.get(name) - before;
  });
}

/** TLB misses of cpu0 caused by `fn` (run as a supervisor native). */
export function misses(r: Rig, fn: (c: Cpu) => void): number {
  return delta(r, 'cpu0.tlb.misses', fn);
}
