import { LOCAL_TIMER_VECTOR, EFAULT, EINVAL, ITIMER_REAL, ITIMERVAL_SIZE, NR, SIGALRM, SI_KERNEL } from './linux-abi.js';
import { cyclesToNs, nsToCycles } from './clock.js';
import type { Kernel } from './kernel.js';
import { queueSignal } from './signals.js';
import { SyscallContext, SyscallTable } from './syscall-table.js';
import { Process, TaskState } from './task.js';

const US_PER_S = 1_000_000n;

/**
 * ITIMER_REAL (kernel/time/itimer.c): setitimer, getitimer and alarm. The timer counts simulated
 * time on the kernel's timer list; when it expires SIGALRM goes to the process (it_real_fn), and
 * a task of it that is spinning in user mode is kicked with the local timer interrupt, the way
 * signal_wake_up's IPI makes a running task look at its pending signals. ITIMER_VIRTUAL and
 * ITIMER_PROF (per-process CPU time) are not modelled: EINVAL.
 */
export function registerItimerSyscalls(t: SyscallTable): void {
  t.add(NR.setitimer, 'setitimer', 3, (ctx, which, nw, old) => {
    if ((which | 0) !== ITIMER_REAL) return -EINVAL;
    let value = 0n;
    let interval = 0n;
    if (nw !== 0) {
      const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, nw, ITIMERVAL_SIZE);
      if (b === undefined) return -EFAULT;
      const v = new DataView(b.buffer);
      const iSec = v.getBigInt64(0, true), iUsec = v.getBigInt64(8, true);
      const vSec = v.getBigInt64(16, true), vUsec = v.getBigInt64(24, true);
      // timeval_valid: seconds not negative, microseconds within [0, 10^6).
      if (iSec < 0n || vSec < 0n || iUsec < 0n || iUsec >= US_PER_S || vUsec < 0n || vUsec >= US_PER_S) return -EINVAL;
      interval = (iSec * US_PER_S + iUsec) * 1000n;
      value = (vSec * US_PER_S + vUsec) * 1000n;
    }
    if (old !== 0 && !putItimer(ctx, old)) return -EFAULT;
    if (nw !== 0) armRealTimer(ctx.kernel, ctx.task.process, ctx.cpu.cycles, value, interval);
    return 0;
  });
  t.add(NR.getitimer, 'getitimer', 2, (ctx, which, cur) => {
    if ((which | 0) !== ITIMER_REAL) return -EINVAL;
    return putItimer(ctx, cur) ? 0 : -EFAULT;
  });
  t.add(NR.alarm, 'alarm', 1, (ctx, seconds) => {
    const [, remaining] = realTimerNs(ctx);
    armRealTimer(ctx.kernel, ctx.task.process, ctx.cpu.cycles, BigInt(seconds >>> 0) * 1_000_000_000n, 0n);
    // alarm_setitimer: the old value in seconds, rounded to nearest, and at least 1 if it was armed.
    if (remaining === 0n) return 0;
    const us = remaining / 1000n;
    const sec = Number(us / US_PER_S) + (us % US_PER_S >= 500_000n ? 1 : 0);
    return sec === 0 ? 1 : sec;
  });
}

/** [interval, remaining] of the process's ITIMER_REAL in nanoseconds (0, 0 when disarmed). */
function realTimerNs(ctx: SyscallContext): [bigint, bigint] {
  const rt = ctx.task.process.realTimer;
  if (rt === undefined) return [0n, 0n];
  const left = Math.max(rt.timer.deadline - ctx.cpu.cycles, 1); // an armed timer never reads as 0
  return [cyclesToNs(ctx.kernel, rt.interval), cyclesToNs(ctx.kernel, left) || 1n];
}

function putItimer(ctx: SyscallContext, va: number): boolean {
  const [interval, value] = realTimerNs(ctx);
  const b = new Uint8Array(ITIMERVAL_SIZE);
  const v = new DataView(b.buffer);
  // Rounded up to whole microseconds, as ns_to_timeval does for a timer that has not expired.
  const iu = (interval + 999n) / 1000n;
  const vu = (value + 999n) / 1000n;
  v.setBigInt64(0, iu / US_PER_S, true);
  v.setBigInt64(8, iu % US_PER_S, true);
  v.setBigInt64(16, vu / US_PER_S, true);
  v.setBigInt64(24, vu % US_PER_S, true);
  return ctx.kernel.copyToUser(ctx.cpu, ctx.task, va, b);
}

/** (Re)arms or, with value 0, disarms ITIMER_REAL of `p`, counting from the clock `now`. */
export function armRealTimer(k: Kernel, p: Process, now: number, valueNs: bigint, intervalNs: bigint): void {
  disarmRealTimer(k, p);
  if (valueNs === 0n) return;
  // A timer shorter than a cycle still takes one to expire; a reload interval is at least a
  // microsecond, so that a tiny interval cannot make the timer list fire without end.
  const interval = intervalNs === 0n ? 0 : Math.max(nsToCycles(k, 1000n), nsToCycles(k, intervalNs));
  const fire = (): void => {
    const rt = p.realTimer;
    p.realTimer = undefined;
    if (p.zombie) return;
    if (rt !== undefined && rt.interval > 0) p.realTimer = { timer: k.addTimer(rt.timer.deadline + rt.interval, fire), interval: rt.interval };
    const t = p.threads.find((x) => x.state !== TaskState.Dead && !x.signalBlocked(SIGALRM)) ?? p.threads[0];
    if (t === undefined) return;
    queueSignal(k, t, { signo: SIGALRM, code: SI_KERNEL, addr: 0, pid: 0 }, false);
    // A task running in user mode sees the signal at its next entry to the kernel: the tick.
    for (const th of p.threads) {
      if (th.state === TaskState.Running && k.current[th.cpu] === th) k.machine.cpus[th.cpu]!.interrupt(LOCAL_TIMER_VECTOR);
    }
  };
  p.realTimer = { timer: k.addTimer(now + Math.max(1, nsToCycles(k, valueNs)), fire), interval };
}

export function disarmRealTimer(k: Kernel, p: Process): void {
  if (p.realTimer === undefined) return;
  k.cancelTimer(p.realTimer.timer);
  p.realTimer = undefined;
}
