import { injectable } from 'inversify';
import { EFAULT, O_RDWR, POLLERR, POLLIN, POLLOUT, S_IFSOCK } from '../linux-abi.js';
import type { Kernel } from '../kernel.js';
import { KStat, OpenFile, ReadSink, makedev, syntheticStat } from '../vfs.js';
import type { UdpPeer, UdpSocket } from '../../net/udp-socket.js';
import type { InetAddress } from './socket-file.js';

const SOCKFS_DEV = makedev(0, 8);

/**
 * A UDP socket of the guest under `--net sim`: a file over the simulated stack's UdpSocket. A
 * datagram goes out in the call (UDP has no send queue to wait on); one that arrives wakes the
 * sleepers; a read takes one datagram, the rest of a longer one is lost (udp_recvmsg without
 * MSG_TRUNC). Copies are charged per byte to the CPU doing them.
 */
@injectable()
export class UdpSocketFile extends OpenFile {
  readonly kind = 'socket';
  readonly ino: number;
  readonly options = new Map<number, number>();
  private readWakeups = 0;

  constructor(readonly kernel: Kernel, readonly sock: UdpSocket, flags = O_RDWR) {
    super(flags);
    this.ino = kernel.nextSocketInode();
    sock.onWake = (mask) => {
      if ((mask & (POLLIN | POLLERR)) !== 0) this.readWakeups++;
      kernel.wakeSleepers();
    };
  }

  override stat(): KStat {
    return syntheticStat(S_IFSOCK | 0o777, SOCKFS_DEV, this.ino);
  }

  get local(): InetAddress {
    return { addr: this.sock.localAddr, port: this.sock.localPort };
  }

  get peer(): InetAddress | undefined {
    return this.sock.remotePort === 0 ? undefined : { addr: this.sock.remoteAddr, port: this.sock.remotePort };
  }

  override available(): number {
    return this.sock.available();
  }

  override read(len: number, sink: ReadSink): number {
    return this.receive(len, sink, false);
  }

  /** One datagram through `sink`, its sender into `from`; -EAGAIN when none is queued. */
  receive(len: number, sink: ReadSink, peek: boolean, from?: UdpPeer): number {
    this.charge(this.kernel.costs.tcpRecvPath);
    const size = this.sock.available();
    const buf = new Uint8Array(Math.min(len, size));
    const peer: UdpPeer = from ?? { addr: 0, port: 0 };
    // Looked at first, taken only once user memory took it: a fault leaves it queued.
    const n = this.sock.recvFrom(buf, peer, true);
    if (n < 0) return n;
    if (!sink(buf)) return -EFAULT;
    if (!peek) this.sock.recvFrom(buf, peer, false);
    this.chargeCopy(n);
    return n;
  }

  /** send() / write(): to the connected peer. */
  override write(data: Uint8Array): number {
    return this.sendTo(data, undefined);
  }

  sendTo(data: Uint8Array, to: InetAddress | undefined): number {
    this.charge(this.kernel.costs.tcpSendPath);
    const n = to === undefined ? this.sock.sendTo(data) : this.sock.sendTo(data, to.addr, to.port);
    if (n > 0) this.chargeCopy(n);
    return n;
  }

  override readReady(): boolean {
    return (this.sock.poll() & (POLLIN | POLLERR)) !== 0;
  }

  override writeReady(): boolean {
    return (this.sock.poll() & POLLOUT) !== 0;
  }

  override pollMask(): number {
    return this.sock.poll();
  }

  override get readGeneration(): number {
    return this.readWakeups;
  }

  private chargeCopy(bytes: number): void {
    this.charge(bytes * this.kernel.costs.copyUserPerByte);
  }

  /** The protocol path per call (the profile has one send and one receive path for inet sockets). */
  private charge(cycles: number): void {
    const cpu = this.kernel.machine.running;
    if (cpu !== undefined) cpu.cycles += cycles;
  }

  protected override release(): void {
    this.sock.close();
  }
}
