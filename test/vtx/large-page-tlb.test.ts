/**
 * 2 MiB pages in the TLB. SDM Vol. 3A §4.5 (Table 4-17: a PDE with PS=1 maps a 2 MiB page),
 * §4.10.2 (a TLB entry caches the translation of the whole page: a second access to another
 * 4 KiB page inside it hits), §4.10.2.3 (under EPT a combined translation is cached with the
 * smaller of the two page sizes, Vol. 3C §29.4.2), §4.10.4.1 (INVLPG of any address inside the
 * page drops the entry). EPT: Vol. 3C §29.3.2 (an EPT PDE with bit 7 set maps 2 MiB).
 */
import { describe, expect, it } from 'vitest';
import { EPT_PS, EPT_R, EPT_W, EPT_X, LARGE_PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_W } from '../../core/vtx/arch.js';
import { eptLeafFlags } from '../../core/vtx/page-tables.js';
import { FRESH, delta, kernelProgram, rig } from './helpers.js';
import { VmxRig } from './vmx-rig.js';

describe('2 MiB pages in the TLB', () => {
  it('a 2 MiB PDE leaf is one TLB entry: another 4 KiB page inside it hits; A and D land on the PDE; INVLPG anywhere inside drops it', () => {
    const r = rig();
    const pa = r.m.frames.allocContiguous(512);
    const va = FRESH + 5 * LARGE_PAGE_SIZE;
    r.boot.pt.map(va, pa, PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    expect(delta(r, 'cpu0.tlb.misses', (c) => c.mmu.write32(va + 0x1234, 7))).toBe(1);
    const large = r.cpu.mmu.tlbLarge.valid;
    expect(delta(r, 'cpu0.tlb.misses', (c) => {
      for (let off = 0x1000; off < LARGE_PAGE_SIZE; off += 0x4_0000) c.mmu.read32(va + off + 0x10);
    })).toBe(0);
    expect(delta(r, 'cpu0.mmu.walks', (c) => c.mmu.read32(va + 0x1f_f000))).toBe(0);
    expect(r.cpu.mmu.tlbLarge.valid).toBe(large);
    expect(r.boot.pt.leaf(va)!.lo & (PTE_PS | PTE_A | PTE_D)).toBe(PTE_PS | PTE_A | PTE_D);
    expect(r.m.mem.read32(pa + 0x1234)).toBe(7);
    expect(delta(r, 'cpu0.tlb.misses', (c) => {
      c.invlpg(va + 0x1f_f000);
      c.mmu.read32(va);
    })).toBe(1);
  });

  it('a 2 MiB entry evicted from the TLB is gone from the hit path too: a later access walks and sees the PDE as it is now', () => {
    const r = rig();
    const blocks = 2 * r.cpu.mmu.tlbLarge.entries; // twice what the large-page TLB holds
    // Every block maps one shared 2 MiB frame; block i reads its own 4 KiB page i inside it, so
    // the blocks' hit-path entries sit in different L0 slots and none overwrites block 0's.
    const shared = r.m.frames.allocContiguous(512);
    for (let i = 0; i < blocks; i++) {
      r.boot.pt.map(FRESH + i * LARGE_PAGE_SIZE, shared, PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
      r.m.mem.write32(shared + i * 4096 + 0x40, 1000 + i);
    }
    // A 4 KiB mapping elsewhere, touched first and last: its hit-path entry must survive the
    // evictions of the 2 MiB entries (only their own 4 KiB slices leave the L0).
    const small = FRESH + blocks * LARGE_PAGE_SIZE + LARGE_PAGE_SIZE;
    r.boot.pt.map(small, r.m.frames.alloc(), PTE_P | PTE_W);
    r.cpu.mmu.read32(small);
    for (let i = 0; i < blocks; i++) expect(r.cpu.mmu.read32(FRESH + i * LARGE_PAGE_SIZE + i * 4096 + 0x40)).toBe(1000 + i);
    // Block 0 left the TLB long ago. Remap it without any invalidation: nothing may still hold
    // the old translation, so the read walks and finds the new frame.
    const other = r.m.frames.allocContiguous(512);
    r.m.mem.write32(other + 0x40, 4242);
    r.boot.pt.map(FRESH, other, PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    expect(delta(r, 'cpu0.mmu.walks', (c) => expect(c.mmu.read32(FRESH + 0x40)).toBe(4242))).toBe(1);
    expect(delta(r, 'cpu0.mmu.walks', (c) => c.mmu.read32(small))).toBe(0);
  });

  it('under EPT: guest 2 MiB + EPT 2 MiB is one large entry; guest 2 MiB over EPT 4 KiB is cached as 4 KiB fragments', () => {
    const r = rig();
    const pa = r.m.frames.allocContiguous(512);
    const pa2 = r.m.frames.allocContiguous(512);
    const va = FRESH + 7 * LARGE_PAGE_SIZE;
    const va2 = FRESH + 9 * LARGE_PAGE_SIZE;
    r.boot.pt.map(va, pa, PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    r.boot.pt.map(va2, pa2, PTE_P | PTE_W, 0, LARGE_PAGE_SIZE);
    const vmm = new VmxRig(r); // identity EPT of 4 KiB leaves
    // The EPT maps the first block with one 2 MiB leaf (the table of 4 KiB leaves is left unused).
    const pde = vmm.ept.entryAddress(pa, 2, false);
    r.m.mem.write64(pde, (pa | eptLeafFlags(EPT_R | EPT_W | EPT_X) | EPT_PS) >>> 0, 0);
    const s: Record<string, number> = {};
    const at = kernelProgram(r).add((c) => {
      const walks = (): number => r.m.stats.get('cpu0.mmu.walks2d');
      c.mmu.read32(va);
      let w = walks();
      const large0 = c.mmu.tlbLarge.valid;
      c.mmu.read32(va + 0x10_0000);
      s.bothLargeSecondWalks = walks() - w;
      s.bothLargeEntries = c.mmu.tlbLarge.valid - large0;
      c.mmu.read32(va2);
      w = walks();
      const small0 = c.mmu.tlb.valid;
      c.mmu.read32(va2 + 0x10_0000);
      s.fragmentSecondWalks = walks() - w;
      s.fragmentNewSmallEntries = c.mmu.tlb.valid - small0;
      c.stop();
    });
    vmm.launch(at);
    expect(s).toEqual({ bothLargeSecondWalks: 0, bothLargeEntries: 0, fragmentSecondWalks: 1, fragmentNewSmallEntries: 1 });
    expect(vmm.exits).toEqual([]);
  });
});
