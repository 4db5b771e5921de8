import { FEC_I, FEC_P, FEC_W, MSR_FS_BASE, Vector } from '../../core/vtx/arch.js';
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import { Cpu, RAX, RSP } from '../../core/vtx/cpu.js';
import { DUNE_S, LibDune, TF, TF_SIZE } from '../../core/dune/libdune.js';
import type { ImageInfo } from '../../core/linux/exec.js';
import type { Kernel } from '../../core/linux/kernel.js';
import {
  ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS, EAGAIN, EFAULT, EINVAL, EPERM, FUTEX_WAKE, NR, SIGBUS, SIGFPE, SIGILL,
  SIGSEGV, SIGTRAP, TASK_SIZE,
} from '../../core/linux/linux-abi.js';
import type { Process, Task } from '../../core/linux/task.js';
import { syscallNrOf } from '../../core/linux/syscall-prototypes.js';
import { loadSyscallArgs, syscall } from '../../core/linux/user-abi.js';
import { ARG_COPIES_VA, copyAddresses } from './argument-copies.js';
import { COPY_COSTS, SANDBOX_COSTS } from './sandbox-cost-constants.js';
import { ArgumentValidator } from './argument-validator.js';
import { errnoName, formatCall, signalName } from './format-call.js';
import { CheckedCall } from './checked-call.js';
import { GuestMemory } from './guest-memory.js';
import { OpenFileCounter } from './open-file-counter.js';
import { PathResolver } from './path-resolver.js';
import { PolicyEnforcer } from './policy-enforcer.js';
import { SocketInspector } from './socket-inspector.js';
import { HandlerAction, RuntimeCalls } from './runtime-calls.js';
import { RuntimeRegions } from './runtime-regions.js';
import { SandboxPolicy } from './sandbox-policy.js';
import { SandboxReporter } from './sandbox-reporter.js';
import { SignalEmulation } from './signal-emulation.js';
import { FCNTL_DUP_CMDS, argsOf, specOf } from './syscall-specs.js';
import { UntrustedMemoryManager } from './untrusted-memory-manager.js';
import { APP_MAX_ELF_VADDR, UntrustedWindows } from './untrusted-windows.js';
import { MAX_THREADS, SandboxThread, ThreadSlots, slotCopies, slotStack } from './sandbox-thread.js';
import { TaskState } from '../../core/linux/task.js';
import { ThreadFactory } from './thread-factory.js';
import { ROBUST_LIST_HEAD_SIZE, releaseRobustList } from './robust-list.js';

const TWO_32 = 0x1_0000_0000;
/** RFLAGS.IOPL (bits 12–13). */
const RFLAGS_IOPL_MASK = 0x3000;
const hex = (x: number): string => (x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16));

/** The runtime's code: linked at APP_MAX_ELF_VADDR, right above the untrusted ELF window (sandbox.ld). */
export const RUNTIME_TEXT = APP_MAX_ELF_VADDR;
/** The runtime's own stack (guest ring 0; also the G0 stack jumpToUser saves and the trap frames of SYSCALL). */
export const RUNTIME_STACK = 0x7010_0000;
export const RUNTIME_STACK_SIZE = 0x4_0000;


/**
 * The registers a new thread starts with, from its start frame (a dune_tf): every general
 * register but RSP, which jumpToUser loads.
 */
const FRAME_GPRS: ReadonlyArray<readonly [number, number]> = [
  [7, TF.rdi], [6, TF.rsi], [2, TF.rdx], [1, TF.rcx], [8, TF.r8], [9, TF.r9], [10, TF.r10], [11, TF.r11],
  [3, TF.rbx], [5, TF.rbp], [12, TF.r12], [13, TF.r13], [14, TF.r14], [15, TF.r15], [0, TF.rax],
];

/** The trap-frame slots of the six argument registers (r10 is in the rcx slot). */
const ARG_SLOTS = [TF.rdi, TF.rsi, TF.rdx, TF.rcx, TF.r8, TF.r9];

const VECTOR_NAMES: Record<number, string> = {
  0: '#DE (divide error)', 1: '#DB', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD (invalid opcode)', 7: '#NM', 8: '#DF',
  10: '#TS', 11: '#NP', 12: '#SS', 13: '#GP (general protection)', 14: '#PF (page fault)', 16: '#MF', 17: '#AC',
  18: '#MC', 19: '#XM (SIMD floating point)',
};
/** The signal Linux would send for the exception (arch/x86/kernel/traps.c). */
const SIGNAL_OF_VECTOR: Record<number, number> = {
  0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 6: SIGILL, 11: SIGBUS, 12: SIGBUS, 16: SIGFPE, 17: SIGBUS, 19: SIGFPE,
};

type End = { readonly kind: 'exit'; readonly status: number } | { readonly kind: 'signal'; readonly signo: number };

export interface SandboxRuntimeParts {
  readonly kernel: Kernel;
  readonly process: Process;
  readonly lib: LibDune;
  readonly image: ImageInfo;
  readonly policy: SandboxPolicy;
  readonly reporter: SandboxReporter;
  readonly windows: UntrustedWindows;
  readonly regions: RuntimeRegions;
  /** Large mmaps with 2 MiB pages in the host, the EPT and the guest page table (UntrustedMemoryManager). */
  readonly largePages?: boolean;
}

/**
 * The sandbox runtime in guest ring 0 (apps/sandbox: main.c, trap.c): its code is natives at
 * RUNTIME_TEXT, mapped without PTE_U like libDune's text and page pool, so the program in ring 3
 * can neither read, write nor jump into any of it. It enters Dune (libDune in precise mode: the
 * process's memory is mapped without U), gives the program's own memory U, and jumps to the
 * program's entry in ring 3. From then on every SYSCALL of the program traps to `onSyscall`
 * through libDune's LSTAR trampoline, without a VM exit, and goes through the pipeline of
 * trap.c: check the arguments, ask the policy, then do — pass the call to the kernel (one
 * VMCALL), or do it here. Every exception of ring 3 ends the program with the signal Linux would
 * have sent, and a report.
 */
export class SandboxRuntime implements RuntimeCalls {
  readonly code: CodeBuilder;
  /**
   * Calls trapped, and what became of each: passed through by libDune, done by the runtime
   * (emulated: exit, signals, arch_prctl, the memory calls), denied by the policy or rejected by
   * the checks; kernelCalls are the runtime's own VMCALLs for what it does itself.
   */
  readonly counts = { intercepted: 0, passedThrough: 0, emulated: 0, denied: 0, rejected: 0, kernelCalls: 0 };
  /** The clock and instruction count at the program's first instruction (-1: not yet). */
  startCycles = -1;
  startInstructions = 0;
  readonly umm: UntrustedMemoryManager;
  readonly fds = new OpenFileCounter();
  private readonly memory: GuestMemory;
  private readonly validator: ArgumentValidator;
  private readonly enforcer: PolicyEnforcer;
  private readonly signals: SignalEmulation;
  private readonly lib: LibDune;
  private end: End | undefined;
  /** The argument registers of the call being handled, as 32-bit halves (read from the trap frame). */
  private readonly argLo = new Uint32Array(6);
  private readonly argHi = new Uint32Array(6);
  /** The program's threads, by task: each with its own ring-0 stack, argument copies and pending call. */
  private readonly threads = new Map<Task, SandboxThread>();
  readonly slots = new ThreadSlots();
  private readonly factory: ThreadFactory;
  /**
   * The thread in the middle of a memory call (its kernel call made, the guest page table not yet
   * mirrored): the others wait, as trap.c's mutex around mmap, mprotect and munmap makes them.
   */
  private memoryOwner: SandboxThread | undefined;

  constructor(private readonly parts: SandboxRuntimeParts) {
    const { kernel, process, lib, policy, windows, regions } = parts;
    this.lib = lib;
    this.memory = new GuestMemory(lib, windows);
    this.validator = new ArgumentValidator(this.memory, regions, process.pid);
    this.enforcer = new PolicyEnforcer(policy, new PathResolver(kernel, process), this.fds, new SocketInspector(process));
    this.signals = new SignalEmulation(this.memory);
    this.umm = new UntrustedMemoryManager(lib, process, windows, this, policy.limits.memory, parts.largePages === true);
    this.code = new CodeBuilder(kernel.machine.natives, RUNTIME_TEXT, 'sandbox', 3);
    this.factory = new ThreadFactory(this, windows, regions, policy);
    this.build();
  }

  /** How the program's run ended, once it has. */
  get outcome(): End | undefined {
    return this.end;
  }

  get started(): boolean {
    return this.startCycles >= 0;
  }

  private build(): void {
    const c = this.code;
    const lib = this.lib;
    // Host ring 3, as the process starts: dune_init in precise mode, the handlers, dune_enter.
    c.op('init', (cpu) => {
      lib.init(cpu, false);
      lib.registerSyscallHandler((x, tf) => this.onSyscall(x, tf));
      lib.registerPgfltHandler((x, addr, fec, tf) => this.onTrap(x, tf, Vector.PageFault, addr, fec));
      for (let v = 0; v < 32; v++) {
        if (v !== Vector.PageFault) lib.registerIntrHandler(v, (x, tf) => this.onTrap(x, tf, v));
      }
    }, 1);
    lib.emitEnter(c, 'enter', 'start');
    // Guest ring 0 from here.
    c.op('start', (cpu) => this.start(cpu), 30);
    c.op('ended', (cpu) => this.ended(cpu), 10);
    c.op('kill_send', (cpu) => {
      loadSyscallArgs(cpu, NR.kill, this.parts.process.pid, (this.end as { signo: number }).signo);
      cpu.vmcall();
    }, 4);
    c.op('kill_fallback', (cpu) => {
      loadSyscallArgs(cpu, NR.exit_group, 128 + (this.end as { signo: number }).signo);
      cpu.vmcall();
    }, 4);
    c.op('kcall', (cpu) => this.kcall(cpu), 0);
    c.op('kcall_done', (cpu) => this.kcallDone(cpu), 2);
    c.op('kcall_fell_through', () => {
      throw new Error('sandbox: a continuation neither finished the call nor made another');
    }, 0);
    // clone goes through libDune's SYSCALL trampoline, whose fork wrapper makes the child enter
    // Dune itself (the module starts children in Linux mode): dune_enter with a vCPU and per-CPU
    // area of its own, then on in guest ring 0 at the return address — here, like its parent,
    // on the ring-0 stack the runtime gave it, with RAX = 0.
    c.op('clone_kcall', (cpu) => {
      const k = this.threadOf(cpu).pending!;
      cpu.charge(DUNE_S.passthrough * cpu.costs.instruction);
      // The flags ring 3 had at its SYSCALL are still in RFLAGS, IOPL mark included, and the
      // trampoline tells a ring-0 call by IOPL: popf of ring 0's own flags first.
      cpu.rflags = (cpu.rflags & ~RFLAGS_IOPL_MASK) >>> 0;
      syscall(cpu, k.nr, ...k.args);
    }, 0);
    c.op('clone_done', (cpu) => {
      const t = this.parts.kernel.current[cpu.index];
      if (t !== undefined && !this.threads.has(t)) this.threadStart(cpu);
      else this.kcallDone(cpu);
    }, 2);
    c.op(undefined, () => {
      throw new Error('sandbox: a continuation neither finished the call nor made another');
    }, 0);
  }

  private kcall(cpu: Cpu): void {
    const k = this.threadOf(cpu).pending!;
    loadSyscallArgs(cpu, k.nr, ...k.args);
    cpu.charge(DUNE_S.passthrough * cpu.costs.instruction);
    cpu.vmcall();
  }

  private kcallDone(cpu: Cpu): void {
    this.lib.runningOn(cpu);
    const th = this.threadOf(cpu);
    const k = th.pending!;
    th.pending = undefined;
    k.then(cpu, cpu.reg(RAX));
  }

  /** The runtime's state of the thread running on `cpu`. */
  threadOf(cpu: Cpu): SandboxThread {
    const t = this.parts.kernel.current[cpu.index];
    const th = t !== undefined ? this.threads.get(t) : undefined;
    if (th === undefined) throw new Error(`sandbox: runtime code on cpu${cpu.index} in a thread the runtime did not start`);
    return th;
  }

  /** The first guest instructions: the program's memory with U, FS base 0, clean registers, ring 3. */
  private start(cpu: Cpu): void {
    this.lib.runningOn(cpu);
    const th = new SandboxThread(this.parts.kernel.current[cpu.index]!, 0, ARG_COPIES_VA);
    this.threads.set(th.task, th);
    this.umm.mapInitial(cpu);
    cpu.wrmsr(MSR_FS_BASE, 0, 0);
    this.lib.setUserFs(cpu, 0);
    for (let i = 0; i < 16; i++) if (i !== RSP) cpu.setReg(i, 0); // RDX = 0: no atexit function (ABI)
    this.startCycles = cpu.cycles;
    this.startInstructions = this.parts.kernel.machine.cpus.reduce((a, x) => a + x.instructions, 0);
    th.inUser = true;
    this.lib.jumpToUser(cpu, this.parts.image.entry, this.parts.image.sp, this.code.addr('ended'));
  }

  /**
   * A new thread's first instructions in its own vCPU (trap.c's pthread entry after dune_enter): its slot
   * becomes its state, the FS base and registers come from the start frame the clone left on its
   * stack (the parent's at the SYSCALL, RAX = 0, RSP = newsp), and it enters ring 3 at the
   * instruction after the program's clone.
   */
  private threadStart(cpu: Cpu): void {
    this.lib.runningOn(cpu);
    const frame = cpu.rsp;
    const slot = this.slots.slotOf(frame);
    if (slot === undefined) throw new Error(`sandbox: a thread started on 0x${frame.toString(16)}, no thread slot's stack`);
    const th = new SandboxThread(this.parts.kernel.current[cpu.index]!, slot, slotCopies(slot));
    th.sigmask = this.slots.occupy(slot, th);
    this.threads.set(th.task, th);
    const fs = cpu.mmu.read64Number(frame + TF_SIZE);
    cpu.wrmsr(MSR_FS_BASE, fs >>> 0, Math.floor(fs / TWO_32) >>> 0);
    this.lib.setUserFs(cpu, fs);
    for (const [reg, off] of FRAME_GPRS) {
      cpu.lo[reg] = cpu.mmu.read64(frame + off);
      cpu.hi[reg] = cpu.mmu.hi;
    }
    th.inUser = true;
    this.lib.jumpToUser(cpu, cpu.mmu.read64Number(frame + TF.rip), cpu.mmu.read64Number(frame + TF.rsp), this.code.addr('ended'));
  }

  /**
   * clone, once the checks and the policy let it through (ThreadFactory): the child's start frame
   * on the ring-0 stack of a free slot, then the kernel's clone of a thread of this group onto
   * that stack (a SYSCALL from ring 0: libDune's trampoline and fork wrapper). The program's PARENT_SETTID, CHILD_SETTID and CHILD_CLEARTID words (checked to be
   * its own) go to the kernel as they are: it stores the tid, and at the thread's exit clears the
   * word and wakes its futex (pthread_join).
   */
  private clone(cpu: Cpu, tf: number, call: CheckedCall, th: SandboxThread): HandlerAction {
    const made = this.factory.check(cpu, tf, call);
    if (made !== undefined) return made;
    const slot = this.slots.take(th.sigmask);
    if (slot === undefined) return this.deny(cpu, tf, call, `the sandbox runs at most ${MAX_THREADS} threads at once`, EAGAIN);
    this.counts.emulated++;
    cpu.charge(SANDBOX_COSTS.emulated * cpu.costs.instruction);
    const frame = this.factory.writeStartFrame(cpu, tf, call, slotStack(slot).end);
    return this.vmcallAt(cpu, 'clone_kcall', NR.clone, [this.factory.hostFlags(call.args[0]!), frame, call.args[2]!, call.args[3]!, 0], (c, r) => {
      if (r < 0) this.slots.release(slot);
      this.finish(c, tf, r);
    });
  }


  /**
   * Where dune_ret_from_user lands: the program exited (exit_group with its status) or was
   * stopped (the default action of a signal: SIG_DFL, then the signal to itself — libDune's
   * dune_init set most signals to SIG_IGN — so the process ends as Linux would have ended it).
   */
  private ended(cpu: Cpu): void {
    this.lib.runningOn(cpu);
    const th = this.threadOf(cpu);
    th.inUser = false;
    if (th.exitNr === NR.exit && this.end === undefined) {
      // One thread's exit: it alone leaves (libDune's on_dune_exit makes the SYS_exit); the last
      // thread out ends the process with the status Linux gives it.
      loadSyscallArgs(cpu, NR.exit, cpu.reg(RAX) & 0xff);
      cpu.vmcall();
      return;
    }
    const end = this.end ?? { kind: 'exit', status: cpu.reg(RAX) & 0xff };
    this.end = end;
    if (end.kind === 'exit') {
      loadSyscallArgs(cpu, NR.exit_group, end.status);
      cpu.vmcall();
      return;
    }
    const act = cpu.rsp - 512; // a struct sigaction of zeroes (SIG_DFL) on the runtime's stack
    for (let o = 0; o < 32; o += 8) cpu.mmu.write64(act + o, 0, 0);
    loadSyscallArgs(cpu, NR.rt_sigaction, end.signo, act, 0, 8);
    cpu.vmcall();
  }

  // -----------------------------------------------------------------------------------------
  // The system-call pipeline: check the arguments, ask the policy, do.

  private onSyscall(cpu: Cpu, tf: number): HandlerAction {
    const lib = this.lib;
    const th = this.threadOf(cpu);
    this.counts.intercepted++;
    cpu.charge(SANDBOX_COSTS.dispatch * cpu.costs.instruction);
    // The number and the arguments exactly as the kernel will read them (the int of
    // do_syscall_64, each argument at its prototype's width): what is checked below is what the
    // kernel acts on, since the runtime passes these values on, not the program's registers.
    const nr = syscallNrOf(cpu.mmu.read64(tf + TF.rax));
    for (let i = 0; i < 6; i++) {
      this.argLo[i] = cpu.mmu.read64(tf + ARG_SLOTS[i]!);
      this.argHi[i] = cpu.mmu.hi;
    }
    const spec = specOf(nr);
    const args = argsOf(spec, this.argLo, this.argHi);
    if (spec === undefined) {
      const errno = this.parts.policy.unknownErrno;
      this.counts.denied++;
      this.parts.reporter.add({
        kind: 'denied', attempted: formatCall(nr, undefined, args),
        rule: 'the sandbox has no argument table for it (unknown calls are denied: unknownSyscalls)', outcome: errnoName(errno),
      });
      lib.tfSet(cpu, tf, TF.rax, -errno);
      return 'done';
    }
    const checked = this.validator.check(cpu, spec, args);
    if ('errno' in checked) {
      this.counts.rejected++;
      this.parts.reporter.add({ kind: 'rejected', attempted: formatCall(nr, spec, args), rule: checked.why, outcome: errnoName(checked.errno) });
      lib.tfSet(cpu, tf, TF.rax, -checked.errno);
      return 'done';
    }
    const d = this.enforcer.check(cpu, checked);
    if (!d.allow) return this.deny(cpu, tf, checked, d.rule, d.errno);
    switch (spec.handling) {
      case 'passthrough':
        this.counts.passedThrough++;
        return this.forward(cpu, tf, checked);
      case 'exit':
        this.counts.emulated++;
        th.exitNr = nr;
        if (nr === NR.exit_group && this.end === undefined) this.end = { kind: 'exit', status: args[0]! & 0xff };
        if (nr === NR.exit && th.robustList !== 0) {
          // A thread alone leaving releases its robust futexes (a group exit needs not: no other
          // process shares the program's memory), then wakes a waiter of each.
          const wake = releaseRobustList(cpu, this.memory, th.robustList, th.task.tid);
          th.robustList = 0;
          const next = (c: Cpu): void => {
            const w = wake.shift();
            if (w === undefined) lib.retFromUser(c, args[0]! & 0xff);
            else this.kernel(c, tf, NR.futex, [w, FUTEX_WAKE, 1, 0, 0, 0], next);
          };
          next(cpu);
          return 'redirected';
        }
        lib.retFromUser(cpu, args[0]! & 0xff);
        return 'redirected';
      case 'robust-list':
        // set_robust_list: the head is the program's (checked); a wrong size is -EINVAL, as Linux answers.
        this.counts.emulated++;
        cpu.charge(SANDBOX_COSTS.emulated * cpu.costs.instruction);
        if (nr === NR.get_robust_list) {
          // The calling thread's (pid 0, or the process's own id: the checks allow no other).
          const ok = this.memory.write64(cpu, args[1]!, th.robustList) && this.memory.write64(cpu, args[2]!, ROBUST_LIST_HEAD_SIZE);
          lib.tfSet(cpu, tf, TF.rax, ok ? 0 : -EFAULT);
          return 'done';
        }
        if (args[1] !== ROBUST_LIST_HEAD_SIZE) {
          lib.tfSet(cpu, tf, TF.rax, -EINVAL);
          return 'done';
        }
        th.robustList = args[0]!;
        lib.tfSet(cpu, tf, TF.rax, 0);
        return 'done';
      case 'signals': {
        this.counts.emulated++;
        cpu.charge(SANDBOX_COSTS.emulated * cpu.costs.instruction);
        const [a0, a1, a2, a3] = args as [number, number, number, number];
        const r = nr === NR.rt_sigaction ? this.signals.sigaction(cpu, a0, a1, a2, a3) : this.signals.sigprocmask(cpu, th, a0, a1, a2, a3);
        lib.tfSet(cpu, tf, TF.rax, r);
        return 'done';
      }
      case 'arch_prctl':
        return this.archPrctl(cpu, tf, checked);
      case 'memory':
        this.counts.emulated++;
        return this.memoryCall(cpu, tf, checked, th);
      case 'clone':
        return this.clone(cpu, tf, checked, th);
      case 'fd-open':
      case 'fd-close':
        return this.descriptors(cpu, tf, checked);
    }
  }

  /**
   * A memory call, one thread at a time: a thread that finds another in the middle of one yields
   * the CPU (sched_yield, one VMCALL) and tries again, as a thread blocked on trap.c's mutex would.
   */
  private memoryCall(cpu: Cpu, tf: number, call: CheckedCall, th: SandboxThread): HandlerAction {
    if (this.memoryOwner !== undefined && this.memoryOwner !== th && this.memoryOwner.task.state !== TaskState.Dead) {
      return this.kernel(cpu, tf, NR.sched_yield, [], (c) => {
        if (this.memoryCall(c, tf, call, th) === 'done') c.jump(this.lib.text.addr('syscall_g3_exit'));
      });
    }
    this.memoryOwner = th;
    const a = this.umm.handle(cpu, tf, call);
    if (a === 'done') this.memoryOwner = undefined;
    return a;
  }

  /** ARCH_SET_FS / ARCH_GET_FS on the program's FS base (WRMSR of FS_BASE does not exit); GS is libDune's. */
  private archPrctl(cpu: Cpu, tf: number, call: CheckedCall): HandlerAction {
    const [code, addr] = call.args as [number, number];
    this.counts.emulated++;
    cpu.charge(SANDBOX_COSTS.emulated * cpu.costs.instruction);
    let r: number;
    switch (code) {
      case ARCH_SET_FS:
        if (addr < 0 || addr >= TASK_SIZE) {
          r = -EPERM; // not a user address, as do_arch_prctl_64 answers
          break;
        }
        cpu.wrmsr(MSR_FS_BASE, addr >>> 0, Math.floor(addr / TWO_32) >>> 0);
        this.lib.setUserFs(cpu, addr);
        r = 0;
        break;
      case ARCH_GET_FS:
        r = this.memory.write64(cpu, addr, cpu.fsBase) ? 0 : -EFAULT;
        break;
      case ARCH_SET_GS:
      case ARCH_GET_GS:
        return this.deny(cpu, tf, call, "the GS base is the runtime's (libDune's per-CPU area)", EPERM);
      default:
        r = -EINVAL;
    }
    this.lib.tfSet(cpu, tf, TF.rax, r);
    return 'done';
  }

  /** open, dup, pipe, close: counted for limits.openFiles (a plain passthrough without that limit). */
  private descriptors(cpu: Cpu, tf: number, call: CheckedCall): HandlerAction {
    const nr = call.nr;
    this.counts.passedThrough++;
    if (this.parts.policy.limits.openFiles === undefined || (nr === NR.fcntl && !FCNTL_DUP_CMDS.has(call.args[1]!))) {
      return this.forward(cpu, tf, call);
    }
    return this.forward(cpu, tf, call, (c, r) => {
      if (r >= 0) {
        if (nr === NR.close) this.fds.closed(call.args[0]!);
        else if (nr === NR.pipe || nr === NR.pipe2) {
          // The descriptors as the kernel wrote them into the runtime's copy (the program's
          // array could be rewritten by then).
          const b = call.copies?.find((x) => x.arg === 0)?.bytes;
          if (b !== undefined) {
            const dv = new DataView(b.buffer, b.byteOffset, 8);
            this.fds.opened(dv.getInt32(0, true));
            this.fds.opened(dv.getInt32(4, true));
          }
        } else this.fds.opened(r);
      }
    });
  }

  /**
   * Passes a checked call to the kernel (one VMCALL): the number and the arguments as they were
   * checked, with every argument buffer the kernel reads replaced by the runtime's copy of it
   * (ARG_COPIES_VA, which ring 3 cannot touch). After the call the copies the kernel may have
   * written go back to the program's buffers, and `after` sees the result. The program's own
   * registers are not changed: the trap frame keeps them for the return to ring 3.
   */
  private forward(cpu: Cpu, tf: number, call: CheckedCall, after?: (cpu: Cpu, result: number) => void): HandlerAction {
    const copies = call.copies;
    if (copies === undefined && after === undefined) return this.vmcall(cpu, call.nr, call.args, (c, r) => this.finish(c, tf, r));
    const args = call.args.slice();
    const at = copies !== undefined ? copyAddresses(copies, this.threadOf(cpu).copiesVa) : [];
    if (copies !== undefined) {
      for (let k = 0; k < copies.length; k++) {
        const b = copies[k]!.bytes;
        for (let j = 0; j < b.length; j++) cpu.mmu.write8(at[k]! + j, b[j]!);
        args[copies[k]!.arg] = at[k]!;
      }
    }
    return this.vmcall(cpu, call.nr, args, (c, r) => {
      let result = r;
      let created: number[] = [];
      if (copies !== undefined) {
        for (let k = 0; k < copies.length; k++) {
          const x = copies[k]!;
          if (x.back === undefined) continue;
          const b = x.bytes;
          for (let j = 0; j < b.length; j++) b[j] = c.mmu.read8(at[k]! + j);
          c.charge((COPY_COSTS.perCopy + Math.ceil(b.length / 8) * COPY_COSTS.perWord) * c.costs.instruction);
          // copy_to_user failing: the call happened, but its result cannot reach the program.
          if (!this.memory.write(c, x.back, b) && result >= 0) {
            // Descriptors the call made would be the program's without its knowing: Linux
            // undoes them (do_pipe2 and __sys_accept4 put the new files back on -EFAULT).
            if (r === 0 && (call.nr === NR.pipe || call.nr === NR.pipe2)) created = [readInt32(b, 0), readInt32(b, 4)];
            else if (r >= 0 && (call.nr === NR.accept || call.nr === NR.accept4)) created = [r];
            result = -EFAULT;
          }
        }
      }
      const done = (c2: Cpu): void => {
        after?.(c2, result);
        this.finish(c2, tf, result);
      };
      const closeNext = (c2: Cpu): void => {
        const fd = created.shift();
        if (fd === undefined) done(c2);
        else this.kernel(c2, tf, NR.close, [fd], closeNext);
      };
      closeNext(c);
    });
  }

  // -----------------------------------------------------------------------------------------
  // RuntimeCalls.

  kernel(cpu: Cpu, _tf: number, nr: number, args: readonly number[], then: (cpu: Cpu, result: number) => void): HandlerAction {
    this.counts.kernelCalls++;
    return this.vmcall(cpu, nr, args, then);
  }

  /** The VMCALL of a call (the kcall native), `then` with RAX at the next instruction. */
  private vmcall(cpu: Cpu, nr: number, args: readonly number[], then: (cpu: Cpu, result: number) => void): HandlerAction {
    return this.vmcallAt(cpu, 'kcall', nr, args, then);
  }

  private vmcallAt(cpu: Cpu, native: 'kcall' | 'clone_kcall', nr: number, args: readonly number[], then: (cpu: Cpu, result: number) => void): HandlerAction {
    this.threadOf(cpu).pending = { nr, args: [...args], then };
    cpu.jump(this.code.addr(native));
    return 'redirected';
  }

  finish(cpu: Cpu, tf: number, value: number): HandlerAction {
    this.releaseMemory(cpu);
    this.lib.tfSet(cpu, tf, TF.rax, value);
    cpu.jump(this.lib.text.addr('syscall_g3_exit'));
    return 'redirected';
  }

  private releaseMemory(cpu: Cpu): void {
    if (this.memoryOwner !== undefined && this.memoryOwner === this.threadOf(cpu)) this.memoryOwner = undefined;
  }

  /** Refuses a call whose arguments fail a check (`rejected`, like the checks of ArgumentValidator). */
  reject(cpu: Cpu, tf: number, call: CheckedCall, why: string, errno: number): HandlerAction {
    this.counts.rejected++;
    this.parts.reporter.add({ kind: 'rejected', attempted: formatCall(call.nr, call.spec, call.args), rule: why, outcome: errnoName(errno) });
    this.lib.tfSet(cpu, tf, TF.rax, -errno);
    return 'done';
  }

  deny(cpu: Cpu, tf: number, call: CheckedCall, rule: string, errno: number, returned?: number): HandlerAction {
    this.releaseMemory(cpu);
    this.counts.denied++;
    cpu.charge(SANDBOX_COSTS.deny * cpu.costs.instruction);
    this.parts.reporter.add({
      kind: 'denied',
      attempted: formatCall(call.nr, call.spec, call.args, call.strings, call.addresses),
      rule,
      outcome: returned !== undefined ? `${errnoName(errno).slice(1)}: returns ${hex(returned)}` : errnoName(errno),
    });
    this.lib.tfSet(cpu, tf, TF.rax, returned ?? -errno);
    return 'done';
  }

  // -----------------------------------------------------------------------------------------
  // Exceptions.

  /**
   * An exception in ring 3 ends the program with the signal Linux would send (a page fault on the
   * runtime's memory, a privileged instruction's #GP …), with a report of what it attempted. An
   * exception in ring 0 is the runtime's own fault, and ends the process the same way.
   */
  private onTrap(cpu: Cpu, tf: number, vector: number, addr = 0, fec = 0): void {
    const lib = this.lib;
    lib.runningOn(cpu);
    const t = this.parts.kernel.current[cpu.index];
    const th = t !== undefined ? this.threads.get(t) : undefined;
    const rip = lib.tfGet(cpu, tf, TF.rip);
    const ring = lib.tfGet(cpu, tf, TF.cs) & 3;
    const signo = SIGNAL_OF_VECTOR[vector] ?? SIGSEGV;
    const name = VECTOR_NAMES[vector] ?? `exception ${vector}`;
    let rule: string;
    if (vector === Vector.PageFault) {
      const access = (fec & FEC_I) !== 0 ? 'instruction fetch from' : (fec & FEC_W) !== 0 ? 'write to' : 'read of';
      const why = (fec & FEC_P) !== 0 ? 'the page is supervisor-only or read-only for ring 3' : 'the page is not mapped';
      rule = `${access} ${hex(addr)} (${this.parts.regions.describe(addr)}): ${why}`;
    } else if (vector === Vector.GeneralProtection) {
      rule = `a privileged instruction or a protection check (error code ${hex(lib.tfGet(cpu, tf, TF.err))})`;
    } else if (vector === Vector.InvalidOpcode) {
      rule = 'not an instruction the CPU executes';
    } else {
      rule = 'an exception the program does not get to handle';
    }
    const bytes = ring === 3 && !(vector === Vector.PageFault && (fec & FEC_I) !== 0) ? this.bytesAt(cpu, rip) : '';
    const who = ring === 3 ? 'ring-3' : "the runtime's own (ring 0)";
    this.parts.reporter.add({
      kind: 'contained',
      attempted: `${who} ${name} at rip ${hex(rip)}${bytes !== '' ? ` [${bytes}]` : ''}`,
      rule,
      outcome: `killed by ${signalName(signo)}`,
    });
    if (this.end === undefined) this.end = { kind: 'signal', signo };
    if (th?.inUser === true) {
      lib.retFromUser(cpu, 0);
    } else {
      loadSyscallArgs(cpu, NR.exit_group, 128 + signo);
      cpu.vmcall();
    }
  }

  /** Up to 8 bytes of the instruction at `rip`, in hex, if the program can read them. */
  private bytesAt(cpu: Cpu, rip: number): string {
    for (let n = 8; n > 0; n--) {
      const b = this.memory.read(cpu, rip, n);
      if (b !== undefined) return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
    }
    return '';
  }

  /** Figures for --stats. */
  stats(): Record<string, unknown> {
    return {
      policy: this.parts.policy.name,
      ...this.counts,
      pteMirrored: this.umm.mirrored,
      memoryInUse: this.umm.used,
      openFiles: this.fds.count,
    };
  }
}

function readInt32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}
