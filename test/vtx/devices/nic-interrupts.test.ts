import { describe, expect, it } from 'vitest';
import { PTE_P, PTE_PCD, PTE_W, RFLAGS_FIXED, RFLAGS_IF } from '../../../core/vtx/arch.js';
import { Nic82599 } from '../../../core/vtx/devices/nic-82599.js';
import * as R from '../../../core/vtx/devices/nic-registers.js';
import { kernelProgram } from '../helpers.js';
import { reg, runKernel, setup } from '../../interp/harness.js';
import { buildFrame, nicRig } from './nic-driver.js';

const VECTOR = 0x60;
const US = 3300; // cycles per microsecond on the profile's 3.3 GHz clock

/**
 * A NIC whose RX queue 0 interrupts CPU 0 through MSI-X entry 0 (IVAR → vector 0 → APIC 0,
 * IDT vector 0x60), with an IDT handler that records when it ran and acknowledges, and a CPU
 * idling in HLT with interrupts enabled. Frames arrive on the machine clock, 1 µs apart.
 */
function interruptRig(eitr: number, opts: { autoClear?: boolean; enable?: boolean } = {}) {
  const t = nicRig();
  const { r, drv } = t;
  drv.setupRx(0, 256);
  drv.w(R.RXCTRL, R.RXCTRL_RXEN);
  drv.ivar(0, 0, 0);
  drv.msixEntry(0, VECTOR);
  drv.w(R.eitr(0), eitr);
  if (opts.autoClear !== false) drv.w(R.EIAC, 1);
  if (opts.enable !== false) drv.w(R.EIMS, 1);
  const handled: number[] = [];
  r.boot.gate(VECTOR, kernelProgram(r).add((c) => {
    handled.push(c.cycles);
    c.eoi();
    c.iretq();
  }));
  const p = kernelProgram(r);
  const idle = p.add((c) => c.hlt());
  p.add((c) => c.jump(idle));
  r.cpu.rip = idle;
  r.cpu.rflags = RFLAGS_FIXED | RFLAGS_IF;
  return { ...t, handled };
}

/** Frames arriving from `start`, one every microsecond. */
function burst(t: ReturnType<typeof interruptRig>, n: number, start: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < n; i++) {
    at.push(start + i * US);
    t.nic.receiveAt(start + i * US, buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1000 + i, dstPort: 80, payload: 64 }));
  }
  return at;
}

function runToIdle(t: ReturnType<typeof interruptRig>): void {
  t.r.m.run();
  while (t.r.m.advanceToNextEvent()) t.r.m.run();
}

describe('82599 interrupts: MSI-X, EITR moderation, masking', () => {
  it('without throttling (EITR 0) every frame of a 1 µs-spaced burst interrupts the CPU, at its arrival', () => {
    const t = interruptRig(0);
    const arrivals = burst(t, 100, t.r.cpu.cycles + 10 * US);
    runToIdle(t);
    expect(t.handled).toHaveLength(100);
    // Each frame is written back and its message lands after the receive pipeline and one link
    // crossing; delivery through the IDT takes the rest.
    const lag = t.nic.latency.macRx + t.nic.latency.postedWrite;
    expect(lag).toBeGreaterThan(0);
    t.handled.forEach((h, i) => {
      expect(h - arrivals[i]!).toBeGreaterThanOrEqual(lag);
      expect(h - arrivals[i]! - lag).toBeLessThan(1000);
    });
    expect(t.nic.interrupts[0]).toBe(100);
    expect(t.drv.rd(R.rdh(0))).toBe(100);
  });

  it('with EITR at 25 units of 2.048 µs (ixgbe IXGBE_20K_ITR = 200) a 100 µs burst interrupts 3 times, 51.2 µs apart', () => {
    const t = interruptRig(200);
    const arrivals = burst(t, 100, t.r.cpu.cycles + 10 * US);
    runToIdle(t);
    expect(t.drv.rd(R.rdh(0))).toBe(100); // every frame was DMA'd
    expect(t.handled).toHaveLength(3);
    const lag = t.nic.latency.macRx + t.nic.latency.postedWrite;
    expect(t.handled[0]! - arrivals[0]! - lag).toBeLessThan(1000); // the first is not held
    for (let i = 1; i < t.handled.length; i++) {
      expect(t.handled[i]! - t.handled[i - 1]!).toBeGreaterThanOrEqual(51.2 * US);
      expect(t.handled[i]! - t.handled[i - 1]!).toBeLessThan(51.2 * US + 1000);
    }
    // The last interrupt comes after the last frame: nothing is left unannounced.
    expect(t.handled[2]!).toBeGreaterThan(arrivals[99]!);
  });

  it('polling: with the cause masked (EIMC) frames land and the driver finds them by DD; EIMS then interrupts for the pending cause', () => {
    const t = interruptRig(0, { enable: false, autoClear: false });
    burst(t, 20, t.r.cpu.cycles + 10 * US);
    runToIdle(t);
    expect(t.handled).toHaveLength(0);
    let done = 0;
    while (done < 256 && t.drv.rxDone(0, done)) done++;
    expect(done).toBe(20);
    expect(t.drv.rd(R.EICR) & 1).toBe(1); // the cause is pending
    t.drv.w(R.EIMS, 1); // NAPI re-enables after its poll
    runToIdle(t);
    expect(t.handled).toHaveLength(1);
    t.drv.w(R.EICR, 1); // write 1 to clear
    expect(t.drv.rd(R.EICR)).toBe(0);
  });

  it('auto-mask (GPIE.EIAME with the vector in EIAM): one message masks its vector, the burst behind it waits for the driver\'s EIMS', () => {
    const t = interruptRig(0);
    t.drv.w(R.GPIE, R.GPIE_MSIX_MODE | R.GPIE_EIAME);
    t.drv.w(R.EIAM, 1);
    burst(t, 20, t.r.cpu.cycles + 10 * US);
    runToIdle(t);
    expect(t.handled).toHaveLength(1); // without EIAM (the first test) each frame interrupts
    expect(t.drv.rd(R.EIMS) & 1).toBe(0);
    expect(t.drv.rd(R.rdh(0))).toBe(20); // the frames still landed
    t.drv.w(R.EIMS, 1); // the poll is done: unmask; the causes that came meanwhile interrupt once
    runToIdle(t);
    expect(t.handled).toHaveLength(2);
    expect(t.drv.rd(R.EIMS) & 1).toBe(0);
  });

  it('a masked MSI-X vector leaves its message pending in the PBA; unmasking sends it', () => {
    const t = interruptRig(0);
    const mm = t.drv.cpu.mmu;
    mm.write32(t.drv.msixVa + 12, 1); // vector control: masked
    burst(t, 1, t.r.cpu.cycles + 10 * US);
    runToIdle(t);
    expect(t.handled).toHaveLength(0);
    expect(mm.read32(t.drv.msixVa + R.MSIX_PBA_OFFSET) & 1).toBe(1);
    mm.write32(t.drv.msixVa + 12, 0);
    expect(mm.read32(t.drv.msixVa + R.MSIX_PBA_OFFSET) & 1).toBe(0);
    runToIdle(t);
    expect(t.handled).toHaveLength(1);
  });

  it('16 queue pairs on 16 vectors: each RX queue interrupts with its own vector', () => {
    const t = nicRig();
    const { r, nic, drv } = t;
    drv.setReta((i) => i % 16);
    drv.w(R.MRQC, R.MRQC_MRQE_RSS | R.MRQC_RSS_TCPIPV4);
    for (let q = 0; q < 16; q++) {
      drv.setupRx(q, 8);
      drv.ivar(q, 0, q);
      drv.msixEntry(q, 0x40 + q);
    }
    drv.w(R.RXCTRL, R.RXCTRL_RXEN);
    drv.w(R.EIAC, 0xffff);
    drv.w(R.EIMS, 0xffff);
    // Flows until every queue has had one; record which vector each queue's frame raised.
    const seen = new Set<number>();
    for (let port = 1; seen.size < 16 && port < 5000; port++) {
      nic.receive(buildFrame({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: port, dstPort: 80 }));
      for (let q = 0; q < 16; q++) if (drv.rd(R.rdh(q)) > 0 && !seen.has(q)) {
        seen.add(q);
        expect(r.cpu.apic.isRequested(0x40 + q)).toBe(true);
      }
    }
    expect(seen.size).toBe(16);
    for (let q = 0; q < 16; q++) expect(nic.interrupts[q]).toBeGreaterThan(0);
  });
});

describe('the CPU pays for register accesses', () => {
  it('an uncached register read costs mmioRead cycles and a write mmioWrite; both are counted', () => {
    const { r, drv } = nicRig();
    const c = r.m.profile.constants;
    drv.rd(R.STATUS); // the page is in the TLB now
    const before = r.cpu.cycles;
    const count = r.m.stats.get('cpu0.mmu.mmioAccesses');
    drv.rd(R.STATUS);
    expect(r.cpu.cycles - before).toBeCloseTo(c.mmioRead.value, 6);
    const mid = r.cpu.cycles;
    drv.w(R.EIMC, 0);
    expect(r.cpu.cycles - mid).toBeCloseTo(c.mmioWrite.value, 6);
    expect(r.m.stats.get('cpu0.mmu.mmioAccesses') - count).toBe(2);
    // RAM costs nothing of the kind.
    const ram = r.cpu.cycles;
    r.cpu.mmu.read32(0x1000);
    expect(r.cpu.cycles - ram).toBeLessThan(c.mmioWrite.value);
  });

  it('x86 loads and stores reach the registers through the interpreter: MOV from LINKS, MOV to EIMS', () => {
    const env = setup();
    const nic = new Nic82599(env.m);
    nic.map(0xf000_0000, 0xf004_0000);
    const va = 0x50_0000_0000;
    for (let off = 0; off < R.NIC_BAR0_SIZE; off += 4096) env.boot.pt.map(va + off, 0xf000_0000 + off, PTE_P | PTE_W | PTE_PCD);
    const count = env.m.stats.get('cpu0.mmu.mmioAccesses');
    // mov eax, [rbx]; mov [rdx], ecx
    runKernel('8b 03  89 0a', { rbx: va + R.LINKS, rdx: va + R.EIMS, rcx: 5 }, undefined, env);
    expect(Number(reg(env.cpu, 'rax'))).toBe((R.LINKS_UP | R.LINKS_SPEED_10G) >>> 0);
    expect(nic.read(R.EIMS, 4)).toBe(5);
    expect(env.m.stats.get('cpu0.mmu.mmioAccesses') - count).toBe(2);
  });
});
