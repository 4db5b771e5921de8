import type { NetCounters } from './net-counters.js';
import type { NetTimers } from './net-timers.js';

/**
 * One timer of a connection (retransmission, delayed ACK, TIME_WAIT …), armed lazily as Linux's
 * sk_reset_timer is: moving the deadline later — which every ACK does to the retransmission
 * timer — changes a field, and when the underlying timer fires early it is simply set again for
 * the new deadline. Only an earlier deadline cancels and reschedules.
 */
export class SocketTimer {
  /** When the timer expires (valid while `armed`). */
  deadline = 0;
  armed = false;
  private handle = 0;
  private scheduledAt = 0;
  private readonly fire: () => void;

  constructor(private readonly timers: NetTimers, private readonly counters: NetCounters,
    private readonly onExpire: () => void) {
    this.fire = () => this.expire();
  }

  /** Arms (or re-arms) the timer to expire at `atNs`. */
  set(atNs: number): void {
    this.deadline = atNs;
    this.armed = true;
    if (this.handle !== 0) {
      if (this.scheduledAt <= atNs) return;
      this.timers.cancel(this.handle);
    }
    this.scheduledAt = atNs;
    this.counters.Work.TimersArmed++;
    this.handle = this.timers.schedule(atNs, this.fire);
  }

  clear(): void {
    this.armed = false;
    if (this.handle !== 0) {
      this.timers.cancel(this.handle);
      this.handle = 0;
    }
  }

  private expire(): void {
    this.handle = 0;
    if (!this.armed) return;
    if (this.timers.now() < this.deadline) {
      this.scheduledAt = this.deadline;
      this.handle = this.timers.schedule(this.deadline, this.fire);
      return;
    }
    this.armed = false;
    this.counters.Work.TimersFired++;
    this.onExpire();
  }
}
