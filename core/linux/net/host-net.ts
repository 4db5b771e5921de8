import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';

/** Where a TCP endpoint is, as the host names it. */
export interface HostAddress {
  readonly host: string;
  readonly port: number;
}

/** What the worker (host-net-worker.mjs) reports. Ids > 0 are the kernel's; < 0 the worker's (accepted). */
export type HostNetEvent =
  | { ev: 'listened'; id: number; code: string; port: number }
  | { ev: 'accept'; id: number; conn: number; local: HostAddress; remote: HostAddress }
  | { ev: 'connected'; id: number; local: HostAddress; remote: HostAddress }
  | { ev: 'data'; id: number; data: Uint8Array }
  | { ev: 'written'; id: number; n: number }
  | { ev: 'end'; id: number }
  | { ev: 'error'; id: number; code: string }
  | { ev: 'closed'; id: number }
  | { ev: 'udpBound'; id: number; code: string; port: number }
  | { ev: 'datagram'; id: number; data: Uint8Array; from: HostAddress }
  | { ev: 'down'; id: 0 };

/** What the kernel asks of the host. */
export type HostNetCommand =
  | { op: 'listen'; id: number; host: string; port: number; backlog: number }
  | { op: 'closeServer'; id: number }
  | { op: 'connect'; id: number; host: string; port: number }
  | { op: 'write'; id: number; data: Uint8Array }
  | { op: 'end'; id: number }
  | { op: 'close'; id: number; reset: boolean }
  | { op: 'pause'; id: number }
  | { op: 'resume'; id: number }
  | { op: 'udpBind'; id: number; host: string; port: number }
  | { op: 'udpSend'; id: number; data: Uint8Array; host: string; port: number }
  | { op: 'udpClose'; id: number }
  | { op: 'shutdown'; id: 0; timeoutMs: number };

/** Receives the events of one host endpoint (a socket of the guest kernel). */
export interface HostNetEndpoint {
  onHostEvent(e: HostNetEvent): void;
}

/**
 * The host's network, as the simulator reaches it: real TCP sockets on loopback, owned by a
 * worker thread so the simulator itself stays synchronous. Between slices of simulated time the
 * kernel drains what arrived (`poll`); when every CPU is idle it sleeps in `wait` until the host
 * has something — as an idle machine waits in HLT for the NIC's interrupt. Started on the first
 * socket; `dispose` ends it.
 */
export class HostNet {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private signal: Int32Array | undefined;
  private readonly endpoints = new Map<number, HostNetEndpoint>();
  private nextId = 1;
  /** Host sockets and servers still open (the host can still report something). */
  private open = 0;

  /** Whether something on the host may still report an event. */
  get active(): boolean {
    return this.open > 0;
  }

  /** A fresh id for an endpoint the kernel creates. */
  register(ep: HostNetEndpoint, id = this.nextId++): number {
    this.endpoints.set(id, ep);
    this.open++;
    return id;
  }

  /** The endpoint's host side is gone: no more events are expected for it. */
  unregister(id: number): void {
    if (this.endpoints.delete(id)) this.open--;
  }

  send(cmd: HostNetCommand): void {
    this.start();
    this.port!.postMessage(cmd, cmd.op === 'write' || cmd.op === 'udpSend' ? [cmd.data.buffer as ArrayBuffer] : undefined);
  }

  /** Delivers the events that have arrived; returns how many. */
  poll(): number {
    if (this.port === undefined) return 0;
    let n = 0;
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m === undefined) return n;
      n++;
      this.dispatch(m.message as HostNetEvent);
    }
  }

  /**
   * Sleeps until the host reports something or `ms` pass (real time); then delivers it. Returns
   * the number of events delivered.
   */
  wait(ms: number): number {
    if (this.signal === undefined) return 0;
    const seen = Atomics.load(this.signal, 0);
    const n = this.poll();
    if (n > 0) return n;
    Atomics.wait(this.signal, 0, seen, Number.isFinite(ms) ? Math.max(0, ms) : undefined);
    return this.poll();
  }

  /** Sends a command and waits (in real time) for the event that answers it. */
  request<E extends HostNetEvent['ev']>(cmd: HostNetCommand, answer: E, timeoutMs = 10_000): Extract<HostNetEvent, { ev: E }> | undefined {
    let got: Extract<HostNetEvent, { ev: E }> | undefined;
    const ep = this.endpoints.get(cmd.id);
    const catcher: HostNetEndpoint = {
      onHostEvent: (e) => {
        if (e.ev === answer && got === undefined) got = e as Extract<HostNetEvent, { ev: E }>;
        else ep?.onHostEvent(e);
      },
    };
    this.endpoints.set(cmd.id, catcher);
    try {
      this.send(cmd);
      const end = performance.now() + timeoutMs;
      while (got === undefined && performance.now() < end) this.wait(end - performance.now());
    } finally {
      if (this.endpoints.get(cmd.id) === catcher) {
        if (ep !== undefined) this.endpoints.set(cmd.id, ep);
        else this.endpoints.delete(cmd.id);
      }
    }
    return got;
  }

  /**
   * Ends the host side: what the guest wrote is flushed and its connections closed (waiting up to
   * `timeoutMs` of real time), then the worker stops.
   */
  dispose(timeoutMs = 2000): void {
    if (this.worker !== undefined) this.request({ op: 'shutdown', id: 0, timeoutMs }, 'down', timeoutMs + 1000);
    const w = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    if (w !== undefined) void w.terminate();
    this.endpoints.clear();
    this.open = 0;
  }

  private dispatch(e: HostNetEvent): void {
    // An accepted connection's events name the worker's id; the kernel adopts it on 'accept'.
    const ep = this.endpoints.get(e.id);
    if (ep !== undefined) ep.onHostEvent(e);
    // A connection that arrived as its listener was closed: nobody will accept it (a reset, as
    // inet_csk_listen_stop does to the connections left in the queue).
    else if (e.ev === 'accept') this.send({ op: 'close', id: e.conn, reset: true });
  }

  private start(): void {
    if (this.worker !== undefined) return;
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    this.worker = new Worker(new URL('./host-net-worker.mjs', import.meta.url), {
      workerData: { port: port2, signal },
      transferList: [port2],
    });
    // The worker must never keep dunesim alive on its own, nor take it down: a failure there
    // is reported, and the guest's sockets simply hear nothing more.
    this.worker.on('error', (e: Error) => process.stderr.write(`dunesim: host network: ${e.message}\n`));
    this.worker.unref();
    port1.unref();
    this.port = port1;
    this.signal = signal;
  }
}
