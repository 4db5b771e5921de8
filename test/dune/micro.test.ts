import { describe, it, expect } from 'vitest';
import { appelDune, appelLinux, getpid, pageFault, ptraceDune, ptraceLinux } from '../../core/dune/bench/dune-micro-workloads.js';

/**
 * The dune-micro workloads (Dune Tables 2 and 3) on small counts: the mechanism counts per
 * operation that explain each figure — these are what the model's numbers rest on.
 */
const P = 'dune-e3-1230v2';

describe('dune-micro mechanisms per operation', () => {
  it('getpid: one SYSCALL on Linux; one VMCALL exit and no SYSCALL in Dune', () => {
    expect(getpid(P, false, 200).counts).toEqual({ syscalls: 1 });
    const d = getpid(P, true, 200).counts;
    expect(d.vmExits).toBe(1);
    expect(d.vmcallExits).toBe(1);
    expect(d.syscalls).toBeUndefined();
  });

  it('page fault: a #PF into the kernel on Linux; an EPT violation exit (no guest #PF) in Dune', () => {
    const l = pageFault(P, false, 100).counts;
    expect(l.pageFaults).toBe(1);
    expect(l.vmExits).toBeUndefined();
    const d = pageFault(P, true, 100).counts;
    // One per page, plus a few for the first touches of guest page-table pages.
    expect(d.eptViolationExits).toBeGreaterThanOrEqual(1);
    expect(d.eptViolationExits).toBeLessThan(1.1);
    expect(d.pageFaults).toBeUndefined();
  });

  it('ptrace: two stops and four context switches on Linux; one VMCALL and no context switch in Dune', () => {
    const l = ptraceLinux(P, false, 50).counts;
    expect(l.contextSwitches).toBe(4);
    expect(l.syscalls).toBe(5); // the traced getpid, and the tracer's wait4 + ptrace twice
    const d = ptraceDune(P, 50).counts;
    expect(d.vmcallExits).toBe(1);
    expect(d.contextSwitches).toBeUndefined();
  });

  it('appel: SIGSEGV and mprotect on Linux; hardware #PF with no VM exit in Dune', () => {
    const l = appelLinux(P, 3);
    expect(l.appel1.counts.signals).toBe(100);
    expect(l.appel1.counts.syscalls).toBeCloseTo(301, 0); // 2 mprotect + rt_sigreturn per page, + PROT of the pass
    const d = appelDune(P, 3);
    expect(d.appel1.counts.pageFaults).toBe(100);
    expect(d.appel1.counts.vmExits ?? 0).toBe(0);
    expect(d.appel1.cycles).toBeLessThan(l.appel1.cycles / 5); // the paper's 7.4×: at least 5×
  });
});
