import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { GUEST_BIN, execElf } from '../../core/system/index.js';

/**
 * Cycles by CPU mode (core/vtx/cpu-mode.ts): every cycle of a CPU's clock counts in exactly one of
 * user, kernel, guest user, guest kernel and idle, as /proc/stat splits a CPU's time. A program
 * that computes spends its time in ring 3; one that makes system calls spends a share in ring 0;
 * a Dune process runs in VMX non-root mode; a CPU with nothing to run is idle.
 */
const quiet = { profile: 'dune-e3-1230v2', memory: 64 << 20, envp: [], console: (): void => {}, report: (): void => {} };

type CpuTime = { kernel: number; user: number; guestKernel: number; guestUser: number; idle: number };
function run(prog: string, args: string[], mode: 'linux' | 'dune', cpus = 1): { t: CpuTime; cycles: number; i: CpuTime; instructions: number } {
  const r = execElf(join(GUEST_BIN, prog), args, { ...quiet, mode, cpus });
  expect(r.exitCode).toBe(0);
  return { t: r.stats.cpuTime as CpuTime, cycles: r.stats.cycles as number, i: r.stats.instructionsByMode as CpuTime, instructions: r.stats.instructions as number };
}
const total = (t: CpuTime): number => t.kernel + t.user + t.guestKernel + t.guestUser + t.idle;

describe('cycles by CPU mode', () => {
  it('on one CPU the modes add up to the clock, and a computing program is mostly user time', () => {
    const { t, cycles } = run('sieve', ['200000'], 'linux');
    expect(total(t)).toBeCloseTo(cycles, 3);
    expect(t.guestKernel + t.guestUser).toBe(0);
    expect(t.user / cycles).toBeGreaterThan(0.9);
    expect(t.kernel).toBeGreaterThan(0); // exec, brk/mmap, page faults, write, exit
  });

  it('system calls move time into the kernel: getpid in a loop is kernel time for each call', () => {
    const few = run('syscalls', ['10'], 'linux').t;
    const many = run('syscalls', ['2000'], 'linux').t;
    // SYSCALL enters ring 0; the entry, the call and SYSRET's cost are ring 0's time.
    expect(many.kernel - few.kernel).toBeGreaterThan(0);
    expect((many.kernel - few.kernel) / (total(many) - total(few))).toBeGreaterThan(0.5);
  });

  it('a Dune process runs in VMX non-root mode: its time is guest time, its exits and system calls the host kernel\'s', () => {
    const { t, cycles } = run('sieve', ['200000'], 'dune');
    expect(total(t)).toBeCloseTo(cycles, 3);
    expect(t.user / cycles).toBeLessThan(0.001); // ring 3 only until the process enters Dune
    expect(t.guestKernel / cycles).toBeGreaterThan(0.8); // Dune runs the process in guest ring 0
    expect(t.kernel).toBeGreaterThan(0); // VMCALL'd system calls and EPT violations, in the host
  });

  it('instructions retired are counted in the mode that retired them, and add up to the CPUs\' count', () => {
    const small = run('sieve', ['20000'], 'linux');
    const big = run('sieve', ['200000'], 'linux');
    expect(total(big.i)).toBe(big.instructions);
    // the sieve's extra work is ring 3's alone
    expect(big.i.user - small.i.user).toBeGreaterThan(0.99 * (big.instructions - small.instructions));
    const dune = run('sieve', ['50000'], 'dune');
    expect(total(dune.i)).toBe(dune.instructions);
    expect(dune.i.guestKernel / dune.instructions).toBeGreaterThan(0.9);
    const two = run('barrier', [], 'linux', 2);
    expect(total(two.i)).toBe(two.instructions);
  });

  it('a CPU waiting for a thread that is blocked is idle, and the two CPUs\' modes add up to their clocks', () => {
    const { t, cycles } = run('barrier', [], 'linux', 2);
    expect(t.idle).toBeGreaterThan(0);
    expect(total(t)).toBeGreaterThan(cycles);
    expect(total(t)).toBeLessThanOrEqual(2 * cycles + 1e-6);
  });
});
