import { describe, expect, it } from 'vitest';
import { RFLAGS_FIXED, RFLAGS_IF } from '../../core/vtx/arch.js';
import { LocalApic } from '../../core/vtx/local-apic.js';
import { kernelProgram, rig, run } from './helpers.js';

/** Interrupt acceptance by priority, SDM Vol. 3A §10.8.3–10.8.5. */
describe('local APIC', () => {
  it('delivers the highest requested vector whose class is above the processor priority; EOI ends the highest in service', () => {
    const a = new LocalApic();
    a.request(0x31);
    a.request(0x52);
    a.request(0x5f);
    expect(a.acknowledge()).toBe(0x5f);
    // 0x52 is in class 5, as 0x5f in service: it waits (PPR = 0x50).
    expect(a.processorPriority()).toBe(0x50);
    expect(a.deliverable()).toBe(-1);
    a.request(0xec); // a higher class preempts the handler in service
    expect(a.acknowledge()).toBe(0xec);
    a.eoi(); // ends 0xec, the highest in service
    expect(a.isInService(0xec)).toBe(false);
    expect(a.isInService(0x5f)).toBe(true);
    a.eoi();
    expect(a.acknowledge()).toBe(0x52);
    a.eoi();
    expect(a.acknowledge()).toBe(0x31);
    a.eoi();
    a.eoi();
    expect(a.spuriousEois).toBe(1);
    expect(a.requested).toBe(false);
  });

  it('TPR blocks classes at or below it; a second request of a pending vector merges with the first', () => {
    const a = new LocalApic();
    a.tpr = 0x40;
    a.request(0x41);
    expect(a.deliverable()).toBe(-1);
    a.tpr = 0x30;
    a.request(0x41);
    expect(a.merged).toBe(1);
    expect(a.acknowledge()).toBe(0x41);
    expect(a.deliverable()).toBe(-1); // one delivery for the two requests
    expect(() => a.request(8)).toThrow(/outside 16\.\.255/);
  });

  it('on the CPU: an interrupt waits for IF, then for the EOI of the same vector before it is delivered again', () => {
    const r = rig();
    const seen: number[] = [];
    const handler = kernelProgram(r).add((c) => {
      seen.push(c.cycles);
      c.iretq(); // no EOI: the vector stays in service
    });
    r.boot.gate(0x40, handler);
    const p = kernelProgram(r);
    const at = p.add((c) => {
      c.interrupt(0x40);
      c.rflags = RFLAGS_FIXED | RFLAGS_IF;
    });
    p.add((c) => c.interrupt(0x40)); // requested again while 0x40 is in service: held
    p.add((c) => {
      expect(seen).toHaveLength(1);
      expect(c.apic.isRequested(0x40)).toBe(true);
      c.eoi(); // WRMSR 0x80B
    });
    p.add((c) => c.stop());
    r.cpu.rflags = RFLAGS_FIXED;
    run(r, at);
    expect(seen).toHaveLength(2);
    expect(r.cpu.rdmsr(0x820 + 2) >>> 0).toBe(0); // IRR word 2 (vectors 0x40–0x5f) empty
    expect((r.cpu.rdmsr(0x810 + 2) >>> 0) & 1).toBe(1); // 0x40 in service: the second handler sent no EOI
    expect(() => r.cpu.wrmsr(0x80b, 1, 0)).toThrow(); // a non-zero EOI write is #GP
  });
});
