import { SeededRandom } from '../../core/cluster/load-generators.js';
import { ManualNetClock } from '../../core/net/manual-net-clock.js';
import type { NetDevice, NetDeviceReceiver } from '../../core/net/net-device.js';
import { NetStack } from '../../core/net/net-stack.js';
import { ipFromString } from '../../core/net/ipv4.js';

/** How the in-memory wire mistreats frames (probabilities per frame, from a seeded generator). */
export interface WireOptions {
  delayNs?: number;
  loss?: number;
  duplicate?: number;
  /** Probability that a frame is held back by `reorderDelayNs` (so later frames overtake it). */
  reorder?: number;
  reorderDelayNs?: number;
  seed?: number;
  mtu?: number;
}

export interface CapturedFrame {
  readonly from: 'a' | 'b';
  readonly atNs: number;
  readonly frame: Uint8Array;
}

/** One end of the wire: a NetDevice whose frames reach the other end on the clock. */
export class WireEnd implements NetDevice {
  receiver: NetDeviceReceiver | null = null;
  peer!: WireEnd;
  /** Frames from this end are dropped while true (a cable pulled out in one direction). */
  cut = false;
  /** Refuse transmits (a full ring) while true. */
  full = false;

  constructor(readonly name: string, readonly mac: Uint8Array, readonly mtu: number, private readonly wire: TestWire,
    readonly side: 'a' | 'b') {}

  transmit(frame: Uint8Array): boolean {
    if (this.full) return false;
    this.wire.carry(this, frame);
    return true;
  }
}

/**
 * Two NetDevices joined by a wire with a fixed delay and, optionally, loss, duplication and
 * reordering drawn from a seeded generator: the same seed mistreats the same frames.
 */
export class TestWire {
  readonly a: WireEnd;
  readonly b: WireEnd;
  readonly captured: CapturedFrame[] = [];
  capture = false;
  /** A hook that may drop a frame (return true) before the random faults apply. */
  filter: ((frame: Uint8Array, from: 'a' | 'b') => boolean) | null = null;
  dropped = 0;
  private readonly rng: SeededRandom;

  constructor(readonly clock: ManualNetClock, readonly options: WireOptions = {}) {
    const mtu = options.mtu ?? 1500;
    this.a = new WireEnd('eth0', new Uint8Array([0x02, 0, 0, 0, 0, 0x0a]), mtu, this, 'a');
    this.b = new WireEnd('eth0', new Uint8Array([0x02, 0, 0, 0, 0, 0x0b]), mtu, this, 'b');
    this.a.peer = this.b;
    this.b.peer = this.a;
    this.rng = new SeededRandom(options.seed ?? 1);
  }

  carry(from: WireEnd, frame: Uint8Array): void {
    const now = this.clock.now();
    if (this.capture) this.captured.push({ from: from.side, atNs: now, frame: frame.slice() });
    if (from.cut || (this.filter !== null && this.filter(frame, from.side))) {
      this.dropped++;
      return;
    }
    const o = this.options;
    if (o.loss !== undefined && this.rng.next() < o.loss) {
      this.dropped++;
      return;
    }
    const delay = o.delayNs ?? 1_000_000;
    const to = from.peer;
    let at = now + delay;
    if (o.reorder !== undefined && this.rng.next() < o.reorder) at += o.reorderDelayNs ?? delay;
    this.clock.schedule(at, () => to.receiver?.receive(to, frame));
    if (o.duplicate !== undefined && this.rng.next() < o.duplicate) {
      const copy = frame.slice();
      this.clock.schedule(at + 1, () => to.receiver?.receive(to, copy));
    }
  }
}

export const A_ADDR = ipFromString('10.0.0.1');
export const B_ADDR = ipFromString('10.0.0.2');

export interface StackPair {
  clock: ManualNetClock;
  wire: TestWire;
  a: NetStack;
  b: NetStack;
}

/** Two hosts, 10.0.0.1 (a) and 10.0.0.2 (b), on a /24 joined by a TestWire. */
export function stackPair(options: WireOptions = {}): StackPair {
  const clock = new ManualNetClock();
  const wire = new TestWire(clock, options);
  const a = new NetStack(clock, { secret: 0xa11ce });
  const b = new NetStack(clock, { secret: 0xb0b });
  a.attach(wire.a, { address: A_ADDR, prefixLength: 24 });
  b.attach(wire.b, { address: B_ADDR, prefixLength: 24 });
  wire.a.receiver = a;
  wire.b.receiver = b;
  return { clock, wire, a, b };
}

/** Replaces b with a fresh stack on the same wire end (the host rebooted: no connections, no ARP cache). */
export function rebootB(pair: StackPair): NetStack {
  const b = new NetStack(pair.clock, { secret: 0xb0b2 });
  b.attach(pair.wire.b, { address: B_ADDR, prefixLength: 24 });
  pair.wire.b.receiver = b;
  pair.b = b;
  return b;
}
