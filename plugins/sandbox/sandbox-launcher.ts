import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { RSP } from '../../core/vtx/cpu.js';
import { DuneModule } from '../../core/dune/dune-module.js';
import { DuneRet } from '../../core/dune/dune-abi.js';
import { LIBDUNE_TEXT, LibDune, PAGEBASE } from '../../core/dune/libdune.js';
import { ExecLaunchContext, ExecLauncher } from '../../core/framework/exec-mode.js';
import { ElfError } from '../../core/linux/elf/elf-file.js';
import { loadElf } from '../../core/linux/exec.js';
import type { Kernel, RunEnd } from '../../core/linux/kernel.js';
import { DEFAULT_STACK_SIZE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_TOP } from '../../core/linux/linux-abi.js';
import type { Process } from '../../core/linux/task.js';
import { Vma } from '../../core/linux/vma.js';
import { VmExitReason } from '../../core/vtx/vmcs-field.js';
import { ARG_COPIES_SIZE, ARG_COPIES_VA } from './argument-copies.js';
import { LimitWatchdog } from './limit-watchdog.js';
import { RuntimeRegions } from './runtime-regions.js';
import { SandboxPolicy } from './sandbox-policy.js';
import { SandboxReporter } from './sandbox-reporter.js';
import { RUNTIME_STACK, RUNTIME_STACK_SIZE, RUNTIME_TEXT, SandboxRuntime } from './sandbox-runtime.js';
import { APP_MAX_ELF_VADDR, UntrustedWindows } from './untrusted-windows.js';
import { MAX_THREADS, THREAD_AREA_VA, THREAD_SLOT_SIZE, slotCopies, slotStack } from './sandbox-thread.js';

/** Where a static PIE goes: LOADER_VADDR_OFF, the top 16 MiB of the ELF window. */
export const SANDBOX_PIE_BASE = 0x6f00_0000;
/** libDune's page pool: room for the page tables of the whole 8 GiB mapping window and more. */
export const SANDBOX_POOL_PAGES = 16384;

/**
 * `--mode sandbox` for one run: a Dune process whose ring 0 is the sandbox runtime and whose
 * ring 3 is the untrusted static binary. The kernel's ELF loader maps the binary into the ELF
 * window (a static PIE at LOADER_VADDR_OFF) with its initial stack, the stack VMA takes its full
 * 8 MiB at once (APP_STACK_SIZE: ring 3 cannot grow it through the kernel), and the runtime's
 * code and stack go right above the window; the process starts in the runtime.
 */
export class SandboxLauncher implements ExecLauncher {
  reporter: SandboxReporter | undefined;
  runtime: SandboxRuntime | undefined;
  lib: LibDune | undefined;
  watchdog: LimitWatchdog | undefined;

  constructor(
    readonly policy: SandboxPolicy,
    /** `largePages`: the paper's "w/ LGPG" — large mmaps backed by 2 MiB pages (host, EPT, guest page table). */
    readonly options: { largePages?: boolean } = {},
  ) {}

  launch(ctx: ExecLaunchContext): Process {
    const k = ctx.kernel;
    const elf = ctx.elf;
    const reporter = new SandboxReporter(ctx.report);
    this.reporter = reporter;
    const dune = new DuneModule(k, { smep: true });
    const base = elf.isStaticPie ? SANDBOX_PIE_BASE : 0;
    for (const seg of elf.loadSegments()) {
      const end = base + seg.vaddr + seg.memsz;
      if (end > APP_MAX_ELF_VADDR) {
        throw new ElfError(`a segment ends at 0x${end.toString(16)}, above the sandbox's ELF window (0x${APP_MAX_ELF_VADDR.toString(16)})`);
      }
    }
    const p = k.newProcess(ctx.path, k.newAddressSpace());
    const img = loadElf(k, p, elf, [...ctx.argv], [...ctx.envp], ctx.path, SANDBOX_PIE_BASE);
    const stack = p.mm.vmas.find(STACK_TOP - 1)!;
    stack.start = STACK_TOP - DEFAULT_STACK_SIZE;
    p.mm.vmas.insert(new Vma(RUNTIME_STACK, RUNTIME_STACK + RUNTIME_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[sandbox stack]'));
    // The runtime's copies of argument buffers (argument-copies.ts): supervisor-only like its stack.
    p.mm.vmas.insert(new Vma(ARG_COPIES_VA, ARG_COPIES_VA + ARG_COPIES_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[sandbox argument copies]'));
    // The ring-0 stack and argument copies of each thread the program may make (sandbox-thread.ts),
    // each slot behind a guard page; in the guest page table without U, like the rest.
    for (let i = 1; i < MAX_THREADS; i++) {
      const st = slotStack(i);
      p.mm.vmas.insert(new Vma(st.start, st.end, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[sandbox thread stack]'));
      p.mm.vmas.insert(new Vma(slotCopies(i), slotCopies(i) + ARG_COPIES_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, '[sandbox thread argument copies]'));
    }
    const lib = new LibDune(k, p, { poolPages: SANDBOX_POOL_PAGES });
    this.lib = lib;
    const windows = new UntrustedWindows(dune.layout);
    const text = lib.text.build().length;
    const regions = new RuntimeRegions(windows, [
      { start: RUNTIME_TEXT, end: RUNTIME_STACK, name: "the sandbox runtime's code" },
      { start: RUNTIME_STACK, end: RUNTIME_STACK + RUNTIME_STACK_SIZE, name: "the sandbox runtime's stack" },
      { start: ARG_COPIES_VA, end: ARG_COPIES_VA + ARG_COPIES_SIZE, name: "the sandbox runtime's copies of arguments" },
      { start: THREAD_AREA_VA, end: THREAD_AREA_VA + (MAX_THREADS - 1) * THREAD_SLOT_SIZE, name: "the sandbox runtime's thread stacks and copies" },
      { start: LIBDUNE_TEXT, end: LIBDUNE_TEXT + Math.max(text, PAGE_SIZE), name: "libDune's code" },
      { start: PAGEBASE, end: PAGEBASE + SANDBOX_POOL_PAGES * PAGE_SIZE, name: "libDune's page pool (page tables, IDT, trap stacks)" },
    ]);
    const runtime = new SandboxRuntime({ kernel: k, process: p, lib, image: img, policy: this.policy, reporter, windows, regions, largePages: this.options.largePages });
    this.runtime = runtime;
    k.mapCode(p, runtime.code, '[sandbox runtime]');
    const t = k.newTask(p);
    t.regs.rip = runtime.code.addr('init');
    t.regs.set(RSP, RUNTIME_STACK + RUNTIME_STACK_SIZE - 64);
    t.regs.rflags = 0x202;
    k.enqueue(t);
    return p;
  }

  run(kernel: Kernel, process: Process): RunEnd {
    this.watchdog = new LimitWatchdog(kernel, process, this.runtime!, this.policy.limits, this.reporter!);
    const end = this.watchdog.run();
    // The process left Dune in a way the runtime never saw: libDune's on_dune_exit ended it.
    const last = this.lib!.lastExit;
    if (last !== undefined) {
      const what = last.ret === DuneRet.UnhandledVmexit && last.status === VmExitReason.Vmcall
        ? 'a VMCALL from ring 3 (not a system call: the Dune module refused it)'
        : last.ret === DuneRet.Interrupt
          ? `exception ${last.status} in the guest, which the Dune module takes (${last.status === 3 ? 'INT3' : 'debug'})`
          : `leaving Dune with ${DuneRet[last.ret] ?? last.ret} (status 0x${last.status.toString(16)})`;
      this.reporter!.add({ kind: 'contained', attempted: what, rule: 'only the runtime in ring 0 talks to the kernel', outcome: 'process ended by libDune (exit status 1)' });
    }
    this.reporter!.finish();
    return end;
  }

  stats(): Record<string, unknown> {
    const r = this.reporter!;
    return {
      ...this.runtime!.stats(),
      reports: { denied: r.count('denied'), rejected: r.count('rejected'), contained: r.count('contained'), killed: r.count('killed') },
      ...(this.watchdog?.fired !== undefined ? { limitReached: this.watchdog.fired } : {}),
    };
  }
}
