import { EventQueue, Picoseconds, picoseconds } from './event-queue.js';
import { LatencyHistogram } from './latency-histogram.js';

/**
 * Client hosts as the IX paper's experiments use them, modelled rather than emulated: their CPUs
 * are not the subject, so a client is a state machine that sends a request, waits for its reply,
 * and records the latency. `send(conn, reply)` is the way out to the network (a NIC, a link);
 * whatever carries the request must call `reply()` when the response is back at the client.
 */
export type SendRequest = (connection: number, reply: () => void) => void;

/**
 * The echo benchmark's clients (IX Fig. 3 and 4): `connections` connections, each sending
 * `roundTrips` messages one after another (the next when the previous reply arrives), then done.
 * Closed loop: the offered load adapts to how fast the server answers.
 */
export class ClosedLoopClients {
  readonly latency = new LatencyHistogram();
  completed = 0;
  private active = 0;
  private startedAt = 0;
  finishedAt: Picoseconds = NaN;

  constructor(
    private readonly events: EventQueue,
    readonly connections: number,
    readonly roundTrips: number,
    private readonly send: SendRequest,
  ) {
    if (!Number.isInteger(connections) || connections < 1) throw new RangeError(`connections must be ≥ 1, got ${connections}`);
    if (!Number.isInteger(roundTrips) || roundTrips < 1) throw new RangeError(`roundTrips must be ≥ 1, got ${roundTrips}`);
  }

  start(): void {
    this.startedAt = this.events.now;
    this.active = this.connections;
    for (let c = 0; c < this.connections; c++) this.issue(c, this.roundTrips);
  }

  private issue(c: number, left: number): void {
    const sent = this.events.now;
    this.send(c, () => {
      this.latency.record(this.events.now - sent);
      this.completed++;
      if (left > 1) this.issue(c, left - 1);
      else if (--this.active === 0) this.finishedAt = this.events.now;
    });
  }

  /** Round trips per second over the whole run. */
  throughput(): number {
    return this.completed / ((this.finishedAt - this.startedAt) / 1e12);
  }
}

/**
 * xoshiro128** (Blackman and Vigna): four 32-bit words of state, seeded through splitmix32 so
 * that any integer seed gives a well-mixed start. Small, fast and the same on every platform:
 * a load generator with the same seed offers the same requests at the same times.
 */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const split = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = split();
    this.s1 = split();
    this.s2 = split();
    this.s3 = split();
  }

  /** A generator in a given state (known-answer tests). */
  static fromState(s0: number, s1: number, s2: number, s3: number): SeededRandom {
    const r = new SeededRandom(0);
    r.s0 = s0 | 0;
    r.s1 = s1 | 0;
    r.s2 = s2 | 0;
    r.s3 = s3 | 0;
    return r;
  }

  /** The next 32 random bits. */
  nextUint32(): number {
    const rotl = (v: number, k: number): number => (v << k) | (v >>> (32 - k));
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in (0, 1). */
  next(): number {
    return (this.nextUint32() + 0.5) / 2 ** 32;
  }

  /** An exponentially distributed value of mean `mean` (Poisson inter-arrival times). */
  exponential(mean: number): number {
    return -Math.log(this.next()) * mean;
  }
}

/**
 * mutilate-style open-loop load (IX Fig. 5): requests arrive as a Poisson process of `ratePerSecond`
 * spread over `connections` connections (round robin), whether or not earlier ones were answered, so
 * queueing at an overloaded server shows as latency. Stops issuing at `duration`.
 */
export class OpenLoopPoisson {
  readonly latency = new LatencyHistogram();
  issued = 0;
  completed = 0;
  private readonly rng: SeededRandom;
  private stopAt: Picoseconds = 0;

  constructor(
    private readonly events: EventQueue,
    readonly ratePerSecond: number,
    readonly connections: number,
    seed: number,
    private readonly send: SendRequest,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be positive, got ${ratePerSecond}`);
    if (!Number.isInteger(connections) || connections < 1) throw new RangeError(`connections must be ≥ 1, got ${connections}`);
    this.rng = new SeededRandom(seed);
  }

  start(durationSeconds: number): void {
    this.stopAt = this.events.now + picoseconds(durationSeconds);
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const gap = Math.max(1, Math.round(this.rng.exponential(1e12 / this.ratePerSecond)));
    if (this.events.now + gap > this.stopAt) return;
    this.events.after(gap, () => {
      const sent = this.events.now;
      const c = this.issued++ % this.connections;
      this.send(c, () => {
        this.latency.record(this.events.now - sent);
        this.completed++;
      });
      this.scheduleNext();
    });
  }
}
