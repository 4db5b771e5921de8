import type { PhysicalMemory } from '../vtx/physical-memory.js';
import type { AddressSpace } from './address-space.js';
import { ERRNO_NAMES } from './errno-names.js';
import {
  CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_DETACHED, CLONE_FILES, CLONE_FS, CLONE_IO, CLONE_NEWCGROUP,
  CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, CLONE_PARENT, CLONE_PARENT_SETTID,
  CLONE_PIDFD, CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_UNTRACED, CLONE_VFORK, CLONE_VM,
  AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS, AT_EMPTY_PATH,
  AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, CLOCK_BOOTTIME, CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME, CLOCK_REALTIME_COARSE,
  CLOCK_THREAD_CPUTIME_ID, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS,
  ERESTART_RESTARTBLOCK, FD_CLOEXEC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, FUTEX_CLOCK_REALTIME, FUTEX_CMP_REQUEUE,
  FUTEX_FD, FUTEX_LOCK_PI, FUTEX_PRIVATE_FLAG, FUTEX_REQUEUE, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT,
  FUTEX_WAIT_BITSET, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL,
  F_GETLK, F_SETFD, F_SETFL, F_SETLK, F_SETLKW, GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM, MADV_DODUMP, MADV_DOFORK,
  MADV_DONTDUMP, MADV_DONTFORK, MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_RANDOM,
  MADV_REMOVE, MADV_SEQUENTIAL, MADV_WILLNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_HUGETLB, MAP_NORESERVE,
  MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, O_ACCMODE, O_APPEND, O_ASYNC, O_CLOEXEC,
  O_CREAT, O_DIRECT, O_DIRECTORY, O_DSYNC, O_EXCL, O_LARGEFILE, O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK,
  O_PATH, O_TRUNC, PATH_MAX, IOVEC_SIZE, STAT_SIZE, ST_MODE, ST_RDEV, ST_SIZE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
  S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, D_RECLEN, D64_RECLEN, PROT_EXEC, PROT_READ, PROT_WRITE, R_OK, SEEK_CUR, SEEK_DATA, SEEK_END,
  SEEK_HOLE, SEEK_SET, SHUT_RD, SHUT_RDWR, SHUT_WR, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SOCK_CLOEXEC, SOCK_DGRAM,
  SOCK_NONBLOCK, SOCK_STREAM, SOCK_TYPE_MASK, TASK_SIZE, TCGETS, TCSETS, TCSETSF, TCSETSW, TIMER_ABSTIME, TIOCGPGRP,
  TIOCGWINSZ, TIOCSPGRP, TIOCSWINSZ, WNOHANG, WUNTRACED, W_OK, X_OK, __WALL,
} from './linux-abi.js';
import { ArgPrototype, ArgWidth, prototypeOf } from './syscall-prototypes.js';
import { X86_64_SYSCALL_NAMES } from './syscall-names.js';

/**
 * `--strace`: one system call as strace(1) prints it — `openat(AT_FDCWD, "out.txt",
 * O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3`, `lseek(3, -3, SEEK_END) = 10`, `read(3, "Second
 * line.\n", 64) = 13`, `prctl(0xf, …) = -1 ENOSYS (Function not implemented)`. Each argument is
 * shown as its prototype (syscall-prototypes.ts) types it: signed and unsigned integers in decimal,
 * pointers in hex (NULL for 0), modes in octal, the flags and commands of the common calls by
 * name, path names and buffers read from guest memory (buffers to strace's default of 32 bytes,
 * `-s 32`). A line is formatted after the call, so a read shows what it read.
 *
 * Guest memory is read with a software walk of the process's page tables that changes nothing —
 * no A/D bits, no TLB fill, no page fault, no cycles: a traced run computes exactly what an
 * untraced one does. A pointer whose page is not resident is shown as the pointer.
 */

/** strace's default `-s`: how much of a buffer a line shows. */
const STRING_LIMIT = 32;

const PAGE = 4096;
const TWO_32 = 0x1_0000_0000;

/** Where a traced call's memory is (the calling process's page tables and the physical memory). */
export interface StraceMemory {
  readonly mem: PhysicalMemory;
  readonly mm: AddressSpace;
}

/** Reads up to `len` bytes at `va` without side effects; stops at the first page without a frame. */
function peek(m: StraceMemory, va: number, len: number, stopAtNul: boolean): { bytes: Uint8Array; complete: boolean } | undefined {
  if (!Number.isSafeInteger(va) || va <= 0 || va >= TASK_SIZE) return undefined;
  const out: number[] = [];
  let a = va;
  while (out.length < len) {
    const f = m.mm.frameAt(a - (a % PAGE));
    if (f === undefined) return out.length === 0 ? undefined : { bytes: Uint8Array.from(out), complete: false };
    const base = f.frame;
    const end = Math.min(PAGE, a % PAGE + (len - out.length));
    for (let off = a % PAGE; off < end; off++) {
      const b = m.mem.u8[base + off]!;
      if (stopAtNul && b === 0) return { bytes: Uint8Array.from(out), complete: true };
      out.push(b);
    }
    a += end - (a % PAGE);
  }
  return { bytes: Uint8Array.from(out), complete: !stopAtNul };
}

/** A byte string as strace quotes it: C escapes, other non-printables in octal. */
export function quoteBytes(b: Uint8Array, limit: number): string {
  let s = '"';
  const n = Math.min(b.length, limit);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    const next = i + 1 < n ? b[i + 1]! : 0;
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x0b) s += '\\v';
    else if (c === 0x0c) s += '\\f';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    // The shortest octal escape, unless an octal digit follows and would join it.
    else s += '\\' + (next >= 0x30 && next <= 0x37 ? c.toString(8).padStart(3, '0') : c.toString(8));
  }
  return s + '"' + (b.length > limit ? '...' : '');
}

/** A 64-bit value (the model's signed number) in hex, as the unsigned register contents. */
export function hex64(v: number): string {
  if (v >= 0) return '0x' + v.toString(16);
  // Two's complement of a negative number within ±2^53, as the register holds it.
  const hi = Math.floor(v / TWO_32) >>> 0;
  const lo = (v - Math.floor(v / TWO_32) * TWO_32) >>> 0;
  return '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
}

function pointer(v: number): string {
  return v === 0 ? 'NULL' : hex64(v);
}

/** `A|B|0x40` for the bits of `v` that `names` knows, the rest in hex; `zero` when none is set. */
function flags(v: number, names: ReadonlyArray<readonly [string, number]>, zero = '0'): string {
  const out: string[] = [];
  let rest = v >>> 0;
  for (const [n, bit] of names) {
    if (bit !== 0 && (rest & bit) === bit) {
      out.push(n);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) out.push('0x' + rest.toString(16));
  return out.length === 0 ? zero : out.join('|');
}

/** The name of `v` in `names`, or `v` in decimal. */
function oneOf(v: number, names: Readonly<Record<number, string>>): string {
  return names[v] ?? String(v);
}

const OPEN_FLAGS: ReadonlyArray<readonly [string, number]> = [
  // strace's order (xlat/open_mode_flags.in). O_SYNC is __O_SYNC|O_DSYNC and must come before
  // O_DSYNC; O_TMPFILE is __O_TMPFILE|O_DIRECTORY and before O_DIRECTORY (asm-generic/fcntl.h).
  ['O_CREAT', O_CREAT], ['O_EXCL', O_EXCL], ['O_NOCTTY', O_NOCTTY], ['O_TRUNC', O_TRUNC], ['O_APPEND', O_APPEND],
  ['O_NONBLOCK', O_NONBLOCK], ['O_SYNC', 0o4010000], ['O_DSYNC', O_DSYNC], ['O_ASYNC', O_ASYNC], ['O_DIRECT', O_DIRECT],
  ['O_LARGEFILE', O_LARGEFILE], ['O_NOFOLLOW', O_NOFOLLOW], ['O_NOATIME', O_NOATIME], ['O_CLOEXEC', O_CLOEXEC],
  ['O_TMPFILE', 0o20200000], ['O_PATH', O_PATH], ['O_DIRECTORY', O_DIRECTORY],
];
const ACCMODES = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', '0x3'];

export function openFlags(v: number): string {
  const rest = flags(v & ~O_ACCMODE, OPEN_FLAGS, '');
  return ACCMODES[v & O_ACCMODE]! + (rest === '' ? '' : '|' + rest);
}

const PROT: ReadonlyArray<readonly [string, number]> = [['PROT_READ', PROT_READ], ['PROT_WRITE', PROT_WRITE], ['PROT_EXEC', PROT_EXEC]];
const MAP: ReadonlyArray<readonly [string, number]> = [
  ['MAP_SHARED', MAP_SHARED], ['MAP_PRIVATE', MAP_PRIVATE], ['MAP_FIXED', MAP_FIXED], ['MAP_ANONYMOUS', MAP_ANONYMOUS],
  ['MAP_GROWSDOWN', MAP_GROWSDOWN], ['MAP_NORESERVE', MAP_NORESERVE], ['MAP_POPULATE', MAP_POPULATE],
  ['MAP_HUGETLB', MAP_HUGETLB],
];
const AT_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['AT_SYMLINK_NOFOLLOW', AT_SYMLINK_NOFOLLOW], ['AT_REMOVEDIR', AT_REMOVEDIR], ['AT_SYMLINK_FOLLOW', AT_SYMLINK_FOLLOW],
  ['AT_EMPTY_PATH', AT_EMPTY_PATH],
];
const ACCESS: ReadonlyArray<readonly [string, number]> = [['R_OK', R_OK], ['W_OK', W_OK], ['X_OK', X_OK]];
const SEEK: Record<number, string> = { [SEEK_SET]: 'SEEK_SET', [SEEK_CUR]: 'SEEK_CUR', [SEEK_END]: 'SEEK_END', [SEEK_DATA]: 'SEEK_DATA', [SEEK_HOLE]: 'SEEK_HOLE' };
const FCNTL: Record<number, string> = {
  [F_DUPFD]: 'F_DUPFD', [F_GETFD]: 'F_GETFD', [F_SETFD]: 'F_SETFD', [F_GETFL]: 'F_GETFL', [F_SETFL]: 'F_SETFL',
  [F_GETLK]: 'F_GETLK', [F_SETLK]: 'F_SETLK', [F_SETLKW]: 'F_SETLKW', [F_DUPFD_CLOEXEC]: 'F_DUPFD_CLOEXEC',
};
const IOCTL: Record<number, string> = {
  [TCGETS]: 'TCGETS', [TCSETS]: 'TCSETS', [TCSETSW]: 'TCSETSW', [TCSETSF]: 'TCSETSF', [TIOCGPGRP]: 'TIOCGPGRP',
  [TIOCSPGRP]: 'TIOCSPGRP', [TIOCGWINSZ]: 'TIOCGWINSZ', [TIOCSWINSZ]: 'TIOCSWINSZ', [FIONREAD]: 'FIONREAD',
  [FIONBIO]: 'FIONBIO', [FIONCLEX]: 'FIONCLEX', [FIOCLEX]: 'FIOCLEX',
};
const SIGNALS = ['0', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO',
  'SIGPWR', 'SIGSYS'];

/** A signal number as strace names it (SIGRTMIN+n for the real-time ones). */
export function signalName(v: number): string {
  if (v >= 0 && v < SIGNALS.length) return SIGNALS[v]!;
  if (v >= 34 && v <= 64) return v === 34 ? 'SIGRTMIN' : `SIGRT_${v - 32}`;
  return String(v);
}

const SIGPROCMASK_HOW: Record<number, string> = { [SIG_BLOCK]: 'SIG_BLOCK', [SIG_UNBLOCK]: 'SIG_UNBLOCK', [SIG_SETMASK]: 'SIG_SETMASK' };
const CLOCKS: Record<number, string> = {
  [CLOCK_REALTIME]: 'CLOCK_REALTIME', [CLOCK_MONOTONIC]: 'CLOCK_MONOTONIC', [CLOCK_PROCESS_CPUTIME_ID]: 'CLOCK_PROCESS_CPUTIME_ID',
  [CLOCK_THREAD_CPUTIME_ID]: 'CLOCK_THREAD_CPUTIME_ID', [CLOCK_MONOTONIC_RAW]: 'CLOCK_MONOTONIC_RAW',
  [CLOCK_REALTIME_COARSE]: 'CLOCK_REALTIME_COARSE', [CLOCK_MONOTONIC_COARSE]: 'CLOCK_MONOTONIC_COARSE', [CLOCK_BOOTTIME]: 'CLOCK_BOOTTIME',
};
const ARCH_PRCTL: Record<number, string> = { [ARCH_SET_GS]: 'ARCH_SET_GS', [ARCH_SET_FS]: 'ARCH_SET_FS', [ARCH_GET_FS]: 'ARCH_GET_FS', [ARCH_GET_GS]: 'ARCH_GET_GS' };
const FUTEX_CMDS: Record<number, string> = {
  [FUTEX_WAIT]: 'FUTEX_WAIT', [FUTEX_WAKE]: 'FUTEX_WAKE', [FUTEX_FD]: 'FUTEX_FD', [FUTEX_REQUEUE]: 'FUTEX_REQUEUE',
  [FUTEX_CMP_REQUEUE]: 'FUTEX_CMP_REQUEUE', [FUTEX_WAKE_OP]: 'FUTEX_WAKE_OP', [FUTEX_LOCK_PI]: 'FUTEX_LOCK_PI',
  [FUTEX_UNLOCK_PI]: 'FUTEX_UNLOCK_PI', [FUTEX_TRYLOCK_PI]: 'FUTEX_TRYLOCK_PI', [FUTEX_WAIT_BITSET]: 'FUTEX_WAIT_BITSET',
  [FUTEX_WAKE_BITSET]: 'FUTEX_WAKE_BITSET',
};

/** FUTEX_WAIT_PRIVATE, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME: strace's spelling. */
export function futexOp(v: number): string {
  const cmd = FUTEX_CMDS[v & 127] ?? String(v & 127);
  return cmd + ((v & FUTEX_PRIVATE_FLAG) !== 0 ? '_PRIVATE' : '') + ((v & FUTEX_CLOCK_REALTIME) !== 0 ? '|FUTEX_CLOCK_REALTIME' : '') +
    ((v & ~(127 | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)) !== 0 ? `|0x${(v & ~(127 | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)).toString(16)}` : '');
}

const AF: Record<number, string> = { [AF_UNSPEC]: 'AF_UNSPEC', [AF_UNIX]: 'AF_UNIX', [AF_INET]: 'AF_INET', [AF_INET6]: 'AF_INET6' };
const SOCK_TYPES: Record<number, string> = { [SOCK_STREAM]: 'SOCK_STREAM', [SOCK_DGRAM]: 'SOCK_DGRAM' };
function sockType(v: number): string {
  const extra = flags(v & ~SOCK_TYPE_MASK, [['SOCK_NONBLOCK', SOCK_NONBLOCK], ['SOCK_CLOEXEC', SOCK_CLOEXEC]], '');
  return oneOf(v & SOCK_TYPE_MASK, SOCK_TYPES) + (extra === '' ? '' : '|' + extra);
}
const SHUT: Record<number, string> = { [SHUT_RD]: 'SHUT_RD', [SHUT_WR]: 'SHUT_WR', [SHUT_RDWR]: 'SHUT_RDWR' };
const EPOLL_OPS: Record<number, string> = { [EPOLL_CTL_ADD]: 'EPOLL_CTL_ADD', [EPOLL_CTL_DEL]: 'EPOLL_CTL_DEL', [EPOLL_CTL_MOD]: 'EPOLL_CTL_MOD' };
const MADV: Record<number, string> = {
  [MADV_NORMAL]: 'MADV_NORMAL', [MADV_RANDOM]: 'MADV_RANDOM', [MADV_SEQUENTIAL]: 'MADV_SEQUENTIAL',
  [MADV_WILLNEED]: 'MADV_WILLNEED', [MADV_DONTNEED]: 'MADV_DONTNEED', [MADV_FREE]: 'MADV_FREE', [MADV_REMOVE]: 'MADV_REMOVE',
  [MADV_DONTFORK]: 'MADV_DONTFORK', [MADV_DOFORK]: 'MADV_DOFORK', [MADV_HUGEPAGE]: 'MADV_HUGEPAGE',
  [MADV_NOHUGEPAGE]: 'MADV_NOHUGEPAGE', [MADV_DONTDUMP]: 'MADV_DONTDUMP', [MADV_DODUMP]: 'MADV_DODUMP',
};
/** include/uapi/linux/sched.h: the clone flags strace names (the low byte is the exit signal). */
const CLONE_FLAGS: ReadonlyArray<readonly [string, number]> = Object.entries({
  CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND, CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK, CLONE_PARENT, CLONE_THREAD,
  CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED, CLONE_UNTRACED,
  CLONE_CHILD_SETTID, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_IO,
});
function cloneFlags(v: number): string {
  const sig = v & 0xff;
  const rest = flags(v & ~0xff, CLONE_FLAGS, '');
  const parts = [rest, sig !== 0 ? signalName(sig) : ''].filter((x) => x !== '');
  return parts.length === 0 ? '0' : parts.join('|');
}

/** File-descriptor arguments that may be AT_FDCWD. */
function dirfd(v: number): string {
  return (v | 0) === AT_FDCWD ? 'AT_FDCWD' : String(v | 0);
}

/** How one argument is shown: its value, and the call's memory and result for the ones read from it. */
type ArgFormat = (v: number, m: StraceMemory, args: readonly number[], result: number) => string;

function path(v: number, m: StraceMemory): string {
  const r = peek(m, v, PATH_MAX, true);
  if (r === undefined) return pointer(v);
  return quoteBytes(r.bytes, PATH_MAX) + (r.complete ? '' : '...');
}

/** A buffer of `len` bytes (clamped to what the page tables hold), shown to STRING_LIMIT. */
function buffer(v: number, m: StraceMemory, len: number): string {
  if (len <= 0) return v === 0 ? 'NULL' : '""';
  const want = Math.min(len, STRING_LIMIT + 1);
  const r = peek(m, v, want, false);
  if (r === undefined) return pointer(v);
  // quoteBytes marks a buffer longer than the limit; a page missing part-way is marked here.
  return quoteBytes(r.bytes, STRING_LIMIT) + (r.bytes.length < want ? '...' : '');
}

/** Buffers the kernel filled: as much as the call returned. */
const filled: ArgFormat = (v, m, _a, result) => (result >= 0 ? buffer(v, m, result) : pointer(v));
/** Buffers the program filled: as much as it passed (argument `lenArg`). */
const given = (lenArg: number): ArgFormat => (v, m, args) => buffer(v, m, args[lenArg]!);

/** Little-endian reads of a peeked structure (the model's numbers: signed 64-bit, exact to 2^53). */
function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
function i64(b: Uint8Array, off: number): number {
  return (u32(b, off + 4) | 0) * TWO_32 + u32(b, off);
}

/**
 * An iovec array as strace shows it: `[{iov_base="…", iov_len=27}, …]`, each base's bytes up to
 * its length (writev: what was passed; readv: what the call filled, `budget` bytes in all).
 */
function iovecs(v: number, m: StraceMemory, count: number, budget: number | undefined): string {
  const n = Math.min(count, 8); // a long array is cut, as strace's -e abbrev does
  const raw = peek(m, v, n * IOVEC_SIZE, false);
  if (raw === undefined || raw.bytes.length < n * IOVEC_SIZE) return pointer(v);
  let left = budget ?? Infinity;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const base = i64(raw.bytes, i * IOVEC_SIZE);
    const len = i64(raw.bytes, i * IOVEC_SIZE + 8);
    const shown = Math.max(0, Math.min(len, left));
    left -= shown;
    out.push(`{iov_base=${base === 0 ? 'NULL' : buffer(base, m, shown)}, iov_len=${len}}`);
  }
  return `[${out.join(', ')}${count > n ? ', ...' : ''}]`;
}
const iovIn: ArgFormat = (v, m, a) => iovecs(v, m, a[2]!, undefined);
const iovOut: ArgFormat = (v, m, a, result) => (result >= 0 ? iovecs(v, m, a[2]!, result) : pointer(v));

const FILE_TYPES: Record<number, string> = {
  [S_IFSOCK]: 'S_IFSOCK', [S_IFLNK]: 'S_IFLNK', [S_IFREG]: 'S_IFREG', [S_IFBLK]: 'S_IFBLK', [S_IFDIR]: 'S_IFDIR',
  [S_IFCHR]: 'S_IFCHR', [S_IFIFO]: 'S_IFIFO',
};

/** `{st_mode=S_IFREG|0644, st_size=35, ...}` (st_rdev for devices), strace's abbreviated struct stat. */
const statBuf: ArgFormat = (v, m, _a, result) => {
  if (result !== 0) return pointer(v);
  const r = peek(m, v, STAT_SIZE, false);
  if (r === undefined || r.bytes.length < STAT_SIZE) return pointer(v);
  const mode = u32(r.bytes, ST_MODE);
  const type = FILE_TYPES[mode & S_IFMT] ?? `0${(mode & S_IFMT).toString(8)}`;
  const perm = '0' + (mode & 0o7777).toString(8).padStart(3, '0');
  const kind = mode & S_IFMT;
  if (kind === S_IFCHR || kind === S_IFBLK) {
    // new_decode_dev (include/linux/kdev_t.h): major in bits 8–19 (and 32+), minor in 0–7 and 20–31.
    const lo = u32(r.bytes, ST_RDEV);
    const hi = u32(r.bytes, ST_RDEV + 4);
    const major = ((lo >>> 8) & 0xfff) | (hi & ~0xfff);
    const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff);
    return `{st_mode=${type}|${perm}, st_rdev=makedev(0x${(major >>> 0).toString(16)}, 0x${(minor >>> 0).toString(16)}), ...}`;
  }
  return `{st_mode=${type}|${perm}, st_size=${i64(r.bytes, ST_SIZE)}, ...}`;
};

/** `0x… /* 4 entries *\/`: getdents shows how many records the call returned. */
const direntBuf = (recLenAt: number): ArgFormat => (v, m, _a, result) => {
  if (result < 0) return pointer(v);
  const r = peek(m, v, result, false);
  if (r === undefined || r.bytes.length < result) return pointer(v);
  let n = 0;
  for (let off = 0; off + recLenAt + 2 <= result; n++) {
    const len = r.bytes[off + recLenAt]! | (r.bytes[off + recLenAt + 1]! << 8);
    if (len === 0) break;
    off += len;
  }
  return `${pointer(v)} /* ${n} entries */`;
};

const octal: ArgFormat = (v) => '0' + (v >>> 0).toString(8);
const fdOrCwd: ArgFormat = (v) => dirfd(v);
const sig: ArgFormat = (v) => signalName(v | 0);

/** Per-call formats for the arguments whose meaning the type alone does not give; index → format. */
const CALLS: Record<string, Record<number, ArgFormat>> = {
  read: { 1: filled },
  readv: { 1: iovOut },
  writev: { 1: iovIn },
  stat: { 1: statBuf },
  lstat: { 1: statBuf },
  fstat: { 1: statBuf },
  getdents: { 1: direntBuf(D_RECLEN) },
  getdents64: { 1: direntBuf(D64_RECLEN) },
  pread64: { 1: filled },
  write: { 1: given(2) },
  pwrite64: { 1: given(2) },
  recvfrom: { 1: filled, 3: (v) => String(v >>> 0) },
  sendto: { 1: given(2) },
  readlink: { 1: filled },
  readlinkat: { 0: fdOrCwd, 2: filled },
  getcwd: { 0: filled },
  open: { 1: (v) => openFlags(v), 2: octal },
  openat: { 0: fdOrCwd, 2: (v) => openFlags(v), 3: octal },
  lseek: { 2: (v) => oneOf(v, SEEK) },
  mmap: { 2: (v) => flags(v, PROT, 'PROT_NONE'), 3: (v) => flags(v, MAP), 4: (v) => String(v | 0), 5: (v) => String(v) },
  mprotect: { 2: (v) => flags(v, PROT, 'PROT_NONE') },
  mremap: { 3: (v) => flags(v, [['MREMAP_MAYMOVE', MREMAP_MAYMOVE], ['MREMAP_FIXED', MREMAP_FIXED]]) },
  madvise: { 2: (v) => oneOf(v, MADV) },
  rt_sigaction: { 0: sig },
  rt_sigprocmask: { 0: (v) => oneOf(v, SIGPROCMASK_HOW) },
  kill: { 1: sig },
  tkill: { 1: sig },
  tgkill: { 2: sig },
  access: { 1: (v) => flags(v, ACCESS, 'F_OK') },
  faccessat: { 0: fdOrCwd, 2: (v) => flags(v, ACCESS, 'F_OK') },
  faccessat2: { 0: fdOrCwd, 2: (v) => flags(v, ACCESS, 'F_OK'), 3: (v) => flags(v, AT_FLAGS) },
  fcntl: {
    1: (v) => oneOf(v, FCNTL),
    2: (v, _m, a) => (a[1] === F_SETFL ? openFlags(v) : a[1] === F_SETFD ? flags(v, [['FD_CLOEXEC', FD_CLOEXEC]]) : a[1] === F_GETFD || a[1] === F_GETFL ? '' : hex64(v)),
  },
  ioctl: { 1: (v) => IOCTL[v] ?? hex64(v) },
  arch_prctl: { 0: (v) => oneOf(v, ARCH_PRCTL), 1: (v) => hex64(v) },
  futex: { 1: (v) => futexOp(v) },
  clock_gettime: { 0: (v) => oneOf(v, CLOCKS) },
  clock_getres: { 0: (v) => oneOf(v, CLOCKS) },
  clock_nanosleep: { 0: (v) => oneOf(v, CLOCKS), 1: (v) => flags(v, [['TIMER_ABSTIME', TIMER_ABSTIME]]) },
  socket: { 0: (v) => oneOf(v, AF), 1: (v) => sockType(v) },
  shutdown: { 1: (v) => oneOf(v, SHUT) },
  accept4: { 3: (v) => flags(v, [['SOCK_NONBLOCK', SOCK_NONBLOCK], ['SOCK_CLOEXEC', SOCK_CLOEXEC]]) },
  epoll_ctl: { 1: (v) => oneOf(v, EPOLL_OPS) },
  epoll_create1: { 0: (v) => flags(v, [['EPOLL_CLOEXEC', O_CLOEXEC]]) },
  pipe2: { 1: (v) => openFlags(v).replace(/^O_RDONLY\|?/, '') || '0' },
  dup3: { 2: (v) => flags(v, [['O_CLOEXEC', O_CLOEXEC]]) },
  wait4: { 2: (v) => flags(v, [['WNOHANG', WNOHANG], ['WUNTRACED', WUNTRACED], ['__WALL', __WALL]]) },
  clone: { 0: (v) => cloneFlags(v), 1: (v) => pointer(v), 4: (v) => pointer(v) },
  newfstatat: { 0: fdOrCwd, 2: statBuf, 3: (v) => flags(v, AT_FLAGS) },
  unlinkat: { 0: fdOrCwd, 2: (v) => flags(v, AT_FLAGS) },
  mkdirat: { 0: fdOrCwd },
  renameat: { 0: fdOrCwd, 2: fdOrCwd },
  renameat2: { 0: fdOrCwd, 2: fdOrCwd },
  linkat: { 0: fdOrCwd, 2: fdOrCwd, 4: (v) => flags(v, AT_FLAGS) },
  symlinkat: { 1: fdOrCwd },
  getrandom: { 2: (v) => flags(v, [['GRND_NONBLOCK', GRND_NONBLOCK], ['GRND_RANDOM', GRND_RANDOM], ['GRND_INSECURE', GRND_INSECURE]]) },
};

/** `unsigned long` arguments that hold addresses (or an ioctl/prctl argument that may be one): hex. */
const ADDRESS_ARGS = new Set(['addr', 'start', 'brk', 'new_addr', 'newsp', 'tls', 'arg', 'arg2']);

/** Names of `const char *` arguments that are path names (NUL-terminated strings). */
const STRING_ARGS = new Set(['filename', 'pathname', 'path', 'oldname', 'newname', 'name']);

/** An argument by its C type alone. */
function byType(a: ArgPrototype, v: number, m: StraceMemory): string {
  if (a.type.includes('*')) return a.type.includes('char') && STRING_ARGS.has(a.name) ? path(v, m) : pointer(v);
  if (a.type === 'unsigned long' && ADDRESS_ARGS.has(a.name)) return pointer(v);
  switch (a.width) {
    case ArgWidth.Int:
      return String(v | 0);
    case ArgWidth.Uint:
      return String(v >>> 0);
    case ArgWidth.Mode:
      return '0' + v.toString(8);
    default:
      // unsigned long, size_t: a negative model value is a register above 2^63, shown as such.
      return a.type.startsWith('unsigned') || a.type === 'size_t' ? (v < 0 ? hex64(v) : String(v)) : String(v);
  }
}

const RESTART: Record<number, readonly [string, string]> = {
  [ERESTARTSYS]: ['ERESTARTSYS', 'To be restarted if SA_RESTART is set'],
  [ERESTARTNOINTR]: ['ERESTARTNOINTR', 'To be restarted'],
  [ERESTARTNOHAND]: ['ERESTARTNOHAND', 'To be restarted if no handler'],
  [ERESTART_RESTARTBLOCK]: ['ERESTART_RESTARTBLOCK', 'Interrupted by signal'],
};

/** Calls whose result is an address, printed in hex. */
const ADDRESS_RESULTS = new Set(['mmap', 'mremap', 'brk', 'shmat']);

/** The result as strace shows it: `= 3`, `= 0x7f…`, `= -1 ENOENT (No such file or directory)`. */
export function formatResult(name: string, result: number): string {
  if (result < 0 && result > -4096) {
    const e = -result;
    const r = RESTART[e];
    if (r !== undefined) return `? ${r[0]} (${r[1]})`;
    const n = ERRNO_NAMES[e];
    return n !== undefined ? `-1 ${n[0]} (${n[1]})` : `-1 errno ${e}`;
  }
  if (name === 'exit' || name === 'exit_group') return '?'; // it does not return
  if (ADDRESS_RESULTS.has(name)) return hex64(result);
  return String(result);
}

/** The name of system call `nr` on x86-64, or `syscall_<nr>` for a number no kernel assigns. */
export function syscallName(nr: number): string {
  return X86_64_SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
}

/**
 * One strace line (without the task prefix): the call `nr` with the arguments as the kernel read
 * them and its result. A call the model does not implement has no prototype: its first three
 * registers are shown in hex, as a raw `syscall(2)` would be.
 */
export function formatSyscall(m: StraceMemory, nr: number, args: readonly number[], result: number, privateCall?: { name: string; arity: number }): string {
  if (privateCall !== undefined) {
    // A plugin's call (SyscallContribution): its name, and its arguments as numbers.
    return `${privateCall.name}(${args.slice(0, privateCall.arity).join(', ')}) = ${formatResult(privateCall.name, result)}`;
  }
  const name = syscallName(nr);
  const proto = prototypeOf(nr);
  if (proto === undefined) {
    return `${name}(${args.slice(0, 3).map(hex64).join(', ')}, …) = ${formatResult(name, result)}${result === -38 ? ' (not implemented in the model)' : ''}`;
  }
  const custom = CALLS[name];
  const shown: string[] = [];
  for (let i = 0; i < proto.args.length; i++) {
    // After a successful execve the pointers name the old image's memory, which is gone.
    if ((name === 'execve' || name === 'execveat') && result === 0) {
      shown.push(pointer(args[i]!));
      continue;
    }
    const f = custom?.[i];
    shown.push(f !== undefined ? f(args[i]!, m, args, result) : byType(proto.args[i]!, args[i]!, m));
  }
  // open's mode means something only with O_CREAT or O_TMPFILE, and strace leaves it out otherwise.
  const flagsAt = name === 'open' ? 1 : name === 'openat' ? 2 : -1;
  if (flagsAt >= 0 && (args[flagsAt]! & (O_CREAT | 0o20000000)) === 0) shown.length = flagsAt + 1;
  // fcntl without an argument (F_GETFD, F_GETFL) shows two.
  if (name === 'fcntl' && shown[2] === '') shown.length = 2;
  return `${name}(${shown.join(', ')}) = ${formatResult(name, result)}`;
}
