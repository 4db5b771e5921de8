import { describe, it, expect } from 'vitest';
import { PTE_P, PTE_U, PTE_W, Vector } from '../../core/vtx/arch.js';
import { LongModeBoot } from '../../core/vtx/boot.js';
import { Machine } from '../../core/vtx/machine.js';
import { enterUser } from './helpers.js';

describe('tracer', () => {
  it('records exceptions and TLB events as Chrome Trace Event JSON only when enabled', () => {
    const run = (enabled: boolean): Machine => {
      const m = new Machine({ memory: 16 << 20 });
      m.tracer.enabled = enabled;
      const boot = new LongModeBoot(m);
      const cpu = m.cpus[0]!;
      const page = 0x40_0000_0000;
      boot.userPage(page, PTE_P | PTE_W);
      const handler = boot.native('pf', (c) => {
        boot.pt.map(page + 0x1000, m.frames.alloc(), PTE_P | PTE_W); // fix the mapping, retry
        c.setReg(4, c.rsp + 8); // pop the error code
        c.iretq();
      });
      boot.gate(Vector.PageFault, handler);
      cpu.rip = boot.native('main', (c) => {
        c.mmu.write8(page + 0x1000, 1); // #PF, then retried
        c.invlpg(page);
        c.stop();
      });
      cpu.runUntil(1e9);
      return m;
    };
    expect(run(false).tracer.length).toBe(0);
    const m = run(true);
    const trace = JSON.parse(JSON.stringify(m.tracer.toChromeTrace())) as { traceEvents: Array<{ name: string; cat: string; ph: string; ts: number; tid: number }> };
    const events = trace.traceEvents.filter((e) => e.cat !== '__metadata' && e.cat !== 'cpu');
    expect(events.map((e) => `${e.cat}:${e.name}`)).toEqual(['exception:#PF', 'tlb:invlpg']);
    for (const e of events) {
      expect(e.ph).toBe('i');
      expect(e.tid).toBe(0);
      expect(e.ts).toBeGreaterThan(0); // microseconds of simulated time at 3.3 GHz
    }
    expect(events[1]!.ts).toBeGreaterThan(events[0]!.ts);
  });

  it('keeps each CPU\'s privilege level as back-to-back spans: kernel, then user once CPL is 3', () => {
    const m = new Machine({ memory: 16 << 20 });
    m.tracer.enabled = true;
    const boot = new LongModeBoot(m);
    const cpu = m.cpus[0]!;
    const page = 0x40_0000_0000;
    const userPa = boot.userPage(page, PTE_P | PTE_W | PTE_U);
    m.natives.install(m.mem, userPa, m.natives.register('user', (c) => c.stop(), 1, 3));
    cpu.rip = boot.native('main', (c) => {
      c.cycles += 1000;
      enterUser(c, page + 0x800);
      c.jump(page);
    });
    cpu.runUntil(1e9);
    m.tracer.finish([cpu.cycles + 10]);
    const spans = m.tracer.all().filter((e) => e.cat === 'cpu');
    expect(spans.map((e) => e.name)).toEqual(['kernel', 'user']);
    expect(spans[0]!.ts + spans[0]!.dur!).toBeCloseTo(spans[1]!.ts, 9); // no gap, no overlap
    expect(spans[0]!.dur!).toBeGreaterThanOrEqual(1000 / 3300);
    const names = m.tracer.toChromeTrace().traceEvents.filter((e) => e.ph === 'M').map((e) => (e.args as { name: string }).name);
    expect(names).toContain('cpu0');
  });
});
