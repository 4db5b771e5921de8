import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { execElf } from '../../core/system/exec-elf.js';
import { vmExitCount } from '../../core/system/run-elf.js';
import { MICRO_BIN, MicroProgramError, measureProgramRows, mechanismCounts, parseRows, ROW_SIZINGS, runMicroProgram } from '../../core/dune/bench/micro-programs.js';
import { getpid, pageFault } from '../../core/dune/bench/dune-micro-workloads.js';
import { loadProfile } from '../../core/vtx/cost-model.js';

/**
 * bench/micro/bench_linux.c (Dune Tables 2 and 3 as a C program timed with RDTSC) on the machine
 * model with small sizes: the rows it prints, the mechanisms per operation behind them, and a
 * native run of the same binary as a sanity check of the program itself.
 */
const P = 'dune-e3-1230v2';
const LINUX = join(MICRO_BIN, 'bench_linux');

describe('bench/micro row lines', () => {
  it('parse into cycles and operations; anything else a program prints is ignored', () => {
    const rows = parseRows('bench_linux: TSC overhead 28 cycles\nrow getpid 138.0 200\nrow page-walk -0.5 10\n');
    expect([...rows]).toEqual([['getpid', { cycles: 138, ops: 200 }], ['page-walk', { cycles: -0.5, ops: 10 }]]);
  });

  it('a malformed row, a row over 0 operations or a row printed twice is an error', () => {
    expect(() => parseRows('row getpid 1e3 5')).toThrow(MicroProgramError);
    expect(() => parseRows('row getpid 138')).toThrow(/malformed row line 'row getpid 138'/);
    expect(() => parseRows('row getpid 138 0')).toThrow(/over 0 operations/);
    expect(() => parseRows('row getpid 1 1\nrow getpid 1 1')).toThrow(/printed twice/);
  });
});

describe('bench_linux on the machine model', () => {
  it('prints every row once; getpid and page-fault agree with the TypeScript workloads within 2 %', () => {
    const r = runMicroProgram(P, 'bench_linux', ['-n', '100', '-p', '2', '-w', '500', '-W', '1024']);
    expect([...r.rows.keys()].sort()).toEqual(['appel1', 'appel2', 'getpid', 'page-fault', 'page-walk', 'ptrace', 'ptrace-sysemu', 'trap']);
    for (const row of r.rows.values()) expect(Number.isFinite(row.cycles)).toBe(true);
    expect(r.rows.get('appel1')!.ops).toBe(2);
    expect(r.rows.get('trap')!.ops).toBe(200); // every fault of the passes
    const g = r.rows.get('getpid')!.cycles;
    const f = r.rows.get('page-fault')!.cycles;
    expect(Math.abs(g / getpid(P, false, 100).cycles - 1)).toBeLessThan(0.02);
    expect(Math.abs(f / pageFault(P, false, 100).cycles - 1)).toBeLessThan(0.02);
    // A TLB miss costs something: the random reads over 1024 pages miss where 16 pages hit.
    expect(r.rows.get('page-walk')!.cycles).toBeGreaterThan(10);
  });

  it('the same run gives the same figures (deterministic)', () => {
    const a = runMicroProgram(P, 'bench_linux', ['-n', '50', 'getpid', 'ptrace']);
    const b = runMicroProgram(P, 'bench_linux', ['-n', '50', 'getpid', 'ptrace']);
    expect(a.rows).toEqual(b.rows);
    expect(a.stats.cycles).toBe(b.stats.cycles);
  });

  it('mechanisms per operation: one SYSCALL per getpid, one #PF per page, two stops per traced getpid', () => {
    const g = measureProgramRows(P, 'bench_linux', ROW_SIZINGS.getpid!, 100).get('getpid')!;
    expect(g.counts.syscalls).toBe(1);
    expect(g.counts.exceptions).toBeUndefined();
    const f = measureProgramRows(P, 'bench_linux', ROW_SIZINGS['page-fault']!, 100).get('page-fault')!;
    expect(f.counts.pageFaults).toBe(1);
    expect(f.counts.syscalls).toBeUndefined();
    // PTRACE_SYSCALL: the getpid, and per stop (entry, exit) the tracer's wait4 and ptrace;
    // each stop switches to the tracer and back.
    const t = measureProgramRows(P, 'bench_linux', ROW_SIZINGS.ptrace!, 200).get('ptrace')!;
    expect(t.counts.syscalls).toBe(5);
    expect(t.counts.contextSwitches).toBe(4);
    // SYSEMU: one stop, the getpid itself never runs.
    const e = measureProgramRows(P, 'bench_linux', ROW_SIZINGS['ptrace-sysemu']!, 200).get('ptrace-sysemu')!;
    expect(e.counts.syscalls).toBe(2);
    expect(e.counts.contextSwitches).toBe(2);
  });

  it('appel1: per 100-page pass 100 faults, each a SIGSEGV with two mprotects and rt_sigreturn', () => {
    const m = measureProgramRows(P, 'bench_linux', { ...ROW_SIZINGS.appel1!, sizes: [2, 4] });
    const a = m.get('appel1')!;
    expect(a.counts.pageFaults).toBe(100);
    expect(a.counts.syscalls).toBe(301); // + the pass's own mprotect
    expect(a.counts.vmExits).toBeUndefined();
    // trap is timed inside the same passes: a share of the pass, more than a bare exception.
    const trap = m.get('trap')!.cycles;
    expect(trap).toBeGreaterThan(1000);
    expect(trap * 100).toBeLessThan(a.cycles);
  });

  it('refuses bad arguments with its usage and status 2', () => {
    const lines: string[] = [];
    const opts = { mode: 'linux', profile: P, memory: 64 << 20, console: (_fd: number, d: Uint8Array): void => void lines.push(Buffer.from(d).toString()), report: () => {} };
    expect(execElf(LINUX, ['-n', '0'], opts).exitCode).toBe(2);
    expect(execElf(LINUX, ['no-such-row'], opts).exitCode).toBe(2);
    expect(lines.join('')).toMatch(/unknown row or option 'no-such-row'\nusage: /);
    expect(() => runMicroProgram(P, 'bench_linux', ['-p'])).toThrow(/exited with 2/);
  });
});

describe('bench_dune on the machine model (it enters Dune itself through /dev/dune)', () => {
  // One run of every row, small; dune_init's page tables make each run cost about a second.
  const r = runMicroProgram(P, 'bench_dune', ['-n', '100', '-p', '2', '-w', '500', '-W', '1024']);

  it('prints every row once, each from inside Dune', () => {
    expect([...r.rows.keys()].sort()).toEqual(['appel1', 'appel2', 'getpid', 'page-fault', 'page-walk', 'ptrace', 'syscall-trap', 'trap', 'vm-lookup']);
    for (const row of r.rows.values()) expect(Number.isFinite(row.cycles)).toBe(true);
    const exits = r.stats.vmExits as Record<string, number>;
    expect(exits['Vmcall']).toBeGreaterThanOrEqual(100 + 100); // getpid's and ptrace's VMCALLs at least
    expect(exits['EptViolation']).toBeGreaterThanOrEqual(100); // page-fault's pages at least
  });

  it('a hypercall costs the VM exit and entry a SYSCALL does not; ring-3 traps and #PF stay in the guest', () => {
    const linux = runMicroProgram(P, 'bench_linux', ['-n', '100', '-p', '2', 'getpid', 'trap', 'appel1']);
    const d = (id: string): number => r.rows.get(id)!.cycles;
    const l = (id: string): number => linux.rows.get(id)!.cycles;
    const costs = loadProfile(P).constants;
    // getpid: the same kernel path, reached by VMCALL (exit + entry) instead of SYSCALL + SYSRET.
    // (The loops differ by an instruction: `mov %rdi,%rax` before each SYSCALL.)
    expect(Math.abs(d('getpid') - l('getpid') - (costs.vmExit.value + costs.vmEntry.value - costs.syscall.value - costs.sysret.value))).toBeLessThanOrEqual(2);
    // The paper's direction and rough size: traps and Appel passes are several times faster in Dune.
    expect(d('trap')).toBeLessThan(l('trap') / 4);
    expect(d('appel1')).toBeLessThan(l('appel1') / 5);
    // Forwarding a trapped call costs a hypercall more than answering it in ring 0.
    expect(d('ptrace') - d('syscall-trap')).toBeGreaterThan(costs.vmExit.value + costs.vmEntry.value);
  });

  it('mechanisms: a VMCALL per getpid, an EPT violation per fresh page, no exit for a ring-3 SYSCALL or a #PF', () => {
    // Two runs that differ by 20 getpid, 20 fresh pages, 20 trapped ring-3 calls and 2 appel1
    // passes (200 faults): the difference of their counters is those operations' alone.
    const rows = ['getpid', 'page-fault', 'syscall-trap', 'appel1'];
    const small = runMicroProgram(P, 'bench_dune', ['-n', '20', '-p', '2', ...rows]);
    const large = runMicroProgram(P, 'bench_dune', ['-n', '40', '-p', '4', ...rows]);
    const exits = (x: typeof small): Record<string, number> => x.stats.vmExits as Record<string, number>;
    const d = (k: string): number => (exits(large)[k] ?? 0) - (exits(small)[k] ?? 0);
    expect(d('Vmcall')).toBe(20); // getpid only: the trapped calls are answered in ring 0
    expect(d('EptViolation')).toBe(20); // one per fresh page, no guest #PF before it
    expect(d('Cpuid')).toBe(2); // the CPUID before each pass's timed region, 2 more passes
    expect(vmExitCount({ exitCode: 0, stats: large.stats }) - vmExitCount({ exitCode: 0, stats: small.stats })).toBe(20 + 20 + 2);
    const c = (k: 'exceptions' | 'syscalls'): number => mechanismCounts(large.stats)[k]! - mechanismCounts(small.stats)[k]!;
    expect(c('exceptions')).toBe(200); // the appel faults, delivered through the guest's IDT
    expect(c('syscalls')).toBe(20); // the VMCALLs: no mprotect, the handlers edit PTEs themselves
  });
});

describe('bench_linux natively (this machine is x86-64)', () => {
  it('prints every row with a finite figure (timings not asserted: they are the host\'s)', () => {
    const r = spawnSync(LINUX, ['-n', '200', '-p', '3', '-w', '2000', '-W', '4096'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = parseRows(r.stdout, 'bench_linux');
    expect(rows.size).toBe(8);
    for (const row of rows.values()) expect(Number.isFinite(row.cycles)).toBe(true);
  });
});
