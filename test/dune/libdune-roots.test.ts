/**
 * Several page-table roots per process (libDune's vm.c and what Wedge builds on it):
 * dune_vm_clone of a root holding a 2 MiB leaf and the upper half of the address space,
 * switching roots with a PCID and CR3_NOFLUSH (a tagged TLB, SDM Vol. 3A §4.10.1 and §4.10.4.1),
 * the PCID allocator, dune_vm_free, and a dirty-page harvest that clears D and flushes once.
 */
import { describe, it, expect } from 'vitest';
import { PAGE_SIZE, PTE_D, PTE_P, PTE_PS } from '../../core/vtx/arch.js';
import { Cpu, RAX } from '../../core/vtx/cpu.js';
import { NR } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs, syscall } from '../../core/linux/user-abi.js';
import { PERM_BIG, PERM_R, PERM_W } from '../../core/dune/dune-abi.js';
import { LibDune } from '../../core/dune/libdune.js';
import { PcidAllocator } from '../../core/dune/libdune/pcid-allocator.js';
import { GUEST_VA, duneProcess, rig } from './helpers.js';

const P = PAGE_SIZE;
const BIG = 0x20_0000;
const exit0 = (cpu: Cpu): void => {
  loadSyscallArgs(cpu, NR.exit_group, 0);
  cpu.vmcall();
};

describe('dune_vm_clone', () => {
  it('keeps a 2 MiB leaf a 2 MiB leaf (PS=1 PDE, not a PTE under a new table) and clones the upper half, where the SYSCALL trampoline is', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const BIGVA = GUEST_VA + 0x4000_0000; // 2 MiB aligned
    const { p } = duneProcess(r, 'clone-big', (c, lib) => {
      let B = 0;
      c.op('guest', (cpu) => {
        const A = lib.pgroot;
        s.map = lib.vmMapPages(A, BIGVA, BIG, PERM_R | PERM_W | PERM_BIG);
        cpu.mmu.write32(BIGVA, 0x5150);
        cpu.mmu.write32(BIGVA + 0x15_0000 + 0x24, 0x5151);
        B = lib.vmClone(A);
        const eA = lib.vmLookupLevel(A, BIGVA, 2, false);
        const eB = lib.vmLookupLevel(B, BIGVA, 2, false);
        s.loA = lib.readEntry(eA);
        s.hiA = lib.entHi;
        s.loB = lib.readEntry(eB);
        s.hiB = lib.entHi;
        // A lookup in the clone stops at the 2 MiB leaf, as in the original.
        s.stopsAtLeaf = lib.vmLookup(B, BIGVA + 0x15_0000, false) === eB ? 1 : 0;
        // The SYSCALL trampoline at the (kernel, upper-half) LSTAR address.
        const lstar = r.k.syscallEntry;
        s.lstarNegative = lstar < 0 ? 1 : 0;
        const tA = lib.vmLookup(A, lstar, false);
        const tB = lib.vmLookup(B, lstar, false);
        s.trampA = tA >= 0 ? lib.readEntry(tA) : -1;
        s.trampB = tB >= 0 ? lib.readEntry(tB) : -1;
        lib.loadCr3(cpu, B);
      });
      // Through the clone: the data of the big page, and a system call through the trampoline.
      c.op(undefined, (cpu) => {
        s.v0 = cpu.mmu.read32(BIGVA);
        s.v1 = cpu.mmu.read32(BIGVA + 0x15_0000 + 0x24);
        syscall(cpu, NR.getpid);
      });
      c.op(undefined, (cpu) => {
        s.pid = cpu.reg(RAX);
        s.cr3 = cpu.cr3;
      });
      c.op(undefined, exit0);
    }, { full: false });
    r.run();
    expect(s.map).toBe(0);
    expect(s.loA! & (PTE_P | PTE_PS)).toBe(PTE_P | PTE_PS);
    expect([s.loB, s.hiB]).toEqual([s.loA, s.hiA]); // the very same leaf, at level 2
    expect(s.stopsAtLeaf).toBe(1);
    expect(s.lstarNegative).toBe(1);
    expect(s.trampA! & PTE_P).toBe(PTE_P);
    expect(s.trampB).toBe(s.trampA);
    expect(s.v0).toBe(0x5150);
    expect(s.v1).toBe(0x5151);
    expect(s.pid).toBe(p.pid);
    expect(p.waitStatus).toBe(0);
  });

  it('takes a reference on a pool page for each cloned leaf over it, and dune_vm_free gives back the clone\'s tables and references', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const { p } = duneProcess(r, 'clone-free', (c, lib) => {
      c.op('guest', (cpu) => {
        const A = lib.pgroot;
        lib.vmMapPages(A, GUEST_VA, 2 * P, PERM_R | PERM_W);
        lib.vmMapPages(A, GUEST_VA + BIG, BIG, PERM_R | PERM_W | PERM_BIG);
        const small = LibDune.frameOf(lib.readEntry(lib.vmLookup(A, GUEST_VA, false)), 0);
        const big = LibDune.frameOf(lib.readEntry(lib.vmLookup(A, GUEST_VA + BIG, false)), 0);
        s.left0 = lib.poolPagesLeft();
        s.refs0 = lib.pool.refsOf(small) * 1000 + lib.pool.refsOf(big + 511 * P);
        const B = lib.vmClone(A);
        s.refs1 = lib.pool.refsOf(small) * 1000 + lib.pool.refsOf(big + 511 * P);
        s.tookPages = s.left0 - lib.poolPagesLeft() > 0 ? 1 : 0;
        lib.vmFree(cpu, B);
        s.refs2 = lib.pool.refsOf(small) * 1000 + lib.pool.refsOf(big + 511 * P);
        s.left2 = lib.poolPagesLeft();
        try {
          lib.vmFree(cpu, A);
        } catch (e) {
          s.freeLoaded = /root in CR3/.test(String(e)) ? 1 : 0;
        }
      });
      c.op(undefined, exit0);
    }, { full: false });
    r.run();
    expect(s.refs0).toBe(1001);
    // Two leaves of the clone map each page: the data mapping and the pool's identity window.
    expect(s.refs1).toBe(3003);
    expect(s.tookPages).toBe(1);
    expect(s.refs2).toBe(1001);
    expect(s.left2).toBe(s.left0);
    expect(s.freeLoaded).toBe(1);
    expect(p.waitStatus).toBe(0);
  });
});

describe('switchRoot and the PCID allocator', () => {
  it('pcidAlloc hands out 1..4095 (0 stays reserved), reuses what pcidFree gave back, and says so when none is left', () => {
    const a = new PcidAllocator();
    const got: number[] = [];
    for (let i = 0; i < 4095; i++) got.push(a.alloc());
    expect(got[0]).toBe(1);
    expect(got[4094]).toBe(4095);
    expect(new Set(got).size).toBe(4095);
    expect(() => a.alloc()).toThrow(/out of PCIDs/);
    a.release(17);
    expect(a.alloc()).toBe(17);
    expect(() => a.release(0)).toThrow(/not allocated/);
  });

  it('with CR3_NOFLUSH each root keeps its PCID-tagged TLB entries across switches; without it the CPU drops the new PCID\'s entries only', () => {
    const r = rig();
    const N = 8;
    const DATA = GUEST_VA + 64 * P;
    const misses: Record<string, number> = {};
    const s: Record<string, number | string> = {};
    const { p } = duneProcess(r, 'switch', (c, lib) => {
      let A = 0;
      let B = 0;
      let pa = 0;
      let pb = 0;
      const phase = (name: string, root: () => number, pcid: () => number, noFlush: boolean) => (cpu: Cpu): void => {
        lib.switchRoot(cpu, root(), pcid(), noFlush);
        s[name + ' cr3'] = cpu.cr3 % P;
        const m0 = r.stat('cpu0.tlb.misses');
        for (let i = 0; i < N; i++) cpu.mmu.read32(DATA + i * P);
        misses[name] = r.stat('cpu0.tlb.misses') - m0;
      };
      c.op('guest', (cpu) => {
        A = lib.pgroot;
        lib.vmMapPages(A, DATA, N * P, PERM_R | PERM_W);
        for (let i = 0; i < N; i++) cpu.mmu.write32(DATA + i * P, i);
        B = lib.vmClone(A);
        pa = lib.pcidAlloc();
        pb = lib.pcidAlloc();
        s.pcids = `${pa},${pb}`;
        try {
          lib.switchRoot(cpu, B, 99, true);
        } catch (e) {
          s.unallocated = String(e);
        }
      });
      c.op(undefined, phase('A1 flush', () => A, () => pa, false));
      c.op(undefined, phase('B1 noflush', () => B, () => pb, true));
      c.op(undefined, phase('A2 noflush', () => A, () => pa, true));
      c.op(undefined, phase('B2 noflush', () => B, () => pb, true));
      c.op(undefined, phase('A3 flush', () => A, () => pa, false));
      c.op(undefined, phase('B3 noflush', () => B, () => pb, true));
      c.op(undefined, (cpu) => {
        // Freeing B's PCID drops its entries: the next root tagged with it starts cold.
        lib.switchRoot(cpu, A, 0, false);
        lib.pcidFree(cpu, pb);
        s.again = lib.pcidAlloc();
      });
      c.op(undefined, phase('B4 noflush', () => B, () => s.again as number, true));
      c.op(undefined, exit0);
    }, { full: false });
    r.run();
    expect(s.pcids).toBe('1,2');
    expect(String(s.unallocated)).toMatch(/PCID 99 was not allocated/);
    expect(s['A1 flush cr3']).toBe(1);
    expect(s['B1 noflush cr3']).toBe(2);
    expect(misses).toEqual({
      'A1 flush': N,
      'B1 noflush': N, // PCID 2 never held them
      'A2 noflush': 0, // kept across the switch to PCID 2 and back
      'B2 noflush': 0,
      'A3 flush': N, // a flushing load drops PCID 1's entries…
      'B3 noflush': 0, // …and only those
      'B4 noflush': N, // pcidFree flushed PCID 2 before handing it out again
    });
    expect(s.again).toBe(2);
    expect(p.waitStatus).toBe(0);
  });
});

describe('vmHarvestDirty', () => {
  it('returns exactly the pages written since the last harvest (a 2 MiB leaf by its base), clears D, and flushes the TLB once (not at all when nothing was dirty)', () => {
    const r = rig();
    const N = 8;
    const DATA = GUEST_VA + 64 * P;
    const BIGVA = GUEST_VA + 0x4000_0000;
    const h: number[][] = [];
    const flushes: number[] = [];
    const s: Record<string, number> = {};
    const { p } = duneProcess(r, 'harvest', (c, lib) => {
      const harvest = (cpu: Cpu, root: number): void => {
        const f0 = r.stat('cpu0.tlb.flushes');
        h.push(lib.vmHarvestDirty(cpu, root, GUEST_VA, GUEST_VA + 0x8000_0000));
        flushes.push(r.stat('cpu0.tlb.flushes') - f0);
      };
      let B = 0;
      c.op('guest', (cpu) => {
        lib.vmMapPages(lib.pgroot, DATA, N * P, PERM_R | PERM_W);
        lib.vmMapPages(lib.pgroot, BIGVA, BIG, PERM_R | PERM_W | PERM_BIG);
        for (let i = 0; i < N; i++) cpu.mmu.write32(DATA + i * P, i);
        cpu.mmu.read32(BIGVA); // accessed, not dirty
        harvest(cpu, lib.pgroot);
      });
      c.op(undefined, (cpu) => {
        for (const i of [1, 3, 6]) cpu.mmu.write32(DATA + i * P + 8, 0x77);
        cpu.mmu.read32(DATA + 2 * P);
        cpu.mmu.write32(BIGVA + 0x12_3000, 0x88);
        harvest(cpu, lib.pgroot);
        let d = 0;
        lib.vmPageWalk(lib.pgroot, GUEST_VA, GUEST_VA + 0x8000_0000, (ptep) => void (d |= lib.readEntry(ptep) & PTE_D));
        s.dAfter = d;
      });
      // Page 3 again: its TLB entry was cached dirty; only because the harvest flushed it does
      // this write walk again and set D in the PTE.
      c.op(undefined, (cpu) => {
        cpu.mmu.write32(DATA + 3 * P, 0x99);
        harvest(cpu, lib.pgroot);
        harvest(cpu, lib.pgroot);
      });
      // A root that is not loaded: the flush is the INVPCID of the PCID it ran with.
      c.op(undefined, (cpu) => {
        B = lib.vmClone(lib.pgroot);
        const pcid = lib.pcidAlloc();
        lib.switchRoot(cpu, B, pcid, false);
        cpu.mmu.write32(DATA + 5 * P, 0x55);
        lib.switchRoot(cpu, lib.pgroot, 0, true);
        const f0 = r.stat('cpu0.tlb.flushes');
        h.push(lib.vmHarvestDirty(cpu, B, GUEST_VA, GUEST_VA + 0x8000_0000));
        s.invpcidFlushes = r.stat('cpu0.tlb.flushes') - f0;
      });
      c.op(undefined, exit0);
    }, { full: false });
    r.run();
    expect(h).toEqual([
      Array.from({ length: N }, (_, i) => DATA + i * P),
      [DATA + P, DATA + 3 * P, DATA + 6 * P, BIGVA],
      [DATA + 3 * P],
      [],
      [DATA + 5 * P],
    ]);
    expect(flushes).toEqual([1, 1, 1, 0]); // nothing cleared, nothing to flush
    expect(s.dAfter).toBe(0);
    expect(s.invpcidFlushes).toBe(1);
    expect(p.waitStatus).toBe(0);
  });
});
