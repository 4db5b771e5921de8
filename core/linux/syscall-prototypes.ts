import { NR } from './linux-abi.js';

/**
 * How the kernel reads one argument register (include/linux/syscalls.h: SYSCALL_DEFINEx passes
 * every argument as a `long` and casts it to the declared type with __SC_CAST before the body
 * runs). The register's upper bits are therefore not part of an `int` argument: `fcntl(fd,
 * 0x1_0000_0005, p)` is F_GETLK. Anything that judges a call before the kernel runs it — the
 * sandbox's checks, a ptrace supervisor — must read the argument exactly so, or it judges a
 * different call from the one the kernel makes.
 */
export const ArgWidth = {
  /** 64 bits: long, unsigned long, size_t, off_t, loff_t, and every pointer. */
  Long: 0,
  /** int, pid_t, clockid_t: the low 32 bits, sign-extended. */
  Int: 1,
  /** unsigned int, u32: the low 32 bits, zero-extended. */
  Uint: 2,
  /** umode_t (unsigned short): the low 16 bits. */
  Mode: 3,
} as const;
export type ArgWidth = (typeof ArgWidth)[keyof typeof ArgWidth];

const TWO_32 = 0x1_0000_0000;

/**
 * The argument as the kernel sees it, from the register's two 32-bit halves (never from a JS
 * number of all 64 bits, which rounds above 2^53 and would lose the low bits an `int` keeps).
 * 64-bit arguments come back as the register's signed value, as everywhere in the model: a
 * kernel-half pointer or a length of 2^63 or more is negative; beyond ±2^53 the number is rounded
 * — the same number for every reader, since all of them call this function.
 */
export function argOf(width: ArgWidth, lo: number, hi: number): number {
  switch (width) {
    case ArgWidth.Int:
      return lo | 0;
    case ArgWidth.Uint:
      return lo >>> 0;
    case ArgWidth.Mode:
      return lo & 0xffff;
    default:
      return (hi | 0) * TWO_32 + (lo >>> 0);
  }
}

/**
 * The system-call number as do_syscall_64 takes it (arch/x86/entry/entry_64.S since Linux 5.12:
 * `movslq %eax, %rsi` — an int): the upper half of RAX is ignored.
 */
export function syscallNrOf(raxLo: number): number {
  return raxLo | 0;
}

export interface ArgPrototype {
  readonly name: string;
  /** The C type as declared, e.g. 'unsigned int', 'const char __user *'. */
  readonly type: string;
  readonly width: ArgWidth;
}

export interface SyscallPrototype {
  readonly nr: number;
  readonly name: string;
  readonly args: readonly ArgPrototype[];
  /** The widths, for the dispatch (no allocation there). */
  readonly widths: Uint8Array;
}

/** Scalar C types of the prototypes below and how wide the kernel reads them. */
const SCALARS: Record<string, ArgWidth | undefined> = {
  int: ArgWidth.Int, pid_t: ArgWidth.Int, clockid_t: ArgWidth.Int,
  'unsigned int': ArgWidth.Uint, unsigned: ArgWidth.Uint, u32: ArgWidth.Uint,
  umode_t: ArgWidth.Mode,
  long: ArgWidth.Long, 'unsigned long': ArgWidth.Long, size_t: ArgWidth.Long, off_t: ArgWidth.Long, loff_t: ArgWidth.Long,
};

function parseArg(syscall: string, text: string): ArgPrototype {
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(text.trim());
  if (m === null) throw new Error(`syscall-prototypes: ${syscall}: cannot read the argument '${text}'`);
  const type = m[1]!.trim();
  if (type.includes('*')) return { name: m[2]!, type, width: ArgWidth.Long };
  const base = type.replace(/\bconst\b/g, '').trim();
  const width = SCALARS[base];
  if (width === undefined) throw new Error(`syscall-prototypes: ${syscall}: no width for the type '${type}'`);
  return { name: m[2]!, type, width };
}

function proto(nr: number, name: string, c: string): SyscallPrototype {
  const args = c === '' ? [] : c.split(',').map((a) => parseArg(name, a));
  return { nr, name, args, widths: Uint8Array.from(args, (a) => a.width) };
}

/**
 * Every system call of the Linux model, with the argument types of its SYSCALL_DEFINE in Linux
 * (fs/, mm/, net/socket.c, kernel/, arch/x86/kernel/sys_x86_64.c) — the one place that says
 * how wide each argument is. The kernel model's table (SyscallTable.add refuses a call that is
 * not here) and the sandbox's checks (syscall-specs.ts, a row per call it passes on) both read
 * their arguments through it.
 *
 * Where Linux declares a wider type and narrows it further in, the narrowing is written here,
 * because that is what the call acts on: readv/writev's `unsigned long fd` goes to fdget
 * (unsigned int), their `unsigned long vlen` to import_iovec (unsigned nr_segs).
 */
export const SYSCALL_PROTOTYPES: readonly SyscallPrototype[] = [
  proto(NR.read, 'read', 'unsigned int fd, char __user *buf, size_t count'),
  proto(NR.write, 'write', 'unsigned int fd, const char __user *buf, size_t count'),
  proto(NR.open, 'open', 'const char __user *filename, int flags, umode_t mode'),
  proto(NR.close, 'close', 'unsigned int fd'),
  proto(NR.stat, 'stat', 'const char __user *filename, struct stat __user *statbuf'),
  proto(NR.fstat, 'fstat', 'unsigned int fd, struct stat __user *statbuf'),
  proto(NR.lstat, 'lstat', 'const char __user *filename, struct stat __user *statbuf'),
  proto(NR.poll, 'poll', 'struct pollfd __user *ufds, unsigned int nfds, int timeout_msecs'),
  proto(NR.lseek, 'lseek', 'unsigned int fd, off_t offset, unsigned int whence'),
  // ksys_mmap_pgoff narrows fd in fget(unsigned int); the model maps no files, and only asks
  // whether fd is -1, so the declared type stays (reports show -1, not 0xffffffff).
  proto(NR.mmap, 'mmap', 'unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags, unsigned long fd, unsigned long off'),
  proto(NR.mprotect, 'mprotect', 'unsigned long start, size_t len, unsigned long prot'),
  proto(NR.munmap, 'munmap', 'unsigned long addr, size_t len'),
  proto(NR.brk, 'brk', 'unsigned long brk'),
  proto(NR.rt_sigaction, 'rt_sigaction', 'int sig, const struct sigaction __user *act, struct sigaction __user *oact, size_t sigsetsize'),
  proto(NR.rt_sigprocmask, 'rt_sigprocmask', 'int how, sigset_t __user *nset, sigset_t __user *oset, size_t sigsetsize'),
  proto(NR.rt_sigreturn, 'rt_sigreturn', ''),
  proto(NR.ioctl, 'ioctl', 'unsigned int fd, unsigned int cmd, unsigned long arg'),
  proto(NR.pread64, 'pread64', 'unsigned int fd, char __user *buf, size_t count, loff_t pos'),
  proto(NR.pwrite64, 'pwrite64', 'unsigned int fd, const char __user *buf, size_t count, loff_t pos'),
  // do_readv: fdget_pos(unsigned int fd); import_iovec(…, unsigned nr_segs, …).
  proto(NR.readv, 'readv', 'unsigned int fd, const struct iovec __user *vec, unsigned int vlen'),
  proto(NR.writev, 'writev', 'unsigned int fd, const struct iovec __user *vec, unsigned int vlen'),
  proto(NR.access, 'access', 'const char __user *filename, int mode'),
  proto(NR.pipe, 'pipe', 'int __user *fildes'),
  proto(NR.select, 'select', 'int n, fd_set __user *inp, fd_set __user *outp, fd_set __user *exp, struct __kernel_old_timeval __user *tvp'),
  proto(NR.sched_yield, 'sched_yield', ''),
  proto(NR.mremap, 'mremap', 'unsigned long addr, unsigned long old_len, unsigned long new_len, unsigned long flags, unsigned long new_addr'),
  proto(NR.madvise, 'madvise', 'unsigned long start, size_t len_in, int behavior'),
  proto(NR.dup, 'dup', 'unsigned int fildes'),
  proto(NR.dup2, 'dup2', 'unsigned int oldfd, unsigned int newfd'),
  proto(NR.nanosleep, 'nanosleep', 'struct __kernel_timespec __user *rqtp, struct __kernel_timespec __user *rmtp'),
  proto(NR.getitimer, 'getitimer', 'int which, struct __kernel_old_itimerval __user *value'),
  proto(NR.alarm, 'alarm', 'unsigned int seconds'),
  proto(NR.setitimer, 'setitimer', 'int which, struct __kernel_old_itimerval __user *value, struct __kernel_old_itimerval __user *ovalue'),
  proto(NR.getpid, 'getpid', ''),
  proto(NR.socket, 'socket', 'int family, int type, int protocol'),
  proto(NR.connect, 'connect', 'int fd, struct sockaddr __user *uservaddr, int addrlen'),
  proto(NR.accept, 'accept', 'int fd, struct sockaddr __user *upeer_sockaddr, int __user *upeer_addrlen'),
  proto(NR.sendto, 'sendto', 'int fd, void __user *buff, size_t len, unsigned int flags, struct sockaddr __user *addr, int addr_len'),
  proto(NR.recvfrom, 'recvfrom', 'int fd, void __user *ubuf, size_t size, unsigned int flags, struct sockaddr __user *addr, int __user *addr_len'),
  proto(NR.sendmsg, 'sendmsg', 'int fd, struct user_msghdr __user *msg, unsigned int flags'),
  proto(NR.recvmsg, 'recvmsg', 'int fd, struct user_msghdr __user *msg, unsigned int flags'),
  proto(NR.shutdown, 'shutdown', 'int fd, int how'),
  proto(NR.bind, 'bind', 'int fd, struct sockaddr __user *umyaddr, int addrlen'),
  proto(NR.listen, 'listen', 'int fd, int backlog'),
  proto(NR.getsockname, 'getsockname', 'int fd, struct sockaddr __user *usockaddr, int __user *usockaddr_len'),
  proto(NR.getpeername, 'getpeername', 'int fd, struct sockaddr __user *usockaddr, int __user *usockaddr_len'),
  proto(NR.setsockopt, 'setsockopt', 'int fd, int level, int optname, char __user *optval, int optlen'),
  proto(NR.getsockopt, 'getsockopt', 'int fd, int level, int optname, char __user *optval, int __user *optlen'),
  proto(NR.clone, 'clone', 'unsigned long clone_flags, unsigned long newsp, int __user *parent_tidptr, int __user *child_tidptr, unsigned long tls'),
  proto(NR.fork, 'fork', ''),
  proto(NR.vfork, 'vfork', ''),
  proto(NR.execve, 'execve', 'const char __user *filename, const char __user *const __user *argv, const char __user *const __user *envp'),
  proto(NR.exit, 'exit', 'int error_code'),
  proto(NR.wait4, 'wait4', 'pid_t upid, int __user *stat_addr, int options, struct rusage __user *ru'),
  proto(NR.kill, 'kill', 'pid_t pid, int sig'),
  proto(NR.uname, 'uname', 'struct new_utsname __user *name'),
  proto(NR.fcntl, 'fcntl', 'unsigned int fd, unsigned int cmd, unsigned long arg'),
  proto(NR.fsync, 'fsync', 'unsigned int fd'),
  proto(NR.fdatasync, 'fdatasync', 'unsigned int fd'),
  proto(NR.truncate, 'truncate', 'const char __user *path, long length'),
  proto(NR.ftruncate, 'ftruncate', 'unsigned int fd, off_t length'),
  proto(NR.getdents, 'getdents', 'unsigned int fd, struct linux_dirent __user *dirent, unsigned int count'),
  proto(NR.getcwd, 'getcwd', 'char __user *buf, unsigned long size'),
  proto(NR.chdir, 'chdir', 'const char __user *filename'),
  proto(NR.fchdir, 'fchdir', 'unsigned int fd'),
  proto(NR.rename, 'rename', 'const char __user *oldname, const char __user *newname'),
  proto(NR.mkdir, 'mkdir', 'const char __user *pathname, umode_t mode'),
  proto(NR.rmdir, 'rmdir', 'const char __user *pathname'),
  proto(NR.unlink, 'unlink', 'const char __user *pathname'),
  proto(NR.link, 'link', 'const char __user *oldname, const char __user *newname'),
  proto(NR.symlink, 'symlink', 'const char __user *oldname, const char __user *newname'),
  proto(NR.readlink, 'readlink', 'const char __user *path, char __user *buf, int bufsiz'),
  proto(NR.umask, 'umask', 'int mask'),
  proto(NR.gettimeofday, 'gettimeofday', 'struct __kernel_old_timeval __user *tv, struct timezone __user *tz'),
  proto(NR.getrlimit, 'getrlimit', 'unsigned int resource, struct rlimit __user *rlim'),
  proto(NR.getuid, 'getuid', ''),
  proto(NR.getgid, 'getgid', ''),
  proto(NR.ptrace, 'ptrace', 'long request, long pid, unsigned long addr, unsigned long data'),
  proto(NR.geteuid, 'geteuid', ''),
  proto(NR.getegid, 'getegid', ''),
  proto(NR.getppid, 'getppid', ''),
  proto(NR.sigaltstack, 'sigaltstack', 'const stack_t __user *uss, stack_t __user *uoss'),
  proto(NR.arch_prctl, 'arch_prctl', 'int option, unsigned long arg2'),
  proto(NR.setrlimit, 'setrlimit', 'unsigned int resource, struct rlimit __user *rlim'),
  proto(NR.gettid, 'gettid', ''),
  proto(NR.tkill, 'tkill', 'pid_t pid, int sig'),
  proto(NR.time, 'time', '__kernel_old_time_t __user *tloc'),
  proto(NR.futex, 'futex', 'u32 __user *uaddr, int op, u32 val, const struct __kernel_timespec __user *utime, u32 __user *uaddr2, u32 val3'),
  proto(NR.sched_setaffinity, 'sched_setaffinity', 'pid_t pid, unsigned int len, unsigned long __user *user_mask_ptr'),
  proto(NR.sched_getaffinity, 'sched_getaffinity', 'pid_t pid, unsigned int len, unsigned long __user *user_mask_ptr'),
  proto(NR.getcpu, 'getcpu', 'unsigned __user *cpu, unsigned __user *node, struct getcpu_cache __user *cache'),
  proto(NR.getdents64, 'getdents64', 'unsigned int fd, struct linux_dirent64 __user *dirent, unsigned int count'),
  proto(NR.set_tid_address, 'set_tid_address', 'int __user *tidptr'),
  proto(NR.clock_gettime, 'clock_gettime', 'const clockid_t which_clock, struct __kernel_timespec __user *tp'),
  proto(NR.clock_getres, 'clock_getres', 'const clockid_t which_clock, struct __kernel_timespec __user *tp'),
  proto(NR.clock_nanosleep, 'clock_nanosleep', 'const clockid_t which_clock, int flags, const struct __kernel_timespec __user *rqtp, struct __kernel_timespec __user *rmtp'),
  proto(NR.exit_group, 'exit_group', 'int error_code'),
  proto(NR.epoll_wait, 'epoll_wait', 'int epfd, struct epoll_event __user *events, int maxevents, int timeout'),
  proto(NR.epoll_ctl, 'epoll_ctl', 'int epfd, int op, int fd, struct epoll_event __user *event'),
  proto(NR.tgkill, 'tgkill', 'pid_t tgid, pid_t pid, int sig'),
  proto(NR.rt_sigsuspend, 'rt_sigsuspend', 'sigset_t __user *unewset, size_t sigsetsize'),
  proto(NR.rt_tgsigqueueinfo, 'rt_tgsigqueueinfo', 'pid_t tgid, pid_t pid, int sig, siginfo_t __user *uinfo'),
  proto(NR.openat, 'openat', 'int dfd, const char __user *filename, int flags, umode_t mode'),
  proto(NR.mkdirat, 'mkdirat', 'int dfd, const char __user *pathname, umode_t mode'),
  proto(NR.newfstatat, 'newfstatat', 'int dfd, const char __user *filename, struct stat __user *statbuf, int flag'),
  proto(NR.unlinkat, 'unlinkat', 'int dfd, const char __user *pathname, int flag'),
  proto(NR.renameat, 'renameat', 'int olddfd, const char __user *oldname, int newdfd, const char __user *newname'),
  proto(NR.symlinkat, 'symlinkat', 'const char __user *oldname, int newdfd, const char __user *newname'),
  proto(NR.linkat, 'linkat', 'int olddfd, const char __user *oldname, int newdfd, const char __user *newname, int flags'),
  proto(NR.readlinkat, 'readlinkat', 'int dfd, const char __user *pathname, char __user *buf, int bufsiz'),
  proto(NR.faccessat, 'faccessat', 'int dfd, const char __user *filename, int mode'),
  proto(NR.pselect6, 'pselect6', 'int n, fd_set __user *inp, fd_set __user *outp, fd_set __user *exp, struct __kernel_timespec __user *tsp, void __user *sig'),
  proto(NR.ppoll, 'ppoll', 'struct pollfd __user *ufds, unsigned int nfds, struct __kernel_timespec __user *tsp, const sigset_t __user *sigmask, size_t sigsetsize'),
  proto(NR.set_robust_list, 'set_robust_list', 'struct robust_list_head __user *head, size_t len'),
  proto(NR.get_robust_list, 'get_robust_list', 'int pid, struct robust_list_head __user * __user *head_ptr, size_t __user *len_ptr'),
  proto(NR.epoll_pwait, 'epoll_pwait', 'int epfd, struct epoll_event __user *events, int maxevents, int timeout, const sigset_t __user *sigmask, size_t sigsetsize'),
  proto(NR.accept4, 'accept4', 'int fd, struct sockaddr __user *upeer_sockaddr, int __user *upeer_addrlen, int flags'),
  proto(NR.epoll_create1, 'epoll_create1', 'int flags'),
  proto(NR.epoll_create, 'epoll_create', 'int size'),
  proto(NR.dup3, 'dup3', 'unsigned int oldfd, unsigned int newfd, int flags'),
  proto(NR.pipe2, 'pipe2', 'int __user *fildes, int flags'),
  proto(NR.prlimit64, 'prlimit64', 'pid_t pid, unsigned int resource, const struct rlimit64 __user *new_rlim, struct rlimit64 __user *old_rlim'),
  proto(NR.renameat2, 'renameat2', 'int olddfd, const char __user *oldname, int newdfd, const char __user *newname, unsigned int flags'),
  proto(NR.getrandom, 'getrandom', 'char __user *ubuf, size_t len, unsigned int flags'),
  proto(NR.execveat, 'execveat', 'int fd, const char __user *filename, const char __user *const __user *argv, const char __user *const __user *envp, int flags'),
  proto(NR.rseq, 'rseq', 'struct rseq __user *rseq, u32 rseq_len, int flags, u32 sig'),
  proto(NR.faccessat2, 'faccessat2', 'int dfd, const char __user *filename, int mode, int flags'),
];

const BY_NR = new Map(SYSCALL_PROTOTYPES.map((p) => [p.nr, p]));

export function prototypeOf(nr: number): SyscallPrototype | undefined {
  return BY_NR.get(nr);
}
