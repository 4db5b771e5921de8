import type { TcpSocket } from '../net/tcp-socket.js';
import { EINPROGRESS } from '../linux/linux-abi.js';
import { TCP_ESTABLISHED } from '../net/tcp-state.js';
import type { Cluster } from './cluster.js';
import { ClosedLoopClients } from './load-generators.js';
import type { ModelledHost } from './modelled-host.js';

/** Connections a client opens at a time once the first one has resolved ARP. */
const OPEN_BATCH = 64;

export interface EchoClientOptions {
  /** The server's IPv4 address and port. */
  readonly address: number;
  readonly port: number;
  readonly connections: number;
  /**
   * Client threads, each with one message in flight that cycles over its share of the
   * connections (thread t owns connections t, t + threads, …), as the IX paper's Fig. 4 clients
   * do; default: one per connection. Only with connections kept open.
   */
  readonly clientThreads?: number;
  /** Messages per thread (with one thread per connection: per connection slot), each echoed before the next is sent. */
  readonly roundTrips: number;
  readonly messageBytes: number;
  /** Round trips on one connection before the slot resets it and opens another (Fig. 3's n; default: kept). */
  readonly perConnection?: number;
  /** Round trips (of all threads) before the measurement starts, to warm what the first visit to each connection would fill (default 0). */
  readonly warmupRoundTrips?: number;
}

interface Slot {
  sock: TcpSocket | undefined;
  sent: number;
  got: number;
  reply: (() => void) | undefined;
  pending: boolean;
}

/**
 * The client side of the echo experiment (IX Fig. 3) on a modelled host, whatever the server:
 * ClosedLoopClients whose every round trip sends one message on its slot's TCP connection and
 * waits until it has come back whole. A slot runs `perConnection` round trips on a connection, then
 * resets it (as the paper's clients do) and opens the next. Throughput is taken over the first 90 %
 * of the round trips: the last connections to finish run alone, and one straggler would otherwise
 * set the figure; `snapshot` (the server's counters) is read when that mark is passed.
 */
export class EchoClients {
  /** Connections opened so far. */
  opened = 0;
  readonly loop: ClosedLoopClients;
  /** The round trip at which throughput is taken (90 % of all), when it came, and the server's counters then. */
  readonly mark: number;
  markAt = NaN;
  atMark: Record<string, number> | undefined;
  /** Round trips before the measured window, when it began, and the server's counters then (undefined: at `start`, read by the caller). */
  readonly warm: number;
  atWarm: Record<string, number> | undefined;
  private startAt = NaN;
  private readonly slots: Slot[] = [];
  private readonly msg: Uint8Array;
  private readonly buf: Uint8Array;
  private readonly n: number;
  private readonly threads: number;
  /** Each thread's next connection, as an index into its share. */
  private readonly turn: number[];
  private unopened = 0;

  constructor(private readonly cluster: Cluster, private readonly host: ModelledHost, private readonly o: EchoClientOptions, snapshot: () => Record<string, number>) {
    this.msg = new Uint8Array(o.messageBytes);
    this.buf = new Uint8Array(Math.max(o.messageBytes, 2048));
    this.n = o.perConnection ?? Infinity;
    const threads = o.clientThreads ?? o.connections;
    if (!Number.isInteger(threads) || threads < 1 || threads > o.connections) throw new RangeError(`echo clients: threads must be 1..connections, got ${threads}`);
    if (threads !== o.connections && Number.isFinite(this.n)) throw new RangeError('echo clients: threads that cycle over connections keep them open (no perConnection)');
    this.threads = threads;
    this.turn = new Array<number>(threads).fill(0);
    for (let i = 0; i < o.connections; i++) this.slots.push({ sock: undefined, sent: 0, got: 0, reply: undefined, pending: false });
    this.mark = Math.ceil(threads * o.roundTrips * 0.9);
    this.warm = o.warmupRoundTrips ?? 0;
    if (!(Number.isInteger(this.warm) && this.warm >= 0 && this.warm < this.mark)) throw new RangeError(`echo clients: warm-up must be 0..${this.mark - 1} round trips, got ${this.warm}`);
    let replies = 0;
    this.loop = new ClosedLoopClients(cluster.events, threads, o.roundTrips, (c, reply) => {
      const share = Math.floor((o.connections - 1 - c) / threads) + 1;
      const slot = this.slots[c + threads * this.turn[c]!]!;
      this.turn[c] = this.turn[c]! + 1 === share ? 0 : this.turn[c]! + 1;
      slot.reply = () => {
        if (++replies === this.warm) {
          this.startAt = cluster.events.now;
          this.atWarm = snapshot();
        }
        if (replies === this.mark) {
          this.markAt = cluster.events.now;
          this.atMark = snapshot();
        }
        reply();
      };
      if (slot.sock !== undefined && slot.sent >= this.n) {
        slot.sock.abort();
        slot.sock = undefined;
      }
      if (slot.sock === undefined) {
        this.open(slot);
        slot.pending = true;
        return;
      }
      this.sendOn(slot);
    });
  }

  /** Connections in the whole run: one per slot if kept, else one per `perConnection` round trips. */
  get plannedConnections(): number {
    return this.o.connections * (Number.isFinite(this.n) ? Math.ceil(this.o.roundTrips / this.n) : 1);
  }

  /** Whether connections stay open for the whole run (then `openAll` opens them before the loop). */
  get kept(): boolean {
    return !Number.isFinite(this.n);
  }

  openAll(): void {
    this.openSome(this.slots.length);
  }

  /** Opens the next `count` connections not opened yet (a client paces its SYNs this way). */
  openSome(count: number): void {
    const end = Math.min(this.slots.length, this.unopened + count);
    for (; this.unopened < end; this.unopened++) this.open(this.slots[this.unopened]!);
  }

  /**
   * Opens every connection before the loop: the first alone, so that ARP is resolved before the
   * other SYNs (a burst to an unresolved neighbour overflows its queue, unres_qlen 101, and the
   * rest wait a second for SYN retransmission), then OPEN_BATCH at a time, each batch established
   * before the next, as a client paces its connects. Whether they are is looked at every
   * `stepPs` of simulated time (a polling server is costly to simulate while it waits, so the IX
   * experiments look more often), for at most 200 ms a batch.
   */
  openPaced(what: string, stepPs = 1e9): void {
    const tries = Math.ceil(200e9 / stepPs);
    for (let batch = 1; this.toOpen > 0; batch = OPEN_BATCH) {
      this.openSome(batch);
      for (let t = 0; t < tries && !this.established; t++) this.cluster.run(this.cluster.events.now + stepPs);
      if (!this.established) throw new Error(`${what}: not every connection was established`);
    }
  }

  /** Connections not opened yet by openAll / openSome. */
  get toOpen(): number {
    return this.slots.length - this.unopened;
  }

  /** Whether every connection opened so far is established. */
  get established(): boolean {
    return this.slots.every((x) => x.sock === undefined || x.sock.state === TCP_ESTABLISHED);
  }

  /** Starts the closed loop now (cluster time). */
  start(): void {
    this.startAt = this.cluster.events.now;
    this.loop.start();
  }

  get finished(): boolean {
    return !Number.isNaN(this.loop.finishedAt);
  }

  /** Round trips per second until the mark. */
  get messagesPerSecond(): number {
    return (this.mark - this.warm) / ((this.markAt - this.startAt) / 1e12);
  }

  abortAll(): void {
    for (const slot of this.slots) slot.sock?.abort();
  }

  /**
   * Resets every connection OPEN_BATCH at a time, `stepPs` of simulated time apart: a reset is
   * not retransmitted, so thousands at once would overflow a server's receive ring and leave the
   * dropped ones open there for good.
   */
  abortPaced(stepPs: number): void {
    for (let i = 0; i < this.slots.length; i += OPEN_BATCH) {
      for (let k = i; k < Math.min(this.slots.length, i + OPEN_BATCH); k++) this.slots[k]!.sock?.abort();
      this.cluster.run(this.cluster.events.now + stepPs);
    }
  }

  private sendOn(slot: Slot): void {
    slot.pending = false;
    slot.sent++;
    const r = slot.sock!.send(this.msg);
    if (r !== this.o.messageBytes) throw new Error(`echo client: send returned ${r}`);
  }

  private open(slot: Slot): void {
    const s = this.host.stack.tcpSocket();
    s.noDelay = true;
    slot.sock = s;
    slot.sent = 0;
    slot.got = 0;
    this.opened++;
    s.onWake = () => {
      if (slot.sock !== s) return;
      if (slot.pending && s.state === TCP_ESTABLISHED) this.sendOn(slot);
      for (;;) {
        const k = s.recv(this.buf);
        if (k <= 0) break;
        slot.got += k;
      }
      if (slot.got >= this.o.messageBytes && slot.reply !== undefined) {
        slot.got -= this.o.messageBytes;
        const reply = slot.reply;
        slot.reply = undefined;
        reply();
      }
    };
    const r = s.connect(this.o.address, this.o.port);
    if (r !== -EINPROGRESS) throw new Error(`echo client: connect returned ${r}`);
  }
}
