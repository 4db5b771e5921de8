/**
 * The kernel model's scheduler and idle loop as the netlim hardening uses them: CPU affinity
 * (cpus_allowed: a task never runs on a CPU outside its mask), the clock of a CPU woken from idle
 * (it moves on to the time of the wake-up), and Kernel.run telling a finished machine ('done')
 * from one on which nothing can ever run again ('deadlock').
 */
import { describe, it, expect } from 'vitest';
import { Cpu } from '../../core/vtx/cpu.js';
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import { NR, O_RDONLY, O_WRONLY } from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { Pipe, PipeEnd, installFd } from '../../core/linux/vfs.js';
import { boot, rd64 } from './helpers.js';
import { BUF, script } from './fs-helpers.js';

/** A process of natives pinned to `cpus`: each step runs as one instruction; then exit_group(0). */
function pinned(k: ReturnType<typeof boot>['k'], name: string, cpus: number[], steps: Array<(cpu: Cpu) => void>): ReturnType<typeof k.spawn> {
  return k.spawn(name, (c: CodeBuilder) => {
    c.op('start', (cpu) => cpu.mmu.write8(BUF, 0));
    for (const s of steps) c.op(undefined, s);
    c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
    return 'start';
  }, { cpusAllowed: cpus });
}

describe('Linux model: CPU affinity and idle CPUs', () => {
  it('a task runs only on the CPUs it is allowed, and sched_getaffinity says which', () => {
    const { k } = boot({ cpus: 2 });
    const seen: number[] = [];
    let mask = 0n;
    const mark = (cpu: Cpu): void => {
      seen.push(cpu.index);
    };
    pinned(k, 'a', [1], [mark, (cpu) => syscall(cpu, NR.getpid), mark, (cpu) => syscall(cpu, NR.sched_getaffinity, 0, 8, BUF), (cpu) => {
      mask = rd64(cpu, BUF);
      mark(cpu);
    }]);
    pinned(k, 'b', [1], [mark, (cpu) => syscall(cpu, NR.getpid), mark]);
    k.start();
    expect(k.run()).toBe('done');
    expect(seen.length).toBe(5);
    expect(seen.every((c) => c === 1)).toBe(true);
    expect(mask).toBe(0b10n);
    expect(k.machine.cpus[0]!.instructions).toBe(0);
  });

  it('a CPU woken from idle starts at the time of the wake-up, not where it went idle', () => {
    const { k } = boot({ cpus: 2 });
    const pipe = new Pipe(k);
    let wroteAt = 0;
    let readAt = 0;
    const reader = pinned(k, 'reader', [1], [(cpu) => syscall(cpu, NR.read, 3, BUF, 1), (cpu) => {
      readAt = cpu.cycles;
    }]);
    const writer = pinned(k, 'writer', [0], [(cpu) => cpu.charge(5_000_000), (cpu) => {
      wroteAt = cpu.cycles;
      syscall(cpu, NR.write, 4, BUF, 1);
    }]);
    installFd(reader, 3, new PipeEnd(pipe, false, O_RDONLY));
    installFd(reader, 4, new PipeEnd(pipe, true, O_WRONLY));
    installFd(writer, 4, new PipeEnd(pipe, true, O_WRONLY));
    k.start();
    expect(k.run()).toBe('done');
    expect(wroteAt).toBeGreaterThan(5_000_000);
    expect(readAt).toBeGreaterThan(wroteAt);
  });
});

describe('Linux model: Kernel.run says why it stopped', () => {
  it("'deadlock' when the only task reads an empty pipe whose write end it holds; the report names it", () => {
    const { k } = boot();
    script(k, [(cpu) => syscall(cpu, NR.pipe, BUF), (cpu) => syscall(cpu, NR.read, 3, BUF + 16, 1)], 'reader');
    k.start();
    expect(k.run()).toBe('deadlock');
    expect(k.describeBlocked()).toBe('pid 1 (reader) asleep in read');
  });

  it("'done' when every process has exited, 'cycles' when the budget ran out first", () => {
    const a = boot();
    script(a.k, [(cpu) => syscall(cpu, NR.getpid)]);
    a.k.start();
    expect(a.k.run()).toBe('done');
    const b = boot();
    script(b.k, [(cpu) => cpu.charge(10_000_000), (cpu) => syscall(cpu, NR.getpid)]);
    b.k.start();
    expect(b.k.run(1_000_000)).toBe('cycles');
  });
});
