import { AF_INET, AF_UNSPEC, NR } from '../../core/linux/linux-abi.js';
import { DatagramSocketFile } from '../../core/linux/net/datagram-socket-file.js';
import { INADDR_ANY, SocketFile } from '../../core/linux/net/socket-file.js';
import type { Process } from '../../core/linux/task.js';
import { CheckedCall, SocketAddress } from './checked-call.js';

/** A local address a call would give a socket without naming it (inet_autobind), and why. */
export interface ImplicitBind {
  readonly address: SocketAddress;
  readonly why: string;
}

/** inet_autobind binds to every address and lets the kernel pick the port: 0.0.0.0:0. */
const AUTOBIND: SocketAddress = { family: AF_INET, addr: INADDR_ANY, port: 0 };

/**
 * Which calls give a socket a local address without a bind() — the way a program could make
 * itself reachable from the host while the firewall only judged bind(). In Linux these go
 * through inet_autobind (net/ipv4/af_inet.c) when the socket has no local port yet:
 *
 *  - `listen` on a TCP socket that was never bound (inet_listen → inet_csk_get_port(sk, 0)): a
 *    listener on every address, at a port the kernel picks, that any host client can connect to;
 *  - `connect` on a UDP socket (ip4_datagram_connect; AF_UNSPEC, which dissolves the peer, does
 *    not bind), and `sendto` on one (udp_sendmsg → inet_autobind): from then on the socket
 *    receives datagrams at that port (a connected one only from its peer — until a connect with
 *    AF_UNSPEC lifts the filter).
 *
 * The firewall judges such a call as the bind it implies: a bind to 0.0.0.0 port 0 (what
 * inet_autobind does), by the `network.bind` rules. A TCP `connect` also takes a local port, but
 * only for its one outgoing connection: nothing listens there, so no host client can reach the
 * program through it, and it is judged by the `network.connect` rules alone.
 *
 * The state comes from the kernel model's descriptor table, as PathResolver takes the cwd: the
 * sandbox runtime asks its own kernel, a C ptrace supervisor would readlink /proc/PID/fd/N to get
 * the socket's inode and look it up in /proc/net/tcp and /proc/net/udp, where only sockets with a
 * local port appear. A socket shared with another process (fork) has one state, whoever looks.
 */
export class SocketInspector {
  constructor(private readonly process: Process) {}

  /** The bind `call` implies, or undefined when it binds nothing (or the kernel will refuse it). */
  implicitBind(call: CheckedCall): ImplicitBind | undefined {
    const { nr, args } = call;
    if (nr !== NR.listen && nr !== NR.connect && nr !== NR.sendto) return undefined;
    const f = this.process.files.get(args[0]! | 0);
    if (nr === NR.listen) {
      // 'closed' too: after a failed connect Linux releases the port and a listen binds again.
      if (f instanceof SocketFile && (f.state === 'unbound' || f.state === 'closed')) {
        return { address: AUTOBIND, why: 'listen on a socket with no local address binds it to 0.0.0.0:0 (inet_autobind)' };
      }
      return undefined;
    }
    if (!(f instanceof DatagramSocketFile) || f.bound) return undefined;
    if (nr === NR.connect) {
      const to = call.addresses?.get(1);
      if (to === undefined || to.family === AF_UNSPEC) return undefined;
      return { address: AUTOBIND, why: 'connect on an unbound UDP socket binds it to 0.0.0.0:0 (inet_autobind)' };
    }
    // sendto: to its address, or to the connected peer (a connected socket is bound already).
    if (args[4] === 0 && f.peer === undefined) return undefined; // -EDESTADDRREQ, nothing bound
    return { address: AUTOBIND, why: 'sendto on an unbound UDP socket binds it to 0.0.0.0:0 (inet_autobind)' };
  }
}
