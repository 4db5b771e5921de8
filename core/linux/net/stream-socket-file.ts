import { injectable } from 'inversify';
import {
  ECONNABORTED, EFAULT, ENOTCONN, EPIPE, O_RDWR, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, S_IFSOCK,
} from '../linux-abi.js';
import type { Kernel } from '../kernel.js';
import { KStat, OpenFile, ReadSink, makedev, syntheticStat } from '../vfs.js';
import type { TcpSocket } from '../../net/tcp-socket.js';
import { TCP_CLOSE, TCP_CLOSE_WAIT, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_RECV, TCP_SYN_SENT } from '../../net/tcp-state.js';
import type { InetAddress } from './socket-file.js';
import type { EpollItem, EpollWaitQueue } from './epoll-file.js';
import type { ConnectionMemory } from '../../net/connection-memory.js';

const SOCKFS_DEV = makedev(0, 8);
const EMPTY = new Uint8Array(0);
/** The initial congestion window in segments (RFC 6928, TCP_INIT_CWND). */
const TCP_INIT_CWND = 10;
/** net.ipv4.tcp_wmem[2]: the most the kernel sizes a send buffer to. */
const TCP_WMEM_MAX = 4 * 1024 * 1024;

/**
 * struct socket_alloc (the socket and its inode, the "sock_inode_cache" slab: about 640 bytes on
 * x86-64 Linux 3.x) and struct file (the "filp" slab: 256 bytes). Every call on the socket looks
 * up the file (fdget: f_count, f_flags, f_op, private_data in its first line) and the socket
 * (state, flags, ops, sk in its first line); a wake-up goes through the socket's wait queue.
 */
const SOCKET_ALLOC_BYTES = 640;
const FILE_BYTES = 256;
const FIRST_LINE = Uint8Array.of(0);
const SOCKET_CALL_LINES = Uint8Array.of(0);
const SOCKET_WAKE_LINES = Uint8Array.of(1);

/** struct socket's state (include/linux/net.h), which connect() follows apart from the TCP state. */
export type SocketLayerState = 'unconnected' | 'connecting' | 'connected';

/**
 * A TCP socket of the guest under `--net sim` (struct socket over struct tcp_sock): a file over
 * the simulated stack's TcpSocket. The stack does the protocol and calls `onWake` when readiness
 * may have changed; this file turns that into the kernel's wake-ups (sk_data_ready and
 * sk_write_space wake the sleepers, and count for EPOLLET) and moves bytes between user memory
 * and the socket buffers, charging the copies to the CPU doing them.
 */
@injectable()
export class StreamSocketFile extends OpenFile implements EpollWaitQueue {
  readonly kind = 'socket';
  readonly ino: number;
  /** Options a program may set and read back, by level << 16 | name. */
  readonly options = new Map<number, number>();
  /** connect()'s view (sock->state): a non-blocking connect stays 'connecting' until connect() is asked again. */
  sockState: SocketLayerState = 'unconnected';
  /** SO_LINGER with l_onoff set and l_linger 0: close() resets instead of a FIN. */
  lingerAbort = false;
  /** SO_SNDBUF was set (SOCK_SNDBUF_LOCK): the kernel no longer sizes the send buffer. */
  sendBufferLocked = false;
  private bufferSpaceSized = false;
  private readWakeups = 0;
  private writeWakeups = 0;
  /** The epoll items hooked on this socket's wait queue. */
  private readonly watchers: EpollItem[] = [];
  readonly objectMemory: ConnectionMemory | undefined;
  private socketMem = -1;
  private fileMem = -1;

  constructor(readonly kernel: Kernel, public sock: TcpSocket, flags = O_RDWR) {
    super(flags);
    this.ino = kernel.nextSocketInode();
    sock.onWake = (mask) => this.onWake(mask);
    const m = kernel.simNet.memory;
    this.objectMemory = m;
    if (m !== undefined) {
      this.socketMem = m.allocate(SOCKET_ALLOC_BYTES);
      this.fileMem = m.allocate(FILE_BYTES);
    }
    if (sock.state === TCP_ESTABLISHED || sock.state === TCP_CLOSE_WAIT) {
      this.sockState = 'connected';
      this.initBufferSpace();
    }
  }

  /**
   * tcp_init_buffer_space → tcp_sndbuf_expand, when the connection is established: room for two
   * congestion windows of at least TCP_INIT_CWND segments, so that a writer is not held back by a
   * 16 KiB buffer before the window opens. Linux counts skb truesize against sk_sndbuf; this
   * buffer counts payload, so it is sized in payload: 2 · max(10, cwnd in segments) · MSS.
   */
  private initBufferSpace(): void {
    if (this.bufferSpaceSized) return;
    this.bufferSpaceSized = true;
    if (this.sendBufferLocked) return;
    const s = this.sock;
    const segs = Math.max(TCP_INIT_CWND, Math.floor(s.cc.cwnd / s.mss));
    const want = Math.min(2 * segs * s.mss, TCP_WMEM_MAX);
    if (want > s.sendBuffer.capacity) s.setSendBuffer(want);
  }

  override stat(): KStat {
    return syntheticStat(S_IFSOCK | 0o777, SOCKFS_DEV, this.ino);
  }

  get local(): InetAddress {
    return { addr: this.sock.localAddr, port: this.sock.localPort };
  }

  /** The peer, or undefined when there is none to report (inet_getname: not while closed or in SYN_SENT). */
  get peer(): InetAddress | undefined {
    const s = this.sock;
    if (s.remotePort === 0 || s.state === TCP_SYN_SENT || s.state === TCP_CLOSE) return undefined;
    return { addr: s.remoteAddr, port: s.remotePort };
  }

  get listening(): boolean {
    return this.sock.state === TCP_LISTEN;
  }

  /** Whether the handshake is still under way (connect() would wait). */
  get handshaking(): boolean {
    const st = this.sock.state;
    return st === TCP_SYN_SENT || st === TCP_SYN_RECV;
  }

  override available(): number {
    return this.sock.available();
  }

  override read(len: number, sink: ReadSink): number {
    return this.receive(len, sink, false);
  }

  /**
   * tcp_recvmsg: copies what is queued (up to `len`) out through `sink`, which writes user memory;
   * on a fault nothing is consumed (-EFAULT). 0 at end of stream, -EAGAIN when nothing is there.
   */
  receive(len: number, sink: ReadSink, peek: boolean): number {
    this.charge(this.kernel.costs.tcpRecvPath);
    this.touchCall();
    const avail = this.sock.available();
    if (avail === 0 || len === 0) return this.sock.recv(EMPTY, peek);
    const buf = new Uint8Array(Math.min(len, avail));
    this.sock.receiveQueue.read(buf, true);
    if (!sink(buf)) return -EFAULT;
    const n = this.sock.recv(buf, peek);
    this.chargeCopy(n);
    return n;
  }

  /**
   * tcp_sendmsg: what fits in the send buffer, -EAGAIN when nothing does (a blocking writer waits
   * for sk_write_space). A socket that never connected is -EPIPE, as sk_stream_wait_connect says.
   */
  override write(data: Uint8Array): number {
    this.charge(this.kernel.costs.tcpSendPath);
    this.touchCall();
    const n = this.sock.send(data);
    if (n > 0) this.chargeCopy(n);
    return n === -ENOTCONN ? -EPIPE : n;
  }

  override readReady(): boolean {
    if (this.listening) return this.sock.acceptQueue.length > 0;
    return (this.sock.poll() & (POLLIN | POLLERR | POLLHUP | POLLRDHUP)) !== 0;
  }

  override writeReady(): boolean {
    if (this.handshaking) return this.sock.softError !== 0;
    return (this.sock.poll() & (POLLOUT | POLLERR | POLLHUP)) !== 0;
  }

  override pollMask(): number {
    this.touchCall();
    return this.sock.poll();
  }

  addEpollWatcher(it: EpollItem): void {
    this.watchers.push(it);
  }

  removeEpollWatcher(it: EpollItem): void {
    const i = this.watchers.indexOf(it);
    if (i >= 0) this.watchers.splice(i, 1);
  }

  /** The file and socket lines every call on the socket uses. */
  private touchCall(): void {
    const m = this.objectMemory;
    if (m === undefined) return;
    if (this.fileMem >= 0) m.touchLines(this.fileMem, FIRST_LINE);
    if (this.socketMem >= 0) m.touchLines(this.socketMem, SOCKET_CALL_LINES);
  }

  override get readGeneration(): number {
    return this.readWakeups;
  }

  override get writeGeneration(): number {
    return this.writeWakeups;
  }

  /**
   * connect(AF_UNSPEC) (tcp_disconnect): a connection under way or established is reset, and the
   * file goes on with a fresh, unbound socket of the same stack, as Linux reuses the sock.
   */
  disconnect(): void {
    const old = this.sock;
    if (old.state === TCP_CLOSE && old.localPort === 0) return;
    old.onWake = null;
    old.abort();
    const fresh = old.stack.tcpSocket();
    fresh.noDelay = old.noDelay;
    fresh.reuseAddr = old.reuseAddr;
    fresh.onWake = (mask) => this.onWake(mask);
    this.sock = fresh;
    this.sockState = 'unconnected';
    this.bufferSpaceSized = false;
    this.onWake(fresh.poll());
  }

  /** The result connect() reports once the handshake is over: 0, or the error that ended it. */
  connectResult(): number {
    const st = this.sock.state;
    if (st === TCP_ESTABLISHED || st === TCP_CLOSE_WAIT) {
      this.sockState = 'connected';
      return 0;
    }
    this.sockState = 'unconnected';
    return -(this.sock.takeError() || ECONNABORTED);
  }

  /** sk_data_ready / sk_write_space / sk_state_change: wake whoever waits on this socket. */
  private onWake(mask: number): void {
    if (!this.bufferSpaceSized && (this.sock.state === TCP_ESTABLISHED || this.sock.state === TCP_CLOSE_WAIT)) this.initBufferSpace();
    if ((mask & (POLLIN | POLLERR | POLLHUP | POLLRDHUP)) !== 0) this.readWakeups++;
    if ((mask & (POLLOUT | POLLERR | POLLHUP)) !== 0) this.writeWakeups++;
    const m = this.objectMemory;
    if (m !== undefined && this.socketMem >= 0) m.touchLines(this.socketMem, SOCKET_WAKE_LINES);
    for (let i = 0; i < this.watchers.length; i++) this.watchers[i]!.wake();
    this.kernel.wakeSleepers();
  }

  private chargeCopy(bytes: number): void {
    this.charge(bytes * this.kernel.costs.copyUserPerByte);
  }

  /**
   * The protocol paths are charged here, per pass through tcp_recvmsg or tcp_sendmsg, whichever
   * system call got there (read, recvfrom, recvmsg; write, sendto, sendmsg), to the CPU running it.
   */
  private charge(cycles: number): void {
    const cpu = this.kernel.machine.running;
    if (cpu !== undefined) cpu.cycles += cycles;
  }

  /** The last close (tcp_close, or an abort with SO_LINGER 0); the connection may live on, orphaned. */
  protected override release(): void {
    this.sock.onWake = null;
    const st = this.sock.state;
    if (st === TCP_ESTABLISHED || st === TCP_CLOSE_WAIT) this.charge(this.kernel.costs.tcpClosePath);
    if (this.lingerAbort) this.sock.abort();
    else this.sock.close();
    // eventpoll_release: the items still watching go; then sock_release and the file's memory.
    for (const it of this.watchers.slice()) it.release();
    const m = this.objectMemory;
    if (m !== undefined) {
      if (this.socketMem >= 0) m.free(this.socketMem, SOCKET_ALLOC_BYTES);
      if (this.fileMem >= 0) m.free(this.fileMem, FILE_BYTES);
      this.socketMem = this.fileMem = -1;
    }
  }
}
