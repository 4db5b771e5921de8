/**
 * The EPT of a Dune process (Dune §4.1 and the reference's §2.7): filled lazily on EPT violations
 * from the process's own page tables (get_user_pages), R|X on a read and +W on a write, kept
 * coherent through the MMU notifier when the host mapping changes, and fatal
 * (DUNE_RET_EPT_VIOLATION) when a guest-physical address has no host page behind it.
 */
import { describe, it, expect } from 'vitest';
import { EPT_R, EPT_W, EPT_X, PAGE_SIZE } from '../../core/vtx/arch.js';
import { Cpu, R12 } from '../../core/vtx/cpu.js';
import { PageTables } from '../../core/vtx/page-tables.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, NR, PROT_READ, PROT_WRITE } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs } from '../../core/linux/user-abi.js';
import { DuneRet, PERM_R, PERM_W } from '../../core/dune/dune-abi.js';
import { LibDune } from '../../core/dune/libdune.js';
import { Rig, duneProcess, rax, rig } from './helpers.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

const vmcall = (cpu: Cpu, nr: number, ...args: number[]): void => {
  loadSyscallArgs(cpu, nr, ...args);
  cpu.vmcall();
};

/** EPT leaf permission bits (R|W|X) of the current task's vCPU at `gpa`, or 0 when absent. */
function eptPerm(r: Rig, gpa: number): number {
  const l = r.dune.vcpuOf(r.k.current[0]!)!.ept.leaf(gpa);
  return l === undefined ? 0 : l.lo & 7;
}

describe('Dune EPT: lazy fill', () => {
  it('the first touch of a page exits with an EPT violation and the second does not; a read maps R|X, a later write takes a second violation that adds W', () => {
    const r = rig();
    const s: Record<string, number> = {};
    let lib!: LibDune;
    const { p } = duneProcess(r, 'lazy', (c, l) => {
      lib = l;
      c.op('guest', (cpu) => vmcall(cpu, NR.mmap, 0, 4 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        const base = rax(cpu);
        cpu.setReg(R12, base);
        // Page 0 shares every guest page-table page with page 1: touching it first fills the
        // EPT for those, so what follows counts the data page alone.
        cpu.mmu.write8(base, 1);
      });
      c.op(undefined, (cpu) => {
        const va = cpu.reg(R12) + PAGE_SIZE;
        const gpa = lib.vaToPa(va);
        const ev = (): number => r.stat('cpu0.vmx.exits.EptViolation');
        s.va = va;
        s.gpa = gpa;
        s.permBefore = eptPerm(r, gpa);
        s.hostBefore = p.mm.pte(va) === undefined || (p.mm.pte(va)!.lo & 1) === 0 ? 0 : 1;
        const fills0 = r.stat('dune.eptFills');
        let e = ev();
        s.firstRead = cpu.mmu.read8(va);
        s.readExits = ev() - e;
        s.permAfterRead = eptPerm(r, gpa);
        s.fillsAfterRead = r.stat('dune.eptFills') - fills0;
        lib.flushTlb(cpu); // so the next accesses walk both dimensions again
        e = ev();
        cpu.mmu.read8(va);
        s.secondReadExits = ev() - e;
        lib.flushTlb(cpu);
        e = ev();
        cpu.mmu.write8(va, 0x5a);
        s.writeExits = ev() - e;
        s.permAfterWrite = eptPerm(r, gpa);
        lib.flushTlb(cpu);
        e = ev();
        cpu.mmu.write8(va, 0x5b);
        s.secondWriteExits = ev() - e;
        s.value = cpu.mmu.read8(va);
        s.fills = r.stat('dune.eptFills') - fills0;
        // The EPT leaf points at the very frame of the host PTE (get_user_pages).
        const hpte = p.mm.pte(va)!;
        const leaf = r.dune.vcpuOf(r.k.current[0]!)!.ept.leaf(gpa)!;
        s.sameFrame = PageTables.entryFrame(hpte.lo, hpte.hi) === PageTables.entryFrame(leaf.lo, leaf.hi) ? 1 : 0;
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    r.run();
    expect(s.gpa).toBe(r.dune.layout.hvaToGpa(s.va!));
    expect(s.permBefore).toBe(0);
    expect(s.hostBefore).toBe(0); // not even faulted in on the host: the EPT fault does it
    expect(s.firstRead).toBe(0);
    expect(s.readExits).toBe(1);
    expect(s.permAfterRead).toBe(EPT_R | EPT_X);
    expect(s.fillsAfterRead).toBe(1);
    expect(s.secondReadExits).toBe(0);
    expect(s.writeExits).toBe(1);
    expect(s.permAfterWrite).toBe(EPT_R | EPT_W | EPT_X);
    expect(s.secondWriteExits).toBe(0);
    expect(s.value).toBe(0x5b);
    expect(s.fills).toBe(2);
    expect(s.sameFrame).toBe(1);
    expect(p.waitStatus).toBe(0);
  });
});

describe('Dune EPT: what a fill costs is what the module executes', () => {
  it('a fill on a host page not yet there adds get_user_pages\' slow path (find_vma, its instructions, handle_mm_fault, four more locked instructions) to a fill on a present page; neither flushes the TLB (no INVEPT: SDM Vol. 3C §29.4.3.1 caches no translation for an access that caused an EPT violation)', () => {
    const r = rig();
    const s: Record<string, number> = {};
    duneProcess(r, 'cost', (c, lib) => {
      c.op('guest', (cpu) => vmcall(cpu, NR.mmap, 0, 4 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        const base = rax(cpu);
        cpu.mmu.write8(base, 1); // the page tables of both dimensions, and the EPT tables, exist now
        const va = base + PAGE_SIZE;
        // The cycles of one access, less its page walks (counted by the MMU) and the TLB flush.
        const access = (write: boolean): { cycles: number; exits: number; flushes: number } => {
          lib.flushTlb(cpu);
          const c0 = cpu.cycles;
          const w0 = r.stat('cpu0.mmu.walkRefs');
          const e0 = r.stat('cpu0.vmx.exits.EptViolation');
          const f0 = r.stat('cpu0.tlb.flushes');
          if (write) cpu.mmu.write8(va, 7);
          else cpu.mmu.read8(va);
          return {
            cycles: cpu.cycles - c0 - (r.stat('cpu0.mmu.walkRefs') - w0) * r.k.costs.walkRef,
            exits: r.stat('cpu0.vmx.exits.EptViolation') - e0,
            flushes: r.stat('cpu0.tlb.flushes') - f0,
          };
        };
        const absent = access(false); // host PTE absent: read fill through the slow path
        const plain = access(false); // no exit
        const present = access(true); // host PTE present and writable: +W fill, gup_fast only
        s.absentExits = absent.exits;
        s.plainExits = plain.exits;
        s.presentExits = present.exits;
        s.absent = absent.cycles - plain.cycles;
        s.present = present.cycles - plain.cycles;
        s.flushes = absent.flushes + present.flushes - 2 * plain.flushes;
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    r.run();
    const k = r.k.costs;
    // Common to both: the exit and entry, the module's instructions, gup_fast's four-level walk of
    // the host page table, get_page and the EPT lock.
    const common = k.vmExit + k.vmEntry + k.duneEptFaultPath + 4 * k.walkRef + 2 * k.lockedRmw;
    const slowPath = k.pageFaultPath + 160 * k.instruction + k.pageAllocPath + 4 * k.lockedRmw;
    expect([s.absentExits, s.plainExits, s.presentExits]).toEqual([1, 0, 1]);
    expect(s.present).toBeCloseTo(common, 6);
    expect(s.absent).toBeCloseTo(common + slowPath, 6);
    expect(s.flushes).toBe(0);
  });
});

describe('Dune EPT: MMU-notifier coherence', () => {
  it('munmap drops the EPT entries of the region; a new mmap at the same address refaults with new EPT violations and reads zero', () => {
    const r = rig();
    const s: Record<string, number> = {};
    let lib!: LibDune;
    const { p } = duneProcess(r, 'munmap', (c, l) => {
      lib = l;
      c.op('guest', (cpu) => vmcall(cpu, NR.mmap, 0, 3 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        const base = rax(cpu);
        cpu.setReg(R12, base);
        cpu.mmu.write8(base, 1); // warm the page-table pages (see above)
        cpu.mmu.write8(base + PAGE_SIZE, 0xab);
        cpu.mmu.write8(base + 2 * PAGE_SIZE, 0xcd);
      });
      c.op(undefined, (cpu) => {
        const base = cpu.reg(R12);
        s.permBefore = eptPerm(r, lib.vaToPa(base + PAGE_SIZE));
        s.inv0 = r.stat('dune.eptInvalidations');
        vmcall(cpu, NR.munmap, base + PAGE_SIZE, 2 * PAGE_SIZE);
      });
      c.op(undefined, (cpu) => {
        const base = cpu.reg(R12);
        s.munmap = rax(cpu);
        s.invalidated = r.stat('dune.eptInvalidations') - s.inv0!;
        s.permGone1 = eptPerm(r, lib.vaToPa(base + PAGE_SIZE));
        s.permGone2 = eptPerm(r, lib.vaToPa(base + 2 * PAGE_SIZE));
        s.permKept = eptPerm(r, lib.vaToPa(base)); // outside the range: untouched
        vmcall(cpu, NR.mmap, base + PAGE_SIZE, 2 * PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0);
      });
      c.op(undefined, (cpu) => {
        const base = cpu.reg(R12);
        s.remapped = rax(cpu) === base + PAGE_SIZE ? 1 : 0;
        const e = r.stat('cpu0.vmx.exits.EptViolation');
        s.v1 = cpu.mmu.read8(base + PAGE_SIZE);
        s.v2 = cpu.mmu.read8(base + 2 * PAGE_SIZE);
        s.refaults = r.stat('cpu0.vmx.exits.EptViolation') - e;
        s.permAgain = eptPerm(r, lib.vaToPa(base + PAGE_SIZE));
        s.v0 = cpu.mmu.read8(base);
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    r.run();
    expect(s.permBefore).toBe(EPT_R | EPT_W | EPT_X);
    expect(s.munmap).toBe(0);
    expect(s.invalidated).toBe(2);
    expect(s.permGone1).toBe(0);
    expect(s.permGone2).toBe(0);
    expect(s.permKept).toBe(EPT_R | EPT_W | EPT_X);
    expect(s.remapped).toBe(1);
    expect([s.v1, s.v2]).toEqual([0, 0]);
    expect(s.refaults).toBe(2);
    expect(s.permAgain).toBe(EPT_R | EPT_X);
    expect(s.v0).toBe(1);
    expect(p.waitStatus).toBe(0);
  });

  /*
   * mprotect(PROT_READ) in the host: the MMU notifier drops the EPT entry; a guest read refills it
   * R|X; a guest write exits with an EPT violation whose fill must not grant W. The module's EPT
   * fault handler asks Linux for a writable page (get_user_pages with write=1), which fails on a
   * read-only VMA *without* sending a signal (GUP never does), so vmx_do_ept_fault returns an
   * error and the run loop ends DUNE_ENTER with DUNE_RET_EPT_VIOLATION — not SIGSEGV. libDune's
   * on_dune_exit then prints its message and exit(EXIT_FAILURE).
   */
  it('after mprotect(PROT_READ) the EPT entry is invalidated, reads refill it R|X, and a guest write ends the process with DUNE_RET_EPT_VIOLATION (not SIGSEGV)', () => {
    const r = rig();
    const s: Record<string, number> = {};
    let lib!: LibDune;
    let afterWrite = false;
    const { p } = duneProcess(r, 'mprotect', (c, l) => {
      lib = l;
      c.op('guest', (cpu) => vmcall(cpu, NR.mmap, 0, 2 * PAGE_SIZE, RW, ANON, -1, 0));
      c.op(undefined, (cpu) => {
        const base = rax(cpu);
        cpu.setReg(R12, base);
        cpu.mmu.write8(base, 1);
        cpu.mmu.write8(base + PAGE_SIZE, 0x77);
      });
      c.op(undefined, (cpu) => {
        const va = cpu.reg(R12) + PAGE_SIZE;
        s.permRw = eptPerm(r, lib.vaToPa(va));
        vmcall(cpu, NR.mprotect, va, PAGE_SIZE, PROT_READ);
      });
      c.op(undefined, (cpu) => {
        const va = cpu.reg(R12) + PAGE_SIZE;
        s.mprotect = rax(cpu);
        s.permAfterMprotect = eptPerm(r, lib.vaToPa(va));
        const e = r.stat('cpu0.vmx.exits.EptViolation');
        s.value = cpu.mmu.read8(va);
        s.readExits = r.stat('cpu0.vmx.exits.EptViolation') - e;
        s.permAfterRead = eptPerm(r, lib.vaToPa(va));
        s.gpa = lib.vaToPa(va);
        s.e0 = r.stat('cpu0.vmx.exits.EptViolation');
      });
      c.op('write', (cpu) => {
        cpu.mmu.write8(cpu.reg(R12) + PAGE_SIZE, 0x88); // never completes
        afterWrite = true;
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.exit_group, 0));
    });
    r.run();
    expect(s.permRw).toBe(EPT_R | EPT_W | EPT_X);
    expect(s.mprotect).toBe(0);
    expect(s.permAfterMprotect).toBe(0);
    expect(s.value).toBe(0x77);
    expect(s.readExits).toBe(1);
    expect(s.permAfterRead).toBe(EPT_R | EPT_X);
    expect(afterWrite).toBe(false);
    expect(r.stat('cpu0.vmx.exits.EptViolation') - s.e0!).toBe(1);
    expect(r.leaves()).toEqual([['EptViolation', s.gpa]]);
    expect(lib.lastExit).toEqual({ ret: DuneRet.EptViolation, status: s.gpa });
    expect(r.stat('linux.signals')).toBe(0);
    expect(p.waitStatus).toBe(1 << 8); // exit(EXIT_FAILURE), not killed by SIGSEGV
    expect(r.out.map((o) => o.text).join('')).toContain('dune: exit due to EptViolation');
  });
});

describe('Dune EPT: addresses the EPT cannot reach', () => {
  it('a host-virtual address outside the three windows has no guest-physical address: touching it ends the process with DUNE_RET_EPT_VIOLATION', () => {
    const r = rig();
    const HVA = 0x4_0000_0000; // 16 GiB: above the identity window, far below the mmap window
    const s: Record<string, number> = {};
    let after = false;
    const { p, lib } = duneProcess(r, 'outside', (c, lib) => {
      c.op('guest', (cpu) => vmcall(cpu, NR.mmap, HVA, PAGE_SIZE, RW, ANON | MAP_FIXED, -1, 0));
      c.op(undefined, (cpu) => {
        s.mmap = rax(cpu);
        s.vaToPa = lib.vaToPa(HVA);
        // What dune_va_to_pa falls back to below mmap_base (identity): a GPA beyond phys_limit.
        lib.vmMapPhys(lib.pgroot, HVA, PAGE_SIZE, HVA, PERM_R | PERM_W);
        s.e0 = r.stat('cpu0.vmx.exits.EptViolation');
      });
      c.op(undefined, (cpu) => {
        cpu.mmu.read8(HVA);
        after = true;
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.exit_group, 0));
    });
    r.run();
    expect(s.mmap).toBe(HVA); // the host has memory there...
    expect(s.vaToPa).toBe(-1); // ...but no window covers it
    expect(HVA).toBeGreaterThanOrEqual(r.dune.layout.physLimit);
    expect(r.dune.layout.gpaToHva(HVA)).toBe(-1);
    expect(after).toBe(false);
    expect(r.stat('cpu0.vmx.exits.EptViolation') - s.e0!).toBe(1);
    expect(r.leaves()).toEqual([['EptViolation', HVA]]);
    expect(lib.lastExit).toEqual({ ret: DuneRet.EptViolation, status: HVA });
    expect(p.waitStatus).toBe(1 << 8);
    expect(r.out).toEqual([{ fd: 2, text: `dune: exit due to EptViolation (status 0x${HVA.toString(16)})\n` }]);
  });

  it('a guest-physical address whose host-virtual page is not mapped by Linux ends the process with DUNE_RET_EPT_VIOLATION ("failed to get user page")', () => {
    const r = rig();
    const HOLE = 0x3000_0000; // inside the identity window, mapped RWXU by the full guest page table, no VMA
    let after = false;
    const { p, lib } = duneProcess(r, 'hole', (c) => {
      c.op('guest', (cpu) => {
        cpu.mmu.write8(HOLE, 1);
        after = true;
      });
      c.op(undefined, (cpu) => vmcall(cpu, NR.exit_group, 0));
    });
    r.run();
    expect(p.mm === undefined || p.mm.vmas.find(HOLE) === undefined).toBe(true);
    expect(after).toBe(false);
    expect(r.leaves()).toEqual([['EptViolation', HOLE]]);
    expect(lib.lastExit).toEqual({ ret: DuneRet.EptViolation, status: HOLE });
    expect(p.waitStatus).toBe(1 << 8);
    expect(r.stat('linux.signals')).toBe(0);
  });
});
