/**
 * Scaffolding for the interpreter tests: a booted machine with the x86 interpreter installed,
 * code placed in a supervisor frame (reached through the direct map) or on a user page, a data
 * page, and a stop native appended after the code so a snippet simply falls off its end.
 *
 * Exceptions are recorded by IDT gates whose handlers are natives.
 */
import { GD_UD, GD_UT, PAGE_SIZE, PTE_P, PTE_U, PTE_W, RFLAGS_FIXED, vectorHasErrorCode } from '../../core/vtx/arch.js';
import { LongModeBoot } from '../../core/vtx/boot.js';
import { Cpu, GPR_NAMES, RSP } from '../../core/vtx/cpu.js';
import { Machine } from '../../core/vtx/machine.js';
import { X86Interpreter, installInterpreter } from '../../core/vtx/interp/interpreter.js';

export const USER_CODE = 0x40_0000;
export const USER_DATA = 0x60_0000;
export const USER_STACK_TOP = 0x80_0000;

export interface Env {
  m: Machine;
  boot: LongModeBoot;
  cpu: Cpu;
  it: X86Interpreter;
  stopAt: number;
  /** Exceptions delivered (vector, error code, faulting RIP). */
  traps: Array<{ vector: number; errorCode: number | undefined; rip: number; cr2: number; rflags: number }>;
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  const b = new Uint8Array(clean.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return b;
}

/** Linux's PAGE_OFFSET: the direct map lives high, so low addresses are free for test mappings. */
export const DIRECT_MAP = -0x7780_0000_0000; // 0xffff_8880_0000_0000

/** `jit`: with the block translator (default: as DUNESIM_JIT says, on unless it is 0). */
export function setup(memory = 32 << 20, jit?: boolean): Env {
  const m = new Machine({ memory });
  const boot = new LongModeBoot(m, { directMapBase: DIRECT_MAP });
  const [it] = installInterpreter(m, jit);
  const cpu = m.cpus[0]!;
  const env: Env = { m, boot, cpu, it: it!, stopAt: 0, traps: [] };
  env.stopAt = boot.native('stop', (c) => c.stop());
  for (let v = 0; v < 32; v++) {
    const hasErr = vectorHasErrorCode(v);
    const h = boot.native(`trap${v}`, (c) => {
      const sp = c.rsp;
      const errorCode = hasErr ? c.mmu.read64Number(sp) : undefined;
      const rip = c.mmu.read64Number(sp + (hasErr ? 8 : 0));
      const rflags = c.mmu.read64Number(sp + (hasErr ? 24 : 16));
      env.traps.push({ vector: v, errorCode, rip, cr2: c.cr2, rflags });
      c.stop();
    });
    boot.gate(v, h);
  }
  return env;
}

/** Where code was placed: its linear address. */
export interface Placed {
  va: number;
  pa: number;
}

/** Places `code` followed by a jump-free fall-through into the stop native. */
export function placeKernel(env: Env, code: Uint8Array): Placed {
  const pa = env.m.frames.allocContiguous(4);
  env.m.mem.writeBytes(pa, code);
  // A stop stub right after the code (a native: 0F FF 05 id).
  const entry = env.m.natives.register('end', (c) => c.stop());
  env.m.natives.install(env.m.mem, pa + code.length, entry);
  return { va: DIRECT_MAP + pa, pa };
}

export function placeUser(env: Env, code: Uint8Array, va = USER_CODE): Placed {
  const pages = Math.ceil((code.length + 8) / PAGE_SIZE);
  let first = -1;
  for (let p = 0; p < pages; p++) {
    const pa = env.boot.userPage(va + p * PAGE_SIZE, PTE_P | PTE_U | PTE_W);
    if (first < 0) first = pa;
    const chunk = code.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    env.m.mem.writeBytes(pa, chunk);
  }
  const entry = env.m.natives.register('end', (c) => c.stop(), 1, 3);
  const w = env.cpu.mmu.debugWalk(va + code.length);
  env.m.natives.install(env.m.mem, w.pa, entry);
  return { va, pa: first };
}

export function userData(env: Env, va = USER_DATA, pages = 1): number {
  let first = -1;
  for (let p = 0; p < pages; p++) {
    const pa = env.boot.userPage(va + p * PAGE_SIZE, PTE_P | PTE_U | PTE_W);
    if (first < 0) first = pa;
  }
  return first;
}

export function enterUser(env: Env, rsp = USER_STACK_TOP, mapStack = true): void {
  if (mapStack) env.boot.userPage(rsp - PAGE_SIZE, PTE_P | PTE_U | PTE_W);
  const cpu = env.cpu;
  cpu.cpl = 3;
  cpu.cs = GD_UT;
  cpu.ss = GD_UD;
  cpu.setReg(RSP, rsp);
  cpu.updateMmuContext();
}

export type Regs = Partial<Record<string, bigint | number>>;

export function setRegs(cpu: Cpu, regs: Regs): void {
  for (const [name, v] of Object.entries(regs)) {
    const i = GPR_NAMES.indexOf(name);
    if (i < 0) throw new Error(`unknown register ${name}`);
    const b = BigInt.asUintN(64, BigInt(v!));
    cpu.setReg64(i, Number(b & 0xffff_ffffn), Number(b >> 32n));
  }
}

export function reg(cpu: Cpu, name: string): bigint {
  return cpu.regBig(GPR_NAMES.indexOf(name));
}

/** Runs until the stop native (or a trap handler) stops the CPU. */
export function runFrom(env: Env, rip: number, budget = 1e9): void {
  const cpu = env.cpu;
  cpu.stopped = false;
  cpu.rip = rip;
  cpu.runUntil(cpu.cycles + budget);
  if (!cpu.stopped && !cpu.halted) throw new Error(`cpu did not stop: rip 0x${cpu.rip.toString(16)}`);
}

/** Assembles nothing: places hex code in a kernel frame, sets registers, runs it. */
export function runKernel(code: string | Uint8Array, regs: Regs = {}, rflags = RFLAGS_FIXED, env = setup()): Env {
  const bytes = typeof code === 'string' ? hex(code) : code;
  const p = placeKernel(env, bytes);
  setRegs(env.cpu, regs);
  env.cpu.rflags = rflags;
  runFrom(env, p.va);
  return env;
}

export function runUser(code: string | Uint8Array, regs: Regs = {}, rflags = RFLAGS_FIXED, env = setup()): Env {
  const bytes = typeof code === 'string' ? hex(code) : code;
  const p = placeUser(env, bytes);
  enterUser(env);
  setRegs(env.cpu, regs);
  env.cpu.rflags = rflags;
  runFrom(env, p.va);
  return env;
}
