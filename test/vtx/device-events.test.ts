import { describe, expect, it } from 'vitest';
import { RFLAGS_FIXED, RFLAGS_IF } from '../../core/vtx/arch.js';
import { kernelProgram, rig } from './helpers.js';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execElf } from '../../core/system/index.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import { queueSignalToProcess } from '../../core/linux/kernel.js';
import { SIGKILL } from '../../core/linux/linux-abi.js';

/** Devices act on the machine's clock: their events interleave with the CPUs' in time order. */
describe('device events on the machine clock', () => {
  it('an event fires when the CPUs reach its time, before any runs past it; its interrupt lands then', () => {
    const r = rig();
    const cpu = r.cpu;
    const seenAt: number[] = [];
    r.boot.gate(0x50, kernelProgram(r).add((c) => {
      seenAt.push(c.cycles);
      c.eoi();
      c.iretq();
    }));
    let spins = 0;
    const p = kernelProgram(r);
    const loop = p.add((c) => {
      spins++;
      if (seenAt.length === 3) c.stop();
      else c.jump(loop); // a CPU that never stops on its own
    });
    const fires: number[] = [];
    const start = cpu.cycles;
    for (const at of [10_000, 20_000, 30_000]) {
      r.m.schedule(start + at, () => {
        fires.push(cpu.cycles);
        cpu.interrupt(0x50);
      });
    }
    cpu.rip = loop;
    cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
    r.m.run(start + 1_000_000);
    expect(seenAt).toHaveLength(3);
    expect(r.m.deviceEvents).toBe(3);
    // Each event fired exactly when the clock reached it (a slice ends at the event's time), and
    // the interrupt was taken at the next instruction boundary.
    fires.forEach((f, i) => expect(f).toBe(start + 10_000 * (i + 1)));
    seenAt.forEach((s, i) => expect(s - fires[i]!).toBeLessThan(500));
    expect(spins).toBeGreaterThan(100);
  });

  it('with every CPU halted, time moves to the next event: the idle clock catches up and the interrupt wakes it', () => {
    const r = rig();
    const cpu = r.cpu;
    let woke = -1;
    r.boot.gate(0x51, kernelProgram(r).add((c) => {
      woke = c.cycles;
      c.eoi();
      c.stop();
    }));
    const p = kernelProgram(r);
    const at = p.add((c) => c.hlt());
    cpu.rip = at;
    cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
    const due = cpu.cycles + 5_000_000;
    r.m.schedule(due, () => cpu.interrupt(0x51));
    r.m.run(); // halts at once: nothing else can run
    expect(cpu.halted).toBe(true);
    expect(r.m.advanceToNextEvent()).toBe(true);
    expect(cpu.halted).toBe(false);
    r.m.run();
    expect(woke).toBeGreaterThanOrEqual(due);
    expect(woke - due).toBeLessThan(1000);
    expect(r.m.advanceToNextEvent()).toBe(false);
    expect(() => r.m.schedule(NaN, () => {})).toThrow(/device event/);
  });

  it('the Linux model waits for a pending device event before it calls every task blocked a deadlock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dunesim-dev-'));
    try {
      let at = 0;
      const r = execElf(join(ROOT, 'test', 'linux', 'threads', 'bin', 'deadlock'), [], {
        mode: 'linux', profile: 'dune-e3-1230v2', memory: 64 << 20, root: dir, envp: [], console: () => {}, report: (l) => process.stderr.write(l),
        configure: (k) => {
          // A device that, 50 ms of simulated time in, makes its driver kill the process.
          k.machine.schedule(0.05 * k.machine.costs.clockHz, () => {
            at = Math.max(...k.machine.cpus.map((c) => c.cycles));
            const p = [...k.processes.values()][0]!;
            queueSignalToProcess(k, p, SIGKILL, 0);
            k.wakeSleepers();
          });
        },
      });
      expect(r.exitCode).toBe(128 + SIGKILL); // not 1 (deadlock): the device's event came first
      expect(at).toBeGreaterThanOrEqual(0.05 * 3.3e9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

