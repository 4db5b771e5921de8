/**
 * Extended page tables as the Intel SDM Vol. 3C defines them: EPT translation and permissions
 * (§29.3.2), EPT violations with the exit qualification of Table 28-7 and the guest-physical /
 * guest-linear address fields (§28.2.1), EPT misconfigurations (§29.3.3.1), accessed and dirty
 * flags (§29.3.5), and the cost of the two-dimensional walk (§29.3: every guest paging-structure
 * reference is itself translated through the EPT).
 */
import { describe, expect, it } from 'vitest';
import {
  EPT_A, EPT_D, EPT_QUAL_EXECUTABLE, EPT_QUAL_FETCH, EPT_QUAL_GLA_TRANSLATED, EPT_QUAL_GLA_VALID, EPT_QUAL_READ,
  EPT_QUAL_READABLE, EPT_QUAL_WRITABLE, EPT_QUAL_WRITE, EPT_R, EPT_W, EPT_X, HUGE_PAGE_SIZE, LARGE_PAGE_SIZE,
  PAGE_SIZE, PTE_P, PTE_W, Vector,
} from '../../core/vtx/arch.js';
import { eptLeafFlags } from '../../core/vtx/page-tables.js';
import { VmExitReason } from '../../core/vtx/vmcs-field.js';
import { FRESH, Rig, delta, kernelProgram, rig, trapOn } from './helpers.js';
import { VmxRig } from './vmx-rig.js';

const EPT_VIOLATION = VmExitReason.EptViolation;
const GLA = EPT_QUAL_GLA_VALID | EPT_QUAL_GLA_TRANSLATED;

/** A guest data page at `va` (guest-physical == host-physical `pa`). */
function dataPage(r: Rig, va = FRESH + 0x3000): { va: number; pa: number } {
  const pa = r.m.frames.alloc();
  r.boot.pt.map(va, pa, PTE_P | PTE_W);
  return { va, pa };
}

describe('EPT violations (SDM Vol. 3C §28.2.1, Table 28-7)', () => {
  it('a guest read of a GPA with no EPT entry exits with reason 48, the GPA, the GLA and R|GLA-valid|translated', () => {
    const r = rig();
    const { va, pa } = dataPage(r);
    const vmm = new VmxRig(r);
    vmm.ept.unmap(pa);
    const at = kernelProgram(r).add((c) => c.mmu.read64(va + 0x18));
    vmm.launch(at);
    expect(vmm.exits).toHaveLength(1);
    const e = vmm.exits[0]!;
    expect(e.reason).toBe(EPT_VIOLATION);
    expect(e.gpa).toBe(pa + 0x18);
    expect(e.gla).toBe(va + 0x18);
    expect(e.qualification).toBe(EPT_QUAL_READ | GLA); // bits 3–5 = 0: the entry is not present
    expect(e.guestRip).toBe(at); // a fault-like exit: RIP of the access
    expect(e.instrLen).toBe(0);
    expect(r.m.stats.get('cpu0.vmx.exits.EptViolation')).toBe(1);
  });

  it('a guest write to a GPA with no EPT entry reports the write bit', () => {
    const r = rig();
    const { va, pa } = dataPage(r);
    const vmm = new VmxRig(r);
    vmm.ept.unmap(pa);
    vmm.launch(kernelProgram(r).add((c) => c.mmu.write32(va + 4, 1)));
    expect(vmm.exits[0]!.qualification).toBe(EPT_QUAL_WRITE | GLA);
    expect(vmm.exits[0]!.gpa).toBe(pa + 4);
  });

  it('a guest instruction fetch from a GPA with no EPT entry reports the fetch bit', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const code = kernelProgram(r);
    const at = code.add((c) => c.stop());
    vmm.ept.unmap(code.pa);
    vmm.launch(at);
    expect(vmm.exits[0]!.reason).toBe(EPT_VIOLATION);
    expect(vmm.exits[0]!.qualification).toBe(EPT_QUAL_FETCH | GLA);
    expect(vmm.exits[0]!.gpa).toBe(at);
  });

  it('a write to a read-only EPT page reports write | readable (bit 1 | bit 3) and changes nothing', () => {
    const r = rig();
    const { va, pa } = dataPage(r);
    const vmm = new VmxRig(r);
    vmm.ept.map(pa, pa, eptLeafFlags(EPT_R));
    vmm.launch(kernelProgram(r).add((c) => c.mmu.write32(va, 0x77)));
    expect(vmm.exits[0]!.qualification).toBe(EPT_QUAL_WRITE | EPT_QUAL_READABLE | GLA);
    expect(r.m.mem.read32(pa)).toBe(0);
  });

  it('bits 3–5 are the AND of the permissions on the EPT walk (R|W|X leaf under an R|X PDE)', () => {
    const r = rig();
    // The data page gets a 2 MiB region of its own, so the R|X PDE covers no guest page table.
    const va = FRESH + 0x3000;
    const pa = r.m.frames.allocContiguous(512);
    r.boot.pt.map(va, pa, PTE_P | PTE_W);
    const vmm = new VmxRig(r);
    const pde = vmm.ept.entryAddress(pa, 2, false);
    r.m.mem.write32(pde, (r.m.mem.read32(pde) & ~7) | EPT_R | EPT_X);
    vmm.launch(kernelProgram(r).add((c) => c.mmu.write8(va, 1)));
    expect(vmm.exits[0]!.qualification).toBe(EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_EXECUTABLE | GLA);
  });

  it('the walker\'s A-flag update of a guest PTE in read-only EPT memory is a write with bit 8 clear', () => {
    const r = rig();
    const { va } = dataPage(r);
    const pteGpa = r.boot.pt.entryAddress(va, 1, false);
    const ptPage = pteGpa - (pteGpa % PAGE_SIZE);
    const vmm = new VmxRig(r);
    vmm.ept.map(ptPage, ptPage, eptLeafFlags(EPT_R | EPT_X));
    vmm.launch(kernelProgram(r).add((c) => c.mmu.read8(va)));
    const e = vmm.exits[0]!;
    expect(e.reason).toBe(EPT_VIOLATION);
    expect(e.gpa).toBe(pteGpa);
    expect(e.qualification).toBe(EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_EXECUTABLE | EPT_QUAL_GLA_VALID);
  });

  it('a fetch from a non-executable EPT page reports fetch | readable | writable', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const code = kernelProgram(r);
    const at = code.add((c) => c.stop());
    vmm.ept.map(code.pa, code.pa, eptLeafFlags(EPT_R | EPT_W));
    vmm.launch(at);
    expect(vmm.exits[0]!.qualification).toBe(EPT_QUAL_FETCH | EPT_QUAL_READABLE | EPT_QUAL_WRITABLE | GLA);
  });

  it('an access to a guest paging-structure entry reports GLA valid with bit 8 clear and the entry\'s GPA', () => {
    const r = rig();
    const { va } = dataPage(r);
    const pteGpa = r.boot.pt.entryAddress(va, 1, false);
    const vmm = new VmxRig(r);
    vmm.ept.unmap(pteGpa - (pteGpa % PAGE_SIZE)); // the guest page table holding the PTE
    vmm.launch(kernelProgram(r).add((c) => c.mmu.read8(va)));
    const e = vmm.exits[0]!;
    expect(e.reason).toBe(EPT_VIOLATION);
    expect(e.gpa).toBe(pteGpa);
    expect(e.gla).toBe(va);
    expect(e.qualification).toBe(EPT_QUAL_READ | EPT_QUAL_GLA_VALID);
    expect(e.qualification & EPT_QUAL_GLA_TRANSLATED).toBe(0);
  });

  it('once the VMM fills the EPT entry and resumes, the guest access restarts and completes', () => {
    const r = rig();
    const { va, pa } = dataPage(r);
    r.m.mem.write32(pa + 8, 0xfeed);
    const vmm = new VmxRig(r);
    vmm.ept.unmap(pa);
    vmm.onExit = (_c, e) => {
      if (e.reason !== EPT_VIOLATION) return false;
      const page = e.gpa - (e.gpa % PAGE_SIZE);
      vmm.ept.map(page, page, eptLeafFlags(EPT_R | EPT_W | EPT_X));
      return true;
    };
    let seen = 0;
    vmm.launch(kernelProgram(r).add((c) => {
      seen = c.mmu.read32(va + 8);
      c.stop();
    }));
    expect(vmm.exits.map((e) => e.reason)).toEqual([EPT_VIOLATION]);
    expect(seen).toBe(0xfeed);
    expect(r.cpu.vmx.nonRoot).toBe(true);
  });

  it('an EPT violation while delivering a guest #PF is resolved by the VMM; the #PF then reaches the guest once (no #DF)', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const stackPage = vmm.guestStackTop - PAGE_SIZE;
    vmm.ept.unmap(stackPage);
    vmm.onExit = (_c, e) => {
      if (e.reason !== EPT_VIOLATION) return false;
      vmm.ept.map(stackPage, stackPage, eptLeafFlags(EPT_R | EPT_W | EPT_X));
      return true;
    };
    const pfs = trapOn(r, Vector.PageFault);
    const dfs = trapOn(r, Vector.DoubleFault, { ist: 1 });
    const missing = FRESH + 0x66_6000;
    const at = kernelProgram(r).add((c) => c.mmu.read8(missing));
    vmm.launch(at);
    expect(vmm.exits.map((e) => [e.reason, e.qualification & EPT_QUAL_WRITE])).toEqual([[EPT_VIOLATION, EPT_QUAL_WRITE]]);
    expect(dfs).toEqual([]);
    expect(pfs).toHaveLength(1);
    expect(pfs[0]!.cr2).toBe(missing);
    expect(pfs[0]!.rip).toBe(at);
    expect(pfs[0]!.handlerRsp).toBe(vmm.guestStackTop - 48);
  });

  it('when the VMM leaves the guest at an EPT violation raised during event delivery, a later VMRESUME retries the access and delivers a plain #PF', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const stackPage = vmm.guestStackTop - PAGE_SIZE;
    vmm.ept.unmap(stackPage);
    const pfs = trapOn(r, Vector.PageFault);
    const dfs = trapOn(r, Vector.DoubleFault, { ist: 1 });
    const missing = FRESH + 0x66_6000;
    const at = kernelProgram(r).add((c) => c.mmu.read8(missing));
    vmm.launch(at); // the VMM stops at the exit (it does not resume)
    expect(vmm.exits.map((e) => e.reason)).toEqual([EPT_VIOLATION]);
    expect(vmm.exits[0]!.guestRip).toBe(at);
    expect(r.cpu.vmx.nonRoot).toBe(false);
    vmm.ept.map(stackPage, stackPage, eptLeafFlags(EPT_R | EPT_W | EPT_X));
    vmm.resume();
    expect(dfs).toEqual([]);
    expect(pfs.map((t) => [t.cr2, t.rip])).toEqual([[missing, at]]);
  });

  it('a host exception in the VMM while it handles such an exit is delivered to the host as itself (not as a #DF of the guest\'s event)', () => {
    const r = rig();
    const vmm = new VmxRig(r);
    const stackPage = vmm.guestStackTop - PAGE_SIZE;
    vmm.ept.unmap(stackPage);
    const hostVa = FRESH + 0x88_8000; // not mapped yet: the VMM's first touch faults in the host
    vmm.onExit = (c, e) => {
      if (e.reason !== EPT_VIOLATION) return false;
      c.mmu.read8(hostVa);
      vmm.ept.map(stackPage, stackPage, eptLeafFlags(EPT_R | EPT_W | EPT_X));
      return true;
    };
    const seen: Array<[string, number]> = [];
    trapOn(r, Vector.PageFault, {
      then: (c, t) => {
        seen.push([c.vmx.nonRoot ? 'guest' : 'host', t.cr2]);
        if (c.vmx.nonRoot) return c.stop();
        r.boot.pt.map(hostVa, r.m.frames.alloc(), PTE_P | PTE_W);
        c.setReg(4, c.rsp + 8);
        c.iretq(); // back to the VMM's exit handler, which runs again
      },
    });
    const dfs = trapOn(r, Vector.DoubleFault, { ist: 1 });
    const missing = FRESH + 0x66_6000;
    vmm.launch(kernelProgram(r).add((c) => c.mmu.read8(missing)));
    expect(dfs).toEqual([]);
    expect(seen).toEqual([['host', hostVa], ['guest', missing]]);
    expect(vmm.exits.every((e) => e.reason === EPT_VIOLATION)).toBe(true);
  });
});

describe('EPT misconfiguration (SDM Vol. 3C §29.3.3.1)', () => {
  it('a write-only leaf (W without R) exits with reason 49 and the GPA', () => {
    const r = rig();
    const { va, pa } = dataPage(r);
    const vmm = new VmxRig(r);
    vmm.ept.map(pa, pa, eptLeafFlags(EPT_W));
    vmm.launch(kernelProgram(r).add((c) => c.mmu.read8(va + 1)));
    expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.EptMisconfig]);
    expect(vmm.exits[0]!.gpa).toBe(pa + 1);
  });

  it('a leaf with memory type 2 (reserved) is a misconfiguration', () => {
    const r = rig();
    const { va, pa } = dataPage(r);
    const vmm = new VmxRig(r);
    vmm.ept.map(pa, pa, EPT_R | EPT_W | (2 << 3));
    vmm.launch(kernelProgram(r).add((c) => c.mmu.read8(va)));
    expect(vmm.exits.map((e) => e.reason)).toEqual([VmExitReason.EptMisconfig]);
  });
});

describe('EPT accessed and dirty flags (SDM Vol. 3C §29.3.5)', () => {
  it('with EPTP bit 6 a guest read sets A on the EPT leaf and a write sets D; without it neither', () => {
    for (const eptAd of [true, false]) {
      const r = rig();
      const { va, pa } = dataPage(r);
      const vmm = new VmxRig(r, { eptAd });
      const leaf = (): number => vmm.ept.leaf(pa)!.lo & (EPT_A | EPT_D);
      const p = kernelProgram(r);
      const at = p.add((c) => c.mmu.read8(va));
      let afterRead = -1;
      p.add((c) => {
        afterRead = leaf();
        c.mmu.write8(va, 1);
        c.stop();
      });
      vmm.launch(at);
      expect(afterRead).toBe(eptAd ? EPT_A : 0);
      expect(leaf()).toBe(eptAd ? EPT_A | EPT_D : 0);
    }
  });
});

describe('page-walk memory references (SDM Vol. 3A §4.5, Vol. 3C §29.3)', () => {
  // "Cold": no paging-structure caches, so every walk starts at the root (§4.10.3 caches are
  // tested below).
  it('a cold 1-D walk of a 4 KiB page makes 4 references; a 2 MiB page 3; a 1 GiB page 2', () => {
    const r = rig({ pagingStructureCaches: false });
    const { va } = dataPage(r);
    const big = FRESH + 4 * HUGE_PAGE_SIZE;
    r.boot.pt.map(big, 0, PTE_P | PTE_W, 0, HUGE_PAGE_SIZE);
    const large = FRESH + 9 * LARGE_PAGE_SIZE;
    r.boot.pt.map(large, r.m.frames.allocContiguous(512), PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => c.mmu.read8(va))).toBe(4);
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => c.mmu.read8(large + 0x1234))).toBe(3);
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => c.mmu.read8(big + 0x5000))).toBe(2);
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => c.mmu.read8(va))).toBe(0); // now a TLB hit
  });

  it('a cold 2-D walk (4-level guest paging, 4-level EPT) makes exactly 24 references: 4 × (4 + 1) + 4', () => {
    const r = rig({ pagingStructureCaches: false });
    const { va } = dataPage(r);
    const large = FRESH + 9 * LARGE_PAGE_SIZE;
    r.boot.pt.map(large, r.m.frames.allocContiguous(512), PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    const vmm = new VmxRig(r);
    const counts: Record<string, number> = {};
    const p = kernelProgram(r);
    const at = p.add((c) => {
      const refs = (): number => r.m.stats.get('cpu0.mmu.walkRefs');
      const ept = (): number => r.m.stats.get('cpu0.mmu.eptRefs');
      const walks2d = r.m.stats.get('cpu0.mmu.walks2d');
      let before = refs();
      const eptBefore = ept();
      c.mmu.read8(va);
      counts.cold4k = refs() - before;
      counts.ept4k = ept() - eptBefore;
      counts.walks2d = r.m.stats.get('cpu0.mmu.walks2d') - walks2d;
      before = refs();
      c.mmu.read8(va + 1);
      counts.warm = refs() - before;
      before = refs();
      c.mmu.read8(large);
      counts.cold2m = refs() - before;
      c.stop();
    });
    vmm.launch(at);
    expect(counts).toEqual({ cold4k: 24, ept4k: 20, walks2d: 1, warm: 0, cold2m: 3 * 5 + 4 });
  });

  // SDM Vol. 3A §4.10.3: the PDE cache lets a walk for a neighbouring page read only the PTE;
  // INVLPG and MOV CR3 empty the caches of the current PCID (§4.10.4.1).
  it('paging-structure caches shorten warm walks and are emptied by INVLPG and MOV CR3', () => {
    const r = rig();
    const a = FRESH + 0x10_0000;
    r.boot.userPage(a, PTE_P | PTE_W);
    r.boot.userPage(a + 0x1000, PTE_P | PTE_W);
    r.boot.userPage(a + 0x2000, PTE_P | PTE_W);
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => c.mmu.read8(a))).toBe(4); // nothing cached yet
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => c.mmu.read8(a + 0x1000))).toBe(1); // PDE cache hit
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => { c.invlpg(a + 0x2000); c.mmu.read8(a + 0x2000); })).toBe(4);
    expect(delta(r, 'cpu0.mmu.walkRefs', (c) => { c.loadCr3(c.cr3); c.mmu.read8(a + 0x1000); })).toBe(4);
  });
});
