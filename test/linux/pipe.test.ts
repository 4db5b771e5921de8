import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import {
  EAGAIN, EBADF, EINTR, EPIPE, ESPIPE, FD_CLOEXEC, F_GETFD, F_GETFL, NR, O_CLOEXEC, O_NONBLOCK, O_RDONLY,
  O_WRONLY, SEEK_SET, SIGPIPE, SIGUSR1, SIG_IGN, S_IFIFO, S_IFMT, signaledStatus,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { TaskState } from '../../core/linux/task.js';
import { Caught, SCRATCH, SIGACTION_AT, STATUS_AT, addCatcher, boot, installCatcher, rax, runAll, writeSigaction } from './helpers.js';
import { BUF, BUF2, getBytes, getStr, parseStat, putStr, script } from './fs-helpers.js';

/** Where the pipe fds land: two int32s. */
const FDS = SCRATCH + 0x800;

describe('Linux model pipes', () => {
  it('carry data between a parent and a forked child: an empty pipe with a writer sleeps, EOF after the last close', () => {
    const { k } = boot();
    const log: string[] = [];
    let childStatus = -1;
    let child = 0;
    const parent = k.spawn('pingpong', (c) => {
      c.op('start', (cpu) => {
        cpu.mmu.write8(SCRATCH, 0); // fault the scratch page in first
        syscall(cpu, NR.pipe, FDS); // 3 → child reads, 4: parent writes
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.pipe, FDS + 8)); // 5: parent reads, 6: child writes
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.close, 3);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.close, 6));
      c.op(undefined, (cpu) => syscall(cpu, NR.sched_yield)); // let the child block on its read
      c.op(undefined, (cpu) => {
        putStr(cpu, BUF, 'ping'); // memory first: a native that faults runs again
        log.push(`parent writes (child ${k.tasks.get(child)!.state})`);
        syscall(cpu, NR.write, 4, BUF, 4);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.read, 5, BUF2, 100));
      c.op(undefined, (cpu) => {
        log.push(`parent got ${getStr(cpu, BUF2, rax(cpu))}`);
        syscall(cpu, NR.close, 4); // the child's next read sees EOF
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.read, 5, BUF2, 100));
      c.op(undefined, (cpu) => {
        log.push(`parent read ${rax(cpu)}`);
        syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => {
        childStatus = cpu.mmu.read32(STATUS_AT);
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.close, 4));
      c.op(undefined, (cpu) => syscall(cpu, NR.close, 5));
      c.op(undefined, (cpu) => {
        log.push('child reads');
        syscall(cpu, NR.read, 3, BUF, 100);
      });
      c.op(undefined, (cpu) => {
        const got = getStr(cpu, BUF, rax(cpu));
        putStr(cpu, BUF, 'pong');
        log.push(`child got ${got}`);
        syscall(cpu, NR.write, 6, BUF, 4);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.read, 3, BUF, 100));
      c.op(undefined, (cpu) => {
        log.push(`child read ${rax(cpu)}`);
        syscall(cpu, NR.exit_group, 7); // closes 6: the parent's read of 5 sees EOF
      });
      return 'start';
    });
    runAll(k);
    expect(log).toEqual([
      'child reads',
      'parent writes (child sleeping)',
      'child got ping',
      'parent got pong',
      'child read 0',
      'parent read 0',
    ]);
    expect(childStatus).toBe(7 << 8);
    expect(parent.waitStatus).toBe(0);
  });

  it.each([1, 2])('moves a write larger than the pipe (64 KiB) as the reader drains it, in order (%i CPUs)', (cpus) => {
    const { k } = boot({ cpus });
    const N = 200_000;
    const SRC = 0x3000_0000;
    const DST = 0x4000_0000;
    const got: number[] = [];
    let writeResult = 0;
    let reads = 0;
    k.spawn('bulk', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, SRC, Math.ceil(N / PAGE_SIZE) * PAGE_SIZE, 3, 0x32, -1, 0));
      c.op(undefined, (cpu) => {
        for (let i = 0; i < N; i += 4) cpu.mmu.write32(SRC + i, i);
        cpu.mmu.write8(SCRATCH, 0);
        syscall(cpu, NR.pipe, FDS);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        syscall(cpu, NR.close, 3);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.write, 4, SRC, N)); // blocks until the child has read it all
      c.op(undefined, (cpu) => {
        writeResult = rax(cpu);
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.close, 4));
      c.op(undefined, (cpu) => syscall(cpu, NR.mmap, DST, 8 * PAGE_SIZE, 3, 0x32, -1, 0));
      c.op('loop', (cpu) => syscall(cpu, NR.read, 3, DST, 30_000));
      c.op(undefined, (cpu) => {
        const n = rax(cpu);
        if (n <= 0) return syscall(cpu, NR.exit_group, n === 0 ? 0 : 1);
        for (let i = 0; i < n; i++) got.push(cpu.mmu.read8(DST + i)); // present: the kernel wrote them
        reads++;
        cpu.jump(c.addr('loop'));
      });
      return 'start';
    });
    runAll(k);
    expect(writeResult).toBe(N);
    expect(got.length).toBe(N);
    expect(reads).toBeGreaterThanOrEqual(Math.ceil(N / 30_000));
    const bytes = Uint8Array.from(got);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < N; i += 4 * 997) expect(dv.getUint32(i, true)).toBe(i);
  });

  it('O_NONBLOCK gives -EAGAIN; pipe2 O_CLOEXEC; fstat says FIFO; lseek and pread say -ESPIPE', () => {
    const { k } = boot();
    let mode = 0n;
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.pipe2, FDS, O_NONBLOCK | O_CLOEXEC),
      (cpu) => syscall(cpu, NR.read, cpu.mmu.read32(FDS), BUF, 10),
      (cpu) => syscall(cpu, NR.fcntl, 3, F_GETFL),
      (cpu) => syscall(cpu, NR.fcntl, 4, F_GETFL),
      (cpu) => syscall(cpu, NR.fcntl, 4, F_GETFD),
      (cpu) => syscall(cpu, NR.fstat, 3, BUF),
      (cpu) => {
        mode = parseStat(getBytes(cpu, BUF, 144)).mode!;
        syscall(cpu, NR.lseek, 3, 0, SEEK_SET);
      },
      (cpu) => syscall(cpu, NR.pread64, 3, BUF, 1, 0),
      (cpu) => syscall(cpu, NR.write, 3, BUF, 1), // the read end
      (cpu) => syscall(cpu, NR.read, 4, BUF, 1), // the write end
      (cpu) => syscall(cpu, NR.pipe2, FDS, 0x1), // a bad flag
      // Fill the pipe without blocking: 64 KiB fit, then -EAGAIN.
      (cpu) => syscall(cpu, NR.write, 4, SCRATCH, 65536),
      (cpu) => syscall(cpu, NR.write, 4, BUF, 1),
      (cpu) => syscall(cpu, NR.read, 3, BUF, 100),
      (cpu) => syscall(cpu, NR.write, 4, BUF, 1),
    ]);
    runAll(k);
    expect(results).toEqual([
      0, -EAGAIN, O_RDONLY | O_NONBLOCK, O_WRONLY | O_NONBLOCK, FD_CLOEXEC, 0, -ESPIPE, -ESPIPE, -EBADF, -EBADF,
      -22, 65536, -EAGAIN, 100, 1,
    ]);
    expect(Number(mode) & S_IFMT).toBe(S_IFIFO);
  });

  it('a write without readers is -EPIPE with SIGPIPE: ignored it returns, by default it kills', () => {
    const { k } = boot();
    const ignored = script(k, [
      (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, SIG_IGN, 0, 0);
        syscall(cpu, NR.rt_sigaction, SIGPIPE, SIGACTION_AT, 0, 8);
      },
      (cpu) => syscall(cpu, NR.pipe, FDS),
      (cpu) => syscall(cpu, NR.close, 3),
      (cpu) => syscall(cpu, NR.write, 4, BUF, 1),
      (cpu) => syscall(cpu, NR.write, 4, BUF, 0), // nothing to write: 0, no signal
    ], 'ignored');
    const killed = script(k, [
      (cpu) => syscall(cpu, NR.pipe, FDS),
      (cpu) => syscall(cpu, NR.close, 3),
      (cpu) => syscall(cpu, NR.write, 4, BUF, 1),
      (cpu) => syscall(cpu, NR.getpid),
    ], 'killed');
    runAll(k);
    expect(ignored.results).toEqual([0, 0, 0, -EPIPE, 0]);
    expect(ignored.p.waitStatus).toBe(0);
    expect(killed.results).toEqual([0, 0]);
    expect(killed.p.waitStatus).toBe(signaledStatus(SIGPIPE));
  });

  it('a signal interrupts a blocked read with -EINTR; the reader goes on and sees EOF when the writer exits', () => {
    const { k } = boot();
    const log: Caught[] = [];
    const results: number[] = [];
    k.spawn('eintr', (c, proc) => {
      c.op('start', (cpu) => {
        cpu.mmu.write8(SCRATCH, 0);
        syscall(cpu, NR.pipe, FDS);
      });
      c.op(undefined, installCatcher(c, SIGUSR1));
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        syscall(cpu, NR.close, 4);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.read, 3, BUF, 10)); // sleeps; SIGUSR1 ends it
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.read, 3, BUF, 10); // sleeps until the child exits
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.kill, proc.pid, SIGUSR1));
      c.op(undefined, (cpu) => syscall(cpu, NR.sched_yield));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      addCatcher(c, log, 'return');
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([-EINTR, 0]);
    expect(log.map((x) => x.signo)).toEqual([SIGUSR1]);
    expect([...k.tasks.values()].every((t) => t.state === TaskState.Dead)).toBe(true);
  });

  it('dup2 of a pipe onto stdout redirects a child\'s output to its parent', () => {
    const { k, out } = boot();
    let text = '';
    k.spawn('redirect', (c) => {
      c.op('start', (cpu) => {
        cpu.mmu.write8(SCRATCH, 0);
        syscall(cpu, NR.pipe, FDS);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        syscall(cpu, NR.close, 4);
      });
      c.op('more', (cpu) => syscall(cpu, NR.read, 3, BUF2, 100));
      c.op(undefined, (cpu) => {
        const n = rax(cpu);
        if (n > 0) {
          text += getStr(cpu, BUF2, n);
          return cpu.jump(c.addr('more'));
        }
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.dup2, 4, 1));
      c.op(undefined, (cpu) => syscall(cpu, NR.close, 4));
      c.op(undefined, (cpu) => syscall(cpu, NR.close, 3));
      c.op(undefined, (cpu) => syscall(cpu, NR.write, 1, putStr(cpu, BUF, 'hello via stdout\n'), 17));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      return 'start';
    });
    runAll(k);
    expect(text).toBe('hello via stdout\n');
    expect(out).toEqual([]);
  });
});
