import { INADDR_ANY } from './ipv4.js';
import type { UdpSocket } from './udp-socket.js';

/**
 * UDP sockets by local port (udp_table). A datagram goes to the socket that matches it best, as
 * compute_score ranks them: a connected socket whose peer is the sender before one bound to the
 * destination address, before one bound to INADDR_ANY.
 */
export class UdpTable {
  private readonly byPort = new Map<number, UdpSocket[]>();
  private portCounter = 0;

  /** Adds `sock` at `port` (0: a free ephemeral port); false when the port is taken. */
  bind(sock: UdpSocket, addr: number, port: number, low: number, high: number, offset: number): number {
    if (port === 0) {
      const range = high - low + 1;
      const start = (offset + this.portCounter++) % range;
      for (let i = 0; i < range; i++) {
        const p = low + ((start + i) % range);
        if (!this.byPort.has(p)) {
          port = p;
          break;
        }
      }
      if (port === 0) return 0;
    } else {
      for (const s of this.byPort.get(port) ?? []) {
        if (s.localAddr !== INADDR_ANY && addr !== INADDR_ANY && s.localAddr !== addr) continue;
        if (s.reuseAddr && sock.reuseAddr) continue;
        return 0;
      }
    }
    let bucket = this.byPort.get(port);
    if (bucket === undefined) this.byPort.set(port, (bucket = []));
    bucket.push(sock);
    sock.localAddr = addr;
    sock.localPort = port;
    return port;
  }

  unbind(sock: UdpSocket): void {
    const bucket = this.byPort.get(sock.localPort);
    if (bucket === undefined) return;
    const i = bucket.indexOf(sock);
    if (i >= 0) bucket.splice(i, 1);
    if (bucket.length === 0) this.byPort.delete(sock.localPort);
  }

  lookup(saddr: number, sport: number, daddr: number, dport: number): UdpSocket | null {
    const bucket = this.byPort.get(dport);
    if (bucket === undefined) return null;
    let best: UdpSocket | null = null;
    let bestScore = -1;
    for (let i = 0; i < bucket.length; i++) {
      const s = bucket[i]!;
      let score = 0;
      if (s.localAddr !== INADDR_ANY) {
        if (s.localAddr !== daddr) continue;
        score += 2;
      }
      if (s.remotePort !== 0) {
        if (s.remoteAddr !== saddr || s.remotePort !== sport) continue;
        score += 4;
      }
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /** The connected socket that sent from (laddr, lport) to (raddr, rport): where an ICMP error goes. */
  lookupConnected(laddr: number, lport: number, raddr: number, rport: number): UdpSocket | null {
    for (const s of this.byPort.get(lport) ?? []) {
      if (s.remotePort === rport && s.remoteAddr === raddr && (s.localAddr === laddr || s.localAddr === INADDR_ANY)) return s;
    }
    return null;
  }
}
