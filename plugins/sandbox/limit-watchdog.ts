import { Kernel, queueSignalToProcess } from '../../core/linux/kernel.js';
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

/** Cycles the machine runs between two looks at the counters. */
const SLICE = 1_000_000;
/** The smallest slice near an instruction limit (the overshoot is at most about this). */
const MIN_SLICE = 1_000;
/** The vector of the host's timer tick as it reaches a CPU (any vector: the guest exits on it). */
const TIMER_VECTOR = LOCAL_TIMER_VECTOR;
/** Slices the machine runs on after a kill, for the signal to land. */
const MAX_SLICES_AFTER_KILL = 20;

/**
 * limits.cycles and limits.instructions: what RLIMIT_CPU is to a Linux process. The machine runs
 * in slices; when the program (counted from its first instruction, with the runtime's work on its
 * behalf) reaches a limit, it gets SIGKILL — and, as the host's timer tick would, an external
 * interrupt makes a guest spinning in ring 3 exit (pin-based external-interrupt exiting), so the
 * Dune module sees the pending signal and the process dies. A loop can spin without end, and
 * the host goes on.
 */
export class LimitWatchdog {
  /** Set when a limit ended the program: which, and where it was. */
  fired: { limit: 'cycles' | 'instructions'; value: number; rip: number } | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly process: Process,
    private readonly runtime: LimitClock,
    private readonly limits: SandboxLimits,
    private readonly reporter: SandboxReporter,
  ) {}

  run(): void {
    const k = this.kernel;
    const { cycles, instructions } = this.limits;
    if (cycles === undefined && instructions === undefined) {
      k.run();
      return;
    }
    const cpus = k.machine.cpus;
    const clock = (): number => Math.max(...cpus.map((c) => c.cycles));
    const executed = (): number => cpus.reduce((a, c) => a + c.instructions, 0);
    for (;;) {
      if (this.process.zombie) return;
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
      k.run(target);
      if (this.process.zombie) return;
      if (rt.started) {
        if (cycles !== undefined && clock() - rt.startCycles >= cycles) return this.kill('cycles', cycles);
        if (instructions !== undefined && executed() - rt.startInstructions >= instructions) return this.kill('instructions', instructions);
      }
      // Every CPU idle and the program not done: it is blocked for good (nothing will wake it).
      if (clock() === now && cpus.every((c) => c.halted)) return;
    }
  }

  private kill(limit: 'cycles' | 'instructions', value: number): void {
    const k = this.kernel;
    const t = this.process.threads[0];
    const cpu = t !== undefined && t.cpu >= 0 ? k.machine.cpus[t.cpu]! : k.machine.cpus[0]!;
    this.fired = { limit, value, rip: cpu.rip };
    const used = limit === 'cycles' ? Math.round(cpu.cycles - this.runtime.startCycles) : k.machine.cpus.reduce((a, c) => a + c.instructions, 0) - this.runtime.startInstructions;
    this.reporter.add({
      kind: 'killed',
      attempted: `running on at rip 0x${cpu.rip.toString(16)} (ring ${cpu.cpl}) after ${used} ${limit}`,
      rule: `limits.${limit} ${value}`,
      outcome: 'killed by SIGKILL',
    });
    queueSignalToProcess(k, this.process, SIGKILL, 0);
    // The host's timer tick makes the signal be seen now: in a Dune guest it is an external
    // interrupt that exits (pin-based external-interrupt exiting); in a plain process's ring 3 it
    // enters the kernel's apic_timer_interrupt, whose way back delivers the signal. With
    // interrupts off (the kernel, a runtime path) it waits, and the way back sees the signal.
    if (k.current[cpu.index]?.process === this.process) cpu.interrupt(TIMER_VECTOR);
    // A safety net: the run stops after MAX_SLICES_AFTER_KILL more slices in any case.
    for (let i = 0; i < MAX_SLICES_AFTER_KILL && !this.process.zombie; i++) {
      const before = Math.max(...k.machine.cpus.map((c) => c.cycles));
      k.run(before + SLICE);
      if (k.machine.cpus.every((c) => c.halted)) return;
    }
  }
}
