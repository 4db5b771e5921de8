/**
 * A Dune process as a Linux process (Dune §3.3–§3.5 and the reference's §1.1, §2.5–§2.6): signals
 * are not injected — the module leaves DUNE_ENTER with DUNE_RET_SIGNAL, the Linux handler runs in
 * host mode and libDune re-enters where the guest was; fork from the guest gives a child that
 * starts outside Dune, where libDune's fork wrapper enters it on a vCPU of its own; a thread does
 * the same; dune_init ignores most signals.
 */
import { describe, it, expect } from 'vitest';
import { Cpu, R12, R13 } from '../../core/vtx/cpu.js';
import {
  CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_VM, NR, PROT_READ, SA_RESTORER, SIGCHLD, SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIG_DFL, SIG_IGN,
} from '../../core/linux/linux-abi.js';
import { loadSyscallArgs, syscall } from '../../core/linux/user-abi.js';
import { SCRATCH, duneProcess, rax, rig } from './helpers.js';

const vmcall = (cpu: Cpu, nr: number, ...args: number[]): void => {
  loadSyscallArgs(cpu, nr, ...args);
  cpu.vmcall();
};

/** A k_sigaction {handler, SA_RESTORER, restorer, mask 0} at SCRATCH (host-mode stores). */
function sigaction(cpu: Cpu, handler: number, restorer: number): number {
  cpu.mmu.write64Number(SCRATCH, handler);
  cpu.mmu.write64Number(SCRATCH + 8, SA_RESTORER);
  cpu.mmu.write64Number(SCRATCH + 16, restorer);
  cpu.mmu.write64Number(SCRATCH + 24, 0);
  return SCRATCH;
}

describe('Dune: signals', () => {
  it('a signal from another process makes the module leave with DUNE_RET_SIGNAL; the host-mode handler runs once; libDune re-enters and the guest finishes its loop', () => {
    const r = rig();
    const iterations: Array<{ i: number; nonRoot: boolean; cpl: number }> = [];
    const handled: Array<{ sig: number; nonRoot: boolean; cpl: number }> = [];
    const N = 6;
    const { p } = duneProcess(r, 'sig', (c) => {
      c.op('guest', (cpu) => {
        cpu.setReg(R12, 0); // loop counter, in a register (it must survive the trip out of Dune)
        cpu.setReg(R13, 0x1234_5678_9abc); // and an arbitrary live register
      });
      c.op('loop', (cpu) => {
        const i = cpu.reg(R12) + 1;
        cpu.setReg(R12, i);
        iterations.push({ i, nonRoot: cpu.vmx.nonRoot, cpl: cpu.cpl });
        // The second iteration yields the CPU, so the other process runs and sends the signal.
        vmcall(cpu, i === 2 ? NR.sched_yield : NR.getpid);
      });
      c.op(undefined, (cpu) => {
        if (cpu.reg(R12) < N) cpu.jump(c.addr('loop'));
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.exit_group, cpu.reg(R12) + (cpu.reg(R13) === 0x1234_5678_9abc ? 100 : 0)));
      // The Linux signal handler (host user mode) and its restorer.
      c.ring(3).op('handler', (cpu) => {
        handled.push({ sig: rax(cpu) === 0 ? cpu.reg(7) : -1, nonRoot: cpu.vmx.nonRoot, cpl: cpu.cpl });
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
    }, {
      // After dune_init (which ignores most signals), before dune_enter: install the handler.
      host: (c) => c.op(undefined, (cpu) => syscall(cpu, NR.rt_sigaction, SIGUSR1, sigaction(cpu, c.addr('handler'), c.addr('restorer')), 0, 8)),
    });
    let killed = NaN;
    r.k.spawn('killer', (c) => {
      c.op('main', (cpu) => syscall(cpu, NR.kill, p.pid, SIGUSR1));
      c.op(undefined, (cpu) => {
        killed = rax(cpu);
        syscall(cpu, NR.exit_group, 0);
      });
      return 'main';
    });
    r.run();
    expect(killed).toBe(0);
    expect(iterations.map((x) => x.i)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(iterations.every((x) => x.nonRoot && x.cpl === 0)).toBe(true);
    expect(handled).toEqual([{ sig: SIGUSR1, nonRoot: false, cpl: 3 }]);
    expect(r.leaves()).toEqual([['Signal', SIGUSR1], ['Exit', N + 100]]);
    expect(p.waitStatus).toBe((N + 100) << 8);
    expect(r.stat('linux.signals')).toBe(1);
  });

  it('with two Dune processes on one CPU, the signalled one leaves with its own guest state (its VMCS, not the last one loaded) and resumes where it was', () => {
    const r = rig();
    const log: string[] = [];
    const { p } = duneProcess(r, 'sig1', (c) => {
      c.op('guest', (cpu) => cpu.setReg(R12, 0));
      c.op('loop', (cpu) => {
        const i = cpu.reg(R12) + 1;
        cpu.setReg(R12, i);
        log.push(`sig1 ${i}`);
        vmcall(cpu, i === 2 ? NR.sched_yield : NR.getpid);
      });
      c.op(undefined, (cpu) => {
        if (cpu.reg(R12) < 4) cpu.jump(c.addr('loop'));
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.exit_group, 10 + cpu.reg(R12)));
      c.ring(3).op('handler', (cpu) => {
        log.push(`handler ${cpu.reg(7)}`);
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
    }, {
      host: (c) => c.op(undefined, (cpu) => syscall(cpu, NR.rt_sigaction, SIGUSR1, sigaction(cpu, c.addr('handler'), c.addr('restorer')), 0, 8)),
    });
    // A second Dune process (its own vCPU and VMCS) that signals the first, then yields to it.
    const { p: p2 } = duneProcess(r, 'sig2', (c) => {
      c.op('guest', (cpu) => {
        log.push('sig2 kill');
        vmcall(cpu, NR.kill, p.pid, SIGUSR1);
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => {
        log.push('sig2 exit');
        vmcall(cpu, NR.exit_group, 2);
      });
    }, {
      // Host-mode padding, so that sig2's guest RIP is no address sig1 could resume at by chance.
      host: (c) => {
        for (let i = 0; i < 5; i++) c.op(undefined, () => {});
      },
    });
    r.run();
    expect(log).toEqual(['sig1 1', 'sig1 2', 'sig2 kill', `handler ${SIGUSR1}`, 'sig1 3', 'sig1 4', 'sig2 exit']);
    expect(r.leaves()).toEqual([['Signal', SIGUSR1], ['Exit', 14], ['Exit', 2]]);
    expect(p.waitStatus).toBe(14 << 8);
    expect(p2.waitStatus).toBe(2 << 8);
  });

  it('dune_init ignores signals 1-31 except SIGTSTP, SIGSTOP, SIGKILL, SIGCHLD, SIGINT and SIGTERM', () => {
    const r = rig();
    const dispositions = new Map<number, number>();
    let killed = NaN;
    const { p } = duneProcess(r, 'ign', (c) => {
      // An ignored signal is dropped when sent: it never makes the module leave Dune.
      c.op('guest', (cpu) => vmcall(cpu, NR.getpid));
      c.op(undefined, (cpu) => vmcall(cpu, NR.kill, rax(cpu), SIGUSR2));
      c.op(undefined, (cpu) => {
        killed = rax(cpu);
        vmcall(cpu, NR.exit_group, 3);
      });
    }, {
      host: (c) => {
        c.op(undefined, (cpu) => cpu.setReg(R12, 1));
        c.op('query', (cpu) => syscall(cpu, NR.rt_sigaction, cpu.reg(R12), 0, SCRATCH, 8));
        c.op(undefined, (cpu) => {
          dispositions.set(cpu.reg(R12), rax(cpu) === 0 ? cpu.mmu.read64Number(SCRATCH) : -1);
          cpu.setReg(R12, cpu.reg(R12) + 1);
          if (cpu.reg(R12) < 32) cpu.jump(c.addr('query'));
        });
      },
    });
    r.run();
    const kept = new Set([SIGTSTP, SIGSTOP, SIGKILL, SIGCHLD, SIGINT, SIGTERM]);
    for (let sig = 1; sig < 32; sig++) expect([sig, dispositions.get(sig)]).toEqual([sig, kept.has(sig) ? SIG_DFL : SIG_IGN]);
    expect(killed).toBe(0);
    expect(r.leaves()).toEqual([['Exit', 3]]);
    expect(p.waitStatus).toBe(3 << 8);
  });
});

describe('Dune: fork from the guest', () => {
  it('the child starts outside Dune (no vCPU, host ring 3, SYSCALL works) on the parent\'s stack while the parent continues in Dune; the parent\'s wait4 (VMCALL) collects it', () => {
    const r = rig();
    type Seen = { nonRoot: boolean; cpl: number; hasVcpu: boolean; tid: number; rsp: number };
    const seen: Record<string, Seen> = {};
    const s: Record<string, number> = {};
    const STATUS = SCRATCH + 0x100;
    const here = (cpu: Cpu): Seen => {
      const t = r.k.current[cpu.index]!;
      return { nonRoot: cpu.vmx.nonRoot, cpl: cpu.cpl, hasVcpu: r.dune.vcpuOf(t) !== undefined, tid: t.tid, rsp: cpu.rsp };
    };
    const { p } = duneProcess(r, 'forker', (c) => {
      c.op('guest', (cpu) => {
        s.rspAtFork = cpu.rsp;
        cpu.mmu.write64Number(cpu.rsp - 64, 0xfeed_f00d); // a value on the shared stack
        vmcall(cpu, NR.fork);
      });
      // fork() returns here in both: the parent in guest ring 0, the child in host ring 3.
      c.ring('any').op(undefined, (cpu) => {
        if (rax(cpu) === 0) {
          cpu.jump(c.addr('child'));
          return;
        }
        seen.parent = here(cpu);
        cpu.setReg(R12, rax(cpu)); // the child's pid (per process: in a register)
        vmcall(cpu, NR.wait4, cpu.reg(R12), STATUS, 0, 0);
      });
      c.ring(0).op(undefined, (cpu) => {
        s.waited = rax(cpu);
        s.childPid = cpu.reg(R12);
        s.status = cpu.mmu.read32(STATUS);
        vmcall(cpu, NR.exit_group, 0);
      });
      // The child: Linux mode, ring 3.
      c.ring(3).op('child', (cpu) => {
        const onStack = cpu.mmu.read64Number(cpu.rsp - 64);
        cpu.mmu.write64Number(cpu.rsp - 64, 0xc0ffee); // its own (copy-on-write) stack
        seen.child = here(cpu);
        s.childStackValue = onStack;
        syscall(cpu, NR.getpid);
      });
      c.op(undefined, (cpu) => {
        s.childGetpid = rax(cpu);
        syscall(cpu, NR.exit_group, 7);
      });
    });
    r.run();
    const child = r.k.processes.get(s.childPid!);
    expect(s.childPid).toBeGreaterThan(p.pid);
    expect(seen.parent).toEqual({ nonRoot: true, cpl: 0, hasVcpu: true, tid: p.pid, rsp: s.rspAtFork });
    expect(seen.child).toEqual({ nonRoot: false, cpl: 3, hasVcpu: false, tid: s.childPid, rsp: s.rspAtFork });
    expect(s.childStackValue).toBe(0xfeed_f00d);
    expect(s.childGetpid).toBe(s.childPid);
    expect(s.waited).toBe(s.childPid);
    expect(s.status).toBe(7 << 8);
    expect(child).toBeUndefined(); // reaped by the wait4
    expect(p.waitStatus).toBe(0);
    expect(r.leaves()).toEqual([['Exit', 0]]); // only the parent was ever in Dune
    expect(r.stat('cpu0.vmx.exits.Vmcall')).toBe(3); // fork, wait4, exit_group
  });
});

describe('Dune: threads inside Dune', () => {
  it('a thread cloned from guest ring 0 enters on a vCPU of its own (VMCS, VPID, EPT); a change of the shared mm drops the page from both EPTs; its exit frees its vCPU', () => {
    const r = rig();
    const FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    const PAGE = SCRATCH + 0x1000;
    const gpa = (): number => r.dune.layout.hvaToGpa(PAGE);
    const state: Record<string, number> = {};
    const vcpus: Array<{ vpid: number; vmcs: number; ept: number; nonRoot: boolean; cpl: number }> = [];
    let childMapped = false;
    let dropped: boolean[] = [];
    duneProcess(r, 'threads', (c) => {
      c.op('guest', (cpu) => {
        cpu.mmu.write32(PAGE, 7); // the parent's EPT maps the page
        syscall(cpu, NR.clone, FLAGS, SCRATCH + 0x8000, 0, 0, 0); // through the LSTAR trampoline
      });
      c.ring('any').op('after_clone', (cpu) => {
        const t = r.k.current[cpu.index]!;
        const v = r.dune.vcpuOf(t)!;
        vcpus.push({ vpid: v.vpid, vmcs: v.vmcs, ept: v.ept.root, nonRoot: cpu.vmx.nonRoot, cpl: cpu.cpl });
        if (rax(cpu) === 0) {
          state.read = cpu.mmu.read32(PAGE); // the child's own EPT faults the page in
          childMapped = v.ept.leaf(gpa()) !== undefined;
          cpu.jump(c.addr('child_wait'));
          return;
        }
        state.child = rax(cpu);
      });
      // The parent: yield until the child has its mapping, then write-protect the page (an MMU
      // notification on the shared mm), look at both EPTs, and let the child go.
      c.op('parent_wait', (cpu) => {
        if (!childMapped) {
          vmcall(cpu, NR.sched_yield);
          return;
        }
        cpu.jump(c.addr('parent_mprotect'));
      });
      c.op(undefined, (cpu) => cpu.jump(c.addr('parent_wait')));
      c.op('parent_mprotect', (cpu) => vmcall(cpu, NR.mprotect, PAGE, 4096, PROT_READ));
      c.op(undefined, (cpu) => {
        dropped = [...r.dune.vcpus].map((v) => v.ept.leaf(gpa()) === undefined);
        state.liveBefore = r.dune.liveVcpus;
        state.go = 1;
        vmcall(cpu, NR.sched_yield);
      });
      c.op('parent_join', (cpu) => {
        if (r.dune.liveVcpus > 1) {
          vmcall(cpu, NR.sched_yield);
          return;
        }
        cpu.jump(c.addr('parent_exit'));
      });
      c.op(undefined, (cpu) => cpu.jump(c.addr('parent_join')));
      c.op('parent_exit', (cpu) => {
        state.liveAfter = r.dune.liveVcpus;
        vmcall(cpu, NR.exit_group, 0);
      });
      c.op('child_wait', (cpu) => {
        if (state.go !== 1) {
          vmcall(cpu, NR.sched_yield);
          return;
        }
        vmcall(cpu, NR.exit, 0); // this thread only
      });
      c.op(undefined, (cpu) => cpu.jump(c.addr('child_wait')));
    });
    r.run();
    expect(state.child).toBeGreaterThan(0);
    expect(state.read).toBe(7);
    const [parent, child] = [vcpus.find((v) => v.vpid === vcpus[0]!.vpid)!, vcpus[1]!];
    expect(parent.nonRoot && child.nonRoot).toBe(true);
    expect(child.cpl).toBe(0);
    expect(child.vpid).not.toBe(parent.vpid);
    expect(child.vmcs).not.toBe(parent.vmcs);
    expect(child.ept).not.toBe(parent.ept);
    expect(dropped).toEqual([true, true]);
    expect(state.liveBefore).toBe(2);
    expect(state.liveAfter).toBe(1);
    expect(r.stat('dune.vcpusCreated')).toBe(2);
    expect(r.stat('dune.vcpusFreed')).toBe(2);
  });
});
