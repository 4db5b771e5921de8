import { describe, it, expect } from 'vitest';
import { Machine } from '../../core/vtx/machine.js';
import { LongModeBoot } from '../../core/vtx/boot.js';
import { PTE_A, PTE_D, PTE_P, PTE_U, PTE_W, Vector } from '../../core/vtx/arch.js';
import { RAX } from '../../core/vtx/cpu.js';

describe('smoke', () => {
  it('runs a native that reads and writes through the MMU and sets A/D', () => {
    const m = new Machine({ memory: 16 << 20 });
    const boot = new LongModeBoot(m);
    const cpu = m.cpus[0]!;
    const data = 0x40_0000_0000;
    boot.userPage(data, PTE_P | PTE_W | PTE_U);
    const entry = boot.native('t', (c) => {
      c.mmu.write64(data + 8, 0x1234, 0x5678);
      c.setReg(RAX, c.mmu.read64Number(data + 8));
      c.stop();
    });
    cpu.rip = entry;
    cpu.runUntil(1e9);
    expect(cpu.lo[RAX]).toBe(0x1234);
    expect(cpu.hi[RAX]).toBe(0x5678);
    const leaf = boot.pt.leaf(data)!;
    expect(leaf.lo & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(m.stats.get('cpu0.mmu.walks')).toBeGreaterThan(0);
    expect(Vector.PageFault).toBe(14);
  });
});
