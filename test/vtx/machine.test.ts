/**
 * The machine (docs/architecture.md §1, core/vtx): N CPUs sharing physical memory, each with its own
 * cycle clock, advanced by a deterministic scheduler that always runs the CPU with the smallest
 * clock (ties to the lowest index) for at most one quantum past the next clock.
 */
import { describe, expect, it } from 'vitest';
import { GD_TSS, Vector } from '../../core/vtx/arch.js';
import { LongModeBoot } from '../../core/vtx/boot.js';
import { Machine } from '../../core/vtx/machine.js';
import { MiB } from './helpers.js';

interface Step {
  cpu: number;
  cycles: number;
  other: number;
  otherRunnable: boolean;
}

/**
 * Two CPUs, each looping on one native that charges a different cost; CPU 1 also reads a word
 * CPU 0 writes (shared memory). Returns everything observable about the run.
 */
function twoCpus(quantum: number, head: [number, number] = [0, 0]) {
  const m = new Machine({ memory: 16 * MiB, cpus: 2, quantum });
  const boot = new LongModeBoot(m);
  const shared = m.frames.alloc();
  const log: Step[] = [];
  const seen: number[] = [];
  const cost = [7, 3];
  const limit = [40, 90];
  const count = [0, 0];
  m.cpus.forEach((cpu, i) => {
    cpu.rip = boot.native(`loop${i}`, (c) => {
      const o = m.cpus[1 - c.index]!;
      log.push({ cpu: c.index, cycles: c.cycles, other: o.cycles, otherRunnable: !o.stopped && !o.halted });
      if (c.index === 0) c.mmu.write32(shared, count[0]!);
      else seen.push(c.mmu.read32(shared));
      c.charge(cost[i]!);
      if (++count[i]! === limit[i]) c.stop();
      else c.jump(c.rip);
    });
    cpu.cycles += head[i]!;
  });
  const slices = m.run();
  return { log, seen, slices, cycles: m.cpus.map((c) => c.cycles), stats: m.stats.toJSON() };
}

describe('Machine scheduling (deterministic multi-CPU time)', () => {
  it('two identical runs give the same interleaving, clocks, shared-memory values and counters', () => {
    const a = twoCpus(20);
    const b = twoCpus(20);
    expect(a.log.length).toBe(40 + 90);
    expect(b).toEqual(a);
    expect(a.stats['cpu0.natives']).toBe(40);
    expect(a.stats['cpu1.natives']).toBe(90);
  });

  it('always advances the CPU with the smallest clock, for at most one quantum past the other', () => {
    const quantum = 20;
    const { log } = twoCpus(quantum);
    let switches = 0;
    for (let i = 0; i < log.length; i++) {
      const s = log[i]!;
      if (!s.otherRunnable) continue;
      // Inside a slice the running CPU never gets a quantum ahead of the other one.
      expect(s.cycles).toBeLessThan(s.other + quantum);
      if (i > 0 && log[i - 1]!.cpu !== s.cpu) {
        switches++;
        // A slice starts on the CPU with the smallest clock; on a tie, the lower index.
        if (s.cpu === 0) expect(s.cycles).toBeLessThanOrEqual(s.other);
        else expect(s.cycles).toBeLessThan(s.other);
      }
    }
    expect(switches).toBeGreaterThan(5);
  });

  it('the CPU that is behind runs first', () => {
    const { log } = twoCpus(20, [200, 0]);
    expect(log[0]!.cpu).toBe(1);
    const firstOf0 = log.findIndex((s) => s.cpu === 0);
    // CPU 1 ran alone until its clock caught up with CPU 0's (it is still runnable then).
    expect(log[firstOf0]!.otherRunnable).toBe(true);
    expect(log[firstOf0]!.other).toBeGreaterThanOrEqual(log[firstOf0]!.cycles);
    expect(log.slice(0, firstOf0).every((s) => s.cpu === 1 && s.cycles < s.other + 20)).toBe(true);
  });

  it('each CPU keeps its own clock: the quantum changes the interleaving, not what each CPU is charged', () => {
    const m1 = twoCpus(20);
    const m2 = twoCpus(1_000_000); // one slice each
    expect(m2.cycles).toEqual(m1.cycles);
    expect(m2.log.map((s) => s.cpu)).not.toEqual(m1.log.map((s) => s.cpu));
    expect(m2.log.filter((s) => s.cpu === 0).map((s) => s.cycles)).toEqual(m1.log.filter((s) => s.cpu === 0).map((s) => s.cycles));
  });

  it('run(maxCycles) stops once every runnable CPU has reached the limit', () => {
    const m = new Machine({ memory: 16 * MiB, cpus: 2, quantum: 10 });
    const boot = new LongModeBoot(m);
    const start = m.cpus[0]!.cycles;
    m.cpus.forEach((cpu, i) => {
      cpu.rip = boot.native(`spin${i}`, (c) => c.jump(c.rip));
    });
    m.run(start + 1000);
    for (const c of m.cpus) {
      expect(c.cycles).toBeGreaterThanOrEqual(start + 1000);
      expect(c.cycles).toBeLessThan(start + 1000 + 10 + 2);
    }
  });
});

describe('device events scheduled from a running slice', () => {
  it('fire at their time: the slice that scheduled one ends, so the CPU does not run a quantum past it', () => {
    const m = new Machine({ memory: 4 * MiB, quantum: 1_000_000 });
    const boot = new LongModeBoot(m);
    const cpu = m.cpus[0]!;
    let due = -1;
    let firedAt = -1;
    let seen = -1;
    const spin: number = boot.native('spin', (c) => {
      if (firedAt >= 0) {
        seen = c.cycles;
        c.stop();
      } else c.jump(spin);
    });
    cpu.rip = boot.native('arm', (c) => {
      // What a store to a device register does: an event on the machine's clock, 500 cycles on.
      due = c.cycles + 500;
      m.schedule(due, () => (firedAt = cpu.cycles));
      c.jump(spin);
    });
    m.run();
    // At most one spin (one instruction) late; the CPU sees it at its next execution.
    expect(firedAt).toBeGreaterThanOrEqual(due);
    expect(firedAt - due).toBeLessThanOrEqual(1);
    expect(seen - firedAt).toBeLessThanOrEqual(1);
  });
});

describe('multi-CPU boot (SDM Vol. 2A LTR, Vol. 3A §8.2.2 TSS descriptor busy flag)', () => {
  it('every CPU gets its own TSS: the descriptor LTR loaded is busy, and LTR of a busy TSS raises #GP(selector)', () => {
    const m = new Machine({ memory: 16 * MiB, cpus: 3 });
    const boot = new LongModeBoot(m);
    const tss = m.cpus.map((c) => c.trBase);
    expect(new Set(tss).size).toBe(3);
    expect(m.cpus.map((c) => c.rsp)).toEqual(boot.cpuTables.map((t) => t.kernelStackTop));
    for (const t of boot.cpuTables) {
      const type = (m.mem.read32(t.gdt + GD_TSS + 4) >>> 8) & 0xf;
      expect(type).toBe(0xb); // busy 64-bit TSS
    }
    const c = m.cpus[1]!;
    let vector = -1;
    try {
      c.ltr(GD_TSS);
    } catch (e) {
      vector = (e as { vector: number }).vector;
      expect((e as { errorCode: number }).errorCode).toBe(GD_TSS);
    }
    expect(vector).toBe(Vector.GeneralProtection);
  });
});
