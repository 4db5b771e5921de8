import * as fs from 'node:fs';
import * as path from 'node:path';
import { signalPending } from './signals.js';
import { PAGE_SIZE } from '../vtx/arch.js';
import { Cpu, RAX } from '../vtx/cpu.js';
import { BLOCKED, Kernel, SyscallResult } from './kernel.js';
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, D64_NAME,
  D64_OFF, D64_RECLEN, D64_TYPE, D_NAME, D_OFF, D_RECLEN, EAGAIN, EBADF, EBUSY, EEXIST, EFAULT, EINTR, EPERM, ERESTARTSYS,
  EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTEMPTY, ENOTTY, ENXIO, EOPNOTSUPP, EPIPE, ERANGE,
  ESPIPE, FD_CLOEXEC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD,
  F_GETFL, F_GETLK, F_SETFD, F_SETFL, F_SETLK, F_SETLKW, F_UNLCK, IOVEC_SIZE, MAX_RW_COUNT, NR,
  O_ACCMODE, O_APPEND, O_ASYNC, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY, O_EXCL, O_LARGEFILE,
  O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
  PATH_MAX, RENAME_NOREPLACE, SIGPIPE, SI_USER, TCGETS, TCSETS, TCSETSF, TCSETSW, TERMIOS_SIZE,
  TIOCGPGRP, TIOCGWINSZ, TIOCSPGRP, TIOCSWINSZ, UIO_MAXIOV, WINSIZE_SIZE,
} from './linux-abi.js';
import { queueSignal } from './signals.js';
import { ProcMapsFile } from './proc-maps.js';
import { SyscallContext, SyscallTable } from './syscall-table.js';
import type { KernelFile, Task } from './task.js';
import {
  CharDevice, ConsoleFile, DirEntry, DirFile, KStat, OpenFile, PathFile, Pipe, PipeEnd, RegularFile, Resolved,
  allocFd, closeFd, cwdOf, deviceStat, deviceStatByPath, encodeStat, fdLimit, guestPathOf, host, installFd,
  lookup, openPathFile, setCwd, statFromHost,
} from './vfs.js';

/**
 * The file system calls (fs/open.c, read_write.c, stat.c, namei.c, readdir.c, fcntl.c, pipe.c,
 * ioctl.c) over the file layer in vfs.ts. Arguments of C type int (fds, flags, modes) are taken
 * as the low 32 bits, sign-extended; size_t counts above MAX_RW_COUNT are capped (a short
 * transfer, as Linux's MAX_RW_COUNT cap). Every result is a count or -errno.
 */
export function registerFsSyscalls(t: SyscallTable): void {
  t.add(NR.read, 'read', 3, (ctx, fd, buf, len) => sysRead(ctx, fd | 0, buf, len));
  t.add(NR.write, 'write', 3, (ctx, fd, buf, len) => sysWrite(ctx, fd | 0, buf, len));
  t.add(NR.pread64, 'pread64', 4, (ctx, fd, buf, len, pos) => sysRead(ctx, fd | 0, buf, len, pos));
  t.add(NR.pwrite64, 'pwrite64', 4, (ctx, fd, buf, len, pos) => sysWrite(ctx, fd | 0, buf, len, pos));
  t.add(NR.readv, 'readv', 3, (ctx, fd, iov, cnt) => sysReadv(ctx, fd | 0, iov, cnt | 0));
  t.add(NR.writev, 'writev', 3, (ctx, fd, iov, cnt) => sysWritev(ctx, fd | 0, iov, cnt | 0));
  t.add(NR.lseek, 'lseek', 3, ({ task }, fd, off, whence) => {
    const f = task.process.files.get(fd | 0);
    if (f === undefined) return -EBADF;
    if (!(f instanceof OpenFile) || (f.flags & O_PATH) !== 0) return f instanceof OpenFile ? -EBADF : -ESPIPE;
    return f.seek(off, whence | 0);
  });
  t.add(NR.open, 'open', 3, (ctx, path, flags, mode) => sysOpen(ctx, AT_FDCWD, path, flags | 0, mode | 0));
  t.add(NR.openat, 'openat', 4, (ctx, dirfd, path, flags, mode) => sysOpen(ctx, dirfd | 0, path, flags | 0, mode | 0));
  t.add(NR.close, 'close', 1, ({ task }, fd) => closeFd(task.process, fd | 0));
  t.add(NR.fstat, 'fstat', 2, (ctx, fd, buf) => {
    const f = ctx.task.process.files.get(fd | 0);
    if (f === undefined) return -EBADF;
    const s = f instanceof OpenFile ? f.stat() : deviceStat();
    if (typeof s === 'number') return s;
    return ctx.kernel.copyToUser(ctx.cpu, ctx.task, buf, encodeStat(s)) ? 0 : -EFAULT;
  });
  t.add(NR.stat, 'stat', 2, (ctx, path, buf) => statAt(ctx, AT_FDCWD, path, buf, 0));
  t.add(NR.lstat, 'lstat', 2, (ctx, path, buf) => statAt(ctx, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW));
  t.add(NR.newfstatat, 'newfstatat', 4, (ctx, dirfd, path, buf, flags) => statAt(ctx, dirfd | 0, path, buf, flags | 0));
  t.add(NR.getdents64, 'getdents64', 3, (ctx, fd, dirp, count) => getdents(ctx, fd | 0, dirp, count, true));
  t.add(NR.getdents, 'getdents', 3, (ctx, fd, dirp, count) => getdents(ctx, fd | 0, dirp, count, false));
  t.add(NR.access, 'access', 2, (ctx, path, mode) => accessAt(ctx, AT_FDCWD, path, mode | 0, 0));
  t.add(NR.faccessat, 'faccessat', 3, (ctx, dirfd, path, mode) => accessAt(ctx, dirfd | 0, path, mode | 0, 0));
  t.add(NR.faccessat2, 'faccessat2', 4, (ctx, dirfd, path, mode, flags) => accessAt(ctx, dirfd | 0, path, mode | 0, flags | 0));
  t.add(NR.readlink, 'readlink', 3, (ctx, path, buf, size) => readlinkAt(ctx, AT_FDCWD, path, buf, size));
  t.add(NR.readlinkat, 'readlinkat', 4, (ctx, dirfd, path, buf, size) => readlinkAt(ctx, dirfd | 0, path, buf, size));
  t.add(NR.getcwd, 'getcwd', 2, getcwd);
  t.add(NR.chdir, 'chdir', 1, (ctx, path) => {
    const r = lookupUser(ctx, AT_FDCWD, path, true);
    if (typeof r === 'number') return r;
    if (!r.exists) return -ENOENT;
    if (!r.stat!.isDirectory()) return -ENOTDIR;
    // The cwd holds the directory itself (set_fs_pwd takes a path, not a name).
    const d = openPathFile(O_PATH | O_DIRECTORY, r.host, r.guest, true);
    if (typeof d === 'number') return d;
    setCwd(ctx.task.process, d);
    return 0;
  });
  t.add(NR.fchdir, 'fchdir', 1, ({ task }, fd) => {
    const f = task.process.files.get(fd | 0);
    if (f === undefined) return -EBADF;
    if (!(f instanceof DirFile || (f instanceof PathFile && f.isDirectory))) return -ENOTDIR;
    setCwd(task.process, f); // the descriptor's object, wherever it is now
    return 0;
  });
  t.add(NR.mkdir, 'mkdir', 2, (ctx, path, mode) => mkdirAt(ctx, AT_FDCWD, path, mode | 0));
  t.add(NR.mkdirat, 'mkdirat', 3, (ctx, dirfd, path, mode) => mkdirAt(ctx, dirfd | 0, path, mode | 0));
  t.add(NR.unlink, 'unlink', 1, (ctx, path) => unlinkAt(ctx, AT_FDCWD, path, 0));
  t.add(NR.rmdir, 'rmdir', 1, (ctx, path) => unlinkAt(ctx, AT_FDCWD, path, AT_REMOVEDIR));
  t.add(NR.unlinkat, 'unlinkat', 3, (ctx, dirfd, path, flags) => unlinkAt(ctx, dirfd | 0, path, flags | 0));
  t.add(NR.rename, 'rename', 2, (ctx, from, to) => renameAt(ctx, AT_FDCWD, from, AT_FDCWD, to, 0));
  t.add(NR.renameat, 'renameat', 4, (ctx, fd1, from, fd2, to) => renameAt(ctx, fd1 | 0, from, fd2 | 0, to, 0));
  t.add(NR.renameat2, 'renameat2', 5, (ctx, fd1, from, fd2, to, flags) => renameAt(ctx, fd1 | 0, from, fd2 | 0, to, flags | 0));
  t.add(NR.link, 'link', 2, (ctx, from, to) => linkAt(ctx, AT_FDCWD, from, AT_FDCWD, to, 0));
  t.add(NR.linkat, 'linkat', 5, (ctx, fd1, from, fd2, to, flags) => linkAt(ctx, fd1 | 0, from, fd2 | 0, to, flags | 0));
  t.add(NR.symlink, 'symlink', 2, (ctx, target, path) => symlinkAt(ctx, target, AT_FDCWD, path));
  t.add(NR.symlinkat, 'symlinkat', 3, (ctx, target, dirfd, path) => symlinkAt(ctx, target, dirfd | 0, path));
  t.add(NR.ftruncate, 'ftruncate', 2, ({ task }, fd, length) => {
    const f = task.process.files.get(fd | 0);
    if (f === undefined) return -EBADF;
    if (!(f instanceof RegularFile) || !f.canWrite || length < 0) return -EINVAL;
    return f.truncate(length);
  });
  t.add(NR.truncate, 'truncate', 2, (ctx, path, length) => {
    if (length < 0) return -EINVAL;
    const r = lookupUser(ctx, AT_FDCWD, path, true);
    if (typeof r === 'number') return r;
    if (!r.exists) return -ENOENT;
    if (r.stat!.isDirectory()) return -EISDIR;
    const x = host(() => fs.truncateSync(r.host, length));
    return typeof x === 'number' ? x : 0;
  });
  for (const [nr, name] of [[NR.fsync, 'fsync'], [NR.fdatasync, 'fdatasync']] as const) {
    t.add(nr, name, 1, ({ task }, fd) => {
      const f = task.process.files.get(fd | 0);
      if (f === undefined) return -EBADF;
      return f instanceof OpenFile ? f.sync() : -EINVAL;
    });
  }
  t.add(NR.fcntl, 'fcntl', 3, fcntl);
  t.add(NR.dup, 'dup', 1, ({ task }, fd) => {
    const f = task.process.files.get(fd | 0);
    return f === undefined ? -EBADF : allocFd(task.process, f);
  });
  t.add(NR.dup2, 'dup2', 2, ({ task }, oldfd, newfd) => {
    const p = task.process;
    if (!p.files.has(oldfd | 0)) return -EBADF;
    if ((oldfd | 0) === (newfd | 0)) return newfd | 0;
    return dup3(task, oldfd | 0, newfd | 0, 0);
  });
  t.add(NR.dup3, 'dup3', 3, ({ task }, oldfd, newfd, flags) => {
    if ((flags & ~O_CLOEXEC) !== 0 || (oldfd | 0) === (newfd | 0)) return -EINVAL;
    return dup3(task, oldfd | 0, newfd | 0, flags | 0);
  });
  t.add(NR.pipe, 'pipe', 1, (ctx, fds) => pipe2(ctx, fds, 0));
  t.add(NR.pipe2, 'pipe2', 2, (ctx, fds, flags) => pipe2(ctx, fds, flags | 0));
  t.add(NR.ioctl, 'ioctl', 3, ioctl);
  t.add(NR.umask, 'umask', 1, ({ task }, mask) => {
    const old = task.process.umask;
    task.process.umask = mask & 0o777;
    return old;
  });
}

// ---- helpers -------------------------------------------------------------------------------

/** A size_t argument as a transfer count: negative (≥ 2^63) or huge is capped. */
export function countArg(v: number): number {
  return v < 0 || v > MAX_RW_COUNT ? MAX_RW_COUNT : v;
}

/** Copies a NUL-terminated path from user memory: -EFAULT, or -ENAMETOOLONG past PATH_MAX. */
export function readPath({ kernel, cpu, task }: SyscallContext, va: number): string | number {
  const parts: Uint8Array[] = [];
  let total = 0;
  while (total < PATH_MAX) {
    const at = va + total;
    const n = Math.min(PAGE_SIZE - (((at % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE), PATH_MAX - total);
    const b = kernel.copyFromUser(cpu, task, at, n);
    if (b === undefined) return -EFAULT;
    const z = b.indexOf(0);
    if (z >= 0) {
      parts.push(b.subarray(0, z));
      return Buffer.concat(parts).toString('utf8');
    }
    parts.push(b);
    total += n;
  }
  return -ENAMETOOLONG;
}

function lookupUser(ctx: SyscallContext, dirfd: number, pathVa: number, follow: boolean): Resolved | number {
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  return lookup(ctx.kernel, ctx.task.process, dirfd, name, follow);
}

/**
 * The name without its trailing slashes, and what its last component is (namei.c's last_type):
 * the calls that create or remove a name (mkdir, unlink, rmdir, rename, symlink) look the last
 * component up without following it, and refuse "/", "." and "..".
 */
function lastOf(name: string): { name: string; slash: boolean; type: 'norm' | 'root' | 'dot' | 'dotdot' } {
  const trimmed = name.replace(/\/+$/, '');
  if (trimmed === '') return { name: '/', slash: false, type: 'root' };
  const last = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return { name: trimmed, slash: trimmed !== name, type: last === '.' ? 'dot' : last === '..' ? 'dotdot' : 'norm' };
}

/**
 * Runs an I/O attempt that may have to wait (a pipe): `attempt` returns the result, or
 * undefined to sleep until `ready()`; then it is tried again on the CPU the task wakes on.
 * A signal that wakes the task first ends the call with `interrupted()`: the bytes already moved,
 * or -ERESTARTSYS (given as -EINTR), which signal delivery turns into -EINTR or a restart.
 */
export function blockingIo(ctx: SyscallContext, attempt: (cpu: Cpu) => number | undefined, ready: () => boolean, interrupted: () => number, file: KernelFile): SyscallResult {
  const first = attempt(ctx.cpu);
  if (first !== undefined) return first;
  const { kernel, task } = ctx;
  const hostWake = file instanceof OpenFile ? (): boolean => file.hostCanWake() : undefined;
  const sleep = (): void => kernel.sleep(task, ready, () => {
    const r = attempt(kernel.cpuOf(task));
    if (r !== undefined) task.regs.set(RAX, r);
    else if (signalPending(task)) {
      // Nothing moved yet: -ERESTARTSYS, which the way out makes -EINTR or a restart (SA_RESTART).
      const v = interrupted();
      task.regs.set(RAX, v === -EINTR ? -ERESTARTSYS : v);
    }
    else sleep();
  }, hostWake);
  sleep();
  return BLOCKED;
}

type Put = (cpu: Cpu, data: Uint8Array) => boolean;

function readInto(ctx: SyscallContext, f: OpenFile, n: number, put: Put, pos?: number): SyscallResult {
  if (n === 0) return 0;
  const nonblock = (f.flags & O_NONBLOCK) !== 0;
  return blockingIo(ctx, (cpu) => {
    const r = f.read(n, (d) => put(cpu, d), pos);
    return r === -EAGAIN && !nonblock ? undefined : r;
  }, () => f.readReady(), () => -EINTR, f);
}

/** send()'s flags as a write sees them: MSG_DONTWAIT, MSG_NOSIGNAL. */
export interface WriteMode {
  readonly nonblock?: boolean;
  readonly noSignal?: boolean;
}

export function writeFrom(ctx: SyscallContext, f: KernelFile, data: Uint8Array, pos?: number, mode?: WriteMode): SyscallResult {
  if (!(f instanceof OpenFile)) return f.write === undefined ? -EINVAL : f.write(data);
  if (data.length === 0) return 0;
  const nonblock = (f.flags & O_NONBLOCK) !== 0 || mode?.nonblock === true;
  let done = 0;
  return blockingIo(ctx, () => {
    const r = f.write(done === 0 ? data : data.subarray(done), pos === undefined ? undefined : pos + done);
    if (r === -EPIPE) {
      const { kernel, task } = ctx;
      if (mode?.noSignal !== true) queueSignal(kernel, task, { signo: SIGPIPE, code: SI_USER, addr: 0, pid: task.process.pid }, false);
      return done > 0 ? done : -EPIPE;
    }
    if (r === -EAGAIN) return nonblock ? (done > 0 ? done : -EAGAIN) : undefined;
    if (r < 0) return done > 0 ? done : r;
    done += r;
    // A blocking pipe or stream-socket write goes on until all of it is in; anything else
    // returns what it did.
    if (done >= data.length || !(f instanceof PipeEnd || f.kind === 'socket') || nonblock) return done;
    return undefined;
  }, () => f.writeReady(data.length - done), () => (done > 0 ? done : -EINTR), f);
}

function readable(task: Task, fd: number): OpenFile | number {
  const f = task.process.files.get(fd);
  if (f === undefined) return -EBADF;
  if (!(f instanceof OpenFile)) return -EINVAL;
  if (!f.canRead) return -EBADF;
  if (f.isDirectory) return -EISDIR;
  return f;
}

function sysRead(ctx: SyscallContext, fd: number, buf: number, len: number, pos?: number): SyscallResult {
  const f = readable(ctx.task, fd);
  if (typeof f === 'number') return f;
  if (pos !== undefined) {
    if (!f.seekable) return -ESPIPE;
    if (pos < 0) return -EINVAL;
  }
  return readInto(ctx, f, countArg(len), (cpu, d) => ctx.kernel.copyToUser(cpu, ctx.task, buf, d), pos);
}

function sysWrite(ctx: SyscallContext, fd: number, buf: number, len: number, pos?: number): SyscallResult {
  const f = ctx.task.process.files.get(fd);
  if (f === undefined) return -EBADF;
  if (f instanceof OpenFile && !f.canWrite) return -EBADF;
  if (pos !== undefined) {
    if (!(f instanceof OpenFile) || !f.seekable) return -ESPIPE;
    if (pos < 0) return -EINVAL;
  }
  const data = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, buf, countArg(len));
  if (data === undefined) return -EFAULT;
  return writeFrom(ctx, f, data, pos);
}

/** The iovec array: -EINVAL for a bad count or length, -EFAULT if it cannot be read. */
function readIovecs(ctx: SyscallContext, iov: number, cnt: number): Array<{ base: number; len: number }> | number {
  if (cnt < 0 || cnt > UIO_MAXIOV) return -EINVAL;
  const raw = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, iov, cnt * IOVEC_SIZE);
  if (raw === undefined) return -EFAULT;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Array<{ base: number; len: number }> = [];
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const base = Number(dv.getBigInt64(i * IOVEC_SIZE, true));
    const len = dv.getBigInt64(i * IOVEC_SIZE + 8, true);
    if (len < 0n) return -EINVAL;
    // The total is capped at MAX_RW_COUNT (a short transfer), as rw_copy_check_uvector does.
    const take = Math.min(Number(len), MAX_RW_COUNT - total);
    total += take;
    out.push({ base, len: take });
  }
  return out;
}

function sysReadv(ctx: SyscallContext, fd: number, iov: number, cnt: number): SyscallResult {
  const f = readable(ctx.task, fd);
  if (typeof f === 'number') return f;
  const v = readIovecs(ctx, iov, cnt);
  if (typeof v === 'number') return v;
  const total = v.reduce((s, x) => s + x.len, 0);
  return readInto(ctx, f, total, (cpu, data) => {
    let off = 0;
    for (const { base, len } of v) {
      if (off >= data.length) break;
      const take = Math.min(len, data.length - off);
      if (!ctx.kernel.copyToUser(cpu, ctx.task, base, data.subarray(off, off + take))) return false;
      off += take;
    }
    return true;
  });
}

function sysWritev(ctx: SyscallContext, fd: number, iov: number, cnt: number): SyscallResult {
  const f = ctx.task.process.files.get(fd);
  if (f === undefined) return -EBADF;
  if (f instanceof OpenFile && !f.canWrite) return -EBADF;
  const v = readIovecs(ctx, iov, cnt);
  if (typeof v === 'number') return v;
  const parts: Uint8Array[] = [];
  for (const { base, len } of v) {
    const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, base, len);
    if (b === undefined) return -EFAULT;
    parts.push(b);
  }
  return writeFrom(ctx, f, Buffer.concat(parts));
}

// ---- open ----------------------------------------------------------------------------------

const HOST_ACCESS = [fs.constants.O_RDONLY, fs.constants.O_WRONLY, fs.constants.O_RDWR];
/** Flags that only matter at open time: F_GETFL does not report them. */
const OPEN_ONLY = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;
const O_TMPFILE_BIT = 0o20000000;

function sysOpen(ctx: SyscallContext, dirfd: number, pathVa: number, flags: number, mode: number): SyscallResult {
  const { kernel, task } = ctx;
  const p = task.process;
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  // O_PATH keeps only these flags; O_TMPFILE is not modelled.
  if ((flags & O_PATH) !== 0) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  else if ((flags & O_TMPFILE_BIT) !== 0) return -EOPNOTSUPP;
  const acc = flags & O_ACCMODE;
  if (acc === O_ACCMODE) return -EINVAL;
  const guest = guestPathOf(kernel, p, dirfd, name);
  if (typeof guest === 'number') return guest;
  const fileFlags = (flags & ~OPEN_ONLY) | O_LARGEFILE;
  const install = (file: KernelFile): number => {
    const fd = allocFd(p, file);
    if (fd < 0) {
      if (file instanceof OpenFile && file.refs === 0) file.get().put(); // release it
      return fd;
    }
    if ((flags & O_CLOEXEC) !== 0) p.cloexec.add(fd);
    return fd;
  };

  // /proc/self/maps (libDune's precise mode reads it).
  if (ProcMapsFile.names(p, task.tid).includes(guest)) return install(new ProcMapsFile(p, fileFlags, guest));
  // Devices: the drivers' (/dev/dune), then the built-in character devices.
  const make = kernel.devices.get(guest);
  if (make !== undefined) return install(make(task));
  const dev = CharDevice.named(guest);
  if (dev !== undefined) {
    if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return -EEXIST;
    if ((flags & O_DIRECTORY) !== 0) return -ENOTDIR;
    return install(new CharDevice(kernel, dev, fileFlags, guest));
  }

  const exclusive = (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
  const follow = (flags & O_NOFOLLOW) === 0 && !exclusive;
  const r = lookup(kernel, p, dirfd, name, follow);
  if (typeof r === 'number') return r;
  const st = r.stat;
  if (!r.exists || st === undefined) {
    // It does not exist: create it with O_CREAT.
    if ((flags & O_CREAT) === 0) return -ENOENT;
    if ((flags & O_DIRECTORY) !== 0 || name.endsWith('/')) return -EISDIR;
    const perm = mode & ~task.process.umask & 0o7777;
    const fd = host(() => fs.openSync(r.host, HOST_ACCESS[acc]! | fs.constants.O_CREAT | fs.constants.O_EXCL, perm));
    if (fd < 0) return fd;
    host(() => fs.fchmodSync(fd, perm)); // exactly the guest's mode, whatever the host's umask
    return install(new RegularFile(fileFlags, fd, r.host, r.guest));
  }
  if (exclusive) return -EEXIST;
  // Every descriptor holds a host fd on the object the walk found (O_NOFOLLOW: the walk has seen
  // every component, so the host opens that one), never a name to look up again later.
  if (st.isSymbolicLink()) {
    // Only when not following: O_PATH|O_NOFOLLOW opens the link itself.
    if ((flags & O_PATH) === 0) return -ELOOP;
    const f = openPathFile(fileFlags, r.host, r.guest, false);
    return typeof f === 'number' ? f : install(f);
  }
  if ((flags & O_PATH) !== 0) {
    if ((flags & O_DIRECTORY) !== 0 && !st.isDirectory()) return -ENOTDIR;
    const f = openPathFile(fileFlags, r.host, r.guest, st.isDirectory());
    return typeof f === 'number' ? f : install(f);
  }
  if (st.isDirectory()) {
    if (acc !== O_RDONLY || (flags & (O_CREAT | O_TRUNC)) !== 0) return -EISDIR;
    const dfd = host(() => fs.openSync(r.host, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW));
    if (dfd < 0) return dfd;
    return install(new DirFile(fileFlags, dfd, r.guest, r.guest === '/'));
  }
  if ((flags & O_DIRECTORY) !== 0) return -ENOTDIR;
  if (!st.isFile()) return -ENXIO; // host FIFOs, sockets and devices are not reachable
  const hostFlags = HOST_ACCESS[acc]! | fs.constants.O_NOFOLLOW | ((flags & O_TRUNC) !== 0 ? fs.constants.O_TRUNC : 0);
  const fd = host(() => fs.openSync(r.host, hostFlags));
  if (fd < 0) return fd;
  return install(new RegularFile(fileFlags, fd, r.host, r.guest));
}

// ---- stat, access, readlink ------------------------------------------------------------------

function statAt(ctx: SyscallContext, dirfd: number, pathVa: number, buf: number, flags: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) !== 0) return -EINVAL;
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  let s: KStat | number | undefined;
  if (name === '' && (flags & AT_EMPTY_PATH) !== 0 && dirfd !== AT_FDCWD) {
    const f = task.process.files.get(dirfd);
    if (f === undefined) return -EBADF;
    s = f instanceof OpenFile ? f.stat() : deviceStat();
  } else {
    const nm = name === '' && (flags & AT_EMPTY_PATH) !== 0 ? '.' : name;
    const guest = guestPathOf(kernel, task.process, dirfd, nm);
    if (typeof guest === 'number') return guest;
    s = deviceStatByPath(kernel, guest);
    if (s === undefined) {
      const r = lookup(kernel, task.process, dirfd, nm, (flags & AT_SYMLINK_NOFOLLOW) === 0);
      if (typeof r === 'number') return r;
      if (!r.exists) return -ENOENT;
      // lstat: a followed last component is not a symlink (the walk followed it).
      const hs = host(() => fs.lstatSync(r.host, { bigint: true }));
      if (typeof hs === 'number') return hs;
      s = statFromHost(hs);
    }
  }
  if (typeof s === 'number') return s;
  return kernel.copyToUser(cpu, task, buf, encodeStat(s)) ? 0 : -EFAULT;
}

function accessAt(ctx: SyscallContext, dirfd: number, pathVa: number, mode: number, flags: number): SyscallResult {
  if ((mode & ~7) !== 0) return -EINVAL;
  if ((flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  const guest = guestPathOf(ctx.kernel, ctx.task.process, dirfd, name);
  if (typeof guest === 'number') return guest;
  if (deviceStatByPath(ctx.kernel, guest) !== undefined) return 0;
  const r = lookup(ctx.kernel, ctx.task.process, dirfd, name, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  if (typeof r === 'number') return r;
  if (!r.exists) return -ENOENT;
  if (r.stat!.isSymbolicLink()) return 0; // not followed: a link's own permissions are all bits
  const x = host(() => fs.accessSync(r.host, mode));
  return typeof x === 'number' ? x : 0;
}

function readlinkAt(ctx: SyscallContext, dirfd: number, pathVa: number, buf: number, size: number): SyscallResult {
  if (size <= 0) return -EINVAL;
  const r = lookupUser(ctx, dirfd, pathVa, false);
  if (typeof r === 'number') return r;
  if (!r.exists) return -ENOENT;
  if (!r.stat!.isSymbolicLink()) return -EINVAL;
  const target = host(() => fs.readlinkSync(r.host, { encoding: 'buffer' }));
  if (typeof target === 'number') return target;
  const n = Math.min(size, target.length);
  return ctx.kernel.copyToUser(ctx.cpu, ctx.task, buf, target.subarray(0, n)) ? n : -EFAULT;
}

function getcwd(ctx: SyscallContext, buf: number, size: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  const cwd = cwdOf(kernel, task.process); // where the cwd's directory is now
  if (typeof cwd === 'number') return -ENOENT; // removed
  const bytes = Buffer.from(cwd + '\0', 'utf8');
  if (size < 0 || size < bytes.length) return -ERANGE;
  return kernel.copyToUser(cpu, task, buf, bytes) ? bytes.length : -EFAULT;
}

// ---- namespace changes -------------------------------------------------------------------------

function mkdirAt(ctx: SyscallContext, dirfd: number, pathVa: number, mode: number): SyscallResult {
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  const guest = guestPathOf(ctx.kernel, ctx.task.process, dirfd, name);
  if (typeof guest === 'number') return guest;
  const last = lastOf(name);
  if (last.type !== 'norm' || deviceStatByPath(ctx.kernel, guest) !== undefined) return -EEXIST;
  const r = lookup(ctx.kernel, ctx.task.process, dirfd, last.name, false);
  if (typeof r === 'number') return r;
  if (r.exists) return -EEXIST; // a symlink there too, dangling or not
  const perm = mode & ~ctx.task.process.umask & 0o1777;
  const x = host(() => fs.mkdirSync(r.host, { mode: perm }));
  if (typeof x === 'number') return x;
  host(() => fs.chmodSync(r.host, perm));
  return 0;
}

function unlinkAt(ctx: SyscallContext, dirfd: number, pathVa: number, flags: number): SyscallResult {
  if ((flags & ~AT_REMOVEDIR) !== 0) return -EINVAL;
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  const rmdir = (flags & AT_REMOVEDIR) !== 0;
  const last = lastOf(name);
  // do_rmdir: "/" is busy, "." invalid, ".." not empty; do_unlinkat: only a plain name.
  if (last.type !== 'norm') return rmdir ? (last.type === 'root' ? -EBUSY : last.type === 'dot' ? -EINVAL : -ENOTEMPTY) : -EISDIR;
  const r = lookup(ctx.kernel, ctx.task.process, dirfd, last.name, false);
  if (typeof r === 'number') return r;
  if (!r.exists) return -ENOENT;
  const l = r.stat!;
  if (rmdir) {
    if (!l.isDirectory()) return -ENOTDIR;
    const x = host(() => fs.rmdirSync(r.host));
    return typeof x === 'number' ? x : 0;
  }
  if (l.isDirectory()) return -EISDIR;
  if (last.slash) return -ENOTDIR;
  const x = host(() => fs.unlinkSync(r.host));
  return typeof x === 'number' ? x : 0;
}

/** The old and the new name of rename or link: -EFAULT/-ENAMETOOLONG as read, -ENOENT for an empty one. */
function readTwoPaths(ctx: SyscallContext, oldVa: number, newVa: number): [string, string] | number {
  const from = readPath(ctx, oldVa);
  if (typeof from === 'number') return from;
  const to = readPath(ctx, newVa);
  if (typeof to === 'number') return to;
  if (from === '' || to === '') return -ENOENT;
  return [from, to];
}

function renameAt(ctx: SyscallContext, olddirfd: number, oldVa: number, newdirfd: number, newVa: number, flags: number): SyscallResult {
  if ((flags & ~RENAME_NOREPLACE) !== 0) return -EINVAL; // RENAME_EXCHANGE / WHITEOUT: not modelled
  const names = readTwoPaths(ctx, oldVa, newVa);
  if (typeof names === 'number') return names;
  const [from, to] = names;
  const p = ctx.task.process;
  const l1 = lastOf(from);
  const l2 = lastOf(to);
  if (l1.type !== 'norm' || l2.type !== 'norm') return -EBUSY; // do_renameat2: "/", "." and ".."
  const r1 = lookup(ctx.kernel, p, olddirfd, l1.name, false);
  if (typeof r1 === 'number') return r1;
  const r2 = lookup(ctx.kernel, p, newdirfd, l2.name, false);
  if (typeof r2 === 'number') return r2;
  if (!r1.exists) return -ENOENT;
  if ((l1.slash || l2.slash) && !r1.stat!.isDirectory()) return -ENOTDIR;
  if ((flags & RENAME_NOREPLACE) !== 0 && r2.exists) return -EEXIST;
  const x = host(() => fs.renameSync(r1.host, r2.host));
  return typeof x === 'number' ? x : 0;
}

/**
 * link(2) and linkat(2): a second name for a file (never a directory: -EPERM). The old name's last
 * component is followed only with AT_SYMLINK_FOLLOW (Linux's link does not follow it either).
 * AT_EMPTY_PATH — linking a descriptor's file — needs CAP_DAC_READ_SEARCH, which the guest does
 * not have: -ENOENT, as fs/namei.c answers without it.
 */
function linkAt(ctx: SyscallContext, olddirfd: number, oldVa: number, newdirfd: number, newVa: number, flags: number): SyscallResult {
  if ((flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const names = readTwoPaths(ctx, oldVa, newVa);
  if (typeof names === 'number') return names;
  const [from, to] = names;
  const p = ctx.task.process;
  const r1 = lookup(ctx.kernel, p, olddirfd, from, (flags & AT_SYMLINK_FOLLOW) !== 0);
  if (typeof r1 === 'number') return r1;
  if (!r1.exists) return -ENOENT;
  if (r1.stat!.isDirectory()) return -EPERM;
  const last = lastOf(to);
  if (last.type !== 'norm') return -EEXIST;
  const r2 = lookup(ctx.kernel, p, newdirfd, last.name, false);
  if (typeof r2 === 'number') return r2;
  if (r2.exists) return -EEXIST;
  if (last.slash) return -ENOENT;
  const x = host(() => fs.linkSync(r1.host, r2.host));
  return typeof x === 'number' ? x : 0;
}

/**
 * symlink(2): the target is stored as text, as Linux does; what it names is decided by the walk
 * that follows it, in the guest's tree (path-walk.ts), so no target leads out of the root.
 */
function symlinkAt(ctx: SyscallContext, targetVa: number, dirfd: number, pathVa: number): SyscallResult {
  const target = readPath(ctx, targetVa);
  if (typeof target === 'number') return target;
  if (target === '') return -ENOENT;
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  const last = lastOf(name);
  if (last.type !== 'norm') return -EEXIST;
  const r = lookup(ctx.kernel, ctx.task.process, dirfd, last.name, false);
  if (typeof r === 'number') return r;
  if (r.exists) return -EEXIST;
  if (last.slash) return -ENOENT;
  const x = host(() => fs.symlinkSync(target, r.host));
  return typeof x === 'number' ? x : 0;
}

// ---- getdents ---------------------------------------------------------------------------------

/** One directory record: linux_dirent64, or the older linux_dirent (d_type in its last byte). */
function direntRecord(e: DirEntry, next: number, wide: boolean): Uint8Array {
  const name = Buffer.from(e.name, 'utf8');
  const reclen = wide ? (D64_NAME + name.length + 1 + 7) & ~7 : (D_NAME + name.length + 2 + 7) & ~7;
  const b = new Uint8Array(reclen);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, e.ino, true);
  dv.setBigInt64(wide ? D64_OFF : D_OFF, BigInt(next), true);
  dv.setUint16(wide ? D64_RECLEN : D_RECLEN, reclen, true);
  if (wide) {
    b[D64_TYPE] = e.type;
    b.set(name, D64_NAME);
  } else {
    b.set(name, D_NAME);
    b[reclen - 1] = e.type;
  }
  return b;
}

function getdents(ctx: SyscallContext, fd: number, dirp: number, count: number, wide: boolean): SyscallResult {
  const f = ctx.task.process.files.get(fd);
  if (f === undefined) return -EBADF;
  if (!(f instanceof DirFile)) return f instanceof OpenFile && f.isDirectory ? -EBADF : -ENOTDIR;
  const entries = f.list();
  if (typeof entries === 'number') return entries;
  const room = count < 0 ? MAX_RW_COUNT : Math.min(count, MAX_RW_COUNT);
  const recs: Uint8Array[] = [];
  let used = 0;
  let i = f.pos;
  for (; i < entries.length; i++) {
    const rec = direntRecord(entries[i]!, i + 1, wide);
    if (used + rec.length > room) break;
    recs.push(rec);
    used += rec.length;
  }
  if (used === 0 && i < entries.length) return -EINVAL; // the buffer cannot hold one record
  if (!ctx.kernel.copyToUser(ctx.cpu, ctx.task, dirp, Buffer.concat(recs, used))) return -EFAULT;
  f.pos = i;
  return used;
}

// ---- descriptors --------------------------------------------------------------------------------

function dup3(task: Task, oldfd: number, newfd: number, flags: number): number {
  const p = task.process;
  const f = p.files.get(oldfd);
  if (f === undefined) return -EBADF;
  if (newfd < 0 || newfd >= fdLimit(p)) return -EBADF;
  installFd(p, newfd, f);
  if ((flags & O_CLOEXEC) !== 0) p.cloexec.add(newfd);
  return newfd;
}

/** Status flags F_SETFL can change (the rest of the flags are fixed at open). */
const SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

function fcntl({ kernel, cpu, task }: SyscallContext, fdArg: number, cmd: number, arg: number): SyscallResult {
  const p = task.process;
  const fd = fdArg | 0;
  const f = p.files.get(fd);
  if (f === undefined) return -EBADF;
  switch (cmd | 0) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (arg < 0 || arg >= fdLimit(p)) return -EINVAL;
      const nfd = allocFd(p, f, arg);
      if (nfd >= 0 && (cmd | 0) === F_DUPFD_CLOEXEC) p.cloexec.add(nfd);
      return nfd;
    }
    case F_GETFD:
      return p.cloexec.has(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      if ((arg & FD_CLOEXEC) !== 0) p.cloexec.add(fd);
      else p.cloexec.delete(fd);
      return 0;
    case F_GETFL:
      return f instanceof OpenFile ? f.flags : O_RDWR;
    case F_SETFL:
      if (f instanceof OpenFile) f.flags = (f.flags & ~SETFL_MASK) | (arg & SETFL_MASK);
      return 0;
    case F_GETLK: {
      // Advisory locks are always granted (no other lock holder is modelled): l_type = F_UNLCK.
      const b = new Uint8Array(2);
      new DataView(b.buffer).setInt16(0, F_UNLCK, true);
      return kernel.copyToUser(cpu, task, arg, b) ? 0 : -EFAULT;
    }
    case F_SETLK:
    case F_SETLKW:
      return kernel.copyFromUser(cpu, task, arg, 2) === undefined ? -EFAULT : 0;
    default:
      return -EINVAL;
  }
}

function pipe2(ctx: SyscallContext, fdsVa: number, flags: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) !== 0) return -EINVAL;
  const p = task.process;
  const pipe = new Pipe(kernel);
  const common = flags & (O_NONBLOCK | O_DIRECT);
  const r = new PipeEnd(pipe, false, O_RDONLY | common);
  const w = new PipeEnd(pipe, true, O_WRONLY | common);
  const rfd = allocFd(p, r);
  if (rfd < 0) {
    r.get().put();
    w.get().put();
    return rfd;
  }
  const wfd = allocFd(p, w);
  if (wfd < 0) {
    closeFd(p, rfd);
    w.get().put();
    return wfd;
  }
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, rfd, true);
  dv.setInt32(4, wfd, true);
  if (!kernel.copyToUser(cpu, task, fdsVa, b)) {
    closeFd(p, rfd);
    closeFd(p, wfd);
    return -EFAULT;
  }
  if ((flags & O_CLOEXEC) !== 0) {
    p.cloexec.add(rfd);
    p.cloexec.add(wfd);
  }
  return 0;
}

// ---- ioctl ------------------------------------------------------------------------------------

interface TtyState {
  termios: Uint8Array;
  winsize: Uint8Array;
}

const ttys = new WeakMap<Kernel, TtyState>();

/** The console's terminal settings: Linux's tty_std_termios until TCSETS changes them. */
function ttyState(k: Kernel): TtyState {
  let s = ttys.get(k);
  if (s === undefined) {
    const termios = new Uint8Array(TERMIOS_SIZE);
    const dv = new DataView(termios.buffer);
    dv.setUint32(0, 0o2400, true); // c_iflag: ICRNL | IXON
    dv.setUint32(4, 0o5, true); // c_oflag: OPOST | ONLCR
    dv.setUint32(8, 0o2277, true); // c_cflag: B38400 | CS8 | CREAD | HUPCL
    dv.setUint32(12, 0o105073, true); // c_lflag: ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
    termios[16] = 0; // c_line: N_TTY
    // c_cc: INIT_C_CC "\003\034\177\025\004\0\1\0\021\023\032\0\022\017\027\026\0"
    termios.set([3, 0o34, 0o177, 0o25, 4, 0, 1, 0, 0o21, 0o23, 0o32, 0, 0o22, 0o17, 0o27, 0o26, 0], 17);
    const winsize = new Uint8Array(WINSIZE_SIZE);
    const wv = new DataView(winsize.buffer);
    const out = process.stdout;
    wv.setUint16(0, out.isTTY && out.rows > 0 ? out.rows : 24, true);
    wv.setUint16(2, out.isTTY && out.columns > 0 ? out.columns : 80, true);
    s = { termios, winsize };
    ttys.set(k, s);
  }
  return s;
}

function ioctl(ctx: SyscallContext, fdArg: number, reqArg: number, arg: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  const p = task.process;
  const fd = fdArg | 0;
  const req = reqArg >>> 0;
  const f = p.files.get(fd);
  if (f === undefined) return -EBADF;
  const putInt = (v: number): number => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return kernel.copyToUser(cpu, task, arg, b) ? 0 : -EFAULT;
  };
  // do_vfs_ioctl: requests every file answers.
  switch (req) {
    case FIOCLEX:
      p.cloexec.add(fd);
      return 0;
    case FIONCLEX:
      p.cloexec.delete(fd);
      return 0;
    case FIONBIO: {
      const b = kernel.copyFromUser(cpu, task, arg, 4);
      if (b === undefined) return -EFAULT;
      if (f instanceof OpenFile) {
        if (new DataView(b.buffer).getInt32(0, true) !== 0) f.flags |= O_NONBLOCK;
        else f.flags &= ~O_NONBLOCK;
      }
      return 0;
    }
  }
  if (f instanceof ConsoleFile) {
    if (!f.tty) return -ENOTTY;
    const tty = ttyState(kernel);
    switch (req) {
      case TCGETS:
        return kernel.copyToUser(cpu, task, arg, tty.termios) ? 0 : -EFAULT;
      case TCSETS:
      case TCSETSW:
      case TCSETSF: {
        const b = kernel.copyFromUser(cpu, task, arg, TERMIOS_SIZE);
        if (b === undefined) return -EFAULT;
        tty.termios.set(b);
        return 0;
      }
      case TIOCGWINSZ:
        return kernel.copyToUser(cpu, task, arg, tty.winsize) ? 0 : -EFAULT;
      case TIOCSWINSZ: {
        const b = kernel.copyFromUser(cpu, task, arg, WINSIZE_SIZE);
        if (b === undefined) return -EFAULT;
        tty.winsize.set(b);
        return 0;
      }
      case TIOCGPGRP:
        return putInt(p.pid); // every process leads its own group in this model
      case TIOCSPGRP:
        return 0;
      case FIONREAD:
        return putInt(0);
      default:
        return -ENOTTY;
    }
  }
  if (f instanceof OpenFile) {
    if (req === FIONREAD && (f instanceof RegularFile || f instanceof PipeEnd)) return putInt(f.available());
    return -ENOTTY;
  }
  return f.ioctl === undefined ? -ENOTTY : f.ioctl(task, req, arg);
}
