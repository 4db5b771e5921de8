import { injectable } from 'inversify';
import type { NetDevice, NetDeviceReceiver } from '../../net/net-device.js';
import type { NetTimers } from '../../net/net-timers.js';

/**
 * The loopback interface (drivers/net/loopback.c): a frame handed to it comes back as received,
 * as loopback_xmit passes the skb to netif_rx. It is delivered from the clock, never from inside
 * `transmit` (a NetDevice must not call `receive` there), at the time it was sent: lo has no wire.
 * Linux's lo has an MTU of 65536; the stack takes at most 9000 (its jumbo-frame bound), which
 * changes only the segment size of bulk transfers, not small messages.
 */
@injectable()
export class LoopbackDevice implements NetDevice {
  readonly name = 'lo';
  readonly mac = new Uint8Array(6);
  readonly mtu = 9000;
  private receiver: NetDeviceReceiver | undefined;
  /** Frames looped back (the `lo` row of /proc/net/dev). */
  frames = 0;

  constructor(private readonly timers: NetTimers) {}

  bind(receiver: NetDeviceReceiver): void {
    this.receiver = receiver;
  }

  transmit(frame: Uint8Array): boolean {
    const r = this.receiver;
    if (r === undefined) return true;
    this.frames++;
    // ARP on lo resolves to lo's own (all-zero) station address, which the receive path accepts.
    frame.fill(0, 0, 6);
    this.timers.schedule(this.timers.now(), () => r.receive(this, frame));
    return true;
  }
}
