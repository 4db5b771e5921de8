/**
 * Shared scaffolding for the Linux-model tests: a machine with a kernel, user programs written
 * as chains of natives (CodeBuilder), and small helpers for the ABI structures a program hands
 * the kernel (k_sigaction, sigset) or gets back (siginfo, ucontext, user_regs_struct).
 *
 * A native is one instruction and is restartable: a fault raised by one of its memory accesses
 * abandons it and it runs again once the kernel has handled the fault. Natives below therefore
 * do their memory accesses before any JS side effect (recording into arrays).
 */
import { Cpu, RAX, RDI, RDX, RSI } from '../../core/vtx/cpu.js';
import { Machine } from '../../core/vtx/machine.js';
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import { NATIVE_STUB_LENGTH } from '../../core/vtx/native-code.js';
import { Kernel } from '../../core/linux/kernel.js';
import {
  NR, SA_RESTORER, SA_SIGINFO, SC_RIP, SI_ADDR, SI_CODE, SI_SIGNO, STACK_TOP, UC_MCONTEXT,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';

export const STUB = NATIVE_STUB_LENGTH;
/** Scratch memory every test program may use: inside the 8 MiB stack VMA, far below RSP. */
export const SCRATCH = STACK_TOP - 0x10_0000;
export const SIGACTION_AT = SCRATCH;
export const SIGSET_AT = SCRATCH + 0x100;
export const OLDSET_AT = SCRATCH + 0x108;
export const STATUS_AT = SCRATCH + 0x110;
export const REGS_AT = SCRATCH + 0x200;

export interface Booted {
  m: Machine;
  k: Kernel;
  /** Everything the processes wrote to fds 1 and 2. */
  out: string[];
}

export function boot(opts: { memory?: number; cpus?: number } = {}): Booted {
  const m = new Machine({ memory: opts.memory ?? 64 << 20, cpus: opts.cpus ?? 1 });
  const k = new Kernel(m);
  const out: string[] = [];
  k.console = (_fd, d) => out.push(new TextDecoder().decode(d));
  return { m, k, out };
}

export function runAll(k: Kernel, limit = 1e10): void {
  k.start();
  k.run(limit);
}

/** RAX as a signed number (the system-call result). */
export function rax(cpu: Cpu): number {
  return cpu.reg(RAX);
}

/** A user 8-byte load, as an unsigned bigint. */
export function rd64(cpu: Cpu, va: number): bigint {
  const lo = cpu.mmu.read64(va);
  return (BigInt(cpu.mmu.hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function wr64(cpu: Cpu, va: number, v: bigint | number): void {
  const b = BigInt.asUintN(64, BigInt(v));
  cpu.mmu.write64(va, Number(b & 0xffff_ffffn), Number(b >> 32n));
}

export function setReg64(cpu: Cpu, i: number, v: bigint): void {
  cpu.setReg64(i, Number(v & 0xffff_ffffn), Number((v >> 32n) & 0xffff_ffffn));
}

/** Writes a kernel k_sigaction {handler, flags, restorer, mask} at `va` (user accesses). */
export function writeSigaction(cpu: Cpu, va: number, handler: number, flags: number, restorer: number, mask = 0n): void {
  wr64(cpu, va, handler);
  wr64(cpu, va + 8, flags);
  wr64(cpu, va + 16, restorer);
  wr64(cpu, va + 24, mask);
}

/** Bit of `sig` in a sigset_t. */
export function sigbit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

export interface Caught {
  signo: number;
  code: number;
  addr: number;
  /** RDI, RSI, RDX at handler entry. */
  rdi: number;
  rsi: number;
  rdx: number;
  rsp: number;
  /** The saved RIP in uc_mcontext. */
  rip: number;
}

/**
 * Adds a signal handler ('catch_handler') and its restorer ('catch_restorer') to a program.
 * Each delivery is recorded. With 'skip' the handler moves the saved RIP past the faulting
 * native (one stub) and returns through the restorer (rt_sigreturn); with 'return' it returns
 * without changing anything (an asynchronous signal); with 'exit' it calls exit_group(exitCode).
 * Place it after the program's last native.
 */
export function addCatcher(c: CodeBuilder, log: Caught[], resume: 'skip' | 'return' | 'exit' = 'skip', exitCode = 42): void {
  c.op('catch_handler', (cpu) => {
    const rsi = cpu.reg(RSI);
    const rdx = cpu.reg(RDX);
    const signo = cpu.mmu.read32(rsi + SI_SIGNO) | 0;
    const code = cpu.mmu.read32(rsi + SI_CODE) | 0;
    const addr = cpu.mmu.read64Number(rsi + SI_ADDR);
    const ripAt = rdx + UC_MCONTEXT + SC_RIP;
    const rip = cpu.mmu.read64Number(ripAt);
    if (resume === 'skip') cpu.mmu.write64Number(ripAt, rip + STUB);
    log.push({ signo, code, addr, rdi: cpu.reg(RDI), rsi, rdx, rsp: cpu.rsp, rip });
    if (resume === 'exit') {
      syscall(cpu, NR.exit_group, exitCode);
      return;
    }
    cpu.ret();
  });
  c.op('catch_restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
}

/** A native body that installs the catcher for `sig` (SA_SIGINFO | SA_RESTORER). */
export function installCatcher(c: CodeBuilder, sig: number, extraFlags = 0, mask = 0n): (cpu: Cpu) => void {
  return (cpu) => {
    writeSigaction(cpu, SIGACTION_AT, c.addr('catch_handler'), SA_SIGINFO | SA_RESTORER | extraFlags, c.addr('catch_restorer'), mask);
    syscall(cpu, NR.rt_sigaction, sig, SIGACTION_AT, 0, 8);
  };
}
