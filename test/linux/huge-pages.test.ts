/**
 * 2 MiB pages in the Linux model (core/linux/huge-pages.ts): MAP_HUGETLB and the libhugetlbfs-like
 * backing. SDM Vol. 3A §4.5 (Table 4-17: a PDE with PS=1 maps a 2 MiB page), §4.8 (A/D on the
 * leaf), §4.10.2 (one TLB entry for the whole 2 MiB page).
 */
import { describe, it, expect } from 'vitest';
import { PAGE_SIZE, PTE_A, PTE_D, PTE_PS } from '../../core/vtx/arch.js';
import { PageTables } from '../../core/vtx/page-tables.js';
import { EINVAL, ENOMEM, MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, NR, PROT_READ, PROT_WRITE } from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { STATUS_AT, boot, rax, rd64, runAll, wr64 } from './helpers.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const MB2 = 0x20_0000;

describe('Linux model: 2 MiB pages', () => {
  it('MAP_HUGETLB: 2 MiB-aligned range, length rounded up, one PS=1 PDE on a 2 MiB-aligned frame, one TLB entry', () => {
    const { m, k } = boot({ memory: 64 << 20 });
    let addr = 0;
    let len = 0;
    let pde: { lo: number; hi: number } | undefined;
    const misses: number[] = [];
    const values: bigint[] = [];
    let largeValid = 0;
    let unalignedUnmap = 0;
    let unmap = 0;
    let allocatedBefore = 0;
    let allocatedAfter = 0;
    const p = k.spawn('hugetlb', (c, proc) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, 0, 3 << 20, RW, ANON | MAP_HUGETLB, -1, 0));
      c.op(undefined, (cpu) => {
        addr = rax(cpu);
        const v = proc.mm.vmas.find(addr)!;
        len = v.end - v.start;
      });
      c.op(undefined, (cpu) => wr64(cpu, addr + 8, 0x1234n)); // the fault: one 2 MiB page
      c.op(undefined, () => {
        const h = proc.mm.hugePde(addr);
        pde = h && { lo: h.lo, hi: h.hi };
        misses.push(m.stats.sum('tlb.misses'));
        allocatedBefore = m.frames.allocated;
      });
      // Another 4 KiB page inside the same 2 MiB page: the TLB entry covers it (no walk).
      c.op(undefined, (cpu) => wr64(cpu, addr + 0x1f_f000, 0x5678n));
      c.op(undefined, (cpu) => {
        misses.push(m.stats.sum('tlb.misses'));
        largeValid = cpu.mmu.tlbLarge.valid;
        values.push(rd64(cpu, addr + 8), rd64(cpu, addr + 0x1f_f000));
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.munmap, addr, 3 << 20)); // not a multiple of 2 MiB
      c.op(undefined, (cpu) => {
        unalignedUnmap = rax(cpu);
        syscall(cpu, NR.munmap, addr, 4 << 20);
      });
      c.op(undefined, (cpu) => {
        unmap = rax(cpu);
        allocatedAfter = m.frames.allocated;
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(0);
    expect(addr % MB2).toBe(0);
    expect(len).toBe(4 << 20);
    expect(pde).toBeDefined();
    expect(pde!.lo & PTE_PS).toBe(PTE_PS);
    // A and D set by the walker on the PDE leaf (SDM §4.8).
    expect(pde!.lo & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(PageTables.entryFrame(pde!.lo, pde!.hi) % MB2).toBe(0);
    expect(misses[1]).toBe(misses[0]);
    expect(largeValid).toBeGreaterThanOrEqual(1);
    expect(values).toEqual([0x1234n, 0x5678n]);
    expect(m.stats.get('linux.hugeLeaves')).toBe(1);
    expect(unalignedUnmap).toBe(-EINVAL);
    expect(unmap).toBe(0);
    expect(allocatedBefore - allocatedAfter).toBe(512); // the 512 frames of the page went back
  });

  it('MAP_HUGETLB fails with ENOMEM when no contiguous 2 MiB frames are left', () => {
    const { k } = boot({ memory: 32 << 20 });
    let r = 0;
    const p = k.spawn('nomem', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, 0, 64 << 20, RW, ANON | MAP_HUGETLB, -1, 0));
      c.op(undefined, (cpu) => {
        r = rax(cpu);
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(0);
    expect(r).toBe(-ENOMEM);
  });

  it('libhugetlbfs-like backing: a large mmap gets 2 MiB pages; a partial munmap splits the page and keeps the rest', () => {
    const { m, k } = boot({ memory: 64 << 20 });
    let addr = 0;
    let huge = false;
    let splitPte = false;
    let r = -1;
    const values: bigint[] = [];
    const p = k.spawn('auto', (c, proc) => {
      proc.mm.hugeMmap = true;
      c.op('start', (cpu) => syscall(cpu, NR.mmap, 0, 4 << 20, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        addr = rax(cpu);
        wr64(cpu, addr + 5 * PAGE_SIZE, 0xaan);
      });
      c.op(undefined, (cpu) => {
        wr64(cpu, addr + 7 * PAGE_SIZE, 0xbbn);
        huge = proc.mm.hugePde(addr) !== undefined;
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.munmap, addr + 6 * PAGE_SIZE, PAGE_SIZE));
      c.op(undefined, (cpu) => {
        r = rax(cpu);
        splitPte = proc.mm.hugePde(addr) === undefined && proc.mm.pte(addr + 5 * PAGE_SIZE) !== undefined;
        values.push(rd64(cpu, addr + 5 * PAGE_SIZE), rd64(cpu, addr + 7 * PAGE_SIZE));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(0);
    expect(addr % MB2).toBe(0);
    expect(huge).toBe(true);
    expect(r).toBe(0);
    expect(splitPte).toBe(true);
    expect(values).toEqual([0xaan, 0xbbn]);
    expect(m.stats.get('linux.hugeLeaves')).toBe(1);
  });
  it('MAP_HUGETLB: mprotect of a whole page rewrites the PDE, of part of it is EINVAL; fork splits the page and copies on write', () => {
    const { k } = boot({ memory: 64 << 20 });
    let addr = 0;
    let child = 0;
    const r: Record<string, number> = {};
    const seen: bigint[] = [];
    const p = k.spawn('hugefork', (c, proc) => {
      c.op('start', (cpu) => syscall(cpu, NR.mmap, 0, MB2, RW, ANON | MAP_HUGETLB, -1, 0));
      c.op(undefined, (cpu) => {
        addr = rax(cpu);
        wr64(cpu, addr + 0x3000, 0x11n);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.mprotect, addr, PAGE_SIZE, PROT_READ));
      c.op(undefined, (cpu) => {
        r.partial = rax(cpu);
        syscall(cpu, NR.mprotect, addr, MB2, PROT_READ);
      });
      c.op(undefined, (cpu) => {
        r.whole = rax(cpu);
        r.writable = proc.mm.hugePde(addr)!.lo & 2;
        syscall(cpu, NR.mprotect, addr, MB2, RW);
      });
      c.op(undefined, (cpu) => syscall(cpu, NR.fork));
      c.op(undefined, (cpu) => {
        if (rax(cpu) === 0) return cpu.jump(c.addr('child'));
        child = rax(cpu);
        r.parentHugeAfterFork = proc.mm.hugePde(addr) === undefined ? 0 : 1;
      });
      c.op(undefined, (cpu) => wr64(cpu, addr + 0x3000, 0x22n));
      c.op(undefined, (cpu) => syscall(cpu, NR.wait4, child, STATUS_AT, 0, 0));
      c.op(undefined, (cpu) => {
        seen[1] = rd64(cpu, addr + 0x3000);
        syscall(cpu, NR.exit_group, 0);
      });
      c.op('child', (cpu) => {
        const v = rd64(cpu, addr + 0x3000);
        wr64(cpu, addr + 0x4000, 0x33n);
        seen[0] = v;
        syscall(cpu, NR.exit_group, 0);
      });
      return 'start';
    });
    runAll(k);
    expect(p.waitStatus).toBe(0);
    expect(r.partial).toBe(-EINVAL);
    expect(r.whole).toBe(0);
    expect(r.writable).toBe(0);
    expect(r.parentHugeAfterFork).toBe(0);
    expect(seen).toEqual([0x11n, 0x22n]); // the child saw the value before the parent's write; the parent its own
  });
});
