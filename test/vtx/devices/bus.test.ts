import { describe, expect, it } from 'vitest';
import { PTE_P, PTE_PCD, PTE_W } from '../../../core/vtx/arch.js';
import { MmioDevice, PortDevice } from '../../../core/vtx/devices/bus.js';
import { placeKernel, reg, runFrom, runKernel, runUser, setup, hex } from '../../interp/harness.js';

/** A register file that records every access (offset, size, value). */
class Recorder implements MmioDevice, PortDevice {
  readonly log: string[] = [];
  readonly regs = new Map<number, number>();
  constructor(readonly name: string) {}
  read(offset: number, size: 1 | 2 | 4): number {
    this.log.push(`r${size}@${offset.toString(16)}`);
    return this.regs.get(offset) ?? 0x1234_5678 + offset;
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.log.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
    this.regs.set(offset, value);
  }
  in(port: number, size: 1 | 2 | 4): number {
    this.log.push(`in${size}@${port.toString(16)}`);
    return 0xa5a5_a5a5 & (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff);
  }
  out(port: number, size: 1 | 2 | 4, value: number): void {
    this.log.push(`out${size}@${port.toString(16)}=${value.toString(16)}`);
  }
}

const APIC_BASE = 0xfee0_0000; // far above a 32 MiB machine's RAM

describe('MMIO bus', () => {
  it('a device above RAM answers loads and stores made through the page tables; 8-byte accesses arrive as two 4-byte ones', () => {
    const env = setup();
    const dev = new Recorder('lapic');
    env.m.mmio.map(APIC_BASE, 0x1000, dev);
    const va = 0x50_0000_0000;
    env.boot.pt.map(va, APIC_BASE, PTE_P | PTE_W | PTE_PCD); // uncached, as a driver maps registers
    const cpu = env.cpu;
    cpu.mmu.write32(va + 0xb0, 0); // EOI register
    expect(cpu.mmu.read32(va + 0x20)).toBe(0x1234_5678 + 0x20);
    cpu.mmu.write64(va + 0x300, 0xdead_beef, 0x0000_0001);
    expect(dev.log).toEqual(['w4@b0=0', 'r4@20', 'w4@300=deadbeef', 'w4@304=1']);
    // Every access goes to the device: nothing of it is cached on the hit path.
    cpu.mmu.read32(va + 0x20);
    expect(dev.log.filter((l) => l === 'r4@20')).toHaveLength(2);
    expect(env.m.mmio.claimed).toBe(5);
  });

  it('unclaimed addresses read as all ones and drop writes (a master abort), and are counted', () => {
    const env = setup();
    expect(env.m.mem.read32(0xd000_0000)).toBe(0xffff_ffff);
    expect(env.m.mem.read8(0xd000_0000)).toBe(0xff);
    env.m.mem.write32(0xd000_0000, 5);
    expect(env.m.mmio.unclaimed).toBe(3);
  });

  it('refuses overlapping regions, naming both devices', () => {
    const env = setup();
    env.m.mmio.map(APIC_BASE, 0x1000, new Recorder('lapic'));
    expect(() => env.m.mmio.map(APIC_BASE + 0x800, 0x1000, new Recorder('nic'))).toThrow(/MMIO region of nic overlaps lapic at 0xfee00800/);
  });
});

describe('port I/O', () => {
  it('IN and OUT at CPL 0 reach the port bus with their size; an unclaimed port reads all ones', () => {
    const env = setup();
    const dev = new Recorder('uart');
    env.m.ports.map(0x3f8, 8, dev);
    // mov dx, 0x3f8; mov al, 0x41; out dx, al; in ax, dx; mov ebx, eax; in al, 0x80
    runKernel('66 ba f8 03  b0 41  ee  66 ed  89 c3  e4 80', {}, undefined, env);
    expect(dev.log).toEqual(['out1@3f8=41', 'in2@3f8']);
    expect(reg(env.cpu, 'rbx') & 0xffffn).toBe(0xa5a5n);
    expect(reg(env.cpu, 'rax') & 0xffn).toBe(0xffn); // port 0x80: nobody
  });

  it('at CPL 3 with IOPL 0, IN is #GP(0) and no device sees it', () => {
    const env = setup();
    const dev = new Recorder('uart');
    env.m.ports.map(0x3f8, 8, dev);
    runUser('66 ba f8 03  ec', {}, undefined, env);
    expect(env.traps[0]).toMatchObject({ vector: 13, errorCode: 0 });
    expect(dev.log).toEqual([]);
  });
});

describe('DMA', () => {
  it('a device writing memory that holds decoded instructions makes the CPU decode the new bytes', () => {
    const env = setup();
    const p = placeKernel(env, hex('b8 01 00 00 00')); // mov eax, 1
    runFrom(env, p.va);
    expect(reg(env.cpu, 'rax')).toBe(1n);
    // A NIC's receive DMA lands on the same bytes (writeBytes is the bus-master path).
    env.m.mem.writeBytes(p.pa, hex('b8 02 00 00 00')); // mov eax, 2
    runFrom(env, p.va);
    expect(reg(env.cpu, 'rax')).toBe(2n);
  });
});

