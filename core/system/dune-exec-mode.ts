import { injectable, multiInject, optional } from 'inversify';
import type { ExecLaunchContext, ExecLauncher, ExecMode } from '../framework/exec-mode.js';
import { VmExitHandler } from '../framework/vm-exit-handler.js';
import { DuneModule } from '../dune/dune-module.js';
import { LibDune } from '../dune/libdune.js';
import { deliverFaultsAsSignals, restoreDispositions } from '../dune/fault-signals.js';
import type { Kernel } from '../linux/kernel.js';
import { loadElf } from '../linux/exec.js';
import type { Process } from '../linux/task.js';
import { CodeBuilder } from '../vtx/code-builder.js';
import { RSP } from '../vtx/cpu.js';

/** Where exec --mode dune puts its loader stub (inside Dune's identity window). */
const DUNE_LOADER = 0x6000_0000;
/**
 * Where exec --mode dune loads a static PIE: Linux's default base (0x5555_5555_4000) lies outside
 * Dune's guest-physical windows, so, like the Dune sandbox's loader (LOADER_VADDR_OFF), it goes
 * low in the identity window.
 */
const DUNE_PIE_BASE = 0x6f00_0000;

/**
 * `dunesim exec --mode dune`: the program as a Dune process. The plugins' VM-exit handlers
 * (VmExitHandler) go to the Dune module of each run, asked before its own handling.
 */
@injectable()
export class DuneExecMode implements ExecMode {
  readonly id = 'dune';
  readonly description = "a Dune process: libDune enters Dune before the program's first instruction, which then runs in guest ring 0";

  constructor(@multiInject(VmExitHandler) @optional() private readonly exitHandlers: readonly VmExitHandler[] = []) {}

  prepare(): ExecLauncher {
    return new DuneLauncher(this.exitHandlers ?? []);
  }
}

/**
 * One run as a Dune process: the Dune module is loaded into the kernel, the ELF is loaded as
 * Linux would, and the process starts in a loader stub that runs libDune's dune_init and
 * dune_enter (with the program's signal dispositions kept), then jumps to the ELF entry in guest
 * ring 0. libDune's LSTAR trampoline forwards every SYSCALL as a VMCALL; faults the program does
 * not handle become the signals Linux would deliver.
 */
export class DuneLauncher implements ExecLauncher {
  private kernel: Kernel | undefined;

  constructor(readonly exitHandlers: readonly VmExitHandler[] = []) {}

  launch(ctx: ExecLaunchContext): Process {
    const k = ctx.kernel;
    this.kernel = k;
    new DuneModule(k, { exitHandlers: this.exitHandlers });
    const p = k.newProcess(ctx.path, k.newAddressSpace());
    const img = loadElf(k, p, ctx.elf, [...ctx.argv], [...ctx.envp], ctx.path, DUNE_PIE_BASE);
    const lib = new LibDune(k, p);
    deliverFaultsAsSignals(lib);
    const c = new CodeBuilder(k.machine.natives, DUNE_LOADER, 'dune-exec', 3);
    c.op('init', (cpu) => {
      const before = p.actions.map((a) => ({ ...a }));
      lib.init(cpu, true);
      restoreDispositions(p, before);
    }, 1);
    lib.emitEnter(c, 'enter', 'guest');
    // The first instruction inside Dune: the program's entry, in guest ring 0, with the initial
    // stack the loader built (RDX = 0: no function for atexit, as the ABI says).
    c.op('guest', (cpu) => {
      for (let i = 0; i < 16; i++) cpu.setReg(i, 0);
      cpu.setReg(RSP, img.sp);
      cpu.jump(img.entry);
    }, 3);
    k.mapCode(p, c, '[dune-exec]');
    const t = k.newTask(p);
    t.regs.rip = c.addr('init');
    t.regs.set(RSP, img.sp);
    k.enqueue(t);
    return p;
  }

  /** vCPUs of the Dune module: one per thread that entered, freed when it exits or execs. */
  stats(): Record<string, unknown> {
    const st = this.kernel!.machine.stats;
    return { vcpusCreated: st.get('dune.vcpusCreated'), vcpusFreed: st.get('dune.vcpusFreed'), leaves: st.get('dune.leaves') };
  }
}
