/**
 * libDune's page-table API on the guest page table, run as guest ring-0 code (libdune/vm.c and
 * the reference's §1.3): dune_vm_map_pages, dune_vm_mprotect (+ whole-TLB flush), dune_vm_unmap,
 * dune_vm_page_walk, dune_vm_clone, load_cr3 with PCIDs and CR3_NOFLUSH; and #PF delivered to the
 * registered page-fault handler through the guest IDT, without a VM exit.
 */
import { describe, it, expect } from 'vitest';
import { FEC_P, FEC_W, PAGE_SIZE, PTE_NX_HI, PTE_P, PTE_U, PTE_W } from '../../core/vtx/arch.js';
import { Cpu } from '../../core/vtx/cpu.js';
import { NR } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs } from '../../core/linux/user-abi.js';
import { PERM_R, PERM_W } from '../../core/dune/dune-abi.js';
import { LibDune, TF } from '../../core/dune/libdune.js';
import { GUEST_VA, duneProcess, rig } from './helpers.js';

const P = PAGE_SIZE;
const exit0 = (cpu: Cpu): void => {
  loadSyscallArgs(cpu, NR.exit_group, 0);
  cpu.vmcall();
};

interface Fault { addr: number; fec: number; cpl: number; nonRoot: boolean; rip: number; cs: number }

describe('libDune page tables: map, mprotect, unmap and the page-fault handler', () => {
  it('vmMapPages memory works; vmMprotect(PERM_R) makes a write raise #PF in guest ring 0 with CR2 and P|W, handled without a VM exit; vmUnmap makes it not present', () => {
    const r = rig();
    const faults: Fault[] = [];
    const s: Record<string, number> = {};
    const values: number[] = [];
    let fix: 'rw' | 'map' = 'rw';
    const { p, code } = duneProcess(r, 'vm', (c, lib) => {
      lib.registerPgfltHandler((cpu, addr, fec, tf) => {
        faults.push({ addr, fec, cpl: cpu.cpl, nonRoot: cpu.vmx.nonRoot, rip: lib.tfGet(cpu, tf, TF.rip), cs: lib.tfGet(cpu, tf, TF.cs) & 0xffff });
        const page = addr - (addr % P);
        if (fix === 'rw') lib.vmMprotect(cpu, lib.pgroot, page, P, PERM_R | PERM_W);
        else lib.vmMapPages(lib.pgroot, page, P, PERM_R | PERM_W);
      });
      c.op('guest', (cpu) => {
        s.map = lib.vmMapPages(lib.pgroot, GUEST_VA, 4 * P, PERM_R | PERM_W);
        for (let i = 0; i < 4; i++) cpu.mmu.write32(GUEST_VA + i * P, 0x1100 + i);
      });
      c.op(undefined, (cpu) => {
        for (let i = 0; i < 4; i++) values.push(cpu.mmu.read32(GUEST_VA + i * P));
        const e = lib.vmLookup(lib.pgroot, GUEST_VA, false);
        s.pteLo = cpu.mmu.read64(e);
        s.pteHi = cpu.mmu.hi;
        s.frame = LibDune.frameOf(s.pteLo, 0);
        s.fromPool = lib.isFromPool(s.frame) ? 1 : 0;
        s.mprotect1 = lib.vmMprotect(cpu, lib.pgroot, GUEST_VA + P, P, PERM_R);
      });
      // Warm-up round (first use of the IDT page, the trap stack …), then the measured one.
      c.op('fault1', (cpu) => cpu.mmu.write32(GUEST_VA + P + 0x10, 0xaaaa));
      c.op(undefined, (cpu) => {
        s.mprotect2 = lib.vmMprotect(cpu, lib.pgroot, GUEST_VA + 2 * P, P, PERM_R);
        s.exits0 = r.stat('cpu0.vmx.exits');
        s.pf0 = r.stat('cpu0.exceptions.PF');
      });
      c.op('fault2', (cpu) => cpu.mmu.write32(GUEST_VA + 2 * P + 0x24, 0xbbbb));
      c.op(undefined, (cpu) => {
        s.exits = r.stat('cpu0.vmx.exits') - s.exits0!;
        s.pf = r.stat('cpu0.exceptions.PF') - s.pf0!;
        s.after1 = cpu.mmu.read32(GUEST_VA + P + 0x10);
        s.after2 = cpu.mmu.read32(GUEST_VA + 2 * P + 0x24);
        lib.vmUnmap(cpu, lib.pgroot, GUEST_VA + 3 * P, P);
        s.unmappedLo = lib.readEntry(lib.vmLookup(lib.pgroot, GUEST_VA + 3 * P, false));
        fix = 'map';
      });
      c.op('fault3', (cpu) => {
        s.fresh = cpu.mmu.read32(GUEST_VA + 3 * P); // the old value was 0x1103
      });
      c.op(undefined, exit0);
    });
    r.run();
    const addrOf = (l: string): number => code.addr(l);
    expect(s.map).toBe(0);
    expect(values).toEqual([0x1100, 0x1101, 0x1102, 0x1103]);
    expect(s.pteLo! & (PTE_P | PTE_W | PTE_U)).toBe(PTE_P | PTE_W); // no U: PERM_U was not asked
    expect((s.pteHi! & PTE_NX_HI) >>> 0).toBe(PTE_NX_HI); // no PERM_X: execute-disable
    expect(s.fromPool).toBe(1);
    expect(s.mprotect1).toBe(0);
    expect(s.mprotect2).toBe(0);
    expect(faults).toEqual([
      { addr: GUEST_VA + P + 0x10, fec: FEC_P | FEC_W, cpl: 0, nonRoot: true, rip: addrOf('fault1'), cs: 0x10 },
      { addr: GUEST_VA + 2 * P + 0x24, fec: FEC_P | FEC_W, cpl: 0, nonRoot: true, rip: addrOf('fault2'), cs: 0x10 },
      { addr: GUEST_VA + 3 * P, fec: 0, cpl: 0, nonRoot: true, rip: addrOf('fault3'), cs: 0x10 },
    ]);
    expect(s.exits).toBe(0); // #PF goes to the guest IDT: no VM exit
    expect(s.pf).toBe(1);
    expect(s.after1).toBe(0xaaaa);
    expect(s.after2).toBe(0xbbbb);
    expect(s.unmappedLo).toBe(0);
    expect(s.fresh).toBe(0);
    expect(p.waitStatus).toBe(0);
  });
});

describe('libDune page tables: walk and clone', () => {
  it('vmPageWalk visits exactly the present leaves of the range, with their entry addresses, and stops when the callback returns true', () => {
    const r = rig();
    const walks: Array<Array<[number, number]>> = [];
    const lookups: number[][] = [];
    const mapped = [GUEST_VA, GUEST_VA + P, GUEST_VA + 5 * P, GUEST_VA + 0x20_0000 + 3 * P, GUEST_VA + 0x4000_0000];
    const { p } = duneProcess(r, 'walk', (c, lib) => {
      const walk = (start: number, end: number, stopAfter = Infinity): void => {
        const seen: Array<[number, number]> = [];
        lib.vmPageWalk(lib.pgroot, start, end, (ptep, va) => {
          seen.push([va, ptep]);
          return seen.length >= stopAfter;
        });
        walks.push(seen);
      };
      c.op('guest', () => {
        for (const va of mapped) lib.vmMapPages(lib.pgroot, va, P, PERM_R | PERM_W);
        lookups.push(mapped.map((va) => lib.vmLookup(lib.pgroot, va, false)));
        walk(GUEST_VA, GUEST_VA + 0x8000_0000);
        walk(GUEST_VA + P, GUEST_VA + 0x20_0000);
        walk(GUEST_VA, GUEST_VA + 0x8000_0000, 2);
      });
      c.op(undefined, (cpu) => {
        lib.vmUnmap(cpu, lib.pgroot, GUEST_VA + P, P);
        walk(GUEST_VA, GUEST_VA + 0x8000_0000);
      });
      c.op(undefined, exit0);
    });
    r.run();
    const ptes = lookups[0]!;
    const all = mapped.map((va, i): [number, number] => [va, ptes[i]!]);
    expect(walks).toEqual([
      all,
      [all[1], all[2]],
      [all[0], all[1]],
      [all[0], all[2], all[3], all[4]],
    ]);
    expect(p.waitStatus).toBe(0);
  });

  it('vmClone copies every leaf; loading the clone into CR3 keeps translating (code, stack, data); both share the pages', () => {
    const r = rig();
    const s: Record<string, number> = {};
    let same: boolean[] = [];
    let walkA: Array<[number, number]> = [];
    let walkB: Array<[number, number]> = [];
    let A = 0;
    let B = 0;
    const { p, code } = duneProcess(r, 'clone', (c, lib) => {
      c.op('guest', (cpu) => {
        A = lib.pgroot;
        lib.vmMapPages(A, GUEST_VA, 4 * P, PERM_R | PERM_W);
        for (let i = 0; i < 4; i++) cpu.mmu.write32(GUEST_VA + i * P, 0x2200 + i);
        B = lib.vmClone(A);
        // Leaves copied verbatim: code, stack, the mmap window, the pool, the new data pages.
        const probe = [code.addr('guest'), cpu.rsp, r.dune.layout.baseMap, lib.pgroot, GUEST_VA, GUEST_VA + 3 * P];
        same = probe.map((va) => {
          const a = cpu.mmu.read64(lib.vmLookup(A, va, false));
          const ah = cpu.mmu.hi;
          const b = cpu.mmu.read64(lib.vmLookup(B, va, false));
          return a === b && ah === cpu.mmu.hi && (a & PTE_P) !== 0;
        });
        const leaves = (root: number): Array<[number, number]> => {
          const out: Array<[number, number]> = [];
          lib.vmPageWalk(root, GUEST_VA, GUEST_VA + 0x20_0000, (ptep, va) => void out.push([va, LibDune.frameOf(cpu.mmu.read64(ptep), 0)]));
          return out;
        };
        walkA = leaves(A);
        walkB = leaves(B);
        lib.loadCr3(cpu, B);
      });
      c.op(undefined, (cpu) => {
        // Fetched, and running, through the clone.
        s.cr3 = cpu.cr3;
        s.v3 = cpu.mmu.read32(GUEST_VA + 3 * P);
        cpu.mmu.write32(GUEST_VA, 0x7777); // through B
        cpu.mmu.write64Number(cpu.rsp - 128, 0x1234); // the stack, through B
      });
      c.op(undefined, (cpu) => {
        lib.loadCr3(cpu, A);
        s.cr3Back = cpu.cr3;
        s.v0 = cpu.mmu.read32(GUEST_VA); // the frame is shared
        s.stack = cpu.mmu.read64Number(cpu.rsp - 128);
      });
      c.op(undefined, exit0);
    }, { poolPages: 16384 });
    r.run();
    expect(B).not.toBe(A);
    expect(same).toEqual([true, true, true, true, true, true]);
    expect(walkA.length).toBe(4);
    expect(walkB).toEqual(walkA);
    expect(s.cr3).toBe(B);
    expect(s.v3).toBe(0x2203);
    expect(s.cr3Back).toBe(A);
    expect(s.v0).toBe(0x7777);
    expect(s.stack).toBe(0x1234);
    expect(p.waitStatus).toBe(0);
  });

  it('load_cr3 with a PCID and CR3_NOFLUSH keeps the other PCID\'s TLB entries (Wedge\'s sthread switch); without NOFLUSH they are flushed', () => {
    const r = rig();
    const N = 8;
    // Pages whose TLB sets do not collide with the code, libDune's text or the stack.
    const DATA = GUEST_VA + 64 * P;
    const misses: Record<string, number> = {};
    const { p } = duneProcess(r, 'pcid', (c, lib) => {
      let A = 0;
      let B = 0;
      const phase = (name: string, root: () => number, pcid: number, noFlush: boolean) => (cpu: Cpu): void => {
        lib.loadCr3(cpu, root(), pcid, noFlush);
        const m0 = r.stat('cpu0.tlb.misses');
        for (let i = 0; i < N; i++) cpu.mmu.read32(DATA + i * P);
        misses[name] = r.stat('cpu0.tlb.misses') - m0;
      };
      c.op('guest', (cpu) => {
        A = lib.pgroot;
        lib.vmMapPages(A, DATA, N * P, PERM_R | PERM_W);
        for (let i = 0; i < N; i++) cpu.mmu.write32(DATA + i * P, i); // EPT and A/D settled
        B = lib.vmClone(A);
      });
      c.op(undefined, phase('A1 pcid1 flush', () => A, 1, false));
      c.op(undefined, phase('B1 pcid2 noflush', () => B, 2, true));
      c.op(undefined, phase('A2 pcid1 noflush', () => A, 1, true));
      c.op(undefined, phase('B2 pcid2 noflush', () => B, 2, true));
      c.op(undefined, phase('A3 pcid1 flush', () => A, 1, false));
      c.op(undefined, phase('B3 pcid2 noflush', () => B, 2, true));
      c.op(undefined, exit0);
    }, { poolPages: 16384 });
    r.run();
    expect(misses).toEqual({
      'A1 pcid1 flush': N,
      'B1 pcid2 noflush': N, // PCID 2 never held them
      'A2 pcid1 noflush': 0, // kept across the switch to PCID 2 and back
      'B2 pcid2 noflush': 0,
      'A3 pcid1 flush': N, // a flushing load drops PCID 1's entries…
      'B3 pcid2 noflush': 0, // …and only those
    });
    expect(p.waitStatus).toBe(0);
  });
});
