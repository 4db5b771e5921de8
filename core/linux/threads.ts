import { PAGE_SIZE, PTE_W } from '../vtx/arch.js';
import { RAX, RSP } from '../vtx/cpu.js';
import { PageTables } from '../vtx/page-tables.js';
import { pteHasFrame } from './address-space.js';
import { BLOCKED, SyscallResult } from './kernel.js';
import {
  CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS, CLONE_NAMESPACES, CLONE_NEWNS,
  CLONE_NEWUSER, CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_SETTLS, CLONE_SIGHAND, CLONE_THREAD,
  CLONE_VFORK, CLONE_VM, CSIGNAL, EAGAIN, EINVAL, EPERM, ERESTARTNOINTR, MAP_SHARED, RLIMIT_NPROC, STACK_TOP, TASK_SIZE,
} from './linux-abi.js';
import { splitHugeRange } from './huge-pages.js';
import type { SyscallContext } from './syscall-table.js';
import { Process, Task, TaskState } from './task.js';
import { forkFiles } from './vfs.js';

/** The arguments of clone(2) on x86-64: flags, newsp, parent_tid, child_tid, tls. */
export interface CloneArgs {
  flags: number;
  stack: number;
  parentTid: number;
  childTid: number;
  tls: number;
}

/**
 * kernel_clone / copy_process. One function makes every kind of child the way Linux does, from
 * the flags: a thread of the caller's group (CLONE_THREAD: same Process, so the same mm, files,
 * handlers and pid), or a new process that shares the address space (CLONE_VM), the descriptor
 * table (CLONE_FILES) and the handlers (CLONE_SIGHAND) as asked, and copies the rest — fork and
 * vfork are clone with fixed flags. CLONE_VFORK puts the parent to sleep until the child execs
 * or exits.
 */
export function cloneTask(ctx: SyscallContext, a: CloneArgs): SyscallResult {
  const { kernel, cpu, task } = ctx;
  const flags = a.flags >>> 0;
  // copy_process's checks, in its order, with its error codes.
  if ((flags & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if ((flags & (CLONE_NEWUSER | CLONE_FS)) === (CLONE_NEWUSER | CLONE_FS)) return -EINVAL;
  if ((flags & CLONE_THREAD) !== 0 && (flags & CLONE_SIGHAND) === 0) return -EINVAL;
  if ((flags & CLONE_SIGHAND) !== 0 && (flags & CLONE_VM) === 0) return -EINVAL;
  // Namespaces and pidfds are not modelled: refused rather than silently ignored.
  if ((flags & CLONE_NAMESPACES) !== 0 || (flags & CLONE_PIDFD) !== 0) return -EINVAL;
  if ((flags & CLONE_SETTLS) !== 0 && (a.tls < 0 || a.tls >= TASK_SIZE)) return -EPERM; // do_arch_prctl_64
  // A group that is exiting makes no new threads (copy_process: -ERESTARTNOINTR, which the
  // caller never sees: the pending SIGKILL ends it first).
  if (task.process.groupExitStatus !== undefined) return -ERESTARTNOINTR;
  // The task limits: kernel.threads-max, then RLIMIT_NPROC (counted over every task, as the
  // model has one user).
  const live = kernel.liveTaskCount();
  if (live >= kernel.threadsMax) return -EAGAIN;
  if (BigInt(live) >= task.process.rlimits[RLIMIT_NPROC]!.cur) return -EAGAIN;

  const parent = task.process;
  let child: Process;
  let ct: Task;
  if ((flags & CLONE_THREAD) !== 0) {
    child = parent;
    ct = kernel.newTask(parent, kernel.allocPid());
    cpu.cycles += kernel.costs.threadPath;
  } else {
    const realParent = (flags & CLONE_PARENT) !== 0 && parent.parent !== undefined ? parent.parent : parent;
    if ((flags & CLONE_VM) !== 0) {
      child = kernel.newProcess(parent.name, parent.mm, realParent);
      parent.mm.users++;
      cpu.cycles += kernel.costs.threadPath;
    } else {
      child = kernel.newProcess(parent.name, kernel.newAddressSpace(), realParent);
      copyMm(ctx, parent, child);
    }
    if ((flags & CLONE_FILES) !== 0) {
      child.files = parent.files;
      child.cloexec = parent.cloexec;
      child.filesUsers = parent.filesUsers;
      child.filesUsers.count++;
      child.cwd = parent.cwd;
      child.umask = parent.umask;
    } else {
      forkFiles(parent, child);
    }
    child.libdune = parent.libdune; // user-space state: the child's memory is the parent's, or a copy
    if ((flags & CLONE_SIGHAND) !== 0) child.actions = parent.actions;
    else for (let s = 1; s <= 64; s++) Object.assign(child.actions[s]!, parent.actions[s]);
    child.rlimits = parent.rlimits.map((l) => ({ ...l }));
    child.exitSignal = flags & CSIGNAL;
    ct = kernel.newTask(child);
  }
  ct.regs.copyFrom(task.regs);
  ctx.cpu.saveFpu(ct.fpu); // the parent runs here: its x87/SSE registers are the CPU's
  ct.regs.set(RAX, 0);
  ct.forkedFrom = task;
  if (a.stack !== 0) ct.regs.set(RSP, a.stack);
  if ((flags & CLONE_SETTLS) !== 0) ct.regs.fsBase = a.tls;
  ct.blockedLo = task.blockedLo;
  ct.blockedHi = task.blockedHi;
  // copy_sighand / copy_process: a child sharing the parent's VM (not for vfork) gets no
  // alternate signal stack — it would be the parent's stack too.
  ct.sigAltStack = (flags & (CLONE_VM | CLONE_VFORK)) === CLONE_VM ? { sp: 0, size: 0 } : { ...task.sigAltStack };
  ct.cpusAllowed = task.cpusAllowed;
  ct.cpu = task.cpu;
  if ((flags & CLONE_CHILD_CLEARTID) !== 0) ct.clearChildTid = a.childTid;
  const tidBytes = new Uint8Array(4);
  new DataView(tidBytes.buffer).setInt32(0, ct.tid, true);
  // CLONE_PARENT_SETTID is stored in the parent's memory before the child runs; a fault is ignored
  // (put_user's result is not checked). CLONE_CHILD_SETTID is stored in the child's memory.
  if ((flags & CLONE_PARENT_SETTID) !== 0) kernel.copyToUser(cpu, task, a.parentTid, tidBytes);
  if ((flags & CLONE_CHILD_SETTID) !== 0) {
    if (child.mm === parent.mm) kernel.copyToUser(cpu, task, a.childTid, tidBytes);
    else kernel.accessProcessVm(child, a.childTid, 4, tidBytes);
  }
  kernel.enqueue(ct);
  if ((flags & CLONE_VFORK) === 0) return ct.tid;
  // The vfork parent sleeps (uninterruptibly, as wait_for_vfork_done's killable wait) until the
  // child releases the shared memory: exec or exit.
  let done = false;
  ct.vforkDone = () => {
    done = true;
    kernel.wakeUp(task);
  };
  kernel.sleep(task, () => done, () => task.regs.set(RAX, ct.tid), () => false);
  task.uninterruptible = true;
  return BLOCKED;
}

/**
 * dup_mm: a copy of the VMAs and copy-on-write sharing of every page (both sides read-only until
 * a write fault copies), then a flush of the parent's now read-only translations on every CPU.
 */
function copyMm({ kernel, cpu }: SyscallContext, parent: Process, child: Process): void {
  const mm = parent.mm;
  const cmm = child.mm;
  cmm.startBrk = mm.startBrk;
  cmm.brk = mm.brk;
  cmm.mmapBase = mm.mmapBase;
  let ptes = 0;
  for (const v of mm.vmas.list) {
    const cv = v.clone();
    cmm.vmas.insert(cv);
    if (v.huge !== '') splitHugeRange(mm, v.start, v.end); // 2 MiB leaves are shared as 4 KiB pages
    // Shared anonymous memory is one object for both sides (shmem in Linux): the model has no
    // such object behind a VMA, so the pages not yet touched are populated now — afterwards
    // each process would otherwise fault in a private frame of its own.
    if ((v.flags & MAP_SHARED) !== 0) {
      for (let va = v.start; va < v.end; va += PAGE_SIZE) {
        const pte = mm.pte(va);
        if (pte === undefined || !pteHasFrame(pte.lo)) kernel.faultIn(cpu, mm, va, false, false, false);
      }
    }
    for (let va = v.start; va < v.end; va += PAGE_SIZE) {
      const pte = mm.pte(va);
      if (pte === undefined || !pteHasFrame(pte.lo)) continue;
      const frame = PageTables.entryFrame(pte.lo, pte.hi);
      kernel.machine.frames.get(frame);
      // Private writable pages become copy-on-write in both address spaces.
      const lo = (v.flags & MAP_SHARED) !== 0 ? pte.lo : pte.lo & ~PTE_W;
      kernel.machine.mem.write32(pte.pa, lo >>> 0);
      const cpa = cmm.pt.entryAddress(va, 1, true);
      kernel.machine.mem.write64(cpa, lo >>> 0, pte.hi);
      ptes++;
    }
  }
  mm.notify(0, STACK_TOP);
  cpu.cycles += kernel.costs.forkPath + ptes * kernel.costs.forkPerPte;
  // The parent's now read-only PTEs must not stay writable in any TLB: its other threads may be
  // running on other CPUs (dup_mmap ends with flush_tlb_mm).
  kernel.flushTlbMm(cpu, mm, 0, STACK_TOP);
}

export { TaskState };
