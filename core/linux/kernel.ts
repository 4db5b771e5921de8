import {
  CANONICAL_LIMIT, CR4_PCIDE,
  FEC_I, FEC_P, FEC_W, GD_KD, GD_KT, MSR_FMASK, MSR_LSTAR, MSR_STAR, PAGE_SIZE, PTE_P, PTE_W,
  RFLAGS_AC, RFLAGS_DF, RFLAGS_IF, RFLAGS_NT, RFLAGS_TF, Vector,
} from '../vtx/arch.js';
import { LongModeBoot } from '../vtx/boot.js';
import { CodeBuilder } from '../vtx/code-builder.js';
import { Cpu, RAX, RCX, RDI, RDX, RSI, RSP, R8, R9, R10, R11 } from '../vtx/cpu.js';
import { CpuFault } from '../vtx/cpu-fault.js';
import { Machine } from '../vtx/machine.js';
import { OutOfMemoryError } from '../vtx/frame-allocator.js';
import { PageTables } from '../vtx/page-tables.js';
import { AccessKind } from '../vtx/tlb.js';
import { AddressSpace, pteHasFrame } from './address-space.js';
import { hugeFault } from './huge-pages.js';
import {
  DEFAULT_STACK_SIZE, EFAULT, ENOSYS, MAP_ANONYMOUS, MAP_SHARED, MAP_GROWSDOWN, MAP_PRIVATE, PAGE_OFFSET,
  PROT_EXEC, PROT_READ, PROT_WRITE, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGCHLD, SIGFPE, SIGILL,
  LOCAL_TIMER_VECTOR, RESCHEDULE_VECTOR, CALL_FUNCTION_VECTOR, IRQ_WORK_VECTOR, HZ, RLIMIT_NPROC, SIGKILL, SIGSEGV, SIGTRAP, SI_KERNEL, SIG_DFL, STACK_TOP, SYSCALL_NAMES, USER_CS, USER_DS,
  exitedStatus, signaledStatus, ILL_ILLOPN, FPE_INTDIV, TRAP_BRKPT, NR, PTRACE_O_TRACESYSGOOD, BUS_ADRALN, FPE_FLTINV,
} from './linux-abi.js';
import { PtRegs } from './pt-regs.js';
import { deliverSignals, queueSharedSignal, queueSignal } from './signals.js';
import { formatSyscall } from './strace-format.js';
import { SyscallTable, rowArg } from './syscall-table.js';
import { syscallNrOf } from './syscall-prototypes.js';
import { registerSyscalls } from './syscalls.js';
import { ElfFile } from './elf/elf-file.js';
import { loadElf } from './exec.js';
import { Process, SigInfo, Task, TaskState } from './task.js';
import { ConsoleFile, closeFiles, hostIsatty, installFd, readHostStdin } from './vfs.js';
import { Vma } from './vma.js';
import { HostNet } from './net/host-net.js';
import { SimNet } from './net/sim-net.js';
import { disarmRealTimer } from './itimer.js';
import { prototypeOf } from './syscall-prototypes.js';
import { FutexTable, clearChildTid, exitRobustList } from './futex.js';
import { NetRxSoftirq } from './net/napi.js';

const TWO_32 = 0x1_0000_0000;
/** Address spaces a CPU keeps under PCIDs at once (TLB_NR_DYN_ASIDS, arch/x86/include/asm/tlbflush.h). */
const TLB_NR_DYN_ASIDS = 6;
const SEGMENT_CS_RPL3 = USER_CS;
/** #CP, the control-protection exception (not in the model's Vector enum: CET is not modelled). */
const CONTROL_PROTECTION_VECTOR = 21;

/** Cycles the machine runs between two looks at the host's network while sockets are open. */
const NET_SLICE_CYCLES = 2_000_000;

/** A timeout of a sleeping system call (poll, epoll_wait) in simulated time. */
export interface KernelTimer {
  readonly deadline: number;
  readonly fire: () => void;
  /**
   * A timer of the kernel's own housekeeping (the TCP/IP stack's delayed-ACK, retransmission and
   * TIME_WAIT timers) that does not keep a run going once every task has exited.
   */
  readonly background?: boolean;
}

/** Real-time bounds of Kernel.run's waits for the host (performance.now() milliseconds). */
export interface HostWaitLimits {
  /** How long the machine may sit idle waiting for the host at a stretch: then 'idle-limit'. */
  readonly idleMs?: number;
  /** When to stop waiting for the host whatever happens: then 'wall'. */
  readonly wallDeadline?: number;
}

/**
 * Why Kernel.run returned: nothing left to run ('done'), `maxCycles` reached ('cycles'), every
 * task left blocked with nothing that could wake one ('deadlock'), every task blocked until a
 * timer beyond the clock's horizon ('horizon'), or a wait for the host cut short: by
 * netIdleTimeoutMs ('host-silent') or by the caller's limits ('idle-limit', 'wall').
 */
export type RunEnd = 'done' | 'cycles' | 'deadlock' | 'horizon' | 'host-silent' | 'idle-limit' | 'wall';

/**
 * The simulated clock's horizon: 2^53 cycles (about 31 days at 3.3 GHz), the last clock at which
 * a cycle count is still an exact integer in a double. A guest may ask for any sleep Linux takes
 * (nanosleep of 2^62 seconds is valid; Linux clamps it to KTIME_MAX, 292 years); a timer past the
 * horizon is one the simulation never reaches: jumping the clocks there would leave them where
 * adding an instruction's cycles no longer changes them, and the machine could not move again.
 */
export const CLOCK_HORIZON = 2 ** 53;

/** Returned by a system-call handler that put the task to sleep; the result comes later. */
export const BLOCKED = Symbol('blocked');
export type SyscallResult = number | typeof BLOCKED;

export interface ProgramLayout {
  /** Where the program's code is mapped (default 0x400000). */
  codeBase?: number;
  stackSize?: number;
  /** The CPUs it may run on (Task.cpusAllowed; default: any). */
  cpusAllowed?: readonly number[];
}

/**
 * The Linux kernel model. It runs on the machine as host ring-0 code: its system-call entry is
 * a native at LSTAR, its exception handlers natives in the IDT, its memory the direct map at
 * PAGE_OFFSET. Processes run in ring 3 on their own page tables. The kernel's own data (tasks,
 * VMAs) lives in TypeScript objects; everything user-visible — page tables, user memory, signal
 * frames — lives in emulated memory. Every kernel path charges its cost from the profile.
 */
export class Kernel {
  readonly boot: LongModeBoot;
  readonly syscalls = new SyscallTable();
  readonly processes = new Map<number, Process>();
  readonly tasks = new Map<number, Task>();
  readonly current: Array<Task | undefined>;
  /** Device files by path (the Dune module adds /dev/dune). */
  readonly devices = new Map<string, (t: Task) => import('./task.js').KernelFile>();
  /**
   * The run queues, one per CPU (struct rq): runnable tasks waiting for that CPU, in order. A CPU
   * runs its own queue's head; one that runs dry pulls from the busiest other queue.
   */
  readonly runQueues: Task[][];
  /** The futex hash table (futex.ts). */
  readonly futexes = new FutexTable();
  /** kernel.threads-max (fork_init: a task per 8 kernel stacks of memory, at least 20). */
  readonly threadsMax: number;
  /** Cycles between two scheduler ticks (1/HZ) on this machine's clock. */
  readonly tickCycles: number;
  /**
   * Whether a change to an address space that is live on other CPUs invalidates their TLBs by
   * IPI (flush_tlb_others). Only a demonstration turns it off: the stale translations left
   * behind are what the shootdown exists to remove.
   */
  tlbShootdowns = true;
  /** TLB flushes other CPUs still owe, delivered by the call-function IPI. */
  private readonly flushRequests: Array<Array<{ mm: AddressSpace; start: number; end: number; gen: number }>>;
  /** irq_work queued on each CPU, run by its IRQ_WORK_VECTOR interrupt. */
  private readonly irqWork: Array<Array<() => void>>;
  /**
   * With PCIDs (`enablePcid`; Linux 4.14 and later, arch/x86/mm/tlb.c), per CPU, the address
   * spaces whose translations it keeps under PCIDs 1..TLB_NR_DYN_ASIDS (cpu_tlbstate.ctxs): slot i
   * holds PCID i + 1, with the mm's tlb_gen its entries are good for. Undefined without (Linux
   * 3.2, the default): every switch to another address space loads CR3 and flushes the TLB.
   */
  private asids: Array<Array<{ mm: AddressSpace | undefined; gen: number }>> | undefined;
  /** Per CPU, the slot the next new address space takes (cpu_tlbstate.next_asid, round robin). */
  private nextAsid: number[] = [];
  /** Output of the console (fds 1 and 2 of every process). */
  console: (fd: number, data: Uint8Array) => void = (fd, data) => (fd === 2 ? process.stderr : process.stdout).write(data);
  /** Input of the console (fd 0): up to `max` bytes, none at end of file. Default: the host's stdin. */
  stdin: (max: number) => Uint8Array = readHostStdin;
  /** Whether console fd 0, 1 or 2 is a terminal (ioctl TCGETS, TIOCGWINSZ answer), else a pipe. */
  isatty: (fd: number) => boolean = hostIsatty;
  /** The host directory that is the guest's file system: "/" of every process (vfs.ts). */
  root: string = process.cwd();
  /** Called when a process dies, with its wait status. */
  onProcessExit: ((p: Process) => void) | undefined;
  /** Hooks that run for a task before it returns to user mode (the Dune module re-enters here). */
  readonly syscallEntry: number;
  private nextPid = 1;
  private readonly sv: Float64Array;
  private readonly sSyscalls: number;
  private readonly sPageFaults: number;
  private readonly sContextSwitches: number;
  private readonly sIrqWork: number;
  private readonly sSignals: number;
  private readonly sTimerTicks: number;
  private readonly sPreemptions: number;
  private readonly sIpis: number;
  private readonly sShootdowns: number;
  private readonly sThreads: number;
  private readonly sMmSwitches: number;
  private readonly sMmSwitchesNoFlush: number;
  private readonly sWakeIpis: number;
  private readonly sFutexCalls: number;
  readonly cpuOf: (t: Task) => Cpu;
  /** The NET_RX softirq and the CPUs' NAPI poll lists (network drivers schedule their polls here). */
  readonly netRx: NetRxSoftirq;
  private readonly sDeviceIrqs: number;

  constructor(readonly machine: Machine) {
    registerSyscalls(this.syscalls);
    this.boot = new LongModeBoot(machine, { directMapBase: PAGE_OFFSET });
    this.current = machine.cpus.map(() => undefined);
    this.runQueues = machine.cpus.map(() => []);
    this.flushRequests = machine.cpus.map(() => []);
    this.irqWork = machine.cpus.map(() => []);
    this.threadsMax = Math.max(20, Math.floor(machine.mem.size / (8 * 16384)));
    this.tickCycles = Math.round(machine.costs.clockHz / HZ);
    this.cpuOf = (t) => machine.cpus[t.cpu]!;
    const s = machine.stats;
    this.sv = s.v;
    this.sSyscalls = s.counter('linux.syscalls', 'count', 'system calls dispatched by the Linux model');
    this.sPageFaults = s.counter('linux.pageFaults', 'count', 'page faults handled by the Linux model');
    this.sContextSwitches = s.counter('linux.contextSwitches', 'count', 'context switches between tasks');
    this.sIrqWork = s.counter('linux.irqWork', 'count', 'irq_work items run (work handed to a CPU that ran a guest, as a frame a kernel timer sent)');
    this.sSignals = s.counter('linux.signals', 'count', 'signals delivered to user handlers');
    this.sTimerTicks = s.counter('linux.timerTicks', 'count', 'timer interrupts taken by the Linux model');
    this.sPreemptions = s.counter('linux.preemptions', 'count', 'tasks switched out by the scheduler tick (time slice used up)');
    this.sIpis = s.counter('linux.ipis', 'count', 'inter-processor interrupts sent (reschedule, TLB shootdown)');
    this.sShootdowns = s.counter('linux.tlbShootdowns', 'count', 'TLB flushes of an address space that reached other CPUs (flush_tlb_others)');
    this.sThreads = s.counter('linux.threadsCreated', 'count', 'tasks created by clone, fork and vfork');
    this.sMmSwitches = s.counter('linux.mmSwitches', 'count', 'CR3 loads by switch_mm: a CPU moving to another address space');
    this.sMmSwitchesNoFlush = s.counter('linux.mmSwitchesNoFlush', 'count', 'switch_mm CR3 loads with bit 63 set: the PCID kept its translations');
    this.sFutexCalls = s.counter('linux.futexCalls', 'count', 'futex() system calls');
    this.sWakeIpis = s.counter('linux.wakeIpis', 'count', 'reschedule IPIs that woke an idle CPU for a task another CPU made runnable (ttwu)');
    this.sDeviceIrqs = s.counter('linux.deviceIrqs', 'count', 'device interrupts handled (do_IRQ), e.g. a NIC queue\'s MSI-X vector');
    this.netRx = new NetRxSoftirq(machine.cpus.length, machine.costs, s);

    // The SYSCALL entry point and the exception handlers, as natives in kernel text.
    this.syscallEntry = this.boot.native('entry_SYSCALL_64', (cpu) => this.onSyscall(cpu), 0);
    const gates: Array<[number, (cpu: Cpu) => void]> = [
      [Vector.DivideError, (c) => this.onException(c, Vector.DivideError, false)],
      [Vector.Debug, (c) => this.onException(c, Vector.Debug, false)],
      [Vector.Breakpoint, (c) => this.onException(c, Vector.Breakpoint, false)],
      [Vector.Overflow, (c) => this.onException(c, Vector.Overflow, false)],
      [Vector.InvalidOpcode, (c) => this.onException(c, Vector.InvalidOpcode, false)],
      [Vector.DeviceNotAvailable, (c) => this.onException(c, Vector.DeviceNotAvailable, false)],
      [Vector.GeneralProtection, (c) => this.onException(c, Vector.GeneralProtection, true)],
      [Vector.StackFault, (c) => this.onException(c, Vector.StackFault, true)],
      [Vector.PageFault, (c) => this.onException(c, Vector.PageFault, true)],
      [Vector.AlignmentCheck, (c) => this.onException(c, Vector.AlignmentCheck, true)],
      [Vector.SimdFp, (c) => this.onException(c, Vector.SimdFp, false)],
      // Every other exception vector has its gate too, as idt_setup_traps gives Linux one: an
      // absent gate turns the exception into #NP and then #DF — a kernel panic caused by ring 3.
      [Vector.BoundRange, (c) => this.onException(c, Vector.BoundRange, false)],
      [Vector.InvalidTss, (c) => this.onException(c, Vector.InvalidTss, true)],
      [Vector.SegmentNotPresent, (c) => this.onException(c, Vector.SegmentNotPresent, true)],
      [Vector.X87Fpu, (c) => this.onException(c, Vector.X87Fpu, false)],
      [Vector.MachineCheck, (c) => this.onException(c, Vector.MachineCheck, false)],
      [Vector.Virtualization, (c) => this.onException(c, Vector.Virtualization, false)],
      [CONTROL_PROTECTION_VECTOR, (c) => this.onException(c, CONTROL_PROTECTION_VECTOR, true)],
    ];
    for (const [v, fn] of gates) {
      const addr = this.boot.native(`exception_${v}`, fn, 0);
      // #BP and #OF are reachable from ring 3 with INT3/INTO: DPL 3.
      this.boot.gate(v, addr, { dpl: v === Vector.Breakpoint || v === Vector.Overflow ? 3 : 0 });
    }
    // The timer tick (apic_timer_interrupt): how a signal reaches a task spinning in ring 3.
    const tick = this.boot.native('apic_timer_interrupt', (c) => this.onTimerInterrupt(c), 0);
    this.boot.gate(LOCAL_TIMER_VECTOR, tick, {});
    // The reschedule IPI enters the kernel like the tick (the way out switches or delivers); the
    // call-function IPI runs the TLB flushes another CPU asked for (flush_tlb_func).
    const resched = this.boot.native('reschedule_interrupt', (c) => this.onTimerInterrupt(c, false), 0);
    this.boot.gate(RESCHEDULE_VECTOR, resched, {});
    const callFunction = this.boot.native('call_function_interrupt', (c) => this.onCallFunction(c), 0);
    this.boot.gate(CALL_FUNCTION_VECTOR, callFunction, {});
    const irqWork = this.boot.native('irq_work_interrupt', (c) => {
      c.eoi();
      this.runIrqWork(c);
      c.iretq();
    }, 0);
    this.boot.gate(IRQ_WORK_VECTOR, irqWork, {});
    const df = this.boot.native('double_fault', (c) => {
      throw new Error(`kernel panic: double fault on cpu${c.index}`);
    }, 0);
    this.boot.gate(Vector.DoubleFault, df, { ist: 1 });

    for (const cpu of machine.cpus) {
      // STAR: kernel CS 0x10 (SS 0x18), user base 0x23 → CS 0x33, SS 0x2b, as Linux sets it.
      cpu.wrmsr(MSR_STAR, 0, (0x23 << 16) | GD_KT);
      cpu.wrmsr(MSR_LSTAR, this.syscallEntry >>> 0, Math.floor(this.syscallEntry / TWO_32) >>> 0);
      cpu.wrmsr(MSR_FMASK, RFLAGS_TF | RFLAGS_DF | RFLAGS_IF | RFLAGS_NT | RFLAGS_AC, 0);
      cpu.ss = GD_KD;
      this.idleCpu(cpu); // idle until a task is scheduled
    }
  }

  get costs(): Machine['costs'] {
    return this.machine.costs;
  }

  /** Top of the ring-0 stack of a CPU (its TSS.RSP0). */
  kernelStackTop(cpu: Cpu): number {
    return this.boot.cpuTables[cpu.index]!.kernelStackTop;
  }

  /** Physical → kernel linear (the direct map). */
  kva(pa: number): number {
    return PAGE_OFFSET + pa;
  }

  // -----------------------------------------------------------------------------------------
  // Processes.

  /**
   * Creates a process whose code is natives laid out by `build` at `codeBase` (the stand-in for
   * an executable image), with a stack, and makes it runnable at `entry`.
   */
  spawn(name: string, build: (code: CodeBuilder, p: Process) => string, layout: ProgramLayout = {}): Process {
    const mm = this.newAddressSpace();
    const p = this.newProcess(name, mm);
    const codeBase = layout.codeBase ?? 0x40_0000;
    // A spawned program's code is a process's: it runs in ring 3.
    const code = new CodeBuilder(this.machine.natives, codeBase, name, 3);
    const entryLabel = build(code, p);
    this.mapCode(p, code, 'text');
    const stackSize = layout.stackSize ?? DEFAULT_STACK_SIZE;
    mm.vmas.insert(new Vma(STACK_TOP - stackSize, STACK_TOP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, '[stack]'));
    mm.startBrk = mm.brk = 0x1000_0000;
    const t = this.newTask(p);
    t.regs.rip = code.addr(entryLabel);
    t.regs.set(RSP, STACK_TOP - 64);
    t.regs.rflags = 0x202;
    t.cpusAllowed = layout.cpusAllowed;
    this.enqueue(t);
    return p;
  }

  /**
   * A process running a static ELF executable (execve of a fresh process): the image, the stack
   * with argv, envp and the auxiliary vector, RIP at the entry point in ring 3.
   */
  spawnElf(name: string, elf: ElfFile, argv: string[], envp: string[], execfn = name): Process {
    const p = this.newProcess(name, this.newAddressSpace());
    const img = loadElf(this, p, elf, argv, envp, execfn);
    const t = this.newTask(p);
    t.regs.rip = img.entry;
    t.regs.set(RSP, img.sp);
    t.regs.rflags = 0x202;
    this.enqueue(t);
    return p;
  }

  /** Maps `bytes` at `base` as a private file-like mapping, populated now. */
  mapImage(p: Process, base: number, bytes: Uint8Array, prot: number, name: string): void {
    this.mapPages(p, base, bytes, prot, name, undefined);
  }

  /**
   * Maps the natives `code` laid out (at `code.base`) as a private read-execute image and binds
   * each native to the frame its stub landed in: they run from there and nowhere else.
   */
  mapCode(p: Process, code: CodeBuilder, name: string): void {
    this.mapPages(p, code.base, code.build(), PROT_READ | PROT_EXEC, name, code);
  }

  private mapPages(p: Process, base: number, bytes: Uint8Array, prot: number, name: string, code: CodeBuilder | undefined): void {
    const mm = p.mm;
    const vma = new Vma(base, base + bytes.length, prot, MAP_PRIVATE, name);
    mm.vmas.insert(vma);
    for (let off = 0; off < bytes.length; off += PAGE_SIZE) {
      const frame = this.machine.frames.alloc();
      this.machine.mem.writeBytes(frame, bytes.subarray(off, off + PAGE_SIZE));
      code?.bindPage(off / PAGE_SIZE, frame);
      mm.mapPage(base + off, frame, vma, false);
    }
  }

  /** A new user address space sharing the kernel half of the master page table. */
  newAddressSpace(): AddressSpace {
    return new AddressSpace(this.machine.mem, this.machine.frames, this.boot.pt.root);
  }

  newProcess(name: string, mm: AddressSpace, parent?: Process): Process {
    const p = new Process(this.nextPid++, mm, name);
    // init's RLIMIT_NPROC is half of kernel.threads-max (fork_init); children inherit theirs.
    if (parent === undefined) p.rlimits[RLIMIT_NPROC] = { cur: BigInt(this.threadsMax >> 1), max: BigInt(this.threadsMax >> 1) };
    p.parent = parent;
    parent?.children.push(p);
    for (const fd of [0, 1, 2]) installFd(p, fd, new ConsoleFile(this, fd));
    this.processes.set(p.pid, p);
    return p;
  }

  newTask(p: Process, tid = p.pid): Task {
    const t = new Task(tid, p);
    this.sv[this.sThreads]++;
    t.regs.cs = USER_CS;
    t.regs.ss = USER_DS;
    p.threads.push(t);
    this.tasks.set(tid, t);
    return t;
  }

  allocPid(): number {
    return this.nextPid++;
  }

  // -----------------------------------------------------------------------------------------
  // Scheduling.

  /**
   * Makes `t` runnable (try_to_wake_up / wake_up_new_task) on a CPU its affinity allows:
   * preferably an idle one (the one it last ran on first), else the one with the fewest tasks
   * (the one it last ran on when tied, then the lowest index) — select_task_rq's choice reduced
   * to what the model needs, and deterministic. An idle CPU picks it up at once (the reschedule
   * IPI of a real kernel); a busy one gets its tick armed so the newcomer gets a time slice.
   */
  enqueue(t: Task): void {
    if (t.state === TaskState.Dead) return;
    t.state = TaskState.Runnable;
    if (this.queuedOn(t) >= 0) return;
    const cpus = this.machine.cpus;
    let idle: Cpu | undefined;
    for (const cpu of cpus) {
      if (!cpu.halted || this.current[cpu.index] !== undefined || !this.mayRunOn(t, cpu.index)) continue;
      if (idle === undefined || cpu.index === t.cpu) idle = cpu;
    }
    if (idle !== undefined) {
      this.runQueues[idle.index]!.push(t);
      // The CPU was idle until now: its clock moves on to the time of the wake-up, the latest
      // clock of the CPUs at work (all of them when every one is idle: a host event, a timer),
      // so that work done for the woken task never lands before what woke it.
      let now = -Infinity;
      for (const c of cpus) if (!c.halted && c.cycles > now) now = c.cycles;
      if (now === -Infinity) for (const c of cpus) if (c.cycles > now) now = c.cycles;
      if (idle.cycles < now) idle.cycles = now;
      idle.wake(); // the wait until now was idle; the IPI's handling below is the kernel's
      // Made runnable by a task on another CPU (a futex wake, a clone): that CPU sends the
      // reschedule IPI (ttwu_queue → smp_send_reschedule) and does not wait for it; a timer or a
      // host event wakes a CPU without one. The IPI ends the idle loop's HLT; its handler
      // (scheduler_ipi) returns with IRETQ to the idle loop, which then calls schedule(): an
      // interrupt delivery and an IRETQ on the woken CPU before the switch. The IPI's flight
      // time and the exit from HLT have no sourced constant and are not charged.
      const from = this.machine.running;
      if (from !== undefined && from !== idle) {
        this.sv[this.sIpis]++;
        this.sv[this.sWakeIpis]++;
        idle.cycles += this.costs.exceptionDelivery + this.costs.iretq;
        if (idle.tracer.enabled) idle.tracer.instant('ipi', `reschedule IPI from cpu${from.index} (wake-up)`, idle.index, idle.cycles);
      }
      if (idle.tracer.enabled) idle.tracer.cpuState(idle.index, idle.cycles, idle.privilegeName());
      // A CPU at work may be in a slice that was sized while this one was idle: cut it short,
      // so the machine runs the CPUs in clock order again.
      for (const c of cpus) if (c !== idle) c.endSlice = true;
      this.dispatchIdle(idle);
      return;
    }
    let best = -1;
    let bestLoad = Infinity;
    for (const cpu of cpus) {
      if (!this.mayRunOn(t, cpu.index)) continue;
      const load = this.runQueues[cpu.index]!.length + (this.current[cpu.index] !== undefined ? 1 : 0);
      if (load < bestLoad || (load === bestLoad && cpu.index === t.cpu)) {
        best = cpu.index;
        bestLoad = load;
      }
    }
    if (best < 0) best = 0; // an affinity naming no CPU of this machine (refused by sched_setaffinity)
    this.runQueues[best]!.push(t);
    this.armTick(cpus[best]!);
  }

  /** The CPU whose run queue holds `t`, or -1. */
  private queuedOn(t: Task): number {
    for (let i = 0; i < this.runQueues.length; i++) if (this.runQueues[i]!.includes(t)) return i;
    return -1;
  }

  private dequeue(t: Task): void {
    for (const q of this.runQueues) {
      const i = q.indexOf(t);
      if (i >= 0) q.splice(i, 1);
    }
  }

  /** Wakes a task asleep in the kernel (futex wake, vfork completion): runnable again. */
  wakeUp(t: Task): void {
    if (t.state !== TaskState.Sleeping) return;
    t.wake = undefined;
    this.enqueue(t);
  }

  /**
   * Arms the CPU's scheduler tick while it has tasks waiting (NO_HZ: a CPU with one task takes
   * no ticks, so a single program's figures hold no tick at all).
   */
  private armTick(cpu: Cpu): void {
    if (cpu.tscDeadline !== Infinity) return;
    if (this.current[cpu.index] === undefined || this.runQueues[cpu.index]!.length === 0) return;
    cpu.armTimer(cpu.cycles + this.tickCycles, LOCAL_TIMER_VECTOR);
  }

  /** Whether the task's affinity lets it run on CPU `index`. */
  mayRunOn(t: Task, index: number): boolean {
    return t.cpusAllowed === undefined || t.cpusAllowed.includes(index);
  }

  /**
   * The next task for `cpu`: the head of its own queue that is still runnable, else one pulled
   * from the busiest other queue that may run here (newidle balancing; the last queued, which
   * has waited least). A task queued and then stopped or put to sleep in the same system call
   * (sched_yield's enqueue, then a ptrace syscall-exit stop) leaves a stale entry behind; Linux
   * dequeues a task whose state leaves TASK_RUNNING (deactivate_task in __schedule), so the entry
   * is dropped here, never run — running it would resume a ptrace-stopped tracee behind its
   * tracer's back. Waking it queues it again.
   */
  private takeRunnable(cpu: Cpu): Task | undefined {
    const own = this.runQueues[cpu.index]!;
    for (let i = 0; i < own.length; ) {
      const t = own[i]!;
      if (t.state !== TaskState.Runnable) {
        own.splice(i, 1);
        continue;
      }
      if (this.mayRunOn(t, cpu.index)) return own.splice(i, 1)[0];
      i++;
    }
    let busiest = -1;
    for (let c = 0; c < this.runQueues.length; c++) {
      if (c === cpu.index) continue;
      const q = this.runQueues[c]!;
      if (!q.some((t) => t.state === TaskState.Runnable && this.mayRunOn(t, cpu.index))) continue;
      if (busiest < 0 || q.length > this.runQueues[busiest]!.length) busiest = c;
    }
    if (busiest < 0) return undefined;
    const q = this.runQueues[busiest]!;
    for (let i = q.length - 1; i >= 0; i--) {
      const t = q[i]!;
      if (t.state === TaskState.Runnable && this.mayRunOn(t, cpu.index)) return q.splice(i, 1)[0];
    }
    return undefined;
  }

  /**
   * Puts the current task of `cpu` to sleep until `wake()` returns true; `resume` finishes its
   * work. `hostWake` says whether an event from the host could wake it (a host socket among what
   * it waits for); without it, the kernel assumes one could.
   */
  sleep(t: Task, wake: () => boolean, resume: () => void, hostWake?: () => boolean): void {
    t.state = TaskState.Sleeping;
    t.wake = wake;
    t.resume = resume;
    t.hostWake = hostWake;
    t.uninterruptible = false;
  }

  /** Re-checks sleeping tasks (something they may wait for happened). */
  wakeSleepers(): void {
    for (const t of this.tasks.values()) {
      if (t.state === TaskState.Sleeping && t.wake !== undefined && t.wake()) {
        t.wake = undefined;
        this.enqueue(t);
      }
    }
  }

  /** sched_yield: the caller goes to the back of its CPU's queue if another task waits there. */
  yieldCpu(cpu: Cpu, t: Task): void {
    const own = this.runQueues[cpu.index]!;
    if (!own.some((x) => x.state === TaskState.Runnable && this.mayRunOn(x, cpu.index))) return;
    t.state = TaskState.Runnable;
    own.push(t);
  }

  /** sched_setaffinity: a task that may no longer run where it is moves at its next way out. */
  setAffinity(t: Task, cpus: readonly number[]): void {
    t.cpusAllowed = cpus.length === this.machine.cpus.length ? undefined : cpus;
    const on = this.queuedOn(t);
    if (on >= 0 && !this.mayRunOn(t, on)) {
      this.dequeue(t);
      this.enqueue(t);
    }
    if (t.state === TaskState.Running && !this.mayRunOn(t, t.cpu)) {
      t.needResched = true;
      if (this.current[t.cpu] === t) this.kick(t.cpu);
    }
  }

  /** Sends CPU `index` the reschedule IPI so that it enters the kernel (kick_process). */
  kick(index: number): void {
    this.sv[this.sIpis]++;
    const target = this.machine.cpus[index]!;
    if (target.tracer.enabled) target.tracer.instant('ipi', 'reschedule IPI received', index, target.cycles);
    target.interrupt(RESCHEDULE_VECTOR);
  }

  /** Tasks that are not dead (nr_threads), for kernel.threads-max and RLIMIT_NPROC. */
  liveTaskCount(): number {
    let n = 0;
    for (const t of this.tasks.values()) if (t.state !== TaskState.Dead) n++;
    return n;
  }

  /** Starts an idle CPU on the next runnable task (it was halted with nothing to run). */
  private dispatchIdle(cpu: Cpu): void {
    const next = this.takeRunnable(cpu);
    if (next === undefined) {
      this.idleCpu(cpu);
      return;
    }
    this.switchTo(cpu, next);
    this.returnToUser(cpu, next);
  }

  /**
   * The idle loop's safe_halt (STI; HLT) on the CPU's own kernel stack: a device interrupt
   * wakes the CPU, runs its handler on that stack and returns here.
   */
  private idleCpu(cpu: Cpu): void {
    cpu.rflags |= RFLAGS_IF;
    cpu.setReg(RSP, this.kernelStackTop(cpu));
    cpu.idle();
    // An interrupt requested while the CPU had them off (a device unmasked by the handler that
    // is just ending) is taken at once: STI's shadow ends before HLT would sleep.
    if (cpu.hasPendingInterrupt) cpu.wake();
  }

  private switchTo(cpu: Cpu, next: Task): void {
    const prev = this.current[cpu.index];
    next.cpu = cpu.index;
    next.state = TaskState.Running;
    if (prev === next) return;
    this.current[cpu.index] = next;
    this.sv[this.sContextSwitches]++;
    cpu.cycles += this.costs.contextSwitchPath;
    // switch_fpu: the registers are the task's, not the CPU's (a CPU that went idle saved its
    // last task's already).
    if (prev !== undefined) cpu.saveFpu(prev.fpu);
    cpu.restoreFpu(next.fpu);
    // A CPU that went idle kept the last address space loaded (lazy TLB mode, enter_lazy_tlb):
    // a task of that same address space needs no CR3 load, whoever ran before.
    if (this.loadedRoot(cpu) !== next.process.mm.cr3) this.switchMm(cpu, next.process.mm);
    if (cpu.tracer.enabled) cpu.tracer.instant('sched', `switch to ${next.process.name}:${next.tid}`, cpu.index, cpu.cycles);
  }

  /** Counts one futex() call (futex.ts). */
  countFutexCall(): void {
    this.sv[this.sFutexCalls]++;
  }

  /** The PML4 address CR3 holds on `cpu` (without the PCID in bits 11:0). */
  loadedRoot(cpu: Cpu): number {
    return cpu.cr3 - (cpu.cr3 & 0xfff);
  }

  /**
   * Sets CR4.PCIDE on every CPU and makes switch_mm use PCIDs (Linux 4.14's dynamic ASIDs), before
   * any task ran. Each CPU keeps the translations of its TLB_NR_DYN_ASIDS most recent address
   * spaces, each under its own PCID, and switches back to one with CR3 bit 63 set (no flush)
   * when none of that mm's PTE changes happened since (its tlb_gen is the one the slot saw).
   */
  enablePcid(): void {
    if (this.asids !== undefined) return;
    for (const cpu of this.machine.cpus) {
      if ((cpu.cr3 & 0xfff) !== 0) throw new Error('kernel: PCIDs enabled after a CR3 load with a PCID');
      cpu.writeCr(4, (cpu.cr4 | CR4_PCIDE) >>> 0, 0);
    }
    this.asids = this.machine.cpus.map(() => Array.from({ length: TLB_NR_DYN_ASIDS }, () => ({ mm: undefined, gen: 0 })));
    this.nextAsid = this.machine.cpus.map(() => 0);
  }

  /**
   * switch_mm: load `mm`'s page tables on `cpu`. Without PCIDs the CR3 write flushes the TLB. With
   * them (choose_new_asid), a slot that already holds `mm` is reused, flushed only if `mm`'s PTEs
   * changed since the slot was last current; otherwise the next slot in turn is taken and
   * flushed, evicting the address space that had it.
   */
  switchMm(cpu: Cpu, mm: AddressSpace): void {
    this.sv[this.sMmSwitches]++;
    const slots = this.asids?.[cpu.index];
    if (slots === undefined) {
      cpu.loadCr3(mm.cr3);
      return;
    }
    let asid = -1;
    for (let i = 0; i < slots.length; i++) if (slots[i]!.mm === mm) asid = i;
    let flush = true;
    if (asid >= 0) flush = slots[asid]!.gen < mm.tlbGen;
    else {
      asid = this.nextAsid[cpu.index]!;
      this.nextAsid[cpu.index] = (asid + 1) % TLB_NR_DYN_ASIDS;
      slots[asid]!.mm = mm;
    }
    slots[asid]!.gen = mm.tlbGen;
    if (!flush) this.sv[this.sMmSwitchesNoFlush]++;
    cpu.loadCr3(mm.cr3 + asid + 1, !flush);
  }

  /** After a flush of `mm`'s translations on `cpu` (all of them, or one page): its slot is current again. */
  private flushedLocally(cpu: Cpu, mm: AddressSpace, wholeMm: boolean, gen: number): void {
    const slot = this.asids?.[cpu.index]?.[(cpu.cr3 & 0xfff) - 1];
    if (slot === undefined || slot.mm !== mm) return;
    // One page flushed makes the slot current only if that page was the one change it missed
    // (flush_tlb_func_common: a partial flush when new_tlb_gen == local_tlb_gen + 1).
    if (wholeMm) slot.gen = mm.tlbGen;
    else if (slot.gen === gen - 1) slot.gen = gen;
  }

  /**
   * The way back to user mode (arch/x86/entry's exit path): finish pending kernel work, deliver
   * signals, pick another task if this one cannot run, and return with SYSRET when the saved
   * state allows it (RCX == RIP, R11 == RFLAGS), else with IRETQ.
   */
  returnToUser(cpu: Cpu, t: Task | undefined): void {
    let badRip = 0;
    for (let guard = 0; ; guard++) {
      if (guard > 10_000) throw new Error('kernel: scheduler loop did not settle');
      if (t !== undefined && t.state === TaskState.Running && t.resume !== undefined) {
        const r = t.resume;
        t.resume = undefined;
        r();
        if (t.state === TaskState.Running && t.resume === undefined && t.afterSyscall !== undefined) {
          const after = t.afterSyscall;
          t.afterSyscall = undefined;
          after(cpu);
        }
        continue;
      }
      if (t !== undefined && t.state === TaskState.Running && t.needResched) {
        // The tick said the slice is used up (or the affinity moved it): to the back of the
        // queue, if someone else may run here; else go on.
        t.needResched = false;
        if (!this.mayRunOn(t, cpu.index)) {
          t.state = TaskState.Runnable;
          this.enqueue(t);
          t = undefined;
          continue;
        }
        const own = this.runQueues[cpu.index]!;
        if (own.some((x) => x.state === TaskState.Runnable)) {
          this.sv[this.sPreemptions]++;
          t.state = TaskState.Runnable;
          own.push(t);
        }
        continue;
      }
      if (t !== undefined && t.state === TaskState.Running && t.returnHook !== undefined) {
        this.updateTick(cpu);
        if (cpu.tracer.enabled) this.traceSyscallEnd(cpu, t);
        if (t.returnHook(cpu)) return; // back into its guest
        continue;
      }
      if (t !== undefined && t.state === TaskState.Running) {
        deliverSignals(this, cpu, t);
        if (t.state === TaskState.Running && t.resume === undefined) {
          if (this.canReturnTo(t, badRip++)) break;
          continue; // a SIGSEGV is pending now
        }
        continue;
      }
      // This task cannot run: take the next runnable one, or go idle.
      if (t !== undefined && t.state === TaskState.Running) t.state = TaskState.Runnable;
      const next = this.takeRunnable(cpu);
      if (next === undefined) {
        const prev = this.current[cpu.index];
        if (prev !== undefined) cpu.saveFpu(prev.fpu);
        this.current[cpu.index] = undefined;
        cpu.tscDeadline = Infinity;
        cpu.jump(this.syscallEntry); // parked in kernel text until an interrupt or wake-up
        this.idleCpu(cpu);
        return;
      }
      this.switchTo(cpu, next);
      t = next;
    }
    this.updateTick(cpu);
    if (cpu.tracer.enabled) this.traceSyscallEnd(cpu, t);
    this.loadUserState(cpu, t);
  }

  /** NO_HZ: the tick runs only while other tasks wait for this CPU. */
  private updateTick(cpu: Cpu): void {
    if (this.runQueues[cpu.index]!.length === 0) cpu.tscDeadline = Infinity;
    else this.armTick(cpu);
  }

  /**
   * Whether the task's saved RIP can be returned to. A non-canonical one (a sigreturn frame, a
   * signal handler's address, ptrace SETREGS put it there) must not reach SYSRET, which on Intel
   * raises #GP in ring 0 with the user's RSP (the reason Linux checks RCX before SYSRET), nor
   * IRETQ, whose #GP Linux fixes up into a #GP of the user task: SIGSEGV, forced (bad_iret). If
   * the handler of that SIGSEGV cannot be returned to either, the second pass makes it SIG_DFL —
   * what force_sigsegv comes to once the handler's frames have used up the stack.
   */
  private canReturnTo(t: Task, seen: number): boolean {
    const rip = t.regs.rip;
    if (rip < CANONICAL_LIMIT && rip >= -CANONICAL_LIMIT) return true;
    if (seen > 0) t.process.actions[SIGSEGV]!.handler = SIG_DFL;
    queueSignal(this, t, { signo: SIGSEGV, code: SI_KERNEL, addr: 0, pid: 0, trapno: Vector.GeneralProtection, err: 0 }, true);
    return false;
  }

  /** Loads a task's registers and drops to ring 3. */
  private loadUserState(cpu: Cpu, t: Task): void {
    const r = t.regs;
    r.loadInto(cpu);
    const fast = !t.iretOnReturn && r.lo[RCX] === (r.rip >>> 0) && r.hi[RCX] === (Math.floor(r.rip / TWO_32) >>> 0) && r.lo[R11] === r.rflags && r.hi[R11] === 0;
    t.iretOnReturn = false;
    if (fast) {
      cpu.sysret();
      return;
    }
    // IRETQ with a frame built on the kernel stack (the slow exit path).
    const top = this.kernelStackTop(cpu) - 5 * 8;
    const userRsp = r.get(RSP);
    cpu.setReg(RSP, top);
    cpu.mmu.write64Number(top, r.rip);
    cpu.mmu.write64Number(top + 8, SEGMENT_CS_RPL3);
    cpu.mmu.write64Number(top + 16, r.rflags);
    cpu.mmu.write64Number(top + 24, userRsp);
    cpu.mmu.write64Number(top + 32, USER_DS);
    cpu.iretq();
  }

  // -----------------------------------------------------------------------------------------
  // System calls.

  /** entry_SYSCALL_64: save the user state, run the call, return to user. */
  private onSyscall(cpu: Cpu): void {
    const t = this.current[cpu.index];
    if (t === undefined) {
      // An idle CPU parked here; nothing to do.
      this.idleCpu(cpu);
      return;
    }
    const r = t.regs;
    r.saveFrom(cpu);
    r.rip = cpu.reg(RCX);
    r.rflags = cpu.lo[R11]!;
    // do_syscall_64 takes the number as an int (syscall-prototypes.ts: syscallNrOf); orig_rax
    // keeps that number, so a tracer reads the call the kernel will make.
    r.origRax = syscallNrOf(cpu.lo[RAX]!);
    cpu.cycles += this.costs.syscallPath;
    try {
      this.syscallFromUser(cpu, t);
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      this.oomKill(t);
    }
    // A system call that entered a guest (DUNE_ENTER) does not return to user mode now.
    if (cpu.vmx.nonRoot) return;
    this.returnToUser(cpu, this.current[cpu.index]);
  }

  /** A system call from user mode, with the ptrace syscall stops around it. */
  private syscallFromUser(cpu: Cpu, t: Task): void {
    if (t.tracer !== undefined && (t.ptraceMode === 'syscall' || t.ptraceMode === 'sysemu')) {
      const emulate = t.ptraceMode === 'sysemu';
      t.iretOnReturn = true; // tracesys leaves through int_ret_from_sys_call: IRETQ
      // SIGTRAP | 0x80 only with PTRACE_O_TRACESYSGOOD; the tracer sees RAX = -ENOSYS at entry.
      const stop = SIGTRAP | ((t.ptraceOptions & PTRACE_O_TRACESYSGOOD) !== 0 ? 0x80 : 0);
      t.regs.set(RAX, -ENOSYS);
      this.ptraceStop(cpu, t, stop, () => {
        if (emulate) return; // PTRACE_SYSEMU: the call is skipped; RAX is what the tracer left
        // syscall_trace_enter returning -1: the tracer set orig_rax to -1 at the entry stop, so
        // the call is skipped and RAX keeps what the tracer left (-ENOSYS, or what it set); the
        // exit stop still comes (a ptrace sandbox denies a call this way).
        if (t.regs.origRax !== -1) this.runSyscall(cpu, t);
        const exitStop = (c: Cpu): void => {
          if (t.tracer !== undefined && t.ptraceMode === 'syscall') this.ptraceStop(c, t, stop, () => {});
        };
        // A call that sleeps (accept, epoll_wait, wait4 …) stops for the tracer when it is done;
        // one that stopped on the way (execve's PTRACE_EVENT_EXEC) once the tracer resumes it.
        if (t.state === TaskState.Sleeping || t.state === TaskState.Stopped) t.afterSyscall = exitStop;
        else exitStop(cpu);
      });
      return;
    }
    this.runSyscall(cpu, t);
  }

  /** Dispatches the call in `t.regs` and stores the result in RAX (or leaves the task asleep). */
  runSyscall(cpu: Cpu, t: Task): void {
    const r = t.regs;
    const nr = r.origRax;
    const result = this.dispatch(cpu, t, nr, r);
    // rt_sigreturn has already restored RAX, all 64 bits of it (a JS number would round it).
    if (result !== BLOCKED && nr !== NR.rt_sigreturn) r.set(RAX, result);
  }

  /**
   * The table dispatch shared by SYSCALL and the Dune module's VMCALL: the arguments are the
   * registers of `regs` (rdi, rsi, rdx, r10, r8, r9), each read at the width its prototype
   * declares (SYSCALL_DEFINE's casts), from the exact 64-bit register contents.
   */
  dispatch(cpu: Cpu, t: Task, nr: number, regs: PtRegs): SyscallResult {
    this.sv[this.sSyscalls]++;
    t.lastSyscall = nr;
    const row = this.syscalls.get(nr);
    const lo = regs.lo;
    const hi = regs.hi;
    const a0 = row === undefined ? regs.get(RDI) : rowArg(row, 0, lo[RDI]!, hi[RDI]!);
    const a1 = row === undefined ? regs.get(RSI) : rowArg(row, 1, lo[RSI]!, hi[RSI]!);
    const a2 = row === undefined ? regs.get(RDX) : rowArg(row, 2, lo[RDX]!, hi[RDX]!);
    const a3 = row === undefined ? 0 : rowArg(row, 3, lo[R10]!, hi[R10]!);
    const a4 = row === undefined ? 0 : rowArg(row, 4, lo[R8]!, hi[R8]!);
    const a5 = row === undefined ? 0 : rowArg(row, 5, lo[R9]!, hi[R9]!);
    if (cpu.tracer.enabled) this.traceSyscallBegin(cpu, t, nr);
    if (row === undefined) {
      this.strace?.(`${t.tid} ${formatSyscall({ mem: this.machine.mem, mm: t.process.mm }, nr, [a0, a1, a2], -ENOSYS)}`);
      return -ENOSYS;
    }
    const result = row.handler({ kernel: this, cpu, task: t }, a0, a1, a2, a3, a4, a5);
    if (cpu.tracer.enabled && result !== BLOCKED) this.traceSyscallEnd(cpu, t, result);
    if (this.strace !== undefined && result !== BLOCKED) {
      const own = prototypeOf(nr) === undefined ? row : undefined; // a plugin's call
      this.strace(`${t.tid} ${formatSyscall({ mem: this.machine.mem, mm: t.process.mm }, nr, [a0, a1, a2, a3, a4, a5], result, own)}`);
    }
    return result;
  }

  strace: ((line: string) => void) | undefined;

  /** Opens a system call's span on the task's trace track (kept open across a sleep). */
  private traceSyscallBegin(cpu: Cpu, t: Task, nr: number): void {
    if (t.traceSyscall >= 0 && t.traceSyscall === nr) return; // the same call, run again after a wake-up
    t.traceSyscall = nr;
    t.traceSyscallStart = cpu.cycles;
    const tr = cpu.tracer;
    tr.nameProcess(t.process.pid, `${t.process.name} (pid ${t.process.pid})`);
    tr.nameThread(t.process.pid, t.tid, `tid ${t.tid}`);
  }

  /** Closes the task's open system-call span, with its result when known. */
  traceSyscallEnd(cpu: Cpu, t: Task, result?: number): void {
    const nr = t.traceSyscall;
    if (nr < 0) return;
    t.traceSyscall = -1;
    const name = this.syscalls.get(nr)?.name ?? `syscall_${nr}`;
    cpu.tracer.taskSpan(t.process.pid, t.tid, 'syscall', name, t.traceSyscallStart, cpu.cycles,
      { nr, ret: result ?? t.regs.get(RAX), cpu: cpu.index });
  }

  // -----------------------------------------------------------------------------------------
  // ptrace stops.

  /**
   * Stops a traced task (ptrace_stop): records the status for the tracer, wakes it, and runs
   * `then` when the tracer resumes the task. `sig` may carry an event (SIGTRAP | event << 8).
   */
  ptraceStop(cpu: Cpu, t: Task, sig: number, then: () => void): void {
    if (t.state === TaskState.Dead || t.tracer === undefined) return; // e.g. after exit_group
    cpu.cycles += this.costs.ptraceStopPath;
    t.state = TaskState.Stopped;
    t.ptraceReport = ((sig & 0xffff) << 8) | 0x7f; // bits 8..15 the signal, 16..23 a PTRACE_EVENT_*
    t.resume = then;
    queueSignalToProcess(this, t.tracer!, SIGCHLD, t.process.pid);
    this.wakeSleepers();
  }

  /** The tracer lets a stopped tracee go on (PTRACE_CONT, _SYSCALL, _SYSEMU). */
  ptraceResume(t: Task): void {
    if (t.state !== TaskState.Stopped) return;
    this.enqueue(t);
  }

  // -----------------------------------------------------------------------------------------
  // Exceptions.

  /** An exception handler: read the hardware frame, save user state, handle, return to user. */
  private onException(cpu: Cpu, vector: number, hasErrorCode: boolean): void {
    let sp = cpu.rsp;
    const err = hasErrorCode ? cpu.mmu.read64(sp) : 0;
    if (hasErrorCode) sp += 8;
    const rip = cpu.mmu.read64Number(sp);
    const cs = cpu.mmu.read64(sp + 8) & 0xffff;
    const rflags = cpu.mmu.read64(sp + 16);
    const ursp = cpu.mmu.read64Number(sp + 24);
    const t = this.current[cpu.index];
    if ((cs & 3) === 0 || t === undefined) {
      throw new Error(`kernel panic: exception ${vector} (error 0x${err.toString(16)}) in kernel mode at rip 0x${rip.toString(16)}, cr2 0x${cpu.cr2.toString(16)}`);
    }
    const r = t.regs;
    r.saveFrom(cpu);
    r.rip = rip;
    r.rflags = rflags;
    r.set(RSP, ursp);
    r.origRax = -1;
    t.iretOnReturn = true; // an exception returns with IRETQ (retint_restore_args)
    switch (vector) {
      case Vector.PageFault:
        this.handlePageFault(cpu, t, cpu.cr2, err);
        break;
      case Vector.InvalidOpcode:
        queueSignal(this, t, { signo: SIGILL, code: ILL_ILLOPN, addr: rip, pid: 0 }, true);
        break;
      case Vector.DivideError:
        queueSignal(this, t, { signo: SIGFPE, code: FPE_INTDIV, addr: rip, pid: 0 }, true);
        break;
      case Vector.Breakpoint:
      case Vector.Debug:
        queueSignal(this, t, { signo: SIGTRAP, code: TRAP_BRKPT, addr: rip, pid: 0 }, true);
        break;
      case Vector.AlignmentCheck:
        queueSignal(this, t, { signo: SIGBUS, code: BUS_ADRALN, addr: rip, pid: 0 }, true);
        break;
      // arch/x86/kernel/traps.c: #SS and #NP are SIGBUS, #MF and #XM SIGFPE (math_error); #GP,
      // #TS, #OF, #BR and the rest SIGSEGV with SI_KERNEL.
      case Vector.StackFault:
      case Vector.SegmentNotPresent:
        queueSignal(this, t, { signo: SIGBUS, code: SI_KERNEL, addr: 0, pid: 0, trapno: vector, err }, true);
        break;
      case Vector.X87Fpu:
      case Vector.SimdFp:
        queueSignal(this, t, { signo: SIGFPE, code: FPE_FLTINV, addr: rip, pid: 0, trapno: vector }, true);
        break;
      default:
        queueSignal(this, t, { signo: SIGSEGV, code: SI_KERNEL, addr: 0, pid: 0, trapno: vector, err }, true);
    }
    cpu.setReg(RSP, this.kernelStackTop(cpu));
    this.returnToUser(cpu, this.current[cpu.index]);
  }

  /**
   * A timer tick (smp_apic_timer_interrupt), or the reschedule IPI (`tick` false). From ring 3 the
   * task's state is saved and the way back to user mode runs, so a pending signal — the SIGKILL
   * of a CPU-time limit — is delivered to a task that never makes a system call, and a tick that
   * finds other tasks waiting for this CPU ends the current one's time slice (scheduler_tick →
   * TIF_NEED_RESCHED): round robin at HZ, which is what CFS gives equal tasks whose ideal slice
   * is below the tick period. A tick that finds the CPU in the kernel returns at once (the way
   * out will look anyway).
   */
  private onTimerInterrupt(cpu: Cpu, tick = true): void {
    // ack_APIC_irq first (smp_apic_timer_interrupt, smp_reschedule_interrupt): the vector leaves
    // service, so the next tick or IPI can arrive while this one is still being handled.
    cpu.eoi();
    const sp = cpu.rsp;
    const cs = cpu.mmu.read64(sp + 8) & 0xffff;
    const t = this.current[cpu.index];
    if (tick) this.schedulerTick(cpu, t);
    if ((cs & 3) === 0 || t === undefined) {
      cpu.iretq();
      return;
    }
    this.saveInterruptedUser(cpu, t, sp);
    this.returnToUser(cpu, t);
  }

  /** An interrupt taken in user mode: the user registers, from the CPU and the interrupt frame at `sp`, into the task; the CPU on its kernel stack. */
  private saveInterruptedUser(cpu: Cpu, t: Task, sp: number): void {
    const r = t.regs;
    r.saveFrom(cpu);
    r.rip = cpu.mmu.read64Number(sp);
    r.rflags = cpu.mmu.read64(sp + 16);
    r.set(RSP, cpu.mmu.read64Number(sp + 24));
    r.origRax = -1;
    t.iretOnReturn = true; // an interrupt returns with IRETQ
    cpu.setReg(RSP, this.kernelStackTop(cpu));
  }

  private schedulerTick(cpu: Cpu, t: Task | undefined): void {
    this.sv[this.sTimerTicks]++;
    if (t !== undefined && this.runQueues[cpu.index]!.some((x) => x.state === TaskState.Runnable)) t.needResched = true;
  }

  /**
   * An interrupt that arrived while a Dune guest ran (an external-interrupt VM exit): the host's
   * handler for it, run by the module after the exit, as vmx.c lets the host IDT take it. The
   * task's need-resched and pending signals are then seen on the module's way back in.
   */
  onHostInterrupt(cpu: Cpu, vector: number): void {
    // The exit acknowledged the interrupt (it is in service): the host's handler ends it with EOI.
    cpu.eoi();
    if (vector === LOCAL_TIMER_VECTOR) this.schedulerTick(cpu, this.current[cpu.index]);
    else if (vector === CALL_FUNCTION_VECTOR) this.runFlushRequests(cpu);
    else if (vector === IRQ_WORK_VECTOR) this.runIrqWork(cpu);
    else {
      const irq = this.irqHandlers.get(vector);
      if (irq !== undefined) this.deviceInterrupt(cpu, irq.handler);
    }
  }

  /**
   * request_irq for a device's MSI-X vector: an IDT gate to a handler in kernel text. The entry
   * (common_interrupt → do_IRQ → handle_edge_irq) acknowledges the APIC first, as an edge MSI is
   * acked, then runs `handler`; irq_exit runs the softirqs it raised (NET_RX) on this CPU before
   * the way out.
   */
  requestIrq(vector: number, name: string, handler: (cpu: Cpu) => void): void {
    if (!Number.isInteger(vector) || vector < 0x20 || vector >= LOCAL_TIMER_VECTOR) throw new RangeError(`${name}: device vector ${vector} outside 0x20..0x${(LOCAL_TIMER_VECTOR - 1).toString(16)} (Linux's external vectors below the system ones)`);
    if (this.irqHandlers.has(vector)) throw new RangeError(`${name}: vector 0x${vector.toString(16)} already belongs to ${this.irqHandlers.get(vector)!.name}`);
    this.irqHandlers.set(vector, { name, handler });
    const entry = this.boot.native(`irq_${name}`, (c) => {
      c.eoi();
      this.deviceInterrupt(c, handler);
      this.irqExit(c);
    }, 0);
    this.boot.gate(vector, entry, {});
  }

  private readonly irqHandlers = new Map<number, { name: string; handler: (cpu: Cpu) => void }>();

  /** assign_irq_vector, reduced: the lowest free device vector from `first` up. */
  allocateIrqVector(first: number): number {
    for (let v = first; v < LOCAL_TIMER_VECTOR; v++) if (!this.irqHandlers.has(v)) return v;
    throw new RangeError('no free device interrupt vector');
  }

  /** The handler and softirqs of a device interrupt (also after an external-interrupt VM exit). */
  private deviceInterrupt(cpu: Cpu, handler: (cpu: Cpu) => void): void {
    this.sv[this.sDeviceIrqs]++;
    cpu.charge(this.costs.irqPath);
    handler(cpu);
    if (this.netRx.pending(cpu)) this.netRx.run(cpu);
  }

  /**
   * The way out of a device interrupt (ret_from_intr). From ring 3: the task's state is saved and
   * the usual way back to user mode runs (a task the softirq woke may preempt it, signals are
   * delivered). From the idle loop: IRETQ, then schedule() if the handler made a task runnable
   * here. From elsewhere in ring 0: IRETQ.
   */
  private irqExit(cpu: Cpu): void {
    const sp = cpu.rsp;
    const cs = cpu.mmu.read64(sp + 8) & 0xffff;
    const t = this.current[cpu.index];
    if ((cs & 3) === 0 || t === undefined) {
      cpu.iretq();
      if (t === undefined && this.current[cpu.index] === undefined) this.dispatchIdle(cpu);
      return;
    }
    this.saveInterruptedUser(cpu, t, sp);
    if (this.runQueues[cpu.index]!.some((x) => x.state === TaskState.Runnable)) t.needResched = true;
    this.returnToUser(cpu, t);
  }

  /** The call-function IPI: run the TLB flushes other CPUs queued for this one, then IRETQ. */
  /**
   * irq_work_queue_on: `work` runs in the kernel on `cpu`, in interrupt context, at its next
   * instruction boundary. Kernel code that finds that CPU where the kernel is not — a kernel timer
   * due while the CPU runs a Dune guest, which on hardware would have made the guest exit first —
   * hands its work over this way: the self-IPI makes a guest exit like any external interrupt, and
   * the host's handler runs the work.
   */
  queueIrqWork(cpu: Cpu, work: () => void): void {
    const q = this.irqWork[cpu.index]!;
    q.push(work);
    if (q.length === 1) cpu.interrupt(IRQ_WORK_VECTOR);
  }

  private runIrqWork(cpu: Cpu): void {
    const q = this.irqWork[cpu.index]!;
    while (q.length > 0) {
      this.sv[this.sIrqWork]++;
      q.shift()!();
    }
  }

  private onCallFunction(cpu: Cpu): void {
    cpu.eoi(); // smp_call_function_interrupt: ack_APIC_irq, then the function
    this.runFlushRequests(cpu);
    cpu.iretq();
  }

  /** flush_tlb_func: flush what was asked if this CPU still has that address space loaded. */
  private runFlushRequests(cpu: Cpu): void {
    const reqs = this.flushRequests[cpu.index]!;
    while (reqs.length > 0) {
      const req = reqs.shift()!;
      // Switched away since: the CR3 load flushed it already (without PCIDs), or the mm's slot
      // is behind its tlb_gen and the switch back will flush it (with PCIDs).
      if (this.loadedRoot(cpu) !== req.mm.cr3) continue;
      this.flushLocal(cpu, req.start, req.end);
      this.flushedLocally(cpu, req.mm, req.end - req.start > PAGE_SIZE, req.gen);
    }
  }

  /**
   * The flush a CPU runs for a request: INVLPG for one page (flush_tlb_page), else a CR3 reload —
   * Linux 3.2's flush_tlb_range flushes the whole mm.
   */
  private flushLocal(cpu: Cpu, start: number, end: number): void {
    if (end - start <= PAGE_SIZE) cpu.invlpg(start);
    else cpu.loadCr3(cpu.cr3);
  }

  /**
   * flush_tlb_mm / flush_tlb_range: a change to the PTEs of [start, end) in `mm` (munmap,
   * mprotect, brk, madvise, mremap, fork's write-protect) flushes this CPU's TLB (a CR3 reload)
   * and shoots down the translations other CPUs hold (shootdown).
   */
  flushTlbMm(cpu: Cpu, mm: AddressSpace, start: number, end: number): void {
    mm.tlbGen++;
    // A CPU that does not have `mm` loaded holds none of its translations without PCIDs, and
    // with them its slot for `mm` is now behind (tlb_gen) and the switch back flushes it.
    if (this.loadedRoot(cpu) === mm.cr3) {
      cpu.loadCr3(cpu.cr3);
      this.flushedLocally(cpu, mm, true, mm.tlbGen);
    }
    this.shootdown(cpu, mm, start, end);
  }

  /** flush_tlb_page: one page of `mm` changed (a copy-on-write break): INVLPG here and on the others. */
  flushTlbPage(cpu: Cpu | undefined, mm: AddressSpace, va: number): void {
    mm.tlbGen++;
    if (cpu === undefined) return;
    cpu.invlpg(va);
    if (this.loadedRoot(cpu) === mm.cr3) this.flushedLocally(cpu, mm, false, mm.tlbGen);
    this.shootdown(cpu, mm, va, va + PAGE_SIZE);
  }

  /**
   * flush_tlb_others: every other CPU that has `mm` loaded invalidates [start, end) — one running a
   * thread of it gets the call-function IPI and flushes in its handler before it runs another
   * instruction; an idle CPU still holding the mm lazily drops it (leave_mm). The initiator sends
   * the IPI to all of them at once (send_IPI_mask) and then spins until the last has acknowledged
   * (Linux 3.2's flush_tlb_others_ipi): the round trips overlap, so it pays one, whatever the
   * number of targets. Each IPI is counted.
   */
  private shootdown(cpu: Cpu, mm: AddressSpace, start: number, end: number): void {
    if (!this.tlbShootdowns) return;
    let targets = 0;
    for (const c of this.machine.cpus) {
      if (c === cpu || this.loadedRoot(c) !== mm.cr3) continue;
      targets++;
      this.sv[this.sIpis]++;
      if (this.current[c.index] === undefined) {
        c.loadCr3(this.boot.pt.root); // lazy TLB: the idle CPU lets the user mm go
        continue;
      }
      this.flushRequests[c.index]!.push({ mm, start, end, gen: mm.tlbGen });
      c.interrupt(CALL_FUNCTION_VECTOR);
    }
    if (targets > 0) {
      cpu.cycles += this.costs.ipi;
      this.sv[this.sShootdowns]++;
      if (cpu.tracer.enabled) cpu.tracer.instant('tlb', `TLB shootdown → ${targets} CPU${targets > 1 ? 's' : ''}`, cpu.index, cpu.cycles, { start, end });
    }
  }

  /** No frame left for a task's request: the OOM killer's answer, SIGKILL (mm/oom_kill.c). */
  oomKill(t: Task): void {
    this.console(2, new TextEncoder().encode(`dunesim: out of memory: killed process ${t.process.pid} (${t.process.name})\n`));
    queueSignal(this, t, { signo: SIGKILL, code: SI_KERNEL, addr: 0, pid: 0 }, true);
  }

  /**
   * do_page_fault for a user address: demand paging, copy-on-write, stack growth, or SIGSEGV
   * with si_addr and SEGV_MAPERR / SEGV_ACCERR.
   */
  handlePageFault(cpu: Cpu, t: Task, addr: number, err: number): void {
    this.sv[this.sPageFaults]++;
    const start = cpu.cycles;
    cpu.cycles += this.costs.pageFaultPath;
    let r: number;
    try {
      r = this.faultIn(cpu, t.process.mm, addr, (err & FEC_W) !== 0, (err & FEC_I) !== 0, (err & FEC_P) !== 0, t.regs.get(RSP));
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
      this.oomKill(t);
      return;
    }
    if (cpu.tracer.enabled) {
      cpu.tracer.nameProcess(t.process.pid, `${t.process.name} (pid ${t.process.pid})`);
      cpu.tracer.nameThread(t.process.pid, t.tid, `tid ${t.tid}`);
      cpu.tracer.taskSpan(t.process.pid, t.tid, 'fault', r === 0 ? 'page fault' : 'page fault → SIGSEGV', start, cpu.cycles,
        { addr: `0x${addr.toString(16)}`, err, cpu: cpu.index });
    }
    if (r !== 0) queueSignal(this, t, { signo: SIGSEGV, code: r, addr, pid: 0, trapno: Vector.PageFault, err }, true);
  }

  /**
   * Resolves a fault on `addr` in `mm` (handle_mm_fault). Returns 0 when the page is now
   * accessible, or the SIGSEGV si_code.
   */
  faultIn(cpu: Cpu | undefined, mm: AddressSpace, addr: number, write: boolean, fetch: boolean, present: boolean, userRsp = 0): number {
    let vma = mm.vmas.find(addr);
    if (vma === undefined) {
      // Stack growth: an access just below a MAP_GROWSDOWN VMA, not too far below the stack pointer.
      const above = mm.vmas.list.find((v) => (v.flags & MAP_GROWSDOWN) !== 0 && v.start > addr && v.start - addr <= 1 << 20);
      if (above === undefined || addr + 65536 + 32 * 8 < userRsp) return SEGV_MAPERR;
      // RLIMIT_STACK bounds the growth, as acct_stack_growth does.
      if (above.end - (addr - (addr % PAGE_SIZE)) > DEFAULT_STACK_SIZE) return SEGV_MAPERR;
      above.start = addr - (addr % PAGE_SIZE);
      vma = above;
    }
    // access_error (arch/x86/mm/fault.c): a read needs only vma_is_accessible — x86 pages cannot be
    // writable or executable without being readable, so PROT_WRITE or PROT_EXEC alone reads too.
    if (write ? !vma.writable : fetch ? !vma.executable : !(vma.readable || vma.writable || vma.executable)) return SEGV_ACCERR;
    if (vma.huge !== '') {
      const r = hugeFault(this, cpu, mm, vma, addr); // a 2 MiB page (huge-pages.ts), or -1: 4 KiB
      if (r >= 0) return r;
    }
    const page = addr - (addr % PAGE_SIZE);
    const pte = mm.pte(page);
    const costs = this.costs;
    if (pte !== undefined && (pte.lo & PTE_P) !== 0) {
      if (!write || (pte.lo & PTE_W) !== 0) return 0; // spurious (a stale TLB entry): the walk will succeed now
      const frame = PageTables.entryFrame(pte.lo, pte.hi);
      // A shared mapping is never copied: its frame is the object every process writes to.
      if (this.machine.frames.refCount(frame) === 1 || (vma.flags & MAP_SHARED) !== 0) {
        mm.mapPage(page, frame, vma, true); // the last user of a COW page takes it over
      } else {
        const copy = this.machine.frames.alloc();
        this.machine.mem.writeBytes(copy, this.machine.mem.u8.subarray(frame, frame + PAGE_SIZE));
        this.machine.frames.put(frame);
        mm.mapPage(page, copy, vma, true);
        if (cpu) cpu.cycles += costs.pageAllocPath;
      }
      mm.notify(page, page + PAGE_SIZE);
      this.flushTlbPage(cpu, mm, page);
      return 0;
    }
    if (pte !== undefined && pteHasFrame(pte.lo)) {
      // PROT_NONE page whose VMA now allows access (mprotect changed it): make it present.
      mm.mapPage(page, PageTables.entryFrame(pte.lo, pte.hi), vma, this.machine.frames.refCount(PageTables.entryFrame(pte.lo, pte.hi)) === 1);
      return 0;
    }
    void present;
    const frame = this.machine.frames.alloc();
    vma.fill?.(frame, page); // a file page (an execve'd image): its bytes, else zeroes
    mm.mapPage(page, frame, vma, true);
    if (cpu) cpu.cycles += costs.pageAllocPath;
    return 0;
  }

  // -----------------------------------------------------------------------------------------
  // Access to user memory from the kernel (uaccess): through the current page tables with
  // supervisor accesses, faulting pages in like the exception-table fix-ups of a real kernel.

  private userAccess(cpu: Cpu, t: Task, va: number, write: boolean): number {
    if (va < 0 || va >= STACK_TOP) return -1;
    // A wake-up run for a task asleep on another CPU (epoll_wait's events, a futex requeue…) finds
    // that CPU with whatever its CR3 holds now: another process's tables, or the kernel's own
    // (lazy TLB). The task's own page tables are then walked in software, as access_process_vm
    // does. A Dune process's CR3 is its guest's, reached through the EPT; it keeps the MMU path.
    if (!cpu.vmx.nonRoot && this.loadedRoot(cpu) !== t.process.mm.cr3) return this.userAccessOtherMm(t.process.mm, va, write);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return cpu.mmu.translateAs(va, write ? AccessKind.Write : AccessKind.Read, false);
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        if (this.faultIn(cpu, t.process.mm, va, write, false, (e.errorCode & FEC_P) !== 0) !== 0) return -1;
      }
    }
    return -1;
  }

  /** userAccess through `mm`'s page tables when they are not the ones loaded (a software walk). */
  private userAccessOtherMm(mm: AddressSpace, va: number, write: boolean): number {
    const pte = mm.frameAt(va);
    if (pte === undefined || (pte.lo & PTE_P) === 0) {
      if (this.faultIn(undefined, mm, va, write, false, false) !== 0) return -1;
    }
    // A present page written: faultIn checks the VMA allows it and breaks copy-on-write.
    const cur = mm.frameAt(va);
    if (write && (cur === undefined || (cur.lo & PTE_W) === 0) && this.faultIn(undefined, mm, va, true, false, true) !== 0) return -1;
    const e = mm.frameAt(va);
    return e === undefined ? -1 : e.frame + (va % PAGE_SIZE);
  }

  /** The physical address of user address `va` for the kernel's access (faulted in), or -1. */
  userPhysical(cpu: Cpu, t: Task, va: number, write: boolean): number {
    return this.userAccess(cpu, t, va, write);
  }

  /** Copies `len` bytes from user memory; undefined on a bad address (the caller returns -EFAULT). */
  copyFromUser(cpu: Cpu, t: Task, va: number, len: number): Uint8Array | undefined {
    // Every page is reached first and the buffer allocated after: a guest that passes a huge
    // length over memory it does not have gets EFAULT without making the host allocate the
    // length (a write(fd, p, 2 GiB) would otherwise ask the host for 2 GiB up front). The pages'
    // frames stay put between the two passes: nothing else runs.
    const frames: number[] = [];
    for (let off = 0; off < len; ) {
      const pa = this.userAccess(cpu, t, va + off, false);
      if (pa < 0) return undefined;
      frames.push(pa);
      off += Math.min(len - off, PAGE_SIZE - ((va + off) % PAGE_SIZE));
    }
    const out = new Uint8Array(len);
    const u8 = this.machine.mem.u8;
    for (let off = 0, k = 0; off < len; k++) {
      const pa = frames[k]!;
      const n = Math.min(len - off, PAGE_SIZE - ((va + off) % PAGE_SIZE));
      out.set(u8.subarray(pa, pa + n), off);
      off += n;
    }
    return out;
  }

  copyToUser(cpu: Cpu, t: Task, va: number, data: Uint8Array): boolean {
    for (let off = 0; off < data.length; ) {
      const pa = this.userAccess(cpu, t, va + off, true);
      if (pa < 0) return false;
      const n = Math.min(data.length - off, PAGE_SIZE - ((va + off) % PAGE_SIZE));
      this.machine.mem.writeBytes(pa, data.subarray(off, off + n));
      off += n;
    }
    return true;
  }

  readUser64(cpu: Cpu, t: Task, va: number): number | undefined {
    const b = this.copyFromUser(cpu, t, va, 8);
    if (b === undefined) return undefined;
    const dv = new DataView(b.buffer);
    return (dv.getUint32(4, true) | 0) * TWO_32 + dv.getUint32(0, true);
  }

  writeUser64(cpu: Cpu, t: Task, va: number, v: number): boolean {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, v >>> 0, true);
    dv.setUint32(4, Math.floor(v / TWO_32) >>> 0, true);
    return this.copyToUser(cpu, t, va, b);
  }

  /** access_process_vm: another process's memory, by software walk (ptrace PEEK/POKE). */
  accessProcessVm(p: Process, va: number, len: number, write?: Uint8Array): Uint8Array | undefined {
    const out = new Uint8Array(len);
    for (let off = 0; off < len; ) {
      const a = va + off;
      // frameAt: a PTE or a 2 MiB PDE (huge-pages.ts).
      const pte = p.mm.frameAt(a);
      if (pte === undefined || (pte.lo & PTE_P) === 0) {
        if (this.faultIn(undefined, p.mm, a, write !== undefined, false, false) !== 0) return undefined;
      }
      if (write !== undefined && this.faultIn(undefined, p.mm, a, true, false, true) !== 0) return undefined;
      const pa = p.mm.frameAt(a)!.frame + (a % PAGE_SIZE);
      const n = Math.min(len - off, PAGE_SIZE - (a % PAGE_SIZE));
      if (write !== undefined) this.machine.mem.writeBytes(pa, write.subarray(off, off + n));
      else out.set(this.machine.mem.u8.subarray(pa, pa + n), off);
      off += n;
    }
    return out;
  }

  // -----------------------------------------------------------------------------------------
  // Exit and wait.

  /**
   * exit_group, or a fatal signal: the whole thread group dies with `status` (SIGNAL_GROUP_EXIT).
   * The thread on `cpu` and every thread that is not on a CPU (asleep, queued, stopped) exit now;
   * one running on another CPU is sent SIGKILL and the reschedule IPI (zap_other_threads) and
   * exits there, at its next instruction boundary. The group is a zombie once its last thread is
   * gone.
   */
  exitProcess(cpu: Cpu, p: Process, status: number): void {
    if (p.zombie) return;
    if (p.groupExitStatus === undefined) p.groupExitStatus = status;
    for (const t of [...p.threads]) {
      if (t.state === TaskState.Dead) continue;
      if (t.state === TaskState.Running && this.current[t.cpu] === t && t.cpu !== cpu.index) {
        if (!t.pending.some((x) => x.signo === SIGKILL)) t.pending.push({ signo: SIGKILL, code: SI_KERNEL, addr: 0, pid: 0 });
        this.kick(t.cpu);
        continue;
      }
      this.exitThread(cpu, t, status);
    }
  }

  /**
   * do_exit of one thread (exit(2), or its part of a group exit): leave the futex queue, release
   * robust futexes it holds, clear and wake clear_child_tid (pthread_join's futex), complete a
   * vfork, leave the CPU. The last thread out ends the process.
   */
  exitThread(cpu: Cpu, t: Task, status: number): void {
    if (t.state === TaskState.Dead) return;
    const p = t.process;
    t.exitStatus = status;
    this.futexes.cancel(this, t);
    exitRobustList(this, t);
    // mm_release: only when someone else can still see the memory (another thread, or a process
    // sharing the mm); a lone task's word dies with its address space.
    const others = p.threads.some((x) => x !== t && x.state !== TaskState.Dead);
    if (others || p.mm.users > 1) clearChildTid(this, t);
    else t.clearChildTid = 0;
    const vforkDone = t.vforkDone;
    t.vforkDone = undefined;
    vforkDone?.();
    t.releaseDune?.(); // its vCPU, if it entered Dune
    t.state = TaskState.Dead;
    t.resume = undefined;
    t.wake = undefined;
    t.afterSyscall = undefined;
    this.dequeue(t);
    for (let c = 0; c < this.current.length; c++) if (this.current[c] === t) this.current[c] = undefined;
    const leader = p.threads[0]!;
    if (others) {
      cpu.cycles += this.costs.threadPath;
      // A thread other than the leader is reaped at once (release_task); the leader stays, a
      // zombie, until the group ends: its tid is the pid that wait4 reports.
      if (t !== leader) {
        p.threads.splice(p.threads.indexOf(t), 1);
        this.tasks.delete(t.tid);
      }
      return;
    }
    this.finishProcess(cpu, p, p.groupExitStatus ?? leader.exitStatus);
  }

  /** The last thread is gone: the process becomes a zombie with `status` for its parent. */
  private finishProcess(cpu: Cpu, p: Process, status: number): void {
    cpu.cycles += this.costs.exitPath;
    for (const t of p.threads) if (t !== p.threads[0]) this.tasks.delete(t.tid);
    p.threads.splice(1);
    p.zombie = true;
    p.waitStatus = status;
    p.sharedPending.length = 0;
    disarmRealTimer(this, p); // exit_itimers: a dead process's alarm must not fire (nor keep time going)
    // exit_files: the last user of the descriptor table closes it (a last close wakes the other
    // end of a pipe: wakeSleepers below).
    if (--p.filesUsers.count === 0) closeFiles(p);
    p.mm.users--;
    if (p.mm.users === 0) {
      // The address space is torn down with the CR3 of the kernel master table loaded — on every
      // CPU that still holds it (lazily, after running one of its threads).
      for (const c of this.machine.cpus) if (this.loadedRoot(c) === p.mm.cr3 && !c.vmx.nonRoot) c.loadCr3(this.boot.pt.root);
      p.mm.destroy();
    }
    // Tracees of this process are detached; children go to nobody (auto-reaped).
    for (const t of this.tasks.values()) {
      if (t.tracer !== p) continue;
      t.tracer = undefined;
      t.ptraceReport = 0;
      if (t.state === TaskState.Stopped) this.enqueue(t); // __ptrace_unlink wakes a ptrace-stopped tracee
    }
    for (const c of p.children) c.parent = undefined;
    if (p.parent !== undefined && !p.parent.zombie) {
      if (p.exitSignal > 0 && p.exitSignal <= 64) queueSignalToProcess(this, p.parent, p.exitSignal, p.pid);
      else this.wakeSleepers(); // no signal, but a parent in wait4 looks again
    } else p.reaped = true;
    if (p === this.namespaceInit) this.zapNamespace(p);
    this.onProcessExit?.(p);
    this.wakeSleepers();
  }

  /**
   * The init of the PID namespace the run's processes live in (exec's program): when it exits,
   * every other process is killed, as zap_pid_ns_processes does, so an orphan that spins or
   * sleeps for ever cannot keep the machine running after the program is done.
   */
  namespaceInit: Process | undefined;

  private zapNamespace(init: Process): void {
    for (const q of this.processes.values()) {
      if (q === init || q.zombie) continue;
      for (const t of q.threads) {
        if (t.state === TaskState.Dead) continue;
        queueSignal(this, t, { signo: SIGKILL, code: SI_KERNEL, addr: 0, pid: 0 }, true);
        // A sleeper or stopped task is woken by the SIGKILL; one running on another CPU is kicked.
        if (t.state === TaskState.Running && this.current[t.cpu] === t) this.kick(t.cpu);
      }
    }
  }

  exitStatusOf(code: number): number {
    return exitedStatus(code);
  }

  killedStatusOf(sig: number): number {
    return signaledStatus(sig);
  }

  /**
   * Runs the machine until every process has exited or is blocked for good (or `maxCycles`).
   * While host sockets are open the machine runs in slices, and what the host reported arrives
   * between them; when every CPU is idle the kernel waits for the host (an idle machine waiting
   * for the NIC's interrupt) or for the earliest timer, whose deadline the clocks then jump to.
   * Simulated time therefore counts the CPUs' work, not the host's round trips.
   *
   * Waiting for the host only makes sense while a sleeping task waits for a host socket
   * (Task.hostWake): when every task left is asleep or stopped, no timer is pending and none of
   * them could hear from the host — a read of an empty pipe whose write end the reader holds, two
   * processes each waiting for the other — nothing can ever run again, and run() says so
   * ('deadlock') instead of waiting for ever. `limits` bounds the waits for the host in real time.
   */
  run(maxCycles = Infinity, limits: HostWaitLimits = {}): RunEnd {
    const net = this.hostNet;
    const cpus = this.machine.cpus;
    const idleLimitMs = limits.idleMs ?? Infinity;
    const wallDeadline = limits.wallDeadline ?? Infinity;
    let idleSince = -1;
    let idleClock = 0;
    for (;;) {
      this.fireDueTimers();
      const sliced = net.active || this.timers.length > 0;
      if (!sliced) {
        this.machine.run(maxCycles);
        // A socket opened during the run stops the CPUs (hostEndpointOpened): go on sliced.
        if (!net.active && this.timers.length === 0 && this.machine.nextEventAt === Infinity) return cpus.every((c) => c.halted) ? this.settled() : 'cycles';
      } else {
        let now = Infinity;
        for (const c of cpus) if (!c.halted && c.cycles < now) now = c.cycles;
        let end = now === Infinity ? maxCycles : Math.min(maxCycles, now + NET_SLICE_CYCLES);
        // A timer falls due while the CPUs are busy (an alarm of a spinning process): the slice
        // ends at its deadline, and fireDueTimers fires it there.
        for (const t of this.timers) if (t.deadline > now && t.deadline < end) end = t.deadline;
        this.machine.run(end);
      }
      if (net.poll() > 0) {
        idleSince = -1;
        continue;
      }
      if (!cpus.every((c) => c.halted)) {
        if (cpus.every((c) => c.halted || c.cycles >= maxCycles)) return 'cycles';
        continue;
      }
      // Every CPU is idle: only the host, a timer or a device can wake a task now.
      const timer = this.timers.length > 0 ? this.timers.reduce((a, b) => (b.deadline < a.deadline ? b : a)) : undefined;
      // The program (its namespace's init) and every task have exited: the stack's own timers (a
      // connection in TIME_WAIT) run down after the run, not in it.
      if (timer !== undefined && this.namespaceInit?.zombie === true && !this.anyTaskAlive() &&
        this.timers.every((t) => t.background === true)) return this.settled();
      if (timer !== undefined && timer.deadline > CLOCK_HORIZON && !this.hostCouldWake()) return 'horizon';
      const device = this.machine.nextEventAt;
      if (device < (timer?.deadline ?? Infinity) && device <= maxCycles) {
        // A device acts before any timer (a frame arrives, its interrupt wakes a CPU).
        this.machine.advanceToNextEvent();
        continue;
      }
      if (!this.hostCouldWake()) {
        if (timer === undefined) return this.settled();
        // Idle until past the caller's clock (a cluster's window): the timer is for a later run.
        if (timer.deadline > maxCycles) return 'cycles';
        this.fireTimer(timer);
        continue;
      }
      // Real milliseconds: how long the machine has been idle, and when the timer falls due
      // (its distance in simulated time from the clock at which the machine went idle).
      if (idleSince < 0) {
        idleSince = performance.now();
        idleClock = Math.max(...cpus.map((c) => c.cycles));
      }
      const idleMs = performance.now() - idleSince;
      const dueMs = timer === undefined ? Infinity : ((timer.deadline - idleClock) / this.costs.clockHz) * 1000;
      const untilWall = wallDeadline - performance.now();
      if (net.wait(Math.min(dueMs - idleMs, this.netIdleTimeoutMs - idleMs, idleLimitMs - idleMs, untilWall, 250)) > 0) {
        idleSince = -1;
        continue;
      }
      const waited = performance.now() - idleSince;
      if (waited >= dueMs) {
        idleSince = -1;
        this.fireTimer(timer!);
        continue;
      }
      if (waited >= idleLimitMs) return 'idle-limit';
      if (performance.now() >= wallDeadline) return 'wall';
      if (waited >= this.netIdleTimeoutMs) return 'host-silent';
    }
  }

  /** Whether an event from the host could wake a sleeping task (a host socket it waits for). */
  hostCouldWake(): boolean {
    if (!this.hostNet.active) return false;
    for (const t of this.tasks.values()) {
      if (t.state === TaskState.Sleeping && (t.hostWake === undefined || t.hostWake())) return true;
    }
    return false;
  }

  private anyTaskAlive(): boolean {
    for (const t of this.tasks.values()) if (t.state !== TaskState.Dead) return true;
    return false;
  }

  /** Every CPU idle, no timer, nothing the host could wake: done, or blocked for good. */
  private settled(): RunEnd {
    return this.blockedTasks().length > 0 ? 'deadlock' : 'done';
  }

  /** The tasks that are neither dead nor able to run: asleep in a system call, or stopped. */
  blockedTasks(): Task[] {
    return [...this.tasks.values()].filter((t) => t.state === TaskState.Sleeping || t.state === TaskState.Stopped);
  }

  /** "pid 2 (prog) asleep in read", "tid 3 of pid 2 (prog) asleep in futex" — for the reports. */
  describeBlocked(): string {
    return this.blockedTasks().map((t) => {
      const who = `${t.tid === t.process.pid ? '' : `tid ${t.tid} of `}pid ${t.process.pid} (${t.process.name})`;
      if (t.state === TaskState.Stopped) return `${who} stopped`;
      return `${who} asleep in ${t.lastSyscall >= 0 ? this.syscalls.get(t.lastSyscall)?.name ?? Kernel.syscallName(t.lastSyscall) : 'the kernel'}`;
    }).join(', ');
  }

  /**
   * Where guest sockets lead: 'host' (real host sockets on loopback, the default) or 'sim' (the
   * TCP/IP stack of core/net on this machine's own devices: its loopback, and its 82599 port when
   * it is a cluster node). Chosen before the first socket (`dunesim exec --net`).
   */
  netMode: 'host' | 'sim' = 'host';
  private simNetInstance: SimNet | undefined;

  /** The simulated network's stack of this machine, made on first use (net/sim-net.ts). */
  get simNet(): SimNet {
    return (this.simNetInstance ??= new SimNet(this));
  }

  /** The host's network (real sockets on loopback), started by the first socket. */
  readonly hostNet = new HostNet();
  /** Real milliseconds every CPU may sit idle waiting for the host before run() gives up. */
  netIdleTimeoutMs = Infinity;
  private readonly timers: KernelTimer[] = [];
  private socketInodes = 0x2000;

  nextSocketInode(): number {
    return ++this.socketInodes;
  }

  /** A socket got a host side: if the CPUs run unsliced, stop them so run() slices from now on. */
  hostEndpointOpened(): void {
    for (const c of this.machine.cpus) c.stop();
  }

  /** Calls `fire` once the simulated clock reaches `deadline` (cycles) with nothing else to do. */
  addTimer(deadline: number, fire: () => void, background = false): KernelTimer {
    const t: KernelTimer = background ? { deadline, fire, background } : { deadline, fire };
    this.timers.push(t);
    // If the CPUs run unsliced, stop them so that run() goes on in slices that end at deadlines.
    if (this.timers.length === 1) for (const c of this.machine.cpus) c.stop();
    return t;
  }

  /** The earliest pending timer's deadline (cycles), or Infinity. */
  get nextTimerDeadline(): number {
    let d = Infinity;
    for (const t of this.timers) if (t.deadline < d) d = t.deadline;
    return d;
  }

  cancelTimer(t: KernelTimer): void {
    const i = this.timers.indexOf(t);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Fires the timers whose deadline the clock of every running CPU has reached (the tick's hrtimer expiry). */
  private fireDueTimers(): void {
    let now = Infinity;
    for (const c of this.machine.cpus) if (!c.halted && c.cycles < now) now = c.cycles;
    if (now === Infinity) return; // all idle: run() jumps the clocks to the earliest deadline
    for (;;) {
      const t = this.timers.find((x) => x.deadline <= now);
      if (t === undefined) return;
      this.fireTimer(t);
    }
  }

  private fireTimer(t: KernelTimer): void {
    this.cancelTimer(t);
    // The machine slept until the deadline: every idle clock moves on to it.
    for (const c of this.machine.cpus) if (c.cycles < t.deadline) c.cycles = t.deadline;
    t.fire();
    this.wakeSleepers();
  }

  /** Ends what the kernel holds on the host (its sockets, the network worker). */
  dispose(): void {
    this.hostNet.dispose();
  }

  /** Starts scheduling (call after spawning). */
  start(): void {
    for (const cpu of this.machine.cpus) {
      if (this.current[cpu.index] === undefined && this.runQueues.some((q) => q.some((t) => this.mayRunOn(t, cpu.index)))) {
        cpu.wake();
        this.dispatchIdle(cpu);
      }
    }
  }

  countSignal(): void {
    this.sv[this.sSignals]++;
  }

  get killSignal(): number {
    return SIGKILL;
  }

  static syscallName(nr: number): string {
    return SYSCALL_NAMES[nr] ?? `syscall_${nr}`;
  }

  static readonly NR = NR;
  static readonly EFAULT = EFAULT;
  static readonly PtRegs = PtRegs;
}

/**
 * Queues a process-directed signal (kill, SIGCHLD): on the group's shared queue, then
 * complete_signal picks a thread that does not block it — the leader first, then the others —
 * and wakes it (asleep) or kicks it (running on another CPU) so that it takes the signal on its
 * way to user mode. If every thread blocks it, it waits on the shared queue for one that
 * unblocks it.
 */
export function queueSignalToProcess(k: Kernel, p: Process, sig: number, fromPid: number): void {
  const live = p.threads.filter((x) => x.state !== TaskState.Dead);
  if (live.length === 0) return;
  const info: SigInfo = { signo: sig, code: 0, addr: 0, pid: fromPid };
  if (live.length === 1) {
    queueSignal(k, live[0]!, info, false); // one thread: its own queue is the group's
    return;
  }
  queueSharedSignal(k, p, live, info);
}

export { RDI, RSI, RDX, R10, R8, R9, RAX };
