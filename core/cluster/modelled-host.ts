import { injectable } from 'inversify';
import { ETH_HEADER, wireBytes } from '../vtx/devices/ethernet-wire.js';
import type { NetDevice, NetDeviceReceiver } from '../net/net-device.js';
import { NetStack } from '../net/net-stack.js';
import { ClusterNetTimers } from './cluster-net-timers.js';
import type { EventQueue, Picoseconds } from './event-queue.js';

/**
 * A modelled host's network port: its transmitter serialises frames back to back at the line
 * rate (as the 82599's MAC does) and hands each to `onTransmit` when its last bit has left;
 * frames from the wire enter with `deliver`. It costs no CPU time: a modelled host has none.
 */
@injectable()
export class HostPort implements NetDevice {
  readonly mtu = 1500;
  private receiver: NetDeviceReceiver | undefined;
  private busyUntil: Picoseconds = 0;
  private readonly psPerByte: number;
  /** Called with a frame when its last bit has left the port. */
  onTransmit: ((frame: Uint8Array, endPs: Picoseconds) => void) | undefined;
  txFrames = 0;
  rxFrames = 0;

  constructor(readonly name: string, readonly mac: Uint8Array, private readonly events: EventQueue, bitsPerSecond = 10e9) {
    this.psPerByte = (8 * 1e12) / bitsPerSecond;
  }

  bind(receiver: NetDeviceReceiver): void {
    this.receiver = receiver;
  }

  transmit(frame: Uint8Array): boolean {
    const start = Math.max(this.events.now, this.busyUntil);
    this.busyUntil = start + Math.round(wireBytes(frame.length - ETH_HEADER) * this.psPerByte);
    this.txFrames++;
    this.onTransmit?.(frame, this.busyUntil);
    return true;
  }

  /** A frame from the wire, at the cluster's present. */
  deliver(frame: Uint8Array): void {
    this.rxFrames++;
    this.receiver?.receive(this, frame);
  }
}

/**
 * A client host of the experiments, modelled rather than emulated (as the IX paper's load
 * generators are there to load the server, not to be measured): its own TCP/IP stack on the
 * cluster's clock behind one port. Its protocol work takes no time, so what a measurement shows
 * is the server's and the wire's.
 */
@injectable()
export class ModelledHost {
  readonly stack: NetStack;
  readonly port: HostPort;

  constructor(readonly name: string, events: EventQueue, mac: Uint8Array, address: number, prefixLength: number, secret: number, bitsPerSecond?: number) {
    this.stack = new NetStack(new ClusterNetTimers(events), { secret });
    this.port = new HostPort(name, mac, events, bitsPerSecond);
    this.stack.attach(this.port, { address, prefixLength });
    this.port.bind(this.stack);
  }
}
