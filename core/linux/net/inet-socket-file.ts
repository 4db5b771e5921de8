import { O_RDWR, S_IFSOCK } from '../linux-abi.js';
import type { Kernel } from '../kernel.js';
import { KStat, OpenFile, makedev, syntheticStat } from '../vfs.js';
import type { HostNet, HostNetEndpoint, HostNetEvent } from './host-net.js';
import type { InetAddress } from './socket-file.js';

const SOCKFS_DEV = makedev(0, 8);

/**
 * What every IPv4 socket of the guest has (struct inet_sock): its host endpoint, its local and
 * peer addresses, a pending error (SO_ERROR), the options a program set, its sockfs inode.
 * TCP (SocketFile) and UDP (DatagramSocketFile) build on it.
 */
export abstract class InetSocketFile extends OpenFile implements HostNetEndpoint {
  readonly kind = 'socket';
  /** The host endpoint's id (0: none). */
  hostId = 0;
  local: InetAddress | undefined;
  peer: InetAddress | undefined;
  /** SO_ERROR: an error not yet reported. */
  softError = 0;
  /** Options a program may set and read back (SO_REUSEADDR, TCP_NODELAY, …), by level << 16 | name. */
  readonly options = new Map<number, number>();
  readonly ino: number;

  constructor(readonly kernel: Kernel, flags = O_RDWR) {
    super(flags);
    this.ino = kernel.nextSocketInode();
  }

  get net(): HostNet {
    return this.kernel.hostNet;
  }

  override stat(): KStat {
    return syntheticStat(S_IFSOCK | 0o777, SOCKFS_DEV, this.ino);
  }

  /** Only a socket with a host side hears from the host. */
  override hostCanWake(): boolean {
    return this.hostId !== 0;
  }

  abstract onHostEvent(e: HostNetEvent): void;
}
