import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { injectable, multiInject, optional } from 'inversify';
import { Command } from 'commander';
import { CliCommand } from '../framework/cli-command.js';
import { UsageError } from '../framework/usage-error.js';
import { checkOutputFile, writeOutputFile } from '../framework/output-path.js';
import { ExecLauncher, ExecMode } from '../framework/exec-mode.js';
import { VmExitHandler } from '../framework/vm-exit-handler.js';
import { SyscallContribution } from '../framework/syscall-contribution.js';
import { DEFAULT_PROFILE, loadProfile } from '../vtx/cost-model.js';
import { MAX_CPUS, Machine } from '../vtx/machine.js';
import { RSP } from '../vtx/cpu.js';
import { installInterpreter } from '../vtx/interp/interpreter.js';
import { ElfError } from '../linux/elf/elf-file.js';
import { readElfBinary } from '../linux/elf/read-elf-binary.js';
import { Kernel, RunEnd } from '../linux/kernel.js';
import { loadElf } from '../linux/exec.js';
import { Process } from '../linux/task.js';
import { CodeBuilder } from '../vtx/code-builder.js';
import { PROT_EXEC, PROT_READ } from '../linux/linux-abi.js';
import { DuneModule } from '../dune/dune-module.js';
import { LibDune } from '../dune/libdune.js';
import { deliverFaultsAsSignals, restoreDispositions } from '../dune/fault-signals.js';
import { VmExitReason } from '../vtx/vmcs-field.js';
import { EXIT_INTERNAL_ERROR, internalErrorReport } from './internal-error.js';

const SIGNAL_NAMES: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

/** Where exec --mode dune puts its loader stub (inside Dune's identity window). */
const DUNE_LOADER = 0x6000_0000;
/**
 * Where exec --mode dune loads a static PIE: Linux's default base (0x5555_5555_4000) lies outside
 * Dune's guest-physical windows, so, like the Dune sandbox's loader (LOADER_VADDR_OFF), it goes
 * low in the identity window.
 */
const DUNE_PIE_BASE = 0x6f00_0000;

export interface ExecOptions {
  /** 'linux', 'dune', or a plugin's mode (ExecMode), which then comes with its `launcher`. */
  mode: string;
  /** How a plugin's mode starts and runs the program (required for a mode other than linux and dune). */
  launcher?: ExecLauncher;
  stats?: string;
  /** Write a Chrome Trace Event file of the run here (Perfetto, chrome://tracing): CPU states, system calls, faults, VM exits. */
  trace?: string;
  /** Trace system calls: true writes `[strace] …` lines to stderr, a function receives each line. */
  strace?: boolean | ((line: string) => void);
  root?: string;
  profile: string;
  memory: number;
  /** Where the guest's fds 1 and 2 go (default: the host's stdout and stderr). */
  console?: (fd: number, data: Uint8Array) => void;
  /** Where dunesim's own messages go (default: stderr). */
  report?: (line: string) => void;
  /** argv[0] (default: the path as given). */
  argv0?: string;
  /** The environment (default: the host's DUNESIM_*, HOME and PATH variables). */
  envp?: string[];
  /** Linux mode: large anonymous mmaps backed by 2 MiB pages, as libhugetlbfs does (core/linux/huge-pages.ts). */
  hugePages?: boolean;
  /** Called with the kernel before the program starts (tests and experiments adjust the model here). */
  configure?: (k: Kernel) => void;
  /** Linux mode: load the Dune module, so that /dev/dune exists for programs linked with libDune (default true). */
  duneModule?: boolean;
  /** Linux mode: switch_mm tags the TLB with PCIDs (Linux 4.14 and later) instead of flushing it on every switch. */
  pcid?: boolean;
  /** System calls plugins add to the Linux model (SyscallContribution). */
  syscalls?: readonly SyscallContribution[];
  /** --mode dune: the plugins' VM-exit handlers, asked before the Dune module's own (VmExitHandler). */
  vmExitHandlers?: readonly VmExitHandler[];
  /** CPUs of the machine (default 1; a plugin's launcher may need more, and gets at least what it asks). */
  cpus?: number;
  /** Real milliseconds the machine may sit idle waiting for the host's network before the run gives up (default: for ever). */
  netIdleTimeoutMs?: number;
}

export interface ExecResult {
  /** The guest's status (128 + signal when killed), or EXIT_INTERNAL_ERROR (70) for a dunesim bug. */
  exitCode: number;
  stats: Record<string, unknown>;
}

/** All VM exits of a run, whatever their reason. */
export function vmExitCount(r: ExecResult): number {
  let n = 0;
  for (const v of Object.values(r.stats.vmExits as Record<string, number>)) n += v;
  return n;
}

/**
 * Runs a static x86-64 ELF on the machine model: as an ordinary Linux process, or as a Dune
 * process (libDune in guest ring 0 enters Dune before the program's first instruction, and its
 * LSTAR trampoline forwards every SYSCALL as a VMCALL).
 */
export function execElf(path: string, args: string[], opts: ExecOptions): ExecResult {
  // PCIDs are the Linux model's switch_mm; a Dune or sandboxed process's host CR3 comes from the VMCS.
  if (opts.pcid === true && opts.mode !== 'linux') throw new UsageError('--pcid needs --mode linux');
  const elf = readElfBinary(path); // ElfError on a bad file, a directory, a FIFO
  const t0 = performance.now();
  const m = new Machine({ memory: opts.memory, profile: opts.profile, cpus: Math.max(opts.cpus ?? 1, opts.launcher?.cpus ?? 1) });
  installInterpreter(m);
  if (opts.trace !== undefined) m.tracer.enabled = true;
  const k = new Kernel(m);
  for (const c of opts.syscalls ?? []) k.syscalls.addPrivate(c.nr, c.name, c.args, c.handler);
  if (opts.console !== undefined) k.console = opts.console;
  const say = opts.report ?? ((line: string): boolean => process.stderr.write(line));
  if (opts.root !== undefined) k.root = resolve(opts.root);
  if (typeof opts.strace === 'function') k.strace = opts.strace;
  else if (opts.strace === true) k.strace = (line) => process.stderr.write(`[strace] ${line}\n`);
  const argv = [opts.argv0 ?? path, ...args];
  const envp = opts.envp ?? Object.entries(process.env).filter(([key]) => key.startsWith('DUNESIM_') || key === 'HOME' || key === 'PATH').map(([key, v]) => `${key}=${v}`);
  let p: Process;
  if (opts.launcher !== undefined) {
    p = opts.launcher.launch({ kernel: k, elf, path, argv, envp, report: say });
  } else if (opts.mode === 'linux') {
    if (opts.pcid) k.enablePcid();
    if (opts.duneModule !== false) new DuneModule(k, { exitHandlers: opts.vmExitHandlers });
    p = k.spawnElf(path, elf, argv, envp, path);
    if (opts.hugePages) p.mm.hugeMmap = true;
  } else if (opts.mode === 'dune') {
    new DuneModule(k, { exitHandlers: opts.vmExitHandlers });
    p = k.newProcess(path, k.newAddressSpace());
    const img = loadElf(k, p, elf, argv, envp, path, DUNE_PIE_BASE);
    const lib = new LibDune(k, p);
    deliverFaultsAsSignals(lib);
    const c = new CodeBuilder(m.natives, DUNE_LOADER, 'dune-exec', 3);
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
  } else {
    throw new Error(`exec: mode '${opts.mode}' has no launcher`);
  }
  // The program is its PID namespace's init: when it exits, processes it left behind are killed.
  k.namespaceInit = p;
  opts.configure?.(k);
  if (opts.netIdleTimeoutMs !== undefined) k.netIdleTimeoutMs = opts.netIdleTimeoutMs;
  // Whatever the guest does ends as a guest outcome; an exception out of the machine is a bug of
  // the model, reported with the machine's state and status 70 (never as the guest's success).
  let internal: string | undefined;
  let end: RunEnd = 'done';
  let blocked = '';
  try {
    k.start();
    end = opts.launcher?.run !== undefined ? opts.launcher.run(k, p) : k.run();
    blocked = k.describeBlocked();
  } catch (e) {
    internal = internalErrorReport(e, m, opts.mode);
  } finally {
    k.dispose();
  }
  const wall = (performance.now() - t0) / 1000;
  const status = p.waitStatus;
  const sig = status & 0x7f;
  let exitCode: number;
  if (internal !== undefined) {
    say(internal);
    exitCode = EXIT_INTERNAL_ERROR;
  } else if (!p.zombie) {
    // Blocked for good, or given up on while it waited for the host: never a hang (exit status 1).
    const why = end === 'deadlock'
      ? 'deadlock, every task is blocked and nothing can wake one, no timer and no host socket'
      : end === 'horizon'
        ? "every task is blocked until a timer beyond the simulated clock's horizon (2^53 cycles)"
        : 'every task is blocked waiting for the host, which stayed silent';
    say(`dunesim: the guest did not finish (${why}): ${blocked}\n`);
    exitCode = 1;
  } else if (sig !== 0) {
    say(`dunesim: guest killed by signal ${sig} (${SIGNAL_NAMES[sig] ?? 'signal'})\n`);
    exitCode = 128 + sig;
  } else {
    exitCode = (status >> 8) & 0xff;
  }
  const st = m.stats;
  const exits: Record<string, number> = {};
  for (const [name, v] of Object.entries(VmExitReason)) {
    if (typeof v !== 'number') continue;
    const n = st.sum(`vmx.exits.${name}`);
    if (n > 0) exits[name] = n;
  }
  const cpus = m.cpus;
  const stats = {
    mode: opts.mode,
    profile: opts.profile,
    cpus: cpus.length,
    instructions: cpus.reduce((a, c) => a + c.instructions, 0),
    cycles: Math.max(...cpus.map((c) => c.cycles)),
    simulatedSeconds: m.seconds(Math.max(...cpus.map((c) => c.cycles))),
    wallSeconds: wall,
    vmExits: exits,
    tlb: { l0AndTlbHitsBehindL0: st.sum('tlb.hits'), misses: st.sum('tlb.misses') },
    pageWalks: st.sum('mmu.walks'),
    pageWalks2d: st.sum('mmu.walks2d'),
    // 2 MiB leaves written: process page tables (Linux), EPT (Dune module), guest page tables (libDune).
    largeLeaves: { host: st.sum('linux.hugeLeaves'), ept: st.sum('dune.eptLargeLeaves'), guest: st.sum('libdune.largeLeaves') },
    walkReferences: st.sum('mmu.walkRefs'),
    syscalls: st.get('linux.syscalls'),
    pageFaults: st.get('linux.pageFaults'),
    scheduler: {
      tasksCreated: st.get('linux.threadsCreated'),
      contextSwitches: st.get('linux.contextSwitches'),
      timerTicks: st.get('linux.timerTicks'),
      preemptions: st.get('linux.preemptions'),
      ipis: st.get('linux.ipis'),
      tlbShootdowns: st.get('linux.tlbShootdowns'),
      wakeIpis: st.get('linux.wakeIpis'),
      mmSwitches: st.get('linux.mmSwitches'),
      mmSwitchesNoFlush: st.get('linux.mmSwitchesNoFlush'),
      futexCalls: st.get('linux.futexCalls'),
      tlbFlushes: st.sum('tlb.flushes'),
    },
    exceptions: st.sum('exceptions'),
    // vCPUs of the Dune module: one per thread that entered, freed when it exits or execs.
    ...(opts.mode === 'dune' ? { dune: { vcpusCreated: st.get('dune.vcpusCreated'), vcpusFreed: st.get('dune.vcpusFreed'), leaves: st.get('dune.leaves') } } : {}),
    exitStatus: exitCode,
    ...(opts.launcher?.stats !== undefined ? { [opts.mode]: opts.launcher.stats() } : {}),
  };
  if (opts.stats !== undefined) writeOutputFile(opts.stats, JSON.stringify(stats, null, 2) + '\n', '--stats');
  if (opts.trace !== undefined) {
    m.tracer.finish(cpus.map((c) => c.cycles));
    try {
      mkdirSync(dirname(resolve(opts.trace)), { recursive: true });
      m.tracer.writeFile(opts.trace);
    } catch (e) {
      throw new UsageError(`--trace ${opts.trace}: cannot write it: ${(e as Error).message}`);
    }
    if (m.tracer.dropped > 0) say(`dunesim: --trace ${opts.trace}: the first ${m.tracer.limit.toLocaleString('en-US')} events kept, ${m.tracer.dropped.toLocaleString('en-US')} dropped\n`);
  }
  return { exitCode, stats };
}

/** `--root DIR` must name a directory that exists: chroot(2) fails with ENOENT or ENOTDIR otherwise. */
function checkRoot(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`--root ${dir}: no such directory`);
  }
  if (!isDir) throw new UsageError(`--root ${dir}: not a directory`);
}

/**
 * `dunesim exec [--mode linux|dune|MODE] [--stats FILE] [--strace] [--root DIR] -- ELF [ARGS…]`,
 * where MODE is one a plugin contributes (ExecMode: `sandbox` with `--policy FILE`).
 */
@injectable()
export class ExecCommand implements CliCommand {
  constructor(
    @multiInject(ExecMode) @optional() private readonly modes: ExecMode[] = [],
    @multiInject(VmExitHandler) @optional() private readonly exitHandlers: VmExitHandler[] = [],
    @multiInject(SyscallContribution) @optional() private readonly syscalls: SyscallContribution[] = [],
  ) {}

  register(program: Command): void {
    const modes = this.modes ?? [];
    const cmd = program
      .command('exec')
      .description('run a static x86-64 Linux binary on the machine model (as a Linux or a Dune process)')
      .argument('<elf>', 'the executable (static ET_EXEC or static-PIE)')
      .argument('[args...]', 'its arguments')
      .option('--mode <mode>', ['linux', 'dune', ...modes.map((m) => m.id)].join(' | '), 'linux')
      .option('--stats <file>', 'write run statistics as JSON')
      .option('--strace', 'trace system calls on stderr')
      .option('--trace <file>', 'write a Chrome Trace Event file (open it in ui.perfetto.dev or chrome://tracing)')
      .option('--root <dir>', 'host directory the guest sees as / (default: the current directory)')
      .option('--profile <name>', 'cost profile', DEFAULT_PROFILE)
      .option('--memory <MiB>', 'physical memory of the machine', '1024')
      .option('--cpus <n>', 'CPUs of the machine (threads and processes run on them in parallel, deterministically)', '1')
      .option('--huge-pages', 'back large anonymous mmaps with 2 MiB pages, as libhugetlbfs does (--mode linux | sandbox)')
      .option('--no-dune-module', 'a machine without the Dune module: no /dev/dune (--mode linux)')
      .option('--pcid', 'context switches keep each address space\'s TLB entries under a PCID, as Linux 4.14 and later (--mode linux)');
    // An option several modes share (--policy of sandbox and ptrace) is registered once.
    const shared = new Map<string, { description: string; ids: string[] }>();
    for (const m of modes) {
      for (const opt of m.options ?? []) {
        const o = shared.get(opt.flags) ?? { description: opt.description, ids: [] };
        o.ids.push(m.id);
        shared.set(opt.flags, o);
      }
    }
    for (const [flags, o] of shared) cmd.option(flags, `${o.description} (--mode ${o.ids.join(', ')})`);
    cmd.action((elfPath: string, args: string[], o: { mode: string; stats?: string; trace?: string; strace?: boolean; root?: string; profile: string; memory: string; cpus: string } & Record<string, unknown>) => {
      const plugin = modes.find((m) => m.id === o.mode);
      if (o.mode !== 'linux' && o.mode !== 'dune' && plugin === undefined) {
        // The first words stay what they were before plugins could add modes (scripts match them).
        const extra = modes.length > 0 ? ` (or ${modes.map((m) => m.id).join(', ')}, from plugins)` : '';
        throw new UsageError(`--mode must be linux or dune${extra}, got '${o.mode}'`);
      }
      for (const m of modes) {
        if (m === plugin) continue;
        for (const opt of m.options ?? []) {
          if (o[opt.name] === undefined || plugin?.options?.some((x) => x.name === opt.name) === true) continue;
          throw new UsageError(`${opt.flags.split(' ')[0]} needs --mode ${shared.get(opt.flags)!.ids.join(' or --mode ')}`);
        }
      }
      if (o['hugePages'] === true && o.mode === 'dune') throw new UsageError('--huge-pages needs --mode linux or sandbox');
      if (o['pcid'] === true && o.mode !== 'linux') throw new UsageError('--pcid needs --mode linux');
      const mib = Number(o.memory);
      if (!Number.isInteger(mib) || mib < 16 || mib > 4096) throw new UsageError(`--memory must be a whole number of MiB from 16 to 4096, got '${o.memory}'`);
      const cpus = Number(o.cpus);
      if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new UsageError(`--cpus must be a whole number from 1 to ${MAX_CPUS}, got '${o.cpus}'`);
      loadProfile(o.profile);
      if (o.root !== undefined) checkRoot(o.root);
      if (o.stats !== undefined) checkOutputFile(o.stats, '--stats');
      if (o.trace !== undefined) checkOutputFile(o.trace, '--trace');
      // A mode's options (a policy file) are checked before the binary, so a broken one is status 2.
      const launcher = plugin?.prepare(o);
      if (!existsSync(elfPath)) {
        process.stderr.write(`dunesim: ${elfPath}: no such file\n`);
        process.exitCode = 127;
        return;
      }
      try {
        const r = execElf(elfPath, args, { mode: o.mode, launcher, cpus, hugePages: o['hugePages'] === true, duneModule: o['duneModule'] !== false, pcid: o['pcid'] === true, stats: o.stats, trace: o.trace, strace: o.strace, vmExitHandlers: this.exitHandlers ?? [], syscalls: this.syscalls ?? [], root: o.root, profile: o.profile, memory: mib * 1024 * 1024 });
        process.exitCode = r.exitCode;
      } catch (e) {
        if (e instanceof ElfError) {
          process.stderr.write(`dunesim: ${elfPath}: ${e.message}\n`);
          process.exitCode = 126;
          return;
        }
        throw e;
      }
    });
  }
}
