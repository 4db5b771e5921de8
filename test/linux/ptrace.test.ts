import { describe, it, expect } from 'vitest';
import { Cpu, R12, R13, R14, R15 } from '../../core/vtx/cpu.js';
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import {
  EPERM, ENOSYS, ESRCH, NR, PTRACE_ATTACH, PTRACE_CONT, PTRACE_GETREGS, PTRACE_O_TRACESYSGOOD,
  PTRACE_PEEKDATA, PTRACE_POKEDATA, PTRACE_SETOPTIONS, PTRACE_SETREGS, PTRACE_SYSCALL, PTRACE_SYSEMU,
  PTRACE_TRACEME, SIGKILL, SIGSTOP, SIGTRAP, USER_REGS_FIELDS, stoppedStatus,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { REGS_AT, SCRATCH, STATUS_AT, boot, rax, rd64, runAll, setReg64, wr64 } from './helpers.js';

const F = (name: (typeof USER_REGS_FIELDS)[number]): number => REGS_AT + USER_REGS_FIELDS.indexOf(name) * 8;
const SYSCALL_STOP = stoppedStatus(SIGTRAP | 0x80);

/** Adds natives one after another; the first gets `label`. */
function steps(c: CodeBuilder, label: string, fns: Array<(cpu: Cpu) => void>): void {
  fns.forEach((fn, i) => c.op(i === 0 ? label : undefined, fn));
}

/** user_regs_struct fields read back from REGS_AT. */
function regs(cpu: Cpu, ...names: Array<(typeof USER_REGS_FIELDS)[number]>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const n of names) out[n] = rd64(cpu, F(n));
  return out;
}

const BIG = [0x1111_2222_3333_4444n, 0x8888_7777_6666_5555n, 0xfedc_ba98_7654_3210n, 0x0123_4567_89ab_cdefn];

describe('Linux model: ptrace', () => {
  it('PTRACE_SYSCALL stops at syscall entry and exit; GETREGS shows orig_rax and the result; SETREGS changes it', () => {
    const { k } = boot();
    let child = 0;
    const statuses: number[] = [];
    const seen: Array<Record<string, bigint>> = [];
    const childSaw: number[] = [];
    const errs: number[] = [];
    k.spawn('tracer', (c) => {
      steps(c, 'start', [
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0); // the child's SIGSTOP
        },
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESYSGOOD);
        },
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_SYSCALL, child, 0, 0),
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // getpid #1: entry
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_GETREGS, child, 0, REGS_AT);
        },
        (cpu) => {
          seen.push(regs(cpu, 'orig_rax', 'rax', 'r12', 'r13', 'r14', 'r15'));
          syscall(cpu, NR.ptrace, PTRACE_SYSCALL, child, 0, 0);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // getpid #1: exit
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_GETREGS, child, 0, REGS_AT);
        },
        (cpu) => {
          seen.push(regs(cpu, 'orig_rax', 'rax'));
          syscall(cpu, NR.ptrace, PTRACE_SYSCALL, child, 0, 0);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // getpid #2: entry
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_SYSCALL, child, 0, 0);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // getpid #2: exit
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_GETREGS, child, 0, REGS_AT);
        },
        (cpu) => {
          wr64(cpu, F('rax'), 4242n);
          syscall(cpu, NR.ptrace, PTRACE_SETREGS, child, 0, REGS_AT);
        },
        (cpu) => {
          errs.push(rax(cpu));
          syscall(cpu, NR.ptrace, PTRACE_CONT, child, 0, 0);
        },
        (cpu) => {
          errs.push(rax(cpu));
          syscall(cpu, NR.ptrace, PTRACE_GETREGS, child, 0, REGS_AT); // running: not stopped
        },
        (cpu) => {
          errs.push(rax(cpu));
          syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
        },
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_TRACEME, 0, 0, 0),
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_TRACEME, 0, 0, 0), // already traced
        (cpu) => {
          childSaw.push(rax(cpu));
          syscall(cpu, NR.getpid);
        },
        (cpu) => syscall(cpu, NR.kill, rax(cpu), SIGSTOP),
        (cpu) => {
          [R12, R13, R14, R15].forEach((r, i) => setReg64(cpu, r, BIG[i]!));
          syscall(cpu, NR.getpid);
        },
        (cpu) => {
          childSaw.push(rax(cpu));
          syscall(cpu, NR.getpid);
        },
        (cpu) => {
          childSaw.push(rax(cpu));
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      return 'start';
    });
    runAll(k);
    expect(statuses).toEqual([stoppedStatus(SIGSTOP), SYSCALL_STOP, SYSCALL_STOP, SYSCALL_STOP, SYSCALL_STOP, 0]);
    expect(statuses[1]! & 0xff).toBe(0x7f); // WIFSTOPPED
    expect((statuses[1]! >> 8) & 0xff).toBe(SIGTRAP | 0x80); // WSTOPSIG
    // Entry: orig_rax is the call, rax is -ENOSYS (as x86-64 Linux sets it for the tracer).
    expect(seen[0]).toEqual({
      orig_rax: BigInt(NR.getpid), rax: BigInt.asUintN(64, BigInt(-ENOSYS)), r12: BIG[0], r13: BIG[1], r14: BIG[2], r15: BIG[3],
    });
    // Exit: rax holds the result.
    expect(seen[1]).toEqual({ orig_rax: BigInt(NR.getpid), rax: BigInt(child) });
    expect(childSaw).toEqual([-EPERM, child, 4242]);
    expect(errs).toEqual([0, 0, -ESRCH]);
  });

  it('without PTRACE_O_TRACESYSGOOD a syscall stop reports plain SIGTRAP', () => {
    const { k } = boot();
    let child = 0;
    const statuses: number[] = [];
    k.spawn('tracer', (c) => {
      steps(c, 'start', [
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
        },
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_SYSCALL, child, 0, 0),
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_CONT, child, 0, 0);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_TRACEME, 0, 0, 0),
        (cpu) => syscall(cpu, NR.getpid),
        (cpu) => syscall(cpu, NR.kill, rax(cpu), SIGSTOP),
        (cpu) => syscall(cpu, NR.getpid),
        (cpu) => syscall(cpu, NR.exit_group, 1),
      ]);
      return 'start';
    });
    runAll(k);
    expect(statuses).toEqual([stoppedStatus(SIGTRAP), 1 << 8]);
  });

  it('PTRACE_SYSEMU stops at entry and skips the call: the result is the RAX the tracer left', () => {
    const { k, out } = boot();
    let child = 0;
    const statuses: number[] = [];
    const entry: Array<Record<string, bigint>> = [];
    const childSaw: number[] = [];
    k.spawn('emu', (c) => {
      steps(c, 'start', [
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
        },
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESYSGOOD),
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_SYSEMU, child, 0, 0),
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // write: entry
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_GETREGS, child, 0, REGS_AT);
        },
        (cpu) => {
          entry.push(regs(cpu, 'orig_rax', 'rdi', 'rdx'));
          wr64(cpu, F('rax'), 777n);
          syscall(cpu, NR.ptrace, PTRACE_SETREGS, child, 0, REGS_AT);
        },
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_SYSEMU, child, 0, 0),
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // getpid: entry (no exit stop came before)
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_CONT, child, 0, 0); // RAX left alone: -ENOSYS
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_TRACEME, 0, 0, 0),
        (cpu) => syscall(cpu, NR.getpid),
        (cpu) => syscall(cpu, NR.kill, rax(cpu), SIGSTOP),
        (cpu) => {
          cpu.mmu.write32(SCRATCH + 0x800, 0x0a216968); // "hi!\n"
          syscall(cpu, NR.write, 1, SCRATCH + 0x800, 4);
        },
        (cpu) => {
          childSaw.push(rax(cpu));
          syscall(cpu, NR.getpid);
        },
        (cpu) => {
          childSaw.push(rax(cpu));
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      return 'start';
    });
    runAll(k);
    expect(statuses).toEqual([SYSCALL_STOP, SYSCALL_STOP, 0]);
    expect(entry[0]).toEqual({ orig_rax: BigInt(NR.write), rdi: 1n, rdx: 4n });
    expect(childSaw).toEqual([777, -ENOSYS]);
    expect(out.join('')).toBe(''); // the write never ran
  });

  it('PTRACE_ATTACH stops the target with SIGSTOP; PEEK/POKE reach its memory; CONT lets it go on', () => {
    const { k } = boot();
    const CELL = SCRATCH + 0x900;
    let child = 0;
    const statuses: number[] = [];
    const results: Array<number | bigint> = [];
    let childSaw = 0n;
    k.spawn('attacher', (c) => {
      steps(c, 'start', [
        (cpu) => wr64(cpu, CELL, 0x1234n), // before fork: both see it
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.ptrace, PTRACE_GETREGS, child, 0, REGS_AT); // not traced yet
        },
        (cpu) => {
          results.push(rax(cpu));
          syscall(cpu, NR.ptrace, PTRACE_ATTACH, child, 0, 0);
        },
        (cpu) => {
          results.push(rax(cpu));
          syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
        },
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.ptrace, PTRACE_PEEKDATA, child, CELL, REGS_AT);
        },
        (cpu) => {
          const v = rd64(cpu, REGS_AT);
          results.push(rax(cpu), v);
          syscall(cpu, NR.ptrace, PTRACE_POKEDATA, child, CELL, 0x5678);
        },
        (cpu) => {
          results.push(rax(cpu));
          syscall(cpu, NR.ptrace, PTRACE_CONT, child, 0, 0); // the SIGSTOP is suppressed
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          const v = rd64(cpu, CELL);
          statuses.push(cpu.mmu.read32(STATUS_AT));
          results.push(v); // the parent's own copy is untouched
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.sched_yield),
        (cpu) => syscall(cpu, NR.sched_yield),
        (cpu) => {
          childSaw = rd64(cpu, CELL);
          syscall(cpu, NR.exit_group, 9);
        },
      ]);
      return 'start';
    });
    runAll(k);
    expect(statuses).toEqual([stoppedStatus(SIGSTOP), 9 << 8]);
    expect(results).toEqual([-ESRCH, 0, 0, 0x1234n, 0, 0x1234n]);
    expect(childSaw).toBe(0x5678n);
  });

  it('SIGKILL ends a tracee that is stopped for its tracer', () => {
    const { k } = boot();
    let child = 0;
    const statuses: number[] = [];
    k.spawn('killer', (c) => {
      steps(c, 'start', [
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.ptrace, PTRACE_ATTACH, child, 0, 0);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          statuses.push(cpu.mmu.read32(STATUS_AT));
          syscall(cpu, NR.kill, child, SIGKILL);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          statuses.push(rax(cpu) === child ? cpu.mmu.read32(STATUS_AT) : -1);
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.sched_yield),
        (cpu) => cpu.jump(c.addr('child')),
      ]);
      return 'start';
    });
    runAll(k, 1e8);
    expect(statuses).toEqual([stoppedStatus(SIGSTOP), SIGKILL]);
  });

  it('a tracee whose tracer exits is detached and runs on', () => {
    const { k } = boot();
    let child = 0;
    let childRanOn = false;
    k.spawn('quitter', (c) => {
      steps(c, 'start', [
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.ptrace, PTRACE_ATTACH, child, 0, 0);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_SYSCALL, child, 0, 0),
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0), // the child's next syscall: entry stop
        (cpu) => syscall(cpu, NR.exit_group, 0), // leave it stopped
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.sched_yield),
        (cpu) => syscall(cpu, NR.getpid),
        (cpu) => {
          childRanOn = rax(cpu) === child;
          syscall(cpu, NR.exit_group, 6);
        },
      ]);
      return 'start';
    });
    runAll(k, 1e8);
    const p = k.processes.get(child)!;
    expect(childRanOn).toBe(true);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus).toBe(6 << 8);
  });

  it('a tracee killed in a stop the tracer never collected is reported dead, not stopped', () => {
    const { k } = boot();
    let child = 0;
    const results: number[] = [];
    k.spawn('killer', (c) => {
      steps(c, 'start', [
        (cpu) => syscall(cpu, NR.fork),
        (cpu) => {
          if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
          child = rax(cpu);
          syscall(cpu, NR.sched_yield); // the child stops itself meanwhile
        },
        (cpu) => {
          results.push(k.tasks.get(child)!.state === 'stopped' ? 1 : 0);
          syscall(cpu, NR.kill, child, SIGKILL);
        },
        (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0),
        (cpu) => {
          const s = cpu.mmu.read32(STATUS_AT);
          results.push(rax(cpu), s);
          syscall(cpu, NR.exit_group, 0);
        },
      ]);
      steps(c, 'child', [
        (cpu) => syscall(cpu, NR.ptrace, PTRACE_TRACEME, 0, 0, 0),
        (cpu) => syscall(cpu, NR.getpid),
        (cpu) => syscall(cpu, NR.kill, rax(cpu), SIGSTOP),
        (cpu) => syscall(cpu, NR.exit_group, 0),
      ]);
      return 'start';
    });
    runAll(k, 1e8);
    expect(results).toEqual([1, child, SIGKILL]);
  });
});
