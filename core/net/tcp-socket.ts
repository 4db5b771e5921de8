import {
  EADDRNOTAVAIL, EAGAIN, EALREADY, ECONNREFUSED, ECONNRESET, EINPROGRESS, EINVAL, EISCONN, ENETUNREACH, ENOTCONN,
  EPIPE, ETIMEDOUT, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM,
} from '../linux/linux-abi.js';
import { INADDR_ANY, IPPROTO_TCP, L4_OFF, putBe16, putBe32 } from './ipv4.js';
import { internetChecksum, pseudoHeaderSum } from './internet-checksum.js';
import type { SockLayout } from './connection-memory.js';
import type { NetInterface } from './net-interface.js';
import type { NetRoute, NetStack } from './net-stack.js';
import { NS_PER_MS, NS_PER_SECOND } from './net-timers.js';
import { RenoCongestion } from './reno-congestion.js';
import { RtoEstimator, TCP_RTO_MAX_NS } from './rto-estimator.js';
import { SocketTimer } from './socket-timer.js';
import {
  TCP_DEFAULT_MSS, TCP_HLEN, TCP_MAX_WSCALE, TCPOPT_MSS, TCPOPT_NOP, TCPOPT_WINDOW, TH_ACK, TH_FIN, TH_PSH,
  TH_RST, TH_SYN, TcpSegment,
} from './tcp-header.js';
import { TcpReceiveQueue } from './tcp-receive-queue.js';
import { TcpSendBuffer } from './tcp-send-buffer.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from './tcp-sequence.js';
import {
  TCP_CLOSE, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_LAST_ACK,
  TCP_LISTEN, TCP_SYN_RECV, TCP_SYN_SENT, TCP_TIME_WAIT, tcpStateName,
} from './tcp-state.js';

/** net.ipv4.tcp_wmem[1] and tcp_rmem[1]: the default buffer sizes (no autotuning here). */
export const TCP_WMEM_DEFAULT = 16384;
export const TCP_RMEM_DEFAULT = 131072;
/** net.ipv4.tcp_rmem[2]: the window scale is chosen so the largest buffer fits (6 MiB → shift 7). */
export const TCP_RMEM_MAX = 6 * 1024 * 1024;
/** Linux TCP_TIMEWAIT_LEN: TIME_WAIT lasts 60 s (2·MSL with MSL = 30 s). */
export const TCP_TIMEWAIT_LEN_NS = 60 * NS_PER_SECOND;
/** net.ipv4.tcp_fin_timeout: how long an orphaned connection waits in FIN_WAIT2. */
export const TCP_FIN_TIMEOUT_NS = 60 * NS_PER_SECOND;
/** net.ipv4.tcp_syn_retries, tcp_synack_retries, tcp_retries2. */
export const TCP_SYN_RETRIES = 6;
export const TCP_SYNACK_RETRIES = 5;
export const TCP_RETRIES2 = 15;
/** Linux TCP_ATO_MIN / TCP_DELACK_MIN (HZ/25) and TCP_DELACK_MAX (HZ/5): 40 ms and 200 ms. */
export const TCP_ATO_MIN_NS = 40 * NS_PER_MS;
export const TCP_DELACK_MAX_NS = 200 * NS_PER_MS;
/** Linux TCP_MAX_QUICKACKS: ACKs sent at once at the start of a transfer (quick-ACK mode). */
export const TCP_MAX_QUICKACKS = 16;
/** Linux SOMAXCONN: listen()'s backlog is clamped to net.core.somaxconn. */
export const SOMAXCONN = 4096;
/** Linux TCP_SYNCOOKIE_VALID: cookies are taken for two minutes after the SYN queue overflowed. */
export const TCP_SYNCOOKIE_VALID_NS = 120 * NS_PER_SECOND;
const IP_TCP_OVERHEAD = 40;
/**
 * What one out-of-order segment costs against the receive buffer beyond its payload. Linux
 * charges skb->truesize (the buffer and struct sk_buff, several hundred bytes for a small
 * segment); without it a peer could queue a sorted list of thousands of 1-byte segments.
 */
const OOO_SEGMENT_OVERHEAD = 256;

const SYN_OPTIONS_LEN = 8; // MSS (4), NOP (1), window scale (3)

/** Readiness a socket reports to whoever waits on it (the kernel's wait queue, epoll). */
export type WakeCallback = (events: number) => void;

/**
 * A TCP socket: the socket-level API the kernel's socket files wrap (bind, listen, accept,
 * connect, send, recv, shutdown, close, poll) and the connection behind it (the TCB of RFC 9293
 * with RFC 6298 timers, RFC 5681/6582 congestion control, RFC 1122 delayed ACKs, RFC 7323 window
 * scaling, RFC 5961 checks). Calls return a count or a negative Linux errno and never block:
 * a blocking call is the kernel waiting for `onWake`. The socket spends no time; what it does is
 * counted in the stack's `NetCounters` for the caller to charge.
 */
export class TcpSocket {
  state = TCP_CLOSE;
  localAddr = INADDR_ANY;
  localPort = 0;
  remoteAddr = 0;
  remotePort = 0;
  /** bind() was called (the port stays bound after the connection ends: SOCK_BINDPORT_LOCK). */
  userBound = false;
  reuseAddr = false;
  noDelay = false;
  /** Called when readiness may have changed; the argument is `poll()`. */
  onWake: WakeCallback | null = null;

  // Send sequence space (RFC 9293 §3.3.1). sndMax is the highest SND.NXT ever sent (Linux's snd_nxt
  // after a go-back-N rewind is our sndNxt; sndMax tells retransmissions from new data).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** Sequence number of the first byte in the send buffer. */
  private bufSeq = 0;
  private finQueued = false;
  /** End of the last sub-MSS segment sent (Minshall's Nagle, Linux's snd_sml). */
  private sndSml = 0;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window last advertised (RCV.NXT + RCV.WND when it was sent). */
  private rcvAdvRight = 0;
  /** RCV.NXT when the last ACK was sent (Linux's rcv_wup). */
  private rcvWup = 0;
  /** Largest segment seen from the peer (Linux's icsk_ack.rcv_mss), for "two full segments". */
  private rcvMss = TCP_DEFAULT_MSS;

  /** Send MSS (the peer's MSS option, bounded by our MTU). */
  mss = TCP_DEFAULT_MSS;
  /** The MSS we advertise. */
  advMss = TCP_DEFAULT_MSS;
  /** Shift applied to the windows the peer sends (its window scale option), and to ours. */
  sndWscale = 0;
  rcvWscale = 0;
  private offeredWscale = false;

  readonly rto = new RtoEstimator();
  cc = new RenoCongestion(TCP_DEFAULT_MSS);
  /** RTT measurement under way (one at a time, RFC 6298 §3, Karn). */
  private rttSeq = 0;
  private rttStart = 0;
  private rttTiming = false;
  /** Consecutive retransmission timeouts (icsk_retransmits). */
  retransmits = 0;
  /** The persist timer is running in place of the retransmission timer (zero window). */
  private persist = false;
  /** Delayed-ACK state: an ACK is owed, and the ack timeout estimator (icsk_ack.ato). */
  private ackPending = false;
  private ato = 0;
  private lastRcvTime = 0;
  /** ACKs still to send at once (icsk_ack.quick) and the interactive ("ping-pong") mode. */
  private quickAcks = 0;
  private pingpong = false;

  private readonly retransmitTimer: SocketTimer;
  private readonly delackTimer: SocketTimer;
  /** TIME_WAIT and orphaned FIN_WAIT2. */
  private readonly keepTimer: SocketTimer;

  sendBuffer: TcpSendBuffer;
  readonly receiveQueue = new TcpReceiveQueue();
  receiveBuffer = TCP_RMEM_DEFAULT;
  /** SO_ERROR: an error not yet reported. */
  softError = 0;
  /** The last ICMP error about an established connection (sk_err_soft): a timeout reports it. */
  private softIcmpError = 0;
  /** RCV_SHUTDOWN (a FIN arrived or shutdown(SHUT_RD)) and SEND_SHUTDOWN. */
  rcvShutdown = false;
  sendShutdown = false;
  /** close() was called: nobody will read or write again. */
  orphan = false;
  /** A write found the buffer full (SOCK_NOSPACE): wake the writer when space frees up. */
  private noSpace = false;

  // Listening sockets.
  backlog = 0;
  readonly acceptQueue: TcpSocket[] = [];
  /** Connections in SYN_RECV (the request queue). */
  readonly synQueue: TcpSocket[] = [];
  /** When the SYN queue last overflowed into cookies (-1: never). */
  private lastSynOverflow = -1;
  /** The listener a connection in SYN_RECV or in the accept queue came from. */
  parent: TcpSocket | null = null;

  private iface: NetInterface | null = null;
  private nextHop = 0;
  /** Address of this connection's control block (struct tcp_sock on Linux) in the host's ConnectionMemory (-1: none, or freed). */
  private sockMem = -1;
  /** The control block's layout (the stack's when the socket was made: what it allocated). */
  private readonly layout: SockLayout;

  constructor(readonly stack: NetStack) {
    this.sendBuffer = new TcpSendBuffer(TCP_WMEM_DEFAULT);
    this.layout = stack.sockLayout;
    if (stack.memory !== null) this.sockMem = stack.memory.allocate(this.layout.bytes);
    this.retransmitTimer = new SocketTimer(stack.timers, stack.counters, () => this.onRetransmitTimer());
    this.delackTimer = new SocketTimer(stack.timers, stack.counters, () => this.onDelackTimer());
    this.keepTimer = new SocketTimer(stack.timers, stack.counters, () => this.onKeepTimer());
    stack.counters.Work.SocketsCreated++;
  }

  get stateName(): string {
    return tcpStateName(this.state);
  }

  // ---------------------------------------------------------------------------------------------
  // The socket API.

  bind(addr: number, port: number): number {
    if (this.state !== TCP_CLOSE || this.localPort !== 0) return -EINVAL;
    if (addr !== INADDR_ANY && !this.stack.isLocalAddress(addr)) return -EADDRNOTAVAIL;
    const r = this.stack.tcpTable.bind(this, addr >>> 0, port);
    if (r === 0) this.userBound = true;
    return r;
  }

  listen(backlog: number): number {
    if (this.state !== TCP_CLOSE && this.state !== TCP_LISTEN) return -EINVAL;
    if (this.localPort === 0) {
      const r = this.stack.tcpTable.bind(this, INADDR_ANY, 0);
      if (r !== 0) return r;
    }
    this.backlog = Math.min(Math.max(backlog | 0, 0), SOMAXCONN);
    this.setState(TCP_LISTEN);
    return 0;
  }

  /** Starts the handshake: -EINPROGRESS, then `onWake` with POLLOUT (connected) or POLLERR. */
  connect(addr: number, port: number): number {
    if (this.state === TCP_SYN_SENT) return -EALREADY;
    if (this.state !== TCP_CLOSE) return -EISCONN;
    if (port <= 0 || port > 0xffff) return -ECONNREFUSED;
    const route = this.stack.route(addr >>> 0);
    if (route === null) {
      this.stack.counters.Ip.OutNoRoutes++;
      return -ENETUNREACH;
    }
    this.iface = route.iface;
    this.nextHop = route.nextHop;
    const src = this.localAddr === INADDR_ANY ? route.iface.address : this.localAddr;
    if (this.localPort === 0) {
      const r = this.stack.tcpTable.bindEphemeral(this, INADDR_ANY, addr >>> 0, port);
      if (r !== 0) return r;
    }
    this.localAddr = src;
    this.remoteAddr = addr >>> 0;
    this.remotePort = port;
    if (this.stack.tcpTable.lookupConnection(this.remoteAddr, port, src, this.localPort) !== null) return -EADDRNOTAVAIL;
    this.softError = 0;
    this.rcvShutdown = false;
    this.sendShutdown = false;
    this.initSequenceSpace();
    this.chooseWindowScale();
    this.stack.tcpTable.hash(this);
    this.setState(TCP_SYN_SENT);
    this.stack.counters.Tcp.ActiveOpens++;
    this.sendSyn(false);
    this.retransmitTimer.set(this.now() + this.rto.rto);
    return -EINPROGRESS;
  }

  /** A connection from the accept queue, or -EAGAIN. */
  accept(): TcpSocket | number {
    if (this.state !== TCP_LISTEN) return -EINVAL;
    const child = this.acceptQueue.shift();
    if (child === undefined) return -EAGAIN;
    child.parent = null;
    return child;
  }

  /**
   * Copies what fits of `data` into the send buffer and transmits what the windows allow. Returns
   * the bytes taken, -EAGAIN when none fit, -EPIPE after shutdown(SHUT_WR) or a reset (the
   * kernel raises SIGPIPE), or the pending error.
   */
  send(data: Uint8Array): number {
    if (this.softError !== 0) return -this.takeError();
    if (this.sendShutdown) return -EPIPE;
    if (this.state === TCP_SYN_SENT || this.state === TCP_SYN_RECV) return -EAGAIN;
    if (this.state !== TCP_ESTABLISHED && this.state !== TCP_CLOSE_WAIT) {
      return this.state === TCP_CLOSE || this.state === TCP_LISTEN ? -ENOTCONN : -EPIPE;
    }
    if (data.length === 0) return 0;
    this.touch(this.layout.lines.sendmsg);
    const n = this.sendBuffer.push(data);
    if (n === 0) {
      this.noSpace = true;
      return -EAGAIN;
    }
    if (n < data.length) this.noSpace = true;
    this.stack.counters.Work.BytesCopiedFromUser += n;
    this.output();
    return n;
  }

  /**
   * Copies received bytes into `dst`: the count, 0 at end of stream (a FIN, SHUT_RD, or a
   * connection that ended), the pending error, or -EAGAIN. With `peek` the bytes stay queued.
   */
  recv(dst: Uint8Array, peek = false): number {
    if (this.state === TCP_LISTEN) return -ENOTCONN;
    this.touch(this.layout.lines.recvmsg);
    if (this.receiveQueue.length > 0) {
      const n = this.receiveQueue.read(dst, peek);
      this.stack.counters.Work.BytesCopiedToUser += n;
      if (!peek) this.windowUpdateAfterRead();
      return n;
    }
    if (this.softError !== 0) return -this.takeError();
    if (this.rcvShutdown) return 0;
    if (this.state === TCP_CLOSE) return -ENOTCONN;
    return -EAGAIN;
  }

  /** Bytes recv could return now (FIONREAD / SIOCINQ). */
  available(): number {
    return this.receiveQueue.length;
  }

  /** Bytes written and not yet acknowledged (SIOCOUTQ). */
  unacknowledged(): number {
    return this.sendBuffer.length;
  }

  /** shutdown(2): SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2. */
  shutdown(how: number): number {
    if (how < 0 || how > 2) return -EINVAL;
    if (this.state === TCP_LISTEN || this.state === TCP_CLOSE || this.state === TCP_SYN_SENT) {
      if (this.state === TCP_LISTEN && how !== 1) {
        this.closeListener();
        return 0;
      }
      return -ENOTCONN;
    }
    if (how !== 1) this.rcvShutdown = true;
    if (how !== 0) this.queueFin();
    this.wake();
    return 0;
  }

  /**
   * close(2) on the last reference (tcp_close): a listener resets its queued connections; unread
   * data makes it an abort (RST, TCPAbortOnClose, RFC 2525 §2.17); otherwise a FIN follows the
   * queued data and the connection finishes on its own, orphaned.
   */
  close(): void {
    this.orphan = true;
    this.onWake = null;
    switch (this.state) {
      case TCP_LISTEN:
        this.closeListener();
        return;
      case TCP_CLOSE:
        this.release();
        this.freeSockMemory();
        return;
      case TCP_SYN_SENT:
        this.done();
        return;
    }
    this.rcvShutdown = true;
    if (this.receiveQueue.length > 0) {
      this.stack.counters.TcpExt.TCPAbortOnClose++;
      this.sendResetAndDone();
      return;
    }
    this.queueFin();
    if (this.state === TCP_FIN_WAIT2) this.keepTimer.set(this.now() + TCP_FIN_TIMEOUT_NS);
  }

  /** close() with SO_LINGER {on, 0}: a reset instead of a FIN (TCPAbortOnLinger). */
  abort(): void {
    this.orphan = true;
    this.onWake = null;
    if (this.state === TCP_LISTEN) {
      this.closeListener();
      return;
    }
    if (this.isSynchronized()) {
      this.stack.counters.TcpExt.TCPAbortOnLinger++;
      this.sendResetAndDone();
    } else {
      this.done();
    }
  }

  /** SO_ERROR: returns and clears the pending error. */
  takeError(): number {
    const e = this.softError;
    this.softError = 0;
    return e;
  }

  /** SO_SNDBUF: the send buffer's capacity in bytes (the syscall layer applies Linux's doubling). */
  setSendBuffer(bytes: number): void {
    this.sendBuffer.resize(Math.max(bytes | 0, 2048));
  }

  /** SO_RCVBUF: the receive buffer, which bounds the advertised window. */
  setReceiveBuffer(bytes: number): void {
    this.receiveBuffer = Math.max(bytes | 0, 2048);
  }

  /**
   * An ICMP error quoting one of our segments (tcp_v4_err). While connecting it ends the attempt
   * with `errno`; afterwards it is a soft error (sk_err_soft), reported only if the connection
   * times out. False when the quoted sequence number is not in flight (a forgery, or stale).
   */
  icmpError(errno: number, seq: number): boolean {
    if (!(seqLe(this.sndUna, seq) && seqLt(seq, seqMax(this.sndNxt, seqAdd(this.sndUna, 1))))) return false;
    if (this.state === TCP_SYN_SENT || (this.state === TCP_SYN_RECV && this.parent === null)) {
      this.stack.counters.Tcp.AttemptFails++;
      this.fail(errno);
    } else {
      this.softIcmpError = errno;
    }
    return true;
  }

  /** What poll/epoll sees (tcp_poll). */
  poll(): number {
    this.touch(this.layout.lines.poll);
    const state = this.state;
    if (state === TCP_LISTEN) return this.acceptQueue.length > 0 ? POLLIN | POLLRDNORM : 0;
    let mask = 0;
    if ((this.rcvShutdown && this.sendShutdown) || state === TCP_CLOSE) mask |= POLLHUP;
    if (this.rcvShutdown) mask |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (state !== TCP_SYN_SENT && (state !== TCP_SYN_RECV || this.parent !== null)) {
      if (this.receiveQueue.length > 0) mask |= POLLIN | POLLRDNORM;
      if (!this.sendShutdown) {
        if (this.writable()) mask |= POLLOUT | POLLWRNORM;
      } else {
        mask |= POLLOUT | POLLWRNORM;
      }
    }
    if (this.softError !== 0) mask |= POLLERR;
    return mask;
  }

  /** The send window for testing and `ss -i`: cwnd, ssthresh, srtt, rto. */
  info(): { state: string; cwnd: number; ssthresh: number; srttNs: number; rtoNs: number; mss: number; sndWnd: number } {
    return {
      state: this.stateName, cwnd: this.cc.cwnd, ssthresh: this.cc.ssthresh, srttNs: this.rto.srtt,
      rtoNs: this.rto.rto, mss: this.mss, sndWnd: this.sndWnd,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Segment arrival (RFC 9293 §3.10.7).

  /** A segment for this socket's 4-tuple (or, for a listener, its port). */
  input(seg: TcpSegment): void {
    this.touch(seg.dataLen > 0 ? this.layout.lines.receiveData : this.layout.lines.receiveAck);
    switch (this.state) {
      case TCP_LISTEN:
        this.listenInput(seg);
        return;
      case TCP_SYN_SENT:
        this.synSentInput(seg);
        return;
      case TCP_CLOSE:
        return;
    }
    const flags = seg.flags;
    if (this.state === TCP_SYN_RECV && (flags & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN && seg.seq === this.irs) {
      // tcp_check_req: the peer repeats its SYN, so our SYN,ACK was lost; send it again now.
      this.retransmits++;
      this.sendSyn(true);
      return;
    }
    // First: the sequence number.
    if (!this.acceptable(seg)) {
      if ((flags & TH_RST) === 0) {
        if ((flags & TH_SYN) !== 0) {
          // tcp_validate_incoming: a SYN earns a challenge ACK whatever its sequence number.
          this.challengeAck();
          return;
        }
        if (this.state === TCP_TIME_WAIT && (flags & TH_FIN) !== 0) this.keepTimer.set(this.now() + TCP_TIMEWAIT_LEN_NS);
        this.sendAck();
      }
      return;
    }
    // Second: RST, accepted only at exactly RCV.NXT (RFC 5961 §3.2); elsewhere in the window it
    // earns a challenge ACK.
    if ((flags & TH_RST) !== 0) {
      if (seg.seq === this.rcvNxt) this.resetReceived();
      else this.challengeAck();
      return;
    }
    // Fourth: a SYN in a synchronized state (RFC 5961 §4).
    if ((flags & TH_SYN) !== 0) {
      this.challengeAck();
      return;
    }
    // Fifth: the ACK.
    if ((flags & TH_ACK) === 0) return;
    if (this.state === TCP_SYN_RECV) {
      if (!(seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt))) {
        this.stack.sendReset(this.iface!, this.nextHop, seg);
        return;
      }
      if (!this.synRecvEstablished(seg)) return;
    }
    if (!this.processAck(seg)) return;
    if (this.state === TCP_CLOSE) return;
    // Seventh and eighth: data and FIN.
    if (seg.dataLen > 0 || (flags & TH_FIN) !== 0) this.receiveSegment(seg);
    if (this.state === TCP_CLOSE) return;
    this.output();
  }

  private acceptable(seg: TcpSegment): boolean {
    const len = seg.segLen;
    const wnd = Math.max(seqDiff(this.rcvAdvRight, this.rcvNxt), 0);
    const seq = seg.seq;
    if (len === 0) {
      if (wnd === 0) return seq === this.rcvNxt;
      return seqLe(this.rcvNxt, seq) && seqLt(seq, seqAdd(this.rcvNxt, wnd));
    }
    if (wnd === 0) return false;
    const last = seqAdd(seq, len - 1);
    const end = seqAdd(this.rcvNxt, wnd);
    return (seqLe(this.rcvNxt, seq) && seqLt(seq, end)) || (seqLe(this.rcvNxt, last) && seqLt(last, end));
  }

  private listenInput(seg: TcpSegment): void {
    const flags = seg.flags;
    if ((flags & TH_RST) !== 0) return;
    const route = this.stack.route(seg.src);
    if (route === null) return;
    if ((flags & TH_ACK) !== 0) {
      if ((flags & TH_SYN) === 0 && this.cookieAck(seg, route)) return;
      this.stack.sendReset(route.iface, route.nextHop, seg);
      return;
    }
    if ((flags & TH_SYN) === 0) return;
    const c = this.stack.counters;
    // tcp_conn_request: a full accept queue drops the SYN (sk_acceptq_is_full: more than backlog).
    if (this.acceptQueue.length > this.backlog) {
      c.TcpExt.ListenOverflows++;
      c.TcpExt.ListenDrops++;
      return;
    }
    // The request queue holds at most backlog half-open connections; beyond that a SYN is
    // answered with a cookie (tcp_syncookies = 1, Linux's default) or dropped.
    if (this.synQueue.length >= Math.max(this.backlog, 1)) {
      if (this.stack.syncookies) {
        c.TcpExt.TCPReqQFullDoCookies++;
        this.lastSynOverflow = this.now();
        this.sendCookieSynAck(seg, route);
        return;
      }
      c.TcpExt.TCPReqQFullDrop++;
      c.TcpExt.ListenDrops++;
      return;
    }
    const child = this.newChild(seg, route);
    child.irs = seg.seq;
    child.rcvNxt = seqAdd(seg.seq, 1);
    child.rcvAdvRight = child.rcvNxt;
    child.rcvWup = child.rcvNxt;
    child.initSequenceSpace();
    child.negotiate(seg, seg.wscale >= 0);
    child.sndWnd = seg.window;
    child.maxSndWnd = seg.window;
    child.sndWl1 = seg.seq;
    child.sndWl2 = child.iss;
    child.setState(TCP_SYN_RECV);
    this.synQueue.push(child);
    this.stack.tcpTable.hash(child);
    this.stack.tcpTable.inheritPort(child);
    child.sendSyn(true);
    child.retransmitTimer.set(this.now() + child.rto.rto);
  }

  /** A connection for a segment reaching this listener: its addresses, options and route. */
  private newChild(seg: TcpSegment, route: NetRoute): TcpSocket {
    const child = new TcpSocket(this.stack);
    child.parent = this;
    child.reuseAddr = this.reuseAddr;
    child.noDelay = this.noDelay;
    child.receiveBuffer = this.receiveBuffer;
    if (this.sendBuffer.capacity !== TCP_WMEM_DEFAULT) child.setSendBuffer(this.sendBuffer.capacity);
    child.iface = route.iface;
    child.nextHop = route.nextHop;
    child.localAddr = seg.dst;
    child.localPort = seg.dstPort;
    child.remoteAddr = seg.src;
    child.remotePort = seg.srcPort;
    return child;
  }

  /** cookie_v4_init_sequence: a SYN,ACK whose ISN is the cookie, with only an MSS option; no state kept. */
  private sendCookieSynAck(seg: TcpSegment, route: NetRoute): void {
    const c = this.stack.counters;
    const iss = this.stack.synCookies.make(seg.src, seg.dst, seg.srcPort, seg.dstPort, seg.seq,
      seg.mss >= 0 ? seg.mss : TCP_DEFAULT_MSS, this.now());
    const frame = this.stack.allocFrame(TCP_HLEN + 4);
    const o = L4_OFF;
    putBe16(frame, o, seg.dstPort);
    putBe16(frame, o + 2, seg.srcPort);
    putBe32(frame, o + 4, iss);
    putBe32(frame, o + 8, seqAdd(seg.seq, 1));
    frame[o + 12] = ((TCP_HLEN + 4) / 4) << 4;
    frame[o + 13] = TH_SYN | TH_ACK;
    putBe16(frame, o + 14, Math.min(this.receiveBuffer, 0xffff));
    frame[o + 20] = TCPOPT_MSS;
    frame[o + 21] = 4;
    putBe16(frame, o + 22, route.iface.mtu - IP_TCP_OVERHEAD);
    putBe16(frame, o + 16, internetChecksum(frame, o, TCP_HLEN + 4, pseudoHeaderSum(seg.dst, seg.src, IPPROTO_TCP, TCP_HLEN + 4)));
    c.Tcp.OutSegs++;
    c.TcpExt.SyncookiesSent++;
    this.stack.ipOutput(route.iface, route.nextHop, frame, seg.dst, seg.src, IPPROTO_TCP, TCP_HLEN + 4);
  }

  /**
   * cookie_v4_check: an ACK for a listener may complete a handshake answered with a cookie —
   * only within two minutes of a SYN queue overflow (tcp_synq_no_recent_overflow). True when the
   * segment was taken (a connection made, or dropped for a full accept queue).
   */
  private cookieAck(seg: TcpSegment, route: NetRoute): boolean {
    if (!this.stack.syncookies || this.lastSynOverflow < 0 || this.now() - this.lastSynOverflow >= TCP_SYNCOOKIE_VALID_NS) return false;
    const c = this.stack.counters;
    const irs = seqAdd(seg.seq, -1 >>> 0);
    const iss = seqAdd(seg.ack, -1 >>> 0);
    const mss = this.stack.synCookies.check(seg.src, seg.dst, seg.srcPort, seg.dstPort, irs, iss, this.now());
    if (mss === 0) {
      c.TcpExt.SyncookiesFailed++;
      return false;
    }
    c.TcpExt.SyncookiesRecv++;
    if (this.acceptQueue.length > this.backlog) {
      c.TcpExt.ListenOverflows++;
      c.TcpExt.ListenDrops++;
      return true;
    }
    const child = this.newChild(seg, route);
    child.irs = irs;
    child.rcvNxt = seg.seq;
    child.rcvWup = seg.seq;
    child.rcvAdvRight = seqAdd(seg.seq, Math.min(this.receiveBuffer, 0xffff));
    child.iss = iss;
    child.sndUna = seg.ack;
    child.sndNxt = seg.ack;
    child.sndMax = seg.ack;
    child.bufSeq = seg.ack;
    child.sndSml = seg.ack;
    child.advMss = route.iface.mtu - IP_TCP_OVERHEAD;
    child.mss = Math.min(mss, child.advMss);
    child.rcvMss = Math.min(child.mss, TCP_DEFAULT_MSS);
    child.sndWnd = seg.window;
    child.maxSndWnd = seg.window;
    child.sndWl1 = seg.seq;
    child.sndWl2 = seg.ack;
    this.stack.tcpTable.hash(child);
    this.stack.tcpTable.inheritPort(child);
    child.setEstablished();
    c.Tcp.PassiveOpens++;
    this.acceptQueue.push(child);
    this.wake();
    if (seg.dataLen > 0 || (seg.flags & TH_FIN) !== 0) child.input(seg);
    return true;
  }

  private synSentInput(seg: TcpSegment): void {
    const flags = seg.flags;
    if ((flags & TH_ACK) !== 0 && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt))) {
      if ((flags & TH_RST) === 0) this.stack.sendReset(this.iface!, this.nextHop, seg);
      return;
    }
    if ((flags & TH_RST) !== 0) {
      if ((flags & TH_ACK) !== 0) {
        this.stack.counters.Tcp.AttemptFails++;
        this.fail(ECONNREFUSED);
      }
      return;
    }
    if ((flags & TH_SYN) === 0) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdvRight = this.rcvNxt;
    this.rcvWup = this.rcvNxt;
    this.negotiate(seg, this.offeredWscale && seg.wscale >= 0);
    if ((flags & TH_ACK) === 0) {
      // Simultaneous open (RFC 9293 figure 7): answer with SYN,ACK from the same ISS.
      this.setState(TCP_SYN_RECV);
      this.sndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sendSyn(true);
      return;
    }
    if (this.rttTiming) this.rto.sample(this.now() - this.rttStart);
    this.rttTiming = false;
    this.sndUna = seg.ack;
    this.bufSeq = seg.ack;
    this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.retransmits = 0;
    this.retransmitTimer.clear();
    this.setEstablished();
    this.sendAck();
    this.wake();
    this.output();
  }

  /** The handshake's last ACK reached a SYN_RECV connection. False: the segment is dropped. */
  private synRecvEstablished(seg: TcpSegment): boolean {
    const parent = this.parent;
    const c = this.stack.counters;
    if (parent !== null) {
      if (parent.state !== TCP_LISTEN) {
        this.sendResetAndDone();
        return false;
      }
      // tcp_v4_syn_recv_sock: with the accept queue full the ACK is ignored (tcp_abort_on_overflow
      // = 0); the SYN,ACK timer goes on and a later ACK may find room.
      if (parent.acceptQueue.length > parent.backlog) {
        c.TcpExt.ListenOverflows++;
        c.TcpExt.ListenDrops++;
        return false;
      }
    }
    if (this.rttTiming) this.rto.sample(this.now() - this.rttStart);
    this.rttTiming = false;
    this.sndUna = seg.ack;
    this.bufSeq = seg.ack;
    this.sndWnd = seg.window << this.sndWscale;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.retransmits = 0;
    this.retransmitTimer.clear();
    this.setEstablished();
    if (parent !== null) {
      c.Tcp.PassiveOpens++;
      removeFrom(parent.synQueue, this);
      parent.acceptQueue.push(this);
      parent.wake();
    } else {
      this.wake();
    }
    return true;
  }

  private setEstablished(): void {
    this.setState(TCP_ESTABLISHED);
    this.cc = new RenoCongestion(this.mss);
    this.cc.recover = this.iss; // RFC 6582 §3.2: recover starts at ISS
  }

  /** tcp_set_state: CurrEstab counts connections in ESTABLISHED, as Linux keeps it. */
  private setState(state: number): void {
    const c = this.stack.counters.Tcp;
    if (this.state === TCP_ESTABLISHED && state !== TCP_ESTABLISHED) c.CurrEstab--;
    else if (state === TCP_ESTABLISHED && this.state !== TCP_ESTABLISHED) c.CurrEstab++;
    this.state = state;
  }

  /** MSS and window scale from the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2). */
  private negotiate(seg: TcpSegment, scale: boolean): void {
    const ourMss = this.iface!.mtu - IP_TCP_OVERHEAD;
    this.advMss = ourMss;
    this.mss = Math.max(Math.min(seg.mss >= 0 ? seg.mss : TCP_DEFAULT_MSS, ourMss), 64);
    this.rcvMss = Math.min(this.mss, TCP_DEFAULT_MSS);
    if (scale) {
      this.sndWscale = seg.wscale;
      if (!this.offeredWscale) this.chooseWindowScale();
      this.offeredWscale = true;
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
      this.offeredWscale = false;
    }
  }

  private chooseWindowScale(): void {
    let shift = 0;
    const space = Math.max(this.receiveBuffer, TCP_RMEM_MAX);
    while (shift < TCP_MAX_WSCALE && space >>> shift > 0xffff) shift++;
    this.rcvWscale = shift;
    this.offeredWscale = true;
    this.advMss = this.iface!.mtu - IP_TCP_OVERHEAD;
  }

  private initSequenceSpace(): void {
    const now = this.now();
    this.iss = this.stack.isn.isn(this.localAddr, this.remoteAddr, this.localPort, this.remotePort, now);
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.bufSeq = this.sndNxt;
    this.sndSml = this.sndUna;
    this.rto.rto = this.rto.base();
  }

  /**
   * The ACK field (RFC 9293 §3.10.7.4 fifth step, RFC 5961 §5). Returns false when the segment
   * is to be dropped.
   */
  private processAck(seg: TcpSegment): boolean {
    const ack = seg.ack;
    const c = this.stack.counters;
    if (seqGt(ack, this.sndMax)) {
      // Acknowledges something not yet sent.
      this.challengeAck();
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd >>> 0)) && this.maxSndWnd > 0) {
      this.challengeAck();
      return false;
    }
    const window = seg.window << this.sndWscale;
    const windowChanged = window !== this.sndWnd;
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
    }
    if (seqGt(ack, this.sndUna)) {
      const acked = seqDiff(ack, this.sndUna);
      const dataAcked = Math.min(Math.max(seqDiff(ack, this.bufSeq), 0), this.sendBuffer.length);
      if (dataAcked > 0) {
        this.sendBuffer.drop(dataAcked);
        this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      }
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      if (this.rttTiming && seqGe(ack, this.rttSeq)) {
        this.rto.sample(this.now() - this.rttStart);
        this.rttTiming = false;
      }
      this.retransmits = 0;
      const cc = this.cc;
      if (cc.inRecovery) {
        if (seqGe(ack, cc.recover)) {
          cc.exitRecovery(seqDiff(this.sndMax, this.sndUna));
        } else {
          // RFC 6582: a partial ACK — the next hole is lost too; resend it at once.
          cc.partialAck(acked);
          this.retransmitHead(false);
        }
      } else {
        cc.dupAcks = 0;
        cc.onAck(acked);
      }
      if (this.sndUna === this.sndMax) this.retransmitTimer.clear();
      else this.retransmitTimer.set(this.now() + this.rto.rto);
      if (this.persist) this.persist = false;
      this.ackedOurFin();
      if (this.noSpace && this.writable()) {
        this.noSpace = false;
        this.wake();
      }
    } else if (ack === this.sndUna && seg.dataLen === 0 && (seg.flags & (TH_SYN | TH_FIN)) === 0 &&
      !windowChanged && this.sndMax !== this.sndUna) {
      // A duplicate ACK (RFC 5681 §2): nothing new, no data, same window, data outstanding.
      const cc = this.cc;
      cc.dupAcks++;
      if (cc.inRecovery) {
        cc.inflate();
      } else if (cc.dupAcks === 3 && seqGt(ack, cc.recover)) {
        // RFC 6582 §3.2 step 1: not again for losses of the window already recovered.
        cc.enterRecovery(seqDiff(this.sndMax, this.sndUna), this.sndMax);
        c.TcpExt.TCPFastRetrans++;
        this.rttTiming = false;
        this.retransmitHead(false);
      }
    } else if (this.persist && this.sndWnd > 0) {
      this.persist = false;
      this.retransmitTimer.clear();
    }
    if (seg.dataLen === 0 && (seg.flags & (TH_SYN | TH_FIN)) === 0) c.TcpExt.TCPPureAcks++;
    return true;
  }

  /** Our FIN is acknowledged: FIN_WAIT1 → FIN_WAIT2, CLOSING → TIME_WAIT, LAST_ACK → CLOSED. */
  private ackedOurFin(): void {
    if (!this.finQueued || !seqGt(this.sndUna, this.finSeq())) return;
    switch (this.state) {
      case TCP_FIN_WAIT1:
        this.setState(TCP_FIN_WAIT2);
        if (this.orphan) this.keepTimer.set(this.now() + TCP_FIN_TIMEOUT_NS);
        this.wake();
        break;
      case TCP_CLOSING:
        this.enterTimeWait();
        break;
      case TCP_LAST_ACK:
        this.done();
        break;
    }
  }

  /** Data and FIN of an acceptable segment (RFC 9293 seventh and eighth steps). */
  private receiveSegment(seg: TcpSegment): void {
    const state = this.state;
    let fin = (seg.flags & TH_FIN) !== 0;
    if (state !== TCP_ESTABLISHED && state !== TCP_FIN_WAIT1 && state !== TCP_FIN_WAIT2) return;
    let seq = seg.seq;
    let data = seg.frame.subarray(seg.dataOff, seg.dataOff + seg.dataLen);
    if (this.orphan && data.length > 0 && seqGt(seqAdd(seq, data.length), this.rcvNxt)) {
      // tcp_rcv_state_process: new data for a socket nobody will read.
      this.stack.counters.TcpExt.TCPAbortOnData++;
      this.sendResetAndDone();
      return;
    }
    if (data.length > this.rcvMss) this.rcvMss = Math.min(data.length, this.advMss);
    // Trim what was received already and what lies beyond the window.
    if (seqLt(seq, this.rcvNxt)) {
      const skip = seqDiff(this.rcvNxt, seq);
      data = skip >= data.length ? data.subarray(data.length) : data.subarray(skip);
      seq = this.rcvNxt;
    }
    const room = seqDiff(seqMax(this.rcvAdvRight, this.rcvNxt), seq);
    if (data.length > room) {
      data = data.subarray(0, Math.max(room, 0));
      fin = false;
    }
    const now = this.now();
    if (seq !== this.rcvNxt) {
      // Out of order: keep it, and tell the sender at once (RFC 5681 §4.2: a duplicate ACK).
      const q = this.receiveQueue;
      if (q.oooBytes + (q.outOfOrderSegments + 1) * OOO_SEGMENT_OVERHEAD + data.length > this.receiveBuffer) {
        this.stack.counters.TcpExt.TCPOFODrop++;
      } else if (this.receiveQueue.insertOutOfOrder(seq, data, fin)) {
        this.stack.counters.TcpExt.TCPOFOQueue++;
      }
      this.sendAck();
      return;
    }
    const filledGap = this.receiveQueue.hasOutOfOrder;
    if (data.length > 0) {
      this.receiveQueue.append(data);
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      this.updateAto(now);
    }
    if (filledGap) {
      this.rcvNxt = this.receiveQueue.drainOutOfOrder(this.rcvNxt);
      if (this.receiveQueue.finReached) {
        fin = false;
        this.finReceived();
      }
    }
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.finReceived();
    }
    if (this.state === TCP_CLOSE) return;
    if (fin || filledGap || this.state === TCP_TIME_WAIT || this.state === TCP_CLOSING) {
      this.sendAck();
    } else if (data.length > 0) {
      this.scheduleAck();
    }
    if (data.length > 0 || fin || filledGap) this.wake();
  }

  private finReceived(): void {
    this.rcvShutdown = true;
    this.receiveQueue.dropOutOfOrder();
    switch (this.state) {
      case TCP_ESTABLISHED:
        this.setState(TCP_CLOSE_WAIT);
        break;
      case TCP_FIN_WAIT1:
        this.setState(TCP_CLOSING);
        break;
      case TCP_FIN_WAIT2:
        this.keepTimer.clear();
        this.enterTimeWait();
        break;
    }
  }

  /** tcp_event_data_recv: the ACK timeout follows the gaps between arriving segments. */
  private updateAto(now: number): void {
    if (this.ato === 0) {
      // The first data: start in quick-ACK mode so the sender's slow start is not held back.
      this.incrQuickAck();
      this.ato = TCP_ATO_MIN_NS;
    } else {
      const m = now - this.lastRcvTime;
      if (m <= TCP_ATO_MIN_NS / 2) this.ato = this.ato / 2 + TCP_ATO_MIN_NS / 2;
      else if (m < this.ato) this.ato = Math.min(this.ato / 2 + m, this.rto.rto);
      else if (m > this.rto.rto) this.incrQuickAck(); // after an idle spell, as at the start
    }
    this.lastRcvTime = now;
  }

  /** tcp_incr_quickack: up to TCP_MAX_QUICKACKS (16) immediate ACKs, at most half a window's worth of segments. */
  private incrQuickAck(): void {
    const wnd = Math.max(seqDiff(this.rcvAdvRight, this.rcvNxt), 0);
    let quick = Math.floor(wnd / (2 * this.rcvMss));
    if (quick === 0) quick = 2;
    quick = Math.min(quick, TCP_MAX_QUICKACKS);
    if (quick > this.quickAcks) this.quickAcks = quick;
  }

  /**
   * __tcp_ack_snd_check: ACK at once when more than one full segment is unacknowledged (RFC 1122
   * §4.2.3.2's "every second full-sized segment"); otherwise within the delayed-ACK timeout.
   */
  private scheduleAck(): void {
    if (seqDiff(this.rcvNxt, this.rcvWup) > this.rcvMss || (this.quickAcks > 0 && !this.pingpong)) {
      this.sendAck();
      return;
    }
    this.ackPending = true;
    if (this.delackTimer.armed) return; // never later than the ACK already promised
    // tcp_send_delayed_ack: ato bounded by the smoothed RTT (at least TCP_DELACK_MIN) and
    // TCP_DELACK_MAX.
    let ato = this.ato;
    if (ato > TCP_ATO_MIN_NS) {
      let maxAto = TCP_DELACK_MAX_NS;
      if (this.rto.hasSample) maxAto = Math.min(maxAto, Math.max(this.rto.srtt, TCP_ATO_MIN_NS));
      ato = Math.min(ato, maxAto);
    }
    this.delackTimer.set(this.now() + Math.round(ato));
  }

  /** tcp_cleanup_rbuf: a read that at least doubles the open window is announced at once. */
  private windowUpdateAfterRead(): void {
    if (!this.isSynchronized() || this.rcvShutdown) return;
    const now = Math.max(seqDiff(this.rcvAdvRight, this.rcvNxt), 0);
    if (2 * now > this.receiveBuffer) return;
    const next = this.selectWindow();
    if (next > 0 && next >= 2 * now) this.sendAck();
  }

  private resetReceived(): void {
    switch (this.state) {
      case TCP_SYN_RECV:
        if (this.parent !== null) {
          this.done();
          return;
        }
        this.fail(ECONNREFUSED);
        return;
      case TCP_ESTABLISHED:
      case TCP_CLOSE_WAIT:
        this.stack.counters.Tcp.EstabResets++;
        this.fail(this.state === TCP_CLOSE_WAIT ? EPIPE : ECONNRESET);
        return;
      case TCP_FIN_WAIT1:
      case TCP_FIN_WAIT2:
        this.fail(ECONNRESET);
        return;
      default: // CLOSING, LAST_ACK, TIME_WAIT
        this.done();
    }
  }

  /** RFC 5961 §3.2 and §4: answer with an ACK that tells a genuine peer where we are. */
  private challengeAck(): void {
    this.stack.counters.TcpExt.TCPChallengeACK++;
    this.sendAck();
  }

  // ---------------------------------------------------------------------------------------------
  // Transmission.

  /** Sends new data (and a FIN) as the send window, the congestion window and Nagle allow. */
  output(): void {
    const state = this.state;
    if (state !== TCP_ESTABLISHED && state !== TCP_CLOSE_WAIT && state !== TCP_FIN_WAIT1 &&
      state !== TCP_CLOSING && state !== TCP_LAST_ACK) return;
    const finSeq = this.finQueued ? this.finSeq() : -1;
    for (;;) {
      const offset = seqDiff(this.sndNxt, this.bufSeq);
      const avail = this.sendBuffer.length - offset;
      const finDue = this.finQueued && seqLe(this.sndNxt, finSeq) && offset <= this.sendBuffer.length;
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const sendWindow = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const cwndRoom = this.cc.cwnd - inFlight;
      let len = Math.min(avail, this.mss, sendWindow, cwndRoom);
      if (len < 0) len = 0;
      const fin = finDue && len === avail && cwndRoom > 0;
      if (len === 0 && !fin) break;
      // Minshall's Nagle (tcp_nagle_check): hold a partial segment while an earlier partial one
      // is unacknowledged, unless TCP_NODELAY or the FIN says this is the last.
      if (len < this.mss && len > 0 && !this.noDelay && !fin && seqGt(this.sndSml, this.sndUna)) break;
      this.transmitData(this.sndNxt, len, fin);
      this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
      this.sndMax = seqMax(this.sndMax, this.sndNxt);
      if (fin) break;
    }
    if (this.sndUna !== this.sndMax) {
      if (!this.retransmitTimer.armed || this.persist) {
        this.persist = false;
        this.retransmitTimer.set(this.now() + this.rto.rto);
      }
    } else if (this.sndWnd === 0 && (this.sendBuffer.length > seqDiff(this.sndNxt, this.bufSeq) ||
      (this.finQueued && seqLe(this.sndNxt, finSeq)))) {
      // Zero window with data waiting: the persist timer (RFC 9293 §3.8.6.1).
      if (!this.persist) {
        this.persist = true;
        this.retransmitTimer.set(this.now() + this.rto.rto);
      }
    }
  }

  /** One segment of new or old data at `seq`, with the current ACK and window. */
  private transmitData(seq: number, len: number, fin: boolean): void {
    const c = this.stack.counters;
    let flags = TH_ACK;
    const offset = seqDiff(seq, this.bufSeq);
    if (len > 0 && offset + len === this.sendBuffer.length) flags |= TH_PSH;
    if (fin) flags |= TH_FIN;
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    if (seqLt(seq, this.sndMax)) {
      c.Tcp.RetransSegs++;
      this.rttTiming = false; // Karn: no sample from a retransmitted range
    } else {
      c.Tcp.OutSegs++;
      // tcp_event_data_sent: data sent within ato of the last arrival looks like a reply
      // (tcp_pingpong_thresh = 1): from now on ACKs wait to ride on replies.
      if (len > 0 && this.ato !== 0 && this.now() - this.lastRcvTime < this.ato) this.pingpong = true;
      if (!this.rttTiming && len + (fin ? 1 : 0) > 0) {
        this.rttTiming = true;
        this.rttSeq = end;
        this.rttStart = this.now();
      }
    }
    if (len > 0 && len < this.mss) this.sndSml = end;
    const frame = this.buildSegment(seq, flags, len, 0);
    if (len > 0) this.sendBuffer.copyOut(offset, frame, L4_OFF + TCP_HLEN, len);
    this.finishSegment(frame, TCP_HLEN + len);
  }

  /**
   * Retransmits the first unacknowledged segment (fast retransmit, a partial ACK, a timeout).
   * After a timeout (`rewind`) SND.NXT restarts from there, go-back-N, since without SACK every
   * later segment may be lost too.
   */
  private retransmitHead(rewind: boolean): void {
    const offset = seqDiff(this.sndUna, this.bufSeq);
    const avail = Math.max(this.sendBuffer.length - offset, 0);
    const outstandingData = Math.min(avail, Math.max(seqDiff(this.sndMax, this.sndUna), 0));
    const len = Math.min(outstandingData, this.mss);
    const fin = this.finQueued && len === avail && seqGe(this.sndMax, seqAdd(this.finSeq(), 1));
    if (len === 0 && !fin) return;
    this.transmitData(this.sndUna, len, fin);
    if (rewind) this.sndNxt = seqAdd(this.sndUna, len + (fin ? 1 : 0));
    this.retransmitTimer.set(this.now() + this.rto.rto);
  }

  /** SYN (active open) or SYN,ACK (passive or simultaneous open) with MSS and window scale. */
  private sendSyn(withAck: boolean): void {
    const c = this.stack.counters;
    if (this.retransmits > 0) {
      c.Tcp.RetransSegs++;
      c.TcpExt.TCPSynRetrans++;
      this.rttTiming = false;
    } else {
      c.Tcp.OutSegs++;
      this.rttTiming = true;
      this.rttSeq = seqAdd(this.iss, 1);
      this.rttStart = this.now();
    }
    const scale = this.offeredWscale;
    const optLen = scale ? SYN_OPTIONS_LEN : 4;
    const frame = this.buildSegment(this.iss, withAck ? TH_SYN | TH_ACK : TH_SYN, 0, optLen);
    const o = L4_OFF + TCP_HLEN;
    frame[o] = TCPOPT_MSS;
    frame[o + 1] = 4;
    putBe16(frame, o + 2, this.advMss);
    if (scale) {
      frame[o + 4] = TCPOPT_NOP;
      frame[o + 5] = TCPOPT_WINDOW;
      frame[o + 6] = 3;
      frame[o + 7] = this.rcvWscale;
    }
    this.finishSegment(frame, TCP_HLEN + optLen);
  }

  /** A bare ACK with the current window. */
  sendAck(): void {
    if (this.iface === null) return;
    const c = this.stack.counters;
    c.Tcp.OutSegs++;
    c.Work.AcksSent++;
    const frame = this.buildSegment(this.sndNxt, TH_ACK, 0, 0);
    this.finishSegment(frame, TCP_HLEN);
  }

  /** The zero-window probe Linux sends (tcp_xmit_probe_skb): an old sequence number, no data. */
  private sendWindowProbe(): void {
    const c = this.stack.counters;
    c.Tcp.OutSegs++;
    c.TcpExt.TCPWinProbe++;
    const frame = this.buildSegment(seqAdd(this.sndUna, -1 >>> 0), TH_ACK, 0, 0);
    this.finishSegment(frame, TCP_HLEN);
  }

  private sendResetAndDone(): void {
    if (this.iface !== null && this.isSynchronized()) {
      const c = this.stack.counters;
      c.Tcp.OutSegs++;
      c.Tcp.OutRsts++;
      const frame = this.buildSegment(this.sndNxt, TH_RST | TH_ACK, 0, 0);
      this.finishSegment(frame, TCP_HLEN);
    }
    this.done();
  }

  /** A frame with the TCP header filled in except the checksum; the window is advertised now. */
  private buildSegment(seq: number, flags: number, dataLen: number, optLen: number): Uint8Array {
    const hlen = TCP_HLEN + optLen;
    this.touch(this.layout.lines.transmit);
    const frame = this.stack.allocFrame(hlen + dataLen);
    const o = L4_OFF;
    putBe16(frame, o, this.localPort);
    putBe16(frame, o + 2, this.remotePort);
    putBe32(frame, o + 4, seq);
    let window: number;
    if ((flags & TH_SYN) !== 0) {
      window = Math.min(this.selectWindow(), 0xffff);
      this.rcvAdvRight = seqAdd(this.rcvNxt, window);
    } else {
      window = this.selectWindow();
      this.rcvAdvRight = seqAdd(this.rcvNxt, window);
      window = window >>> this.rcvWscale;
    }
    if ((flags & TH_ACK) !== 0) {
      putBe32(frame, o + 8, this.rcvNxt);
      if (this.quickAcks > 0) this.quickAcks--; // tcp_event_ack_sent
      this.rcvWup = this.rcvNxt;
      this.ackPending = false;
      this.delackTimer.clear();
    }
    frame[o + 12] = (hlen / 4) << 4;
    frame[o + 13] = flags;
    putBe16(frame, o + 14, Math.min(window, 0xffff));
    return frame;
  }

  private finishSegment(frame: Uint8Array, tcpLen: number): void {
    const o = L4_OFF;
    const sum = pseudoHeaderSum(this.localAddr, this.remoteAddr, IPPROTO_TCP, tcpLen);
    putBe16(frame, o + 16, internetChecksum(frame, o, tcpLen, sum));
    this.stack.ipOutput(this.iface!, this.nextHop, frame, this.localAddr, this.remoteAddr, IPPROTO_TCP, tcpLen);
  }

  /**
   * The window to advertise: free receive buffer, never moving the right edge left (RFC 9293
   * §3.8.6.2.2, Linux's tcp_select_window), and not opened by less than min(buffer/2, MSS)
   * (receiver-side silly window avoidance, RFC 1122 §4.2.3.3).
   */
  private selectWindow(): number {
    const q = this.receiveQueue;
    const free = Math.max(this.receiveBuffer - q.length - q.oooBytes, 0);
    const granule = 1 << this.rcvWscale;
    let win = Math.floor(free / granule) * granule;
    const current = Math.max(seqDiff(this.rcvAdvRight, this.rcvNxt), 0);
    if (win > current && win - current < Math.min(this.receiveBuffer / 2, this.advMss) && win < this.receiveBuffer) {
      win = current;
    }
    if (win < current) win = Math.ceil(current / granule) * granule;
    return Math.min(win, 0xffff << this.rcvWscale);
  }

  // ---------------------------------------------------------------------------------------------
  // Timers.

  private onRetransmitTimer(): void {
    const c = this.stack.counters;
    const state = this.state;
    if (state === TCP_SYN_SENT || state === TCP_SYN_RECV) {
      const limit = this.parent !== null ? TCP_SYNACK_RETRIES : TCP_SYN_RETRIES;
      if (this.retransmits >= limit) {
        if (this.parent !== null) {
          this.done();
        } else {
          c.TcpExt.TCPAbortOnTimeout++;
          c.Tcp.AttemptFails++;
          this.fail(this.softIcmpError !== 0 ? this.softIcmpError : ETIMEDOUT);
        }
        return;
      }
      this.retransmits++;
      this.rto.expired();
      c.TcpExt.TCPTimeouts++;
      this.sendSyn(state === TCP_SYN_RECV);
      this.retransmitTimer.set(this.now() + this.rto.rto);
      return;
    }
    if (this.persist) {
      this.sendWindowProbe();
      this.rto.expired();
      this.retransmitTimer.set(this.now() + Math.min(this.rto.rto, TCP_RTO_MAX_NS));
      return;
    }
    if (this.sndUna === this.sndMax) return;
    if (this.retransmits >= TCP_RETRIES2) {
      c.TcpExt.TCPAbortOnTimeout++;
      this.fail(this.softIcmpError !== 0 ? this.softIcmpError : ETIMEDOUT);
      return;
    }
    this.retransmits++;
    c.TcpExt.TCPTimeouts++;
    this.cc.onTimeout(seqDiff(this.sndMax, this.sndUna));
    this.cc.recover = this.sndMax;
    this.rto.expired();
    this.rttTiming = false;
    this.sndNxt = this.sndUna;
    this.retransmitHead(true);
  }

  private onDelackTimer(): void {
    if (!this.ackPending || !this.isSynchronized()) return;
    // tcp_delack_timer_handler: the ACK was not piggybacked in time. Outside ping-pong mode the
    // timeout inflates; in it, the exchange has stopped being interactive.
    if (!this.pingpong) {
      this.ato = Math.min(this.ato * 2, this.rto.rto);
    } else {
      this.pingpong = false;
      this.ato = TCP_ATO_MIN_NS;
    }
    this.stack.counters.TcpExt.DelayedACKs++;
    this.sendAck();
  }

  private onKeepTimer(): void {
    if (this.state === TCP_TIME_WAIT || this.state === TCP_FIN_WAIT2) this.done();
  }

  private enterTimeWait(): void {
    this.setState(TCP_TIME_WAIT);
    this.stack.counters.TcpExt.TW++;
    this.retransmitTimer.clear();
    this.delackTimer.clear();
    this.keepTimer.set(this.now() + TCP_TIMEWAIT_LEN_NS);
    this.wake();
  }

  // ---------------------------------------------------------------------------------------------
  // Ends.

  private queueFin(): void {
    if (this.sendShutdown) return;
    this.sendShutdown = true;
    switch (this.state) {
      case TCP_ESTABLISHED:
      case TCP_SYN_RECV:
        this.setState(TCP_FIN_WAIT1);
        break;
      case TCP_CLOSE_WAIT:
        this.setState(TCP_LAST_ACK);
        break;
      default:
        return;
    }
    this.finQueued = true;
    this.output();
  }

  /** The sequence number our FIN occupies (valid once queued: no data follows it). */
  private finSeq(): number {
    return seqAdd(this.bufSeq, this.sendBuffer.length);
  }

  private closeListener(): void {
    const children = [...this.acceptQueue];
    this.acceptQueue.length = 0;
    for (const child of children) {
      child.parent = null;
      child.orphan = true;
      child.sendResetAndDone();
    }
    for (const child of [...this.synQueue]) {
      child.orphan = true;
      child.done();
    }
    this.setState(TCP_CLOSE);
    this.release();
    this.freeSockMemory();
  }

  /** The connection failed with `errno`: it is over and the owner is told (tcp_reset, tcp_done). */
  private fail(errno: number): void {
    this.softError = errno;
    this.done();
  }

  /** tcp_done: the connection is gone from the tables and its timers stop. */
  done(): void {
    if (this.parent !== null) {
      removeFrom(this.parent.synQueue, this);
      removeFrom(this.parent.acceptQueue, this);
      this.parent = null;
    }
    const wasHashed = this.state !== TCP_CLOSE && this.state !== TCP_LISTEN;
    this.setState(TCP_CLOSE);
    this.rcvShutdown = true;
    this.sendShutdown = true;
    this.retransmitTimer.clear();
    this.delackTimer.clear();
    this.keepTimer.clear();
    this.persist = false;
    if (wasHashed) this.stack.tcpTable.unhash(this);
    if (this.orphan || !this.userBound) this.release();
    this.receiveQueue.dropOutOfOrder();
    this.wake();
    if (this.orphan) this.freeSockMemory();
  }

  /** The path running now uses these lines of the control block (a cost only when the host has a ConnectionMemory). */
  private touch(lines: Uint8Array): void {
    const m = this.stack.memory;
    if (m !== null && this.sockMem >= 0) m.touchLines(this.sockMem, lines);
  }

  /** sk_free once nobody holds the socket: its memory goes back to the slab, to be reused first. */
  private freeSockMemory(): void {
    const m = this.stack.memory;
    if (m !== null && this.sockMem >= 0) m.free(this.sockMem, this.layout.bytes);
    this.sockMem = -1;
  }

  /** Gives the port back. */
  private release(): void {
    if (this.localPort !== 0) {
      this.stack.tcpTable.unbind(this);
      if (!this.isConnectedTuple()) this.localPort = 0;
    }
    this.userBound = false;
  }

  private isConnectedTuple(): boolean {
    return this.remotePort !== 0;
  }

  private isSynchronized(): boolean {
    const s = this.state;
    return s !== TCP_CLOSE && s !== TCP_LISTEN && s !== TCP_SYN_SENT;
  }

  /** sk_stream_is_writeable: free space at least half of what is queued. */
  private writable(): boolean {
    const b = this.sendBuffer;
    return b.free > 0 && b.free >= b.length / 2;
  }

  private wake(): void {
    const cb = this.onWake;
    if (cb === null) return;
    this.stack.counters.Work.Wakeups++;
    cb(this.poll());
  }

  private now(): number {
    return this.stack.timers.now();
  }
}

function removeFrom(list: TcpSocket[], s: TcpSocket): void {
  const i = list.indexOf(s);
  if (i >= 0) list.splice(i, 1);
}
