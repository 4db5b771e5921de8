/**
 * The EPT level follows the host page size (reference §2.7, ept.c's ept_set_epte): a guest-physical
 * 2 MiB block backed by a 2 MiB host page (a PS=1 PDE, core/linux/huge-pages.ts) gets one 2 MiB
 * EPT leaf (SDM Vol. 3C §29.3.2: an EPT PDE with bit 7 set maps a 2 MiB page), replacing the page
 * table of 4 KiB leaves that was there; a 4 KiB host page gets a 4 KiB leaf; the MMU notifier drops
 * the 2 MiB leaf when the host page goes.
 */
import { describe, it, expect } from 'vitest';
import { EPT_PS, PAGE_SIZE } from '../../core/vtx/arch.js';
import { Cpu } from '../../core/vtx/cpu.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_PRIVATE, NR, PROT_READ, PROT_WRITE } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs } from '../../core/linux/user-abi.js';
import { LibDune } from '../../core/dune/libdune.js';
import { duneProcess, rax, rig } from './helpers.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const MB2 = 0x20_0000;

const vmcall = (cpu: Cpu, nr: number, ...args: number[]): void => {
  loadSyscallArgs(cpu, nr, ...args);
  cpu.vmcall();
};

describe('Dune EPT: 2 MiB leaves for 2 MiB host pages', () => {
  it('a 4 KiB host page gets a 4 KiB EPT leaf; a 2 MiB host page at the same place a 2 MiB leaf that replaces the old table; munmap drops it', () => {
    const r = rig({ memory: 128 << 20 });
    const s: Record<string, number> = {};
    let lib!: LibDune;
    const leaf = (gpa: number): { level: number; lo: number } | undefined => r.dune.vcpuOf(r.k.current[0]!)!.ept.leaf(gpa);
    const { p } = duneProcess(r, 'ept-large', (c, l) => {
      lib = l;
      // Find a 2 MiB-aligned place: a hugetlb mmap gives one; give it back and reuse the address.
      c.op('guest', (cpu) => vmcall(cpu, NR.mmap, 0, MB2, RW, ANON | MAP_HUGETLB, -1, 0));
      c.op(undefined, (cpu) => {
        s.base = rax(cpu);
        vmcall(cpu, NR.munmap, s.base, MB2);
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.mmap, s.base!, MB2, RW, ANON | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => {
        cpu.mmu.write8(s.base! + 3 * PAGE_SIZE, 7);
        s.gpa = lib.vaToPa(s.base! + 3 * PAGE_SIZE);
        const l4 = leaf(s.gpa);
        s.smallLevel = l4?.level ?? 0;
        s.tablesBefore = r.dune.vcpuOf(r.k.current[0]!)!.ept.tables;
        vmcall(cpu, NR.munmap, s.base!, MB2);
      });
      c.op(undefined, (cpu) => {
        s.afterSmallUnmap = leaf(s.gpa!) === undefined ? 0 : 1;
        vmcall(cpu, NR.mmap, s.base!, MB2, RW, ANON | MAP_FIXED | MAP_HUGETLB, -1, 0);
      });
      c.op(undefined, (cpu) => {
        s.hugeAt = rax(cpu);
        cpu.mmu.write8(s.base! + 5 * PAGE_SIZE, 9);
        const l = leaf(s.gpa!);
        s.bigLevel = l?.level ?? 0;
        s.bigPs = l === undefined ? 0 : l.lo & EPT_PS;
        s.tablesAfter = r.dune.vcpuOf(r.k.current[0]!)!.ept.tables;
        s.value = cpu.mmu.read8(s.base! + 5 * PAGE_SIZE);
        s.hostHuge = p.mm.hugePde(s.base!) === undefined ? 0 : 1;
        vmcall(cpu, NR.munmap, s.base!, MB2);
      });
      c.op(undefined, (cpu) => {
        s.afterBigUnmap = leaf(s.gpa!) === undefined ? 0 : 1;
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    r.run();
    expect(p.waitStatus).toBe(0);
    expect(s.base! % MB2).toBe(0);
    expect(s.smallLevel).toBe(1);
    expect(s.afterSmallUnmap).toBe(0);
    expect(s.hugeAt).toBe(s.base);
    expect(s.hostHuge).toBe(1);
    expect(s.bigLevel).toBe(2);
    expect(s.bigPs).toBe(EPT_PS);
    expect(s.tablesAfter).toBe(s.tablesBefore! - 1); // the page table of 4 KiB leaves was freed
    expect(s.value).toBe(9);
    expect(s.afterBigUnmap).toBe(0);
    expect(r.stat('dune.eptLargeLeaves')).toBe(1);
    expect(r.stat('linux.hugeLeaves')).toBe(1);
  });
});
