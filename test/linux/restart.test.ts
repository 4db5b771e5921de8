/**
 * Interrupted system calls (signal(7); arch/x86/kernel/signal.c): a call a signal interrupts
 * returns -ERESTARTSYS inside the kernel, and the way out turns it into a restart (SA_RESTART
 * handler, or no handler at all) or -EINTR. examples/guest/restart must print what it prints
 * natively.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../../core/linux/kernel.js';
import { execElf } from '../../core/system/index.js';

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'examples', 'guest', 'bin', 'restart');
const native = spawnSync(BIN, [], { encoding: 'utf8' });

describe.runIf(existsSync(BIN) && native.status === 0)('system-call restart after a signal', () => {
  it('SA_RESTART restarts a blocking read, no SA_RESTART gives EINTR, an ignored signal changes nothing', () => {
    let out = '';
    const r = execElf(BIN, [], {
      mode: 'linux', profile: 'dune-e3-1230v2', memory: 256 << 20,
      console: (fd, d) => { if (fd === 1) out += new TextDecoder().decode(d); }, report: () => {},
    });
    expect(r.exitCode).toBe(0);
    expect(out).toBe(native.stdout);
    expect(out).toContain('SA_RESTART: read 1');
    expect(out).toContain('no SA_RESTART: read -1 Interrupted system call');
  });

  it('in --mode dune too: the child forked inside Dune re-enters on its own vCPU, the parent\'s VMCALL\'d read leaves with DUNE_RET_SIGNAL and is made again or fails by the same rule', () => {
    let out = '';
    let k!: Kernel;
    const r = execElf(BIN, [], {
      mode: 'dune', profile: 'dune-e3-1230v2', memory: 256 << 20,
      configure: (kernel) => { k = kernel; },
      console: (fd, d) => { if (fd === 1) out += new TextDecoder().decode(d); }, report: () => {},
    });
    expect(r.exitCode).toBe(0);
    expect(out).toBe(native.stdout);
    const st = k.machine.stats;
    // Parent and child each had a vCPU, and both were freed when they exited.
    expect(st.get('dune.vcpusCreated')).toBe(2);
    expect(st.get('dune.vcpusFreed')).toBe(2);
    // DUNE_ENTER returned at least four times: the parent left with DUNE_RET_SIGNAL for SIGUSR1
    // and SIGUSR2 (SIGHUP is dropped when sent: ignored), and each of the two exited.
    expect(st.get('dune.leaves')).toBeGreaterThanOrEqual(4);
    // Deterministic: the same run again gives the same cycles and counts.
    const again = execElf(BIN, [], { mode: 'dune', profile: 'dune-e3-1230v2', memory: 256 << 20, console: () => {}, report: () => {} });
    expect(again.stats.cycles).toBe(r.stats.cycles);
    expect(again.stats.vmExits).toEqual(r.stats.vmExits);
  });
});
