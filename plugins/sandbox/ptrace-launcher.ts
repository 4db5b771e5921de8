import { RSP } from '../../core/vtx/cpu.js';
import { ExecLaunchContext, ExecLauncher } from '../../core/framework/exec-mode.js';
import { loadElf } from '../../core/linux/exec.js';
import { Kernel, RunEnd, queueSignalToProcess } from '../../core/linux/kernel.js';
import { SIGTRAP } from '../../core/linux/linux-abi.js';
import type { Process } from '../../core/linux/task.js';
import { LimitWatchdog } from './limit-watchdog.js';
import { PTRACE_CPUS, PtraceSupervisor, TRACEE_CPU } from './ptrace-supervisor.js';
import { SandboxPolicy } from './sandbox-policy.js';
import { SandboxReporter } from './sandbox-reporter.js';

/**
 * `--mode ptrace` for one run: the policy enforced by a supervisor process that traces the
 * program (PtraceSupervisor). The supervisor starts first; the program is its child, traced by
 * it, at its ELF entry with the SIGTRAP pending that execve sends a traced task — what a C
 * supervisor's fork, PTRACE_TRACEME and execve leave behind (the launcher builds that state, as
 * `exec --mode linux` builds a fresh process, rather than exec from inside a supervisor that
 * would need a file of its own in the guest's tree). The program is
 * loaded exactly as in `--mode linux` (same addresses, same initial stack), so the two runs differ
 * only by the supervision. The exit status is the program's.
 */
export class PtraceLauncher implements ExecLauncher {
  /** One CPU for the program, one for the supervisor (PtraceSupervisor.spawn). */
  readonly cpus = PTRACE_CPUS;
  reporter: SandboxReporter | undefined;
  supervisor: PtraceSupervisor | undefined;
  watchdog: LimitWatchdog | undefined;

  constructor(readonly policy: SandboxPolicy) {}

  launch(ctx: ExecLaunchContext): Process {
    const k = ctx.kernel;
    const reporter = new SandboxReporter(ctx.report);
    this.reporter = reporter;
    const sup = new PtraceSupervisor(k, this.policy, reporter);
    this.supervisor = sup;
    const parent = sup.spawn();
    const p = k.newProcess(ctx.path, k.newAddressSpace(), parent);
    const img = loadElf(k, p, ctx.elf, [...ctx.argv], [...ctx.envp], ctx.path);
    const t = k.newTask(p);
    t.regs.rip = img.entry;
    t.regs.set(RSP, img.sp);
    t.regs.rflags = 0x202;
    t.cpusAllowed = [TRACEE_CPU]; // never the supervisor's CPU, nor its children
    t.tracer = parent; // PTRACE_TRACEME
    queueSignalToProcess(k, p, SIGTRAP, p.pid); // execve of a traced task
    sup.supervise(p);
    k.enqueue(t);
    return p;
  }

  run(kernel: Kernel, process: Process): RunEnd {
    this.watchdog = new LimitWatchdog(kernel, process, this.supervisor!, this.policy.limits, this.reporter!);
    const end = this.watchdog.run();
    this.reporter!.finish();
    return end;
  }

  stats(): Record<string, unknown> {
    const r = this.reporter!;
    return {
      ...this.supervisor!.stats(),
      reports: { denied: r.count('denied'), rejected: r.count('rejected'), killed: r.count('killed') },
      ...(this.watchdog?.fired !== undefined ? { limitReached: this.watchdog.fired } : {}),
    };
  }
}
