import { CodeBuilder } from '../../core/vtx/code-builder.js';
import { Cpu, RAX } from '../../core/vtx/cpu.js';
import { NATIVE_STUB_LENGTH } from '../../core/vtx/native-code.js';
import type { Kernel } from '../../core/linux/kernel.js';
import {
  EFAULT, ENAMETOOLONG, NR, PATH_MAX, PTRACE_GETREGS, PTRACE_O_TRACESYSGOOD, PTRACE_PEEKDATA,
  PTRACE_SETOPTIONS, PTRACE_SETREGS, PTRACE_SYSCALL, SIGTRAP, STACK_TOP, USER_REGS_FIELDS, __WALL,
} from '../../core/linux/linux-abi.js';
import type { Process } from '../../core/linux/task.js';
import { syscallNrOf } from '../../core/linux/syscall-prototypes.js';
import { syscall } from '../../core/linux/user-abi.js';
import { CHECK_COSTS, SUPERVISOR_COSTS } from './sandbox-cost-constants.js';
import { CheckedCall, SocketAddress } from './checked-call.js';
import { errnoName, formatCall } from './format-call.js';
import { OpenFileCounter } from './open-file-counter.js';
import { PathResolver } from './path-resolver.js';
import { PolicyEnforcer } from './policy-enforcer.js';
import { SocketInspector } from './socket-inspector.js';
import { PtraceMemoryLimit } from './ptrace-memory-limit.js';
import { SandboxPolicy } from './sandbox-policy.js';
import { SandboxReporter } from './sandbox-reporter.js';
import { FCNTL_DUP_CMDS, argsOf, specOf } from './syscall-specs.js';

const TWO_32 = 0x1_0000_0000;
const hex = (x: number): string => (x < 0 ? '-0x' + (-x).toString(16) : '0x' + x.toString(16));

/** Where the supervisor's code is mapped (a process's text, as `Kernel.spawn` lays it out). */
export const SUPERVISOR_TEXT = 0x40_0000;
/** The CPU the supervisor runs on, and only it; the program runs on TRACEE_CPU (ptrace-launcher.ts). */
export const SUPERVISOR_CPU = 1;
export const TRACEE_CPU = 0;
/** CPUs of the machine of a ptrace run: one for the program, one for its supervisor. */
export const PTRACE_CPUS = 2;
/** Its buffers, in the top page of its stack: wait4's status, PEEKDATA's word, user_regs_struct. */
const SCRATCH = STACK_TOP - 0x800;
const STATUS_VA = SCRATCH;
const WORD_VA = SCRATCH + 8;
const REGS_VA = SCRATCH + 16;

/** Byte offsets in struct user_regs_struct. */
const REG = Object.fromEntries(USER_REGS_FIELDS.map((n, i) => [n, i * 8])) as Record<(typeof USER_REGS_FIELDS)[number], number>;
/** The argument registers in order (rdi, rsi, rdx, r10, r8, r9). */
const ARG_REGS = [REG.rdi, REG.rsi, REG.rdx, REG.r10, REG.r8, REG.r9];

// The supervisor's own code is charged on top of its system calls (which the kernel model charges
// itself): SUPERVISOR_COSTS for the loop around wait4 and the status decode, the register decode of
// an entry stop, the bookkeeping of a denial. The policy step charges what the Dune runtime's does
// (POLICY_COSTS), and string scanning what its checks do per byte (CHECK_COSTS.perStringByte).

/** A system call the supervisor's code makes next. */
interface Request {
  readonly nr: number;
  readonly args: readonly number[];
}

/** The supervisor's code between two of its system calls: yields a call, gets its result back. */
type Steps<T> = Generator<Request, T, number>;

function sys(nr: number, ...args: number[]): Request {
  return { nr, args };
}

/** What the tracee's call in progress needs at its exit stop. */
interface InFlight {
  readonly call: CheckedCall;
  /** Set when the call was denied at its entry stop: the value RAX gets at the exit stop. */
  readonly deniedWith?: number;
  /** Whether the result feeds the memory limit or the descriptor count. */
  readonly track: boolean;
}

/** The figures of `--stats`. */
export interface SupervisorCounts {
  /** System calls of the tracee seen at their entry stop. */
  intercepted: number;
  allowed: number;
  denied: number;
  /** Refused because a string argument could not be read (PEEKDATA failed) or is too long. */
  rejected: number;
  /** wait4 reports of a stopped tracee: syscall-entry, syscall-exit and signal-delivery stops. */
  stops: number;
  syscallStops: number;
  signalStops: number;
  /** PTRACE_PEEKDATA requests (one word each). */
  peeks: number;
  /** Every ptrace(2) request the supervisor made (GETREGS, SETREGS, PEEKDATA, SYSCALL, SETOPTIONS). */
  ptraceRequests: number;
  /** Every system call the supervisor made (wait4 and ptrace included). */
  supervisorSyscalls: number;
}

/**
 * The Linux way of enforcing a sandbox policy: a supervisor process that traces the program with
 * PTRACE_SYSCALL and judges each call at its entry stop — the way strace-like sandboxes (systrace,
 * Janus, the ptrace mode of mbox) work. It is an ordinary process on the modelled machine: its
 * code is natives in ring 3, and all it learns and changes of the tracee goes through the kernel
 * model's system calls, each with its modelled cost and its context switches:
 *
 *  - `wait4` for every stop; `PTRACE_GETREGS` at each entry stop (the number in orig_rax, the
 *    arguments); `PTRACE_PEEKDATA`, one 8-byte word per call, for every string or path argument;
 *  - the policy step itself is the Dune sandbox's (`PolicyEnforcer`, `FileRules`, `PathResolver`,
 *    the argument kinds of `syscall-specs.ts`), charged the same;
 *  - a denial sets orig_rax to -1 (`PTRACE_SETREGS`), so the kernel skips the call, and RAX to
 *    -errno at the exit stop (`PTRACE_GETREGS` + `PTRACE_SETREGS`);
 *  - the results that feed limits.openFiles and limits.memory are read at the exit stop.
 *
 * What it does not do: the Dune runtime's pointer checks (there is no runtime in the tracee to
 * protect, and the kernel checks user pointers itself), its emulation of rt_sigaction (signals
 * are the kernel's, delivered as on Linux, after a signal-delivery stop), its refusal of
 * ARCH_SET_GS (GS is no one's here). PathResolver reads the tracee's cwd and descriptors from the
 * kernel model, where a C supervisor would readlink /proc/PID/cwd and /proc/PID/fd/N.
 *
 * A ptrace sandbox checks a copy of the path and the kernel later reads the tracee's memory
 * again: another thread of the tracee (or a process sharing its memory) could change the string
 * between the entry stop and the kernel's read — the classic TOCTOU hole of syscall interposition
 * (Garfinkel, "Traps and Pitfalls", NDSS 2003). The programs run here are single-threaded (the
 * kernel model has no clone of threads into a traced process), so it is noted, not closed.
 */
export class PtraceSupervisor {
  readonly counts: SupervisorCounts = {
    intercepted: 0, allowed: 0, denied: 0, rejected: 0, stops: 0, syscallStops: 0, signalStops: 0,
    peeks: 0, ptraceRequests: 0, supervisorSyscalls: 0,
  };
  /** The supervisor process, once spawned. */
  process: Process | undefined;
  /** The clock and instruction count when the tracee was first let go (-1: not yet). */
  startCycles = -1;
  startInstructions = 0;
  readonly fds = new OpenFileCounter();
  readonly memory: PtraceMemoryLimit | undefined;
  private enforcer: PolicyEnforcer | undefined;
  private tracee: Process | undefined;
  private steps: Steps<void> | undefined;
  private request: Request | undefined;
  private cpu!: Cpu;
  private callAddr = 0;

  constructor(
    private readonly kernel: Kernel,
    readonly policy: SandboxPolicy,
    private readonly reporter: SandboxReporter,
  ) {
    this.memory = policy.limits.memory !== undefined ? new PtraceMemoryLimit(policy.limits.memory) : undefined;
  }

  get started(): boolean {
    return this.startCycles >= 0;
  }

  /**
   * Creates the supervisor process (runnable, first in the run queue), pinned to its own CPU,
   * SUPERVISOR_CPU: it never runs on the program's CPU, so no state the program left in a CPU
   * (registers, a TLB, a half-done instruction) is ever the supervisor's.
   */
  spawn(): Process {
    let code: CodeBuilder | undefined;
    this.process = this.kernel.spawn('ptrace-supervisor', (c) => {
      code = c;
      // Touch the scratch page first (a fault restarts this native, which has done nothing yet).
      c.op('main', (cpu) => this.own(cpu) && cpu.mmu.write64(SCRATCH, 0, 0), 2);
      c.op('start', (cpu) => this.own(cpu) && this.advance(cpu, 0), 0);
      c.op('call', (cpu) => {
        if (!this.own(cpu)) return;
        const r = this.request!;
        this.counts.supervisorSyscalls++;
        syscall(cpu, r.nr, ...r.args);
      }, SUPERVISOR_COSTS.syscall);
      c.op('result', (cpu) => this.own(cpu) && this.advance(cpu, cpu.reg(RAX)), 1);
      return 'main';
    }, { codeBase: SUPERVISOR_TEXT, cpusAllowed: [SUPERVISOR_CPU] });
    this.callAddr = code!.addr('call');
    const text = code!.build();
    this.stubs = ['main', 'start', 'call', 'result'].map((label) => {
      const addr = code!.addr(label);
      return { label, addr, bytes: text.slice(addr - SUPERVISOR_TEXT, addr - SUPERVISOR_TEXT + NATIVE_STUB_LENGTH) };
    });
    return this.process;
  }

  /** The supervisor's instructions (address and stub bytes), for tests that try to forge them. */
  stubs: ReadonlyArray<{ readonly label: string; readonly addr: number; readonly bytes: Uint8Array }> = [];

  /**
   * Whether `cpu` runs the supervisor itself: its task, on SUPERVISOR_CPU, in its address space,
   * in ring 3. Its code is natives, and the bytes of a native's stub are no secret — the program
   * could write them at the same address in its own address space and jump there. Anywhere else
   * the stub is what its bytes say, UD0: #UD (SIGILL for the program), and the supervisor's
   * state, its scratch memory and its next request are untouched.
   */
  private own(cpu: Cpu): true {
    const me = this.process!;
    const t = this.kernel.current[cpu.index];
    if (cpu.index !== SUPERVISOR_CPU || t === undefined || t.process !== me || cpu.cr3 !== me.mm.cr3 || cpu.cpl !== 3) cpu.ud();
    return true;
  }

  /**
   * The program to supervise: a child of the supervisor, traced by it (what fork, PTRACE_TRACEME
   * and execve leave behind). Must be called before the machine runs.
   */
  supervise(tracee: Process): void {
    this.tracee = tracee;
    this.enforcer = new PolicyEnforcer(this.policy, new PathResolver(this.kernel, tracee), this.fds, new SocketInspector(tracee));
  }

  /** Runs the supervisor's code up to its next system call (or its end: exit_group(0)). */
  private advance(cpu: Cpu, result: number): void {
    this.cpu = cpu;
    this.steps ??= this.main();
    const next = this.steps.next(result);
    if (next.done === true) {
      this.counts.supervisorSyscalls++;
      syscall(cpu, NR.exit_group, 0);
      return;
    }
    this.request = next.value;
    if (next.value.nr === NR.ptrace) this.counts.ptraceRequests++;
    cpu.jump(this.callAddr);
  }


  private charge(instructions: number): void {
    this.cpu.charge(instructions * this.cpu.costs.instruction);
  }

  // -----------------------------------------------------------------------------------------
  // The supervisor's program.

  private *main(): Steps<void> {
    const pid = this.tracee!.pid;
    let inSyscall = false;
    let inFlight: InFlight | undefined;
    let first = true;
    for (;;) {
      const got = yield sys(NR.wait4, pid, STATUS_VA, __WALL, 0);
      this.charge(SUPERVISOR_COSTS.loop);
      if (got < 0) return; // ECHILD: nothing left to trace
      const status = this.cpu.mmu.read32(STATUS_VA);
      if ((status & 0x7f) !== 0x7f) return; // the tracee exited or was killed: reaped, done
      this.counts.stops++;
      const sig = (status >> 8) & 0xff;
      let inject = 0;
      if (first) {
        // The SIGTRAP execve sends a traced task: syscall stops from now on, marked with 0x80.
        first = false;
        yield sys(NR.ptrace, PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD);
        this.startCycles = this.cpu.cycles;
        this.startInstructions = this.kernel.machine.cpus.reduce((a, c) => a + c.instructions, 0);
      } else if (sig === (SIGTRAP | 0x80)) {
        this.counts.syscallStops++;
        if (!inSyscall) inFlight = yield* this.entryStop(pid);
        else if (inFlight !== undefined) {
          yield* this.exitStop(pid, inFlight);
          inFlight = undefined;
        }
        inSyscall = !inSyscall;
      } else {
        // A signal-delivery stop: the signal goes on to the tracee, as the kernel would deliver it.
        this.counts.signalStops++;
        inject = sig;
      }
      yield sys(NR.ptrace, PTRACE_SYSCALL, pid, 0, inject);
    }
  }

  /** The registers of the stopped tracee, into REGS_VA. */
  private *getRegs(pid: number): Steps<boolean> {
    return (yield sys(NR.ptrace, PTRACE_GETREGS, pid, 0, REGS_VA)) === 0;
  }

  private reg(off: number): number {
    return this.cpu.mmu.read64Number(REGS_VA + off);
  }

  private setReg(off: number, v: number): void {
    this.cpu.mmu.write64(REGS_VA + off, v >>> 0, Math.floor(v / TWO_32) >>> 0);
  }

  /** The entry stop: decode the call, read its strings, ask the policy; deny by skipping it. */
  private *entryStop(pid: number): Steps<InFlight | undefined> {
    if (!(yield* this.getRegs(pid))) return undefined;
    this.counts.intercepted++;
    this.charge(SUPERVISOR_COSTS.decode);
    // The number and the arguments as the kernel reads them (syscall-prototypes.ts, the same
    // table the kernel model's dispatch uses): an int, and each argument at its prototype's
    // width, from the exact 64-bit words of user_regs_struct. The kernel acts on these values and
    // no others, so judging them needs no PTRACE_SETREGS to make the kernel agree.
    const nr = syscallNrOf(this.cpu.mmu.read32(REGS_VA + REG.orig_rax));
    const spec = specOf(nr);
    const args = argsOf(spec, ARG_REGS.map((o) => this.cpu.mmu.read32(REGS_VA + o)), ARG_REGS.map((o) => this.cpu.mmu.read32(REGS_VA + o + 4)));
    if (spec === undefined) {
      const errno = this.policy.unknownErrno;
      this.counts.denied++; // as the sandbox runtime counts it: intercepted = allowed + denied + rejected
      this.reporter.add({
        kind: 'denied', attempted: formatCall(nr, undefined, args),
        rule: 'the sandbox has no argument table for it (unknown calls are denied: unknownSyscalls)', outcome: errnoName(errno),
      });
      return yield* this.skip(pid, { call: { nr, spec: { nr, name: `syscall_${nr}`, args: [], handling: 'passthrough', widths: new Uint8Array(0) }, args, strings: new Map() }, deniedWith: -errno, track: false });
    }
    const strings = new Map<number, string>();
    const call: CheckedCall = { nr, spec, args, strings };
    const refused = yield* this.readAddresses(pid, call);
    if (refused !== undefined) return refused;
    for (let i = 0; i < spec.args.length; i++) {
      const a = spec.args[i]!;
      if (a.kind !== 'string' && a.kind !== 'path') continue;
      const s = yield* this.peekString(pid, args[i]!, PATH_MAX - 1);
      if (typeof s === 'string') {
        strings.set(i, s);
        continue;
      }
      const errno = s;
      const why = s === EFAULT ? `${a.name} (${hex(args[i]!)}) cannot be read (PTRACE_PEEKDATA: -EIO)` : `${a.name} is longer than PATH_MAX`;
      this.counts.rejected++;
      this.reporter.add({ kind: 'rejected', attempted: formatCall(nr, spec, args), rule: why, outcome: errnoName(errno) });
      return yield* this.skip(pid, { call, deniedWith: -errno, track: false });
    }
    const d = this.enforcer!.check(this.cpu, call);
    if (!d.allow) return yield* this.deny(pid, call, d.rule, d.errno);
    // A task the tracee makes would run untraced (the supervisor sets no PTRACE_O_TRACECLONE):
    // the ptrace way runs single-threaded programs only, as before clone had a row.
    if (call.spec.handling === 'clone') return yield* this.deny(pid, call, 'the ptrace way traces one task: a clone would run untraced', 1 /* EPERM */);
    const mem = this.memory;
    if (mem !== undefined && mem.tracks(nr)) {
      const refused = mem.check(nr, args);
      if (refused !== undefined) return yield* this.deny(pid, call, refused.rule, 12 /* ENOMEM */, refused.returned);
    }
    this.counts.allowed++;
    const track = (mem !== undefined && mem.tracks(nr)) || this.countsDescriptors(call);
    return track ? { call, track } : undefined;
  }

  /**
   * The struct sockaddr arguments the firewall's `network` rules judge (kind 'sockaddr' of
   * syscall-specs.ts, length in argument `len`): family, port and IPv4 address, as the Dune
   * runtime's checks read them, here from at most two PEEKDATA words. Read into `call.addresses`.
   */
  private *readAddresses(pid: number, call: CheckedCall): Steps<InFlight | undefined> {
    const addresses = new Map<number, SocketAddress>();
    for (let i = 0; i < call.spec.args.length; i++) {
      const a = call.spec.args[i]!;
      const x = call.args[i]!;
      if (a.kind !== 'sockaddr' || x === 0) continue;
      const len = call.args[a.len]!;
      if (len < 2) continue;
      const b = yield* this.peekBytes(pid, x, Math.min(len, 8));
      if (b === undefined) {
        this.counts.rejected++;
        this.reporter.add({ kind: 'rejected', attempted: formatCall(call.nr, call.spec, call.args), rule: `${a.name} (${hex(x)}) cannot be read (PTRACE_PEEKDATA: -EIO)`, outcome: errnoName(EFAULT) });
        return yield* this.skip(pid, { call, deniedWith: -EFAULT, track: false });
      }
      // sin_port and sin_addr are in network byte order.
      const dv = new DataView(b.buffer);
      addresses.set(i, { family: dv.getUint16(0, true), port: b.length >= 4 ? dv.getUint16(2, false) : 0, addr: b.length >= 8 ? dv.getUint32(4, false) : 0 });
    }
    if (addresses.size > 0) (call as { addresses?: ReadonlyMap<number, SocketAddress> }).addresses = addresses;
    return undefined;
  }

  /** `n` bytes of the tracee from the aligned PEEKDATA words that hold them; undefined if one fails. */
  private *peekBytes(pid: number, va: number, n: number): Steps<Uint8Array | undefined> {
    const out = new Uint8Array(n);
    const skip = ((va % 8) + 8) % 8;
    let k = 0;
    for (let word = va - skip; k < n; word += 8) {
      const r = yield sys(NR.ptrace, PTRACE_PEEKDATA, pid, word, WORD_VA);
      this.counts.peeks++;
      if (r !== 0) return undefined;
      for (let i = word === va - skip ? skip : 0; i < 8 && k < n; i++) out[k++] = this.cpu.mmu.read8(WORD_VA + i);
    }
    return out;
  }

  /** Whether the call's result changes the descriptor count (only kept under limits.openFiles). */
  private countsDescriptors(call: CheckedCall): boolean {
    if (this.policy.limits.openFiles === undefined) return false;
    const h = call.spec.handling;
    if (h !== 'fd-open' && h !== 'fd-close') return false;
    return !(call.nr === NR.fcntl && !FCNTL_DUP_CMDS.has(call.args[1]!));
  }

  private *deny(pid: number, call: CheckedCall, rule: string, errno: number, returned?: number): Steps<InFlight> {
    this.counts.denied++;
    this.reporter.add({
      kind: 'denied',
      attempted: formatCall(call.nr, call.spec, call.args, call.strings, call.addresses),
      rule,
      outcome: returned !== undefined ? `${errnoName(errno).slice(1)}: returns ${hex(returned)}` : errnoName(errno),
    });
    return yield* this.skip(pid, { call, deniedWith: returned ?? -errno, track: false });
  }

  /**
   * orig_rax = -1: the kernel skips the call (syscall_trace_enter returns -1). The caller counts
   * it — denied or rejected, once — so that intercepted = allowed + denied + rejected.
   */
  private *skip(pid: number, f: InFlight): Steps<InFlight> {
    this.charge(SUPERVISOR_COSTS.deny);
    this.setReg(REG.orig_rax, -1);
    yield sys(NR.ptrace, PTRACE_SETREGS, pid, 0, REGS_VA);
    return f;
  }

  /** The exit stop of a call the supervisor follows: RAX for a denial, the counts for the limits. */
  private *exitStop(pid: number, f: InFlight): Steps<void> {
    if (!(yield* this.getRegs(pid))) return;
    if (f.deniedWith !== undefined) {
      this.setReg(REG.rax, f.deniedWith);
      yield sys(NR.ptrace, PTRACE_SETREGS, pid, 0, REGS_VA);
      return;
    }
    const r = this.reg(REG.rax);
    const { nr, args } = f.call;
    if (this.memory !== undefined && this.memory.tracks(nr)) this.memory.done(nr, args, r);
    if (!this.countsDescriptors(f.call) || r < 0) return;
    if (nr === NR.close) this.fds.closed(args[0]!);
    else if (nr === NR.pipe || nr === NR.pipe2) {
      // int pipefd[2]: one word.
      if ((yield sys(NR.ptrace, PTRACE_PEEKDATA, pid, args[0]!, WORD_VA)) === 0) {
        this.counts.peeks++;
        this.fds.opened(this.cpu.mmu.read32(WORD_VA) | 0);
        this.fds.opened(this.cpu.mmu.read32(WORD_VA + 4) | 0);
      }
    } else this.fds.opened(r);
  }

  /**
   * A NUL-terminated string of the tracee, one PTRACE_PEEKDATA (8 bytes) at a time, from the
   * aligned word that holds its first byte (aligned words never cross into an unmapped page):
   * EFAULT when a word cannot be read, ENAMETOOLONG without a NUL in `max + 1` bytes.
   */
  private *peekString(pid: number, va: number, max: number): Steps<string | number> {
    const bytes: number[] = [];
    const skip = ((va % 8) + 8) % 8;
    for (let word = va - skip, first = true; ; word += 8, first = false) {
      const r = yield sys(NR.ptrace, PTRACE_PEEKDATA, pid, word, WORD_VA);
      this.counts.peeks++;
      if (r !== 0) return EFAULT;
      this.charge(CHECK_COSTS.perStringByte * 8);
      for (let i = first ? skip : 0; i < 8; i++) {
        const b = this.cpu.mmu.read8(WORD_VA + i);
        if (b === 0) return new TextDecoder().decode(new Uint8Array(bytes));
        if (bytes.length === max) return ENAMETOOLONG;
        bytes.push(b);
      }
    }
  }

  /** Figures for --stats. */
  stats(): Record<string, unknown> {
    return {
      policy: this.policy.name,
      ...this.counts,
      ...(this.memory !== undefined ? { memoryInUse: this.memory.used } : {}),
      openFiles: this.fds.count,
    };
  }
}
