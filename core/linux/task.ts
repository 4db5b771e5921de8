import { AddressSpace } from './address-space.js';
import { RLIMIT_NOFILE, RLIMIT_STACK, RLIM_INFINITY, RLIM_NLIMITS } from './linux-abi.js';
import { PtRegs } from './pt-regs.js';
import { newFxImage } from '../vtx/fx-save-area.js';

export enum TaskState {
  Runnable = 'runnable',
  Running = 'running',
  /** Waiting in the kernel (wait4, a blocking read …) until `wake` says it can go on. */
  Sleeping = 'sleeping',
  /** Stopped for its tracer (syscall stop, signal-delivery stop) or by SIGSTOP. */
  Stopped = 'stopped',
  Dead = 'dead',
}

/** struct k_sigaction as rt_sigaction exchanges it. */
export class SigAction {
  handler = 0;
  flags = 0;
  restorer = 0;
  maskLo = 0;
  maskHi = 0;
}

export interface SigInfo {
  signo: number;
  code: number;
  /** si_addr for faults, si_pid for kill. */
  addr: number;
  pid: number;
  /** For a fault: the vector and error code (sigcontext trapno / err). */
  trapno?: number;
  err?: number;
  /** si_value (sigqueue's and rt_tgsigqueueinfo's payload), when the sender gave one. */
  value?: number;
}

export type PtraceMode = 'cont' | 'syscall' | 'sysemu';

/** A thread group (what user space calls a process). */
export class Process {
  readonly threads: Task[] = [];
  /**
   * libDune's state when the program links it (core/dune/libdune.ts): user-space state, so a
   * fork child's is a copy of its parent's (as its memory is) and an execve drops it.
   */
  libdune: unknown;
  readonly children: Process[] = [];
  parent: Process | undefined;
  /** wait4 status once the process is a zombie. */
  waitStatus = 0;
  zombie = false;
  reaped = false;
  /** The signal handlers (sighand_struct): shared with a clone made with CLONE_SIGHAND. */
  actions: SigAction[] = Array.from({ length: 65 }, () => new SigAction());
  /**
   * Process-directed signals not yet taken by a thread (signal->shared_pending): kill(2) queues
   * here, and the first thread that does not block the signal takes it on its way to user mode.
   */
  readonly sharedPending: SigInfo[] = [];
  /** Open files: fd → file object (files_struct: shared with a clone made with CLONE_FILES). */
  files = new Map<number, KernelFile>();
  /** Descriptors with FD_CLOEXEC set (part of the files_struct). */
  cloexec = new Set<number>();
  /** How many processes share `files` (files_struct.count): the last one out closes them. */
  filesUsers = { count: 1 };
  /** The signal the parent gets when this process dies (clone's CSIGNAL byte; 0: none). */
  exitSignal = 17;
  /**
   * Set once a thread called exit_group or a fatal signal struck (SIGNAL_GROUP_EXIT): the wait
   * status of the group; every other thread is being killed.
   */
  groupExitStatus: number | undefined;
  /**
   * The thread whose execve is killing the others (signal->group_exec_task): their SIGKILL ends
   * only themselves, and it waits until they are gone (syscalls-exec.ts, de_thread).
   */
  execTask: Task | undefined;
  /** The current directory's guest path before any chdir ("/"); then `cwdDir` holds it. */
  cwd = '/';
  /**
   * The current directory as an object (fs_struct's pwd): a directory's PathFile or DirFile,
   * referenced like a descriptor, so relative paths start where that directory is now — not at
   * a name that may since lead elsewhere. Undefined: `cwd`.
   */
  cwdDir: KernelFile | undefined;
  /** The file-mode creation mask. */
  umask = 0o022;
  /** Resource limits (signal->rlim), indexed by RLIMIT_*; fork copies them. */
  rlimits: Array<{ cur: bigint; max: bigint }> = defaultRlimits();
  /** ITIMER_REAL (signal->real_timer): armed timer and its reload interval in cycles; fork does not copy it. */
  realTimer: { timer: import('./kernel.js').KernelTimer; interval: number } | undefined;

  constructor(
    readonly pid: number,
    public mm: AddressSpace,
    public name: string,
  ) {}

  allocFd(file: KernelFile): number {
    let fd = 0;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, file);
    return fd;
  }
}

/** Linux's initial limits: an 8 MiB stack, 1024 descriptors (4096 hard), the rest unlimited. */
export function defaultRlimits(): Array<{ cur: bigint; max: bigint }> {
  const l = Array.from({ length: RLIM_NLIMITS }, () => ({ cur: RLIM_INFINITY, max: RLIM_INFINITY }));
  l[RLIMIT_STACK]!.cur = 8n << 20n;
  l[RLIMIT_NOFILE] = { cur: 1024n, max: 4096n };
  return l;
}

/** What an fd refers to: the console, /dev/dune, … (core/linux/vfs.ts: OpenFile and its kinds). */
export interface KernelFile {
  readonly kind: string;
  write?(data: Uint8Array): number;
  ioctl?(task: Task, request: number, arg: number): number;
}

/** A thread (struct task_struct). */
export class Task {
  readonly regs = new PtRegs();
  /**
   * The x87 and SSE registers while the task is off the CPU (thread.fpu): the kernel saves them
   * here when a CPU switches away from the task and loads them when one switches to it; while the
   * task runs, the CPU holds them. A new process starts from the initial state.
   */
  readonly fpu = newFxImage();
  state = TaskState.Runnable;
  blockedLo = 0;
  blockedHi = 0;
  /**
   * saved_sigmask of rt_sigsuspend (TIF_RESTORE_SIGMASK): the mask to put back once the
   * handler that ended the wait returns (the signal frame carries it), or when no handler runs.
   */
  savedSigmask: { lo: number; hi: number } | undefined;
  readonly pending: SigInfo[] = [];
  /** Kernel work to finish when the task next runs (the rest of a blocked or stopped syscall). */
  resume: (() => void) | undefined;
  /** What follows a system call that slept once it is done (the syscall-exit stop of a tracee). */
  afterSyscall: ((cpu: import('../vtx/cpu.js').Cpu) => void) | undefined;
  /** Whether a sleeping task can go on (checked when something it waits for happens). */
  wake: (() => boolean) | undefined;
  /**
   * Whether something from the host (a connection, data, a datagram on a host socket) could wake
   * the sleeping task; undefined: assume it could. The kernel's idle loop tells a machine waiting
   * for the host from one that can never move again (Kernel.run).
   */
  hostWake: (() => boolean) | undefined;
  /** The number of the last system call dispatched for the task (-1: none), for reports. */
  lastSyscall = -1;
  /** The system call the trace has open for this task (-1: none) and the cycle it began. */
  traceSyscall = -1;
  traceSyscallStart = 0;

  // ptrace
  tracer: Process | undefined;
  ptraceMode: PtraceMode = 'cont';
  ptraceOptions = 0;
  /** The wait status the tracer has not collected yet (0 = nothing to report). */
  ptraceReport = 0;
  /** Signal the tracer injects on resume (ptrace data argument). */
  ptraceInject = 0;

  /** Per-task state the Dune module keeps (its vCPU) while the task is in Dune mode. */
  dune: unknown;
  /** The thread whose clone made this one (its registers and TLS pointer are copies of that thread's). */
  forkedFrom: Task | undefined;
  /** Frees the task's vCPU (VPID, VMCS, EPT); called when the task exits or execs. */
  releaseDune: (() => void) | undefined;
  /**
   * Set while the task runs in a guest (Dune mode): the way back replaces SYSRET/IRETQ (the
   * module re-enters the guest). Returns false when the task should return to user mode instead.
   */
  returnHook: ((cpu: import('../vtx/cpu.js').Cpu) => boolean) | undefined;
  /** The CPU the task last ran on (its registers are live there while Running). */
  cpu = -1;
  /**
   * The CPUs the task may run on (cpus_allowed; undefined: any). The scheduler never runs it
   * elsewhere; fork passes it on. A ptrace sandbox pins its supervisor and the program apart.
   */
  cpusAllowed: readonly number[] | undefined;
  /** sigaltstack: the alternate signal stack (size 0: disabled). */
  sigAltStack = { sp: 0, size: 0 };
  /** set_tid_address / CLONE_CHILD_CLEARTID: the clear_child_tid pointer. */
  clearChildTid = 0;
  /** set_robust_list: the head of the thread's robust futex list (0: none). */
  robustList = 0;
  /** The wait status of this thread's own exit (exit(2)); the group's comes from the leader. */
  exitStatus = 0;
  /** A vfork parent waits for this: called when the child execs or exits (mm_release). */
  vforkDone: (() => void) | undefined;
  /** The futex wait this task sleeps in (futex.ts), for wake-ups and for cleanup at exit. */
  futexWait: unknown;
  /** Asleep in TASK_UNINTERRUPTIBLE (a vfork parent): only SIGKILL wakes it. */
  uninterruptible = false;
  /** TIF_NEED_RESCHED: the tick found another task waiting for this CPU; switch on the way out. */
  needResched = false;
  /**
   * The next return to user mode must take the IRETQ path. Linux 3.2 leaves through SYSRET only
   * from a system call with no work pending; exceptions and interrupts return through
   * retint_restore_args, and rt_sigreturn (a ptregscall) and signal delivery through
   * int_ret_from_sys_call, all ending in IRETQ whatever RCX and R11 hold. (Returning through
   * SYSRET whenever RCX = RIP and R11 = RFLAGS is the opportunistic SYSRET of later kernels.)
   */
  iretOnReturn = false;

  constructor(
    readonly tid: number,
    readonly process: Process,
  ) {}

  get signalBlocked(): (sig: number) => boolean {
    return (sig) => (sig <= 32 ? (this.blockedLo >>> (sig - 1)) & 1 : (this.blockedHi >>> (sig - 33)) & 1) === 1;
  }
}
