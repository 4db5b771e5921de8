import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import {
  EBADF, EFAULT, ENOSYS, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, NR, PAGE_OFFSET, PROT_READ, PROT_WRITE,
  SIGSEGV, SIGUSR1, SIG_BLOCK, SA_RESTORER, SA_SIGINFO,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import {
  Caught, OLDSET_AT, SIGACTION_AT, SIGSET_AT, STATUS_AT, addCatcher, boot, installCatcher, rax, rd64, runAll,
  sigbit, writeSigaction, wr64,
} from './helpers.js';

describe('Linux model: bad user pointers (-EFAULT)', () => {
  it('write with an unmapped or kernel buffer returns -EFAULT, raises no signal, and the process goes on', () => {
    const { k, out } = boot();
    const log: Caught[] = [];
    const results: number[] = [];
    const p = k.spawn('efault', (c) => {
      c.op('start', installCatcher(c, SIGSEGV));
      c.op(undefined, (cpu) => syscall(cpu, NR.write, 1, 0x6660_0000, 16)); // nothing mapped
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.write, 1, PAGE_OFFSET + 0x1000, 16); // the kernel's direct map
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.write, 99, 0x6660_0000, 16); // bad fd first
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        cpu.mmu.write32(STATUS_AT, 0x0a6b6f); // "ok\n"
        syscall(cpu, NR.write, 1, STATUS_AT, 3);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      addCatcher(c, log);
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([-EFAULT, -EFAULT, -EBADF, 3]);
    expect(log).toEqual([]);
    expect(out.join('')).toBe('ok\n');
    expect(p.waitStatus).toBe(0);
  });

  it('rt_sigaction / rt_sigprocmask with pointers into kernel space return -EFAULT and change nothing', () => {
    const { k } = boot();
    const results: Array<number | bigint> = [];
    let handler = -1;
    const p = k.spawn('efault', (c, proc) => {
      c.op('start', (cpu) => syscall(cpu, NR.rt_sigaction, SIGUSR1, PAGE_OFFSET + 0x1000, 0, 8));
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        handler = proc.actions[SIGUSR1]!.handler;
        syscall(cpu, NR.rt_sigaction, SIGUSR1, 0, PAGE_OFFSET, 8); // oact into the kernel
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, PAGE_OFFSET, 0, 8);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0x6660_0000, 0, 8); // unmapped set
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0, OLDSET_AT, 8);
      });
      c.op(undefined, (cpu) => {
        const mask = rd64(cpu, OLDSET_AT);
        results.push(rax(cpu), mask);
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([-EFAULT, -EFAULT, -EFAULT, -EFAULT, 0, 0n]);
    expect(handler).toBe(0);
    expect(p.waitStatus).toBe(0);
  });

  it('a kernel write into a read-only user page is -EFAULT (wait4 status), a COW page is copied', () => {
    const { k } = boot();
    const RO = 0x3000_0000;
    const results: number[] = [];
    let status = 0;
    let child = 0;
    k.spawn('ro', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, RO, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => wr64(cpu, STATUS_AT, 0x5555n)); // the status page is COW-shared after fork
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, 0, RO, 8); // oset read-only
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        status = cpu.mmu.read32(STATUS_AT);
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.exit_group, 4));
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([-EFAULT, child]);
    expect(status).toBe(4 << 8);
  });
});

describe('Linux model: unknown system calls', () => {
  it('returns -ENOSYS for numbers the table does not know, and the process goes on', () => {
    const { m, k } = boot();
    const results: number[] = [];
    const p = k.spawn('enosys', (c) => {
      c.op('start', (cpu) => syscall(cpu, 999));
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, 1_000_000);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, -1);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.getpid);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([-ENOSYS, -ENOSYS, -ENOSYS, p.pid]);
    expect(m.stats.get('linux.syscalls')).toBe(5);
  });
});

describe('Linux model: determinism', () => {
  /** A program that exercises most kernel paths: faults, COW, fork, signals, wait4, munmap. */
  function workload(cpus: number): { cycles: number[]; instructions: number[]; stats: Record<string, number>; frames: number } {
    const { m, k } = boot({ cpus });
    const A = 0x3000_0000;
    for (let n = 0; n < 2; n++) {
      k.spawn(`w${n}`, (c) => {
        c.op('start', (cpu) => {
          writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_SIGINFO | SA_RESTORER, c.addr('restorer'));
          syscall(cpu, NR.rt_sigaction, SIGSEGV, SIGACTION_AT, 0, 8);
        });
        c.op(undefined, (cpu) => syscall(cpu, NR.mmap, A, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
        c.op('fill', (cpu) => {
          const i = cpu.reg(3); // RBX: page index
          wr64(cpu, A + i * PAGE_SIZE, BigInt(i + 1));
          cpu.setReg(3, i + 1);
          if (i + 1 < 8) cpu.jump(c.addr('fill'));
        });
        c.op(undefined, (cpu) => syscall(cpu, NR.fork));
        c.op(undefined, (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          syscall(cpu, NR.wait4, -1, STATUS_AT, 0, 0);
        });
        c.op(undefined, (cpu) => syscall(cpu, NR.munmap, A, 4 * PAGE_SIZE));
        c.op(undefined, (cpu) => void cpu.mmu.read64(A)); // SIGSEGV, handled
        c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
        c.op('child', (cpu) => {
          const i = cpu.reg(3) - 1;
          wr64(cpu, A + i * PAGE_SIZE, 0xccn); // COW copies
          cpu.setReg(3, i);
          if (i > 0) cpu.jump(c.addr('child'));
        });
        c.op(undefined, (cpu) => {
          wr64(cpu, SIGSET_AT, sigbit(SIGUSR1));
          syscall(cpu, NR.rt_sigprocmask, SIG_BLOCK, SIGSET_AT, 0, 8);
        });
        c.op(undefined, (cpu) => syscall(cpu, NR.sched_yield));
        c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 1));
        c.op('handler', (cpu) => {
          const mc = cpu.reg(2) + 40;
          const rip = cpu.mmu.read64Number(mc + 128);
          cpu.mmu.write64Number(mc + 128, rip + 7);
        });
        c.op(undefined, (cpu) => cpu.ret());
        c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
        return 'start';
      });
    }
    runAll(k);
    expect([...k.processes.values()].every((p) => p.zombie)).toBe(true);
    return {
      cycles: m.cpus.map((c) => c.cycles),
      instructions: m.cpus.map((c) => c.instructions),
      stats: m.stats.toJSON(),
      frames: m.frames.allocated,
    };
  }

  for (const cpus of [1, 2]) {
    it(`the same program run twice gives identical cycles and counters (${cpus} CPU${cpus > 1 ? 's' : ''})`, () => {
      const a = workload(cpus);
      const b = workload(cpus);
      expect(b).toEqual(a);
      expect(a.stats['linux.syscalls']).toBeGreaterThan(10);
      expect(a.stats['linux.pageFaults']).toBeGreaterThan(10);
      expect(a.stats['linux.signals']).toBe(2);
    });
  }
});
