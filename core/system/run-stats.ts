import type { Machine } from '../vtx/machine.js';
import { VmExitReason } from '../vtx/vmcs-field.js';
import { readCpuTime } from '../vtx/cpu-mode.js';

/**
 * The figures `--stats` writes for a run, whatever its mode: counts of the mechanisms, summed
 * over the CPUs, and the clock of the CPU that ran longest. A mode adds its own figures under its
 * id (ExecLauncher.stats).
 */
/** `profile` as the run was given it (a name, or a path). */
export function runStats(m: Machine, mode: string, profile: string, wallSeconds: number): Record<string, unknown> {
  const st = m.stats;
  const exits: Record<string, number> = {};
  for (const [name, v] of Object.entries(VmExitReason)) {
    if (typeof v !== 'number') continue;
    const n = st.sum(`vmx.exits.${name}`);
    if (n > 0) exits[name] = n;
  }
  const cpus = m.cpus;
  return {
    mode,
    profile,
    cpus: cpus.length,
    instructions: cpus.reduce((a, c) => a + c.instructions, 0),
    cycles: Math.max(...cpus.map((c) => c.cycles)),
    simulatedSeconds: m.seconds(Math.max(...cpus.map((c) => c.cycles))),
    wallSeconds,
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
    // Cycles by mode, summed over the CPUs (user, system, guest and idle of /proc/stat).
    cpuTime: readCpuTime(st),
    // Instructions retired by mode, summed over the CPUs (they add up to `instructions`).
    instructionsByMode: {
      kernel: st.sum('instructions.kernel'), user: st.sum('instructions.user'),
      guestKernel: st.sum('instructions.guestKernel'), guestUser: st.sum('instructions.guestUser'), idle: st.sum('instructions.idle'),
    },
  };
}
