import { EventQueue } from './event-queue.js';
import { Frame, FrameSink, Link, LinkConfig } from './link.js';

/** A frame a switch can forward: it names the port of its destination host. */
export interface Addressed {
  dst: string;
}

/**
 * An output-queued Ethernet switch: a frame that arrives is looked up by destination (a static
 * forwarding table: host name → port, as a learned MAC table would end up) and queued on the
 * output port's link, after a fixed forwarding latency. Each output port has its own byte-limited
 * queue, so many senders to one receiver congest that port only (incast), and drops are counted
 * per port.
 */
export class EthernetSwitch<T extends Addressed = Addressed> implements FrameSink<T> {
  private readonly ports: Array<Link<T>> = [];
  private readonly table = new Map<string, number>();
  /** Frames whose destination no port serves. */
  unknown = 0;

  constructor(
    private readonly events: EventQueue,
    /** Cut-through or store-and-forward latency of the switch fabric, picoseconds. */
    private readonly forwardingPs: number,
  ) {}

  /** Adds a port whose output link leads to `host`; returns the port number. */
  attach(host: string, link: LinkConfig, sink: FrameSink<T>): number {
    if (this.table.has(host)) throw new RangeError(`host '${host}' is already attached to port ${this.table.get(host)}`);
    this.ports.push(new Link<T>(this.events, link, sink));
    this.table.set(host, this.ports.length - 1);
    return this.ports.length - 1;
  }

  port(index: number): Link<T> {
    const p = this.ports[index];
    if (p === undefined) throw new RangeError(`no port ${index}`);
    return p;
  }

  deliver(frame: Frame<T>): void {
    const port = this.table.get(frame.payload.dst);
    if (port === undefined) {
      this.unknown++;
      return;
    }
    this.events.after(this.forwardingPs, () => this.ports[port]!.send(frame));
  }
}
