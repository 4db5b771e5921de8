/**
 * The Linux x86-64 ABI, spelled out in one place: system-call numbers, errno values, signals,
 * flags and structure layouts, with Linux's names (arch/x86/entry/syscalls/syscall_64.tbl,
 * include/uapi/asm-generic/errno-base.h, arch/x86/include/uapi/asm/signal.h, …).
 */

export const NR = {
  read: 0, write: 1, open: 2, close: 3, stat: 4, fstat: 5, lstat: 6, poll: 7, lseek: 8, mmap: 9,
  mprotect: 10, munmap: 11, brk: 12, rt_sigaction: 13, rt_sigprocmask: 14, rt_sigreturn: 15,
  ioctl: 16, pread64: 17, pwrite64: 18, readv: 19, writev: 20, access: 21, pipe: 22, select: 23,
  sched_yield: 24, mremap: 25, msync: 26, mincore: 27, madvise: 28, dup: 32, dup2: 33, pause: 34,
  nanosleep: 35, getitimer: 36, alarm: 37, setitimer: 38, getpid: 39, sendfile: 40, socket: 41,
  connect: 42, accept: 43, sendto: 44, recvfrom: 45, sendmsg: 46, recvmsg: 47, shutdown: 48, bind: 49, listen: 50,
  getsockname: 51, getpeername: 52, socketpair: 53, setsockopt: 54, getsockopt: 55,
  clone: 56, fork: 57, vfork: 58, execve: 59, exit: 60, wait4: 61, kill: 62, uname: 63,
  fcntl: 72, fsync: 74, fdatasync: 75, truncate: 76, ftruncate: 77, getdents: 78, getcwd: 79,
  chdir: 80, fchdir: 81, rename: 82, mkdir: 83, rmdir: 84, link: 86, unlink: 87, symlink: 88, readlink: 89,
  umask: 95, gettimeofday: 96, getrlimit: 97, ptrace: 101,
  getuid: 102, getgid: 104, geteuid: 107, getegid: 108, setpgid: 109, getppid: 110,
  rt_sigsuspend: 130, sigaltstack: 131, arch_prctl: 158, setrlimit: 160, iopl: 172, gettid: 186, tkill: 200, time: 201, futex: 202,
  sched_setaffinity: 203, sched_getaffinity: 204, getdents64: 217, set_tid_address: 218, clock_gettime: 228,
  clock_getres: 229, clock_nanosleep: 230, exit_group: 231,
  tgkill: 234, epoll_wait: 232, epoll_ctl: 233, epoll_create: 213, openat: 257, mkdirat: 258, newfstatat: 262, unlinkat: 263, renameat: 264, linkat: 265,
  symlinkat: 266, readlinkat: 267, faccessat: 269, set_robust_list: 273, get_robust_list: 274, dup3: 292, pipe2: 293,
  rt_tgsigqueueinfo: 297, pselect6: 270, ppoll: 271, epoll_pwait: 281, accept4: 288, epoll_create1: 291, prlimit64: 302, getcpu: 309, renameat2: 316, getrandom: 318, execveat: 322, rseq: 334, faccessat2: 439,
} as const;

export const SYSCALL_NAMES: Record<number, string> = Object.fromEntries(Object.entries(NR).map(([k, v]) => [v, k]));

export const EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
  ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17,
  ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25,
  EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EROFS = 30, EPIPE = 32, ERANGE = 34, ENOSYS = 38;
export const ENXIO = 6, EXDEV = 18, ETXTBSY = 26, EMLINK = 31, EDEADLK = 35, ENAMETOOLONG = 36,
  ENOTEMPTY = 39, ELOOP = 40, EOVERFLOW = 75, EOPNOTSUPP = 95, ETIMEDOUT = 110, ESTALE = 116,
  EDQUOT = 122;

/**
 * What an interrupted system call returns inside the kernel (include/linux/errno.h): never seen
 * by user space. On the way out, signal delivery turns them into -EINTR or restarts the call.
 */
export const ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514, ERESTART_RESTARTBLOCK = 516;

/** Whether RAX holds one of the ERESTART* codes. */
export function isRestartCode(rax: number): boolean {
  return rax === -ERESTARTSYS || rax === -ERESTARTNOINTR || rax === -ERESTARTNOHAND || rax === -ERESTART_RESTARTBLOCK;
}

// Signals (arch/x86/include/uapi/asm/signal.h).
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7,
  SIGFPE = 8, SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14,
  SIGTERM = 15, SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20,
  SIGTTIN = 21, SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGVTALRM = 26,
  SIGPROF = 27, SIGWINCH = 28, SIGIO = 29, SIGPWR = 30, SIGSYS = 31;
// Sockets (include/uapi/asm-generic/errno.h, include/linux/socket.h, include/uapi/linux/in.h,
// include/uapi/linux/tcp.h, include/uapi/linux/eventpoll.h, include/uapi/asm-generic/poll.h).
export const ENOTSOCK = 88, EDESTADDRREQ = 89, EMSGSIZE = 90, EPROTOTYPE = 91, ENOPROTOOPT = 92,
  EPROTONOSUPPORT = 93, ESOCKTNOSUPPORT = 94, EAFNOSUPPORT = 97, EADDRINUSE = 98,
  EADDRNOTAVAIL = 99, ENETUNREACH = 101, ECONNABORTED = 103, ECONNRESET = 104, EISCONN = 106,
  ENOTCONN = 107, ECONNREFUSED = 111, EHOSTUNREACH = 113, EALREADY = 114, EINPROGRESS = 115;
export const AF_UNSPEC = 0, AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
export const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_TYPE_MASK = 0xf, SOCK_NONBLOCK = 0o4000,
  SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_IP = 0, IPPROTO_TCP = 6, IPPROTO_UDP = 17;
export const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_ERROR = 4, SO_SNDBUF = 7,
  SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_LINGER = 13, SO_REUSEPORT = 15, SO_ACCEPTCONN = 30,
  TCP_NODELAY = 1;
export const SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
export const MSG_PEEK = 0x2, MSG_DONTWAIT = 0x40, MSG_WAITALL = 0x100, MSG_NOSIGNAL = 0x4000;
/** struct sockaddr_in: family, port (big-endian), address (big-endian), 8 bytes of zero. */
export const SOCKADDR_IN_SIZE = 16;
export const SOMAXCONN = 4096;
export const POLLIN = 0x1, POLLPRI = 0x2, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10,
  POLLNVAL = 0x20, POLLRDNORM = 0x40, POLLWRNORM = 0x100, POLLRDHUP = 0x2000;
/** struct pollfd: int fd, short events, short revents. */
export const POLLFD_SIZE = 8;
export const EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000,
  EPOLLEXCLUSIVE = 1 << 28, EPOLLWAKEUP = 1 << 29, EPOLLONESHOT = 1 << 30, EPOLLET = 0x8000_0000;
export const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3, EPOLL_CLOEXEC = 0o2000000;
/** struct epoll_event is packed on x86-64: u32 events, u64 data. */
export const EPOLL_EVENT_SIZE = 12;
export const EP_MAX_EVENTS = 0x7fff_ffff / 12;

/** The local APIC timer's vector (arch/x86/include/asm/irq_vectors.h): the scheduler tick. */
export const LOCAL_TIMER_VECTOR = 0xec;

export const NSIG = 64;
export const SIG_DFL = 0, SIG_IGN = 1;
export const SA_SIGINFO = 0x4, SA_ONSTACK = 0x0800_0000, SA_RESTART = 0x1000_0000,
  SA_NODEFER = 0x4000_0000, SA_RESETHAND = 0x8000_0000, SA_RESTORER = 0x0400_0000;
export const SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
/** si_code values for SIGSEGV (include/uapi/asm-generic/siginfo.h). */
export const SEGV_MAPERR = 1, SEGV_ACCERR = 2;
export const SI_USER = 0, SI_KERNEL = 0x80, TRAP_BRKPT = 1;
/** setitimer's timers (include/uapi/linux/time.h); struct itimerval is two timevals, interval first. */
export const ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2, ITIMERVAL_SIZE = 32;
export const ILL_ILLOPN = 2, FPE_INTDIV = 1;
/** si_code of an #AC (BUS_ADRALN) and of an #MF / #XM whose cause is not decoded (FPE_FLTINV). */
export const BUS_ADRALN = 1, FPE_FLTINV = 7;

/** Signals whose default action is to ignore them; the rest terminate (or stop). */
export const SIG_DEFAULT_IGNORE = new Set([SIGCHLD, SIGURG, SIGWINCH, SIGCONT]);
export const SIG_DEFAULT_STOP = new Set([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);

// mmap / mprotect.
export const PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
export const MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
  MAP_GROWSDOWN = 0x100, MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_HUGETLB = 0x4_0000;

// wait4 status encoding and options.
export const WNOHANG = 1, WUNTRACED = 2, __WALL = 0x4000_0000;
export const exitedStatus = (code: number): number => (code & 0xff) << 8;
export const signaledStatus = (sig: number): number => sig & 0x7f;
export const stoppedStatus = (sig: number): number => ((sig & 0xff) << 8) | 0x7f;

// ptrace (include/uapi/linux/ptrace.h, arch/x86/include/uapi/asm/ptrace-abi.h).
export const PTRACE_TRACEME = 0, PTRACE_PEEKTEXT = 1, PTRACE_PEEKDATA = 2, PTRACE_POKEDATA = 5,
  PTRACE_CONT = 7, PTRACE_KILL = 8, PTRACE_SINGLESTEP = 9, PTRACE_GETREGS = 12, PTRACE_SETREGS = 13,
  PTRACE_ATTACH = 16, PTRACE_DETACH = 17, PTRACE_SYSCALL = 24, PTRACE_SETOPTIONS = 0x4200,
  PTRACE_SYSEMU = 31;
export const PTRACE_O_TRACESYSGOOD = 1, PTRACE_O_TRACEEXEC = 0x10;
/** The event a PTRACE_O_TRACEEXEC stop reports in bits 16..23 of its wait status. */
export const PTRACE_EVENT_EXEC = 4;

/**
 * struct user_regs_struct (arch/x86/include/asm/user_64.h): 27 unsigned longs, in this order.
 * PTRACE_GETREGS copies it to the tracer; orig_rax carries the system-call number.
 */
export const USER_REGS_FIELDS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi',
  'rdi', 'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const;
export const USER_REGS_SIZE = USER_REGS_FIELDS.length * 8;

/**
 * struct sigcontext (64-bit) inside the rt_sigframe's ucontext (arch/x86/include/uapi/asm/
 * sigcontext.h): the general registers in this order, then rip, eflags, cs/gs/fs/ss (u16 each),
 * err, trapno, oldmask, cr2, fpstate, reserved[8].
 */
export const SIGCONTEXT_GPRS = ['r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rdi', 'rsi', 'rbp', 'rbx', 'rdx', 'rax', 'rcx', 'rsp'] as const;
export const SC_RIP = 128, SC_EFLAGS = 136, SC_CSGSFS = 144, SC_ERR = 152, SC_TRAPNO = 160,
  SC_OLDMASK = 168, SC_CR2 = 176, SC_FPSTATE = 184, SIGCONTEXT_SIZE = 256;
/** struct ucontext: uc_flags, uc_link, uc_stack (24 bytes), uc_mcontext, uc_sigmask. */
export const UC_FLAGS = 0, UC_LINK = 8, UC_STACK = 16, UC_MCONTEXT = 40, UC_SIGMASK = 296, UCONTEXT_SIZE = 304;
/** struct rt_sigframe: pretcode, ucontext, siginfo (128 bytes). */
export const RT_SIGFRAME_UC = 8, RT_SIGFRAME_INFO = 8 + UCONTEXT_SIZE, SIGINFO_SIZE = 128,
  RT_SIGFRAME_SIZE = RT_SIGFRAME_INFO + SIGINFO_SIZE;
/** siginfo_t: si_signo, si_errno, si_code (ints), then the union (si_addr at 16, si_pid at 16). */
export const SI_SIGNO = 0, SI_ERRNO = 4, SI_CODE = 8, SI_ADDR = 16, SI_PID = 16, SI_UID = 20, SI_VALUE = 24;
/** sizeof(struct sigaction) in the kernel ABI: handler, flags, restorer, mask. */
export const KSIGACTION_SIZE = 32;

// Address-space layout of a 64-bit process (arch/x86/include/asm/processor.h, mm/mmap.c).
export const TASK_SIZE = 0x7fff_ffff_f000;
/**
 * vm.mmap_min_addr (Linux's default, 64 KiB): no mapping below it, so that a kernel bug which
 * dereferences a NULL pointer cannot be steered by data a process placed at address 0 — the
 * same reason ring-0 code must never read per-CPU state through a base ring 3 can zero.
 */
export const MMAP_MIN_ADDR = 0x1_0000;
export const STACK_TOP = TASK_SIZE;
/** mmap_base = STACK_TOP - max(stack rlimit, 128 MiB) (mm/util.c: mmap_base). */
export const MMAP_BASE = STACK_TOP - 128 * 1024 * 1024;
/** RLIMIT_STACK's default: how far the stack may grow. */
export const DEFAULT_STACK_SIZE = 8 * 1024 * 1024;
/** The stack VMA a new program starts with; it grows on faults up to RLIMIT_STACK (fs/exec.c). */
export const INITIAL_STACK_SIZE = 128 * 1024;
/** PAGE_OFFSET: the start of the kernel's direct map of physical memory (Linux 3.2, 4-level). */
export const PAGE_OFFSET = -0x7800_0000_0000; // 0xffff_8800_0000_0000 as a signed number

// Segment selectors of user mode (arch/x86/include/asm/segment.h).
export const USER_CS = 0x33, USER_DS = 0x2b, KERNEL_CS = 0x10, KERNEL_DS = 0x18;

// ioctl requests of /dev/dune (kern/dune.h): _IOR(233, 1, struct dune_config) etc.
export const DUNE_MINOR = 233;
export const DUNE_ENTER = 0x80b0_e901;
export const DUNE_GET_SYSCALL = 0xe902;
export const DUNE_GET_LAYOUT = 0x4018_e903;

// arch_prctl.
export const ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004;

// ---- Files (include/uapi/asm-generic/fcntl.h, linux/stat.h, linux/fs.h) ----------------------

// open flags (octal, as asm-generic/fcntl.h spells them).
export const O_ACCMODE = 0o3, O_RDONLY = 0o0, O_WRONLY = 0o1, O_RDWR = 0o2, O_CREAT = 0o100,
  O_EXCL = 0o200, O_NOCTTY = 0o400, O_TRUNC = 0o1000, O_APPEND = 0o2000, O_NONBLOCK = 0o4000,
  O_DSYNC = 0o10000, O_ASYNC = 0o20000, O_DIRECT = 0o40000, O_LARGEFILE = 0o100000,
  O_DIRECTORY = 0o200000, O_NOFOLLOW = 0o400000, O_NOATIME = 0o1000000, O_CLOEXEC = 0o2000000,
  O_PATH = 0o10000000;
/** *at() calls: the dirfd meaning "the current directory", and their flags. */
export const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EACCESS = 0x200, AT_REMOVEDIR = 0x200,
  AT_SYMLINK_FOLLOW = 0x400, AT_NO_AUTOMOUNT = 0x800, AT_EMPTY_PATH = 0x1000;
export const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
/** access() modes. */
export const F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;
export const SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
// fcntl commands.
export const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5,
  F_SETLK = 6, F_SETLKW = 7, F_DUPFD_CLOEXEC = 1030, FD_CLOEXEC = 1;
export const F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
// st_mode file types and the d_type values of getdents.
export const S_IFMT = 0o170000, S_IFSOCK = 0o140000, S_IFLNK = 0o120000, S_IFREG = 0o100000,
  S_IFBLK = 0o60000, S_IFDIR = 0o40000, S_IFCHR = 0o20000, S_IFIFO = 0o10000;
export const DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10,
  DT_SOCK = 12;
export const PATH_MAX = 4096;

// execve (include/uapi/linux/binfmts.h, include/linux/binfmts.h, fs/exec.c).
/** The longest argument or environment string, its NUL included (32 pages). */
export const MAX_ARG_STRLEN = 32 * 4096;
/** The most argument or environment strings (0x7FFFFFFF). */
export const MAX_ARG_STRINGS = 0x7fff_ffff;
/** ARG_MAX: the least room for strings and pointers execve grants, whatever RLIMIT_STACK says. */
export const ARG_MAX = 131_072;
/** _STK_LIM: the default RLIMIT_STACK (8 MiB); strings may use at most 3/4 of it. */
export const STK_LIM = 8 * 1024 * 1024;
/** The bytes of a file the binary formats look at first (the #! line must fit in them). */
export const BINPRM_BUF_SIZE = 256;
/** Interpreter levels one execve may go through (fs/exec.c exec_binprm: depth > 5 is -ELOOP). */
export const EXEC_MAX_DEPTH = 5;
/** task_struct.comm: 15 characters and the NUL. */
export const TASK_COMM_LEN = 16;
/** Largest count one read/write transfers (MAX_RW_COUNT is INT_MAX & PAGE_MASK; the model caps lower). */
export const MAX_RW_COUNT = 16 * 1024 * 1024;
export const UIO_MAXIOV = 1024;
/** sizeof(struct sockaddr_storage): the most move_addr_to_kernel copies (-EINVAL beyond). */
export const SOCKADDR_STORAGE_SIZE = 128;
/** Pipe capacity (16 pages) and the size up to which a pipe write is atomic. */
export const PIPE_DEF_BUFFERS_SIZE = 65536, PIPE_BUF = 4096;

/**
 * struct stat of x86-64 (arch/x86/include/uapi/asm/stat.h), 144 bytes: st_dev, st_ino, st_nlink
 * (unsigned long), st_mode, st_uid, st_gid (unsigned int), __pad0, st_rdev, st_size, st_blksize,
 * st_blocks (long), st_atime, st_atime_nsec, st_mtime, st_mtime_nsec, st_ctime, st_ctime_nsec,
 * __unused[3].
 */
export const ST_DEV = 0, ST_INO = 8, ST_NLINK = 16, ST_MODE = 24, ST_UID = 28, ST_GID = 32,
  ST_RDEV = 40, ST_SIZE = 48, ST_BLKSIZE = 56, ST_BLOCKS = 64, ST_ATIME = 72, ST_ATIME_NSEC = 80,
  ST_MTIME = 88, ST_MTIME_NSEC = 96, ST_CTIME = 104, ST_CTIME_NSEC = 112, STAT_SIZE = 144;
/** struct linux_dirent64: d_ino (u64), d_off (s64), d_reclen (u16), d_type (u8), d_name[]. */
export const D64_INO = 0, D64_OFF = 8, D64_RECLEN = 16, D64_TYPE = 18, D64_NAME = 19;
/** struct linux_dirent (getdents): d_ino, d_off, d_reclen, d_name[], then a pad and d_type last. */
export const D_INO = 0, D_OFF = 8, D_RECLEN = 16, D_NAME = 18;
/** struct iovec: iov_base, iov_len. */
export const IOVEC_SIZE = 16;
/** struct flock: l_type is its first field (short). */
export const FLOCK_SIZE = 32;

// Terminals (include/uapi/asm-generic/ioctls.h, termbits.h).
export const TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404,
  TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414,
  FIONREAD = 0x541b, FIONBIO = 0x5421, FIONCLEX = 0x5450, FIOCLEX = 0x5451;
/** struct termios of the TCGETS ioctl: c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line, c_cc[19]. */
export const TERMIOS_SIZE = 36, NCCS = 19;
/** struct winsize: ws_row, ws_col, ws_xpixel, ws_ypixel (u16). */
export const WINSIZE_SIZE = 8;

// ---- Time, system information, limits -------------------------------------------------------

export const CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2,
  CLOCK_THREAD_CPUTIME_ID = 3, CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5,
  CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7;
export const TIMER_ABSTIME = 1;
/** struct timespec / timeval: two longs. */
export const TIMESPEC_SIZE = 16, TIMEVAL_SIZE = 16, TIMEZONE_SIZE = 8;
/** struct new_utsname: six fields of 65 bytes. */
export const UTSNAME_FIELD = 65, UTSNAME_SIZE = 6 * 65;
export const RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4,
  RLIMIT_RSS = 5, RLIMIT_NPROC = 6, RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9,
  RLIMIT_LOCKS = 10, RLIMIT_SIGPENDING = 11, RLIMIT_MSGQUEUE = 12, RLIMIT_NICE = 13,
  RLIMIT_RTPRIO = 14, RLIMIT_RTTIME = 15, RLIM_NLIMITS = 16;
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
/** struct rlimit / rlimit64: rlim_cur, rlim_max (u64). */
export const RLIMIT_SIZE = 16;
export const GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4;

// futex (include/uapi/linux/futex.h).
export const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_FD = 2, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4,
  FUTEX_WAKE_OP = 5, FUTEX_LOCK_PI = 6, FUTEX_UNLOCK_PI = 7, FUTEX_TRYLOCK_PI = 8,
  FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10, FUTEX_PRIVATE_FLAG = 128,
  FUTEX_CLOCK_REALTIME = 256, FUTEX_CMD_MASK = ~(128 | 256);
export const FUTEX_OP_SET = 0, FUTEX_OP_ADD = 1, FUTEX_OP_OR = 2, FUTEX_OP_ANDN = 3, FUTEX_OP_XOR = 4,
  FUTEX_OP_OPARG_SHIFT = 8;
export const FUTEX_OP_CMP_EQ = 0, FUTEX_OP_CMP_NE = 1, FUTEX_OP_CMP_LT = 2, FUTEX_OP_CMP_LE = 3,
  FUTEX_OP_CMP_GT = 4, FUTEX_OP_CMP_GE = 5;
/** sizeof(struct robust_list_head). */
export const ROBUST_LIST_HEAD_SIZE = 24;

// mremap / madvise.
export const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;
export const MADV_NORMAL = 0, MADV_RANDOM = 1, MADV_SEQUENTIAL = 2, MADV_WILLNEED = 3,
  MADV_DONTNEED = 4, MADV_FREE = 8, MADV_REMOVE = 9, MADV_DONTFORK = 10, MADV_DOFORK = 11,
  MADV_MERGEABLE = 12, MADV_UNMERGEABLE = 13, MADV_HUGEPAGE = 14, MADV_NOHUGEPAGE = 15,
  MADV_DONTDUMP = 16, MADV_DODUMP = 17, MADV_WIPEONFORK = 18, MADV_KEEPONFORK = 19,
  MADV_COLD = 20, MADV_PAGEOUT = 21;

// sigaltstack: stack_t is ss_sp (8), ss_flags (int, padded to 8), ss_size (8).
export const SS_ONSTACK = 1, SS_DISABLE = 2, MINSIGSTKSZ = 2048, SIGSTKSZ = 8192;
export const SS_SP = 0, SS_FLAGS = 8, SS_SIZE = 16, STACK_T_SIZE = 24;

// clone(2) flags (include/uapi/linux/sched.h); the low byte (CSIGNAL) is the exit signal.
export const CSIGNAL = 0xff;
export const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800,
  CLONE_PIDFD = 0x1000, CLONE_PTRACE = 0x2000, CLONE_VFORK = 0x4000, CLONE_PARENT = 0x8000,
  CLONE_THREAD = 0x10000, CLONE_NEWNS = 0x20000, CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000,
  CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_DETACHED = 0x400000,
  CLONE_UNTRACED = 0x800000, CLONE_CHILD_SETTID = 0x1000000, CLONE_NEWCGROUP = 0x2000000,
  CLONE_NEWUTS = 0x4000000, CLONE_NEWIPC = 0x8000000, CLONE_NEWUSER = 0x10000000,
  CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000, CLONE_IO = 0x80000000;
/** The namespace flags: the model has one namespace of each kind and creates none. */
export const CLONE_NAMESPACES = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// Robust futexes (include/uapi/linux/futex.h).
export const FUTEX_WAITERS = 0x8000_0000, FUTEX_OWNER_DIED = 0x4000_0000, FUTEX_TID_MASK = 0x3fff_ffff;
/** handle_futex_death's bound on the robust list walk (ROBUST_LIST_LIMIT). */
export const ROBUST_LIST_LIMIT = 2048;
export const FUTEX_BITSET_MATCH_ANY = 0xffff_ffff;

/** The vector of the reschedule / call-function IPIs (arch/x86/include/asm/irq_vectors.h). */
export const RESCHEDULE_VECTOR = 0xfd, CALL_FUNCTION_VECTOR = 0xfc;
/** The self-IPI that runs irq_work (arch/x86/include/asm/irq_vectors.h). */
export const IRQ_WORK_VECTOR = 0xf6;
/** The scheduler tick: CONFIG_HZ of Debian's Linux 3.2 kernels. */
export const HZ = 250;
