/**
 * Where a CPU's time goes, as Linux's /proc/stat splits it (user, system, guest, idle) and as the
 * IX paper reads it ("~75 % of the CPU time in the kernel on Linux, < 10 % in IX's dataplane").
 * Root mode is the host: Linux and its processes. Non-root mode is a VT-x guest: a Dune process,
 * whose ring 0 is libDune's handlers or IX's dataplane and whose ring 3 is the application.
 * Halted is idle whatever the privilege level (the idle loop's HLT).
 */
export enum CpuMode {
  Kernel = 0,
  User = 1,
  GuestKernel = 2,
  GuestUser = 3,
  Idle = 4,
}

/** Counter suffixes, by `CpuMode`: `cpu0.cycles.kernel`, … */
export const CPU_MODE_NAMES: readonly string[] = ['kernel', 'user', 'guestKernel', 'guestUser', 'idle'];

export const CPU_MODE_DESCRIPTIONS: readonly string[] = [
  'cycles in VMX root ring 0 (the Linux kernel, the Dune module), not halted',
  'cycles in VMX root ring 3 (Linux processes)',
  'cycles in VMX non-root ring 0 (a Dune process\'s ring 0: libDune handlers, the IX dataplane)',
  'cycles in VMX non-root ring 3 (a Dune process\'s ring 3: a sandboxed program, an IX application)',
  'cycles halted (the idle loop), in either mode',
];

/** A machine's cycles by mode, summed over its CPUs (read from the `cpuN.cycles.*` counters). */
export interface CpuTime {
  kernel: number;
  user: number;
  guestKernel: number;
  guestUser: number;
  idle: number;
}

export function readCpuTime(stats: { sum(suffix: string): number }): CpuTime {
  return {
    kernel: stats.sum('cycles.kernel'),
    user: stats.sum('cycles.user'),
    guestKernel: stats.sum('cycles.guestKernel'),
    guestUser: stats.sum('cycles.guestUser'),
    idle: stats.sum('cycles.idle'),
  };
}

/**
 * Cycles in ring 0 and in ring 3, whichever VMX mode (the host kernel and a Dune process's own
 * ring 0, such as IX's dataplane, against applications), for counts read before and after a
 * measurement.
 */
export function ringCycles(stats: { sum(suffix: string): number }): { kernelCycles: number; userCycles: number } {
  const t = readCpuTime(stats);
  return { kernelCycles: t.kernel + t.guestKernel, userCycles: t.user + t.guestUser };
}

/**
 * The share of the busy (not idle) time spent in ring 0, from the differences of `ringCycles`
 * over a measurement: IX's "kernel time" (§5.5: ~75 % on Linux, < 10 % in IX at high load).
 */
export function kernelShare(d: { kernelCycles?: number; userCycles?: number }): number {
  const k = d.kernelCycles ?? 0;
  const u = d.userCycles ?? 0;
  return k + u > 0 ? k / (k + u) : 0;
}

/**
 * Instructions retired in ring 0 and in ring 3 (either VMX mode), summed over the CPUs: a
 * server's own work per request against its kernel's (or its dataplane's), in instructions rather
 * than cycles, so that cache and TLB costs do not blur what the code does.
 */
export function ringInstructions(stats: { sum(suffix: string): number }): { kernelInstructions: number; userInstructions: number } {
  return {
    kernelInstructions: stats.sum('instructions.kernel') + stats.sum('instructions.guestKernel'),
    userInstructions: stats.sum('instructions.user') + stats.sum('instructions.guestUser'),
  };
}
