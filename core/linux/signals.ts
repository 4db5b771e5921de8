import { Cpu, RAX, RDI, RDX, RSI, RSP } from '../vtx/cpu.js';
import type { Kernel } from './kernel.js';
import {
  EINTR, ERESTARTNOINTR, ERESTARTSYS, SA_RESTART, isRestartCode, RT_SIGFRAME_INFO, RT_SIGFRAME_SIZE, RT_SIGFRAME_UC, SA_NODEFER, SA_ONSTACK, SA_RESETHAND,
  SA_RESTORER, SA_SIGINFO, SC_CR2, SC_FPSTATE, SIGSEGV, SI_KERNEL, SC_CSGSFS, SC_EFLAGS, SC_ERR, SC_OLDMASK, SC_RIP, SC_TRAPNO,
  SS_DISABLE, SS_ONSTACK, UC_STACK,
  SIGCONTEXT_GPRS, SIGKILL, SIGSTOP, SIG_DFL, SIG_DEFAULT_IGNORE, SIG_DEFAULT_STOP, SIG_IGN,
  SI_ADDR, SI_CODE, SI_SIGNO, SI_VALUE, UC_MCONTEXT, UC_SIGMASK, USER_CS, USER_DS, signaledStatus,
} from './linux-abi.js';
import { SigInfo, Task, TaskState } from './task.js';
import { FXSAVE_AREA_SIZE, newFxImage } from '../vtx/fx-save-area.js';

const TWO_32 = 0x1_0000_0000;
/** The fpstate a signal frame gets (built here, then copied to the user stack). */
const fxFrame = new DataView(new ArrayBuffer(FXSAVE_AREA_SIZE));
const fxBytes = new Uint8Array(fxFrame.buffer);
/** The initial x87/SSE state, which a signal handler starts from. Never written. */
const FX_INIT = newFxImage();
const GPR_INDEX: Record<string, number> = {
  rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7, r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15,
};

function isBlocked(t: Task, sig: number): boolean {
  return t.signalBlocked(sig);
}

/**
 * Queues a signal (send_signal / force_sig_info). A forced signal — a fault the task caused —
 * cannot stay blocked or ignored: like force_sig_info, it unblocks the signal and, if ignored,
 * resets it to the default action.
 */
export function queueSignal(k: Kernel, t: Task, info: SigInfo, forced: boolean): void {
  const sig = info.signo;
  if (forced) {
    const act = t.process.actions[sig]!;
    if (act.handler === SIG_IGN || isBlocked(t, sig)) {
      act.handler = SIG_DFL; // force_sig_info: blocked or ignored, the default action it is
      if (sig <= 32) t.blockedLo &= ~(1 << (sig - 1));
      else t.blockedHi &= ~(1 << (sig - 33));
    }
  }
  // sig_ignored(): an ignored signal (SIG_IGN, or SIG_DFL whose default is to ignore) is dropped
  // when sent, unless it is blocked (the action may change before it is unblocked) or traced.
  const disp = t.process.actions[sig]!.handler;
  if (!forced && t.tracer === undefined && !isBlocked(t, sig) && (disp === SIG_IGN || (disp === SIG_DFL && SIG_DEFAULT_IGNORE.has(sig)))) return;
  // Standard signals are not queued twice (a second instance merges with the pending one).
  if (sig < 32 && t.pending.some((p) => p.signo === sig)) return;
  t.pending.push(info);
  if (sig === SIGKILL && t.state === TaskState.Stopped) {
    // SIGKILL wakes a stopped (or ptrace-stopped) task, which dies on its way out; a stopped
    // system call is abandoned.
    t.resume = undefined;
    k.enqueue(t);
    return;
  }
  if (t.state === TaskState.Sleeping && !isBlocked(t, sig) && (!t.uninterruptible || sig === SIGKILL)) {
    // A signal interrupts a sleep: the call looks once more, else returns an ERESTART code that
    // the way out makes a restart or -EINTR (restartSyscall).
    k.enqueue(t);
  }
}

/**
 * A process-directed signal for a group of several live threads: queued once on the group's
 * shared queue (standard signals merge), then complete_signal's choice of a thread that wants it
 * — the leader first, then the others in creation order — is woken or, running on another CPU,
 * kicked with the reschedule IPI.
 */
export function queueSharedSignal(k: Kernel, p: Task['process'], live: Task[], info: SigInfo): void {
  const sig = info.signo;
  const leader = live[0]!;
  const disp = p.actions[sig]!.handler;
  const traced = live.some((t) => t.tracer !== undefined);
  const blockedByAll = live.every((t) => isBlocked(t, sig));
  if (!traced && !blockedByAll && (disp === SIG_IGN || (disp === SIG_DFL && SIG_DEFAULT_IGNORE.has(sig)))) return;
  if (sig < 32 && p.sharedPending.some((x) => x.signo === sig)) return;
  p.sharedPending.push(info);
  const target = live.find((t) => !isBlocked(t, sig)) ?? leader;
  if (isBlocked(target, sig)) return;
  if (target.state === TaskState.Sleeping && (!target.uninterruptible || sig === SIGKILL)) k.enqueue(target);
  else if (target.state === TaskState.Stopped && sig === SIGKILL) {
    target.resume = undefined;
    k.enqueue(target);
  } else if (target.state === TaskState.Running && k.current[target.cpu] === target) k.kick(target.cpu);
}

/** signal_pending: a signal the task does not block waits for it (its own, or its group's). */
export function signalPending(t: Task): boolean {
  for (const x of t.pending) if (x.signo === SIGKILL || !isBlocked(t, x.signo)) return true;
  for (const x of t.process.sharedPending) if (x.signo === SIGKILL || !isBlocked(t, x.signo)) return true;
  return false;
}

/** The number of the signal do_signal would take next for `t`, if any. */
export function nextSignalNumber(t: Task): number | undefined {
  const n = nextSignal(t);
  return n === undefined ? undefined : n.q[n.i]!.signo;
}

/** The next signal to deliver to `t`: the queue it sits on and its index (dequeue_signal). */
function nextSignal(t: Task): { q: SigInfo[]; i: number } | undefined {
  let i = t.pending.findIndex((p) => p.signo === SIGKILL || !isBlocked(t, p.signo));
  if (i >= 0) return { q: t.pending, i };
  const shared = t.process.sharedPending;
  i = shared.findIndex((p) => p.signo === SIGKILL || !isBlocked(t, p.signo));
  return i >= 0 ? { q: shared, i } : undefined;
}

/**
 * do_signal on the way back to user mode: take the first pending, unblocked signal and act on
 * it — ignore, stop, kill the process, or build an rt_sigframe on the user stack and enter the
 * handler. A traced task first stops for its tracer (signal-delivery stop).
 */
export function deliverSignals(k: Kernel, cpu: Cpu, t: Task): void {
  for (;;) {
    const next = nextSignal(t);
    if (next === undefined) {
      restartSyscall(t, undefined);
      restoreSavedSigmask(t);
      return;
    }
    const { q, i } = next;
    const info = q[i]!;
    const sig = info.signo;
    if (t.tracer !== undefined && sig !== SIGKILL && t.ptraceInject !== -1) {
      // Signal-delivery stop: the tracer decides (it may suppress or change the signal).
      q.splice(i, 1);
      k.ptraceStop(cpu, t, sig, () => {
        const inject = t.ptraceInject;
        t.ptraceInject = 0;
        if (inject !== 0) {
          t.ptraceInject = -1; // deliver without stopping again
          t.pending.unshift({ ...info, signo: inject });
        }
      });
      return;
    }
    if (t.ptraceInject === -1) t.ptraceInject = 0;
    q.splice(i, 1);
    const act = t.process.actions[sig]!;
    if (sig === SIGKILL || act.handler === SIG_DFL) {
      if (SIG_DEFAULT_IGNORE.has(sig)) continue;
      if (SIG_DEFAULT_STOP.has(sig) || sig === SIGSTOP) {
        restoreSavedSigmask(t);
        t.state = TaskState.Stopped;
        return;
      }
      // de_thread's SIGKILL: a thread killed for another's execve exits alone, and wakes it.
      const exec = t.process.execTask;
      if (sig === SIGKILL && exec !== undefined && exec !== t) {
        k.exitThread(cpu, t, signaledStatus(sig));
        k.wakeSleepers();
        return;
      }
      k.exitProcess(cpu, t.process, signaledStatus(sig));
      return;
    }
    if (act.handler === SIG_IGN) continue;
    restartSyscall(t, act.flags);
    if (!setupRtFrame(k, cpu, t, info)) {
      // The frame could not be written (bad stack): SIGSEGV with the default action.
      k.exitProcess(cpu, t.process, signaledStatus(11));
      return;
    }
    return;
  }
}

/** restore_saved_sigmask: no handler ran for the signal that ended rt_sigsuspend's wait. */
function restoreSavedSigmask(t: Task): void {
  const s = t.savedSigmask;
  if (s === undefined) return;
  t.savedSigmask = undefined;
  t.blockedLo = s.lo;
  t.blockedHi = s.hi;
}

/**
 * The system-call restart of arch/x86/kernel/signal.c. A call a signal interrupted left an
 * ERESTART* code in RAX; before a handler runs (`handlerFlags` given) it becomes -EINTR, or —
 * -ERESTARTSYS with SA_RESTART, -ERESTARTNOINTR always — the call is made again: RAX takes the
 * number back and RIP steps back over the 2-byte SYSCALL. When no handler runs (the signal was
 * ignored, or stopped the task) every ERESTART* code restarts the call.
 */
function restartSyscall(t: Task, handlerFlags: number | undefined): void {
  const r = t.regs;
  if (r.origRax < 0) return;
  const ax = r.get(RAX);
  if (!isRestartCode(ax)) return;
  let restart: boolean;
  if (handlerFlags === undefined) restart = true;
  else if (ax === -ERESTARTNOINTR) restart = true;
  else if (ax === -ERESTARTSYS) restart = (handlerFlags & SA_RESTART) !== 0;
  else restart = false;
  if (restart) {
    r.set(RAX, r.origRax);
    r.rip -= 2;
  } else r.set(RAX, -EINTR);
}

/**
 * setup_rt_frame (arch/x86/kernel/signal.c): below the red zone, 16-byte aligned minus 8 (as if
 * the handler had been called), write the rt_sigframe — return address (sa_restorer), ucontext
 * with the sigcontext of every register and the old mask, siginfo — and enter the handler with
 * RDI = signal, RSI = &info, RDX = &uc.
 */
function setupRtFrame(k: Kernel, cpu: Cpu, t: Task, info: SigInfo): boolean {
  const act = t.process.actions[info.signo]!;
  const r = t.regs;
  cpu.cycles += k.costs.signalDeliveryPath;
  let sp = r.get(RSP) - 128; // skip the red zone
  // SA_ONSTACK: the frame goes on the alternate stack, unless the task is already on it.
  if ((act.flags & SA_ONSTACK) !== 0 && sasSsFlags(t, sp) === 0) sp = t.sigAltStack.sp + t.sigAltStack.size;
  // fpu__alloc_mathframe: the interrupted code's x87/SSE state goes above the frame, 64-byte
  // aligned; sigcontext.fpstate points to it.
  const fpstate = Math.floor((sp - FXSAVE_AREA_SIZE) / 64) * 64;
  sp = fpstate - RT_SIGFRAME_SIZE;
  sp = Math.floor(sp / 16) * 16 - 8;
  const f = new Uint8Array(RT_SIGFRAME_SIZE);
  const dv = new DataView(f.buffer);
  const put = (off: number, v: number): void => {
    dv.setUint32(off, v >>> 0, true);
    dv.setUint32(off + 4, Math.floor(v / TWO_32) >>> 0, true);
  };
  put(0, (act.flags & SA_RESTORER) !== 0 ? act.restorer : 0);
  const mc = RT_SIGFRAME_UC + UC_MCONTEXT;
  SIGCONTEXT_GPRS.forEach((name, j) => {
    dv.setUint32(mc + j * 8, r.lo[GPR_INDEX[name]!]!, true);
    dv.setUint32(mc + j * 8 + 4, r.hi[GPR_INDEX[name]!]!, true);
  });
  put(RT_SIGFRAME_UC + UC_STACK, t.sigAltStack.sp); // uc_stack: ss_sp, ss_flags, ss_size
  dv.setInt32(RT_SIGFRAME_UC + UC_STACK + 8, sasSsFlags(t, r.get(RSP)), true);
  put(RT_SIGFRAME_UC + UC_STACK + 16, t.sigAltStack.size);
  put(mc + SC_RIP, r.rip);
  put(mc + SC_EFLAGS, r.rflags);
  dv.setUint16(mc + SC_CSGSFS, USER_CS, true);
  dv.setUint16(mc + SC_CSGSFS + 6, USER_DS, true);
  put(mc + SC_ERR, info.err ?? 0);
  put(mc + SC_TRAPNO, info.trapno ?? (info.signo === 11 ? 14 : 0));
  // sigmask_to_save: after rt_sigsuspend the mask from before the call, which sigreturn restores.
  const saved = t.savedSigmask ?? { lo: t.blockedLo, hi: t.blockedHi };
  t.savedSigmask = undefined;
  put(mc + SC_OLDMASK, saved.lo);
  put(mc + SC_CR2, info.signo === 11 ? info.addr : 0);
  put(mc + SC_FPSTATE, fpstate);
  dv.setUint32(RT_SIGFRAME_UC + UC_SIGMASK, saved.lo, true);
  dv.setUint32(RT_SIGFRAME_UC + UC_SIGMASK + 4, saved.hi, true);
  dv.setInt32(RT_SIGFRAME_INFO + SI_SIGNO, info.signo, true);
  dv.setInt32(RT_SIGFRAME_INFO + SI_CODE, info.code, true);
  put(RT_SIGFRAME_INFO + SI_ADDR, info.signo === 11 || info.signo === 7 || info.signo === 4 || info.signo === 8 ? info.addr : info.pid);
  if (info.value !== undefined) put(RT_SIGFRAME_INFO + SI_VALUE, info.value);
  if (!k.copyToUser(cpu, t, sp, f)) return false;
  // copy_fpstate_to_sigframe: the task runs on `cpu`, so its registers are the CPU's.
  cpu.saveFpu(fxFrame);
  if (!k.copyToUser(cpu, t, fpstate, fxBytes)) return false;
  // fpu__clear_user_states: the handler starts from the initial x87/SSE state.
  cpu.restoreFpu(FX_INIT);
  // Block the handler's mask and (unless SA_NODEFER) the signal itself while it runs.
  t.blockedLo |= act.maskLo;
  t.blockedHi |= act.maskHi;
  if ((act.flags & SA_NODEFER) === 0) {
    if (info.signo <= 32) t.blockedLo |= 1 << (info.signo - 1);
    else t.blockedHi |= 1 << (info.signo - 33);
  }
  t.blockedLo &= ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
  r.set(RSP, sp);
  r.rip = act.handler;
  t.iretOnReturn = true; // do_notify_resume's way out is int_ret_from_sys_call / retint: IRETQ
  if ((act.flags & SA_RESETHAND) !== 0) act.handler = SIG_DFL; // after RIP took the handler
  r.set(RDI, info.signo);
  r.set(RSI, (act.flags & SA_SIGINFO) !== 0 ? sp + RT_SIGFRAME_INFO : 0);
  r.set(RDX, (act.flags & SA_SIGINFO) !== 0 ? sp + RT_SIGFRAME_UC : 0);
  r.set(RAX, 0);
  r.rflags &= ~(0x100 | 0x400); // TF and DF clear in the handler
  if (cpu.tracer.enabled) cpu.tracer.instant('signal', `deliver ${info.signo}`, cpu.index, cpu.cycles, { addr: info.addr });
  k.countSignal();
  return true;
}

/** on_sig_stack: whether `sp` is on the task's alternate signal stack. */
export function onSigStack(t: Pick<Task, 'sigAltStack'>, sp: number): boolean {
  const s = t.sigAltStack;
  return sp > s.sp && sp - s.sp <= s.size;
}

/** sas_ss_flags: SS_DISABLE without an alternate stack, SS_ONSTACK when `sp` is on it, else 0. */
export function sasSsFlags(t: Pick<Task, 'sigAltStack'>, sp: number): number {
  return t.sigAltStack.size === 0 ? SS_DISABLE : onSigStack(t, sp) ? SS_ONSTACK : 0;
}

/** rt_sigreturn: restore every register and the mask from the frame at RSP - 8. */
export function sigreturn(k: Kernel, cpu: Cpu, t: Task): number {
  cpu.cycles += k.costs.sigreturnPath;
  const r = t.regs;
  const frame = r.get(RSP) - 8;
  const f = k.copyFromUser(cpu, t, frame, RT_SIGFRAME_SIZE);
  if (f === undefined) {
    k.exitProcess(cpu, t.process, signaledStatus(11));
    return 0;
  }
  const dv = new DataView(f.buffer);
  const mc = RT_SIGFRAME_UC + UC_MCONTEXT;
  SIGCONTEXT_GPRS.forEach((name, j) => {
    r.lo[GPR_INDEX[name]!] = dv.getUint32(mc + j * 8, true);
    r.hi[GPR_INDEX[name]!] = dv.getUint32(mc + j * 8 + 4, true);
  });
  r.rip = (dv.getUint32(mc + SC_RIP + 4, true) | 0) * TWO_32 + dv.getUint32(mc + SC_RIP, true);
  // User-changeable flags only (FIX_EFLAGS): CF PF AF ZF SF TF DF OF RF AC; IF stays set.
  r.rflags = ((dv.getUint32(mc + SC_EFLAGS, true) & 0x5_4dd5) | 0x202) >>> 0;
  t.blockedLo = dv.getUint32(RT_SIGFRAME_UC + UC_SIGMASK, true) & ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
  t.blockedHi = dv.getUint32(RT_SIGFRAME_UC + UC_SIGMASK + 4, true);
  // fpu__restore_sig: no fpstate means the initial state; an unreadable one, or one whose MXCSR
  // sets a reserved bit (FXRSTOR would #GP), is a bad frame: SIGSEGV.
  const fpstate = (dv.getUint32(mc + SC_FPSTATE + 4, true) | 0) * TWO_32 + dv.getUint32(mc + SC_FPSTATE, true);
  if (fpstate === 0) cpu.restoreFpu(FX_INIT);
  else {
    const fx = k.copyFromUser(cpu, t, fpstate, FXSAVE_AREA_SIZE);
    if (fx === undefined || !cpu.restoreFpu(new DataView(fx.buffer, fx.byteOffset, FXSAVE_AREA_SIZE))) {
      queueSignal(k, t, { signo: SIGSEGV, code: SI_KERNEL, addr: 0, pid: 0 }, true);
      return r.get(RAX);
    }
  }
  t.iretOnReturn = true;
  // The syscall's "result" is the restored RAX.
  return r.get(RAX);
}
