import { PAGE_SIZE, PTE_W } from '../vtx/arch.js';
import { Cpu, RAX } from '../vtx/cpu.js';
import { PageTables } from '../vtx/page-tables.js';
import { AddressSpace, pteHasFrame } from './address-space.js';
import { BLOCKED, SyscallResult, queueSignalToProcess } from './kernel.js';
import {
  EBADF, ECHILD, EPERM, EFAULT, EINTR, ERESTARTNOHAND, ERESTARTSYS, SI_ADDR, SI_CODE, SI_PID, SI_VALUE, EINVAL, ENOMEM, ESRCH, KSIGACTION_SIZE, MAP_ANONYMOUS,
  MAP_FIXED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, NR, NSIG, PROT_EXEC, PROT_READ, PROT_WRITE,
  CLONE_VFORK, CLONE_VM, SIGCHLD, SIGKILL, SIGSTOP, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, STACK_TOP, TASK_SIZE, ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS, WNOHANG, exitedStatus, MMAP_MIN_ADDR,
} from './linux-abi.js';
import { HPAGE, canReserve, cutsHugetlb, hugeKindOf, hugeUp, splitHugeRange } from './huge-pages.js';
import { ptrace } from './ptrace.js';
import { queueSignal, signalPending, sigreturn } from './signals.js';
import { SyscallContext, SyscallTable } from './syscall-table.js';
import { registerFsSyscalls } from './syscalls-fs.js';
import { registerMiscSyscalls } from './syscalls-misc.js';
import { registerItimerSyscalls } from './itimer.js';
import { registerNetSyscalls } from './syscalls-net.js';
import { registerExecSyscalls } from './syscalls-exec.js';
import { Process, TaskState } from './task.js';
import { cloneTask } from './threads.js';
import { Vma } from './vma.js';

const TWO_32 = 0x1_0000_0000;
const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Registers the system calls of the Linux model. */
export function registerSyscalls(table: SyscallTable): void {
  const t = table;
  t.add(NR.getpid, 'getpid', 0, ({ task }) => task.process.pid);
  t.add(NR.gettid, 'gettid', 0, ({ task }) => task.tid);
  t.add(NR.getppid, 'getppid', 0, ({ task }) => task.process.parent?.pid ?? 0);
  for (const [nr, name] of [[NR.getuid, 'getuid'], [NR.geteuid, 'geteuid'], [NR.getgid, 'getgid'], [NR.getegid, 'getegid']] as const) {
    t.add(nr, name, 0, () => 0);
  }
  // Files, pipes, the console (syscalls-fs.ts); time, limits, futex, mremap … (syscalls-misc.ts).
  registerFsSyscalls(t);
  registerMiscSyscalls(t);
  registerItimerSyscalls(t);
  registerNetSyscalls(t);
  registerExecSyscalls(t); // execve, execveat (syscalls-exec.ts)
  // exit ends the calling thread; exit_group (what exit(3) makes) the whole thread group.
  t.add(NR.exit, 'exit', 1, ({ kernel, cpu, task }, code) => {
    kernel.exitThread(cpu, task, exitedStatus(code));
    return 0;
  });
  t.add(NR.exit_group, 'exit_group', 1, ({ kernel, cpu, task }, code) => {
    kernel.exitProcess(cpu, task.process, exitedStatus(code));
    return 0;
  });
  t.add(NR.sched_yield, 'sched_yield', 0, ({ kernel, cpu, task }) => {
    kernel.yieldCpu(cpu, task);
    return 0;
  });
  t.add(NR.sched_setaffinity, 'sched_setaffinity', 3, ({ kernel, cpu, task }, pid, len, mask) => {
    const who = (pid | 0) === 0 ? task : kernel.tasks.get(pid | 0);
    if (who === undefined || who.state === TaskState.Dead) return -ESRCH;
    // get_user_cpu_mask: a shorter mask is zero-extended, a longer one truncated to NR_CPUS.
    const b = kernel.copyFromUser(cpu, task, mask, Math.min(len, 8));
    if (b === undefined) return -EFAULT;
    const cpus: number[] = [];
    for (let i = 0; i < kernel.machine.cpus.length; i++) if (i >> 3 < b.length && ((b[i >> 3]! >> (i & 7)) & 1) !== 0) cpus.push(i);
    if (cpus.length === 0) return -EINVAL; // no online CPU in the mask
    kernel.setAffinity(who, cpus);
    return 0;
  });
  t.add(NR.brk, 'brk', 1, ({ kernel, cpu, task }, addr) => brk(kernel, cpu, task.process.mm, addr));
  t.add(NR.mmap, 'mmap', 6, mmap);
  t.add(NR.munmap, 'munmap', 2, munmap);
  t.add(NR.mprotect, 'mprotect', 3, mprotect);
  t.add(NR.rt_sigaction, 'rt_sigaction', 4, rtSigaction);
  t.add(NR.rt_sigprocmask, 'rt_sigprocmask', 4, rtSigprocmask);
  t.add(NR.rt_sigreturn, 'rt_sigreturn', 0, ({ kernel, cpu, task }) => sigreturn(kernel, cpu, task));
  t.add(NR.kill, 'kill', 2, ({ kernel, task }, pid, sig) => {
    const p = kernel.processes.get(pid);
    if (p === undefined || p.reaped) return -ESRCH;
    if (sig < 0 || sig > NSIG) return -EINVAL;
    if (sig !== 0 && !p.zombie) queueSignalToProcess(kernel, p, sig, task.process.pid); // a zombie exists but ignores signals
    return 0;
  });
  // tgkill and tkill direct the signal at one thread (its own queue), which alone takes it.
  t.add(NR.tgkill, 'tgkill', 3, ({ kernel, task }, tgid, tid, sig) => {
    if (sig < 0 || sig > NSIG || (tgid | 0) <= 0 || (tid | 0) <= 0) return -EINVAL;
    const target = kernel.tasks.get(tid);
    if (target === undefined || target.process.pid !== tgid || target.state === TaskState.Dead) return -ESRCH;
    if (sig !== 0) signalThread(kernel, target, { signo: sig, code: -6 /* SI_TKILL */, addr: 0, pid: task.process.pid });
    return 0;
  });
  t.add(NR.rt_sigsuspend, 'rt_sigsuspend', 2, rtSigsuspend);
  t.add(NR.rt_tgsigqueueinfo, 'rt_tgsigqueueinfo', 4, rtTgsigqueueinfo);
  // tkill(2): tgkill without the thread-group check; musl's raise() uses it.
  t.add(NR.tkill, 'tkill', 2, ({ kernel, task }, tid, sig) => {
    if (sig < 0 || sig > NSIG || (tid | 0) <= 0) return -EINVAL;
    const target = kernel.tasks.get(tid);
    if (target === undefined || target.state === TaskState.Dead) return -ESRCH;
    if (sig !== 0) signalThread(kernel, target, { signo: sig, code: -6 /* SI_TKILL */, addr: 0, pid: task.process.pid });
    return 0;
  });
  // fork and vfork are clone with fixed flags (kernel/fork.c).
  t.add(NR.fork, 'fork', 0, (ctx) => cloneTask(ctx, { flags: SIGCHLD, stack: 0, parentTid: 0, childTid: 0, tls: 0 }));
  t.add(NR.vfork, 'vfork', 0, (ctx) => cloneTask(ctx, { flags: CLONE_VFORK | CLONE_VM | SIGCHLD, stack: 0, parentTid: 0, childTid: 0, tls: 0 }));
  t.add(NR.clone, 'clone', 5, (ctx, flags, stack, parentTid, childTid, tls) => cloneTask(ctx, { flags, stack, parentTid, childTid, tls }));
  t.add(NR.wait4, 'wait4', 4, wait4);
  t.add(NR.ptrace, 'ptrace', 4, ptrace);
  t.add(NR.arch_prctl, 'arch_prctl', 2, archPrctl);
}

/**
 * arch_prctl (do_arch_prctl_64): the option is an int; a base set must be a user address
 * (arg2 >= TASK_SIZE_MAX is -EPERM: the kernel never loads a kernel-half or non-canonical base,
 * which WRMSR would refuse with #GP); ARCH_GET_FS / ARCH_GET_GS store the base with put_user.
 */
function archPrctl({ kernel, cpu, task }: SyscallContext, code: number, addr: number): SyscallResult {
  const option = code | 0;
  if (option === ARCH_SET_FS || option === ARCH_SET_GS) {
    if (addr < 0 || addr >= TASK_SIZE) return -EPERM;
    if (option === ARCH_SET_FS) task.regs.fsBase = addr;
    else task.regs.gsBase = addr;
    return 0;
  }
  if (option === ARCH_GET_FS || option === ARCH_GET_GS) {
    const b = new Uint8Array(8);
    const v = option === ARCH_GET_FS ? task.regs.fsBase : task.regs.gsBase;
    const dv = new DataView(b.buffer);
    dv.setUint32(0, v >>> 0, true);
    dv.setUint32(4, Math.floor(v / TWO_32) >>> 0, true);
    return kernel.copyToUser(cpu, task, addr, b) ? 0 : -EFAULT;
  }
  return -EINVAL;
}

// ---- memory -------------------------------------------------------------------------------

function brk(kernel: SyscallContext['kernel'], cpu: Cpu, mm: AddressSpace, addr: number): number {
  if (addr === 0 || addr < mm.startBrk) return mm.brk;
  const oldEnd = pageUp(mm.brk);
  const newEnd = pageUp(addr);
  if (newEnd > oldEnd) {
    if (mm.vmas.overlaps(oldEnd, newEnd)) return mm.brk;
    const heap = mm.vmas.list.find((v) => v.name === '[heap]');
    if (heap !== undefined && heap.end === oldEnd) heap.end = newEnd;
    else mm.vmas.insert(new Vma(oldEnd, newEnd, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[heap]'));
  } else if (newEnd < oldEnd) {
    mm.vmas.remove(newEnd, oldEnd);
    if (mm.zapRange(newEnd, oldEnd) > 0) kernel.flushTlbMm(cpu, mm, newEnd, oldEnd); // flush_tlb_mm, as munmap
  }
  mm.brk = addr;
  return addr;
}

function mmap(ctx: SyscallContext, addr: number, len: number, prot: number, flags: number, fd: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  const mm = task.process.mm;
  if (len <= 0 || (flags & (MAP_PRIVATE | MAP_SHARED)) === 0) return -EINVAL;
  if ((flags & MAP_ANONYMOUS) === 0 && (fd | 0) !== -1) return -EBADF; // files: not in this model
  // 2 MiB pages (huge-pages.ts): MAP_HUGETLB, or the process's libhugetlbfs-like backing.
  const huge = hugeKindOf(mm, addr, len, flags);
  const align = huge === '' ? PAGE_SIZE : HPAGE;
  const size = huge === '' ? pageUp(len) : hugeUp(len);
  if (huge === 'hugetlb' && !canReserve(kernel, size / HPAGE)) return -ENOMEM;
  let start: number;
  if ((flags & MAP_FIXED) !== 0) {
    if (addr % align !== 0 || addr + size > STACK_TOP) return -EINVAL;
    if (addr < MMAP_MIN_ADDR) return -EPERM; // security_mmap_addr (cap_mmap_addr)
    start = addr;
    doMunmap(ctx, start, size);
  } else if (addr >= MMAP_MIN_ADDR && addr % align === 0 && addr + size <= STACK_TOP && !mm.vmas.overlaps(addr, addr + size)) {
    start = addr;
  } else {
    start = mm.vmas.findGapBelow(mm.mmapBase, size, 0x1_0000, align);
    if (start < 0) return -ENOMEM;
  }
  const vma = new Vma(start, start + size, prot & (PROT_READ | PROT_WRITE | PROT_EXEC), flags, '');
  vma.huge = huge;
  mm.vmas.insert(vma);
  if ((flags & MAP_POPULATE) !== 0) {
    for (let va = start; va < start + size; va += PAGE_SIZE) kernel.faultIn(cpu, mm, va, (prot & PROT_WRITE) !== 0, false, false);
  }
  return start;
}

function doMunmap({ kernel, cpu, task }: SyscallContext, start: number, size: number): void {
  const mm = task.process.mm;
  mm.vmas.remove(start, start + size);
  if (mm.zapRange(start, start + size) > 0) kernel.flushTlbMm(cpu, mm, start, start + size); // flush_tlb_mm (Linux 3.2)
}

function munmap(ctx: SyscallContext, addr: number, len: number): SyscallResult {
  // do_vmi_munmap: the range must lie in the user half (start > TASK_SIZE || len > TASK_SIZE -
  // start), and a length of 0 (or one that is negative as a JS number: above 2^63) is -EINVAL;
  // it also spares the model a walk over 2^40 pages for a length with high bits set.
  if (addr % PAGE_SIZE !== 0 || len <= 0 || addr < 0 || addr > TASK_SIZE || len > TASK_SIZE - addr) return -EINVAL;
  if (cutsHugetlb(ctx.task.process.mm, addr, addr + pageUp(len))) return -EINVAL; // hugetlb: whole 2 MiB pages only
  doMunmap(ctx, addr, pageUp(len));
  return 0;
}

/**
 * mprotect: split VMAs, rewrite the PTEs of present pages, and flush the TLB — on Linux 3.2
 * flush_tlb_range() is a whole-mm flush (a CR3 reload), which the model performs for real.
 */
function mprotect({ cpu, task, kernel }: SyscallContext, addr: number, len: number, prot: number): SyscallResult {
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  // prot is an unsigned long: bits above the known ones fail arch_validate_prot.
  if (prot < 0 || prot > 0xffff_ffff) return -EINVAL;
  // do_mprotect_pkey: a length of 0 does nothing; a range that wraps (a size_t length above 2^63
  // is negative here) or leaves the user half is -ENOMEM — no VMA covers it.
  if (len === 0) return 0;
  if (len < 0 || addr < 0 || addr + len > TASK_SIZE) return -ENOMEM;
  const mm = task.process.mm;
  const end = addr + pageUp(len);
  if (cutsHugetlb(mm, addr, end)) return -EINVAL; // hugetlb: whole 2 MiB pages only
  const newProt = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
  cpu.cycles += kernel.costs.mprotectBase;
  // Every page of the range must be mapped (else -ENOMEM, as Linux).
  let changes = false;
  for (let a = addr; a < end; ) {
    const v = mm.vmas.find(a);
    if (v === undefined) return -ENOMEM;
    if (v.prot !== newProt) changes = true;
    a = v.end;
  }
  // mprotect_fixup returns early when the flags do not change: no split, no PTE edit, no flush.
  if (!changes) return 0;
  cpu.cycles += kernel.costs.mprotectPath;
  const vmas = mm.vmas.carve(addr, end);
  let pages = 0;
  for (const v of vmas) {
    v.prot = newProt;
    pages += mm.changeProtection(v.start, v.end, v);
  }
  cpu.cycles += pages * kernel.costs.mprotectPerPage;
  if (pages > 0) kernel.flushTlbMm(cpu, mm, addr, end);
  return 0;
}

// ---- signals ------------------------------------------------------------------------------

function rtSigaction({ kernel, cpu, task }: SyscallContext, sig: number, act: number, oact: number, setsize: number): SyscallResult {
  if (sig < 1 || sig > NSIG || setsize !== 8) return -EINVAL;
  const a = task.process.actions[sig]!;
  if (oact !== 0) {
    const b = new Uint8Array(KSIGACTION_SIZE);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, a.handler >>> 0, true);
    dv.setUint32(4, Math.floor(a.handler / TWO_32) >>> 0, true);
    dv.setUint32(8, a.flags >>> 0, true);
    dv.setUint32(16, a.restorer >>> 0, true);
    dv.setUint32(20, Math.floor(a.restorer / TWO_32) >>> 0, true);
    dv.setUint32(24, a.maskLo, true);
    dv.setUint32(28, a.maskHi, true);
    if (!kernel.copyToUser(cpu, task, oact, b)) return -EFAULT;
  }
  if (act !== 0) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    const b = kernel.copyFromUser(cpu, task, act, KSIGACTION_SIZE);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer);
    a.handler = (dv.getUint32(4, true) | 0) * TWO_32 + dv.getUint32(0, true);
    a.flags = dv.getUint32(8, true);
    a.restorer = (dv.getUint32(20, true) | 0) * TWO_32 + dv.getUint32(16, true);
    a.maskLo = dv.getUint32(24, true);
    a.maskHi = dv.getUint32(28, true);
  }
  return 0;
}

function rtSigprocmask({ kernel, cpu, task }: SyscallContext, how: number, set: number, oset: number, setsize: number): SyscallResult {
  if (setsize !== 8) return -EINVAL;
  if (oset !== 0) {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, task.blockedLo, true);
    dv.setUint32(4, task.blockedHi, true);
    if (!kernel.copyToUser(cpu, task, oset, b)) return -EFAULT;
  }
  if (set !== 0) {
    const b = kernel.copyFromUser(cpu, task, set, 8);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer);
    const lo = dv.getUint32(0, true);
    const hi = dv.getUint32(4, true);
    if (how === SIG_BLOCK) {
      task.blockedLo |= lo;
      task.blockedHi |= hi;
    } else if (how === SIG_UNBLOCK) {
      task.blockedLo &= ~lo;
      task.blockedHi &= ~hi;
    } else if (how === SIG_SETMASK) {
      task.blockedLo = lo;
      task.blockedHi = hi;
    } else {
      return -EINVAL;
    }
    task.blockedLo = (task.blockedLo & ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)))) >>> 0;
  }
  return 0;
}

// ---- processes ----------------------------------------------------------------------------

/** wait4: reap a zombie child or collect a tracee's stop; sleeps unless WNOHANG. */
function wait4(ctx: SyscallContext, pid: number, statusVa: number, options: number): SyscallResult {
  const { kernel, task } = ctx;
  const me = task.process;
  const want = (p: Process): boolean => (pid | 0) === -1 || p.pid === pid;
  const attempt = (): number | undefined => {
    for (const t of kernel.tasks.values()) {
      if (t.tracer === me && t.ptraceReport !== 0 && t.state === TaskState.Stopped && want(t.process)) {
        const status = t.ptraceReport;
        t.ptraceReport = 0;
        return writeStatus(ctx, statusVa, status) ? t.process.pid : -EFAULT;
      }
    }
    for (const c of me.children) {
      if (c.zombie && !c.reaped && want(c)) {
        c.reaped = true;
        kernel.processes.delete(c.pid);
        return writeStatus(ctx, statusVa, c.waitStatus) ? c.pid : -EFAULT;
      }
    }
    const hasCandidates = me.children.some((c) => !c.reaped && want(c)) ||
      [...kernel.tasks.values()].some((t) => t.tracer === me && t.state !== TaskState.Dead && want(t.process));
    if (!hasCandidates) return -ECHILD;
    return undefined;
  };
  ctx.cpu.cycles += kernel.costs.wait4Path;
  const r = attempt();
  if (r !== undefined) return r;
  if ((options & WNOHANG) !== 0) return 0;
  let result: number | undefined;
  kernel.sleep(task, () => {
    const x = attempt();
    if (x === undefined) return false;
    result = x;
    return true;
  }, () => task.regs.set(RAX, result ?? attempt() ?? -ERESTARTSYS), // woken by a signal: look again, else restart or -EINTR
  () => false); // a child's exit or stop is another task's doing, never the host's

  return BLOCKED;
}

/**
 * rt_sigsuspend: the mask is replaced until a signal is delivered; the call then fails with
 * -ERESTARTNOHAND (-EINTR once a handler runs; a signal that runs none restarts the wait) and the
 * old mask comes back — in the signal frame, so that it is in force again when the handler returns
 * (kernel/signal.c: sigsuspend, set_restore_sigmask).
 */
function rtSigsuspend({ kernel, cpu, task }: SyscallContext, set: number, setsize: number): SyscallResult {
  if (setsize !== 8) return -EINVAL;
  const b = kernel.copyFromUser(cpu, task, set, 8);
  if (b === undefined) return -EFAULT;
  const dv = new DataView(b.buffer);
  task.savedSigmask = { lo: task.blockedLo, hi: task.blockedHi };
  task.blockedLo = (dv.getUint32(0, true) & ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)))) >>> 0;
  task.blockedHi = dv.getUint32(4, true);
  if (signalPending(task)) return -ERESTARTNOHAND;
  kernel.sleep(task, () => signalPending(task), () => task.regs.set(RAX, -ERESTARTNOHAND), () => false);
  return BLOCKED;
}

/**
 * rt_tgsigqueueinfo: a signal with the caller's siginfo for one thread. Only a process signalling
 * itself may claim a kernel si_code (>= 0) or SI_TKILL: anyone else would forge a fault.
 */
function rtTgsigqueueinfo({ kernel, cpu, task }: SyscallContext, tgid: number, tid: number, sig: number, uinfo: number): SyscallResult {
  if (sig < 0 || sig > NSIG || (tgid | 0) <= 0 || (tid | 0) <= 0) return -EINVAL;
  const b = kernel.copyFromUser(cpu, task, uinfo, 128);
  if (b === undefined) return -EFAULT;
  const dv = new DataView(b.buffer);
  const code = dv.getInt32(SI_CODE, true);
  if ((code >= 0 || code === -6 /* SI_TKILL */) && tgid !== task.process.pid) return -EPERM;
  const target = kernel.tasks.get(tid);
  if (target === undefined || target.process.pid !== tgid || target.state === TaskState.Dead) return -ESRCH;
  const addr = (dv.getUint32(SI_ADDR + 4, true) | 0) * 0x1_0000_0000 + dv.getUint32(SI_ADDR, true);
  const pid = dv.getInt32(SI_PID, true);
  // Signal 0 checks the target and sends nothing; the caller's si_signo is not checked (Linux
  // overwrites it with `sig`), its si_value travels to the handler.
  if (sig === 0) return 0;
  const value = (dv.getUint32(SI_VALUE + 4, true) | 0) * 0x1_0000_0000 + dv.getUint32(SI_VALUE, true);
  signalThread(kernel, target, { signo: sig, code, addr: code >= 0 ? addr : pid, pid, value });
  return 0;
}

function writeStatus({ kernel, cpu, task }: SyscallContext, va: number, status: number): boolean {
  if (va === 0) return true;
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, status, true);
  // The waiter may not be the task on this CPU when it wakes: write through its own mm.
  if (task.cpu === cpu.index && kernel.current[cpu.index] === task) return kernel.copyToUser(cpu, task, va, b);
  return kernel.accessProcessVm(task.process, va, 4, b) !== undefined;
}

/** A thread-directed signal (tgkill, tkill, rt_tgsigqueueinfo): on the thread's own queue; it wakes or kicks it. */
function signalThread(kernel: SyscallContext['kernel'], target: import('./task.js').Task, info: import('./task.js').SigInfo): void {
  queueSignal(kernel, target, info, false);
  if (target.state === TaskState.Running && kernel.current[target.cpu] === target) kernel.kick(target.cpu);
}
