import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { Cpu, RBX, RSP } from '../../core/vtx/cpu.js';
import {
  EINVAL, ESRCH, ILL_ILLOPN, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, NR, PROT_READ,
  PROT_WRITE, RT_SIGFRAME_INFO, RT_SIGFRAME_SIZE, RT_SIGFRAME_UC, SA_NODEFER, SA_RESETHAND, SA_RESTORER, SA_SIGINFO, SC_CR2,
  SC_CSGSFS, SC_EFLAGS, SC_ERR, SC_OLDMASK, SC_RIP, SC_TRAPNO, SEGV_MAPERR, SIGCONTEXT_GPRS, SIGILL,
  SIGKILL, SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2, SIG_BLOCK, SIG_IGN, SIG_UNBLOCK, SI_ADDR,
  SI_CODE, SI_ERRNO, SI_KERNEL, SI_SIGNO, SI_USER, STACK_TOP, UC_MCONTEXT, UC_SIGMASK, USER_CS,
} from '../../core/linux/linux-abi.js';
import { GPR_NAMES } from '../../core/vtx/cpu.js';
import { syscall } from '../../core/linux/user-abi.js';
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import {
  Caught, OLDSET_AT, SIGACTION_AT, SIGSET_AT, STATUS_AT, STUB, addCatcher, boot, installCatcher, rax,
  rd64, runAll, setReg64, sigbit, writeSigaction, wr64,
} from './helpers.js';

const GPR = (name: string): number => GPR_NAMES.indexOf(name);
const snapshot = (cpu: Cpu): bigint[] => Array.from({ length: 16 }, (_, i) => cpu.regBig(i));
/** CF PF ZF SF OF: user-changeable flags that sigreturn must bring back. */
const ARITH_FLAGS = 0x1 | 0x4 | 0x40 | 0x80 | 0x800;

/** A native that sets the blocked mask with rt_sigprocmask(how, set). */
function sigprocmask(how: number, set: bigint, oset = 0): (cpu: Cpu) => void {
  return (cpu) => {
    wr64(cpu, SIGSET_AT, set);
    syscall(cpu, NR.rt_sigprocmask, how, SIGSET_AT, oset, 8);
  };
}

describe('Linux model: SIGSEGV delivery through an rt_sigframe and rt_sigreturn', () => {
  it('hands the handler signo, siginfo and a ucontext with every register of the faulting moment, and sigreturn restores them', () => {
    const { k } = boot();
    const BAD = 0x6660_0008;
    const PRE_RSP = STACK_TOP - 0x7ff3; // deliberately misaligned
    // Distinctive 64-bit values (beyond 2^53, so any trip through a JS number shows).
    const values = Array.from({ length: 16 }, (_, i) => (0x0102_0304_0506_0708n * BigInt(i + 1)) ^ 0xa5a5_0000_0000_5a5an);
    values[RSP] = BigInt(PRE_RSP);
    let pre: bigint[] = [];
    let preFlags = 0;
    let post: bigint[] = [];
    let postFlags = 0;
    let postRip = 0;
    const h: Record<string, unknown> = {};
    let masks: bigint[] = [];
    let uc = 0;
    let code: CodeBuilder | undefined;
    const p = k.spawn('segv', (c) => {
      code = c;
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_SIGINFO | SA_RESTORER, c.addr('restorer'), sigbit(SIGUSR2));
        syscall(cpu, NR.rt_sigaction, SIGSEGV, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, sigprocmask(SIG_BLOCK, sigbit(SIGUSR1)));
      c.op(undefined, (cpu) => {
        for (let i = 0; i < 16; i++) setReg64(cpu, i, values[i]!);
        cpu.rflags |= ARITH_FLAGS;
        pre = snapshot(cpu);
        preFlags = cpu.rflags;
      });
      c.op('fault', (cpu) => void cpu.mmu.read64(BAD));
      c.op('after', (cpu) => {
        post = snapshot(cpu);
        postFlags = cpu.rflags;
        postRip = cpu.rip;
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0, OLDSET_AT, 8);
      });
      c.op(undefined, (cpu) => {
        masks.push(rd64(cpu, OLDSET_AT));
        syscall(cpu, NR.exit_group, 0);
      });
      // The handler: inspect everything, clobber registers, change the saved RIP and RBX.
      c.op('handler', (cpu) => {
        const rsp = cpu.rsp;
        const rsi = cpu.reg(6);
        const rdx = cpu.reg(2);
        const mc = rdx + UC_MCONTEXT;
        const saved: Record<string, bigint> = {};
        SIGCONTEXT_GPRS.forEach((name, j) => (saved[name] = rd64(cpu, mc + j * 8)));
        const info = {
          signo: cpu.mmu.read32(rsi + SI_SIGNO) | 0,
          errno: cpu.mmu.read32(rsi + SI_ERRNO) | 0,
          code: cpu.mmu.read32(rsi + SI_CODE) | 0,
          addr: cpu.mmu.read64Number(rsi + SI_ADDR),
        };
        const frame = {
          pretcode: cpu.mmu.read64Number(rsp),
          rip: cpu.mmu.read64Number(mc + SC_RIP),
          eflags: cpu.mmu.read64Number(mc + SC_EFLAGS),
          cs: cpu.mmu.read16(mc + SC_CSGSFS),
          err: cpu.mmu.read64Number(mc + SC_ERR),
          trapno: cpu.mmu.read64Number(mc + SC_TRAPNO),
          oldmask: rd64(cpu, mc + SC_OLDMASK),
          cr2: cpu.mmu.read64Number(mc + SC_CR2),
          sigmask: rd64(cpu, rdx + UC_SIGMASK),
        };
        // Commit: skip the faulting native, and change RBX on purpose.
        wr64(cpu, mc + SC_RIP, frame.rip + STUB);
        wr64(cpu, mc + SIGCONTEXT_GPRS.indexOf('rbx') * 8, 0x600dn);
        Object.assign(h, { rdi: cpu.reg(7), rsi, rdx, rsp, info, frame, saved });
        uc = rdx;
        for (let i = 0; i < 16; i++) if (i !== RSP) cpu.setReg(i, 0xbad); // the handler's own values
        cpu.rflags &= ~ARITH_FLAGS;
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0, OLDSET_AT + 8, 8));
      c.op(undefined, (cpu) => {
        masks.push(rd64(cpu, OLDSET_AT + 8));
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
      return 'start';
    });
    runAll(k);
    const faultRip = (h.frame as { rip: number }).rip;
    expect(p.waitStatus).toBe(0);
    // Handler entry: RDI = signo, RSI = &frame->info, RDX = &frame->uc, RSP ≡ 8 (mod 16) as after a CALL.
    expect(h.rdi).toBe(SIGSEGV);
    const rsp = h.rsp as number;
    expect(rsp % 16).toBe(8);
    expect(h.rsi).toBe(rsp + RT_SIGFRAME_INFO);
    expect(h.rdx).toBe(rsp + RT_SIGFRAME_UC);
    expect(uc).toBe(rsp + RT_SIGFRAME_UC);
    // The frame sits below the 128-byte red zone.
    expect(rsp + RT_SIGFRAME_SIZE).toBeLessThanOrEqual(PRE_RSP - 128);
    expect(h.info).toEqual({ signo: SIGSEGV, errno: 0, code: SEGV_MAPERR, addr: BAD });
    const frame = h.frame as Record<string, unknown>;
    expect(frame.pretcode).toBe(code!.addr('restorer')); // the return address: sa_restorer
    expect(faultRip).toBe(code!.addr('fault'));
    expect(frame.eflags).toBe(preFlags);
    expect(frame.cs).toBe(USER_CS);
    expect(frame.trapno).toBe(14);
    expect(frame.err).toBe(4); // #PF error code: user-mode read of a not-present page
    expect(frame.cr2).toBe(BAD);
    expect(frame.oldmask).toBe(sigbit(SIGUSR1));
    expect(frame.sigmask).toBe(sigbit(SIGUSR1));
    // Every register of the faulting moment, in sigcontext order.
    const saved = h.saved as Record<string, bigint>;
    for (const name of SIGCONTEXT_GPRS) expect([name, saved[name]]).toEqual([name, pre[GPR(name)]]);
    // While the handler runs: the old mask, sa_mask and the signal itself are blocked.
    expect(masks[0]).toBe(sigbit(SIGUSR1) | sigbit(SIGUSR2) | sigbit(SIGSEGV));
    // After rt_sigreturn: all registers back (but RBX, which the handler changed), the flags,
    // RIP past the faulting native, and the mask.
    const expected = [...pre];
    expected[RBX] = 0x600dn;
    for (let i = 0; i < 16; i++) expect([GPR_NAMES[i], post[i]]).toEqual([GPR_NAMES[i], expected[i]]);
    expect(postFlags & ARITH_FLAGS).toBe(ARITH_FLAGS);
    expect(postFlags).toBe(preFlags);
    expect(postRip).toBe(faultRip + STUB);
    expect(masks[1]).toBe(sigbit(SIGUSR1));
  });

  it('a handler that maps the missing page and returns gets the access retried (and sees the write error code)', () => {
    const { k } = boot();
    const BAD = 0x4440_0010;
    const log: Array<{ addr: number; err: number }> = [];
    let value = 0n;
    k.spawn('fixup', (c) => {
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_SIGINFO | SA_RESTORER, c.addr('restorer'));
        syscall(cpu, NR.rt_sigaction, SIGSEGV, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => wr64(cpu, BAD, 0x1234n)); // faults once, then succeeds
      c.op(undefined, (cpu) => {
        value = rd64(cpu, BAD);
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('handler', (cpu) => {
        const addr = cpu.mmu.read64Number(cpu.reg(6) + SI_ADDR);
        const err = cpu.mmu.read64Number(cpu.reg(2) + UC_MCONTEXT + SC_ERR);
        log.push({ addr, err });
        syscall(cpu, NR.mmap, addr - (addr % PAGE_SIZE), PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      });
      c.op(undefined, (cpu) => cpu.ret());
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
      return 'start';
    });
    runAll(k);
    expect(log).toEqual([{ addr: BAD, err: 6 }]); // user-mode write, not present
    expect(value).toBe(0x1234n);
  });

  it('a fault while SIGSEGV is blocked kills the process even with a handler (force_sig)', () => {
    const { k } = boot();
    const log: Caught[] = [];
    let reached = false;
    const p = k.spawn('blocked', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, sigprocmask(SIG_BLOCK, sigbit(SIGSEGV)));
      c.op(undefined, (cpu) => void cpu.mmu.read64(0x6660_0000));
      c.op(undefined, (cpu) => {
        reached = true;
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(log).toEqual([]);
    expect(reached).toBe(false);
    expect(p.waitStatus).toBe(SIGSEGV); // WIFSIGNALED, WTERMSIG = 11
  });

  it('a fault with SIGSEGV ignored still kills the process', () => {
    const { k } = boot();
    const p = k.spawn('ignored', (c) => {
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, SIG_IGN, 0, 0);
        syscall(cpu, NR.rt_sigaction, SIGSEGV, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => void cpu.mmu.read64(0x6660_0000));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(SIGSEGV);
  });

  it('SA_RESETHAND: the first SIGSEGV runs the handler, the second one takes the default action', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const p = k.spawn('oneshot', (c) => {
      c.op('start', installCatcher(c, SIGSEGV, SA_RESETHAND));
      c.op(undefined, (cpu) => void cpu.mmu.read64(0x6660_0000)); // handled, skipped
      c.op(undefined, (cpu) => void cpu.mmu.read64(0x6660_1000)); // fatal
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(log.map((l) => l.addr)).toEqual([0x6660_0000]);
    expect(p.waitStatus).toBe(SIGSEGV);
  });

  it('a signal whose frame cannot be written to the user stack kills the process with SIGSEGV', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const p = k.spawn('nostack', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => cpu.setReg(RSP, 0x2000)); // nothing mapped below
      c.op(undefined, (cpu) => void cpu.mmu.read64(0x6660_0000));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(log).toEqual([]);
    expect(p.waitStatus).toBe(SIGSEGV);
  });

  it('a SIGSEGV without a handler kills with wait status 11', () => {
    const { k } = boot();
    const p = k.spawn('plain', (c) => {
      c.op('start', (cpu) => void cpu.mmu.read64(0x10));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus).toBe(SIGSEGV);
  });
});

describe('Linux model: privileged operations and invalid opcodes at CPL 3', () => {
  for (const [name, op] of [
    ['MOV to CR3', (cpu: Cpu) => cpu.writeCr(3, 0x1000, 0)],
    ['HLT', (cpu: Cpu) => cpu.hlt()],
    ['WRMSR', (cpu: Cpu) => cpu.wrmsr(0xc000_0082, 0, 0)],
  ] as const) {
    it(`${name} raises #GP, delivered as SIGSEGV with si_code SI_KERNEL and si_addr 0`, () => {
      const { k } = boot();
      const log: Caught[] = [];
      let priv = 0;
      let after = false;
      const p = k.spawn('gp', (c) => {
        c.op('start', installCatcher(c, SIGSEGV));
        c.op('priv', (cpu) => {
          priv = cpu.rip;
          op(cpu);
        });
        c.op(undefined, (cpu) => {
          after = true;
          syscall(cpu, NR.exit_group, 0);
        });
        addCatcher(c, log);
        return 'start';
      });
      runAll(k);
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ signo: SIGSEGV, code: SI_KERNEL, addr: 0, rip: priv });
      expect(after).toBe(true);
      expect(p.waitStatus).toBe(0);
    });
  }

  it('#GP without a handler kills the process with SIGSEGV', () => {
    const { k } = boot();
    const p = k.spawn('gp', (c) => {
      c.op('start', (cpu) => cpu.hlt());
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(SIGSEGV);
  });

  it('#GP: the sigcontext records trap 13 and the error code', () => {
    const { k } = boot();
    const seen: Array<{ trapno: number; err: number; code: number }> = [];
    k.spawn('gp', (c) => {
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_SIGINFO | SA_RESTORER, c.addr('restorer'));
        syscall(cpu, NR.rt_sigaction, SIGSEGV, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => cpu.writeCr(3, 0, 0));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      c.op('handler', (cpu) => {
        const mc = cpu.reg(2) + UC_MCONTEXT;
        const trapno = cpu.mmu.read64Number(mc + SC_TRAPNO);
        const err = cpu.mmu.read64Number(mc + SC_ERR);
        const code = cpu.mmu.read32(cpu.reg(6) + SI_CODE);
        const rip = cpu.mmu.read64Number(mc + SC_RIP);
        wr64(cpu, mc + SC_RIP, rip + STUB);
        seen.push({ trapno, err, code });
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
      return 'start';
    });
    runAll(k);
    expect(seen).toEqual([{ trapno: 13, err: 0, code: SI_KERNEL }]);
  });

  it('an invalid opcode raises #UD, delivered as SIGILL ILL_ILLOPN at the instruction', () => {
    const { k } = boot();
    const log: Caught[] = [];
    let ud = 0;
    k.spawn('ud', (c) => {
      c.op('start', installCatcher(c, SIGILL));
      c.op('ud', (cpu) => {
        ud = cpu.rip;
        cpu.ud();
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ signo: SIGILL, code: ILL_ILLOPN, addr: ud, rip: ud });
  });
});

describe('Linux model: signal masks, SIG_IGN and default actions', () => {
  it('a signal sent with kill while blocked stays pending until rt_sigprocmask unblocks it', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const seen: Array<[string, number | bigint]> = [];
    let pid = 0;
    k.spawn('mask', (c, proc) => {
      pid = proc.pid;
      c.op('start', installCatcher(c, SIGUSR1));
      c.op(undefined, sigprocmask(SIG_BLOCK, sigbit(SIGUSR1)));
      c.op(undefined, (cpu) => syscall(cpu, NR.kill, pid, SIGUSR1));
      c.op(undefined, (cpu) => {
        seen.push(['kill', rax(cpu)]);
        syscall(cpu, NR.kill, pid, SIGUSR1); // a second one merges with the pending one
      });
      c.op(undefined, (cpu) => {
        seen.push(['delivered while blocked', log.length]);
        seen.push(['pending', k.tasks.get(pid)!.pending.length]);
        syscall(cpu, NR.getpid);
      });
      c.op(undefined, sigprocmask(SIG_UNBLOCK, sigbit(SIGUSR1), OLDSET_AT));
      c.op(undefined, (cpu) => {
        const old = rd64(cpu, OLDSET_AT);
        seen.push(['unblock result', rax(cpu)]);
        seen.push(['old mask', old]);
        seen.push(['delivered after unblock', log.length]);
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log, 'return');
      return 'start';
    });
    runAll(k);
    expect(seen).toEqual([
      ['kill', 0],
      ['delivered while blocked', 0],
      ['pending', 1],
      ['unblock result', 0],
      ['old mask', sigbit(SIGUSR1)],
      ['delivered after unblock', 1],
    ]);
    expect(log[0]).toMatchObject({ signo: SIGUSR1, code: SI_USER, addr: pid });
  });

  it('sa_mask blocks during the handler; a signal raised there is delivered right after rt_sigreturn; SA_NODEFER', () => {
    const { k } = boot();
    const events: string[] = [];
    const masks: bigint[] = [];
    let pid = 0;
    k.spawn('nested', (c, proc) => {
      pid = proc.pid;
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('usr1'), SA_SIGINFO | SA_RESTORER | SA_NODEFER, c.addr('restorer'), sigbit(SIGUSR2));
        syscall(cpu, NR.rt_sigaction, SIGUSR1, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('usr2'), SA_SIGINFO | SA_RESTORER, c.addr('restorer'));
        syscall(cpu, NR.rt_sigaction, SIGUSR2, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.kill, pid, SIGUSR1));
      c.op(undefined, (cpu) => {
        events.push(`main resumes, rax=${rax(cpu)}`);
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('usr1', (cpu) => {
        events.push('usr1');
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0, OLDSET_AT, 8);
      });
      c.op(undefined, (cpu) => {
        masks.push(rd64(cpu, OLDSET_AT));
        syscall(cpu, NR.kill, pid, SIGUSR2); // blocked by sa_mask: stays pending
      });
      c.op(undefined, (cpu) => {
        events.push('usr1 returns');
        cpu.ret();
      });
      c.op('usr2', (cpu) => {
        events.push('usr2');
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0, OLDSET_AT, 8);
      });
      c.op(undefined, (cpu) => {
        masks.push(rd64(cpu, OLDSET_AT));
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
      return 'start';
    });
    runAll(k);
    expect(events).toEqual(['usr1', 'usr1 returns', 'usr2', 'main resumes, rax=0']);
    // SA_NODEFER: SIGUSR1 itself is not blocked in its handler; sa_mask's SIGUSR2 is.
    expect(masks).toEqual([sigbit(SIGUSR2), sigbit(SIGUSR2)]);
  });

  it('SIG_IGN discards the signal; rt_sigaction returns the old action; SIGKILL and SIGSTOP cannot be caught', () => {
    const { k } = boot();
    const results: Array<number | bigint> = [];
    let pid = 0;
    const p = k.spawn('ign', (c, proc) => {
      pid = proc.pid;
      c.op('start', (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, SIG_IGN, 0, 0);
        syscall(cpu, NR.rt_sigaction, SIGUSR1, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.kill, pid, SIGUSR1);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.rt_sigaction, SIGUSR1, 0, SIGACTION_AT + 0x40, 8);
      });
      c.op(undefined, (cpu) => {
        const handler = rd64(cpu, SIGACTION_AT + 0x40);
        results.push(rax(cpu), handler);
        writeSigaction(cpu, SIGACTION_AT, SIG_IGN, 0, 0);
        syscall(cpu, NR.rt_sigaction, SIGKILL, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.rt_sigaction, SIGSTOP, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.rt_sigaction, SIGUSR1, SIGACTION_AT, 0, 16); // wrong sigsetsize
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([0, 0, 0, BigInt(SIG_IGN), -EINVAL, -EINVAL, -EINVAL]);
    expect(p.waitStatus).toBe(0);
  });

  it('SIGTERM with the default action kills: wait status = the signal number', () => {
    const { k } = boot();
    let child = 0;
    let waited = { pid: 0, status: -1 };
    let childRan = 0;
    k.spawn('term', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.sched_yield); // let the child run a little
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.kill, child, SIGTERM));
      c.op(undefined, (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0));
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        waited = { pid: rax(cpu), status: s };
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => {
        childRan++;
        syscall(cpu, NR.sched_yield);
      });
      c.op(undefined, (cpu) => cpu.jump(c.addr('child')));
      return 'start';
    });
    runAll(k);
    expect(childRan).toBeGreaterThan(0);
    expect(waited).toEqual({ pid: child, status: SIGTERM });
    expect(waited.status & 0x7f).toBe(SIGTERM); // WIFSIGNALED, WTERMSIG
  });

  it('kill(pid, 0) probes: 0 for a live process or an unreaped zombie, -ESRCH once reaped', () => {
    const { k } = boot();
    const results: number[] = [];
    let child = 0;
    k.spawn('probe', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.kill, child, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.sched_yield); // the child exits
      });
      c.op(undefined, (cpu) => {
        results.push(k.processes.get(child)?.zombie ? 1 : 0);
        syscall(cpu, NR.kill, child, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.kill, child, SIGTERM); // a zombie ignores signals
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        const s = cpu.mmu.read32(STATUS_AT);
        results.push(s);
        syscall(cpu, NR.kill, child, 0);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.exit_group, 2));
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([0, 1, 0, 0, 2 << 8, -ESRCH]);
  });

  it('SIGKILL kills even a process that blocks and ignores everything it can', () => {
    const { k } = boot();
    let pid = 0;
    let after = false;
    const p = k.spawn('kill9', (c, proc) => {
      pid = proc.pid;
      c.op('start', sigprocmask(SIG_BLOCK, 0xffff_ffff_ffff_ffffn));
      c.op(undefined, (cpu) => syscall(cpu, NR.kill, pid, SIGKILL));
      c.op(undefined, (cpu) => {
        after = true;
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(after).toBe(false);
    expect(p.waitStatus).toBe(SIGKILL);
  });
});

describe('Linux 3.2 returns to user mode with IRETQ except from a plain system call', () => {
  it('signal delivery and rt_sigreturn leave through IRETQ even when RCX = RIP and R11 = RFLAGS (int_ret_from_sys_call; no opportunistic SYSRET)', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const events: string[] = [];
    const proto = Cpu.prototype as unknown as Record<'iretq' | 'sysret', (this: Cpu) => void>;
    const saved = { iretq: proto.iretq, sysret: proto.sysret };
    for (const name of ['iretq', 'sysret'] as const) {
      proto[name] = function (this: Cpu): void {
        events.push(name);
        saved[name].call(this);
      };
    }
    k.spawn('usr1', (c) => {
      c.op('start', installCatcher(c, SIGUSR1));
      c.op(undefined, (cpu) => syscall(cpu, NR.getpid));
      c.op(undefined, (cpu) => {
        events.length = 0;
        syscall(cpu, NR.kill, rax(cpu), SIGUSR1); // delivered on the way out of kill
      });
      c.op(undefined, (cpu) => {
        events.push('after');
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log, 'return');
      return 'start';
    });
    try {
      runAll(k);
    } finally {
      Object.assign(proto, saved);
    }
    expect(log.map((l) => l.signo)).toEqual([SIGUSR1]);
    // Into the handler, and back from rt_sigreturn to the instruction after kill's SYSCALL.
    expect(events).toEqual(['iretq', 'iretq', 'after']);
  });
});
