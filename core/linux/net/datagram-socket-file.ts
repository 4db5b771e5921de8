import { EAGAIN, EDESTADDRREQ, EFAULT, EMSGSIZE, ENETUNREACH, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../linux-abi.js';
import type { ReadSink } from '../vfs.js';
import type { HostNetEvent } from './host-net.js';
import { InetSocketFile } from './inet-socket-file.js';
import { INADDR_ANY, InetAddress, hostErrnoOf, inetFromString, inetToString, isLoopback } from './socket-file.js';

/** The largest UDP payload over IPv4 (65,535 − 8 − 20). */
export const UDP_MAX_PAYLOAD = 65_507;
/** Datagrams queued before new ones are dropped (the receive buffer, net.core.rmem_default). */
const RECEIVE_QUEUE = 256;

interface Datagram {
  readonly data: Uint8Array;
  readonly from: InetAddress;
}

/**
 * A UDP socket of the guest (net/ipv4/udp.c), backed by a host UDP socket on loopback. Each
 * datagram keeps its boundaries and its source; a read takes one (the rest of a datagram longer
 * than the buffer is lost, as udp_recvmsg truncates); a send goes out at once (UDP has no send
 * queue to wait on). An unbound socket is bound to an ephemeral port by its first send or
 * connect (inet_autobind); connect only sets the default destination.
 */
export class DatagramSocketFile extends InetSocketFile {
  // `peer` (connect()) is the default destination and the only source accepted.
  private readonly queue: Datagram[] = [];
  private readWakeups = 0;

  get bound(): boolean {
    return this.hostId !== 0;
  }

  override available(): number {
    return this.queue[0]?.data.length ?? 0;
  }

  override get readGeneration(): number {
    return this.readWakeups;
  }

  /** Binds on the host (port 0: any free port); 0 or -errno. */
  bind(a: InetAddress): number {
    const net = this.net;
    const id = net.register(this);
    const host = a.addr === INADDR_ANY ? '127.0.0.1' : inetToString(a.addr);
    const r = net.request({ op: 'udpBind', id, host, port: a.port }, 'udpBound');
    if (r === undefined || r.code !== '') {
      net.unregister(id);
      return r === undefined ? -EAGAIN : -hostErrnoOf(r.code);
    }
    this.kernel.hostEndpointOpened();
    this.hostId = id;
    this.local = { addr: a.addr, port: r.port };
    return 0;
  }

  /** sendto(): one datagram to `to` (or the connected peer). */
  send(data: Uint8Array, to: InetAddress | undefined): number {
    const dest = to ?? this.peer;
    if (dest === undefined) return -EDESTADDRREQ;
    if (data.length > UDP_MAX_PAYLOAD) return -EMSGSIZE;
    if (!isLoopback(dest.addr)) return -ENETUNREACH;
    if (!this.bound) {
      const r = this.bind({ addr: INADDR_ANY, port: 0 });
      if (r < 0) return r;
    }
    this.net.send({ op: 'udpSend', id: this.hostId, data: data.slice(), host: inetToString(dest.addr), port: dest.port });
    return data.length;
  }

  override write(data: Uint8Array): number {
    return this.send(data, undefined);
  }

  override read(len: number, sink: ReadSink): number {
    return this.receive(len, sink, false, undefined);
  }

  /** recvfrom(): the first datagram, truncated to `len`; its source to `from`. */
  receive(len: number, sink: ReadSink, peek: boolean, from: ((a: InetAddress) => boolean) | undefined): number {
    const d = this.queue[0];
    if (d === undefined) {
      if (this.softError !== 0) {
        const e = this.softError;
        this.softError = 0;
        return -e;
      }
      return -EAGAIN;
    }
    const n = Math.min(len, d.data.length);
    if (!sink(d.data.subarray(0, n))) return -EFAULT;
    if (from !== undefined && !from(d.from)) return -EFAULT;
    if (!peek) this.queue.shift();
    return n;
  }

  override readReady(): boolean {
    return this.queue.length > 0 || this.softError !== 0;
  }

  override writeReady(): boolean {
    return true;
  }

  override pollMask(): number {
    return (this.queue.length > 0 ? POLLIN | POLLRDNORM : 0) | POLLOUT | POLLWRNORM;
  }

  onHostEvent(e: HostNetEvent): void {
    if (e.ev === 'datagram') {
      const from = { addr: inetFromString(e.from.host), port: e.from.port };
      // A connected socket takes datagrams from its peer only (udp's connected-socket filter).
      const p = this.peer;
      if ((p === undefined || (p.addr === from.addr && p.port === from.port)) && this.queue.length < RECEIVE_QUEUE) {
        this.queue.push({ data: e.data, from });
        this.readWakeups++;
      }
    } else if (e.ev === 'error') {
      this.softError = hostErrnoOf(e.code);
      this.readWakeups++;
    }
    this.kernel.wakeSleepers();
  }

  protected override release(): void {
    if (this.hostId === 0) return;
    this.net.send({ op: 'udpClose', id: this.hostId });
    this.net.unregister(this.hostId);
    this.hostId = 0;
  }
}
