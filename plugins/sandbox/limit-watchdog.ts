import { HostWaitLimits, Kernel, RunEnd, queueSignalToProcess } from '../../core/linux/kernel.js';
import { LOCAL_TIMER_VECTOR, SIGKILL } from '../../core/linux/linux-abi.js';
import type { Process } from '../../core/linux/task.js';
import { SandboxLimits } from './sandbox-policy.js';
import { SandboxReporter } from './sandbox-reporter.js';

/** Where the limits count from: the program's first instruction (the sandbox runtime, the ptrace supervisor). */
export interface LimitClock {
  readonly started: boolean;
  readonly startCycles: number;
  readonly startInstructions: number;
}

/** The limits the watchdog enforces by SIGKILL. */
export type KillLimit = 'cycles' | 'instructions' | 'wallSeconds' | 'idleSeconds';

/** Cycles the machine runs between two looks at the counters. */
const SLICE = 1_000_000;
/** The smallest slice near an instruction limit (the overshoot is at most about this). */
const MIN_SLICE = 1_000;
/** The vector of the host's timer tick as it reaches a CPU (any vector: the guest exits on it). */
const TIMER_VECTOR = LOCAL_TIMER_VECTOR;
/** Slices the machine runs on after a kill, for the signal to land. */
const MAX_SLICES_AFTER_KILL = 20;

/**
 * The limits of time, what RLIMIT_CPU and a supervisor's alarm are to a Linux process:
 *
 *  - limits.cycles and limits.instructions count the program's work on the machine's clocks
 *    (from its first instruction, with the runtime's work on its behalf), deterministically;
 *  - limits.wallSeconds counts real seconds from the start of the run, whatever the program
 *    does (runs, sleeps, waits for the host);
 *  - limits.idleSeconds counts real seconds the machine sits idle waiting for the host at a
 *    stretch — every task asleep, one of them on a host socket (a server in accept that no
 *    client reaches): such a program uses no instructions, so no other limit would ever end it.
 *
 * The machine runs in slices; when the program reaches a limit it gets SIGKILL — and, as the
 * host's timer tick would, an external interrupt makes a guest spinning in ring 3 exit
 * (pin-based external-interrupt exiting), so the Dune module sees the pending signal and the
 * process dies. A sleeping program is woken by the SIGKILL itself. A run in which every task is
 * blocked with nothing that could wake one (Kernel.run's 'deadlock') ends at once, limit or not.
 */
export class LimitWatchdog {
  /** Set when a limit ended the program: which, and where it was. */
  fired: { limit: KillLimit; value: number; rip: number } | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly process: Process,
    private readonly runtime: LimitClock,
    private readonly limits: SandboxLimits,
    private readonly reporter: SandboxReporter,
  ) {}

  run(): RunEnd {
    const k = this.kernel;
    const { cycles, instructions, wallSeconds, idleSeconds } = this.limits;
    const wallDeadline = wallSeconds !== undefined ? performance.now() + wallSeconds * 1000 : Infinity;
    const host: HostWaitLimits = {
      ...(idleSeconds !== undefined ? { idleMs: idleSeconds * 1000 } : {}),
      ...(wallSeconds !== undefined ? { wallDeadline } : {}),
    };
    const cpus = k.machine.cpus;
    const clock = (): number => Math.max(...cpus.map((c) => c.cycles));
    const executed = (): number => cpus.reduce((a, c) => a + c.instructions, 0);
    if (cycles === undefined && instructions === undefined && wallSeconds === undefined) {
      const end = k.run(Infinity, host);
      return end === 'idle-limit' && !this.process.zombie ? this.killIdle(idleSeconds!) : end;
    }
    for (;;) {
      if (this.process.zombie) return 'done';
      const now = clock();
      let target = now + SLICE;
      const rt = this.runtime;
      if (rt.started) {
        if (cycles !== undefined) target = Math.min(target, rt.startCycles + cycles);
        if (instructions !== undefined) {
          const left = rt.startInstructions + instructions - executed();
          target = Math.min(target, now + Math.max(MIN_SLICE, left * cpus[0]!.costs.instruction));
        }
      }
      const end = k.run(target, host);
      if (this.process.zombie) return end;
      if (rt.started) {
        if (cycles !== undefined && clock() - rt.startCycles >= cycles) return this.killRunning('cycles', cycles);
        if (instructions !== undefined && executed() - rt.startInstructions >= instructions) return this.killRunning('instructions', instructions);
      }
      if (end === 'idle-limit') return this.killIdle(idleSeconds!);
      if (end === 'wall' || performance.now() >= wallDeadline) return this.killRunning('wallSeconds', wallSeconds!);
      if (end !== 'cycles') return end; // done, blocked for good, or the host stayed silent
    }
  }

  /** A limit of work or of real time: the program is (or may be) running. */
  private killRunning(limit: KillLimit, value: number): RunEnd {
    const k = this.kernel;
    const t = this.process.threads[0];
    const cpu = t !== undefined && t.cpu >= 0 ? k.machine.cpus[t.cpu]! : k.machine.cpus[0]!;
    const used = limit === 'cycles'
      ? `${Math.round(cpu.cycles - this.runtime.startCycles)} cycles`
      : limit === 'instructions'
        ? `${k.machine.cpus.reduce((a, c) => a + c.instructions, 0) - this.runtime.startInstructions} instructions`
        : `${value} s of real time`;
    const running = k.current[cpu.index]?.process === this.process;
    const where = running ? `running on at rip 0x${cpu.rip.toString(16)} (ring ${cpu.cpl})` : `blocked (${k.describeBlocked()})`;
    return this.kill(limit, value, running ? cpu.rip : (t?.regs.rip ?? 0), `${where} after ${used}`);
  }

  /** limits.idleSeconds: every task asleep, waiting for the host that did not come. */
  private killIdle(value: number): RunEnd {
    const t = this.process.threads[0];
    return this.kill('idleSeconds', value, t?.regs.rip ?? 0, `idle for ${value} s waiting for the host (${this.kernel.describeBlocked()})`);
  }

  private kill(limit: KillLimit, value: number, rip: number, attempted: string): RunEnd {
    const k = this.kernel;
    this.fired = { limit, value, rip };
    this.reporter.add({ kind: 'killed', attempted, rule: `limits.${limit} ${value}`, outcome: 'killed by SIGKILL' });
    queueSignalToProcess(k, this.process, SIGKILL, 0);
    // The host's timer tick makes the signal be seen now: in a Dune guest it is an external
    // interrupt that exits (pin-based external-interrupt exiting); in a plain process's ring 3 it
    // enters the kernel's apic_timer_interrupt, whose way back delivers the signal. With
    // interrupts off (the kernel, a runtime path) it waits, and the way back sees the signal.
    // A task asleep in the kernel is woken by the SIGKILL itself (signal_wake_up).
    for (const cpu of k.machine.cpus) if (k.current[cpu.index]?.process === this.process) cpu.interrupt(TIMER_VECTOR);
    // A safety net: the run stops after MAX_SLICES_AFTER_KILL more slices in any case, and
    // never waits for the host again.
    let end: RunEnd = 'cycles';
    for (let i = 0; i < MAX_SLICES_AFTER_KILL && !this.process.zombie; i++) {
      const before = Math.max(...k.machine.cpus.map((c) => c.cycles));
      end = k.run(before + SLICE, { idleMs: 0 });
      if (end !== 'cycles') break;
    }
    return this.process.zombie ? 'done' : end;
  }
}
