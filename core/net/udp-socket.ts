import {
  EACCES, EADDRINUSE, EADDRNOTAVAIL, EAGAIN, EDESTADDRREQ, EINVAL, EMSGSIZE, ENETUNREACH, POLLERR, POLLIN,
  POLLOUT, POLLRDNORM, POLLWRNORM,
} from '../linux/linux-abi.js';
import { internetChecksum, pseudoHeaderSum } from './internet-checksum.js';
import { INADDR_ANY, INADDR_BROADCAST, IP_HLEN, IPPROTO_UDP, L4_OFF, putBe16 } from './ipv4.js';
import type { NetStack } from './net-stack.js';
import { EPHEMERAL_HIGH, EPHEMERAL_LOW } from './tcp-table.js';
import type { WakeCallback } from './tcp-socket.js';

export const UDP_HLEN = 8;
/** net.core.rmem_default: what a UDP socket may hold unread. */
export const UDP_RMEM_DEFAULT = 212992;
/** The largest UDP payload IPv4 can carry (65535 − 20 − 8). */
export const UDP_MAX_PAYLOAD = 65507;

interface Datagram {
  readonly data: Uint8Array;
  readonly addr: number;
  readonly port: number;
}

/** Where `recvFrom` reports the sender (a struct sockaddr_in). */
export interface UdpPeer {
  addr: number;
  port: number;
}

/**
 * A UDP socket (RFC 768): bind, connect (a default destination and a filter on what is received),
 * sendTo, recvFrom, with Linux's errors. Datagrams wait as views of the frames they came in, up
 * to the receive buffer; beyond it they are dropped and counted (RcvbufErrors). A datagram never
 * becomes IP fragments: more than the MTU allows is EMSGSIZE.
 */
export class UdpSocket {
  localAddr = INADDR_ANY;
  localPort = 0;
  remoteAddr = 0;
  remotePort = 0;
  reuseAddr = false;
  /** SO_BROADCAST: without it a datagram to a broadcast address is EACCES. */
  broadcast = false;
  softError = 0;
  receiveBuffer = UDP_RMEM_DEFAULT;
  onWake: WakeCallback | null = null;
  private readonly queue: Datagram[] = [];
  private queuedBytes = 0;

  constructor(readonly stack: NetStack) {
    stack.counters.Work.SocketsCreated++;
  }

  bind(addr: number, port: number): number {
    if (this.localPort !== 0) return -EINVAL;
    if (addr !== INADDR_ANY && !this.stack.isLocalAddress(addr >>> 0)) return -EADDRNOTAVAIL;
    return this.autobind(addr >>> 0, port) ? 0 : -EADDRINUSE;
  }

  /** connect(2): a default destination; (0, 0) dissolves the association (AF_UNSPEC). */
  connect(addr: number, port: number): number {
    if (addr === 0 && port === 0) {
      this.remoteAddr = 0;
      this.remotePort = 0;
      return 0;
    }
    if (port <= 0 || port > 0xffff) return -EINVAL;
    const route = this.stack.route(addr >>> 0);
    if (route === null) return -ENETUNREACH;
    if (this.localPort === 0 && !this.autobind(INADDR_ANY, 0)) return -EADDRNOTAVAIL;
    if (this.localAddr === INADDR_ANY) this.localAddr = route.iface.address;
    this.remoteAddr = addr >>> 0;
    this.remotePort = port;
    return 0;
  }

  /**
   * Sends one datagram to (addr, port), or to the connected peer when `addr` is undefined.
   * Returns the bytes sent or a negative errno.
   */
  sendTo(data: Uint8Array, addr?: number, port?: number): number {
    if (this.softError !== 0) return -this.takeError();
    let dst: number;
    let dport: number;
    if (addr === undefined) {
      if (this.remotePort === 0) return -EDESTADDRREQ;
      dst = this.remoteAddr;
      dport = this.remotePort;
    } else {
      dst = addr >>> 0;
      dport = port ?? 0;
      if (dport <= 0 || dport > 0xffff) return -EINVAL;
    }
    const route = this.stack.route(dst);
    if (route === null) {
      this.stack.counters.Ip.OutNoRoutes++;
      return -ENETUNREACH;
    }
    if ((dst === INADDR_BROADCAST || dst === route.iface.broadcast) && !this.broadcast) return -EACCES;
    if (data.length > UDP_MAX_PAYLOAD || IP_HLEN + UDP_HLEN + data.length > route.iface.mtu) return -EMSGSIZE;
    if (this.localPort === 0 && !this.autobind(INADDR_ANY, 0)) return -EAGAIN;
    const src = this.localAddr === INADDR_ANY ? route.iface.address : this.localAddr;
    const ulen = UDP_HLEN + data.length;
    const frame = this.stack.allocFrame(ulen);
    const o = L4_OFF;
    putBe16(frame, o, this.localPort);
    putBe16(frame, o + 2, dport);
    putBe16(frame, o + 4, ulen);
    frame.set(data, o + UDP_HLEN);
    const c = this.stack.counters;
    c.Work.BytesCopiedFromUser += data.length;
    // RFC 768: a computed checksum of zero is sent as all ones (zero means "none").
    const sum = internetChecksum(frame, o, ulen, pseudoHeaderSum(src, dst, IPPROTO_UDP, ulen));
    putBe16(frame, o + 6, sum === 0 ? 0xffff : sum);
    c.Udp.OutDatagrams++;
    this.stack.ipOutput(route.iface, route.nextHop, frame, src, dst, IPPROTO_UDP, ulen);
    return data.length;
  }

  /**
   * Copies the next datagram into `dst` (the rest of a longer one is lost, as without MSG_TRUNC)
   * and reports its sender in `from`. Returns the bytes copied, the pending error, or -EAGAIN.
   */
  recvFrom(dst: Uint8Array, from?: UdpPeer, peek = false): number {
    const d = this.queue[0];
    if (d === undefined) {
      if (this.softError !== 0) return -this.takeError();
      return -EAGAIN;
    }
    const n = Math.min(dst.length, d.data.length);
    dst.set(d.data.subarray(0, n));
    this.stack.counters.Work.BytesCopiedToUser += n;
    if (from !== undefined) {
      from.addr = d.addr;
      from.port = d.port;
    }
    if (!peek) {
      this.queue.shift();
      this.queuedBytes -= d.data.length;
    }
    return n;
  }

  /** FIONREAD on a UDP socket: the size of the next datagram. */
  available(): number {
    return this.queue[0]?.data.length ?? 0;
  }

  poll(): number {
    let mask = POLLOUT | POLLWRNORM;
    if (this.queue.length > 0) mask |= POLLIN | POLLRDNORM;
    if (this.softError !== 0) mask |= POLLERR;
    return mask;
  }

  takeError(): number {
    const e = this.softError;
    this.softError = 0;
    return e;
  }

  close(): void {
    this.onWake = null;
    this.stack.udpTable.unbind(this);
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  /** A datagram for this socket (the stack checked its header and checksum). */
  deliver(data: Uint8Array, addr: number, port: number): void {
    const c = this.stack.counters.Udp;
    if (this.queuedBytes + data.length > this.receiveBuffer) {
      c.RcvbufErrors++;
      c.InErrors++;
      return;
    }
    c.InDatagrams++;
    this.queue.push({ data, addr, port });
    this.queuedBytes += data.length;
    this.wake();
  }

  /** udp_err: an ICMP error reaches a connected socket as its pending error. */
  icmpError(errno: number): void {
    this.softError = errno;
    this.wake();
  }

  private autobind(addr: number, port: number): boolean {
    const offset = this.stack.isn.hash3(addr, port, 17);
    return this.stack.udpTable.bind(this, addr, port, EPHEMERAL_LOW, EPHEMERAL_HIGH, offset) !== 0;
  }

  private wake(): void {
    const cb = this.onWake;
    if (cb === null) return;
    this.stack.counters.Work.Wakeups++;
    cb(this.poll());
  }
}
