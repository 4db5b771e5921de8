import { injectable } from 'inversify';
import type { NetTimers } from '../net/net-timers.js';
import type { EventQueue } from './event-queue.js';

/**
 * The TCP/IP stack's clock on a modelled host (one without an emulated CPU): the cluster's
 * clock in nanoseconds, and timers that are events of its queue. A cancelled timer stays queued
 * and does nothing when its time comes (the queue has no removal).
 */
@injectable()
export class ClusterNetTimers implements NetTimers {
  private nextHandle = 1;
  private readonly live = new Set<number>();

  constructor(private readonly events: EventQueue) {}

  now(): number {
    return Math.floor(this.events.now / 1000);
  }

  schedule(atNs: number, fire: () => void): number {
    const handle = this.nextHandle++;
    this.live.add(handle);
    this.events.at(Math.max(atNs * 1000, this.events.now), () => {
      if (this.live.delete(handle)) fire();
    });
    return handle;
  }

  cancel(handle: number): void {
    this.live.delete(handle);
  }
}
