import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf, ExecResult } from '../../core/system/index.js';
import type { Kernel } from '../../core/linux/kernel.js';

/**
 * Threads, futexes, the scheduler and TLB shootdowns, through musl programs (test/linux/threads,
 * built by its Makefile): each prints what the Linux ABI defines — clone's -EINVAL rules,
 * futex wake counts, EOWNERDEAD of a robust mutex, exit_group ending sleepers — and its output
 * equals a native run of the same binary on this x86-64 host, on one CPU and on two.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'test', 'linux', 'threads', 'bin');
const canRunNative = process.platform === 'linux' && process.arch === 'x64';

interface Run extends ExecResult {
  out: string;
  err: string;
  k: Kernel;
}

function run(name: string, args: string[] = [], opts: { cpus?: number; memoryMiB?: number; pcid?: boolean; bin?: string; configure?: (k: Kernel) => void; mode?: 'linux' | 'dune' } = {}): Run {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-threads-'));
  let out = '';
  let err = '';
  let kernel: Kernel | undefined;
  const dec = new TextDecoder();
  try {
    const r = execElf(join(opts.bin ?? BIN, name), args, {
      mode: opts.mode ?? 'linux', profile: 'dune-e3-1230v2', memory: (opts.memoryMiB ?? 256) << 20, root: dir, cpus: opts.cpus, pcid: opts.pcid,
      envp: [],
      configure: (k) => {
        kernel = k;
        opts.configure?.(k);
      },
      console: (fd, data) => {
        if (fd === 1) out += dec.decode(data);
        else err += dec.decode(data);
      },
      report: (line) => (err += line),
    });
    return { ...r, out, err, k: kernel! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function native(name: string, args: string[] = []): { out: string; status: number | null } {
  const r = spawnSync(join(BIN, name), args, { encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout, status: r.status };
}

const PROGRAMS: Array<{ name: string; status: number }> = [
  { name: 'clone-flags', status: 0 },
  { name: 'futex-ops', status: 0 },
  { name: 'robust', status: 0 },
  { name: 'preempt', status: 0 },
  { name: 'group-exit', status: 5 },
  { name: 'sum4', status: 0 },
  { name: 'vfork', status: 0 },
  { name: 'sigqueueinfo', status: 0 },
  { name: 'fpu-state', status: 0 },
];

describe.runIf(existsSync(join(BIN, 'sum4')))('threads: musl programs against native execution', () => {
  for (const { name, status } of PROGRAMS) {
    it(`${name} on one CPU and on two`, () => {
      const one = run(name);
      const two = run(name, [], { cpus: 2 });
      expect(one.out).not.toMatch(/WRONG/);
      expect(one.exitCode).toBe(status);
      expect(two.out).toBe(one.out);
      expect(two.exitCode).toBe(status);
      if (canRunNative) {
        const n = native(name);
        expect(n.out).toBe(one.out);
        expect(n.status).toBe(status);
      }
    });
  }

  // Inside Dune every thread the program creates enters Dune on a vCPU of its own (libDune's
  // wrapper runs dune_enter in it), sharing the process's memory through its own EPT; the output
  // is Linux's, and every vCPU is gone when its thread is.
  for (const { name, status } of PROGRAMS) {
    it(`${name} in --mode dune on two CPUs`, () => {
      const linux = run(name, [], { cpus: 2 });
      const dune = run(name, [], { cpus: 2, mode: 'dune' });
      expect(dune.out).toBe(linux.out);
      expect(dune.exitCode).toBe(status);
      const v = dune.stats.dune as Record<string, number>;
      expect(v.vcpusFreed).toBe(v.vcpusCreated);
      // vfork's CLONE_VM children are no threads (they stay in Linux mode), and sigqueueinfo makes
      // none: one vCPU each. Every other program enters Dune again with each thread it creates.
      if (name !== 'vfork' && name !== 'sigqueueinfo') expect(v.vcpusCreated).toBeGreaterThan(1);
      else expect(v.vcpusCreated).toBe(1);
    });
  }

  it('is deterministic: 4 threads on 2 CPUs give the same output, cycles and counts on every run', () => {
    const a = run('sum4', [], { cpus: 2 });
    const b = run('sum4', [], { cpus: 2 });
    const strip = (s: Record<string, unknown>): Record<string, unknown> => ({ ...s, wallSeconds: 0 });
    expect(b.out).toBe(a.out);
    expect(strip(b.stats)).toEqual(strip(a.stats));
    // Both CPUs did work: the threads ran in parallel.
    expect((a.stats.scheduler as Record<string, number>).tasksCreated).toBe(5);
  });

  it('preempts a task that never enters the kernel: on one CPU only the tick lets the other thread run', () => {
    const r = run('preempt');
    expect(r.out).toBe('both ran\n');
    const s = r.stats.scheduler as Record<string, number>;
    expect(s.timerTicks).toBeGreaterThan(0);
    expect(s.preemptions).toBeGreaterThan(0);
  });

  it('exit_group leaves no kernel state behind: no futex waiter, no open file, no runnable task', () => {
    const r = run('group-exit', [], { cpus: 2 });
    expect(r.exitCode).toBe(5);
    expect(r.k.futexes.waiting).toBe(0);
    for (const p of r.k.processes.values()) {
      expect(p.zombie).toBe(true);
      expect(p.files.size).toBe(0);
    }
    expect(r.k.runQueues.every((q) => q.length === 0)).toBe(true);
    expect(r.k.blockedTasks()).toEqual([]);
  });

  it('ends a run whose threads all sleep forever in futex with a report and status 1, not a hang', () => {
    const r = run('deadlock', [], { cpus: 2 });
    expect(r.out).toBe('waiting\n');
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/deadlock.*pid 1 \(.*\) asleep in futex, tid 2 of pid 1 \(.*\) asleep in futex/);
  });

  it('ends a run whose only wake-up is a timer past the clock horizon (nanosleep of 2^62 s) with a report, not a hang', () => {
    const r = run('far-sleep', [], { cpus: 2 });
    expect(r.out).toBe('sleeping\n');
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/beyond the simulated clock's horizon \(2\^53 cycles\)\): pid 1 \(.*\) asleep in nanosleep, tid 2 of pid 1/);
  });

  it('ends thread creation at the task limit with EAGAIN (RLIMIT_NPROC: half of threads-max)', () => {
    // 64 MiB: threads-max = 64 MiB / (8 × 16 KiB) = 512, RLIMIT_NPROC = 256, the main thread is one.
    const r = run('nproc', ['10000'], { memoryMiB: 64 });
    expect(r.out).toBe('created 255, then EAGAIN\njoined 255\n');
    expect(r.exitCode).toBe(0);
  });

  it('in --mode dune, threads past what libDune\'s page pool holds stay in Linux mode; a dead thread\'s per-CPU state is reused', () => {
    // 1,000 threads alive at once: each entered thread takes 16 pool pages (GDT, TSS, per-CPU
    // area, trap stack, dune_config, entry stack), and the full-mode page tables take most of
    // the pool, so only some of them get a vCPU; the others run as plain threads, unharmed.
    const r = run('nproc', ['1000'], { mode: 'dune' });
    expect(r.out).toBe('created 1000, then none\njoined 1000\n');
    expect(r.exitCode).toBe(0);
    const v = r.stats.dune as Record<string, number>;
    expect(v.vcpusCreated).toBeGreaterThan(1);
    expect(v.vcpusCreated).toBeLessThan(1001);
    expect(v.vcpusFreed).toBe(v.vcpusCreated);
  });
});

describe.runIf(existsSync(join(BIN, 'shootdown')))('TLB shootdowns', () => {
  it('munmap by one thread invalidates the translation a thread on another CPU holds (SIGSEGV there)', () => {
    const r = run('shootdown', [], { cpus: 2 });
    expect(r.out).toBe('reader: SIGSEGV after munmap\n');
    expect(r.exitCode).toBe(0);
    const s = r.stats.scheduler as Record<string, number>;
    expect(s.tlbShootdowns).toBeGreaterThan(0);
    expect(s.ipis).toBeGreaterThan(0);
    if (canRunNative) expect(native('shootdown').out).toBe(r.out);
  });

  it('without the shootdown the other CPU keeps a stale translation: its read of the unmapped page succeeds', () => {
    const r = run('shootdown', [], { cpus: 2, configure: (k) => (k.tlbShootdowns = false) });
    expect(r.out).toBe('reader: stale read 1\n');
    expect(r.exitCode).toBe(3);
  });
});

/** examples/guest/threadbench, the workloads of `dunesim bench threads`. */
const GUEST_BIN = join(ROOT, 'examples', 'guest', 'bin');
const sched = (r: Run): Record<string, number> => r.stats.scheduler as Record<string, number>;
const tlbMisses = (r: Run): number => (r.stats.tlb as { misses: number }).misses;

describe.runIf(existsSync(join(BIN, 'pcid-away')) && existsSync(join(GUEST_BIN, 'threadbench')))('scheduler and TLB mechanisms', () => {
  it('an idle CPU woken for a thread of the address space it still holds loads no CR3 (lazy TLB), and the wake-up IPI is counted', () => {
    // Two threads on CPUs 0 and 1 hand a token back and forth 40 times: each CPU goes idle and is
    // woken 80 times in all, but loads the process's CR3 only the first time.
    const r = run('threadbench', ['futex-wake', '40', '0', '1'], { cpus: 2, bin: GUEST_BIN });
    expect(r.exitCode).toBe(0);
    const s = sched(r);
    expect(s.contextSwitches).toBeGreaterThanOrEqual(80);
    expect(s.mmSwitches).toBe(2);
    // One reschedule IPI per hand-off (the other CPU is idle each time), none on one CPU.
    expect(s.wakeIpis).toBeGreaterThanOrEqual(80);
    expect(s.ipis).toBeGreaterThanOrEqual(s.wakeIpis);
    const one = sched(run('threadbench', ['futex-wake', '40', '0', '0'], { cpus: 2, bin: GUEST_BIN }));
    expect(one.wakeIpis).toBeLessThan(5);
  });

  it('a shootdown sends its IPIs together and waits once: 3 targets cost the initiator what 1 does', () => {
    const perOp = (cpus: number, spinners: number): { cycles: number; ipis: number } => {
      // The runs differ in N only, but how the threads' exits interleave with the main thread's
      // join can differ a little (a wake-up IPI more or less): hence the tolerances.
      const a = run('threadbench', ['shootdown', '10', String(spinners)], { cpus, bin: GUEST_BIN });
      const b = run('threadbench', ['shootdown', '50', String(spinners)], { cpus, bin: GUEST_BIN });
      const flushIpis = (r: Run): number => sched(r).ipis - sched(r).wakeIpis;
      return { cycles: ((b.stats.cycles as number) - (a.stats.cycles as number)) / 40, ipis: (flushIpis(b) - flushIpis(a)) / 40 };
    };
    const none = perOp(1, 0);
    const one = perOp(2, 1);
    const three = perOp(4, 3);
    expect(none.ipis).toBe(0);
    expect(one.ipis).toBeCloseTo(1, 1);
    expect(three.ipis).toBeGreaterThan(2.8);
    expect(three.ipis).toBeLessThanOrEqual(3);
    const ipi = 3300; // the profile's IPI round trip
    expect(one.cycles - none.cycles).toBeGreaterThan(ipi * 0.9);
    expect(Math.abs(three.cycles - one.cycles)).toBeLessThan(ipi / 3);
  });

  it('with PCIDs, switches between two processes keep their TLB entries (CR3 bit 63): far fewer misses', () => {
    const off = run('threadbench', ['ctxsw-process', '40', '16'], { bin: GUEST_BIN });
    const on = run('threadbench', ['ctxsw-process', '40', '16'], { bin: GUEST_BIN, pcid: true });
    expect(on.out).toBe(off.out);
    expect(sched(off).mmSwitchesNoFlush).toBe(0);
    // 80 switches: every one back to a process finds its PCID current (the first two take a slot).
    expect(sched(on).mmSwitchesNoFlush).toBeGreaterThanOrEqual(sched(on).mmSwitches - 3);
    // Without PCIDs each switch refills the 16 pages read, the code, the stack: 80 × ~20 misses.
    expect(tlbMisses(off)).toBeGreaterThan(80 * 16);
    expect(tlbMisses(on)).toBeLessThan(tlbMisses(off) / 5);
    expect(on.stats.cycles as number).toBeLessThan(off.stats.cycles as number);
  });

  it('with PCIDs, more processes than a CPU has PCID slots (6) take them in turn, and a shootdown still reaches a running thread', () => {
    // 12 forked children on 2 CPUs: the slots are reused, each time flushed, and every child runs.
    const forks = run('threadbench', ['create-fork', '12'], { cpus: 2, bin: GUEST_BIN, pcid: true });
    expect(forks.out).toBe('threadbench create-fork 12: done\n');
    expect(forks.exitCode).toBe(0);
    expect(sched(forks).mmSwitches).toBeGreaterThan(12);
    const sd = run('shootdown', [], { cpus: 2, pcid: true });
    expect(sd.out).toBe('reader: SIGSEGV after munmap\n');
    expect(sched(sd).tlbShootdowns).toBeGreaterThan(0);
  });

  it('refuses PCIDs outside --mode linux with a usage error', () => {
    expect(() => execElf(join(BIN, 'sum4'), [], { mode: 'dune', pcid: true, profile: 'dune-e3-1230v2', memory: 64 << 20, console: () => {} })).toThrow('--pcid needs --mode linux');
  });

  it('with PCIDs, a thread back on a CPU that ran another process while its address space changed sees the change (tlb_gen)', () => {
    // The munmap reaches no other CPU (none has the address space loaded); the switch back must
    // flush the PCID the reader's translation was cached under, so its next read faults.
    for (const pcid of [false, true]) {
      const r = run('pcid-away', [], { cpus: 2, pcid });
      expect(r.out).toBe('reader: SIGSEGV after munmap\n');
      expect(r.exitCode).toBe(0);
      expect(sched(r).tlbShootdowns).toBe(0);
      if (pcid) expect(sched(r).mmSwitchesNoFlush).toBeGreaterThan(0);
    }
    if (canRunNative) expect(native('pcid-away').out).toBe('reader: SIGSEGV after munmap\n');
  });
});
