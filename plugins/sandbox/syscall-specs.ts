import {
  EPOLL_EVENT_SIZE, KSIGACTION_SIZE, NR, POLLFD_SIZE, RLIMIT_SIZE, STAT_SIZE, TIMESPEC_SIZE, TIMEVAL_SIZE, TIMEZONE_SIZE, UTSNAME_SIZE,
} from '../../core/linux/linux-abi.js';
import { ArgWidth, argOf, prototypeOf } from '../../core/linux/syscall-prototypes.js';

/**
 * A length: a constant, or another argument (times `scale`: an array of records; or, with
 * `bitmap`, a bitmap of that many bits in 64-bit words: an fd_set of select).
 */
export type Len = number | { readonly arg: number; readonly scale?: number; readonly bitmap?: true };

/**
 * What one system-call argument is, as far as the sandbox must check it (trap.c's
 * syscall_check_params, as a table): a plain value; a buffer the kernel reads (`in`), writes
 * (`out`) or both, of a fixed or an argument-given length; a C string; a path (a C string that
 * the file rules also judge); an iovec array; the third argument of ioctl or fcntl, whose
 * meaning depends on the request; a pid that must name the caller itself.
 */
export type ArgKind =
  | { readonly kind: 'value'; readonly name: string }
  | {
      readonly kind: 'in' | 'out' | 'inout';
      readonly name: string;
      readonly len: Len;
      readonly nullable?: boolean;
      /**
       * Whether the kernel gets a copy in the runtime's memory (argument-copies.ts) rather than
       * the program's buffer. Default: yes for what the kernel reads (`in`, `inout`), no for
       * `out`. No for the data of read/write-like calls (the kernel only moves those bytes) and
       * for pointers the kernel keeps (set_tid_address, set_robust_list); yes for an `out`
       * buffer the runtime itself reads after the call (pipe's descriptors).
       */
      readonly copy?: boolean;
    }
  /**
   * A C string. `symlinkAt`: it is the target of a symlink made at the path of argument `path`
   * (from the directory fd of argument `dirfd`): the file rules judge where it would lead.
   */
  | { readonly kind: 'string'; readonly name: string; readonly symlinkAt?: { readonly path: number; readonly dirfd?: number } }
  | {
      readonly kind: 'path';
      readonly name: string;
      /** 'open': read or write as the open flags say (argument `flags`). */
      readonly access: 'read' | 'write' | 'open';
      /**
       * Whether a symlink in the last component is followed ('flags': unless O_NOFOLLOW /
       * AT_SYMLINK_NOFOLLOW; 'AT_SYMLINK_FOLLOW': only with that flag, as linkat).
       */
      readonly follow: boolean | 'flags' | 'AT_SYMLINK_FOLLOW';
      /** The argument with the directory fd of an *at() call (relative paths start there). */
      readonly dirfd?: number;
      /** The argument with the open flags or the AT_* flags. */
      readonly flags?: number;
      /**
       * The call moves what the path names with everything below it (rename): no files rule may
       * lie below it, or the move would carry that rule's files to another rule (-EXDEV).
       */
      readonly moves?: true;
    }
  | { readonly kind: 'iovec'; readonly name: string; readonly count: number; readonly dir: 'in' | 'out' }
  | { readonly kind: 'ioctl-arg'; readonly name: string; readonly request: number }
  | { readonly kind: 'fcntl-arg'; readonly name: string; readonly cmd: number }
  | { readonly kind: 'self-pid'; readonly name: string }
  /**
   * A struct sockaddr the kernel reads, of length argument `len`: checked like an `in` buffer,
   * and read so that the firewall (`network` rules) can judge where a bind or connect goes.
   */
  | { readonly kind: 'sockaddr'; readonly name: string; readonly len: number; readonly use: 'bind' | 'connect' | 'send' }
  /** A buffer the kernel writes (a struct sockaddr, an option value) whose length is the int at *(argument `lenp`). */
  | { readonly kind: 'out-lenp'; readonly name: string; readonly lenp: number }
  /**
   * A futex word (a u32 the kernel reads, compares, and for some operations writes): it must be
   * the program's, never a copy — the kernel keys its wait queues by the address. With `op`, the
   * word is only an address for the operations that take a second one (the requeues, WAKE_OP);
   * for the others the argument is not looked at.
   */
  | { readonly kind: 'futex-word'; readonly name: string; readonly op?: number }
  /**
   * futex's fourth argument: a struct timespec the kernel reads for the waiting operations
   * (copied, like any input), a plain number (val2) for the others.
   */
  | { readonly kind: 'futex-timeout'; readonly name: string; readonly op: number };

/**
 * What the runtime does with a call that passed the checks and the policy: pass it to the kernel
 * (one VMCALL), or handle it itself — exit (back to the runtime), the memory calls (the kernel's
 * work mirrored into the guest page table), the signal calls (kept in the runtime: a handler
 * must never run outside the sandbox), arch_prctl (the ring-3 FS base), descriptors that open or
 * close (counted for limits.openFiles).
 */
export type Handling = 'passthrough' | 'exit' | 'memory' | 'signals' | 'arch_prctl' | 'fd-open' | 'fd-close' | 'clone' | 'robust-list';

export interface SyscallSpec {
  readonly nr: number;
  readonly name: string;
  readonly args: readonly ArgKind[];
  readonly handling: Handling;
  /** The kernel's prototype of the call: how wide each argument is (syscall-prototypes.ts). */
  readonly widths: Uint8Array;
}

const v = (name: string): ArgKind => ({ kind: 'value', name });
const fd = v;
const input = (name: string, len: Len, nullable = false): ArgKind => ({ kind: 'in', name, len, nullable });
const output = (name: string, len: Len, nullable = false): ArgKind => ({ kind: 'out', name, len, nullable });
const inout = (name: string, len: Len, nullable = false): ArgKind => ({ kind: 'inout', name, len, nullable });
const str = (name: string): ArgKind => ({ kind: 'string', name });
const path = (name: string, access: 'read' | 'write' | 'open', follow: boolean | 'flags' | 'AT_SYMLINK_FOLLOW', at: { dirfd?: number; flags?: number; moves?: true } = {}): ArgKind =>
  ({ kind: 'path', name, access, follow, ...at });
/** A symlink's target text, judged where it leads from the directory of the link (argument `path`). */
const linkTarget = (name: string, path: number, dirfd?: number): ArgKind =>
  ({ kind: 'string', name, symlinkAt: dirfd === undefined ? { path } : { path, dirfd } });
const arg = (i: number): Len => ({ arg: i });
/** select's fd_sets: argument 0 (nfds) bits. */
const FD_SET_LEN: Len = { arg: 0, bitmap: true };
const sockaddr = (name: string, len: number, use: 'bind' | 'connect' | 'send'): ArgKind => ({ kind: 'sockaddr', name, len, use });
const sockaddrOut = (name: string, lenp: number): ArgKind => ({ kind: 'out-lenp', name, lenp });

/** Data the kernel only moves (write's buffer): checked, not copied. */
const data = (name: string, len: Len): ArgKind => ({ kind: 'in', name, len, copy: false });

/**
 * A row; its arguments must be those of the kernel's prototype (syscall-prototypes.ts), whose
 * types say how wide the sandbox reads each one — exactly as the kernel will.
 */
function spec(nr: number, name: string, args: ArgKind[], handling: Handling = 'passthrough'): SyscallSpec {
  const p = prototypeOf(nr);
  if (p === undefined || p.name !== name) throw new Error(`syscall-specs: ${name} (${nr}) has no prototype in core/linux/syscall-prototypes.ts`);
  if (p.args.length !== args.length) throw new Error(`syscall-specs: ${name} has ${args.length} arguments here, ${p.args.length} in its prototype`);
  return { nr, name, args, handling, widths: p.widths };
}

/**
 * The system calls static binaries make, with their argument kinds. A call that is not here is
 * denied: the sandbox cannot pass on what it cannot check.
 */
export const SYSCALL_SPECS: readonly SyscallSpec[] = [
  spec(NR.read, 'read', [fd('fd'), output('buf', arg(2)), v('count')]),
  spec(NR.write, 'write', [fd('fd'), data('buf', arg(2)), v('count')]),
  spec(NR.open, 'open', [path('pathname', 'open', 'flags', { flags: 1 }), v('flags'), v('mode')], 'fd-open'),
  spec(NR.close, 'close', [fd('fd')], 'fd-close'),
  spec(NR.stat, 'stat', [path('pathname', 'read', true), output('statbuf', STAT_SIZE)]),
  spec(NR.fstat, 'fstat', [fd('fd'), output('statbuf', STAT_SIZE)]),
  spec(NR.lstat, 'lstat', [path('pathname', 'read', false), output('statbuf', STAT_SIZE)]),
  spec(NR.lseek, 'lseek', [fd('fd'), v('offset'), v('whence')]),
  spec(NR.mmap, 'mmap', [v('addr'), v('length'), v('prot'), v('flags'), fd('fd'), v('offset')], 'memory'),
  spec(NR.mprotect, 'mprotect', [v('addr'), v('len'), v('prot')], 'memory'),
  spec(NR.munmap, 'munmap', [v('addr'), v('length')], 'memory'),
  spec(NR.brk, 'brk', [v('addr')], 'memory'),
  spec(NR.rt_sigaction, 'rt_sigaction', [v('signum'), input('act', KSIGACTION_SIZE, true), output('oldact', KSIGACTION_SIZE, true), v('sigsetsize')], 'signals'),
  spec(NR.rt_sigprocmask, 'rt_sigprocmask', [v('how'), input('set', 8, true), output('oldset', 8, true), v('sigsetsize')], 'signals'),
  spec(NR.ioctl, 'ioctl', [fd('fd'), v('request'), { kind: 'ioctl-arg', name: 'arg', request: 1 }]),
  spec(NR.pread64, 'pread64', [fd('fd'), output('buf', arg(2)), v('count'), v('offset')]),
  spec(NR.pwrite64, 'pwrite64', [fd('fd'), data('buf', arg(2)), v('count'), v('offset')]),
  spec(NR.readv, 'readv', [fd('fd'), { kind: 'iovec', name: 'iov', count: 2, dir: 'out' }, v('iovcnt')]),
  spec(NR.writev, 'writev', [fd('fd'), { kind: 'iovec', name: 'iov', count: 2, dir: 'in' }, v('iovcnt')]),
  spec(NR.access, 'access', [path('pathname', 'read', true), v('mode')]),
  spec(NR.pipe, 'pipe', [{ kind: 'out', name: 'pipefd', len: 8, copy: true }], 'fd-open'),
  spec(NR.sched_yield, 'sched_yield', []),
  spec(NR.mremap, 'mremap', [v('old_address'), v('old_size'), v('new_size'), v('flags'), v('new_address')], 'memory'),
  spec(NR.madvise, 'madvise', [v('addr'), v('length'), v('advice')], 'memory'),
  spec(NR.dup, 'dup', [fd('oldfd')], 'fd-open'),
  spec(NR.dup2, 'dup2', [fd('oldfd'), fd('newfd')], 'fd-open'),
  spec(NR.nanosleep, 'nanosleep', [input('req', TIMESPEC_SIZE), output('rem', TIMESPEC_SIZE, true)]),
  spec(NR.getpid, 'getpid', []),
  // Sockets (IPv4 TCP on the host's loopback): addresses are judged by the `network` rules.
  spec(NR.socket, 'socket', [v('domain'), v('type'), v('protocol')], 'fd-open'),
  spec(NR.connect, 'connect', [fd('sockfd'), sockaddr('addr', 2, 'connect'), v('addrlen')]),
  spec(NR.accept, 'accept', [fd('sockfd'), sockaddrOut('addr', 2), inout('addrlen', 4, true)], 'fd-open'),
  spec(NR.sendto, 'sendto', [fd('sockfd'), data('buf', arg(2)), v('len'), v('flags'), sockaddr('dest_addr', 5, 'send'), v('addrlen')]),
  spec(NR.recvfrom, 'recvfrom', [fd('sockfd'), output('buf', arg(2)), v('len'), v('flags'), sockaddrOut('src_addr', 5), inout('addrlen', 4, true)]),
  spec(NR.shutdown, 'shutdown', [fd('sockfd'), v('how')]),
  spec(NR.bind, 'bind', [fd('sockfd'), sockaddr('addr', 2, 'bind'), v('addrlen')]),
  spec(NR.listen, 'listen', [fd('sockfd'), v('backlog')]),
  spec(NR.getsockname, 'getsockname', [fd('sockfd'), sockaddrOut('addr', 2), inout('addrlen', 4)]),
  spec(NR.getpeername, 'getpeername', [fd('sockfd'), sockaddrOut('addr', 2), inout('addrlen', 4)]),
  spec(NR.setsockopt, 'setsockopt', [fd('sockfd'), v('level'), v('optname'), input('optval', arg(4)), v('optlen')]),
  spec(NR.getsockopt, 'getsockopt', [fd('sockfd'), v('level'), v('optname'), { kind: 'out-lenp', name: 'optval', lenp: 4 }, inout('optlen', 4)]),
  spec(NR.select, 'select', [v('nfds'), inout('readfds', FD_SET_LEN, true), inout('writefds', FD_SET_LEN, true), inout('exceptfds', FD_SET_LEN, true), inout('timeout', TIMEVAL_SIZE, true)]),
  spec(NR.poll, 'poll', [inout('fds', { arg: 1, scale: POLLFD_SIZE }), v('nfds'), v('timeout')]),
  // A thread of the program's group: checked and made by the runtime (thread-factory.ts).
  spec(NR.clone, 'clone', [v('flags'), v('newsp'), v('parent_tid'), v('child_tid'), v('tls')], 'clone'),
  spec(NR.exit, 'exit', [v('status')], 'exit'),
  spec(NR.uname, 'uname', [output('buf', UTSNAME_SIZE)]),
  spec(NR.fcntl, 'fcntl', [fd('fd'), v('cmd'), { kind: 'fcntl-arg', name: 'arg', cmd: 1 }], 'fd-open'),
  spec(NR.fsync, 'fsync', [fd('fd')]),
  spec(NR.fdatasync, 'fdatasync', [fd('fd')]),
  spec(NR.truncate, 'truncate', [path('path', 'write', true), v('length')]),
  spec(NR.ftruncate, 'ftruncate', [fd('fd'), v('length')]),
  spec(NR.getdents, 'getdents', [fd('fd'), output('dirp', arg(2)), v('count')]),
  spec(NR.getcwd, 'getcwd', [output('buf', arg(1)), v('size')]),
  spec(NR.chdir, 'chdir', [path('path', 'read', true)]),
  spec(NR.fchdir, 'fchdir', [fd('fd')]),
  spec(NR.rename, 'rename', [path('oldpath', 'write', false, { moves: true }), path('newpath', 'write', false, { moves: true })]),
  spec(NR.mkdir, 'mkdir', [path('pathname', 'write', false), v('mode')]),
  spec(NR.rmdir, 'rmdir', [path('pathname', 'write', false)]),
  spec(NR.unlink, 'unlink', [path('pathname', 'write', false)]),
  // A second name for a file gives whoever may use that name the file: the file must be one the
  // program may write, as the place of the new name must be.
  spec(NR.link, 'link', [path('oldpath', 'write', false), path('newpath', 'write', false)]),
  // The target of a symlink is judged where it leads, when it is made and again whenever it is followed.
  spec(NR.symlink, 'symlink', [linkTarget('target', 1), path('linkpath', 'write', false)]),
  spec(NR.readlink, 'readlink', [path('pathname', 'read', false), output('buf', arg(2)), v('bufsiz')]),
  spec(NR.umask, 'umask', [v('mask')]),
  spec(NR.gettimeofday, 'gettimeofday', [output('tv', TIMEVAL_SIZE, true), output('tz', TIMEZONE_SIZE, true)]),
  spec(NR.getrlimit, 'getrlimit', [v('resource'), output('rlim', RLIMIT_SIZE)]),
  spec(NR.getuid, 'getuid', []),
  spec(NR.getgid, 'getgid', []),
  spec(NR.geteuid, 'geteuid', []),
  spec(NR.getegid, 'getegid', []),
  spec(NR.getppid, 'getppid', []),
  spec(NR.arch_prctl, 'arch_prctl', [v('code'), v('addr')], 'arch_prctl'),
  spec(NR.setrlimit, 'setrlimit', [v('resource'), input('rlim', RLIMIT_SIZE)]),
  spec(NR.gettid, 'gettid', []),
  spec(NR.time, 'time', [output('tloc', 8, true)]),
  spec(NR.futex, 'futex', [{ kind: 'futex-word', name: 'uaddr' }, v('op'), v('val'), { kind: 'futex-timeout', name: 'timeout', op: 1 }, { kind: 'futex-word', name: 'uaddr2', op: 1 }, v('val3')]),
  spec(NR.sched_getaffinity, 'sched_getaffinity', [{ kind: 'self-pid', name: 'pid' }, v('cpusetsize'), output('mask', arg(1))]),
  spec(NR.getdents64, 'getdents64', [fd('fd'), output('dirp', arg(2)), v('count')]),
  // The kernel writes 0 there when the thread exits: it must be the program's memory.
  spec(NR.set_tid_address, 'set_tid_address', [{ kind: 'inout', name: 'tidptr', len: 4, nullable: true, copy: false }]),
  spec(NR.clock_gettime, 'clock_gettime', [v('clockid'), output('tp', TIMESPEC_SIZE)]),
  spec(NR.clock_getres, 'clock_getres', [v('clockid'), output('res', TIMESPEC_SIZE, true)]),
  spec(NR.clock_nanosleep, 'clock_nanosleep', [v('clockid'), v('flags'), input('request', TIMESPEC_SIZE), output('remain', TIMESPEC_SIZE, true)]),
  spec(NR.exit_group, 'exit_group', [v('status')], 'exit'),
  spec(NR.openat, 'openat', [fd('dirfd'), path('pathname', 'open', 'flags', { dirfd: 0, flags: 2 }), v('flags'), v('mode')], 'fd-open'),
  spec(NR.mkdirat, 'mkdirat', [fd('dirfd'), path('pathname', 'write', false, { dirfd: 0 }), v('mode')]),
  spec(NR.newfstatat, 'newfstatat', [fd('dirfd'), path('pathname', 'read', 'flags', { dirfd: 0, flags: 3 }), output('statbuf', STAT_SIZE), v('flags')]),
  spec(NR.unlinkat, 'unlinkat', [fd('dirfd'), path('pathname', 'write', false, { dirfd: 0 }), v('flags')]),
  spec(NR.renameat, 'renameat', [fd('olddirfd'), path('oldpath', 'write', false, { dirfd: 0, moves: true }), fd('newdirfd'), path('newpath', 'write', false, { dirfd: 2, moves: true })]),
  spec(NR.linkat, 'linkat', [fd('olddirfd'), path('oldpath', 'write', 'AT_SYMLINK_FOLLOW', { dirfd: 0, flags: 4 }), fd('newdirfd'), path('newpath', 'write', false, { dirfd: 2 }), v('flags')]),
  spec(NR.symlinkat, 'symlinkat', [linkTarget('target', 2, 1), fd('newdirfd'), path('linkpath', 'write', false, { dirfd: 1 })]),
  spec(NR.readlinkat, 'readlinkat', [fd('dirfd'), path('pathname', 'read', false, { dirfd: 0 }), output('buf', arg(3)), v('bufsiz')]),
  spec(NR.pselect6, 'pselect6', [v('nfds'), inout('readfds', FD_SET_LEN, true), inout('writefds', FD_SET_LEN, true), inout('exceptfds', FD_SET_LEN, true), inout('timeout', TIMESPEC_SIZE, true), input('sigmask', 16, true)]),
  spec(NR.ppoll, 'ppoll', [inout('fds', { arg: 1, scale: POLLFD_SIZE }), v('nfds'), input('tsp', TIMESPEC_SIZE, true), input('sigmask', 8, true), v('sigsetsize')]),
  spec(NR.epoll_create, 'epoll_create', [v('size')], 'fd-open'),
  spec(NR.epoll_create1, 'epoll_create1', [v('flags')], 'fd-open'),
  spec(NR.epoll_ctl, 'epoll_ctl', [fd('epfd'), v('op'), fd('fd'), input('event', EPOLL_EVENT_SIZE, true)]),
  spec(NR.epoll_wait, 'epoll_wait', [fd('epfd'), output('events', { arg: 2, scale: EPOLL_EVENT_SIZE }), v('maxevents'), v('timeout')]),
  spec(NR.epoll_pwait, 'epoll_pwait', [fd('epfd'), output('events', { arg: 2, scale: EPOLL_EVENT_SIZE }), v('maxevents'), v('timeout'), input('sigmask', 8, true), v('sigsetsize')]),
  spec(NR.accept4, 'accept4', [fd('sockfd'), sockaddrOut('addr', 2), inout('addrlen', 4, true), v('flags')], 'fd-open'),
  spec(NR.faccessat, 'faccessat', [fd('dirfd'), path('pathname', 'read', true, { dirfd: 0 }), v('mode')]),
  // Kept by the runtime (robust-list.ts): the kernel would write to whatever the list's entries
  // name when the thread exits, runtime memory included.
  spec(NR.set_robust_list, 'set_robust_list', [{ kind: 'in', name: 'head', len: arg(1), copy: false }, v('len')], 'robust-list'),
  spec(NR.get_robust_list, 'get_robust_list', [{ kind: 'self-pid', name: 'pid' }, { kind: 'out', name: 'head_ptr', len: 8, copy: false }, { kind: 'out', name: 'len_ptr', len: 8, copy: false }], 'robust-list'),
  spec(NR.dup3, 'dup3', [fd('oldfd'), fd('newfd'), v('flags')], 'fd-open'),
  spec(NR.pipe2, 'pipe2', [{ kind: 'out', name: 'pipefd', len: 8, copy: true }, v('flags')], 'fd-open'),
  spec(NR.prlimit64, 'prlimit64', [{ kind: 'self-pid', name: 'pid' }, v('resource'), input('new_limit', RLIMIT_SIZE, true), output('old_limit', RLIMIT_SIZE, true)]),
  spec(NR.renameat2, 'renameat2', [fd('olddirfd'), path('oldpath', 'write', false, { dirfd: 0, moves: true }), fd('newdirfd'), path('newpath', 'write', false, { dirfd: 2, moves: true }), v('flags')]),
  spec(NR.getrandom, 'getrandom', [output('buf', arg(1)), v('buflen'), v('flags')]),
  spec(NR.faccessat2, 'faccessat2', [fd('dirfd'), path('pathname', 'read', 'flags', { dirfd: 0, flags: 3 }), v('mode'), v('flags')]),
];

/** Sizes of the ioctl arguments the sandbox knows (TCGETS: struct termios, TIOCGWINSZ: struct winsize …). */
export const IOCTL_ARGS: ReadonlyMap<number, { readonly name: string; readonly kind: 'none' | 'in' | 'out'; readonly size: number }> = new Map([
  [0x5401, { name: 'TCGETS', kind: 'out', size: 36 }],
  [0x5413, { name: 'TIOCGWINSZ', kind: 'out', size: 8 }],
  [0x541b, { name: 'FIONREAD', kind: 'out', size: 4 }],
  [0x5421, { name: 'FIONBIO', kind: 'in', size: 4 }],
  [0x5450, { name: 'FIONCLEX', kind: 'none', size: 0 }],
  [0x5451, { name: 'FIOCLEX', kind: 'none', size: 0 }],
] as const);

/**
 * The fcntl commands the sandbox passes on, and what their argument is: an integer, nothing, or
 * a struct flock the kernel reads (F_SETLK) or reads and writes (F_GETLK). Any other command is
 * refused with -EINVAL (what Linux answers for a command it does not know): the sandbox cannot
 * check an argument whose meaning it does not know.
 */
export const FCNTL_ARGS: ReadonlyMap<number, { readonly name: string; readonly kind: 'int' | 'none' | 'in' | 'inout' }> = new Map([
  [0, { name: 'F_DUPFD', kind: 'int' }],
  [1, { name: 'F_GETFD', kind: 'none' }],
  [2, { name: 'F_SETFD', kind: 'int' }],
  [3, { name: 'F_GETFL', kind: 'none' }],
  [4, { name: 'F_SETFL', kind: 'int' }],
  [5, { name: 'F_GETLK', kind: 'inout' }],
  [6, { name: 'F_SETLK', kind: 'in' }],
  [7, { name: 'F_SETLKW', kind: 'in' }],
  [1030, { name: 'F_DUPFD_CLOEXEC', kind: 'int' }],
] as const);
/** fcntl commands that make a new descriptor. */
export const FCNTL_DUP_CMDS: ReadonlySet<number> = new Set([0 /* F_DUPFD */, 1030 /* F_DUPFD_CLOEXEC */]);

const BY_NR = new Map(SYSCALL_SPECS.map((s) => [s.nr, s]));
const BY_NAME = new Map(SYSCALL_SPECS.map((s) => [s.name, s]));

export function specOf(nr: number): SyscallSpec | undefined {
  return BY_NR.get(nr);
}

export function specNamed(name: string): SyscallSpec | undefined {
  return BY_NAME.get(name);
}

/**
 * The six argument registers of a call, each read as the kernel reads it (its prototype's
 * width, from the exact register halves); the arguments past the call's arity are 0, and a call
 * without a row gets all 64 bits of each (for the report only: it is denied).
 */
export function argsOf(spec: SyscallSpec | undefined, lo: ArrayLike<number>, hi: ArrayLike<number>): number[] {
  const out = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 6; i++) {
    if (spec === undefined) out[i] = argOf(ArgWidth.Long, lo[i]!, hi[i]!);
    else if (i < spec.widths.length) out[i] = argOf(spec.widths[i]! as ArgWidth, lo[i]!, hi[i]!);
  }
  return out;
}
