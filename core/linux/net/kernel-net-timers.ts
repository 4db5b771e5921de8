import type { NetTimers } from '../../net/net-timers.js';
import type { Kernel, KernelTimer } from '../kernel.js';

/**
 * The TCP/IP stack's clock in the Linux model: time is the machine's cycle clock in nanoseconds,
 * and the stack's timers (retransmission, delayed ACK, TIME_WAIT) are kernel timers, which fire
 * when the CPUs' clocks reach them or, with every CPU idle, when time jumps to them — what the
 * timer softirq does for tcp_write_timer and tcp_delack_timer. `now` never goes backwards: a CPU
 * whose clock lags another's reads the latest time the stack has seen.
 */
export class KernelNetTimers implements NetTimers {
  private last = 0;
  private nextHandle = 1;
  private readonly pending = new Map<number, KernelTimer>();

  constructor(private readonly kernel: Kernel) {}

  now(): number {
    const m = this.kernel.machine;
    let cycles: number;
    if (m.running !== undefined) cycles = m.running.cycles;
    else {
      // Outside a CPU's run (a timer firing, a test): the slowest CPU at work, or the latest clock.
      let min = Infinity;
      let max = 0;
      for (const c of m.cpus) {
        if (!c.halted && c.cycles < min) min = c.cycles;
        if (c.cycles > max) max = c.cycles;
      }
      cycles = min === Infinity ? max : min;
    }
    const ns = Math.floor((cycles * 1e9) / m.costs.clockHz);
    if (ns > this.last) this.last = ns;
    return this.last;
  }

  schedule(atNs: number, fire: () => void): number {
    const handle = this.nextHandle++;
    const hz = this.kernel.machine.costs.clockHz;
    const deadline = Math.ceil((Math.max(atNs, this.now()) * hz) / 1e9);
    const t = this.kernel.addTimer(deadline, () => {
      this.pending.delete(handle);
      fire();
    }, true);
    this.pending.set(handle, t);
    return handle;
  }

  cancel(handle: number): void {
    const t = this.pending.get(handle);
    if (t === undefined) return;
    this.pending.delete(handle);
    this.kernel.cancelTimer(t);
  }
}
