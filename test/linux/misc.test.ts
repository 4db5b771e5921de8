import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, expect } from 'vitest';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { Cpu, RDX } from '../../core/vtx/cpu.js';
import { PageTables } from '../../core/vtx/page-tables.js';
import { BOOT_EPOCH_SECONDS, seedRandom } from '../../core/linux/clock.js';
import { Kernel } from '../../core/linux/kernel.js';
import { Process } from '../../core/linux/task.js';
import {
  CLOCK_MONOTONIC, CLOCK_REALTIME, EAGAIN, EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, ESRCH, ETIMEDOUT,
  FUTEX_CMP_REQUEUE, FUTEX_LOCK_PI, FUTEX_PRIVATE_FLAG, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE,
  FUTEX_WAKE_OP, MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MREMAP_FIXED, MREMAP_MAYMOVE, NR,
  O_RDONLY, PROT_READ, PROT_WRITE, RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_STACK, RLIM_INFINITY, SA_ONSTACK,
  SA_RESTORER, SA_SIGINFO, SEEK_CUR, SIGSTKSZ, SIGUSR1, SIGUSR2, SS_DISABLE, SS_ONSTACK, UC_STACK,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { SCRATCH, SIGACTION_AT, STATUS_AT, boot, rax, rd64, runAll, writeSigaction, wr64 } from './helpers.js';
import { BUF, BUF2, PATH, UNMAPPED, getBytes, getStr, putStr, script, tempDir } from './fs-helpers.js';

const A = 0x3000_0000;
const mapFixed = (cpu: Cpu, at: number, pages: number): void =>
  syscall(cpu, NR.mmap, at, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

/** A timespec / timeval / rlimit pair of 64-bit values at `va`. */
function pair(cpu: Cpu, va: number): [bigint, bigint] {
  return [rd64(cpu, va), rd64(cpu, va + 8)];
}

describe('Linux model: uname', () => {
  it('fills struct utsname: six NUL-padded 65-byte fields of a 3.2-era x86_64 Linux', () => {
    const { k } = boot();
    let raw = new Uint8Array();
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.uname, BUF),
      (cpu) => {
        raw = getBytes(cpu, BUF, 390);
        syscall(cpu, NR.uname, UNMAPPED);
      },
    ]);
    runAll(k);
    expect(results).toEqual([0, -EFAULT]);
    const field = (i: number): string => {
      const f = raw.subarray(i * 65, i * 65 + 65);
      expect(f[64]).toBe(0);
      return Buffer.from(f.subarray(0, f.indexOf(0))).toString();
    };
    expect(field(0)).toBe('Linux');
    expect(field(1)).toBe('dunesim');
    expect(field(2)).toMatch(/^3\.2\.\d+/);
    expect(field(3)).toMatch(/^#1 SMP/);
    expect(field(4)).toBe('x86_64');
    expect(field(5)).toBe('(none)');
  });
});

describe('Linux model: time from the simulated clock', () => {
  function timeline(k: Kernel): { results: number[]; rec: Record<string, number | bigint> } {
    const rec: Record<string, number | bigint> = {};
    const { results } = script(k, [
      (cpu) => {
        rec.c0 = cpu.cycles;
        syscall(cpu, NR.clock_gettime, CLOCK_MONOTONIC, BUF);
      },
      (cpu) => {
        const [s, ns] = pair(cpu, BUF);
        rec.c1 = cpu.cycles;
        rec.mono1 = s * 1_000_000_000n + ns;
        syscall(cpu, NR.clock_gettime, CLOCK_REALTIME, BUF);
      },
      (cpu) => {
        const [s, ns] = pair(cpu, BUF);
        rec.real1 = s * 1_000_000_000n + ns;
        wr64(cpu, BUF2, 1n);
        wr64(cpu, BUF2 + 8, 250_000_000n);
        syscall(cpu, NR.nanosleep, BUF2, 0);
      },
      (cpu) => syscall(cpu, NR.clock_gettime, CLOCK_MONOTONIC, BUF),
      (cpu) => {
        const [s, ns] = pair(cpu, BUF);
        rec.mono2 = s * 1_000_000_000n + ns;
        syscall(cpu, NR.gettimeofday, BUF, BUF + 0x40);
      },
      (cpu) => {
        const [s, us] = pair(cpu, BUF);
        rec.tvSec = s;
        rec.tvUsec = us;
        syscall(cpu, NR.time, BUF + 0x80);
      },
      (cpu) => {
        rec.tloc = rd64(cpu, BUF + 0x80);
        syscall(cpu, NR.clock_gettime, 99, BUF);
      },
      (cpu) => syscall(cpu, NR.clock_gettime, CLOCK_MONOTONIC, UNMAPPED),
      (cpu) => {
        wr64(cpu, BUF2 + 8, 1_000_000_000n); // tv_nsec out of range
        syscall(cpu, NR.nanosleep, BUF2, 0);
      },
      (cpu) => syscall(cpu, NR.clock_getres, CLOCK_MONOTONIC, BUF),
      (cpu) => {
        const [s, ns] = pair(cpu, BUF);
        rec.res = s * 1_000_000_000n + ns;
        syscall(cpu, NR.clock_nanosleep, CLOCK_MONOTONIC, 0, BUF2, 0); // still the bad timespec
      },
    ]);
    return { results, rec };
  }

  it('CLOCK_MONOTONIC is cycles / clockHz, nanosleep advances it, CLOCK_REALTIME adds the fixed epoch', () => {
    const { k } = boot();
    const { results, rec } = timeline(k);
    runAll(k);
    const hz = k.costs.clockHz;
    expect(results.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(results.slice(6)).toEqual([-EINVAL, -EFAULT, -EINVAL, 0, -EINVAL]);
    const mono1 = rec.mono1 as bigint;
    // The reading lies between the cycles before and after the call.
    expect(Number(mono1) * hz / 1e9).toBeGreaterThanOrEqual((rec.c0 as number) - 1);
    expect(Number(mono1) * hz / 1e9).toBeLessThanOrEqual(rec.c1 as number);
    const real1 = rec.real1 as bigint;
    expect(real1 - BigInt(BOOT_EPOCH_SECONDS) * 1_000_000_000n - mono1).toBeGreaterThanOrEqual(0n);
    expect(real1 - BigInt(BOOT_EPOCH_SECONDS) * 1_000_000_000n - mono1).toBeLessThan(100_000n);
    const slept = (rec.mono2 as bigint) - mono1;
    expect(slept).toBeGreaterThanOrEqual(1_250_000_000n);
    expect(slept).toBeLessThan(1_250_000_000n + 1_000_000n);
    expect(rec.tvSec).toBe(BigInt(BOOT_EPOCH_SECONDS + 1));
    expect(rec.tvUsec as bigint).toBeLessThan(1_000_000n);
    expect(results[5]).toBe(BOOT_EPOCH_SECONDS + 1);
    expect(rec.tloc).toBe(BigInt(BOOT_EPOCH_SECONDS + 1));
    expect(rec.res).toBe(1n);
  });

  it('is deterministic: two runs read the same times', () => {
    const a = boot();
    const ra = timeline(a.k);
    runAll(a.k);
    const b = boot();
    const rb = timeline(b.k);
    runAll(b.k);
    expect(rb.rec).toEqual(ra.rec);
    expect(rb.results).toEqual(ra.results);
  });
});

describe('Linux model: getrandom', () => {
  function draw(k: Kernel): { results: number[]; bytes: Uint8Array[] } {
    const bytes: Uint8Array[] = [];
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.getrandom, BUF, 32, 0),
      (cpu) => {
        bytes.push(getBytes(cpu, BUF, 32));
        syscall(cpu, NR.getrandom, BUF, 32, 1);
      },
      (cpu) => {
        bytes.push(getBytes(cpu, BUF, 32));
        syscall(cpu, NR.getrandom, BUF, 4, 0x80);
      },
      (cpu) => syscall(cpu, NR.getrandom, UNMAPPED, 4, 0),
      (cpu) => syscall(cpu, NR.getrandom, BUF, 0, 0),
    ]);
    return { results, bytes };
  }

  it('gives deterministic bytes from a seeded generator: the same in every run, different per call', () => {
    const a = boot();
    const da = draw(a.k);
    runAll(a.k);
    const b = boot();
    const db = draw(b.k);
    runAll(b.k);
    const c = boot();
    seedRandom(c.k, 12345);
    const dc = draw(c.k);
    runAll(c.k);
    expect(da.results).toEqual([32, 32, -EINVAL, -EFAULT, 0]);
    expect(db.bytes).toEqual(da.bytes);
    expect(da.bytes[0]).not.toEqual(da.bytes[1]);
    expect(dc.bytes[0]).not.toEqual(da.bytes[0]);
    expect(new Set(da.bytes[0]).size).toBeGreaterThan(16);
  });
});

describe('Linux model: startup calls of static binaries', () => {
  it('set_tid_address returns the tid, set_robust_list checks the size, rseq is -ENOSYS', () => {
    const { k } = boot();
    let tidptr = 0;
    const { p, results } = script(k, [
      (cpu) => syscall(cpu, NR.set_tid_address, BUF),
      (cpu) => {
        tidptr = k.current[cpu.index]!.clearChildTid;
        syscall(cpu, NR.set_robust_list, BUF, 24);
      },
      (cpu) => syscall(cpu, NR.set_robust_list, BUF, 8),
      (cpu) => syscall(cpu, NR.rseq, BUF, 32, 0, 0),
    ]);
    runAll(k);
    expect(results).toEqual([p.pid, 0, -EINVAL, -ENOSYS]);
    expect(tidptr).toBe(BUF);
  });

  it('prlimit64/getrlimit/setrlimit: an 8 MiB stack, 1024 files, the rest unlimited', () => {
    const { k } = boot();
    const lim: Array<[bigint, bigint]> = [];
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.prlimit64, 0, RLIMIT_STACK, 0, BUF),
      (cpu) => {
        lim.push(pair(cpu, BUF));
        syscall(cpu, NR.getrlimit, RLIMIT_NOFILE, BUF);
      },
      (cpu) => {
        lim.push(pair(cpu, BUF));
        syscall(cpu, NR.getrlimit, RLIMIT_AS, BUF);
      },
      (cpu) => {
        lim.push(pair(cpu, BUF));
        wr64(cpu, BUF2, 16n);
        wr64(cpu, BUF2 + 8, 16n);
        syscall(cpu, NR.setrlimit, RLIMIT_NOFILE, BUF2);
      },
      (cpu) => {
        wr64(cpu, BUF2, 32n);
        wr64(cpu, BUF2 + 8, 32n);
        syscall(cpu, NR.prlimit64, 0, RLIMIT_NOFILE, BUF2, BUF); // set and get the old value
      },
      (cpu) => {
        lim.push(pair(cpu, BUF));
        syscall(cpu, NR.prlimit64, 9999, RLIMIT_NOFILE, 0, BUF);
      },
      (cpu) => syscall(cpu, NR.prlimit64, 0, 99, 0, BUF),
      (cpu) => {
        wr64(cpu, BUF2, 64n);
        wr64(cpu, BUF2 + 8, 8n); // cur > max
        syscall(cpu, NR.setrlimit, RLIMIT_NOFILE, BUF2);
      },
      (cpu) => syscall(cpu, NR.getrlimit, RLIMIT_NOFILE, UNMAPPED),
      (cpu) => syscall(cpu, NR.dup2, 0, 40), // beyond the new limit of 32
    ]);
    runAll(k);
    expect(results).toEqual([0, 0, 0, 0, 0, -ESRCH, -EINVAL, -EINVAL, -EFAULT, -9]);
    expect(lim).toEqual([[8n << 20n, RLIM_INFINITY], [1024n, 4096n], [RLIM_INFINITY, RLIM_INFINITY], [16n, 16n]]);
  });

  it('sched_getaffinity: one bit per CPU of the machine', () => {
    const { k } = boot({ cpus: 3 });
    let mask = 0n;
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.sched_getaffinity, 0, 128, BUF),
      (cpu) => {
        mask = rd64(cpu, BUF);
        syscall(cpu, NR.sched_getaffinity, 0, 4, BUF);
      },
      (cpu) => syscall(cpu, NR.sched_getaffinity, 4242, 128, BUF),
      (cpu) => syscall(cpu, NR.sched_getaffinity, 0, 8, UNMAPPED),
    ]);
    runAll(k);
    expect(results).toEqual([8, -EINVAL, -ESRCH, -EFAULT]);
    expect(mask).toBe(0b111n);
  });
});

describe('Linux model: futex on one thread', () => {
  it('WAIT checks the value (-EAGAIN), sleeps until its timeout (-ETIMEDOUT), WAKE finds nobody, WAKE_OP updates uaddr2', () => {
    const { k } = boot();
    const rec: Record<string, bigint> = {};
    const P = FUTEX_PRIVATE_FLAG;
    const { results } = script(k, [
      (cpu) => {
        cpu.mmu.write32(BUF, 5);
        cpu.mmu.write32(BUF + 8, 10);
        syscall(cpu, NR.futex, BUF, FUTEX_WAIT | P, 4, 0);
      },
      (cpu) => syscall(cpu, NR.clock_gettime, CLOCK_MONOTONIC, BUF2 + 0x100),
      (cpu) => {
        wr64(cpu, BUF2, 0n);
        wr64(cpu, BUF2 + 8, 2_000_000n); // 2 ms
        syscall(cpu, NR.futex, BUF, FUTEX_WAIT | P, 5, BUF2);
      },
      (cpu) => syscall(cpu, NR.clock_gettime, CLOCK_MONOTONIC, BUF2 + 0x200),
      (cpu) => {
        const [s0, n0] = pair(cpu, BUF2 + 0x100);
        const [s1, n1] = pair(cpu, BUF2 + 0x200);
        rec.waited = (s1 - s0) * 1_000_000_000n + n1 - n0;
        syscall(cpu, NR.futex, BUF, FUTEX_WAKE | P, 1);
      },
      (cpu) => syscall(cpu, NR.futex, BUF + 1, FUTEX_WAIT, 5, 0),
      (cpu) => syscall(cpu, NR.futex, UNMAPPED, FUTEX_WAIT, 5, 0),
      // FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0)
      (cpu) => syscall(cpu, NR.futex, BUF, FUTEX_WAKE_OP | P, 1, 0, BUF + 8, (1 << 28) | (5 << 12)),
      (cpu) => {
        rec.op = BigInt(cpu.mmu.read32(BUF + 8));
        syscall(cpu, NR.futex, BUF, FUTEX_CMP_REQUEUE | P, 1, 1, BUF + 8, 4);
      },
      (cpu) => syscall(cpu, NR.futex, BUF, FUTEX_CMP_REQUEUE | P, 1, 1, BUF + 8, 5),
      (cpu) => syscall(cpu, NR.futex, BUF, FUTEX_WAIT_BITSET | P, 5, 0, 0, 0), // bitset 0
      (cpu) => syscall(cpu, NR.futex, BUF, FUTEX_LOCK_PI | P, 0, 0),
    ]);
    runAll(k);
    expect(results).toEqual([-EAGAIN, 0, -ETIMEDOUT, 0, 0, -EINVAL, -EFAULT, 0, -EAGAIN, 0, -EINVAL, -ENOSYS]);
    expect(rec.waited).toBeGreaterThanOrEqual(2_000_000n);
    expect(rec.waited).toBeLessThan(2_100_000n);
    expect(rec.op).toBe(15n);
  });
});

describe('Linux model: madvise and mremap', () => {
  it('madvise(MADV_DONTNEED) drops private pages (they read back as zero); errors for bad ranges', () => {
    const { k } = boot();
    const seen: number[] = [];
    const { p, results } = script(k, [
      (cpu) => mapFixed(cpu, A, 2),
      (cpu) => {
        cpu.mmu.write8(A, 0xaa);
        cpu.mmu.write8(A + PAGE_SIZE, 0xbb);
        syscall(cpu, NR.madvise, A, PAGE_SIZE, MADV_DONTNEED);
      },
      (cpu) => {
        seen.push(cpu.mmu.read8(A), cpu.mmu.read8(A + PAGE_SIZE));
        syscall(cpu, NR.madvise, A + 1, PAGE_SIZE, MADV_DONTNEED);
      },
      (cpu) => syscall(cpu, NR.madvise, 0x6000_0000, PAGE_SIZE, MADV_DONTNEED),
      (cpu) => syscall(cpu, NR.madvise, A, PAGE_SIZE, 999),
      (cpu) => syscall(cpu, NR.madvise, A, 2 * PAGE_SIZE, 3), // MADV_WILLNEED: accepted
    ]);
    runAll(k);
    expect(results).toEqual([A, 0, -EINVAL, -ENOMEM, -EINVAL, 0]);
    expect(seen).toEqual([0, 0xbb]);
    expect(p.mm.pte(A + PAGE_SIZE)).toBeDefined();
  });

  it('mremap grows in place, moves with MREMAP_MAYMOVE (the same frames), shrinks, and moves to a fixed address', () => {
    const { k } = boot();
    const B = 0x3800_0000;
    const rec: Record<string, number> = {};
    const frameAt = (proc: Process, va: number): number => {
      const pte = proc.mm.pte(va);
      return pte === undefined ? -1 : PageTables.entryFrame(pte.lo, pte.hi);
    };
    let moved = 0;
    const { p, results } = script(k, [
      (cpu) => mapFixed(cpu, A, 2),
      (cpu) => {
        cpu.mmu.write32(A, 0x1111);
        cpu.mmu.write32(A + PAGE_SIZE, 0x2222);
        syscall(cpu, NR.mremap, A, 2 * PAGE_SIZE, 4 * PAGE_SIZE, 0); // grows in place
      },
      (cpu) => {
        cpu.mmu.write32(A + 3 * PAGE_SIZE, 0x4444);
        mapFixed(cpu, A + 4 * PAGE_SIZE, 1); // a neighbour: no more room above
      },
      (cpu) => syscall(cpu, NR.mremap, A, 4 * PAGE_SIZE, 8 * PAGE_SIZE, 0),
      (cpu) => {
        rec.frame0 = frameAt(p, A);
        syscall(cpu, NR.mremap, A, 4 * PAGE_SIZE, 8 * PAGE_SIZE, MREMAP_MAYMOVE);
      },
      (cpu, to) => {
        moved = to;
        rec.v0 = cpu.mmu.read32(to);
        rec.v1 = cpu.mmu.read32(to + PAGE_SIZE);
        rec.v3 = cpu.mmu.read32(to + 3 * PAGE_SIZE);
        rec.v7 = cpu.mmu.read32(to + 7 * PAGE_SIZE); // the new part: zero
        rec.frameMoved = frameAt(p, to);
        rec.oldGone = p.mm.vmas.find(A) === undefined ? 1 : 0;
        syscall(cpu, NR.mremap, to, 8 * PAGE_SIZE, PAGE_SIZE, 0); // shrink
      },
      (cpu, r) => syscall(cpu, NR.mremap, r, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, B),
      (cpu, r) => {
        rec.fixed = cpu.mmu.read32(r);
        syscall(cpu, NR.mremap, UNMAPPED, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE);
      },
      (cpu) => syscall(cpu, NR.mremap, B + 1, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE),
      (cpu) => syscall(cpu, NR.mremap, B, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_FIXED, A),
      (cpu) => syscall(cpu, NR.mremap, B, 2 * PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE), // longer than the VMA
    ]);
    runAll(k);
    expect(results).toEqual([A, A, A + 4 * PAGE_SIZE, -ENOMEM, moved, moved, B, -EFAULT, -EINVAL, -EINVAL, -EFAULT]);
    expect(moved).not.toBe(A);
    expect(rec).toMatchObject({ v0: 0x1111, v1: 0x2222, v3: 0x4444, v7: 0, oldGone: 1, fixed: 0x1111 });
    expect(rec.frameMoved).toBe(rec.frame0);
  });
});

describe('Linux model: sigaltstack', () => {
  it('stores and reports the alternate stack; SA_ONSTACK handlers run on it, others do not', () => {
    const { k } = boot();
    const ALT = 0x5000_0000;
    const SIZE = SIGSTKSZ * 2;
    const rec: Record<string, number | bigint> = {};
    const rsps: number[] = [];
    const results: number[] = [];
    const putStack = (cpu: Cpu, va: number, sp: number, flags: number, size: number): number => {
      wr64(cpu, va, BigInt(sp));
      wr64(cpu, va + 8, BigInt(flags));
      wr64(cpu, va + 16, BigInt(size));
      return va;
    };
    k.spawn('altstack', (c) => {
      c.op('start', (cpu) => mapFixed(cpu, ALT, SIZE / PAGE_SIZE));
      c.op(undefined, (cpu) => {
        cpu.mmu.write8(SCRATCH, 0);
        cpu.mmu.write8(BUF, 0);
        cpu.mmu.write8(BUF2, 0);
        syscall(cpu, NR.sigaltstack, 0, BUF);
      });
      c.op(undefined, (cpu) => {
        rec.initialFlags = rd64(cpu, BUF + 8) & 0xffff_ffffn;
        results.push(rax(cpu));
        syscall(cpu, NR.sigaltstack, putStack(cpu, BUF2, ALT, 0, 1000), 0); // too small
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.sigaltstack, putStack(cpu, BUF2, ALT, 7, SIZE), 0); // bad flags
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.sigaltstack, putStack(cpu, BUF2, ALT, 0, SIZE), BUF);
      });
      c.op(undefined, (cpu) => {
        results.push(rax(cpu));
        syscall(cpu, NR.sigaltstack, 0, BUF);
      });
      c.op(undefined, (cpu) => {
        rec.sp = rd64(cpu, BUF);
        rec.flags = rd64(cpu, BUF + 8) & 0xffff_ffffn;
        rec.size = rd64(cpu, BUF + 16);
        results.push(rax(cpu));
        writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_SIGINFO | SA_RESTORER | SA_ONSTACK, c.addr('restorer'));
        syscall(cpu, NR.rt_sigaction, SIGUSR1, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => {
        writeSigaction(cpu, SIGACTION_AT, c.addr('handler'), SA_SIGINFO | SA_RESTORER, c.addr('restorer'));
        syscall(cpu, NR.rt_sigaction, SIGUSR2, SIGACTION_AT, 0, 8);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.getpid));
      c.op(undefined, (cpu) => syscall(cpu, NR.kill, rax(cpu), SIGUSR1));
      c.op(undefined, (cpu) => syscall(cpu, NR.getpid));
      c.op(undefined, (cpu) => syscall(cpu, NR.kill, rax(cpu), SIGUSR2));
      c.op(undefined, (cpu) => syscall(cpu, NR.exit_group, 0));
      // The handler: where is its stack, what does uc_stack say, can it change the stack?
      c.op('handler', (cpu) => {
        const uc = cpu.reg(RDX);
        rec[`ucSp${rsps.length}`] = rd64(cpu, uc + UC_STACK);
        rec[`ucFlags${rsps.length}`] = BigInt(cpu.mmu.read32(uc + UC_STACK + 8));
        rsps.push(cpu.rsp);
        syscall(cpu, NR.sigaltstack, 0, BUF + 0x100);
      });
      c.op(undefined, (cpu) => {
        rec[`oldFlags${rsps.length - 1}`] = rd64(cpu, BUF + 0x108) & 0xffff_ffffn;
        syscall(cpu, NR.sigaltstack, putStack(cpu, BUF2 + 0x100, ALT, 0, SIZE), 0);
      });
      c.op(undefined, (cpu) => {
        rec[`inHandler${rsps.length - 1}`] = rax(cpu);
        cpu.ret();
      });
      c.op('restorer', (cpu) => syscall(cpu, NR.rt_sigreturn));
      return 'start';
    });
    runAll(k);
    expect(results).toEqual([0, -ENOMEM, -EINVAL, 0, 0]);
    expect(rec.initialFlags).toBe(BigInt(SS_DISABLE));
    expect(rec).toMatchObject({ sp: BigInt(ALT), flags: 0n, size: BigInt(SIZE) });
    expect(rsps).toHaveLength(2);
    expect(rsps[0]).toBeGreaterThan(ALT);
    expect(rsps[0]).toBeLessThan(ALT + SIZE);
    expect(rsps[1]! > ALT + SIZE).toBe(true); // SIGUSR2 has no SA_ONSTACK: the normal stack
    expect(rec.ucSp0).toBe(BigInt(ALT));
    expect(rec.ucFlags0).toBe(0n); // not on the alternate stack when interrupted
    expect(rec.inHandler0).toBe(-EPERM); // cannot change it while running on it
    expect(rec.oldFlags0).toBe(BigInt(SS_ONSTACK));
    expect(rec.inHandler1).toBe(0);
    expect(rec.oldFlags1).toBe(0n);
  });
});

describe('Linux model: fork and the file state', () => {
  it('a child inherits the descriptors (shared offsets), cwd, umask, rlimits and the alternate stack', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub', 'f'), 'abcdefgh');
    const { k } = boot();
    k.root = root;
    const rec: Record<string, number | string | bigint> = {};
    let child = 0;
    k.spawn('inherit', (c) => {
      c.op('start', (cpu) => {
        cpu.mmu.write8(SCRATCH, 0);
        cpu.mmu.write8(BUF, 0);
        cpu.mmu.write8(PATH, 0);
        syscall(cpu, NR.chdir, putStr(cpu, PATH, '/sub'));
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.umask, 0o027));
      c.op(undefined, (cpu) => {
        wr64(cpu, BUF, 64n);
        wr64(cpu, BUF + 8, 64n);
        syscall(cpu, NR.setrlimit, RLIMIT_NOFILE, BUF);
      });
      c.op(undefined, (cpu) => {
        wr64(cpu, BUF, 0x5000_0000n);
        wr64(cpu, BUF + 8, 0n);
        wr64(cpu, BUF + 16, 8192n);
        syscall(cpu, NR.sigaltstack, BUF, 0);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, 'f'), O_RDONLY));
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.lseek, 3, 0, SEEK_CUR)); // moved by the child's read
      c.op(undefined, (cpu) => {
        rec.parentOffset = rax(cpu);
        syscall(cpu, NR.umask, 0o022);
      });
      c.op(undefined, (cpu) => {
        rec.parentUmask = rax(cpu); // the child's umask change stayed in the child
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => syscall(cpu, NR.getcwd, BUF2, 256));
      c.op(undefined, (cpu) => {
        rec.cwd = getStr(cpu, BUF2, rax(cpu) - 1);
        syscall(cpu, NR.umask, 0);
      });
      c.op(undefined, (cpu) => {
        rec.umask = rax(cpu);
        syscall(cpu, NR.getrlimit, RLIMIT_NOFILE, BUF2);
      });
      c.op(undefined, (cpu) => {
        rec.nofile = rd64(cpu, BUF2);
        syscall(cpu, NR.sigaltstack, 0, BUF2);
      });
      c.op(undefined, (cpu) => {
        rec.alt = rd64(cpu, BUF2);
        syscall(cpu, NR.read, 3, BUF2, 3);
      });
      c.op(undefined, (cpu) => {
        rec.read = getStr(cpu, BUF2, rax(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(rec).toEqual({
      cwd: '/sub', umask: 0o027, nofile: 64n, alt: 0x5000_0000n, read: 'abc', parentOffset: 3, parentUmask: 0o027,
    });
  });
});
