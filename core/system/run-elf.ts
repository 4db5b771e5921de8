import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ExecLauncher } from '../framework/exec-mode.js';
import type { SyscallContribution } from '../framework/syscall-contribution.js';
import { UsageError } from '../framework/usage-error.js';
import { writeOutputFile } from '../framework/output-path.js';
import { readElfBinary } from '../linux/elf/read-elf-binary.js';
import type { Kernel, RunEnd } from '../linux/kernel.js';
import type { Process } from '../linux/task.js';
import type { ProfileFile } from '../vtx/cost-model.js';
import { bootLinux } from './boot-linux.js';
import { EXIT_INTERNAL_ERROR, internalErrorReport } from './internal-error.js';
import { runStats } from './run-stats.js';
import { guestPath } from './guest-path.js';

const SIGNAL_NAMES: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

/** What every run takes, whatever its mode. */
export interface RunOptions {
  /** Cost profile: a name (core/vtx/profiles), a path, or a loaded profile. */
  profile: string | ProfileFile;
  /** Bytes of physical memory. */
  memory: number;
  /** CPUs of the machine (default 1; a launcher may need more, and gets at least what it asks). */
  cpus?: number;
  /** Write the run's statistics (runStats) here as JSON. */
  stats?: string;
  /** Write a Chrome Trace Event file of the run here (Perfetto, chrome://tracing): CPU states, system calls, faults, VM exits. */
  trace?: string;
  /** Trace system calls: true writes `[strace] …` lines to stderr, a function receives each line. */
  strace?: boolean | ((line: string) => void);
  /** Host directory the guest sees as / (default: the current directory). */
  root?: string;
  /** Where the guest's fds 1 and 2 go (default: the host's stdout and stderr). */
  console?: (fd: number, data: Uint8Array) => void;
  /** Where dunesim's own messages go (default: stderr). */
  report?: (line: string) => void;
  /** argv[0] (default: the path as guestPath shows it: relative to the package root when inside it). */
  argv0?: string;
  /** The environment (default: DEFAULT_GUEST_ENV, never the host's). */
  envp?: string[];
  /** Called with the kernel before the program starts (tests and experiments adjust the model here). */
  configure?: (k: Kernel) => void;
  /** System calls plugins add to the Linux model (SyscallContribution). */
  syscalls?: readonly SyscallContribution[];
  /** Real milliseconds the machine may sit idle waiting for the host's network before the run gives up (default: for ever). */
  netIdleTimeoutMs?: number;
  /**
   * Where guest sockets lead: 'host' (default) real host sockets on loopback; 'sim' the
   * simulated TCP/IP stack (core/net) on the machine's loopback, every packet in simulated time.
   */
  net?: 'host' | 'sim';
  /** Translate hot guest blocks to JavaScript (core/vtx/jit); default on unless DUNESIM_JIT=0. Figures are the same either way. */
  jit?: boolean;
}

export interface RunElfOptions extends RunOptions {
  /** The mode's id: `mode` in the statistics, and the key of the launcher's own figures. */
  mode: string;
  /** How the mode starts and runs the program (ExecMode.prepare makes one). */
  launcher: ExecLauncher;
}

/**
 * The environment a guest gets when the caller gives none. It is fixed, not the host's: the
 * environment strings sit on the initial stack, so a host HOME or PATH of another length would
 * move every stack address and change the figures from one checkout or user to the next. PATH
 * names the usual directories of the guest's own root (--root), not the host's.
 */
export const DEFAULT_GUEST_ENV: readonly string[] = ['HOME=/', 'PATH=/usr/local/bin:/usr/bin:/bin'];

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
 * Runs a static x86-64 ELF on a fresh machine with the Linux model: the launcher creates the
 * process the way its mode does (a Linux process, a Dune process, a sandboxed one …), the machine
 * runs until the process is done or nothing can run, and the outcome becomes an exit status the
 * way a shell reports one. The runner knows no mode: everything a mode does is its launcher's.
 */
export function runElf(path: string, args: string[], opts: RunElfOptions): ExecResult {
  const launcher = opts.launcher;
  const elf = readElfBinary(path); // ElfError on a bad file, a directory, a FIFO
  const t0 = performance.now();
  const { machine: m, kernel: k } = bootLinux({
    profile: opts.profile, memory: opts.memory, cpus: Math.max(opts.cpus ?? 1, launcher.cpus ?? 1),
    trace: opts.trace !== undefined, syscalls: opts.syscalls,
    ...(opts.jit !== undefined ? { jit: opts.jit } : {}),
  });
  if (opts.net === 'sim') k.netMode = 'sim';
  if (opts.console !== undefined) k.console = opts.console;
  const say = opts.report ?? ((line: string): boolean => process.stderr.write(line));
  if (opts.root !== undefined) k.root = resolve(opts.root);
  if (typeof opts.strace === 'function') k.strace = opts.strace;
  else if (opts.strace === true) k.strace = (line) => process.stderr.write(`[strace] ${line}\n`);
  const shown = guestPath(path);
  const argv = [opts.argv0 ?? shown, ...args];
  const envp = opts.envp ?? [...DEFAULT_GUEST_ENV];
  const p: Process = launcher.launch({ kernel: k, elf, path: shown, argv, envp, report: say });
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
    end = launcher.run !== undefined ? launcher.run(k, p) : k.run();
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
  const stats = {
    ...runStats(m, opts.mode, typeof opts.profile === 'string' ? opts.profile : opts.profile.name, wall),
    exitStatus: exitCode,
    ...(launcher.stats !== undefined ? { [opts.mode]: launcher.stats() } : {}),
  };
  if (opts.stats !== undefined) writeOutputFile(opts.stats, JSON.stringify(stats, null, 2) + '\n', '--stats');
  if (opts.trace !== undefined) {
    m.tracer.finish(m.cpus.map((c) => c.cycles));
    try {
      mkdirSync(dirname(resolve(opts.trace)), { recursive: true });
      m.tracer.writeFile(opts.trace);
    } catch (e) {
      throw new UsageError(`--trace ${opts.trace}: cannot write it: ${(e as Error).message}`);
    }
    if (m.tracer.dropped > 0) say(`dunesim: --trace ${opts.trace}: the first ${m.tracer.limit.toLocaleString('en-US')} events kept, ${m.tracer.dropped.toLocaleString('en-US')} dropped\n`);
  }
  // Everything is read off the machine: its RAM serves the next one (ram-pool.ts).
  m.release();
  return { exitCode, stats };
}
