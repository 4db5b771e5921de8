import * as fs from 'node:fs';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import { BOOT_EPOCH_NS, randomBytes } from './clock.js';
import type { Kernel } from './kernel.js';
import {
  POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM,
  EACCES, EAGAIN, EBADF, EBUSY, EDQUOT, EEXIST, EFAULT, EFBIG, EINVAL, EIO, EISDIR, ELOOP, EMFILE,
  EMLINK, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOSYS, ENOTDIR, ENOTEMPTY, ENXIO,
  EOPNOTSUPP, EOVERFLOW, EPERM, EPIPE, EROFS, ESPIPE, ESTALE, ETXTBSY, EXDEV, DT_BLK, DT_CHR,
  DT_DIR, DT_FIFO, DT_LNK, DT_REG, DT_SOCK, DT_UNKNOWN, O_ACCMODE, O_APPEND, O_PATH, O_RDONLY,
  O_WRONLY, PIPE_BUF, PIPE_DEF_BUFFERS_SIZE, RLIMIT_NOFILE, SEEK_CUR, SEEK_DATA, SEEK_END,
  SEEK_HOLE, SEEK_SET, STAT_SIZE, ST_ATIME, ST_BLKSIZE, ST_BLOCKS, ST_CTIME, ST_DEV, ST_GID,
  ST_INO, ST_MODE, ST_MTIME, ST_NLINK, ST_RDEV, AT_FDCWD,
  ST_SIZE, ST_UID, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_IFBLK, ERANGE,
} from './linux-abi.js';
import type { KernelFile, Process } from './task.js';
import { Walk, walkPath } from './path-walk.js';

/**
 * The file layer of the Linux model (fs/): a host directory is the guest's file system, and the
 * objects behind file descriptors — regular files and directories of that tree, pipes, the
 * console, and a few character devices — are open file descriptions (struct file): dup and fork
 * share them, so they share the file offset and status flags, and each counts the descriptors
 * that refer to it; the last close releases it (closes the host fd, or tells a pipe's other end).
 *
 * Guest paths are resolved under `kernel.root` as under chroot(2), one component at a time by
 * path-walk.ts: a symlink's target is walked in the guest's tree (an absolute one from the
 * guest's "/"), and `..` stops at "/". A descriptor is bound to the object it opened, not to the
 * name it was opened by: directories and O_PATH descriptors hold a host fd, and what they name
 * later (getdents, fstat, the base of an *at() call, fchdir) is that object wherever it is now
 * — its current place is the host's /proc/self/fd/N link (the kernel's d_path). The cwd is such
 * an object too. All host access is synchronous node:fs, with host errors mapped to Linux errno
 * values by their names.
 */

// ---- errno -------------------------------------------------------------------------------

const ERRNO_BY_CODE: Record<string, number> = {
  EPERM, ENOENT, EIO, ENXIO, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, EXDEV, ENODEV,
  ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE,
  ERANGE, ENAMETOOLONG, ENOSYS, ENOTEMPTY, ELOOP, EOVERFLOW, EOPNOTSUPP, ENOTSUP: EOPNOTSUPP,
  ESTALE, EDQUOT, EWOULDBLOCK: EAGAIN,
};

/**
 * A host error (a node:fs exception) as a negative Linux errno. Node's own argument checks
 * (ERR_OUT_OF_RANGE for a position past 2^53 …) are -EINVAL; anything else is a bug and rethrown.
 */
export function hostErrno(e: unknown): number {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_')) return -EINVAL;
  if (typeof code !== 'string' || (e as NodeJS.ErrnoException).syscall === undefined) throw e;
  return -(ERRNO_BY_CODE[code] ?? EIO);
}

/** Runs a host call, returning its result or -errno. */
export function host<T>(fn: () => T): T | number {
  try {
    return fn();
  } catch (e) {
    return hostErrno(e);
  }
}

// ---- struct stat ---------------------------------------------------------------------------

/** The fields of struct stat, as unsigned 64-bit values (times in nanoseconds since 1970). */
export interface KStat {
  dev: bigint;
  ino: bigint;
  nlink: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  size: bigint;
  blksize: bigint;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export function statFromHost(s: fs.BigIntStats): KStat {
  return {
    dev: s.dev, ino: s.ino, nlink: s.nlink, mode: s.mode, uid: s.uid, gid: s.gid, rdev: s.rdev,
    size: s.size, blksize: s.blksize, blocks: s.blocks, atimeNs: s.atimeNs, mtimeNs: s.mtimeNs,
    ctimeNs: s.ctimeNs,
  };
}

/** A stat of something that is not a host file (a pipe, the console, a device). */
export function syntheticStat(mode: number, dev: number, ino: number, rdev = 0, blksize = 4096): KStat {
  return {
    dev: BigInt(dev), ino: BigInt(ino), nlink: 1n, mode: BigInt(mode), uid: 0n, gid: 0n,
    rdev: BigInt(rdev), size: 0n, blksize: BigInt(blksize), blocks: 0n,
    atimeNs: BOOT_EPOCH_NS, mtimeNs: BOOT_EPOCH_NS, ctimeNs: BOOT_EPOCH_NS,
  };
}

/** makedev as the kernel's new_encode_dev (and glibc's gnu_dev_makedev) lay it out. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}

/** Lays a stat out as x86-64 struct stat (144 bytes). */
export function encodeStat(s: KStat): Uint8Array {
  const b = new Uint8Array(STAT_SIZE);
  const dv = new DataView(b.buffer);
  const u64 = (o: number, v: bigint): void => dv.setBigUint64(o, BigInt.asUintN(64, v), true);
  const u32 = (o: number, v: bigint): void => dv.setUint32(o, Number(BigInt.asUintN(32, v)), true);
  // Each time is seconds, then nanoseconds (ST_ATIME_NSEC = ST_ATIME + 8 …).
  const sec = (o: number, ns: bigint): void => {
    // tv_sec rounds toward minus infinity, tv_nsec is always 0..999999999.
    let q = ns / 1_000_000_000n;
    let r = ns % 1_000_000_000n;
    if (r < 0n) {
      q -= 1n;
      r += 1_000_000_000n;
    }
    u64(o, q);
    u64(o + 8, r);
  };
  u64(ST_DEV, s.dev);
  u64(ST_INO, s.ino);
  u64(ST_NLINK, s.nlink);
  u32(ST_MODE, s.mode);
  u32(ST_UID, s.uid);
  u32(ST_GID, s.gid);
  u64(ST_RDEV, s.rdev);
  u64(ST_SIZE, s.size);
  u64(ST_BLKSIZE, s.blksize);
  u64(ST_BLOCKS, s.blocks);
  sec(ST_ATIME, s.atimeNs);
  sec(ST_MTIME, s.mtimeNs);
  sec(ST_CTIME, s.ctimeNs);
  return b;
}

/** The getdents d_type of an st_mode. */
export function dtype(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
  }
}

// ---- open file descriptions ----------------------------------------------------------------

const POLL_READABLE = POLLIN | POLLRDNORM;
const POLL_WRITABLE = POLLOUT | POLLWRNORM;

/** Where read() puts what it read (a copy to user memory); false when that faults. */
export type ReadSink = (data: Uint8Array) => boolean;

/**
 * An open file description (struct file). Methods return -errno on failure. A read or write
 * that would have to wait returns -EAGAIN; the system-call layer then sleeps until
 * readReady/writeReady say it can go on (or returns -EAGAIN for O_NONBLOCK).
 */
export abstract class OpenFile implements KernelFile {
  abstract readonly kind: string;
  /** Descriptors (in every process) that refer to this description. */
  refs = 0;
  /**
   * The guest path it was opened by, for files of the tree: for reports only — lookups from a
   * directory use the object's current place (objectGuestPath), never this name again.
   */
  guestPath: string | undefined;

  constructor(
    /** File status flags: access mode, O_APPEND, O_NONBLOCK … (what F_GETFL returns). */
    public flags: number,
  ) {}

  get canRead(): boolean {
    return (this.flags & O_PATH) === 0 && (this.flags & O_ACCMODE) !== O_WRONLY;
  }

  get canWrite(): boolean {
    return (this.flags & O_PATH) === 0 && (this.flags & O_ACCMODE) !== O_RDONLY;
  }

  get isDirectory(): boolean {
    return false;
  }

  /**
   * Whether an event from the host could make the file ready (a host socket: connections, data,
   * datagrams). Pipes, the console and files of the tree change only by what tasks do.
   */
  hostCanWake(): boolean {
    return false;
  }

  /** Whether the file has a position (lseek, pread, pwrite work). */
  get seekable(): boolean {
    return false;
  }

  /** Reads up to `len` bytes at the file position (or at `pos`: pread) into `sink`. */
  read(_len: number, _sink: ReadSink, _pos?: number): number {
    return -EINVAL;
  }

  /** Writes at the file position (or at `pos`: pwrite); returns the bytes written. */
  write(_data: Uint8Array, _pos?: number): number {
    return -EINVAL;
  }

  seek(_offset: number, _whence: number): number {
    return -ESPIPE;
  }

  abstract stat(): KStat | number;

  truncate(_length: number): number {
    return -EINVAL;
  }

  sync(): number {
    return -EINVAL;
  }

  /** Bytes a read could return now (FIONREAD). */
  available(): number {
    return 0;
  }

  readReady(): boolean {
    return true;
  }

  /**
   * Counts of the wake-ups of the file's wait queue for input and for output (a new segment, a
   * peer's FIN; send space freed): epoll's edge-triggered mode reports an item again only after
   * one of these (ep_poll_callback). Files that never wait keep them at 0.
   */
  get readGeneration(): number {
    return 0;
  }

  get writeGeneration(): number {
    return 0;
  }

  /** What poll() and epoll see now (f_op->poll): POLLIN, POLLOUT, POLLHUP, POLLERR … */
  pollMask(): number {
    return (this.canRead && this.readReady() ? POLL_READABLE : 0) | (this.canWrite && this.writeReady(1) ? POLL_WRITABLE : 0);
  }

  /** Whether a write of `remaining` bytes can make progress now. */
  writeReady(_remaining: number): boolean {
    return true;
  }

  get(): this {
    this.refs++;
    return this;
  }

  /** Drops a descriptor's reference; the last one releases the file. */
  put(): void {
    if (--this.refs === 0) this.release();
  }

  protected release(): void {}
}

/** A regular file of the host tree, read and written at positions through a host fd. */
export class RegularFile extends OpenFile {
  readonly kind = 'file';
  offset = 0;

  constructor(flags: number, readonly hostFd: number, readonly hostPath: string, guestPath: string) {
    super(flags);
    this.guestPath = guestPath;
  }

  override get seekable(): boolean {
    return true;
  }

  override read(len: number, sink: ReadSink, pos?: number): number {
    const at = pos ?? this.offset;
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (total < len) {
      const want = Math.min(len - total, 1 << 16);
      const buf = Buffer.allocUnsafe(want);
      const n = host(() => fs.readSync(this.hostFd, buf, 0, want, at + total));
      if (n < 0) return total > 0 ? this.deliver(chunks, total, sink, pos) : n;
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (n < want) break;
    }
    return this.deliver(chunks, total, sink, pos);
  }

  private deliver(chunks: Uint8Array[], total: number, sink: ReadSink, pos: number | undefined): number {
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    if (!sink(data)) return -EFAULT;
    if (pos === undefined) this.offset += total;
    return total;
  }

  override write(data: Uint8Array, pos?: number): number {
    let at = pos ?? this.offset;
    // O_APPEND writes at the end, pwrite included (a documented Linux quirk).
    if ((this.flags & O_APPEND) !== 0) {
      const size = this.size();
      if (size < 0) return size;
      at = size;
    }
    const n = host(() => fs.writeSync(this.hostFd, data, 0, data.length, at));
    if (n < 0) return n;
    if (pos === undefined) this.offset = at + n;
    return n;
  }

  private size(): number {
    const s = host(() => fs.fstatSync(this.hostFd));
    return typeof s === 'number' ? s : s.size;
  }

  override seek(offset: number, whence: number): number {
    let base: number;
    switch (whence) {
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = this.offset; break;
      case SEEK_END:
      case SEEK_DATA:
      case SEEK_HOLE: {
        const size = this.size();
        if (size < 0) return size;
        if (whence === SEEK_END) {
          base = size;
          break;
        }
        // No holes are tracked: data everywhere below the size, one hole at the end.
        if (offset < 0) return -EINVAL;
        if (offset >= size) return -ENXIO;
        this.offset = whence === SEEK_DATA ? offset : size;
        return this.offset;
      }
      default: return -EINVAL;
    }
    const to = base + offset;
    if (to < 0) return -EINVAL;
    this.offset = to;
    return to;
  }

  override stat(): KStat | number {
    const s = host(() => fs.fstatSync(this.hostFd, { bigint: true }));
    return typeof s === 'number' ? s : statFromHost(s);
  }

  override truncate(length: number): number {
    const r = host(() => fs.ftruncateSync(this.hostFd, length));
    return typeof r === 'number' ? r : 0;
  }

  override sync(): number {
    const r = host(() => fs.fsyncSync(this.hostFd));
    return typeof r === 'number' ? r : 0;
  }

  override available(): number {
    return Math.max(0, this.size() - this.offset);
  }

  protected override release(): void {
    host(() => fs.closeSync(this.hostFd));
  }
}

export interface DirEntry {
  name: string;
  ino: bigint;
  type: number;
}

/**
 * A directory of the host tree, bound to the directory it opened by a host fd: getdents lists
 * that directory (through /proc/self/fd/N) even after it was renamed and something else put at
 * its old name. getdents walks a sorted snapshot, taken by the first getdents and again after a
 * rewind (lseek to 0); the d_off cookie is the entry's index + 1.
 */
export class DirFile extends OpenFile {
  readonly kind = 'dir';
  /** Index of the next entry (the d_off cookie of the previous one). */
  pos = 0;
  private entries: DirEntry[] | undefined;

  constructor(flags: number, readonly hostFd: number, guestPath: string, private readonly isRoot: boolean) {
    super(flags);
    this.guestPath = guestPath;
  }

  override get isDirectory(): boolean {
    return true;
  }

  override get seekable(): boolean {
    return true;
  }

  override read(): number {
    return -EISDIR;
  }

  override write(): number {
    return -EISDIR;
  }

  /** The entries: ".", "..", then the directory's names in byte order (deterministic). */
  list(): DirEntry[] | number {
    if (this.entries !== undefined) return this.entries;
    const dir = fdPath(this.hostFd);
    const self = host(() => fs.fstatSync(this.hostFd, { bigint: true }));
    if (typeof self === 'number') return self;
    if (self.nlink === 0n) return (this.entries = []); // removed: getdents returns 0
    const names = host(() => fs.readdirSync(dir));
    if (typeof names === 'number') return names;
    // The guest's "/" is its own parent (a chroot's root); another directory's is the host's.
    const parent = this.isRoot ? self : host(() => fs.statSync(dir + '/..', { bigint: true }));
    const out: DirEntry[] = [
      { name: '.', ino: self.ino, type: DT_DIR },
      { name: '..', ino: typeof parent === 'number' ? self.ino : parent.ino, type: DT_DIR },
    ];
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const s = host(() => fs.lstatSync(dir + '/' + name, { bigint: true }));
      if (typeof s === 'number') continue; // gone since readdir
      out.push({ name, ino: s.ino, type: dtype(Number(s.mode)) });
    }
    this.entries = out;
    return out;
  }

  override seek(offset: number, whence: number): number {
    let to: number;
    if (whence === SEEK_SET) to = offset;
    else if (whence === SEEK_CUR) to = this.pos + offset;
    else return -EINVAL;
    if (to < 0) return -EINVAL;
    if (to === 0) this.entries = undefined; // rewinddir sees new entries
    this.pos = to;
    return to;
  }

  override stat(): KStat | number {
    const s = host(() => fs.fstatSync(this.hostFd, { bigint: true }));
    return typeof s === 'number' ? s : statFromHost(s);
  }

  override sync(): number {
    return 0;
  }

  protected override release(): void {
    host(() => fs.closeSync(this.hostFd));
  }
}

/**
 * An O_PATH descriptor: a location only (fstat, fchdir, a dirfd), no I/O. It holds a host O_PATH
 * fd on the object (the symlink itself for O_PATH | O_NOFOLLOW on a link), so it keeps naming
 * that object wherever it moves. The cwd is one of these too.
 */
export class PathFile extends OpenFile {
  readonly kind = 'path';

  constructor(flags: number, readonly hostFd: number, guestPath: string, private readonly dir: boolean) {
    super(flags);
    this.guestPath = guestPath;
  }

  override get isDirectory(): boolean {
    return this.dir;
  }

  override read(): number {
    return -EBADF;
  }

  override write(): number {
    return -EBADF;
  }

  override stat(): KStat | number {
    const s = host(() => fs.fstatSync(this.hostFd, { bigint: true }));
    return typeof s === 'number' ? s : statFromHost(s);
  }

  protected override release(): void {
    host(() => fs.closeSync(this.hostFd));
  }
}

/**
 * Opens a host O_PATH fd on what a walk found (no symlink is followed: the walk has seen every
 * component) and wraps it as a PathFile: O_PATH descriptors and the cwd.
 */
export function openPathFile(flags: number, hostPath: string, guestPath: string, dir: boolean): PathFile | number {
  // The host is Linux too: its open(2) takes the same O_PATH (node:fs has no constant for it).
  const fd = host(() => fs.openSync(hostPath, O_PATH | fs.constants.O_NOFOLLOW | (dir ? fs.constants.O_DIRECTORY : 0)));
  if (fd < 0) return fd;
  return new PathFile(flags, fd, guestPath, dir);
}

/** A host fd as a path the host resolves to the object itself (proc(5): /proc/self/fd/N). */
export function fdPath(hostFd: number): string {
  return `/proc/self/fd/${hostFd}`;
}

/**
 * The current guest path of the object behind a host fd (the kernel's d_path), read from the
 * host's /proc/self/fd/N link and checked to still name that object: -ENOENT when the object was
 * removed (Linux's lookups in a removed directory, and getcwd, are ENOENT) or is no longer under
 * the guest's root (a relative lookup from there could climb past "/").
 */
export function objectGuestPath(k: Kernel, hostFd: number): string | number {
  const root = host(() => realRoot(k));
  if (typeof root === 'number') return root;
  const p = host(() => fs.readlinkSync(fdPath(hostFd)));
  if (typeof p === 'number') return p;
  const obj = host(() => fs.fstatSync(hostFd, { bigint: true }));
  const named = host(() => fs.lstatSync(p, { bigint: true }));
  if (typeof obj === 'number' || typeof named === 'number' || obj.ino !== named.ino || obj.dev !== named.dev) return -ENOENT;
  if (!inside(root, p)) return -ENOENT;
  const rel = path.relative(root, p);
  return rel === '' ? '/' : '/' + rel.split(path.sep).join('/');
}

// ---- pipes -----------------------------------------------------------------------------------

const PIPEFS_DEV = makedev(0, 12);
const pipeInodes = new WeakMap<Kernel, number>();

/** The in-kernel buffer of a pipe (a 64 KiB ring) and the counts of its open ends. */
export class Pipe {
  readonly buf = new Uint8Array(PIPE_DEF_BUFFERS_SIZE);
  head = 0;
  count = 0;
  readers = 0;
  writers = 0;
  /** Wake-ups of readers (data in, the last writer gone) and of writers (space, the last reader gone). */
  readWakeups = 0;
  writeWakeups = 0;
  readonly ino: number;

  constructor(private readonly kernel: Kernel) {
    const ino = (pipeInodes.get(kernel) ?? 0x1000) + 1;
    pipeInodes.set(kernel, ino);
    this.ino = ino;
  }

  get space(): number {
    return this.buf.length - this.count;
  }

  /** Something a sleeper may wait for happened: data, space, or an end closed. */
  changed(): void {
    this.kernel.wakeSleepers();
  }

  peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const first = Math.min(n, this.buf.length - this.head);
    out.set(this.buf.subarray(this.head, this.head + first));
    if (first < n) out.set(this.buf.subarray(0, n - first), first);
    return out;
  }

  consume(n: number): void {
    this.head = (this.head + n) % this.buf.length;
    this.count -= n;
  }

  push(data: Uint8Array): void {
    const tail = (this.head + this.count) % this.buf.length;
    const first = Math.min(data.length, this.buf.length - tail);
    this.buf.set(data.subarray(0, first), tail);
    if (first < data.length) this.buf.set(data.subarray(first), 0);
    this.count += data.length;
  }
}

/** One end of a pipe. */
export class PipeEnd extends OpenFile {
  readonly kind = 'pipe';

  constructor(readonly pipe: Pipe, readonly writeEnd: boolean, flags: number) {
    super(flags);
    if (writeEnd) pipe.writers++;
    else pipe.readers++;
  }

  override read(len: number, sink: ReadSink): number {
    const p = this.pipe;
    if (p.count === 0) return p.writers === 0 ? 0 : -EAGAIN;
    const n = Math.min(len, p.count);
    if (!sink(p.peek(n))) return -EFAULT;
    p.consume(n);
    p.writeWakeups++;
    p.changed();
    return n;
  }

  /** Writes what fits (all or nothing up to PIPE_BUF); -EPIPE without readers. */
  override write(data: Uint8Array): number {
    const p = this.pipe;
    if (p.readers === 0) return -EPIPE;
    if (data.length === 0) return 0;
    const space = p.space;
    if (space === 0 || (data.length <= PIPE_BUF && space < data.length)) return -EAGAIN;
    const n = Math.min(space, data.length);
    p.push(data.subarray(0, n));
    p.readWakeups++;
    p.changed();
    return n;
  }

  override readReady(): boolean {
    return this.pipe.count > 0 || this.pipe.writers === 0;
  }

  override writeReady(remaining: number): boolean {
    const p = this.pipe;
    return p.readers === 0 || (p.space > 0 && p.space >= Math.min(remaining, PIPE_BUF));
  }

  override available(): number {
    return this.pipe.count;
  }

  override stat(): KStat {
    return syntheticStat(S_IFIFO | 0o600, PIPEFS_DEV, this.pipe.ino);
  }

  override get readGeneration(): number {
    return this.pipe.readWakeups;
  }

  override get writeGeneration(): number {
    return this.pipe.writeWakeups;
  }

  protected override release(): void {
    if (this.writeEnd) {
      this.pipe.writers--;
      this.pipe.readWakeups++;
    } else {
      this.pipe.readers--;
      this.pipe.writeWakeups++;
    }
    this.pipe.changed();
  }
}

// ---- the console -----------------------------------------------------------------------------

const DEVPTS_DEV = makedev(0, 11);
const stdinPending = new WeakMap<Kernel, Uint8Array>();

/**
 * fds 0, 1 and 2 of every process: output to `kernel.console`, input from `kernel.stdin`. It is
 * a terminal (ioctl TCGETS answers, fstat says character device 136:n) when `kernel.isatty`
 * says the host fd is one, else it behaves as a pipe.
 */
export class ConsoleFile extends OpenFile {
  readonly kind = 'console';

  constructor(readonly kernel: Kernel, readonly hostFd: number) {
    super(hostFd === 0 ? O_RDONLY : O_WRONLY);
  }

  get tty(): boolean {
    return this.kernel.isatty(this.hostFd);
  }

  override read(len: number, sink: ReadSink): number {
    const k = this.kernel;
    let data = stdinPending.get(k);
    if (data === undefined || data.length === 0) data = k.stdin(Math.min(len, 1 << 16));
    const n = Math.min(len, data.length);
    if (!sink(data.subarray(0, n))) {
      stdinPending.set(k, data); // not lost: the next read gets it
      return -EFAULT;
    }
    stdinPending.set(k, data.subarray(n));
    return n;
  }

  override write(data: Uint8Array): number {
    this.kernel.console(this.hostFd, data);
    return data.length;
  }

  override stat(): KStat {
    if (this.tty) return syntheticStat(S_IFCHR | 0o620, DEVPTS_DEV, 3, makedev(136, 0), 1024);
    return syntheticStat(S_IFIFO | 0o600, PIPEFS_DEV, 1 + this.hostFd);
  }
}

/** Reads the host's stdin synchronously (the default `kernel.stdin`); empty at end of file. */
export function readHostStdin(max: number): Uint8Array {
  const buf = Buffer.alloc(Math.max(1, Math.min(max, 1 << 16)));
  for (;;) {
    try {
      const n = fs.readSync(0, buf, 0, buf.length, null);
      return buf.subarray(0, n);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // non-blocking host stdin: poll
        continue;
      }
      if (code === 'EOF') return buf.subarray(0, 0);
      throw e;
    }
  }
}

/** Whether a host fd is a terminal (the default `kernel.isatty`). */
export function hostIsatty(fd: number): boolean {
  return isatty(fd);
}

// ---- character devices -------------------------------------------------------------------

const DEVTMPFS_DEV = makedev(0, 5);

/** /dev/null, /dev/zero, /dev/random and /dev/urandom (deterministic: the kernel's random stream). */
export class CharDevice extends OpenFile {
  readonly kind = 'chr';

  constructor(readonly kernel: Kernel, readonly device: 'null' | 'zero' | 'random' | 'urandom', flags: number, guestPath: string) {
    super(flags);
    this.guestPath = guestPath;
  }

  override get seekable(): boolean {
    return true;
  }

  override read(len: number, sink: ReadSink): number {
    if (this.device === 'null') return 0;
    const n = Math.min(len, 1 << 20);
    const data = this.device === 'zero' ? new Uint8Array(n) : randomBytes(this.kernel, n);
    return sink(data) ? n : -EFAULT;
  }

  override write(data: Uint8Array): number {
    return data.length;
  }

  override seek(): number {
    return 0;
  }

  override stat(): KStat {
    return CharDevice.statOf(this.device);
  }

  static readonly MINORS = { null: 3, zero: 5, random: 8, urandom: 9 } as const;

  static statOf(device: 'null' | 'zero' | 'random' | 'urandom'): KStat {
    const minor = CharDevice.MINORS[device];
    return syntheticStat(S_IFCHR | 0o666, DEVTMPFS_DEV, 100 + minor, makedev(1, minor));
  }

  /** The device a guest path names, if it is one of these. */
  static named(guest: string): 'null' | 'zero' | 'random' | 'urandom' | undefined {
    switch (guest) {
      case '/dev/null': return 'null';
      case '/dev/zero': return 'zero';
      case '/dev/random': return 'random';
      case '/dev/urandom': return 'urandom';
      default: return undefined;
    }
  }
}

/** fstat of a descriptor that is not an OpenFile (a driver's file, such as /dev/dune). */
export function deviceStat(): KStat {
  return syntheticStat(S_IFCHR | 0o600, DEVTMPFS_DEV, 200, makedev(10, 0));
}

// ---- descriptor tables -------------------------------------------------------------------

/** The RLIMIT_NOFILE soft limit of a process (descriptors must stay below it). */
export function fdLimit(p: Process): number {
  return Number(p.rlimits[RLIMIT_NOFILE]!.cur);
}

/** Puts `file` at `fd`, closing what was there (dup2). */
export function installFd(p: Process, fd: number, file: KernelFile): void {
  const old = p.files.get(fd);
  if (file instanceof OpenFile) file.get();
  p.files.set(fd, file);
  p.cloexec.delete(fd);
  if (old instanceof OpenFile) old.put();
}

/** The lowest free descriptor ≥ `min` for `file`, or -EMFILE. */
export function allocFd(p: Process, file: KernelFile, min = 0): number {
  const limit = fdLimit(p);
  let fd = min;
  while (p.files.has(fd)) fd++;
  if (fd >= limit) return -EMFILE;
  installFd(p, fd, file);
  return fd;
}

/** close(): drops the descriptor; -EBADF if it is not open. */
export function closeFd(p: Process, fd: number): number {
  const f = p.files.get(fd);
  if (f === undefined) return -EBADF;
  p.files.delete(fd);
  p.cloexec.delete(fd);
  if (f instanceof OpenFile) f.put();
  return 0;
}

/** exit_files: closes every descriptor of an exiting process. */
export function closeFiles(p: Process): void {
  for (const fd of [...p.files.keys()]) closeFd(p, fd);
  setCwd(p, undefined); // exit_fs: the cwd's reference goes too
}

/** Makes `dir` (a directory's PathFile or DirFile; undefined: the guest's "/") the cwd of `p`. */
export function setCwd(p: Process, dir: OpenFile | undefined): void {
  const old = p.cwdDir;
  dir?.get();
  p.cwdDir = dir;
  if (old instanceof OpenFile) old.put();
}

/** fork (copy_files, copy_fs): the child shares the parent's open files and gets its cwd and umask. */
export function forkFiles(parent: Process, child: Process): void {
  closeFiles(child);
  for (const [fd, f] of parent.files) {
    if (f instanceof OpenFile) f.get();
    child.files.set(fd, f);
  }
  for (const fd of parent.cloexec) child.cloexec.add(fd);
  child.cwd = parent.cwd;
  setCwd(child, parent.cwdDir as OpenFile | undefined);
  child.umask = parent.umask;
}

// ---- path lookup -------------------------------------------------------------------------

/** A resolved path: its place in the guest tree and the host path behind it. */
export interface Resolved {
  guest: string;
  host: string;
}

const realRoots = new Map<string, string>();

/** The host path of the guest's "/" with its own symlinks resolved. */
export function realRoot(k: Kernel): string {
  let r = realRoots.get(k.root);
  if (r === undefined) {
    r = fs.realpathSync.native(k.root);
    realRoots.set(k.root, r);
  }
  return r;
}

function inside(root: string, p: string): boolean {
  return p === root || root === '/' || p.startsWith(root + path.sep);
}

/** The host fd of a descriptor that can be a base directory (a directory's DirFile or PathFile). */
function directoryFd(f: KernelFile | undefined): number | undefined {
  if (f instanceof DirFile) return f.hostFd;
  if (f instanceof PathFile && f.isDirectory) return f.hostFd;
  return undefined;
}

/** The canonical guest path of the cwd: its object's current place ("/" before any chdir). */
export function cwdOf(k: Kernel, p: Process): string | number {
  const d = p.cwdDir;
  return d instanceof PathFile || d instanceof DirFile ? objectGuestPath(k, d.hostFd) : p.cwd;
}

/**
 * Where a relative `name` starts: the cwd (AT_FDCWD) or the directory descriptor's object,
 * where it is now. -EBADF / -ENOTDIR for a bad dirfd, -ENOENT when that directory was removed.
 * An absolute name starts at "/" and ignores dirfd (openat(2)).
 */
export function baseOf(k: Kernel, p: Process, dirfd: number, name: string): string | number {
  if (name.startsWith('/')) return '/';
  if (dirfd === AT_FDCWD) return cwdOf(k, p);
  const f = p.files.get(dirfd);
  if (f === undefined) return -EBADF;
  const fd = directoryFd(f);
  if (fd === undefined) return -ENOTDIR;
  return objectGuestPath(k, fd);
}

/**
 * The guest path `name` names as text, looked up from `dirfd` (AT_FDCWD: the cwd): `..` and `.`
 * applied lexically (so `..` stops at "/"), symlinks not looked at. Devices are matched by this
 * path; the files are found by lookup(), which walks the tree. -EBADF / -ENOTDIR for a bad dirfd.
 */
export function guestPathOf(k: Kernel, p: Process, dirfd: number, name: string): string | number {
  if (name.length === 0) return -ENOENT;
  const base = baseOf(k, p, dirfd, name);
  if (typeof base === 'number') return base;
  return path.posix.resolve(base, name);
}

/** A walk that ended, for the system calls: the guest path, the host path, and what is there. */
export interface Resolved {
  guest: string;
  host: string;
  exists: boolean;
  stat: fs.Stats | undefined;
}

/**
 * Resolves `name` from `dirfd` as a system call does (path-walk.ts under the root, as chroot):
 * with `follow`, a symlink in the last component is followed too (stat, open), else only those
 * leading to it (lstat, unlink, rename). A missing last component resolves (exists: false), so it
 * can be created; a name ending in a slash must be a directory (-ENOTDIR).
 */
export function lookup(k: Kernel, p: Process, dirfd: number, name: string, follow: boolean): Resolved | number {
  const w = walkAt(k, p, dirfd, name, follow);
  if (typeof w === 'number') return w;
  if (!w.ok) return w.errno;
  return { guest: w.guest, host: w.host, exists: w.exists, stat: w.stat };
}

/**
 * The walk itself (path-walk.ts) of `name` from `dirfd`, with where it stopped and the places it
 * passed: what lookup() uses, and what a policy judges (plugins/sandbox/path-resolver.ts).
 * A number for an empty name or a bad dirfd.
 */
export function walkAt(k: Kernel, p: Process, dirfd: number, name: string, follow: boolean): Walk | number {
  if (name.length === 0) return -ENOENT;
  const base = baseOf(k, p, dirfd, name);
  if (typeof base === 'number') return base;
  return walkFromGuest(k, base, name, follow);
}

/** The same walk from a canonical guest directory `base`. */
export function walkFromGuest(k: Kernel, base: string, name: string, follow: boolean): Walk | number {
  const root = host(() => realRoot(k));
  if (typeof root === 'number') return root; // kernel.root itself is missing
  return walkPath(root, base, name, follow);
}

/** The stat of a guest path that names a device (kernel.devices or a built-in one), if it does. */
export function deviceStatByPath(k: Kernel, guest: string): KStat | undefined {
  const d = CharDevice.named(guest);
  if (d !== undefined) return CharDevice.statOf(d);
  if (k.devices.has(guest)) return deviceStat();
  return undefined;
}
