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
  connect: 42, accept: 43, sendto: 44, recvfrom: 45, shutdown: 48, bind: 49, listen: 50,
  clone: 56, fork: 57, vfork: 58, execve: 59, exit: 60, wait4: 61, kill: 62, uname: 63,
  fcntl: 72, fsync: 74, ftruncate: 77, getdents: 78, getcwd: 79, chdir: 80, rename: 82,
  mkdir: 83, rmdir: 84, unlink: 87, readlink: 89, gettimeofday: 96, getrlimit: 97, ptrace: 101,
  getuid: 102, getgid: 104, geteuid: 107, getegid: 108, setpgid: 109, getppid: 110,
  sigaltstack: 131, arch_prctl: 158, iopl: 172, gettid: 186, time: 201, futex: 202,
  sched_getaffinity: 204, set_tid_address: 218, clock_gettime: 228, exit_group: 231,
  tgkill: 234, openat: 257, set_robust_list: 273, prlimit64: 302, getrandom: 318,
} as const;

export const SYSCALL_NAMES: Record<number, string> = Object.fromEntries(Object.entries(NR).map(([k, v]) => [v, k]));

export const EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
  ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17,
  ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25,
  EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EROFS = 30, EPIPE = 32, ERANGE = 34, ENOSYS = 38;

// Signals (arch/x86/include/uapi/asm/signal.h).
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7,
  SIGFPE = 8, SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14,
  SIGTERM = 15, SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20,
  SIGTTIN = 21, SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGVTALRM = 26,
  SIGPROF = 27, SIGWINCH = 28, SIGIO = 29, SIGPWR = 30, SIGSYS = 31;
export const NSIG = 64;
export const SIG_DFL = 0, SIG_IGN = 1;
export const SA_SIGINFO = 0x4, SA_ONSTACK = 0x0800_0000, SA_RESTART = 0x1000_0000,
  SA_NODEFER = 0x4000_0000, SA_RESETHAND = 0x8000_0000, SA_RESTORER = 0x0400_0000;
export const SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
/** si_code values for SIGSEGV (include/uapi/asm-generic/siginfo.h). */
export const SEGV_MAPERR = 1, SEGV_ACCERR = 2;
export const SI_USER = 0, SI_KERNEL = 0x80, TRAP_BRKPT = 1;
export const ILL_ILLOPN = 2, FPE_INTDIV = 1;

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
export const PTRACE_O_TRACESYSGOOD = 1;

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
export const SI_SIGNO = 0, SI_ERRNO = 4, SI_CODE = 8, SI_ADDR = 16, SI_PID = 16, SI_UID = 20;
/** sizeof(struct sigaction) in the kernel ABI: handler, flags, restorer, mask. */
export const KSIGACTION_SIZE = 32;

// Address-space layout of a 64-bit process (arch/x86/include/asm/processor.h, mm/mmap.c).
export const TASK_SIZE = 0x7fff_ffff_f000;
export const STACK_TOP = TASK_SIZE;
/** mmap_base = STACK_TOP - max(stack rlimit, 128 MiB) (mm/util.c: mmap_base). */
export const MMAP_BASE = STACK_TOP - 128 * 1024 * 1024;
export const DEFAULT_STACK_SIZE = 8 * 1024 * 1024;
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
