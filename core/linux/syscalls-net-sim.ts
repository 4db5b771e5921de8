import type { SyscallResult } from './kernel.js';
import {
  AF_UNSPEC, EAFNOSUPPORT, EAGAIN, EALREADY, EFAULT, EINPROGRESS, EINVAL, EISCONN, ENOPROTOOPT,
  ENOTCONN, EOPNOTSUPP, EINTR, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, O_NONBLOCK, SHUT_RD,
  SHUT_RDWR, SHUT_WR, SOCKADDR_IN_SIZE, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM,
  SOL_SOCKET, SO_ACCEPTCONN, SO_ERROR, SO_LINGER, SO_RCVBUF, SO_REUSEADDR, SO_SNDBUF,
  SO_TYPE, TCP_NODELAY, AF_INET,
} from './linux-abi.js';
import { readSockaddr, writeSockaddr } from './net/sockaddr.js';
import { StreamSocketFile } from './net/stream-socket-file.js';
import { UdpSocketFile } from './net/udp-socket-file.js';
import type { SyscallContext } from './syscall-table.js';
import { blockingIo } from './syscalls-fs.js';
import { closeFd } from './vfs.js';
import { TCP_LISTEN } from '../net/tcp-state.js';

/**
 * The socket calls on the simulated network (`--net sim`): the protocol work is the stack's
 * (core/net), these are the socket layer around it (net/socket.c, net/ipv4/af_inet.c,
 * sock_setsockopt), with Linux's order of checks so that bad input gets Linux's errno.
 * syscalls-net.ts dispatches here for the files this mode makes.
 */
export type SimSocketFile = StreamSocketFile | UdpSocketFile;

export function isSimSocket(f: unknown): f is SimSocketFile {
  return f instanceof StreamSocketFile || f instanceof UdpSocketFile;
}

/** socket(AF_INET, SOCK_STREAM | SOCK_DGRAM) on the machine's stack. */
export function simSocketFile(ctx: SyscallContext, type: number, flags: number): SimSocketFile {
  const { stack } = ctx.kernel.simNet;
  return type === SOCK_STREAM ? new StreamSocketFile(ctx.kernel, stack.tcpSocket(), flags) : new UdpSocketFile(ctx.kernel, stack.udpSocket(), flags);
}

/** inet_bind: the length first, then the family (AF_UNSPEC with INADDR_ANY is accepted, for old programs). */
export function simBind(ctx: SyscallContext, s: SimSocketFile, va: number, len: number): SyscallResult {
  if (len < SOCKADDR_IN_SIZE) return -EINVAL;
  const fam = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, va, 2);
  if (fam === undefined) return -EFAULT;
  const family = fam[0]! | (fam[1]! << 8);
  let a = readSockaddr(ctx, va, len);
  if (family === AF_UNSPEC) {
    const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, va, SOCKADDR_IN_SIZE)!;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (dv.getUint32(4, false) !== 0) return -EAFNOSUPPORT;
    a = { port: dv.getUint16(2, false), addr: 0 };
  }
  if (typeof a === 'number') return a;
  return s.sock.bind(a.addr, a.port);
}

export function simListen(s: SimSocketFile, backlog: number): SyscallResult {
  if (s instanceof UdpSocketFile) return -EOPNOTSUPP;
  // inet_listen: only an unconnected socket, or a listener changing its backlog.
  if (s.sockState !== 'unconnected') return -EINVAL;
  return s.sock.listen(backlog);
}

export function simAccept(ctx: SyscallContext, s: SimSocketFile, addr: number, lenp: number, flags: number,
  install: (f: StreamSocketFile, cloexec: boolean) => number): SyscallResult {
  if (s instanceof UdpSocketFile) return -EOPNOTSUPP;
  if (s.sock.state !== TCP_LISTEN) return -EINVAL;
  const nonblock = (s.flags & O_NONBLOCK) !== 0;
  return blockingIo(ctx, (cpu) => {
    const c = s.sock.accept();
    if (typeof c === 'number') return c === -EAGAIN && !nonblock ? undefined : c;
    const { kernel, task } = ctx;
    cpu.cycles += kernel.costs.tcpAcceptPath;
    const f = new StreamSocketFile(kernel, c, (s.flags & ~O_NONBLOCK) | ((flags & SOCK_NONBLOCK) !== 0 ? O_NONBLOCK : 0));
    const nfd = install(f, (flags & SOCK_CLOEXEC) !== 0);
    if (nfd < 0) return nfd;
    const w = writeSockaddr({ kernel, cpu, task }, addr, lenp, f.peer ?? { addr: c.remoteAddr, port: c.remotePort });
    if (w < 0) {
      // __sys_accept4: the address could not be written, so the new descriptor is not given out
      // (the connection is closed with it).
      closeFd(task.process, nfd);
      return w;
    }
    return nfd;
  }, () => s.readReady(), () => -EINTR, s);
}

/**
 * inet_stream_connect: -EISCONN once connected, -EALREADY while a non-blocking attempt is under
 * way, and the result of a finished non-blocking attempt reported by the next connect(); a
 * blocking connect sleeps until the handshake ends (sk_state_change wakes it).
 */
export function simConnect(ctx: SyscallContext, s: SimSocketFile, va: number, len: number): SyscallResult {
  if (len < 2) return -EINVAL;
  const fam = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, va, 2);
  if (fam === undefined) return -EFAULT;
  const family = fam[0]! | (fam[1]! << 8);
  if (s instanceof UdpSocketFile) {
    if (family === AF_UNSPEC) return s.sock.connect(0, 0);
    const a = readSockaddr(ctx, va, len);
    if (typeof a === 'number') return a;
    return s.sock.connect(a.addr, a.port);
  }
  // AF_UNSPEC: tcp_disconnect — a reset for what is under way, and the socket unconnected again.
  if (family === AF_UNSPEC) {
    s.disconnect();
    return 0;
  }
  switch (s.sockState) {
    case 'connected':
      return -EISCONN;
    case 'connecting':
      if (s.handshaking) return (s.flags & O_NONBLOCK) !== 0 ? -EALREADY : waitConnect(ctx, s);
      return s.connectResult();
    case 'unconnected':
      break;
  }
  // A listener (any state but TCP_CLOSE) is refused before its address is looked at.
  if (s.sock.state === TCP_LISTEN) return -EISCONN;
  if (len < SOCKADDR_IN_SIZE) return -EINVAL;
  if (family !== AF_INET) return -EAFNOSUPPORT;
  const a = readSockaddr(ctx, va, len);
  if (typeof a === 'number') return a;
  ctx.cpu.cycles += ctx.kernel.costs.tcpSendPath; // tcp_v4_connect builds and sends the SYN
  const r = s.sock.connect(a.addr, a.port);
  if (r !== -EINPROGRESS) return r;
  s.sockState = 'connecting';
  if ((s.flags & O_NONBLOCK) !== 0) return -EINPROGRESS;
  return waitConnect(ctx, s);
}

function waitConnect(ctx: SyscallContext, s: StreamSocketFile): SyscallResult {
  return blockingIo(ctx, () => (s.handshaking ? undefined : s.connectResult()), () => !s.handshaking, () => -EINTR, s);
}

export function simGetName(ctx: SyscallContext, s: SimSocketFile, addr: number, lenp: number, peer: boolean): SyscallResult {
  if (peer) {
    const p = s.peer;
    return p === undefined ? -ENOTCONN : writeSockaddr(ctx, addr, lenp, p);
  }
  return writeSockaddr(ctx, addr, lenp, s.local);
}

export function simShutdown(s: SimSocketFile, how: number): SyscallResult {
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
  if (s instanceof UdpSocketFile) return s.peer === undefined ? -ENOTCONN : 0;
  return s.sock.shutdown(how);
}

/** Linux doubles SO_SNDBUF and SO_RCVBUF for its bookkeeping, with floors (sock_setsockopt). */
/** SO_BROADCAST (asm-generic/socket.h). */
const SO_BROADCAST = 6;
const SOCK_MIN_SNDBUF = 4608;
const SOCK_MIN_RCVBUF = 2304;
/** net.core.wmem_max and rmem_max: what an unprivileged SO_SNDBUF/SO_RCVBUF is capped at. */
const WMEM_MAX = 212992;

export function simSetsockopt(ctx: SyscallContext, s: SimSocketFile, level: number, name: number, val: number, len: number): SyscallResult {
  if (level !== SOL_SOCKET && level !== IPPROTO_TCP && level !== IPPROTO_UDP && level !== IPPROTO_IP) return -ENOPROTOOPT;
  if (level === IPPROTO_TCP && s instanceof UdpSocketFile) return -ENOPROTOOPT;
  const want = level === SOL_SOCKET && name === SO_LINGER ? 8 : 4;
  if (len < want) return -EINVAL;
  const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, val, want);
  if (b === undefined) return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, want);
  const v = dv.getInt32(0, true);
  if (level === SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR:
        s.sock.reuseAddr = v !== 0;
        break;
      case SO_SNDBUF: {
        const bytes = Math.max(Math.min(v >>> 0, WMEM_MAX) * 2, SOCK_MIN_SNDBUF);
        if (s instanceof StreamSocketFile) {
          s.sock.setSendBuffer(bytes);
          s.sendBufferLocked = true;
        }
        s.options.set((level << 16) | name, bytes);
        return 0;
      }
      case SO_RCVBUF: {
        const bytes = Math.max(Math.min(v >>> 0, WMEM_MAX) * 2, SOCK_MIN_RCVBUF);
        if (s instanceof StreamSocketFile) s.sock.setReceiveBuffer(bytes);
        else s.sock.receiveBuffer = bytes;
        s.options.set((level << 16) | name, bytes);
        return 0;
      }
      case SO_BROADCAST:
        if (s instanceof UdpSocketFile) s.sock.broadcast = v !== 0;
        break;
      case SO_LINGER:
        if (s instanceof StreamSocketFile) s.lingerAbort = v !== 0 && dv.getInt32(4, true) === 0;
        s.options.set((level << 16) | name, v !== 0 ? 1 : 0);
        return 0;
    }
  } else if (level === IPPROTO_TCP && name === TCP_NODELAY && s instanceof StreamSocketFile) {
    s.sock.noDelay = v !== 0;
    // Turning Nagle off pushes what it held (tcp_push_pending_frames).
    if (v !== 0) s.sock.output();
  }
  s.options.set((level << 16) | name, v);
  return 0;
}

export function simGetsockopt(ctx: SyscallContext, s: SimSocketFile, level: number, name: number, val: number, lenp: number): SyscallResult {
  const lb = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, lenp, 4);
  if (lb === undefined) return -EFAULT;
  const room = new DataView(lb.buffer, lb.byteOffset, 4).getInt32(0, true);
  if (room < 0) return -EINVAL;
  let v: number;
  if (level === SOL_SOCKET && name === SO_ERROR) v = s.sock.takeError();
  else if (level === SOL_SOCKET && name === SO_TYPE) v = s instanceof UdpSocketFile ? SOCK_DGRAM : SOCK_STREAM;
  else if (level === SOL_SOCKET && name === SO_ACCEPTCONN) v = s instanceof StreamSocketFile && s.listening ? 1 : 0;
  else if (level === SOL_SOCKET && name === SO_SNDBUF) v = s.options.get((level << 16) | name) ?? (s instanceof StreamSocketFile ? s.sock.sendBuffer.capacity : WMEM_MAX);
  else if (level === SOL_SOCKET && name === SO_RCVBUF) v = s.sock.receiveBuffer;
  else {
    // A level no protocol of the socket handles: ip_getsockopt's -EOPNOTSUPP (setsockopt's is -ENOPROTOOPT).
    if (level !== SOL_SOCKET && level !== IPPROTO_TCP && level !== IPPROTO_IP && level !== IPPROTO_UDP) return -EOPNOTSUPP;
    v = s.options.get((level << 16) | name) ?? 0;
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v, true);
  const n = Math.min(room, 4);
  if (n > 0 && !ctx.kernel.copyToUser(ctx.cpu, ctx.task, val, out.subarray(0, n))) return -EFAULT;
  const ln = new Uint8Array(4);
  new DataView(ln.buffer).setInt32(0, n, true);
  return ctx.kernel.copyToUser(ctx.cpu, ctx.task, lenp, ln) ? 0 : -EFAULT;
}
