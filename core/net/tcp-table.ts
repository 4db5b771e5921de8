import { EADDRINUSE, EADDRNOTAVAIL } from '../linux/linux-abi.js';
import { INADDR_ANY } from './ipv4.js';
import type { IsnGenerator } from './isn-generator.js';
import { TCP_LISTEN, TCP_CLOSE } from './tcp-state.js';
import type { TcpSocket } from './tcp-socket.js';

/** net.ipv4.ip_local_port_range: where connect() and bind(port 0) find a port. */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;

/**
 * The TCP hash tables (Linux's inet_hashinfo): the bind table by local port, for bind conflicts
 * and listeners, and the connection table by port pair, for demultiplexing segments. A port
 * pair holds few connections (one per peer address), so each bucket is a short array scanned
 * in order.
 */
export class TcpTable {
  private readonly bound = new Map<number, TcpSocket[]>();
  private readonly connections = new Map<number, TcpSocket[]>();
  private portCounter = 0;

  constructor(private readonly isn: IsnGenerator) {}

  /**
   * bind(): `port` 0 picks a free ephemeral port. Two sockets may share a port when their
   * addresses differ (neither is INADDR_ANY), or when both set SO_REUSEADDR and the one already
   * there is not listening (inet_csk_bind_conflict) — which lets a restarted server bind while
   * its old connections sit in TIME_WAIT.
   */
  bind(sock: TcpSocket, addr: number, port: number): number {
    if (port === 0) {
      const p = this.freePort(addr, 0, 0);
      if (p === 0) return -EADDRINUSE;
      port = p;
    } else if (this.conflicts(sock, addr, port)) {
      return -EADDRINUSE;
    }
    sock.localAddr = addr;
    sock.localPort = port;
    let bucket = this.bound.get(port);
    if (bucket === undefined) this.bound.set(port, (bucket = []));
    bucket.push(sock);
    return 0;
  }

  /** A port for connect() to (daddr, dport) from a socket not bound yet (EADDRNOTAVAIL when none is left). */
  bindEphemeral(sock: TcpSocket, addr: number, daddr: number, dport: number): number {
    const p = this.freePort(addr, daddr, dport);
    if (p === 0) return -EADDRNOTAVAIL;
    return this.bind(sock, addr, p);
  }

  /** An accepted connection shares its listener's port (inet_inherit_port), so it counts for bind conflicts. */
  inheritPort(sock: TcpSocket): void {
    let bucket = this.bound.get(sock.localPort);
    if (bucket === undefined) this.bound.set(sock.localPort, (bucket = []));
    bucket.push(sock);
  }

  unbind(sock: TcpSocket): void {
    const bucket = this.bound.get(sock.localPort);
    if (bucket === undefined) return;
    const i = bucket.indexOf(sock);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 0) this.bound.delete(sock.localPort);
  }

  /** Adds a connection (SYN_SENT onwards) to the demultiplexing table. */
  hash(sock: TcpSocket): void {
    const key = pairKey(sock.localPort, sock.remotePort);
    let bucket = this.connections.get(key);
    if (bucket === undefined) this.connections.set(key, (bucket = []));
    bucket.push(sock);
  }

  unhash(sock: TcpSocket): void {
    const key = pairKey(sock.localPort, sock.remotePort);
    const bucket = this.connections.get(key);
    if (bucket === undefined) return;
    const i = bucket.indexOf(sock);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 0) this.connections.delete(key);
  }

  /** The connection a segment from (saddr, sport) to (daddr, dport) belongs to. */
  lookupConnection(saddr: number, sport: number, daddr: number, dport: number): TcpSocket | null {
    const bucket = this.connections.get(pairKey(dport, sport));
    if (bucket === undefined) return null;
    for (let i = 0; i < bucket.length; i++) {
      const s = bucket[i]!;
      if (s.remoteAddr === saddr && s.localAddr === daddr) return s;
    }
    return null;
  }

  /** The listener for (daddr, dport): one bound to the address itself before one bound to INADDR_ANY. */
  lookupListener(daddr: number, dport: number): TcpSocket | null {
    const bucket = this.bound.get(dport);
    if (bucket === undefined) return null;
    let wild: TcpSocket | null = null;
    for (let i = 0; i < bucket.length; i++) {
      const s = bucket[i]!;
      if (s.state !== TCP_LISTEN) continue;
      if (s.localAddr === daddr) return s;
      if (s.localAddr === INADDR_ANY && wild === null) wild = s;
    }
    return wild;
  }

  private conflicts(sock: TcpSocket, addr: number, port: number): boolean {
    const bucket = this.bound.get(port);
    if (bucket === undefined) return false;
    for (const s of bucket) {
      if (s === sock || s.state === TCP_CLOSE && !s.userBound) continue;
      if (s.localAddr !== INADDR_ANY && addr !== INADDR_ANY && s.localAddr !== addr) continue;
      if (sock.reuseAddr && s.reuseAddr && s.state !== TCP_LISTEN) continue;
      return true;
    }
    return false;
  }

  /**
   * A port nobody has bound, searched from an offset that hashes the destination with the
   * stack's secret and moves on by one per search (a simplified __inet_hash_connect): 0 when
   * the range is exhausted.
   */
  private freePort(addr: number, daddr: number, dport: number): number {
    const range = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const offset = (this.isn.hash3(addr, daddr, dport) + this.portCounter++) % range;
    for (let i = 0; i < range; i++) {
      const port = EPHEMERAL_LOW + ((offset + i) % range);
      if (!this.bound.has(port)) return port;
    }
    return 0;
  }
}

function pairKey(localPort: number, remotePort: number): number {
  return localPort * 65536 + remotePort;
}
