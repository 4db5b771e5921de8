/**
 * 4-level paging as the Intel SDM Vol. 3A ch. 4 defines it: accessed and dirty flags (§4.8),
 * access rights with CR0.WP, EFER.NXE and U/S (§4.6), and the #PF error code and CR2 (§4.7).
 */
import { describe, expect, it } from 'vitest';
import {
  CR0_WP, EFER_NXE, FEC_I, FEC_P, FEC_RSV, FEC_U, FEC_W, HUGE_PAGE_SIZE, LARGE_PAGE_SIZE, MSR_EFER, PTE_A, PTE_D,
  PTE_NX_HI, PTE_P, PTE_PS, PTE_U, PTE_W, Vector,
} from '../../core/vtx/arch.js';
import { Cpu } from '../../core/vtx/cpu.js';
import { FRESH, Rig, Trap, enterUser, exec, kernelProgram, rig, run, trapOn, userProgram, userStack } from './helpers.js';

/** Runs `access` as one native (ring 0, or ring 3 from a user code page); returns the #PF, if any. */
function pf(r: Rig, access: (c: Cpu) => void, user = false): Trap | undefined {
  const traps = trapOn(r, Vector.PageFault);
  const gp = trapOn(r, Vector.GeneralProtection);
  let done = false;
  const body = (c: Cpu): void => {
    access(c);
    done = true;
    c.stop();
  };
  if (user) {
    const p = userProgram(r, 0x7000_0000);
    const at = p.add(body);
    enterUser(r.cpu, userStack(r, 0x7010_0000) - 0x40);
    run(r, at);
  } else {
    run(r, kernelProgram(r).add(body));
  }
  expect(gp).toEqual([]);
  if (done) {
    expect(traps).toEqual([]);
    return undefined;
  }
  expect(traps).toHaveLength(1);
  return traps[0];
}

/** The entry at `level` (4 = PML4E … 1 = PTE) on the walk of `va`, low half. */
function entry(r: Rig, va: number, level: number): number {
  const pa = r.boot.pt.entryAddress(va, level, false);
  expect(pa).toBeGreaterThan(0);
  return r.m.mem.read32(pa);
}

describe('accessed and dirty flags (SDM Vol. 3A §4.8)', () => {
  it('4 KiB page: a read sets A on the PML4E, PDPTE, PDE and PTE, and no D', () => {
    const r = rig();
    const va = FRESH + 0x5000;
    r.boot.userPage(va);
    for (let l = 4; l >= 1; l--) expect(entry(r, va, l) & PTE_A).toBe(0);
    expect(pf(r, (c) => c.mmu.read64(va + 0x18))).toBeUndefined();
    for (let l = 4; l >= 1; l--) expect(entry(r, va, l) & (PTE_A | PTE_D)).toBe(PTE_A);
  });

  it('4 KiB page: a write sets D on the PTE only (D is not a flag of non-leaf entries)', () => {
    const r = rig();
    const va = FRESH + 0x5000;
    r.boot.userPage(va);
    expect(pf(r, (c) => c.mmu.write32(va + 4, 0xdead))).toBeUndefined();
    expect(entry(r, va, 1) & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    for (let l = 4; l >= 2; l--) expect(entry(r, va, l) & (PTE_A | PTE_D)).toBe(PTE_A);
  });

  it('D is set by a write after an earlier read (the read-filled TLB entry is not used to write)', () => {
    const r = rig();
    const va = FRESH;
    r.boot.userPage(va);
    pf(r, (c) => c.mmu.read32(va));
    expect(entry(r, va, 1) & PTE_D).toBe(0);
    pf(r, (c) => c.mmu.write8(va, 1));
    expect(entry(r, va, 1) & PTE_D).toBe(PTE_D);
  });

  it('2 MiB page: A and D land on the PDE that maps the page', () => {
    const r = rig();
    const pa = r.m.frames.allocContiguous(512);
    const va = FRESH + LARGE_PAGE_SIZE * 3;
    r.boot.pt.map(va, pa, PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    expect(r.boot.pt.leaf(va)!.level).toBe(2);
    pf(r, (c) => c.mmu.read64(va + 0x12_3450));
    expect(r.boot.pt.leaf(va)!.lo & (PTE_A | PTE_D | PTE_PS)).toBe(PTE_A | PTE_PS);
    expect(entry(r, va, 3) & PTE_A).toBe(PTE_A);
    expect(entry(r, va, 4) & PTE_A).toBe(PTE_A);
    pf(r, (c) => c.mmu.write32(va + 0x1f_fff0, 7));
    expect(r.boot.pt.leaf(va)!.lo & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(r.m.mem.read32(pa + 0x1f_fff0)).toBe(7);
    expect(entry(r, va, 3) & PTE_D).toBe(0);
  });

  it('1 GiB page: A and D land on the PDPTE that maps the page', () => {
    const r = rig();
    const frame = r.m.frames.alloc();
    const va = FRESH + HUGE_PAGE_SIZE * 5;
    r.boot.pt.map(va, 0, PTE_P | PTE_W, 0, HUGE_PAGE_SIZE);
    expect(r.boot.pt.leaf(va)!.level).toBe(3);
    r.m.mem.write32(frame + 8, 0x1234_5678);
    let v = 0;
    pf(r, (c) => (v = c.mmu.read32(va + frame + 8)));
    expect(v).toBe(0x1234_5678);
    expect(r.boot.pt.leaf(va)!.lo & (PTE_A | PTE_D)).toBe(PTE_A);
    expect(entry(r, va, 4) & (PTE_A | PTE_D)).toBe(PTE_A);
    pf(r, (c) => c.mmu.write32(va + frame + 12, 0x9abc));
    expect(r.boot.pt.leaf(va)!.lo & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(r.m.mem.read32(frame + 12)).toBe(0x9abc);
  });

  it('A and D go to the leaf of the linear address used, not to another alias of the same frame', () => {
    const r = rig();
    const pa = r.m.frames.alloc();
    const a = FRESH + 0x1000;
    const b = FRESH + 0x20_0000;
    r.boot.pt.map(a, pa, PTE_P | PTE_W);
    r.boot.pt.map(b, pa, PTE_P | PTE_W);
    pf(r, (c) => c.mmu.write32(a, 1));
    expect(r.boot.pt.leaf(a)!.lo & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(r.boot.pt.leaf(b)!.lo & (PTE_A | PTE_D)).toBe(0);
  });
});

describe('CR0.WP (SDM Vol. 3A §4.6.1)', () => {
  const setup = (wp: boolean): { r: Rig; va: number; pa: number } => {
    const r = rig();
    const va = FRESH + 0x3000;
    const pa = r.m.frames.alloc();
    r.boot.pt.map(va, pa, PTE_P); // supervisor, read-only
    if (!wp) exec(r, (c) => c.writeCr(0, c.cr0 & ~CR0_WP, 0));
    expect((r.cpu.cr0 & CR0_WP) !== 0).toBe(wp);
    return { r, va, pa };
  };

  it('WP=1: a supervisor write to a read-only page faults with P|W and changes nothing', () => {
    const { r, va, pa } = setup(true);
    const t = pf(r, (c) => c.mmu.write32(va + 0x10, 0x55))!;
    expect(t.errorCode).toBe(FEC_P | FEC_W);
    expect(t.cr2).toBe(va + 0x10);
    expect(r.m.mem.read32(pa + 0x10)).toBe(0);
    expect(r.boot.pt.leaf(va)!.lo & PTE_D).toBe(0);
  });

  it('WP=0: the same supervisor write succeeds and sets D', () => {
    const { r, va, pa } = setup(false);
    expect(pf(r, (c) => c.mmu.write32(va + 0x10, 0x55))).toBeUndefined();
    expect(r.m.mem.read32(pa + 0x10)).toBe(0x55);
    expect(r.boot.pt.leaf(va)!.lo & PTE_D).toBe(PTE_D);
  });

  it('WP=0 does not let ring 3 write a read-only user page', () => {
    const r = rig();
    exec(r, (c) => c.writeCr(0, c.cr0 & ~CR0_WP, 0));
    const va = FRESH;
    r.boot.userPage(va, PTE_P | PTE_U);
    const t = pf(r, (c) => c.mmu.write8(va, 1), true)!;
    expect(t.errorCode).toBe(FEC_P | FEC_W | FEC_U);
  });
});

describe('execute-disable (SDM Vol. 3A §4.6, §4.7)', () => {
  /** A supervisor page at `va` holding one native; returns whether the native ran, and the #PF. */
  const fetchFrom = (r: Rig, va: number, hi: number, lo = PTE_P | PTE_W): { ran: boolean; trap?: Trap } => {
    const pa = r.m.frames.alloc();
    r.boot.pt.map(va, pa, lo, hi);
    const traps = trapOn(r, Vector.PageFault);
    let ran = false;
    const e = r.m.natives.register('on-page', (c) => {
      ran = true;
      c.stop();
    });
    r.m.natives.install(r.m.mem, pa + 0x100, e);
    run(r, va + 0x100);
    return { ran, trap: traps[0] };
  };

  it('fetching from an NX page with EFER.NXE=1 faults with P|I and CR2 = RIP; the native does not run', () => {
    const r = rig();
    expect(r.cpu.efer & EFER_NXE).toBe(EFER_NXE);
    const va = FRESH + 0x4000;
    const { ran, trap } = fetchFrom(r, va, PTE_NX_HI);
    expect(ran).toBe(false);
    expect(trap!.errorCode).toBe(FEC_P | FEC_I);
    expect(trap!.cr2).toBe(va + 0x100);
    expect(trap!.rip).toBe(va + 0x100);
  });

  it('the same page without NX executes', () => {
    const r = rig();
    const { ran, trap } = fetchFrom(r, FRESH + 0x4000, 0);
    expect(ran).toBe(true);
    expect(trap).toBeUndefined();
  });

  it('with EFER.NXE=0 bit 63 is reserved: P|RSVD and no I flag', () => {
    const r = rig();
    exec(r, (c) => c.wrmsr(MSR_EFER, c.efer & ~EFER_NXE, 0));
    expect(r.cpu.efer & EFER_NXE).toBe(0);
    const { ran, trap } = fetchFrom(r, FRESH + 0x4000, PTE_NX_HI);
    expect(ran).toBe(false);
    expect(trap!.errorCode).toBe(FEC_P | FEC_RSV);
  });

  it('a fetch from a not-present page reports I only when EFER.NXE=1', () => {
    const r1 = rig();
    expect(fetchFrom(r1, FRESH, 0, 0).trap!.errorCode).toBe(FEC_I);
    const r2 = rig();
    exec(r2, (c) => c.wrmsr(MSR_EFER, c.efer & ~EFER_NXE, 0));
    expect(fetchFrom(r2, FRESH, 0, 0).trap!.errorCode).toBe(0);
  });

  it('ring 3 fetching from an NX user page faults with P|U|I', () => {
    const r = rig();
    const va = 0x6000_0000;
    const pa = r.boot.userPage(va, PTE_P | PTE_U, true);
    const traps = trapOn(r, Vector.PageFault);
    const e = r.m.natives.register('nx-user', (c) => c.stop(), 1, 3);
    r.m.natives.install(r.m.mem, pa, e);
    enterUser(r.cpu, userStack(r, 0x7010_0000));
    run(r, va);
    expect(traps).toHaveLength(1);
    expect(traps[0]!.errorCode).toBe(FEC_P | FEC_U | FEC_I);
    expect(traps[0]!.cr2).toBe(va);
  });
});

describe('user/supervisor (SDM Vol. 3A §4.6)', () => {
  const SUP = 0x30_0000; // in the boot direct map: supervisor, writable

  it('ring 3 reading a supervisor page faults with P|U', () => {
    const r = rig();
    const t = pf(r, (c) => c.mmu.read32(SUP + 8), true)!;
    expect(t.errorCode).toBe(FEC_P | FEC_U);
    expect(t.cr2).toBe(SUP + 8);
  });

  it('ring 3 writing a supervisor page faults with P|W|U', () => {
    const r = rig();
    const t = pf(r, (c) => c.mmu.write32(SUP + 12, 1), true)!;
    expect(t.errorCode).toBe(FEC_P | FEC_W | FEC_U);
    expect(t.cr2).toBe(SUP + 12);
    expect(r.m.mem.read32(SUP + 12)).toBe(0);
  });

  it('ring 3 fetching from a supervisor page faults with P|U|I', () => {
    const r = rig();
    const traps = trapOn(r, Vector.PageFault);
    const kernelCode = r.boot.native('kernel-only', (c) => c.stop());
    enterUser(r.cpu, userStack(r, 0x7010_0000));
    run(r, kernelCode);
    expect(traps[0]!.errorCode).toBe(FEC_P | FEC_U | FEC_I);
    expect(traps[0]!.cpl).toBe(0);
  });

  it('ring 0 may read and write user pages (no SMAP)', () => {
    const r = rig();
    const va = FRESH;
    const pa = r.boot.userPage(va);
    let v = 0;
    expect(pf(r, (c) => {
      c.mmu.write32(va, 0xabcd);
      v = c.mmu.read32(va);
    })).toBeUndefined();
    expect(v).toBe(0xabcd);
    expect(r.m.mem.read32(pa)).toBe(0xabcd);
  });

  it('U/S is the AND over the walk: a supervisor PDE makes a U=1 PTE supervisor', () => {
    const r = rig();
    const va = FRESH + 0x7000;
    r.boot.userPage(va);
    const pde = r.boot.pt.entryAddress(va, 2, false);
    r.m.mem.write32(pde, r.m.mem.read32(pde) & ~PTE_U);
    const t = pf(r, (c) => c.mmu.read8(va), true)!;
    expect(t.errorCode).toBe(FEC_P | FEC_U);
  });

  it('R/W is the AND over the walk: a read-only PDPTE makes a W=1 PTE read-only (CR0.WP=1)', () => {
    const r = rig();
    const va = FRESH + 0x7000;
    r.boot.userPage(va);
    const pdpte = r.boot.pt.entryAddress(va, 3, false);
    r.m.mem.write32(pdpte, r.m.mem.read32(pdpte) & ~PTE_W);
    expect(pf(r, (c) => c.mmu.write8(va, 1))!.errorCode).toBe(FEC_P | FEC_W);
  });
});

describe('#PF error code and CR2 (SDM Vol. 3A §4.7)', () => {
  const NP = FRESH + 0x9_9000; // never mapped

  it.each([
    ['supervisor read', false, false, 0],
    ['supervisor write', true, false, FEC_W],
    ['user read', false, true, FEC_U],
    ['user write', true, true, FEC_W | FEC_U],
  ])('not present, %s: P=0 and W/U as the access', (_n, write, user, code) => {
    const r = rig();
    const addr = NP + 0x123;
    const t = pf(r, (c) => (write ? c.mmu.write16(addr, 1) : c.mmu.read16(addr)), user)!;
    expect(t.errorCode).toBe(code);
    expect(t.cr2).toBe(addr);
  });

  it('RSVD: a leaf with a physical-address bit at or above MAXPHYADDR (36) → P|RSVD', () => {
    const r = rig();
    expect(r.m.physBits).toBe(36);
    const va = FRESH + 0x2000;
    r.boot.userPage(va);
    const leaf = r.boot.pt.leaf(va)!;
    r.m.mem.write32(leaf.pa + 4, leaf.hi | 0x10); // bit 36
    const t = pf(r, (c) => c.mmu.read32(va + 0x40))!;
    expect(t.errorCode).toBe(FEC_P | FEC_RSV);
    expect(t.cr2).toBe(va + 0x40);
  });

  it('RSVD on a write from ring 3 also carries W and U', () => {
    const r = rig();
    const va = FRESH + 0x2000;
    r.boot.userPage(va);
    const leaf = r.boot.pt.leaf(va)!;
    r.m.mem.write32(leaf.pa + 4, leaf.hi | 0x8_0000); // bit 51
    const t = pf(r, (c) => c.mmu.write32(va, 1), true)!;
    expect(t.errorCode).toBe(FEC_P | FEC_W | FEC_U | FEC_RSV);
  });

  it('RSVD: PS set in a PML4E → P|RSVD', () => {
    const r = rig();
    const va = FRESH + 0x2000;
    r.boot.userPage(va);
    const pml4e = r.boot.pt.entryAddress(va, 4, false);
    r.m.mem.write32(pml4e, r.m.mem.read32(pml4e) | PTE_PS);
    expect(pf(r, (c) => c.mmu.read8(va))!.errorCode).toBe(FEC_P | FEC_RSV);
  });

  it('RSVD: a 2 MiB PDE with bit 13 set (reserved below the frame address) → P|RSVD', () => {
    const r = rig();
    const va = FRESH + LARGE_PAGE_SIZE;
    r.boot.pt.map(va, r.m.frames.allocContiguous(512), PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    const leaf = r.boot.pt.leaf(va)!;
    r.m.mem.write32(leaf.pa, leaf.lo | 0x2000);
    expect(pf(r, (c) => c.mmu.read8(va + 5))!.errorCode).toBe(FEC_P | FEC_RSV);
  });

  it('a non-canonical address raises #GP(0), not #PF (SDM Vol. 1 §3.3.7.1)', () => {
    const r = rig();
    const pfs = trapOn(r, Vector.PageFault);
    const gps = trapOn(r, Vector.GeneralProtection);
    run(r, kernelProgram(r).add((c) => c.mmu.read8(2 ** 47)));
    expect(pfs).toEqual([]);
    expect(gps).toHaveLength(1);
    expect(gps[0]!.errorCode).toBe(0);
  });

  it('a #PF is a fault: the pushed RIP is the faulting instruction and the access had no effect', () => {
    const r = rig();
    const va = FRESH + 0x8000;
    const p = kernelProgram(r);
    const first = p.add(() => undefined);
    const faulting = p.add((c) => c.mmu.write8(va, 1));
    const t = trapOn(r, Vector.PageFault);
    run(r, first);
    expect(t[0]!.rip).toBe(faulting);
    expect(r.m.stats.get('cpu0.mmu.pageFaults')).toBe(1);
  });
});
