import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execElf } from '../../core/system/exec-elf.js';
import type { Kernel } from '../../core/linux/kernel.js';

/**
 * irq_work: kernel work handed to a CPU runs there in the kernel, in interrupt context, at the
 * CPU's next instruction boundary — also when the CPU runs a Dune guest, which the self-IPI makes
 * exit (an external interrupt, pin-based exiting), as a kernel timer's interrupt would.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SIEVE = join(ROOT, 'examples', 'guest', 'bin', 'sieve');

function runWithWork(mode: 'linux' | 'dune'): { out: string; seen: Array<{ nonRoot: boolean; cpl: number; queuedInGuest: boolean }>; k: Kernel; exits: Record<string, number> } {
  let out = '';
  let kernel: Kernel | undefined;
  const seen: Array<{ nonRoot: boolean; cpl: number; queuedInGuest: boolean }> = [];
  const dec = new TextDecoder();
  const r = execElf(SIEVE, [], {
    mode, profile: 'dune-e3-1230v2', memory: 64 << 20, envp: [],
    configure: (k) => {
      kernel = k;
      const m = k.machine;
      const cpu = m.cpus[0]!;
      // Three times during the run, from a device event, as a timer's softirq would find the CPU.
      for (const at of [2_000_000, 4_000_000, 6_000_000]) {
        m.schedule(at, () => {
          const queuedInGuest = cpu.vmx.nonRoot;
          k.queueIrqWork(cpu, () => seen.push({ nonRoot: cpu.vmx.nonRoot, cpl: cpu.cpl, queuedInGuest }));
        });
      }
    },
    console: (fd, data) => {
      if (fd === 1) out += dec.decode(data);
    },
  });
  expect(r.exitCode).toBe(0);
  return { out, seen, k: kernel!, exits: (r.stats.vmExits ?? {}) as Record<string, number> };
}

describe('irq_work', () => {
  it('in a Linux process: the work runs in ring 0 on that CPU, and the program goes on', () => {
    const r = runWithWork('linux');
    expect(r.seen).toHaveLength(3);
    for (const s of r.seen) expect(s).toEqual({ nonRoot: false, cpl: 0, queuedInGuest: false });
    expect(r.k.machine.stats.get('linux.irqWork')).toBe(3);
    expect(r.out).toContain('primes');
  });

  it('in a Dune process: the self-IPI makes the guest exit, and the host runs the work', () => {
    const r = runWithWork('dune');
    expect(r.seen).toHaveLength(3);
    for (const s of r.seen) expect(s).toEqual({ nonRoot: false, cpl: 0, queuedInGuest: true });
    expect(r.exits.ExternalInterrupt).toBeGreaterThanOrEqual(3);
    expect(r.out).toBe(runWithWork('linux').out);
  });
});
