import { splitHugeRange } from './huge-pages.js';
import { PAGE_SIZE } from '../vtx/arch.js';
import { RAX, RSP } from '../vtx/cpu.js';
import { pteHasFrame } from './address-space.js';
import { cyclesToNs, monotonicNs, nsToCycles, randomBytes, realtimeNs } from './clock.js';
import { BLOCKED, SyscallResult } from './kernel.js';
import {
  CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_THREAD_CPUTIME_ID, EAGAIN,
  EFAULT, EINVAL, ENOMEM, ENOSYS, EPERM, ESRCH, ETIMEDOUT, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK,
  FUTEX_CMP_REQUEUE, FUTEX_OP_ADD, FUTEX_OP_ANDN, FUTEX_OP_CMP_EQ, FUTEX_OP_CMP_GE, FUTEX_OP_CMP_GT,
  FUTEX_OP_CMP_LE, FUTEX_OP_CMP_LT, FUTEX_OP_CMP_NE, FUTEX_OP_OPARG_SHIFT, FUTEX_OP_OR, FUTEX_OP_SET,
  FUTEX_OP_XOR, FUTEX_REQUEUE, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET,
  FUTEX_WAKE_OP, GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM, MADV_COLD, MADV_DODUMP, MADV_DOFORK,
  MADV_DONTDUMP, MADV_DONTFORK, MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_KEEPONFORK,
  MADV_MERGEABLE, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_PAGEOUT, MADV_RANDOM, MADV_REMOVE,
  MADV_SEQUENTIAL, MADV_UNMERGEABLE, MADV_WILLNEED, MADV_WIPEONFORK, MAP_SHARED, MINSIGSTKSZ,
  EINTR, MMAP_MIN_ADDR, MREMAP_FIXED, MREMAP_MAYMOVE, NR, RLIMIT_SIZE, RLIM_NLIMITS, ROBUST_LIST_HEAD_SIZE, SS_DISABLE,
  SS_FLAGS, SS_ONSTACK, SS_SIZE, SS_SP, STACK_T_SIZE, STACK_TOP, TIMER_ABSTIME, TIMESPEC_SIZE,
  TIMEZONE_SIZE, UTSNAME_FIELD, UTSNAME_SIZE,
} from './linux-abi.js';
import { onSigStack, sasSsFlags } from './signals.js';
import { SyscallContext, SyscallTable } from './syscall-table.js';
import { Process, TaskState } from './task.js';
import { Vma } from './vma.js';
import { futex } from './futex.js';

const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** The utsname of the model: a 3.2-era kernel (glibc's static startup checks ≥ 3.2.0). */
export const UTSNAME = {
  sysname: 'Linux',
  nodename: 'dunesim',
  release: '3.2.0-dunesim',
  version: '#1 SMP Mon Oct 8 00:00:00 UTC 2012',
  machine: 'x86_64',
  domainname: '(none)',
} as const;

/**
 * System information, time, limits, futexes and the remaining memory calls static binaries make
 * at startup (kernel/sys.c, time/, futex.c, mm/mremap.c, mm/madvise.c, signal.c).
 */
export function registerMiscSyscalls(t: SyscallTable): void {
  t.add(NR.uname, 'uname', 1, ({ kernel, cpu, task }, buf) => {
    const b = new Uint8Array(UTSNAME_SIZE);
    Object.values(UTSNAME).forEach((s, i) => b.set(Buffer.from(s, 'utf8').subarray(0, UTSNAME_FIELD - 1), i * UTSNAME_FIELD));
    return kernel.copyToUser(cpu, task, buf, b) ? 0 : -EFAULT;
  });

  // ---- time --------------------------------------------------------------------------------
  t.add(NR.clock_gettime, 'clock_gettime', 2, (ctx, clk, tp) => {
    const ns = clockNs(ctx, clk | 0);
    if (ns === undefined) return -EINVAL;
    return putTimes(ctx, tp, [ns / 1_000_000_000n, ns % 1_000_000_000n]);
  });
  t.add(NR.clock_getres, 'clock_getres', 2, (ctx, clk, tp) => {
    const c = clk | 0;
    if (clockNs(ctx, c) === undefined) return -EINVAL;
    if (tp === 0) return 0;
    // hrtimer resolution, or a jiffy (HZ = 250) for the coarse clocks.
    const coarse = c === CLOCK_REALTIME_COARSE || c === CLOCK_MONOTONIC_COARSE;
    return putTimes(ctx, tp, [0n, coarse ? 4_000_000n : 1n]);
  });
  t.add(NR.gettimeofday, 'gettimeofday', 2, (ctx, tv, tz) => {
    const ns = realtimeNs(ctx.kernel, ctx.cpu);
    if (tv !== 0 && putTimes(ctx, tv, [ns / 1_000_000_000n, (ns % 1_000_000_000n) / 1000n]) !== 0) return -EFAULT;
    if (tz !== 0 && !ctx.kernel.copyToUser(ctx.cpu, ctx.task, tz, new Uint8Array(TIMEZONE_SIZE))) return -EFAULT;
    return 0;
  });
  t.add(NR.time, 'time', 1, (ctx, tloc) => {
    const sec = realtimeNs(ctx.kernel, ctx.cpu) / 1_000_000_000n;
    if (tloc !== 0 && putTimes(ctx, tloc, [sec]) !== 0) return -EFAULT;
    return Number(sec);
  });
  t.add(NR.nanosleep, 'nanosleep', 2, (ctx, req, rem) => {
    const ns = readTimespec(ctx, req);
    if (typeof ns === 'number') return ns;
    return sleepFor(ctx, ns, rem);
  });
  t.add(NR.clock_nanosleep, 'clock_nanosleep', 4, (ctx, clk, flags, req, rem) => {
    const c = clk | 0;
    if (c === CLOCK_THREAD_CPUTIME_ID) return -EINVAL;
    const now = clockNs(ctx, c);
    if (now === undefined) return -EINVAL;
    const ns = readTimespec(ctx, req);
    if (typeof ns === 'number') return ns;
    const abs = (flags & TIMER_ABSTIME) !== 0;
    return sleepFor(ctx, abs ? ns - now : ns, abs ? 0 : rem);
  });

  // ---- randomness, thread setup ----------------------------------------------------------------
  t.add(NR.getrandom, 'getrandom', 3, ({ kernel, cpu, task }, buf, len, flags) => {
    if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) !== 0) return -EINVAL;
    if ((flags & GRND_INSECURE) !== 0 && (flags & GRND_RANDOM) !== 0) return -EINVAL;
    const n = len < 0 ? 0x1ff_ffff : Math.min(len, 0x1ff_ffff); // at most 32 MiB - 1, as Linux
    // get_random_bytes_user: block by block up to the first byte that cannot be written; the
    // bytes copied so far are the result (-EFAULT only when none were). Generating the whole
    // length first would spend the host 32 MiB and a long loop on a call that faults at once.
    let done = 0;
    while (done < n) {
      const chunk = Math.min(n - done, PAGE_SIZE - ((buf + done) % PAGE_SIZE));
      if (!kernel.copyToUser(cpu, task, buf + done, randomBytes(kernel, chunk))) return done > 0 ? done : -EFAULT;
      done += chunk;
    }
    return n;
  });
  t.add(NR.set_tid_address, 'set_tid_address', 1, ({ task }, tidptr) => {
    task.clearChildTid = tidptr;
    return task.tid;
  });
  t.add(NR.set_robust_list, 'set_robust_list', 2, ({ task }, head, len) => {
    if (len !== ROBUST_LIST_HEAD_SIZE) return -EINVAL;
    task.robustList = head; // walked when the thread exits (futex.ts: exitRobustList)
    return 0;
  });
  t.add(NR.get_robust_list, 'get_robust_list', 3, ({ kernel, cpu, task }, pid, headPtr, lenPtr) => {
    const who = (pid | 0) === 0 ? task : kernel.tasks.get(pid | 0);
    if (who === undefined || who.state === TaskState.Dead) return -ESRCH;
    return kernel.writeUser64(cpu, task, headPtr, who.robustList) && kernel.writeUser64(cpu, task, lenPtr, ROBUST_LIST_HEAD_SIZE) ? 0 : -EFAULT;
  });
  // rseq: not implemented; glibc and musl go on without it.
  t.add(NR.rseq, 'rseq', 4, () => -ENOSYS);

  // ---- limits, scheduling -------------------------------------------------------------------
  t.add(NR.prlimit64, 'prlimit64', 4, (ctx, pid, res, nw, old) => prlimit(ctx, pid | 0, res | 0, nw, old));
  t.add(NR.getrlimit, 'getrlimit', 2, (ctx, res, old) => prlimit(ctx, 0, res | 0, 0, old));
  t.add(NR.setrlimit, 'setrlimit', 2, (ctx, res, nw) => prlimit(ctx, 0, res | 0, nw, 0));
  t.add(NR.sched_getaffinity, 'sched_getaffinity', 3, ({ kernel, cpu, task }, pid, len, mask) => {
    const who = (pid | 0) === 0 ? task : kernel.tasks.get(pid | 0);
    if (who === undefined) return -ESRCH;
    const n = kernel.machine.cpus.length;
    const size = 8; // cpumask_size(): NR_CPUS = 64 in this model
    if (len < 0 || len * 8 < n || (len & 7) !== 0) return -EINVAL;
    const b = new Uint8Array(size);
    for (let i = 0; i < n; i++) if (kernel.mayRunOn(who, i)) b[i >> 3]! |= 1 << (i & 7);
    return kernel.copyToUser(cpu, task, mask, b) ? size : -EFAULT;
  });

  // getcpu: the CPU the caller runs on, and NUMA node 0 (one node); the cache argument is unused
  // since 2.6.24. Either pointer may be NULL.
  t.add(NR.getcpu, 'getcpu', 3, ({ kernel, cpu, task }, cpuVa, nodeVa) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, cpu.index, true);
    if (cpuVa !== 0 && !kernel.copyToUser(cpu, task, cpuVa, b)) return -EFAULT;
    if (nodeVa !== 0 && !kernel.copyToUser(cpu, task, nodeVa, new Uint8Array(4))) return -EFAULT;
    return 0;
  });

  // ---- futex, memory, signal stack -------------------------------------------------------------
  t.add(NR.futex, 'futex', 6, (ctx, uaddr, op, val, timeout, uaddr2, val3) => futex(ctx, (va) => readTimespec(ctx, va), uaddr, op, val, timeout, uaddr2, val3));
  t.add(NR.madvise, 'madvise', 3, madvise);
  t.add(NR.mremap, 'mremap', 5, mremap);
  t.add(NR.sigaltstack, 'sigaltstack', 2, sigaltstack);
}

// ---- time helpers ------------------------------------------------------------------------------

/** A clock's reading in nanoseconds, undefined for an invalid clock id. */
function clockNs({ kernel, cpu }: SyscallContext, clk: number): bigint | undefined {
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      return realtimeNs(kernel, cpu);
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    // CPU-time clocks: a task has the CPU from boot in this model's accounting.
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return monotonicNs(kernel, cpu);
    default:
      return undefined;
  }
}

/** Writes consecutive 64-bit values (a timespec, timeval, time_t); 0 or -EFAULT. */
function putTimes({ kernel, cpu, task }: SyscallContext, va: number, values: bigint[]): number {
  const b = new Uint8Array(values.length * 8);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setBigInt64(i * 8, v, true));
  return kernel.copyToUser(cpu, task, va, b) ? 0 : -EFAULT;
}

/** A struct timespec from user memory as nanoseconds: -EFAULT, or -EINVAL out of range. */
function readTimespec({ kernel, cpu, task }: SyscallContext, va: number): bigint | number {
  const b = kernel.copyFromUser(cpu, task, va, TIMESPEC_SIZE);
  if (b === undefined) return -EFAULT;
  const dv = new DataView(b.buffer);
  const sec = dv.getBigInt64(0, true);
  const nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -EINVAL;
  return sec * 1_000_000_000n + nsec;
}

/**
 * Sleeping: the CPU's simulated clock moves on by the time asked for (the task does not give
 * the CPU to others; in this model its clock is the time that passes).
 */
/**
 * hrtimer_nanosleep: the task sleeps until a kernel timer at the deadline wakes it (the CPU is
 * free for others meanwhile; an idle machine's clock jumps to the deadline). A signal cuts the
 * sleep short: -EINTR, with the time left in `rem` (a relative sleep's rmtp).
 */
function sleepFor(ctx: SyscallContext, ns: bigint, rem: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  if (ns <= 0n) return 0;
  const deadline = cpu.cycles + nsToCycles(kernel, ns);
  let fired = false;
  const timer = kernel.addTimer(deadline, () => {
    fired = true;
    kernel.wakeUp(task);
  });
  kernel.sleep(task, () => fired, () => {
    if (fired) return task.regs.set(RAX, 0);
    kernel.cancelTimer(timer);
    const left = cyclesToNs(kernel, Math.max(0, deadline - kernel.cpuOf(task).cycles));
    if (rem !== 0) putTimes({ ...ctx, cpu: kernel.cpuOf(task) }, rem, [left / 1_000_000_000n, left % 1_000_000_000n]);
    task.regs.set(RAX, -EINTR);
  }, () => false);
  return BLOCKED;
}

// ---- rlimits -------------------------------------------------------------------------------------

function prlimit(ctx: SyscallContext, pid: number, res: number, nw: number, old: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  let p: Process | undefined = task.process;
  if (pid !== 0) p = kernel.processes.get(pid);
  if (p === undefined || p.zombie) return -ESRCH;
  if (res < 0 || res >= RLIM_NLIMITS) return -EINVAL;
  let next: { cur: bigint; max: bigint } | undefined;
  if (nw !== 0) {
    const b = kernel.copyFromUser(cpu, task, nw, RLIMIT_SIZE);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer);
    next = { cur: dv.getBigUint64(0, true), max: dv.getBigUint64(8, true) };
    if (next.cur > next.max) return -EINVAL;
  }
  const cur = p.rlimits[res]!;
  const before = { ...cur };
  if (next !== undefined) {
    // Raising the hard limit needs CAP_SYS_RESOURCE, which the model's root (uid 0) has.
    cur.cur = next.cur;
    cur.max = next.max;
  }
  if (old !== 0) {
    const b = new Uint8Array(RLIMIT_SIZE);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, before.cur, true);
    dv.setBigUint64(8, before.max, true);
    if (!kernel.copyToUser(cpu, task, old, b)) return -EFAULT;
  }
  return 0;
}

// ---- madvise, mremap ----------------------------------------------------------------------------

const MADVICE = new Set([
  MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE,
  MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
  MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
]);

/**
 * madvise: advice is accepted and ignored, except MADV_DONTNEED / MADV_FREE on private memory,
 * which drop the pages (the next touch gets a zero page, as Linux gives). -ENOMEM if part of the
 * range is not mapped.
 */
function madvise({ kernel, cpu, task }: SyscallContext, addr: number, len: number, advice: number): SyscallResult {
  if (addr % PAGE_SIZE !== 0 || len < 0 || !MADVICE.has(advice | 0)) return -EINVAL;
  const mm = task.process.mm;
  const end = addr + pageUp(len);
  if (end > STACK_TOP) return -ENOMEM;
  let unmapped = false;
  let dropped = 0;
  for (let a = addr; a < end; ) {
    const v = mm.vmas.find(a);
    if (v === undefined) {
      unmapped = true;
      const next = mm.vmas.list.find((x) => x.start > a);
      a = next === undefined ? end : Math.min(end, next.start);
      continue;
    }
    const stop = Math.min(end, v.end);
    if ((advice === MADV_DONTNEED || advice === MADV_FREE) && (v.flags & MAP_SHARED) === 0) dropped += mm.zapRange(a, stop);
    a = stop;
  }
  if (dropped > 0) kernel.flushTlbMm(cpu, mm, addr, end); // flush_tlb_mm
  return unmapped ? -ENOMEM : 0;
}

/**
 * mremap of anonymous memory: shrink in place, grow in place when the pages above are free, or
 * (MREMAP_MAYMOVE) move to a new range — to `newAddr` with MREMAP_FIXED — by moving the PTEs
 * (frames, COW state and A/D bits unchanged). -EFAULT if the old range is not inside one VMA,
 * -ENOMEM if it cannot grow in place and may not move.
 */
function mremap({ kernel, cpu, task }: SyscallContext, old: number, oldLen: number, newLen: number, flags: number, newAddr: number): SyscallResult {
  const mm = task.process.mm;
  // flags is an unsigned long: a JS & would look at its low 32 bits only.
  if (flags < 0 || flags > 0xffff_ffff || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) !== 0 || old % PAGE_SIZE !== 0) return -EINVAL;
  if ((flags & MREMAP_FIXED) !== 0 && (flags & MREMAP_MAYMOVE) === 0) return -EINVAL;
  if (oldLen < 0 || newLen <= 0) return -EINVAL;
  let oldSize = pageUp(oldLen);
  const newSize = pageUp(newLen);
  if (oldSize === 0) return -EINVAL; // duplicating a shared mapping: not modelled
  const vma = mm.vmas.find(old);
  if (vma === undefined || old + oldSize > vma.end) return -EFAULT;
  if (vma.huge === 'hugetlb') return -EINVAL; // mremap of hugetlb memory (huge-pages.ts)

  const unmap = (start: number, size: number): void => {
    mm.vmas.remove(start, start + size);
    if (mm.zapRange(start, start + size) > 0) kernel.flushTlbMm(cpu, mm, start, start + size);
  };
  const move = (to: number): number => {
    splitHugeRange(mm, old, old + oldSize); // PTEs move one by one
    const [piece] = mm.vmas.remove(old, old + oldSize);
    mm.vmas.insert(new Vma(to, to + newSize, piece!.prot, piece!.flags, piece!.name));
    let moved = 0;
    for (let off = 0; off < oldSize; off += PAGE_SIZE) {
      const pte = mm.pte(old + off);
      if (pte === undefined || !pteHasFrame(pte.lo)) continue;
      const dst = mm.pt.entryAddress(to + off, 1, true);
      mm.mem.write64(dst, pte.lo, pte.hi);
      mm.mem.write64(pte.pa, 0, 0);
      moved++;
    }
    mm.notify(old, old + oldSize);
    mm.notify(to, to + newSize);
    if (moved > 0) kernel.flushTlbMm(cpu, mm, 0, STACK_TOP);
    return to;
  };

  if ((flags & MREMAP_FIXED) !== 0) {
    if (newAddr % PAGE_SIZE !== 0 || newAddr < 0 || newAddr + newSize > STACK_TOP) return -EINVAL;
    if (newAddr < MMAP_MIN_ADDR) return -EPERM; // mremap_to → get_unmapped_area: security_mmap_addr
    if (newAddr < old + oldSize && old < newAddr + newSize) return -EINVAL; // overlapping ranges
    unmap(newAddr, newSize);
    if (newSize < oldSize) {
      unmap(old + newSize, oldSize - newSize);
      oldSize = newSize;
    }
    return move(newAddr);
  }
  if (newSize <= oldSize) {
    if (newSize < oldSize) unmap(old + newSize, oldSize - newSize);
    return old;
  }
  // Grow in place: the old range ends its VMA and nothing is mapped above.
  if (old + oldSize === vma.end && old + newSize <= STACK_TOP && !mm.vmas.overlaps(vma.end, old + newSize)) {
    vma.end = old + newSize;
    return old;
  }
  if ((flags & MREMAP_MAYMOVE) === 0) return -ENOMEM;
  const to = mm.vmas.findGapBelow(mm.mmapBase, newSize, 0x1_0000);
  if (to < 0) return -ENOMEM;
  return move(to);
}

// ---- sigaltstack -----------------------------------------------------------------------------------

/**
 * sigaltstack: sets the alternate signal stack (ss_flags 0, or SS_DISABLE; -ENOMEM below
 * MINSIGSTKSZ; -EPERM while running on it) and reports the old one. Delivery with SA_ONSTACK
 * uses it (signals.ts).
 */
function sigaltstack({ kernel, cpu, task }: SyscallContext, ss: number, oss: number): SyscallResult {
  const sp = task.regs.get(RSP);
  const prev = { ...task.sigAltStack };
  if (ss !== 0) {
    const b = kernel.copyFromUser(cpu, task, ss, STACK_T_SIZE);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer);
    const nsp = Number(dv.getBigUint64(SS_SP, true));
    const flags = dv.getInt32(SS_FLAGS, true);
    const size = Number(dv.getBigUint64(SS_SIZE, true));
    if (onSigStack(task, sp)) return -EPERM;
    if (flags !== 0 && flags !== SS_DISABLE && flags !== SS_ONSTACK) return -EINVAL;
    if (flags === SS_DISABLE) task.sigAltStack = { sp: 0, size: 0 };
    else {
      if (size < MINSIGSTKSZ) return -ENOMEM;
      task.sigAltStack = { sp: nsp, size };
    }
  }
  if (oss !== 0) {
    const b = new Uint8Array(STACK_T_SIZE);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(SS_SP, BigInt(prev.sp), true);
    dv.setInt32(SS_FLAGS, sasSsFlags({ sigAltStack: prev }, sp), true);
    dv.setBigUint64(SS_SIZE, BigInt(prev.size), true);
    if (!kernel.copyToUser(cpu, task, oss, b)) return -EFAULT;
  }
  return 0;
}
