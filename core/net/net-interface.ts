import { ArpCache } from './arp-cache.js';
import { macEquals } from './ethernet.js';
import type { NetCounters } from './net-counters.js';
import type { NetDevice } from './net-device.js';
import type { NetTimers } from './net-timers.js';
import { prefixMask } from './ipv4.js';

/** An interface's IPv4 configuration (`ip addr add ADDRESS/PREFIX dev NAME`, `ip route add default via GATEWAY`). */
export interface NetInterfaceConfig {
  readonly address: number;
  readonly prefixLength: number;
  /** The default route's next hop (0: none; only the interface's own subnet is reachable). */
  readonly gateway?: number;
}

/** net.core.netdev_max_backlog is for input; the output queue's length is the device's txqueuelen. */
export const TX_QUEUE_LEN = 1000;

/**
 * One device with its address, its neighbour table and its output queue (the qdisc in front of
 * the driver): a frame the device cannot take waits here, in order, until `transmitReady`.
 */
export class NetInterface {
  readonly arp: ArpCache;
  readonly mask: number;
  readonly broadcast: number;
  readonly gateway: number;
  private readonly txQueue: Uint8Array[] = [];
  private txHead = 0;

  constructor(readonly device: NetDevice, readonly address: number, readonly prefixLength: number,
    gateway: number, readonly timers: NetTimers, readonly counters: NetCounters) {
    this.mask = prefixMask(prefixLength);
    this.broadcast = (address | ~this.mask) >>> 0;
    this.gateway = gateway >>> 0;
    this.arp = new ArpCache(this);
  }

  get mtu(): number {
    return this.device.mtu;
  }

  get mac(): Uint8Array {
    return this.device.mac;
  }

  /** Whether `dst` is on this interface's subnet. */
  onLink(dst: number): boolean {
    return ((dst ^ this.address) & this.mask) === 0;
  }

  /** Whether a frame's destination MAC is ours or broadcast. */
  acceptsMac(frame: Uint8Array): boolean {
    return macEquals(frame, 0, this.device.mac) || (frame[0]! & frame[1]! & frame[2]! & frame[3]! & frame[4]! & frame[5]!) === 0xff;
  }

  /** Hands a complete frame to the device, or queues it behind frames the device refused. */
  transmit(frame: Uint8Array): void {
    const c = this.counters.Link;
    if (this.txHead < this.txQueue.length) {
      if (this.txQueue.length - this.txHead >= TX_QUEUE_LEN) {
        c.TxDropped++;
        return;
      }
      this.txQueue.push(frame);
      c.TxQueued++;
      return;
    }
    const len = frame.length;
    if (this.device.transmit(frame)) {
      c.TxFrames++;
      c.TxBytes += len;
    } else {
      this.txQueue.push(frame);
      c.TxQueued++;
    }
  }

  /** The device has room again: send what waited. */
  drain(): void {
    const c = this.counters.Link;
    while (this.txHead < this.txQueue.length) {
      const frame = this.txQueue[this.txHead]!;
      const len = frame.length;
      if (!this.device.transmit(frame)) break;
      this.txQueue[this.txHead++] = EMPTY;
      c.TxFrames++;
      c.TxBytes += len;
    }
    if (this.txHead === this.txQueue.length) {
      this.txQueue.length = 0;
      this.txHead = 0;
    } else if (this.txHead > 64 && this.txHead * 2 > this.txQueue.length) {
      this.txQueue.splice(0, this.txHead);
      this.txHead = 0;
    }
  }

  /** Frames waiting for the device. */
  get queued(): number {
    return this.txQueue.length - this.txHead;
  }
}

const EMPTY = new Uint8Array(0);
