import type { Cpu } from '../vtx/cpu.js';
import { signalPending } from './signals.js';
import { RAX } from '../vtx/cpu.js';
import { BLOCKED, KernelTimer, SyscallResult } from './kernel.js';
import {
  AF_INET, AF_INET6, AF_UNIX, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, EALREADY, EBADF, EEXIST,
  EFAULT, EINPROGRESS, EINTR, EINVAL, EISCONN, ENOENT, ENOPROTOOPT, ENOTCONN, ENOTSOCK, ENETUNREACH,
  EPERM, EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD,
  EPOLL_EVENT_SIZE, EP_MAX_EVENTS, ESOCKTNOSUPPORT, IPPROTO_IP, IPPROTO_TCP, MSG_DONTWAIT,
  MSG_NOSIGNAL, MSG_PEEK, NR, O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLERR, POLLFD_SIZE, POLLHUP, POLLIN,
  POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, SHUT_RD,
  SHUT_RDWR, SHUT_WR, SOCKADDR_IN_SIZE, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SOCK_TYPE_MASK,
  SOL_SOCKET, SOMAXCONN, SO_ACCEPTCONN, SO_ERROR, SO_TYPE, EADDRINUSE, AF_UNSPEC, EOPNOTSUPP,
  EPROTONOSUPPORT, IPPROTO_UDP, SOCK_DGRAM, ERESTARTNOHAND,
} from './linux-abi.js';
import { DatagramSocketFile } from './net/datagram-socket-file.js';
import { readSockaddr, writeSockaddr } from './net/sockaddr.js';
import { StreamSocketFile } from './net/stream-socket-file.js';
import { UdpSocketFile } from './net/udp-socket-file.js';
import {
  SimSocketFile, isSimSocket, simAccept, simBind, simConnect, simGetName, simGetsockopt, simListen,
  simSetsockopt, simShutdown, simSocketFile,
} from './syscalls-net-sim.js';
import { EpollFile } from './net/epoll-file.js';
import { INADDR_ANY, InetAddress, SocketFile, hostErrnoOf, inetToString, isLoopback } from './net/socket-file.js';
import type { SyscallContext, SyscallTable } from './syscall-table.js';
import { blockingIo, countArg, writeFrom } from './syscalls-fs.js';
import type { KernelFile, Task } from './task.js';
import { OpenFile, allocFd } from './vfs.js';
import { RLIMIT_NOFILE, UIO_MAXIOV, EMSGSIZE } from './linux-abi.js';

/**
 * The socket system calls (net/socket.c) for IPv4 TCP and UDP, backed by real host sockets on
 * loopback (net/socket-file.ts, net/datagram-socket-file.ts), with select, poll and epoll
 * (fs/select.c, fs/eventpoll.c) over every kind of file. Other families and types are refused
 * with Linux's errno: AF_UNIX and AF_INET6 (-EAFNOSUPPORT), SOCK_RAW and the rest (-ESOCKTNOSUPPORT). The host model has only the loopback network:
 * a bind to INADDR_ANY listens on 127.0.0.1, and a connect outside 127.0.0.0/8 is -ENETUNREACH.
 */
export function registerNetSyscalls(t: SyscallTable): void {
  t.add(NR.socket, 'socket', 3, (ctx, domain, type, protocol) => sysSocket(ctx, domain | 0, type | 0, protocol | 0));
  t.add(NR.bind, 'bind', 3, (ctx, fd, addr, len) => sysBind(ctx, fd | 0, addr, len | 0));
  t.add(NR.listen, 'listen', 2, (ctx, fd, backlog) => sysListen(ctx, fd | 0, backlog | 0));
  t.add(NR.accept, 'accept', 3, (ctx, fd, addr, lenp) => sysAccept(ctx, fd | 0, addr, lenp, 0));
  t.add(NR.accept4, 'accept4', 4, (ctx, fd, addr, lenp, flags) => sysAccept(ctx, fd | 0, addr, lenp, flags | 0));
  t.add(NR.connect, 'connect', 3, (ctx, fd, addr, len) => sysConnect(ctx, fd | 0, addr, len | 0));
  t.add(NR.getsockname, 'getsockname', 3, (ctx, fd, addr, lenp) => sysGetName(ctx, fd | 0, addr, lenp, false));
  t.add(NR.getpeername, 'getpeername', 3, (ctx, fd, addr, lenp) => sysGetName(ctx, fd | 0, addr, lenp, true));
  t.add(NR.sendto, 'sendto', 6, (ctx, fd, buf, len, flags, addr, alen) => sysSendto(ctx, fd | 0, buf, len, flags | 0, addr, alen | 0));
  t.add(NR.recvfrom, 'recvfrom', 6, (ctx, fd, buf, len, flags, addr, lenp) => sysRecvfrom(ctx, fd | 0, buf, len, flags | 0, addr, lenp));
  t.add(NR.sendmsg, 'sendmsg', 3, (ctx, fd, msg, flags) => sysSendmsg(ctx, fd | 0, msg, flags | 0));
  t.add(NR.recvmsg, 'recvmsg', 3, (ctx, fd, msg, flags) => sysRecvmsg(ctx, fd | 0, msg, flags | 0));
  t.add(NR.shutdown, 'shutdown', 2, (ctx, fd, how) => sysShutdown(ctx, fd | 0, how | 0));
  t.add(NR.setsockopt, 'setsockopt', 5, (ctx, fd, level, name, val, len) => sysSetsockopt(ctx, fd | 0, level | 0, name | 0, val, len | 0));
  t.add(NR.getsockopt, 'getsockopt', 5, (ctx, fd, level, name, val, lenp) => sysGetsockopt(ctx, fd | 0, level | 0, name | 0, val, lenp));
  t.add(NR.select, 'select', 5, (ctx, n, r, w, e, tv) => sysSelect(ctx, n | 0, r, w, e, tv, 'timeval'));
  t.add(NR.pselect6, 'pselect6', 6, (ctx, n, r, w, e, ts) => sysSelect(ctx, n | 0, r, w, e, ts, 'timespec'));
  t.add(NR.poll, 'poll', 3, (ctx, fds, n, timeout) => sysPoll(ctx, fds, n, timeout | 0));
  t.add(NR.ppoll, 'ppoll', 5, (ctx, fds, n, tsp) => sysPpoll(ctx, fds, n, tsp));
  t.add(NR.epoll_create, 'epoll_create', 1, (ctx, size) => ((size | 0) <= 0 ? -EINVAL : epollCreate(ctx, 0)));
  t.add(NR.epoll_create1, 'epoll_create1', 1, (ctx, flags) => epollCreate(ctx, flags | 0));
  t.add(NR.epoll_ctl, 'epoll_ctl', 4, (ctx, epfd, op, fd, ev) => sysEpollCtl(ctx, epfd | 0, op | 0, fd | 0, ev));
  t.add(NR.epoll_wait, 'epoll_wait', 4, (ctx, epfd, evs, max, timeout) => sysEpollWait(ctx, epfd | 0, evs, max | 0, timeout | 0));
  t.add(NR.epoll_pwait, 'epoll_pwait', 6, (ctx, epfd, evs, max, timeout) => sysEpollWait(ctx, epfd | 0, evs, max | 0, timeout | 0));
}

function charge(ctx: SyscallContext, cycles: number): void {
  ctx.cpu.cycles += cycles;
}

function socketOf(task: Task, fd: number): SocketFile | DatagramSocketFile | SimSocketFile | number {
  const f = task.process.files.get(fd);
  if (f === undefined) return -EBADF;
  return f instanceof SocketFile || f instanceof DatagramSocketFile || isSimSocket(f) ? f : -ENOTSOCK;
}

function installNew(task: Task, file: OpenFile, cloexec: boolean): number {
  const fd = allocFd(task.process, file);
  if (fd < 0) {
    file.get().put();
    return fd;
  }
  if (cloexec) task.process.cloexec.add(fd);
  return fd;
}

function sysSocket(ctx: SyscallContext, domain: number, type: number, protocol: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  if (domain === AF_UNIX || domain === AF_INET6) return -EAFNOSUPPORT;
  if (domain !== AF_INET) return -EAFNOSUPPORT;
  if ((type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  const flags = O_RDWR | ((type & SOCK_NONBLOCK) !== 0 ? O_NONBLOCK : 0);
  let s: OpenFile;
  const sim = ctx.kernel.netMode === 'sim';
  if ((type & SOCK_TYPE_MASK) === SOCK_STREAM) {
    if (protocol !== IPPROTO_IP && protocol !== IPPROTO_TCP) return -EPROTONOSUPPORT;
    s = sim ? simSocketFile(ctx, SOCK_STREAM, flags) : new SocketFile(ctx.kernel, flags);
  } else if ((type & SOCK_TYPE_MASK) === SOCK_DGRAM) {
    if (protocol !== IPPROTO_IP && protocol !== IPPROTO_UDP) return -EPROTONOSUPPORT;
    s = sim ? simSocketFile(ctx, SOCK_DGRAM, flags) : new DatagramSocketFile(ctx.kernel, flags);
  } else return -ESOCKTNOSUPPORT;
  return installNew(ctx.task, s, (type & SOCK_CLOEXEC) !== 0);
}

/**
 * bind(): the port is taken on the host at once (so EADDRINUSE is bind's, as on Linux), by a
 * host server that listen() then opens to the program.
 */
function sysBind(ctx: SyscallContext, fd: number, va: number, len: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simBind(ctx, s, va, len);
  const a = readSockaddr(ctx, va, len);
  if (typeof a === 'number') return a;
  if (a.addr !== INADDR_ANY && !isLoopback(a.addr)) return -EADDRNOTAVAIL;
  if (s instanceof DatagramSocketFile) return s.bound ? -EINVAL : s.bind(a);
  if (s.state !== 'unbound') return -EINVAL;
  return hostListen(ctx, s, a);
}

function hostListen(ctx: SyscallContext, s: SocketFile, a: InetAddress): number {
  const net = ctx.kernel.hostNet;
  const id = net.register(s);
  const host = a.addr === INADDR_ANY ? '127.0.0.1' : inetToString(a.addr);
  const r = net.request({ op: 'listen', id, host, port: a.port, backlog: 511 }, 'listened');
  if (r === undefined || r.code !== '') {
    net.unregister(id);
    return r === undefined ? -EADDRINUSE : -hostErrnoOf(r.code);
  }
  ctx.kernel.hostEndpointOpened();
  s.hostId = id;
  s.state = 'bound';
  s.local = { addr: a.addr, port: r.port };
  return 0;
}

function sysListen(ctx: SyscallContext, fd: number, backlog: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simListen(s, backlog);
  if (s instanceof DatagramSocketFile) return -EOPNOTSUPP;
  if (s.state === 'unbound') {
    // inet_autobind: an ephemeral port on every address.
    const r = hostListen(ctx, s, { addr: INADDR_ANY, port: 0 });
    if (r < 0) return r;
  }
  if (s.state !== 'bound' && s.state !== 'listening') return -EINVAL;
  s.state = 'listening';
  s.backlog = Math.min(Math.max(backlog, 0), SOMAXCONN);
  s.changed();
  return 0;
}

function sysAccept(ctx: SyscallContext, fd: number, addr: number, lenp: number, flags: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return -EINVAL;
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simAccept(ctx, s, addr, lenp, flags, (f, cloexec) => installNew(ctx.task, f, cloexec));
  if (s instanceof DatagramSocketFile) return -EOPNOTSUPP;
  if (s.state !== 'listening') return -EINVAL;
  const take = (): number | undefined => {
    const c = s.acceptQueue.shift();
    if (c === undefined) return (s.flags & O_NONBLOCK) !== 0 ? -EAGAIN : undefined;
    const { kernel, task } = ctx;
    const cpu = kernel.cpuOf(task);
    cpu.cycles += kernel.costs.tcpAcceptPath;
    if ((flags & SOCK_NONBLOCK) !== 0) c.flags |= O_NONBLOCK;
    const nfd = installNew(task, c, (flags & SOCK_CLOEXEC) !== 0);
    if (nfd < 0) return nfd;
    const w = writeSockaddr({ kernel, cpu, task }, addr, lenp, c.peer!);
    return w < 0 ? w : nfd;
  };
  return blockingIo(ctx, () => take(), () => s.acceptQueue.length > 0 || s.state !== 'listening', () => -EINTR, s);
}

function sysConnect(ctx: SyscallContext, fd: number, va: number, len: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simConnect(ctx, s, va, len);
  if (s instanceof DatagramSocketFile) return datagramConnect(ctx, s, va, len);
  const a = readSockaddr(ctx, va, len);
  if (typeof a === 'number') return a;
  if (s.state === 'connected') {
    // The first connect() after a non-blocking one completed reports the success (inet_stream_connect).
    if (s.connectPending) {
      s.connectPending = false;
      return 0;
    }
    return -EISCONN;
  }
  if (s.state === 'connecting') return -EALREADY;
  if (s.state === 'listening') return -EISCONN;
  if (s.state === 'closed') {
    const e = s.softError;
    s.softError = 0;
    if (e !== 0) return -e;
  }
  if (!isLoopback(a.addr)) return -ENETUNREACH;
  const net = ctx.kernel.hostNet;
  if (s.state === 'bound') {
    // A client's own bind is not carried to the host: the host picks the local port.
    net.send({ op: 'closeServer', id: s.hostId });
    net.unregister(s.hostId);
  }
  s.hostId = net.register(s);
  ctx.kernel.hostEndpointOpened();
  s.state = 'connecting';
  net.send({ op: 'connect', id: s.hostId, host: inetToString(a.addr), port: a.port });
  if ((s.flags & O_NONBLOCK) !== 0) {
    s.connectPending = true;
    return -EINPROGRESS;
  }
  charge(ctx, ctx.kernel.costs.tcpSendPath);
  return blockingIo(ctx, () => {
    if (s.state === 'connecting') return undefined;
    if (s.state === 'connected') return 0;
    const e = s.softError;
    s.softError = 0;
    return -(e || ENOTCONN);
  }, () => s.state !== 'connecting', () => -EINTR, s);
}

/**
 * connect() on a UDP socket: only the default destination (and the filter on sources); AF_UNSPEC
 * dissolves it. The socket is bound first if it is not (inet_autobind).
 */
function datagramConnect(ctx: SyscallContext, s: DatagramSocketFile, va: number, len: number): number {
  if (len >= 2) {
    const fam = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, va, 2);
    if (fam === undefined) return -EFAULT;
    if ((fam[0]! | (fam[1]! << 8)) === AF_UNSPEC) {
      s.peer = undefined;
      return 0;
    }
  }
  const a = readSockaddr(ctx, va, len);
  if (typeof a === 'number') return a;
  if (!s.bound) {
    const r = s.bind({ addr: INADDR_ANY, port: 0 });
    if (r < 0) return r;
  }
  s.peer = a;
  return 0;
}

function sysGetName(ctx: SyscallContext, fd: number, addr: number, lenp: number, peer: boolean): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simGetName(ctx, s, addr, lenp, peer);
  if (peer) {
    if ((s instanceof SocketFile && s.state !== 'connected') || s.peer === undefined) return -ENOTCONN;
    return writeSockaddr(ctx, addr, lenp, s.peer);
  }
  return writeSockaddr(ctx, addr, lenp, s.local ?? { addr: INADDR_ANY, port: 0 });
}

function sysSendto(ctx: SyscallContext, fd: number, buf: number, len: number, flags: number, addr: number, alen: number): SyscallResult {
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (!isSimSocket(s)) charge(ctx, ctx.kernel.costs.tcpSendPath);
  const data = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, buf, countArg(len));
  if (data === undefined) return -EFAULT;
  return sendData(ctx, s, data, flags, addr, alen);
}

/** sock_sendmsg once the bytes are in the kernel: a datagram to `addr` (if given), or the stream. */
function sendData(ctx: SyscallContext, s: SocketFile | DatagramSocketFile | SimSocketFile, data: Uint8Array, flags: number, addr: number, alen: number): SyscallResult {
  if (s instanceof DatagramSocketFile || s instanceof UdpSocketFile) {
    const to = addr === 0 ? undefined : readSockaddr(ctx, addr, alen);
    if (typeof to === 'number') return to;
    return s instanceof UdpSocketFile ? s.sendTo(data, to) : s.send(data, to);
  }
  return writeFrom(ctx, s, data, undefined, { nonblock: (flags & MSG_DONTWAIT) !== 0, noSignal: (flags & MSG_NOSIGNAL) !== 0 });
}

function sysRecvfrom(ctx: SyscallContext, fd: number, buf: number, len: number, flags: number, addr: number, lenp: number): SyscallResult {
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (!isSimSocket(s)) charge(ctx, ctx.kernel.costs.tcpRecvPath);
  const n = countArg(len);
  if (n === 0) return 0;
  const { kernel, task } = ctx;
  return receiveData(ctx, s, n, flags, (cpu, d) => kernel.copyToUser(cpu, task, buf, d), (cpu, from) => {
    if (addr === 0 || lenp === 0) return true;
    // A stream socket has no source address to give: *addrlen becomes 0 (tcp_recvmsg).
    if (from === undefined) return kernel.copyToUser(cpu, task, lenp, new Uint8Array(4));
    return writeSockaddr({ kernel, cpu, task }, addr, lenp, from) >= 0;
  });
}

/**
 * sock_recvmsg: up to `n` bytes through `put` (user memory), the sender through `source`
 * (undefined for a stream); blocks unless the socket or `flags` say not to.
 */
function receiveData(ctx: SyscallContext, s: SocketFile | DatagramSocketFile | SimSocketFile, n: number, flags: number,
  put: (cpu: Cpu, d: Uint8Array) => boolean, source: (cpu: Cpu, from: InetAddress | undefined) => boolean): SyscallResult {
  const nonblock = (s.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
  const peek = (flags & MSG_PEEK) !== 0;
  if (s instanceof DatagramSocketFile) {
    return blockingIo(ctx, (cpu) => {
      const r = s.receive(n, (d) => put(cpu, d), peek, (from) => source(cpu, from));
      return r === -EAGAIN && !nonblock ? undefined : r;
    }, () => s.readReady(), () => -EINTR, s);
  }
  if (s instanceof UdpSocketFile) {
    return blockingIo(ctx, (cpu) => {
      const from = { addr: 0, port: 0 };
      const r = s.receive(n, (d) => put(cpu, d), peek, from);
      if (r === -EAGAIN && !nonblock) return undefined;
      if (r >= 0 && !source(cpu, from)) return -EFAULT;
      return r;
    }, () => s.readReady(), () => -EINTR, s);
  }
  return blockingIo(ctx, (cpu) => {
    const r = s.receive(n, (d) => put(cpu, d), peek);
    if (r === -EAGAIN && !nonblock) return undefined;
    if (r >= 0 && !source(cpu, undefined)) return -EFAULT;
    return r;
  }, () => s.readReady(), () => -EINTR, s);
}

/** struct msghdr (56 bytes): name, namelen, iov, iovlen, control, controllen, flags. */
const MSGHDR_SIZE = 56;

interface UserMsg {
  name: number;
  nameLen: number;
  iov: Array<{ base: number; len: number }>;
  total: number;
}

function readMsghdr(ctx: SyscallContext, va: number): UserMsg | number {
  const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, va, MSGHDR_SIZE);
  if (b === undefined) return -EFAULT;
  const dv = new DataView(b.buffer, b.byteOffset, MSGHDR_SIZE);
  const name = Number(dv.getBigUint64(0, true));
  const nameLen = dv.getInt32(8, true);
  const iovVa = Number(dv.getBigUint64(16, true));
  const iovLen = Number(dv.getBigUint64(24, true));
  if (iovLen > UIO_MAXIOV) return -EMSGSIZE;
  const raw = iovLen === 0 ? new Uint8Array(0) : ctx.kernel.copyFromUser(ctx.cpu, ctx.task, iovVa, iovLen * 16);
  if (raw === undefined) return -EFAULT;
  const iv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const iov: Array<{ base: number; len: number }> = [];
  let total = 0;
  for (let i = 0; i < iovLen; i++) {
    const len = Number(iv.getBigUint64(i * 16 + 8, true));
    if (len > 0x7fff_ffff - total) return -EINVAL;
    iov.push({ base: Number(iv.getBigUint64(i * 16, true)), len });
    total += len;
  }
  return { name, nameLen, iov, total };
}

/** sendmsg(2): the iovecs gathered into one message; ancillary data is not supported and ignored. */
function sysSendmsg(ctx: SyscallContext, fd: number, msgVa: number, flags: number): SyscallResult {
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (!isSimSocket(s)) charge(ctx, ctx.kernel.costs.tcpSendPath);
  const m = readMsghdr(ctx, msgVa);
  if (typeof m === 'number') return m;
  const data = new Uint8Array(m.total);
  let off = 0;
  for (const v of m.iov) {
    const part = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, v.base, v.len);
    if (part === undefined) return -EFAULT;
    data.set(part, off);
    off += v.len;
  }
  return sendData(ctx, s, data, flags, m.nameLen > 0 ? m.name : 0, m.nameLen);
}

/** recvmsg(2): scattered over the iovecs; msg_namelen, msg_controllen and msg_flags are written back. */
function sysRecvmsg(ctx: SyscallContext, fd: number, msgVa: number, flags: number): SyscallResult {
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (!isSimSocket(s)) charge(ctx, ctx.kernel.costs.tcpRecvPath);
  const m = readMsghdr(ctx, msgVa);
  if (typeof m === 'number') return m;
  const { kernel, task } = ctx;
  const put = (cpu: Cpu, d: Uint8Array): boolean => {
    let off = 0;
    for (const v of m.iov) {
      if (off >= d.length) break;
      const n = Math.min(v.len, d.length - off);
      if (!kernel.copyToUser(cpu, task, v.base, d.subarray(off, off + n))) return false;
      off += n;
    }
    return true;
  };
  const tail = new Uint8Array(4);
  return receiveData(ctx, s, m.total, flags, put, (cpu, from) => {
    // msg_namelen (offset 8), msg_controllen (offset 40: no ancillary data), msg_flags (offset 48).
    let nameLen = 0;
    if (from !== undefined && m.name !== 0 && m.nameLen > 0) {
      const b = new Uint8Array(SOCKADDR_IN_SIZE);
      const dv = new DataView(b.buffer);
      dv.setUint16(0, AF_INET, true);
      dv.setUint16(2, from.port, false);
      dv.setUint32(4, from.addr >>> 0, false);
      if (!kernel.copyToUser(cpu, task, m.name, b.subarray(0, Math.min(m.nameLen, SOCKADDR_IN_SIZE)))) return false;
      nameLen = SOCKADDR_IN_SIZE;
    }
    new DataView(tail.buffer).setInt32(0, nameLen, true);
    return kernel.copyToUser(cpu, task, msgVa + 8, tail) && kernel.copyToUser(cpu, task, msgVa + 40, new Uint8Array(8)) &&
      kernel.copyToUser(cpu, task, msgVa + 48, new Uint8Array(4));
  });
}

function sysShutdown(ctx: SyscallContext, fd: number, how: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simShutdown(s, how);
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
  if (s instanceof DatagramSocketFile) return s.peer === undefined ? -ENOTCONN : 0;
  return s.shutdown(how !== SHUT_WR, how !== SHUT_RD);
}

function sysSetsockopt(ctx: SyscallContext, fd: number, level: number, name: number, val: number, len: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simSetsockopt(ctx, s, level, name, val, len);
  if (level !== SOL_SOCKET && level !== IPPROTO_TCP && level !== IPPROTO_UDP && level !== IPPROTO_IP) return -ENOPROTOOPT;
  if (len < 4) return -EINVAL;
  const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, val, 4);
  if (b === undefined) return -EFAULT;
  // Options are kept and read back; the host socket already does what they ask on loopback
  // (SO_REUSEADDR is Node's default for servers, TCP_NODELAY is set on every connection).
  s.options.set((level << 16) | name, new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true));
  return 0;
}

function sysGetsockopt(ctx: SyscallContext, fd: number, level: number, name: number, val: number, lenp: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.socketCallPath);
  const s = socketOf(ctx.task, fd);
  if (typeof s === 'number') return s;
  if (isSimSocket(s)) return simGetsockopt(ctx, s, level, name, val, lenp);
  const lb = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, lenp, 4);
  if (lb === undefined) return -EFAULT;
  const room = new DataView(lb.buffer, lb.byteOffset, 4).getInt32(0, true);
  if (room < 0) return -EINVAL;
  let v: number;
  if (level === SOL_SOCKET && name === SO_ERROR) {
    v = s.softError;
    s.softError = 0;
  } else if (level === SOL_SOCKET && name === SO_TYPE) v = s instanceof DatagramSocketFile ? SOCK_DGRAM : SOCK_STREAM;
  else if (level === SOL_SOCKET && name === SO_ACCEPTCONN) v = s instanceof SocketFile && s.state === 'listening' ? 1 : 0;
  else {
    const known = s.options.get((level << 16) | name);
    if (known === undefined && level !== SOL_SOCKET && level !== IPPROTO_TCP) return -ENOPROTOOPT;
    v = known ?? 0;
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v, true);
  const n = Math.min(room, 4);
  if (n > 0 && !ctx.kernel.copyToUser(ctx.cpu, ctx.task, val, out.subarray(0, n))) return -EFAULT;
  const ln = new Uint8Array(4);
  new DataView(ln.buffer).setInt32(0, n, true);
  return ctx.kernel.copyToUser(ctx.cpu, ctx.task, lenp, ln) ? 0 : -EFAULT;
}

// ---- waiting for events: poll, ppoll, epoll_wait -----------------------------------------------

/**
 * Runs `look` (which returns a result, or undefined when nothing is ready) now and whenever the
 * task is woken, until it gives a result, the timeout passes (0), or a signal comes (-EINTR).
 * `timeoutMs` < 0 waits for ever; 0 never sleeps. The timeout is in simulated time. A signal ends
 * it with `interrupted`: -EINTR (epoll_wait), or -ERESTARTNOHAND (poll, select: restarted when no
 * handler runs, -EINTR when one does).
 */
function waitFor(
  ctx: SyscallContext,
  look: (cpu: Cpu) => number | undefined,
  timeoutMs: number,
  done: ((cpu: Cpu, result: number) => number) | undefined,
  interrupted: number,
  /** Whether a host event could make something it watches ready (Task.hostWake). */
  hostWake: () => boolean,
): SyscallResult {
  const finish = done ?? ((_cpu: Cpu, r: number): number => r);
  const first = look(ctx.cpu);
  if (first !== undefined) return finish(ctx.cpu, first);
  if (timeoutMs === 0) return finish(ctx.cpu, 0);
  const { kernel, task } = ctx;
  let timedOut = false;
  let timer: KernelTimer | undefined;
  if (timeoutMs > 0) {
    timer = kernel.addTimer(ctx.cpu.cycles + (timeoutMs / 1000) * kernel.costs.clockHz, () => {
      timedOut = true;
    });
  }
  let result: number | undefined;
  const ready = (): boolean => {
    if (timedOut) return true;
    result = look(kernel.cpuOf(task));
    return result !== undefined;
  };
  const sleep = (): void => kernel.sleep(task, ready, () => {
    const r = result ?? look(kernel.cpuOf(task));
    result = undefined;
    if (r !== undefined || timedOut || signalPending(task)) {
      if (timer !== undefined) kernel.cancelTimer(timer);
      task.regs.set(RAX, finish(kernel.cpuOf(task), r ?? (timedOut ? 0 : interrupted)));
    } else sleep();
  }, hostWake);
  sleep();
  return BLOCKED;
}

/** Whether a host event could make `f` ready (OpenFile.hostCanWake). */
function hearsFromHost(f: KernelFile | undefined): boolean {
  return f instanceof OpenFile && f.hostCanWake();
}

function pollTimeoutMs(timeout: number): number {
  return timeout < 0 ? -1 : timeout;
}

function sysPoll(ctx: SyscallContext, fdsVa: number, nfds: number, timeoutMs: number): SyscallResult {
  return doPoll(ctx, fdsVa, nfds, pollTimeoutMs(timeoutMs));
}

function sysPpoll(ctx: SyscallContext, fdsVa: number, nfds: number, tsp: number): SyscallResult {
  let ms = -1;
  if (tsp !== 0) {
    const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, tsp, 16);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer, b.byteOffset, 16);
    const sec = Number(dv.getBigInt64(0, true));
    const nsec = Number(dv.getBigInt64(8, true));
    if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
    ms = sec * 1000 + nsec / 1e6;
  }
  return doPoll(ctx, fdsVa, nfds, ms);
}

function doPoll(ctx: SyscallContext, fdsVa: number, nfds: number, timeoutMs: number): SyscallResult {
  const { kernel, task } = ctx;
  const n = nfds >>> 0;
  if (n > Number(task.process.rlimits[RLIMIT_NOFILE]!.cur)) return -EINVAL;
  charge(ctx, kernel.costs.pollPath);
  const raw = n === 0 ? new Uint8Array(0) : kernel.copyFromUser(ctx.cpu, task, fdsVa, n * POLLFD_SIZE);
  if (raw === undefined) return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const look = (cpu: Cpu): number | undefined => {
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const fd = dv.getInt32(i * POLLFD_SIZE, true);
      let rev = 0;
      if (fd >= 0) {
        cpu.cycles += kernel.costs.pollPerFile;
        const f = task.process.files.get(fd);
        // POLLERR, POLLHUP and POLLNVAL are reported whether asked for or not.
        if (f === undefined) rev = POLLNVAL;
        else if (f instanceof OpenFile) rev = f.pollMask() & (dv.getUint16(i * POLLFD_SIZE + 4, true) | 0x18);
      }
      dv.setUint16(i * POLLFD_SIZE + 6, rev, true);
      if (rev !== 0) ready++;
    }
    if (ready === 0) return undefined;
    return kernel.copyToUser(cpu, task, fdsVa, raw) ? ready : -EFAULT;
  };
  const hostWake = (): boolean => {
    for (let i = 0; i < n; i++) if (hearsFromHost(task.process.files.get(dv.getInt32(i * POLLFD_SIZE, true)))) return true;
    return false;
  };
  const r = waitFor(ctx, look, timeoutMs, undefined, -ERESTARTNOHAND, hostWake);
  // A timeout still writes the (empty) revents back.
  if (r === 0 && n > 0 && !kernel.copyToUser(ctx.cpu, task, fdsVa, raw)) return -EFAULT;
  return r;
}

/** fd_set bits that count as ready for select (fs/select.c: POLLIN_SET, POLLOUT_SET, POLLEX_SET). */
const SELECT_IN = POLLIN | POLLRDNORM | POLLHUP | POLLERR;
const SELECT_OUT = POLLOUT | POLLWRNORM | POLLERR;
const SELECT_EX = POLLPRI;

/**
 * select and pselect6 (fs/select.c): three fd_set bitmaps of `n` bits, rewritten with the ready
 * ones; the number of bits set is the result. The timeout (a timeval, or pselect6's timespec) is
 * rewritten with the time left, as Linux does without STICKY_TIMEOUTS.
 */
function sysSelect(ctx: SyscallContext, n: number, rVa: number, wVa: number, eVa: number, tVa: number, kind: 'timeval' | 'timespec'): SyscallResult {
  const { kernel, task } = ctx;
  charge(ctx, kernel.costs.pollPath);
  if (n < 0) return -EINVAL;
  n = Math.min(n, Number(task.process.rlimits[RLIMIT_NOFILE]!.max));
  const bytes = Math.ceil(n / 64) * 8;
  const sets: Array<Uint8Array | undefined> = [];
  for (const va of [rVa, wVa, eVa]) {
    if (va === 0 || bytes === 0) {
      sets.push(undefined);
      continue;
    }
    const b = kernel.copyFromUser(ctx.cpu, task, va, bytes);
    if (b === undefined) return -EFAULT;
    sets.push(b);
  }
  let timeoutMs = -1;
  if (tVa !== 0) {
    const b = kernel.copyFromUser(ctx.cpu, task, tVa, 16);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer, b.byteOffset, 16);
    const sec = Number(dv.getBigInt64(0, true));
    const frac = Number(dv.getBigInt64(8, true));
    const unit = kind === 'timeval' ? 1e6 : 1e9;
    if (sec < 0 || frac < 0 || frac >= unit) return -EINVAL;
    timeoutMs = sec * 1000 + (frac * 1000) / unit;
  }
  const isSet = (b: Uint8Array | undefined, fd: number): boolean => b !== undefined && (b[fd >> 3]! & (1 << (fd & 7))) !== 0;
  for (let fd = 0; fd < n; fd++) {
    if ((isSet(sets[0], fd) || isSet(sets[1], fd) || isSet(sets[2], fd)) && !task.process.files.has(fd)) return -EBADF;
  }
  const out = sets.map((b) => (b === undefined ? undefined : new Uint8Array(b.length)));
  const wants = [SELECT_IN, SELECT_OUT, SELECT_EX];
  const start = ctx.cpu.cycles;
  const writeSets = (cpu: Cpu, from: Array<Uint8Array | undefined>): boolean =>
    [rVa, wVa, eVa].every((va, i) => from[i] === undefined || kernel.copyToUser(cpu, task, va, from[i]!));
  const look = (cpu: Cpu): number | undefined => {
    let count = 0;
    for (const b of out) b?.fill(0);
    for (let fd = 0; fd < n; fd++) {
      if (!isSet(sets[0], fd) && !isSet(sets[1], fd) && !isSet(sets[2], fd)) continue;
      cpu.cycles += kernel.costs.pollPerFile;
      const f = task.process.files.get(fd);
      const mask = f instanceof OpenFile ? f.pollMask() : POLLIN | POLLOUT;
      for (let i = 0; i < 3; i++) {
        if (isSet(sets[i], fd) && (mask & wants[i]!) !== 0) {
          out[i]![fd >> 3]! |= 1 << (fd & 7);
          count++;
        }
      }
    }
    if (count === 0) return undefined;
    return writeSets(cpu, out) ? count : -EFAULT;
  };
  return waitFor(ctx, look, timeoutMs, (cpu, r) => {
    // Nothing ready (a timeout): the sets come back empty.
    if (r === 0 && !writeSets(cpu, out.map((b) => b?.fill(0)))) return -EFAULT;
    if (r >= 0 && tVa !== 0) {
      const left = Math.max(0, timeoutMs - ((cpu.cycles - start) / kernel.costs.clockHz) * 1000);
      const b = new Uint8Array(16);
      const dv = new DataView(b.buffer);
      const sec = Math.floor(left / 1000);
      dv.setBigInt64(0, BigInt(sec), true);
      dv.setBigInt64(8, BigInt(Math.floor((left - sec * 1000) * (kind === 'timeval' ? 1e3 : 1e6))), true);
      kernel.copyToUser(cpu, task, tVa, b);
    }
    return r;
  }, -ERESTARTNOHAND, () => {
    for (let fd = 0; fd < n; fd++) {
      if ((isSet(sets[0], fd) || isSet(sets[1], fd) || isSet(sets[2], fd)) && hearsFromHost(task.process.files.get(fd))) return true;
    }
    return false;
  });
}

let epollInodes = 0x3000;

function epollCreate(ctx: SyscallContext, flags: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.pollPath);
  if ((flags & ~EPOLL_CLOEXEC) !== 0) return -EINVAL;
  return installNew(ctx.task, new EpollFile(ctx.task.process, ++epollInodes), (flags & O_CLOEXEC) !== 0);
}

function sysEpollCtl(ctx: SyscallContext, epfd: number, op: number, fd: number, evVa: number): SyscallResult {
  charge(ctx, ctx.kernel.costs.pollPath);
  const p = ctx.task.process;
  const ep = p.files.get(epfd);
  const f = p.files.get(fd);
  if (ep === undefined || f === undefined) return -EBADF;
  if (!(ep instanceof EpollFile)) return -EINVAL;
  if (ep === f) return -EINVAL;
  // Regular files and directories cannot be watched (they are always ready): -EPERM.
  if (!(f instanceof OpenFile) || f.seekable || f.isDirectory) return -EPERM;
  let events = 0;
  let dataLo = 0;
  let dataHi = 0;
  if (op !== EPOLL_CTL_DEL) {
    const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, evVa, EPOLL_EVENT_SIZE);
    if (b === undefined) return -EFAULT;
    const dv = new DataView(b.buffer, b.byteOffset, EPOLL_EVENT_SIZE);
    events = dv.getUint32(0, true);
    dataLo = dv.getUint32(4, true);
    dataHi = dv.getUint32(8, true);
  }
  const it = ep.items.get(fd);
  const live = it !== undefined && it.file === f;
  switch (op) {
    case EPOLL_CTL_ADD:
      if (live) return -EEXIST;
      if ((events & EPOLLEXCLUSIVE) !== 0 && (events & EPOLLONESHOT) !== 0) return -EINVAL;
      ep.add(fd, f, events, dataLo, dataHi);
      break;
    case EPOLL_CTL_MOD:
      if (!live) return -ENOENT;
      if ((events & EPOLLEXCLUSIVE) !== 0 || (it.events & EPOLLEXCLUSIVE) !== 0) return -EINVAL;
      ep.modify(it, events, dataLo, dataHi);
      break;
    case EPOLL_CTL_DEL:
      if (!live) return -ENOENT;
      ep.remove(fd);
      break;
    default:
      return -EINVAL;
  }
  ctx.kernel.wakeSleepers();
  return 0;
}

function sysEpollWait(ctx: SyscallContext, epfd: number, evVa: number, max: number, timeoutMs: number): SyscallResult {
  const { kernel, task } = ctx;
  charge(ctx, kernel.costs.pollPath);
  if (max <= 0 || max > EP_MAX_EVENTS) return -EINVAL;
  const ep = task.process.files.get(epfd);
  if (ep === undefined) return -EBADF;
  if (!(ep instanceof EpollFile)) return -EINVAL;
  const out: Array<{ events: number; dataLo: number; dataHi: number }> = [];
  const look = (cpu: Cpu): number | undefined => {
    out.length = 0;
    cpu.cycles += kernel.costs.pollPerFile * ep.lookCount;
    if (ep.collect(max, out) === 0) return undefined;
    const b = new Uint8Array(out.length * EPOLL_EVENT_SIZE);
    const dv = new DataView(b.buffer);
    out.forEach((e, i) => {
      dv.setUint32(i * EPOLL_EVENT_SIZE, e.events >>> 0, true);
      dv.setUint32(i * EPOLL_EVENT_SIZE + 4, e.dataLo >>> 0, true);
      dv.setUint32(i * EPOLL_EVENT_SIZE + 8, e.dataHi >>> 0, true);
    });
    return kernel.copyToUser(cpu, task, evVa, b) ? out.length : -EFAULT;
  };
  return waitFor(ctx, look, pollTimeoutMs(timeoutMs), undefined, -EINTR, () => ep.hostCanWake());
}

