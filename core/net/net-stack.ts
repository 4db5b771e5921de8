import { LINUX_TCP_SOCK, type ConnectionMemory, type SockLayout } from './connection-memory.js';
import { inject, injectable } from 'inversify';
import { ECONNREFUSED, EHOSTUNREACH, EMSGSIZE, ENETUNREACH, ENOPROTOOPT } from '../linux/linux-abi.js';
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, writeEthernetSource } from './ethernet.js';
import { internetChecksum, pseudoHeaderSum } from './internet-checksum.js';
import {
  INADDR_BROADCAST, IP_HLEN, IP_MF, IP_OFF, IP_OFFSET, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, L4_OFF,
  be16, be32, putBe16, putBe32, writeIpv4Header,
} from './ipv4.js';
import { IsnGenerator } from './isn-generator.js';
import { NetCounters } from './net-counters.js';
import type { NetDevice, NetDeviceReceiver } from './net-device.js';
import { NetInterface, type NetInterfaceConfig } from './net-interface.js';
import { NetTimers, NS_PER_SECOND } from './net-timers.js';
import { TCP_HLEN, TH_ACK, TH_RST, TH_SYN, TcpSegment } from './tcp-header.js';
import { seqAdd, seqGt } from './tcp-sequence.js';
import { SynCookies } from './syn-cookies.js';
import { TcpSocket } from './tcp-socket.js';
import { TCP_TIME_WAIT } from './tcp-state.js';
import { TcpTable } from './tcp-table.js';
import { UdpSocket, UDP_HLEN } from './udp-socket.js';
import { UdpTable } from './udp-table.js';

/** What a stack is configured with; `secret` keys sequence numbers and port choice (secure_tcp_seq's net_secret). */
export interface NetStackOptions {
  readonly secret: number;
  /** net.ipv4.tcp_syncookies: answer SYNs beyond the SYN queue with cookies (Linux's default, true). */
  readonly syncookies?: boolean;
}

export const NetStackOptions = Symbol.for('dunesim.NetStackOptions');

/** A route: the interface and the neighbour a datagram goes to. */
export interface NetRoute {
  readonly iface: NetInterface;
  readonly nextHop: number;
}

/** ICMP types and codes (RFC 792). */
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
const ICMP_HLEN = 8;
/** RFC 1812 §4.3.2.3: an ICMP error quotes as much of the offending datagram as fits in 576 bytes. */
const ICMP_ERROR_MAX = 576;
/** net.ipv4.icmp_msgs_per_sec and icmp_msgs_burst: the global token bucket for ICMP errors. */
export const ICMP_MSGS_PER_SEC = 1000;
export const ICMP_MSGS_BURST = 50;

/** An echo reply as the stack hands it to `onEchoReply`. */
export interface EchoReply {
  readonly from: number;
  readonly id: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/**
 * One host's TCP/IP stack: Ethernet II and ARP on each attached device, IPv4 without fragments,
 * ICMP echo and destination-unreachable, UDP and TCP sockets. It is pure logic on frames and
 * an injected clock — it charges no cycles and keeps its own counters (`counters`) for the
 * caller to charge. The kernel model's socket files wrap its `TcpSocket`s and `UdpSocket`s; a
 * dataplane can drive it from its own driver loop the same way.
 *
 * A device hands frames in through `receive` (the stack is its `NetDeviceReceiver`); the stack
 * transmits through `NetDevice.transmit`. A device must not call `receive` from inside
 * `transmit`: frames arrive later, on the clock.
 */
@injectable()
export class NetStack implements NetDeviceReceiver {
  readonly counters = new NetCounters();
  readonly isn: IsnGenerator;
  readonly tcpTable: TcpTable;
  readonly synCookies: SynCookies;
  readonly syncookies: boolean;
  readonly udpTable = new UdpTable();
  readonly interfaces: NetInterface[] = [];
  /**
   * Where the host's per-connection objects live and what touching them costs (the last-level
   * cache proxy). Null: the stack's memory costs nothing (a modelled client host).
   */
  memory: ConnectionMemory | null = null;
  /** What each connection's control block is in that memory (Linux's tcp_sock unless the host's stack is another). */
  sockLayout: SockLayout = LINUX_TCP_SOCK;
  /** Called for each ICMP echo reply received (ping). */
  onEchoReply: ((reply: EchoReply) => void) | null = null;
  private ipId = 0;
  private readonly segment = new TcpSegment();
  private icmpTokens = ICMP_MSGS_BURST;
  private icmpTokensAt = 0;

  constructor(@inject(NetTimers) readonly timers: NetTimers, @inject(NetStackOptions) options: NetStackOptions) {
    this.isn = new IsnGenerator(options.secret);
    this.tcpTable = new TcpTable(this.isn);
    this.synCookies = new SynCookies(this.isn);
    this.syncookies = options.syncookies ?? true;
  }

  /** Brings up `dev` with an address (`ip addr add`, `ip link set up`). */
  attach(dev: NetDevice, config: NetInterfaceConfig): NetInterface {
    if (!(config.prefixLength >= 0 && config.prefixLength <= 32) || !Number.isInteger(config.prefixLength)) {
      throw new RangeError(`prefix length must be 0..32, got ${config.prefixLength}`);
    }
    if (dev.mac.length !== 6) throw new RangeError(`${dev.name}: a MAC address is 6 bytes, got ${dev.mac.length}`);
    if (!(dev.mtu >= 576 && dev.mtu <= 9000)) throw new RangeError(`${dev.name}: MTU must be 576..9000, got ${dev.mtu}`);
    if (this.interfaces.some((i) => i.device === dev)) throw new RangeError(`${dev.name} is attached already`);
    const iface = new NetInterface(dev, config.address >>> 0, config.prefixLength, config.gateway ?? 0, this.timers, this.counters);
    this.interfaces.push(iface);
    return iface;
  }

  tcpSocket(): TcpSocket {
    return new TcpSocket(this);
  }

  udpSocket(): UdpSocket {
    return new UdpSocket(this);
  }

  /** Whether `addr` is one of this host's addresses. */
  isLocalAddress(addr: number): boolean {
    for (let i = 0; i < this.interfaces.length; i++) if (this.interfaces[i]!.address === addr) return true;
    return false;
  }

  /** The route to `dst`: the subnet it is on, else the first interface with a default gateway. */
  route(dst: number): NetRoute | null {
    dst >>>= 0;
    for (const iface of this.interfaces) if (iface.onLink(dst) || dst === iface.address) return { iface, nextHop: dst };
    if (dst === INADDR_BROADCAST && this.interfaces.length > 0) return { iface: this.interfaces[0]!, nextHop: dst };
    for (const iface of this.interfaces) if (iface.gateway !== 0) return { iface, nextHop: iface.gateway };
    return null;
  }

  /** A zeroed frame with room for Ethernet, IPv4 and `l4Length` bytes. */
  allocFrame(l4Length: number): Uint8Array {
    this.counters.Work.FramesBuilt++;
    return new Uint8Array(L4_OFF + l4Length);
  }

  /**
   * Sends a frame whose L4 part (`l4Length` bytes at L4_OFF) is complete: writes the IPv4 header
   * and the Ethernet source, and lets ARP fill in the destination. A datagram to one of our own
   * addresses loops back through the clock, as Linux's lo does.
   */
  ipOutput(iface: NetInterface, nextHop: number, frame: Uint8Array, src: number, dst: number, protocol: number,
    l4Length: number): void {
    this.counters.Ip.OutRequests++;
    this.ipId = (this.ipId + 1) & 0xffff;
    writeIpv4Header(frame, src, dst, protocol, l4Length, this.ipId);
    writeEthernetSource(frame, iface.mac, ETH_P_IP);
    if (this.isLocalAddress(dst)) {
      frame.set(iface.mac, 0);
      this.timers.schedule(this.timers.now(), () => this.receive(iface.device, frame));
      return;
    }
    if (dst === INADDR_BROADCAST || dst === iface.broadcast) {
      this.counters.IpExt.OutBcastPkts++;
      frame.fill(0xff, 0, 6);
      iface.transmit(frame);
      return;
    }
    iface.arp.output(nextHop, frame);
  }

  // ---------------------------------------------------------------------------------------------
  // Input.

  receive(dev: NetDevice, frame: Uint8Array): void {
    const iface = this.interfaceOf(dev);
    const link = this.counters.Link;
    if (iface === null) {
      link.RxDropped++;
      return;
    }
    const len = frame.length;
    link.RxFrames++;
    link.RxBytes += len;
    if (len < ETH_HLEN) {
      link.RxErrors++;
      return;
    }
    if (!iface.acceptsMac(frame)) {
      link.RxDropped++;
      return;
    }
    const type = be16(frame, 12);
    if (type === ETH_P_IP) this.ipInput(iface, frame, len);
    else if (type === ETH_P_ARP) iface.arp.input(frame, ETH_HLEN, len - ETH_HLEN);
    else link.RxDropped++;
  }

  transmitReady(dev: NetDevice): void {
    this.interfaceOf(dev)?.drain();
  }

  /** ip_rcv_core and ip_local_deliver: header checks, then the protocol. */
  private ipInput(iface: NetInterface, frame: Uint8Array, len: number): void {
    const ip = this.counters.Ip;
    ip.InReceives++;
    const avail = len - ETH_HLEN;
    if (avail < IP_HLEN) {
      ip.InHdrErrors++;
      return;
    }
    const vihl = frame[IP_OFF]!;
    const ihl = (vihl & 0xf) * 4;
    if (vihl >>> 4 !== 4 || ihl < IP_HLEN || avail < ihl) {
      ip.InHdrErrors++;
      return;
    }
    if (internetChecksum(frame, IP_OFF, ihl) !== 0) {
      this.counters.IpExt.InCsumErrors++;
      ip.InHdrErrors++;
      return;
    }
    const total = be16(frame, IP_OFF + 2);
    if (total > avail) {
      ip.InTruncatedPkts++;
      return;
    }
    if (total < ihl) {
      ip.InHdrErrors++;
      return;
    }
    const src = be32(frame, IP_OFF + 12);
    const dst = be32(frame, IP_OFF + 16);
    const broadcast = dst === INADDR_BROADCAST || dst === iface.broadcast;
    if (dst !== iface.address && !broadcast && !this.isLocalAddress(dst)) {
      ip.InAddrErrors++;
      return;
    }
    // A martian source (multicast, broadcast, 0) is dropped (ip_route_input_slow).
    if (src >>> 28 === 0xe || src === INADDR_BROADCAST || src === iface.broadcast || (src === 0 && !broadcast)) {
      ip.InDiscards++;
      return;
    }
    if (broadcast) this.counters.IpExt.InBcastPkts++;
    if ((be16(frame, IP_OFF + 6) & (IP_MF | IP_OFFSET)) !== 0) {
      // No reassembly: this stack never fragments (DF), and drops fragments it is sent.
      ip.ReasmFails++;
      return;
    }
    const l4 = IP_OFF + ihl;
    const l4Len = total - ihl;
    const protocol = frame[IP_OFF + 9]!;
    switch (protocol) {
      case IPPROTO_TCP:
        ip.InDelivers++;
        if (!broadcast) this.tcpInput(iface, frame, l4, l4Len, src, dst);
        return;
      case IPPROTO_UDP:
        ip.InDelivers++;
        this.udpInput(iface, frame, l4, l4Len, src, dst, broadcast);
        return;
      case IPPROTO_ICMP:
        ip.InDelivers++;
        this.icmpInput(iface, frame, l4, l4Len, src, dst, broadcast);
        return;
      default:
        ip.InUnknownProtos++;
        if (!broadcast) this.icmpError(iface, frame, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH);
    }
  }

  /** tcp_v4_rcv: header and checksum, then the connection, TIME_WAIT, the listener, or a reset. */
  private tcpInput(iface: NetInterface, frame: Uint8Array, off: number, len: number, src: number, dst: number): void {
    const tcp = this.counters.Tcp;
    const seg = this.segment;
    if (!seg.parse(frame, off, len, src, dst)) {
      tcp.InErrs++;
      return;
    }
    tcp.InSegs++;
    if (internetChecksum(frame, off, len, pseudoHeaderSum(src, dst, IPPROTO_TCP, len)) !== 0) {
      tcp.InCsumErrors++;
      tcp.InErrs++;
      return;
    }
    let sock = this.tcpTable.lookupConnection(src, seg.srcPort, dst, seg.dstPort);
    if (sock !== null && sock.state === TCP_TIME_WAIT && (seg.flags & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN &&
      seqGt(seg.seq, sock.rcvNxt)) {
      // tcp_timewait_state_process: a new SYN above the old connection's sequence numbers
      // starts a new incarnation (RFC 1122 §4.2.2.13).
      sock.done();
      sock = null;
    }
    if (sock === null) sock = this.tcpTable.lookupListener(dst, seg.dstPort);
    if (sock === null) {
      const route = this.route(src);
      if (route !== null) this.sendReset(route.iface, route.nextHop, seg);
      return;
    }
    sock.input(seg);
  }

  /**
   * A reset in answer to `seg` when no connection wants it (RFC 9293 §3.10.7.1): never for a
   * reset; with SEG.ACK as its sequence number if the segment had an ACK, else acknowledging it.
   */
  sendReset(iface: NetInterface, nextHop: number, seg: TcpSegment): void {
    if ((seg.flags & TH_RST) !== 0) return;
    const frame = this.allocFrame(TCP_HLEN);
    const o = L4_OFF;
    putBe16(frame, o, seg.dstPort);
    putBe16(frame, o + 2, seg.srcPort);
    if ((seg.flags & TH_ACK) !== 0) {
      putBe32(frame, o + 4, seg.ack);
      frame[o + 13] = TH_RST;
    } else {
      putBe32(frame, o + 8, seqAdd(seg.seq, seg.segLen));
      frame[o + 13] = TH_RST | TH_ACK;
    }
    frame[o + 12] = (TCP_HLEN / 4) << 4;
    putBe16(frame, o + 16, internetChecksum(frame, o, TCP_HLEN, pseudoHeaderSum(seg.dst, seg.src, IPPROTO_TCP, TCP_HLEN)));
    this.counters.Tcp.OutSegs++;
    this.counters.Tcp.OutRsts++;
    this.ipOutput(iface, nextHop, frame, seg.dst, seg.src, IPPROTO_TCP, TCP_HLEN);
  }

  /** __udp4_lib_rcv: length and checksum, then the socket, or port unreachable. */
  private udpInput(iface: NetInterface, frame: Uint8Array, off: number, len: number, src: number, dst: number,
    broadcast: boolean): void {
    const udp = this.counters.Udp;
    if (len < UDP_HLEN) {
      udp.InErrors++;
      return;
    }
    const ulen = be16(frame, off + 4);
    if (ulen < UDP_HLEN || ulen > len) {
      udp.InErrors++;
      return;
    }
    const check = be16(frame, off + 6);
    if (check !== 0 && internetChecksum(frame, off, ulen, pseudoHeaderSum(src, dst, IPPROTO_UDP, ulen)) !== 0) {
      udp.InCsumErrors++;
      udp.InErrors++;
      return;
    }
    const srcPort = be16(frame, off);
    const dstPort = be16(frame, off + 2);
    const sock = this.udpTable.lookup(src, srcPort, dst, dstPort);
    if (sock === null) {
      udp.NoPorts++;
      if (!broadcast) this.icmpError(iface, frame, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH);
      return;
    }
    sock.deliver(frame.subarray(off + UDP_HLEN, off + ulen), src, srcPort);
  }

  // ---------------------------------------------------------------------------------------------
  // ICMP (RFC 792).

  /** Sends an echo request (ping): 0, or a negative errno. */
  sendEchoRequest(dst: number, id: number, sequence: number, data: Uint8Array): number {
    const route = this.route(dst >>> 0);
    if (route === null) {
      this.counters.Ip.OutNoRoutes++;
      return -ENETUNREACH;
    }
    if (ICMP_HLEN + data.length + IP_HLEN > route.iface.mtu) return -EMSGSIZE;
    const frame = this.allocFrame(ICMP_HLEN + data.length);
    const o = L4_OFF;
    frame[o] = ICMP_ECHO;
    putBe16(frame, o + 4, id);
    putBe16(frame, o + 6, sequence);
    frame.set(data, o + ICMP_HLEN);
    putBe16(frame, o + 2, internetChecksum(frame, o, ICMP_HLEN + data.length));
    this.counters.Icmp.OutMsgs++;
    this.counters.Icmp.OutEchos++;
    this.ipOutput(route.iface, route.nextHop, frame, route.iface.address, dst >>> 0, IPPROTO_ICMP, ICMP_HLEN + data.length);
    return 0;
  }

  private icmpInput(iface: NetInterface, frame: Uint8Array, off: number, len: number, src: number, dst: number,
    broadcast: boolean): void {
    const icmp = this.counters.Icmp;
    icmp.InMsgs++;
    if (len < ICMP_HLEN) {
      icmp.InErrors++;
      return;
    }
    if (internetChecksum(frame, off, len) !== 0) {
      icmp.InCsumErrors++;
      icmp.InErrors++;
      return;
    }
    const type = frame[off]!;
    if (type === ICMP_ECHO) {
      icmp.InEchos++;
      if (broadcast) return; // net.ipv4.icmp_echo_ignore_broadcasts = 1
      const route = this.route(src);
      if (route === null) return;
      const reply = this.allocFrame(len);
      reply.set(frame.subarray(off, off + len), L4_OFF);
      reply[L4_OFF] = ICMP_ECHOREPLY;
      reply[L4_OFF + 2] = 0;
      reply[L4_OFF + 3] = 0;
      putBe16(reply, L4_OFF + 2, internetChecksum(reply, L4_OFF, len));
      icmp.OutMsgs++;
      icmp.OutEchoReps++;
      this.ipOutput(route.iface, route.nextHop, reply, dst, src, IPPROTO_ICMP, len);
    } else if (type === ICMP_ECHOREPLY) {
      icmp.InEchoReps++;
      this.onEchoReply?.({
        from: src, id: be16(frame, off + 4), sequence: be16(frame, off + 6),
        data: frame.slice(off + ICMP_HLEN, off + len),
      });
    } else if (type === ICMP_DEST_UNREACH) {
      icmp.InDestUnreachs++;
      this.destUnreachable(frame, off, len, frame[off + 1]!);
    }
  }

  /**
   * An ICMP destination unreachable quoting one of our datagrams (icmp_unreach → udp_err,
   * tcp_v4_err): a connected UDP socket or a connecting TCP socket learns the error. The quoted
   * ports and, for TCP, the sequence number must match what we sent — a forged error must name
   * a live connection and a sequence number in flight.
   */
  private destUnreachable(frame: Uint8Array, off: number, len: number, code: number): void {
    const inner = off + ICMP_HLEN;
    if (len < ICMP_HLEN + IP_HLEN + 8) return;
    const ihl = (frame[inner]! & 0xf) * 4;
    if (ihl < IP_HLEN || len < ICMP_HLEN + ihl + 8) return;
    const protocol = frame[inner + 9]!;
    const src = be32(frame, inner + 12);
    const dst = be32(frame, inner + 16);
    const l4 = inner + ihl;
    const sport = be16(frame, l4);
    const dport = be16(frame, l4 + 2);
    // icmp_err_convert.
    const errno = code === ICMP_PORT_UNREACH ? ECONNREFUSED : code === ICMP_NET_UNREACH ? ENETUNREACH
      : code === ICMP_PROT_UNREACH ? ENOPROTOOPT : EHOSTUNREACH;
    if (protocol === IPPROTO_UDP) {
      this.udpTable.lookupConnected(src, sport, dst, dport)?.icmpError(errno);
    } else if (protocol === IPPROTO_TCP) {
      const sock = this.tcpTable.lookupConnection(dst, dport, src, sport);
      if (sock === null || !sock.icmpError(errno, be32(frame, l4 + 4))) this.counters.TcpExt.OutOfWindowIcmps++;
    }
  }

  /**
   * Sends an ICMP error about the datagram in `frame` (icmp_send): never about an ICMP error,
   * rate-limited by net.ipv4.icmp_msgs_per_sec as a token bucket.
   */
  private icmpError(iface: NetInterface, frame: Uint8Array, type: number, code: number): void {
    const now = this.timers.now();
    this.icmpTokens = Math.min(ICMP_MSGS_BURST,
      this.icmpTokens + ((now - this.icmpTokensAt) * ICMP_MSGS_PER_SEC) / NS_PER_SECOND);
    this.icmpTokensAt = now;
    if (this.icmpTokens < 1) return;
    this.icmpTokens -= 1;
    const src = be32(frame, IP_OFF + 12);
    const dst = be32(frame, IP_OFF + 16);
    const total = be16(frame, IP_OFF + 2);
    const quoted = Math.min(total, ICMP_ERROR_MAX - IP_HLEN - ICMP_HLEN);
    const route = this.route(src);
    if (route === null) return;
    const out = this.allocFrame(ICMP_HLEN + quoted);
    out[L4_OFF] = type;
    out[L4_OFF + 1] = code;
    out.set(frame.subarray(IP_OFF, IP_OFF + quoted), L4_OFF + ICMP_HLEN);
    putBe16(out, L4_OFF + 2, internetChecksum(out, L4_OFF, ICMP_HLEN + quoted));
    const icmp = this.counters.Icmp;
    icmp.OutMsgs++;
    if (type === ICMP_DEST_UNREACH) icmp.OutDestUnreachs++;
    this.ipOutput(route.iface, route.nextHop, out, dst === iface.address ? dst : iface.address, src, IPPROTO_ICMP,
      ICMP_HLEN + quoted);
  }

  private interfaceOf(dev: NetDevice): NetInterface | null {
    for (let i = 0; i < this.interfaces.length; i++) if (this.interfaces[i]!.device === dev) return this.interfaces[i]!;
    return null;
  }
}
