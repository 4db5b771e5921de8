import type { SyscallResult } from './kernel.js';
import {
  EFAULT, EIO, EPERM, ESRCH, PTRACE_ATTACH, PTRACE_CONT, PTRACE_DETACH, PTRACE_GETREGS,
  PTRACE_KILL, PTRACE_PEEKDATA, PTRACE_PEEKTEXT, PTRACE_POKEDATA, PTRACE_SETOPTIONS, PTRACE_SETREGS,
  PTRACE_SYSCALL, PTRACE_SYSEMU, PTRACE_TRACEME, SIGKILL, SIGSTOP, USER_REGS_FIELDS, USER_REGS_SIZE,
  signaledStatus,
} from './linux-abi.js';
import { PtRegs } from './pt-regs.js';
import { queueSignal } from './signals.js';
import { syscallNrOf } from './syscall-prototypes.js';
import { SyscallContext } from './syscall-table.js';
import { TaskState } from './task.js';

const TWO_32 = 0x1_0000_0000;
const GPR: Record<string, number> = {
  rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7, r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15,
};

/** struct user_regs_struct from saved registers (PTRACE_GETREGS). */
export function userRegs(r: PtRegs): Uint8Array {
  const b = new Uint8Array(USER_REGS_SIZE);
  const dv = new DataView(b.buffer);
  USER_REGS_FIELDS.forEach((name, i) => {
    let v: number;
    if (name in GPR) {
      // All 64 bits (a JS number would round values above 2^53).
      dv.setUint32(i * 8, r.lo[GPR[name]!]!, true);
      dv.setUint32(i * 8 + 4, r.hi[GPR[name]!]!, true);
      return;
    }
    if (name === 'orig_rax') v = r.origRax;
    else if (name === 'rip') v = r.rip;
    else if (name === 'eflags') v = r.rflags;
    else if (name === 'cs') v = r.cs;
    else if (name === 'ss') v = r.ss;
    else if (name === 'fs_base') v = r.fsBase;
    else if (name === 'gs_base') v = r.gsBase;
    else v = 0;
    dv.setUint32(i * 8, v >>> 0, true);
    dv.setUint32(i * 8 + 4, Math.floor(v / TWO_32) >>> 0, true);
  });
  return b;
}

/** PTRACE_SETREGS: write the general registers, RIP, RFLAGS (user-changeable bits) back. */
export function setUserRegs(r: PtRegs, b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  USER_REGS_FIELDS.forEach((name, i) => {
    const v = (dv.getUint32(i * 8 + 4, true) | 0) * TWO_32 + dv.getUint32(i * 8, true);
    if (name in GPR) {
      r.lo[GPR[name]!] = dv.getUint32(i * 8, true);
      r.hi[GPR[name]!] = dv.getUint32(i * 8 + 4, true);
    } else if (name === 'orig_rax') r.origRax = syscallNrOf(dv.getUint32(i * 8, true)); // read as the int the dispatch takes
    else if (name === 'rip') r.rip = v;
    else if (name === 'eflags') r.rflags = ((v & 0x5_4dd5) | 0x202) >>> 0;
    else if (name === 'fs_base') r.fsBase = v;
    else if (name === 'gs_base') r.gsBase = v;
  });
}

/**
 * ptrace(2): TRACEME, ATTACH, SYSCALL, SYSEMU, CONT, GETREGS, SETREGS, PEEK/POKE, KILL, DETACH.
 * Stops happen in the tracee's own paths (Kernel.syscallFromUser, signal delivery); here the
 * tracer inspects and resumes.
 */
export function ptrace(ctx: SyscallContext, request: number, pid: number, addr: number, data: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  cpu.cycles += kernel.costs.ptraceRequestPath;
  if (request === PTRACE_TRACEME) {
    if (task.tracer !== undefined || task.process.parent === undefined) return -EPERM;
    task.tracer = task.process.parent;
    return 0;
  }
  const target = kernel.tasks.get(pid);
  if (target === undefined || target.state === TaskState.Dead) return -ESRCH;
  if (request === PTRACE_ATTACH) {
    if (target.tracer !== undefined || target.process === task.process) return -EPERM;
    target.tracer = task.process;
    queueSignal(kernel, target, { signo: SIGSTOP, code: 0, addr: 0, pid: task.process.pid }, false);
    if (target.state === TaskState.Sleeping) kernel.enqueue(target);
    return 0;
  }
  if (target.tracer !== task.process) return -ESRCH;
  if (request === PTRACE_KILL) {
    kernel.exitProcess(cpu, target.process, signaledStatus(SIGKILL));
    return 0;
  }
  // Every other request needs the tracee stopped.
  if (target.state !== TaskState.Stopped) return -ESRCH;
  switch (request) {
    case PTRACE_GETREGS: {
      return kernel.copyToUser(cpu, task, data, userRegs(target.regs)) ? 0 : -EFAULT;
    }
    case PTRACE_SETREGS: {
      const b = kernel.copyFromUser(cpu, task, data, USER_REGS_SIZE);
      if (b === undefined) return -EFAULT;
      setUserRegs(target.regs, b);
      return 0;
    }
    case PTRACE_PEEKTEXT:
    case PTRACE_PEEKDATA: {
      const b = kernel.accessProcessVm(target.process, addr, 8);
      if (b === undefined) return -EIO;
      return kernel.copyToUser(cpu, task, data, b) ? 0 : -EFAULT;
    }
    case PTRACE_POKEDATA: {
      const b = new Uint8Array(8);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, data >>> 0, true);
      dv.setUint32(4, Math.floor(data / TWO_32) >>> 0, true);
      return kernel.accessProcessVm(target.process, addr, 8, b) === undefined ? -EIO : 0;
    }
    case PTRACE_SETOPTIONS:
      target.ptraceOptions = data;
      return 0;
    case PTRACE_CONT:
    case PTRACE_SYSCALL:
    case PTRACE_SYSEMU:
    case PTRACE_DETACH: {
      if (data < 0 || data > 64) return -EIO;
      target.ptraceMode = request === PTRACE_SYSCALL ? 'syscall' : request === PTRACE_SYSEMU ? 'sysemu' : 'cont';
      target.ptraceInject = data;
      target.ptraceReport = 0;
      if (request === PTRACE_DETACH) target.tracer = undefined;
      kernel.ptraceResume(target);
      return 0;
    }
    default:
      return -EIO;
  }
}
