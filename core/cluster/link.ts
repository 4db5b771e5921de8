import { EventQueue, Picoseconds, picoseconds } from './event-queue.js';

/** What travels: a frame of `wire` bytes on the wire (preamble and gap included) and its contents. */
export interface Frame<T = unknown> {
  wire: number;
  payload: T;
}

/** Something that takes delivered frames: a switch port, a NIC, a load generator. */
export interface FrameSink<T = unknown> {
  deliver(frame: Frame<T>): void;
}

export interface LinkConfig {
  /** Bits per second (10e9 for 10 GbE). */
  bitsPerSecond: number;
  /** One-way propagation delay in seconds (a few metres of fibre or copper: ~10–50 ns). */
  propagationSeconds: number;
  /** Bytes that may wait to be serialised; a frame that would exceed it is dropped (drop-tail). */
  queueBytes?: number;
}

/**
 * One direction of a point-to-point Ethernet link. Frames are serialised one after another at the
 * line rate (a frame waits while the one before it is on the wire), then arrive at the far end
 * after the propagation delay. The transmit queue has a byte limit; beyond it frames are dropped
 * and counted, as a NIC's or a switch port's would be.
 */
export class Link<T = unknown> {
  private busyUntil: Picoseconds = 0;
  private readonly psPerByte: number;
  private readonly propagation: Picoseconds;
  private readonly queueBytes: number;
  /** Frames and bytes delivered, frames dropped at the queue. */
  frames = 0;
  bytes = 0;
  dropped = 0;

  constructor(
    private readonly events: EventQueue,
    config: LinkConfig,
    private readonly sink: FrameSink<T>,
  ) {
    if (!(config.bitsPerSecond > 0)) throw new RangeError(`link speed must be positive, got ${config.bitsPerSecond}`);
    if (!(config.propagationSeconds >= 0)) throw new RangeError(`propagation delay must be ≥ 0, got ${config.propagationSeconds}`);
    this.psPerByte = (8 * 1e12) / config.bitsPerSecond;
    this.propagation = picoseconds(config.propagationSeconds);
    this.queueBytes = config.queueBytes ?? Infinity;
  }

  /** Serialisation time of `wire` bytes, in whole picoseconds. */
  serialisation(wire: number): Picoseconds {
    return Math.round(wire * this.psPerByte);
  }

  /** Bytes queued behind the wire now (what is still to be serialised). */
  backlogBytes(): number {
    const waiting = this.busyUntil - this.events.now;
    return waiting > 0 ? waiting / this.psPerByte : 0;
  }

  /** Queues a frame for transmission now; returns false when the queue was full and it was dropped. */
  send(frame: Frame<T>): boolean {
    if (this.backlogBytes() + frame.wire > this.queueBytes) {
      this.dropped++;
      return false;
    }
    const start = Math.max(this.events.now, this.busyUntil);
    this.busyUntil = start + this.serialisation(frame.wire);
    this.events.at(this.busyUntil + this.propagation, () => {
      this.frames++;
      this.bytes += frame.wire;
      this.sink.deliver(frame);
    });
    return true;
  }
}
