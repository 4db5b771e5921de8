import {
  EADDRINUSE, EADDRNOTAVAIL, EACCES, EAGAIN, ECONNREFUSED, ECONNRESET, EFAULT, EHOSTUNREACH, EINVAL,
  EIO, ENETUNREACH, ENOTCONN, EPIPE, ETIMEDOUT, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP,
  POLLRDNORM, POLLWRNORM,
} from '../linux-abi.js';
import type { ReadSink } from '../vfs.js';
import type { HostNetEvent } from './host-net.js';
import { InetSocketFile } from './inet-socket-file.js';

/** An IPv4 endpoint: the address as a host-order 32-bit number, the port. */
export interface InetAddress {
  readonly addr: number;
  readonly port: number;
}

export const INADDR_ANY = 0;
export const INADDR_LOOPBACK = 0x7f00_0001;

/**
 * The TCP states the model tells apart (net/ipv4/tcp.c has more; these are the ones a program
 * can observe through the system calls).
 */
export type SocketState = 'unbound' | 'bound' | 'listening' | 'connecting' | 'connected' | 'closed';

/** Bytes the send queue may hold before write() waits (net.ipv4.tcp_wmem's default, 16 KiB … 4 MiB). */
export const SEND_BUFFER = 1 << 20;
/** Received bytes past which the host socket is paused (the receive window closes). */
const RECEIVE_HIGH = 1 << 20;
const RECEIVE_LOW = 256 << 10;

const HOST_ERRNO: Record<string, number> = {
  ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, EADDRINUSE, EADDRNOTAVAIL, EACCES, ENETUNREACH,
  EHOSTUNREACH, ECONNABORTED: ECONNRESET,
};

export function hostErrnoOf(code: string): number {
  return HOST_ERRNO[code] ?? EIO;
}

export function inetToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export function inetFromString(s: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m === null) return INADDR_LOOPBACK;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** Whether the address is on the loopback network (127.0.0.0/8), the only one the host model has. */
export function isLoopback(a: number): boolean {
  return a >>> 24 === 127;
}

/**
 * A TCP socket of the guest (struct socket + struct sock), backed by a real host socket on
 * loopback. The kernel side keeps what Linux keeps — the state, the receive queue, the accept
 * queue, the bytes not yet on the wire, a pending error — and the host does the TCP. Host
 * events arrive between slices of simulated time (HostNet.poll) and wake the sleepers.
 */
export class SocketFile extends InetSocketFile {
  state: SocketState = 'unbound';
  /** listen()'s backlog. */
  backlog = 0;
  readonly acceptQueue: SocketFile[] = [];
  private readonly rx: Uint8Array[] = [];
  private rxOffset = 0;
  private rxBytes = 0;
  /** The peer sent FIN (RCV_SHUTDOWN). */
  private rxEof = false;
  private rdShut = false;
  private wrShut = false;
  /** The host connection is gone (reset or fully closed). */
  private hostGone = false;
  private paused = false;
  /** A non-blocking connect is under way or done and not yet reported by a second connect(). */
  connectPending = false;
  /** Wake-ups for input (sk_data_ready, a FIN, a connection to accept) and for output (sk_write_space). */
  private readWakeups = 0;
  private writeWakeups = 0;
  /** Bytes written but not yet taken by the host socket (the send queue). */
  inflight = 0;

  /** Bytes a read could return now (FIONREAD). */
  override available(): number {
    return this.rxBytes;
  }

  override read(len: number, sink: ReadSink): number {
    return this.receive(len, sink, false);
  }

  /** recv(): what read() does, and MSG_PEEK leaves the data queued. */
  receive(len: number, sink: ReadSink, peek: boolean): number {
    if (this.state === 'listening') return -EINVAL;
    if (this.rxBytes > 0) {
      const n = Math.min(len, this.rxBytes);
      if (!sink(this.gather(n))) return -EFAULT;
      if (!peek) this.consume(n);
      return n;
    }
    if (this.softError !== 0) {
      const e = this.softError;
      this.softError = 0;
      return -e;
    }
    // A connection that ended (refused, reset) reads as end of file (tcp_recvmsg: SOCK_DONE).
    if (this.rxEof || this.rdShut || this.hostGone || this.state === 'closed') return 0;
    if (this.state === 'connecting') return -EAGAIN;
    if (this.state !== 'connected') return -ENOTCONN;
    return -EAGAIN;
  }

  override write(data: Uint8Array): number {
    if (this.softError !== 0 && this.state !== 'connecting') {
      const e = this.softError;
      this.softError = 0;
      return -e;
    }
    if (this.state === 'connecting') return -EAGAIN;
    if (this.state !== 'connected' || this.wrShut || this.hostGone) return -EPIPE;
    const room = SEND_BUFFER - this.inflight;
    if (room <= 0) return -EAGAIN;
    const n = Math.min(room, data.length);
    this.inflight += n;
    this.net.send({ op: 'write', id: this.hostId, data: data.slice(0, n) });
    return n;
  }

  override readReady(): boolean {
    if (this.state === 'listening') return this.acceptQueue.length > 0;
    return this.rxBytes > 0 || this.rxEof || this.rdShut || this.hostGone || this.softError !== 0 ||
      (this.state !== 'connected' && this.state !== 'connecting');
  }

  override writeReady(): boolean {
    if (this.state === 'connecting') return this.softError !== 0;
    return this.state !== 'connected' || this.wrShut || this.hostGone || this.softError !== 0 || this.inflight < SEND_BUFFER;
  }

  /** tcp_poll(). */
  override pollMask(): number {
    if (this.state === 'listening') return this.acceptQueue.length > 0 ? POLLIN | POLLRDNORM : 0;
    let mask = 0;
    if (this.softError !== 0) mask |= POLLERR;
    if (this.state === 'unbound' || this.state === 'bound' || this.state === 'closed' || this.hostGone || (this.rdShut && this.wrShut)) mask |= POLLHUP;
    if (this.rxEof || this.rdShut) mask |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (this.state === 'connecting') return mask;
    if (this.rxBytes > 0) mask |= POLLIN | POLLRDNORM;
    if (this.state !== 'connected' || this.wrShut || this.hostGone || this.inflight < SEND_BUFFER) mask |= POLLOUT | POLLWRNORM;
    return mask;
  }

  shutdown(read: boolean, write: boolean): number {
    if (this.state !== 'connected' && this.state !== 'connecting') return -ENOTCONN;
    if (read) this.rdShut = true;
    if (write && !this.wrShut) {
      this.wrShut = true;
      this.net.send({ op: 'end', id: this.hostId });
    }
    this.changed();
    return 0;
  }

  /** The host reported something for this endpoint. */
  onHostEvent(e: HostNetEvent): void {
    // Which wait queue the event wakes: input (data, FIN, a connection), output (space), or both.
    if (e.ev === 'written' || e.ev === 'connected') this.writeWakeups++;
    else if (e.ev === 'error' || e.ev === 'closed') {
      this.readWakeups++;
      this.writeWakeups++;
    } else this.readWakeups++;
    switch (e.ev) {
      case 'accept': {
        if (this.state !== 'listening' && this.state !== 'bound') {
          this.net.send({ op: 'close', id: e.conn, reset: true });
          break;
        }
        const s = new SocketFile(this.kernel);
        s.state = 'connected';
        s.local = { addr: inetFromString(e.local.host), port: e.local.port };
        s.peer = { addr: inetFromString(e.remote.host), port: e.remote.port };
        s.hostId = this.net.register(s, e.conn);
        this.acceptQueue.push(s);
        break;
      }
      case 'connected':
        if (this.state === 'connecting') {
          this.state = 'connected';
          this.local = { addr: inetFromString(e.local.host), port: e.local.port };
          this.peer = { addr: inetFromString(e.remote.host), port: e.remote.port };
        }
        break;
      case 'data':
        this.rx.push(e.data);
        this.rxBytes += e.data.length;
        if (this.rxBytes > RECEIVE_HIGH && !this.paused) {
          this.paused = true;
          this.net.send({ op: 'pause', id: this.hostId });
        }
        break;
      case 'written':
        this.inflight = Math.max(0, this.inflight - e.n);
        break;
      case 'end':
        this.rxEof = true;
        break;
      case 'error':
        this.softError = hostErrnoOf(e.code);
        if (this.state === 'connecting') this.state = 'closed';
        else this.hostGone = true;
        break;
      case 'closed':
        this.hostGone = true;
        this.rxEof = true;
        this.net.unregister(this.hostId);
        break;
      case 'listened':
        break;
    }
    this.changed();
  }

  override get readGeneration(): number {
    return this.readWakeups;
  }

  override get writeGeneration(): number {
    return this.writeWakeups;
  }

  /** Something a sleeper may wait for happened (sk_data_ready, sk_write_space, sk_state_change). */
  changed(): void {
    this.kernel.wakeSleepers();
  }

  protected override release(): void {
    const net = this.net;
    for (const s of this.acceptQueue.splice(0)) s.get().put();
    if (this.hostId === 0) return;
    if (this.state === 'listening' || this.state === 'bound') net.send({ op: 'closeServer', id: this.hostId });
    else if (!this.hostGone) net.send({ op: 'close', id: this.hostId, reset: this.rxBytes > 0 });
    net.unregister(this.hostId);
    this.state = 'closed';
  }

  private gather(n: number): Uint8Array {
    const first = this.rx[0]!;
    if (first.length - this.rxOffset >= n) return first.subarray(this.rxOffset, this.rxOffset + n);
    const out = new Uint8Array(n);
    let off = 0;
    let skip = this.rxOffset;
    for (const c of this.rx) {
      const take = Math.min(c.length - skip, n - off);
      out.set(c.subarray(skip, skip + take), off);
      off += take;
      skip = 0;
      if (off === n) break;
    }
    return out;
  }

  private consume(n: number): void {
    this.rxBytes -= n;
    while (n > 0) {
      const c = this.rx[0]!;
      const left = c.length - this.rxOffset;
      if (n < left) {
        this.rxOffset += n;
        break;
      }
      n -= left;
      this.rx.shift();
      this.rxOffset = 0;
    }
    if (this.paused && this.rxBytes < RECEIVE_LOW) {
      this.paused = false;
      this.net.send({ op: 'resume', id: this.hostId });
    }
  }
}
