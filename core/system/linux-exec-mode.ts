import { injectable, multiInject, optional } from 'inversify';
import { DuneModule } from '../dune/dune-module.js';
import { VmExitHandler } from '../framework/vm-exit-handler.js';
import type { ExecLaunchContext, ExecLauncher, ExecMode, ExecModeOption } from '../framework/exec-mode.js';
import type { Process } from '../linux/task.js';

/** `--huge-pages`: an option the Linux mode and the sandbox share (ExecCommand registers it once). */
export const HUGE_PAGES_OPTION: ExecModeOption = {
  flags: '--huge-pages', name: 'hugePages',
  description: 'back large anonymous mmaps with 2 MiB pages, as libhugetlbfs does',
};

/** `dunesim exec --mode linux`: the program as an ordinary Linux process (the default mode). */
@injectable()
export class LinuxExecMode implements ExecMode {
  readonly id = 'linux';
  readonly description = 'an ordinary Linux process on the Linux model';
  readonly options: readonly ExecModeOption[] = [
    HUGE_PAGES_OPTION,
    { flags: '--pcid', name: 'pcid', description: "context switches keep each address space's TLB entries under a PCID, as Linux 4.14 and later" },
    { flags: '--no-dune-module', name: 'duneModule', description: 'a machine without the Dune module: no /dev/dune for programs linked with libDune' },
  ];

  constructor(@multiInject(VmExitHandler) @optional() private readonly exitHandlers: readonly VmExitHandler[] = []) {}

  prepare(options: Readonly<Record<string, unknown>>): ExecLauncher {
    return new LinuxLauncher({ pcid: options['pcid'] === true, hugePages: options['hugePages'] === true, duneModule: options['duneModule'] !== false }, this.exitHandlers ?? []);
  }
}

/**
 * One run as a Linux process: execve's work on a fresh process (spawnElf: the ELF loader, the
 * initial stack, the auxiliary vector). PCIDs are the kernel's switch_mm, so they are set before
 * the process exists; huge pages are a property of its address space. The machine has the Dune
 * module loaded, as one would after `insmod dune.ko`: a program linked with libDune opens
 * /dev/dune and enters Dune itself (libdune/, docs/libdune-c.md); one that never opens it pays
 * nothing for it.
 */
export class LinuxLauncher implements ExecLauncher {
  constructor(
    readonly options: { pcid?: boolean; hugePages?: boolean; duneModule?: boolean } = {},
    readonly exitHandlers: readonly VmExitHandler[] = [],
  ) {}

  launch(ctx: ExecLaunchContext): Process {
    const k = ctx.kernel;
    if (this.options.pcid === true) k.enablePcid();
    if (this.options.duneModule !== false) new DuneModule(k, { exitHandlers: this.exitHandlers });
    const p = k.spawnElf(ctx.path, ctx.elf, [...ctx.argv], [...ctx.envp], ctx.path);
    if (this.options.hugePages === true) p.mm.hugeMmap = true;
    return p;
  }
}
