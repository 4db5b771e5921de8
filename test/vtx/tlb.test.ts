/**
 * The TLB as the Intel SDM Vol. 3A §4.10 defines it: a cache that may hold stale translations
 * until software invalidates them (INVLPG, MOV CR3, INVPCID), tagged by PCID (§4.10.1), with
 * global entries (§4.10.2.4) and the dirty-flag rule of §4.8 / §4.10.2.2 (a write through a
 * cached entry sets D only when the entry does not already record D=1).
 */
import { describe, expect, it } from 'vitest';
import { CR4_PCIDE, CR4_PGE, FEC_W, PTE_D, PTE_G, PTE_P, PTE_U, PTE_W, Vector } from '../../core/vtx/arch.js';
import { Cpu } from '../../core/vtx/cpu.js';
import { FRESH, Rig, exec, kernelProgram, misses, rig, run, trapOn } from './helpers.js';

/** Reads the 32-bit value at `va` in a native. */
const read = (r: Rig, va: number): number => exec(r, (c) => c.mmu.read32(va));

describe('stale translations (SDM Vol. 3A §4.10.4.2, §4.10.4.3)', () => {
  it('after a remap the cached frame is still used until INVLPG; then the new frame is', () => {
    const r = rig();
    const va = FRESH + 0x1000;
    const pa1 = r.m.frames.alloc();
    const pa2 = r.m.frames.alloc();
    r.m.mem.write32(pa1, 0x1111);
    r.m.mem.write32(pa2, 0x2222);
    r.boot.pt.map(va, pa1, PTE_P | PTE_W);
    expect(read(r, va)).toBe(0x1111);
    r.boot.pt.map(va, pa2, PTE_P | PTE_W); // PTE rewritten in memory, no invalidation
    expect(read(r, va)).toBe(0x1111);
    exec(r, (c) => c.invlpg(va));
    expect(read(r, va)).toBe(0x2222);
  });

  it('after clearing P the access still succeeds until INVLPG; then it faults (P=0, CR2)', () => {
    const r = rig();
    const va = FRESH + 0x1000;
    const pa = r.boot.userPage(va);
    r.m.mem.write32(pa + 8, 77);
    expect(read(r, va + 8)).toBe(77);
    r.boot.pt.setLeafLo(va, (lo) => lo & ~PTE_P);
    expect(read(r, va + 8)).toBe(77);
    exec(r, (c) => c.invlpg(va));
    const pfs = trapOn(r, Vector.PageFault);
    run(r, kernelProgram(r).add((c) => c.mmu.read32(va + 8)));
    expect(pfs).toHaveLength(1);
    expect(pfs[0]!.errorCode).toBe(0);
    expect(pfs[0]!.cr2).toBe(va + 8);
  });

  it('INVLPG invalidates only the page it names', () => {
    const r = rig();
    const a = FRESH;
    const b = FRESH + 0x1000;
    r.boot.userPage(a);
    r.boot.userPage(b);
    expect(misses(r, (c) => { c.mmu.read8(a); c.mmu.read8(b); })).toBe(2);
    exec(r, (c) => c.invlpg(a));
    expect(misses(r, (c) => c.mmu.read8(b))).toBe(0);
    expect(misses(r, (c) => c.mmu.read8(a))).toBe(1);
  });

  it('a #PF invalidates the TLB entry of the faulting page (SDM Vol. 3A §4.10.4.1, page faults)', () => {
    // Read fills a (read-only, not yet dirty) entry; P is cleared without INVLPG; a write must
    // re-walk to set D, finds P=0 and faults. The fault removes the cached entry, so the next
    // read walks too and faults instead of using the stale translation.
    const r = rig();
    const va = FRESH + 0x4000;
    r.boot.userPage(va);
    read(r, va);
    r.boot.pt.setLeafLo(va, (lo) => lo & ~PTE_P);
    const pfs = trapOn(r, Vector.PageFault);
    run(r, kernelProgram(r).add((c) => c.mmu.write32(va, 1)));
    expect(pfs.map((t) => t.errorCode)).toEqual([FEC_W]);
    run(r, kernelProgram(r).add((c) => c.mmu.read32(va)));
    expect(pfs.map((t) => t.errorCode)).toEqual([FEC_W, 0]);
  });
});

describe('dirty flag and the cached entry (SDM Vol. 3A §4.8, §4.10.2.2)', () => {
  it('after software clears D without a flush, writes through the cached entry do not set D; after INVLPG they do', () => {
    const r = rig();
    const va = FRESH + 0x6000;
    const pa = r.boot.userPage(va);
    exec(r, (c) => c.mmu.write32(va, 1));
    expect(r.boot.pt.leaf(va)!.lo & PTE_D).toBe(PTE_D);
    r.boot.pt.setLeafLo(va, (lo) => lo & ~PTE_D);
    exec(r, (c) => c.mmu.write32(va + 4, 2));
    expect(r.m.mem.read32(pa + 4)).toBe(2); // the write happened …
    expect(r.boot.pt.leaf(va)!.lo & PTE_D).toBe(0); // … and D stayed clear
    exec(r, (c) => c.invlpg(va));
    exec(r, (c) => c.mmu.write32(va + 8, 3));
    expect(r.boot.pt.leaf(va)!.lo & PTE_D).toBe(PTE_D);
  });

  it('a read-filled entry records D=0, so the first write walks again and sets D', () => {
    const r = rig();
    const va = FRESH + 0x6000;
    r.boot.userPage(va);
    expect(misses(r, (c) => c.mmu.read8(va))).toBe(1);
    expect(misses(r, (c) => c.mmu.write8(va, 1))).toBe(1);
    expect(r.boot.pt.leaf(va)!.lo & PTE_D).toBe(PTE_D);
    expect(misses(r, (c) => c.mmu.write8(va + 1, 1))).toBe(0);
  });
});

describe('PCIDs and MOV to CR3 (SDM Vol. 3A §4.10.1, §4.10.4.1)', () => {
  const PAGES = Array.from({ length: 8 }, (_, i) => FRESH + i * 0x1000);
  const setup = (): Rig => {
    const r = rig({ pcid: true });
    expect(r.cpu.cr4 & CR4_PCIDE).toBe(CR4_PCIDE);
    for (const va of PAGES) r.boot.userPage(va);
    return r;
  };
  const touch = (c: Cpu): void => {
    for (const va of PAGES) c.mmu.read64(va);
  };
  const cr3 = (r: Rig, pcid: number, noFlush: boolean): void => exec(r, (c) => c.loadCr3(r.boot.pt.root | pcid, noFlush));

  it('switching between two PCIDs with the no-flush bit keeps both PCIDs\' entries', () => {
    const r = setup();
    cr3(r, 1, false);
    expect(misses(r, touch)).toBe(PAGES.length);
    cr3(r, 2, true);
    expect(r.cpu.pcid).toBe(2);
    expect(misses(r, touch)).toBe(PAGES.length); // PCID 2 has its own entries
    cr3(r, 1, true);
    expect(misses(r, touch)).toBe(0);
    cr3(r, 2, true);
    expect(misses(r, touch)).toBe(0);
  });

  it('a CR3 write without no-flush flushes the new PCID\'s non-global entries, not another PCID\'s', () => {
    const r = setup();
    cr3(r, 1, false);
    misses(r, touch);
    cr3(r, 2, true);
    misses(r, touch);
    cr3(r, 1, false);
    expect(misses(r, touch)).toBe(PAGES.length);
    cr3(r, 2, true);
    expect(misses(r, touch)).toBe(0);
  });

  it('bit 63 is not stored in CR3', () => {
    const r = setup();
    cr3(r, 5, true);
    expect(exec(r, (c) => c.readCr(3))).toBe(r.boot.pt.root | 5);
  });

  it('MOV to CR3 with bit 63 set and CR4.PCIDE=0 raises #GP(0) and leaves CR3 alone', () => {
    const r = rig();
    const before = r.cpu.cr3;
    const gps = trapOn(r, Vector.GeneralProtection);
    run(r, kernelProgram(r).add((c) => c.writeCr(3, r.boot.pt.root, 0x8000_0000)));
    run(r, kernelProgram(r).add((c) => c.loadCr3(r.boot.pt.root, true)));
    expect(gps.map((t) => t.errorCode)).toEqual([0, 0]);
    expect(r.cpu.cr3).toBe(before);
  });
});

describe('global pages (SDM Vol. 3A §4.10.2.4)', () => {
  const G = FRESH + 0x10_0000;
  const N = FRESH + 0x20_0000;
  const setup = (opts: { pcid?: boolean } = {}): Rig => {
    const r = rig(opts);
    r.boot.pt.map(G, r.m.frames.alloc(), PTE_P | PTE_W | PTE_G);
    r.boot.pt.map(N, r.m.frames.alloc(), PTE_P | PTE_W);
    return r;
  };

  it('with CR4.PGE=1 a global entry survives MOV to CR3; a non-global one does not', () => {
    const r = setup();
    expect(r.cpu.cr4 & CR4_PGE).toBe(CR4_PGE);
    expect(misses(r, (c) => { c.mmu.read8(G); c.mmu.read8(N); })).toBe(2);
    exec(r, (c) => c.loadCr3(r.boot.pt.root));
    expect(misses(r, (c) => c.mmu.read8(G))).toBe(0);
    expect(misses(r, (c) => c.mmu.read8(N))).toBe(1);
  });

  it('with CR4.PCIDE=1 a CR3 write that flushes its PCID keeps that PCID\'s global entries', () => {
    const r = setup({ pcid: true });
    exec(r, (c) => c.loadCr3(r.boot.pt.root | 3));
    misses(r, (c) => { c.mmu.read8(G); c.mmu.read8(N); });
    exec(r, (c) => c.loadCr3(r.boot.pt.root | 3));
    expect(misses(r, (c) => c.mmu.read8(G))).toBe(0);
    expect(misses(r, (c) => c.mmu.read8(N))).toBe(1);
  });

  it('with CR4.PGE=0 the G flag is ignored: MOV to CR3 flushes the entry', () => {
    const r = setup();
    exec(r, (c) => c.writeCr(4, c.cr4 & ~CR4_PGE, 0));
    misses(r, (c) => c.mmu.read8(G));
    exec(r, (c) => c.loadCr3(r.boot.pt.root));
    expect(misses(r, (c) => c.mmu.read8(G))).toBe(1);
  });

  it('changing CR4.PGE invalidates global entries (SDM Vol. 3A §4.10.4.1, MOV to CR4)', () => {
    const r = setup();
    misses(r, (c) => c.mmu.read8(G));
    exec(r, (c) => c.writeCr(4, c.cr4 & ~CR4_PGE, 0));
    expect(misses(r, (c) => c.mmu.read8(G))).toBe(1);
  });

  it('INVLPG also invalidates a global entry for the page', () => {
    const r = setup();
    misses(r, (c) => c.mmu.read8(G));
    exec(r, (c) => c.invlpg(G));
    expect(misses(r, (c) => c.mmu.read8(G))).toBe(1);
  });
});

describe('INVPCID (SDM Vol. 2A, INVPCID)', () => {
  const A = FRESH;
  const B = FRESH + 0x1000;
  const G = FRESH + 0x2000;

  /** Entries for A, B (non-global) and G (global) cached under PCIDs 1 and 2; PCID 2 current. */
  const setup = (): Rig => {
    const r = rig({ pcid: true });
    r.boot.userPage(A);
    r.boot.userPage(B);
    r.boot.pt.map(G, r.m.frames.alloc(), PTE_P | PTE_W | PTE_U | PTE_G);
    for (const pcid of [1, 2]) {
      exec(r, (c) => c.loadCr3(r.boot.pt.root | pcid, true));
      expect(misses(r, (c) => { c.mmu.read8(A); c.mmu.read8(B); c.mmu.read8(G); })).toBe(3);
    }
    return r;
  };
  /** Whether an access to `va` under `pcid` misses the TLB (no-flush switch first). */
  const missesIn = (r: Rig, pcid: number, va: number): boolean => {
    exec(r, (c) => c.loadCr3(r.boot.pt.root | pcid, true));
    return misses(r, (c) => c.mmu.read8(va)) === 1;
  };

  it('type 0 (individual address): that page of that PCID, global translations excepted', () => {
    const r = setup();
    exec(r, (c) => {
      c.invpcid(0, 1, A);
      c.invpcid(0, 1, G);
    });
    expect(missesIn(r, 1, A)).toBe(true);
    expect(missesIn(r, 1, B)).toBe(false);
    expect(missesIn(r, 1, G)).toBe(false);
    expect(missesIn(r, 2, A)).toBe(false);
  });

  it('type 1 (single context): every non-global entry of that PCID', () => {
    const r = setup();
    exec(r, (c) => c.invpcid(1, 1, 0));
    expect(missesIn(r, 1, A)).toBe(true);
    expect(missesIn(r, 1, B)).toBe(true);
    expect(missesIn(r, 1, G)).toBe(false);
    expect(missesIn(r, 2, A)).toBe(false);
    expect(missesIn(r, 2, B)).toBe(false);
  });

  it('type 2 (all contexts, including globals): everything', () => {
    const r = setup();
    exec(r, (c) => c.invpcid(2, 0, 0));
    for (const pcid of [1, 2]) for (const va of [A, B, G]) expect(missesIn(r, pcid, va)).toBe(true);
  });

  it('type 3 (all contexts, retaining globals): every non-global entry of every PCID', () => {
    const r = setup();
    exec(r, (c) => c.invpcid(3, 0, 0));
    for (const pcid of [1, 2]) {
      expect(missesIn(r, pcid, A)).toBe(true);
      expect(missesIn(r, pcid, B)).toBe(true);
      expect(missesIn(r, pcid, G)).toBe(false);
    }
  });

  it('#GP(0) for a type above 3, and for type 0/1 with a non-zero PCID while CR4.PCIDE=0', () => {
    const r = rig();
    const gps = trapOn(r, Vector.GeneralProtection);
    run(r, kernelProgram(r).add((c) => c.invpcid(4, 0, 0)));
    run(r, kernelProgram(r).add((c) => c.invpcid(1, 1, 0)));
    run(r, kernelProgram(r).add((c) => c.invpcid(0, 1, FRESH)));
    expect(gps.map((t) => t.errorCode)).toEqual([0, 0, 0]);
    exec(r, (c) => c.invpcid(1, 0, 0)); // PCID 0 is fine without PCIDE
  });
});
