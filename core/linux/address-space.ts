import { LARGE_PAGE_SIZE, PAGE_SIZE, PTE_A, PTE_D, PTE_NX_HI, PTE_P, PTE_PS, PTE_U, PTE_W } from '../vtx/arch.js';
import { FrameAllocator } from '../vtx/frame-allocator.js';
import { PageTables } from '../vtx/page-tables.js';
import { PhysicalMemory } from '../vtx/physical-memory.js';
import { MMAP_BASE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_TOP } from './linux-abi.js';

/**
 * A PTE of a PROT_NONE page: not present for the hardware, but still holding its frame
 * (Linux's _PAGE_PROTNONE reuses the global bit, meaningless while P is clear).
 */
export const PTE_PROTNONE = 0x100;

/** Whether a PTE holds a frame (present, or present-but-PROT_NONE). */
export function pteHasFrame(lo: number): boolean {
  return (lo & (PTE_P | PTE_PROTNONE)) !== 0;
}
import { Vma, VmaList } from './vma.js';

/** What one PML4 entry and one PDPT entry map (SDM Vol. 3A §4.5). */
const PML4E_SPAN = 2 ** 39;
const PDPTE_SPAN = 2 ** 30;

/** Called when host PTEs in [start, end) change or go (mm/mmu_notifier.c): KVM and Dune listen. */
export type MmuNotifier = (start: number, end: number) => void;

/**
 * A process address space (struct mm_struct): its own PML4 whose kernel half is shared with
 * every other process, the VMAs, brk, and the MMU notifiers of secondary MMUs (the Dune module's
 * EPTs). User PTEs are kept exactly as Linux keeps them: P|U, W only when writable and not
 * copy-on-write, NX when not executable.
 */
export class AddressSpace {
  readonly pt: PageTables;
  readonly vmas = new VmaList();
  startBrk = 0;
  brk = 0;
  mmapBase = MMAP_BASE;
  stackTop = STACK_TOP;
  readonly notifiers: MmuNotifier[] = [];
  /** Tasks sharing this mm (threads); the mm is freed when it drops to zero. */
  users = 1;
  /**
   * Changes to this address space's PTEs that needed a TLB flush (mm->context.tlb_gen): a CPU
   * that kept its translations under a PCID compares it with what it last flushed for.
   */
  tlbGen = 0;
  /**
   * libhugetlbfs-like backing (huge-pages.ts): large anonymous private mmaps get a 2 MiB-aligned
   * range and 2 MiB pages, without the program asking (MAP_HUGETLB works either way).
   */
  hugeMmap = false;

  constructor(
    readonly mem: PhysicalMemory,
    readonly frames: FrameAllocator,
    /** The kernel's master PML4, whose upper half every address space shares. */
    kernelPml4: number,
  ) {
    this.pt = new PageTables(mem, frames);
    // Share the kernel half (PML4 entries 256..511), as pgd_alloc does.
    for (let i = 256; i < 512; i++) {
      const lo = mem.read32(kernelPml4 + i * 8);
      const hi = mem.read32(kernelPml4 + i * 8 + 4);
      mem.write64(this.pt.root + i * 8, lo, hi);
    }
  }

  /** The CR3 value of this address space. */
  get cr3(): number {
    return this.pt.root;
  }

  /** PTE flags for a page of a VMA (write permission only for writable, non-COW pages). */
  static pteFlags(prot: number, writable: boolean): { lo: number; hi: number } {
    if ((prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) return { lo: PTE_PROTNONE | PTE_U, hi: PTE_NX_HI };
    let lo = PTE_P | PTE_U;
    if (writable && (prot & PROT_WRITE) !== 0) lo |= PTE_W;
    return { lo, hi: (prot & PROT_EXEC) !== 0 ? 0 : PTE_NX_HI };
  }

  /** Maps a frame at `va` for `vma` (demand paging or COW). */
  mapPage(va: number, frame: number, vma: Vma, writable: boolean): void {
    const f = AddressSpace.pteFlags(vma.prot, writable);
    this.pt.map(va, frame, f.lo, f.hi);
  }

  /** The leaf PTE of a user page, or undefined. */
  pte(va: number): { lo: number; hi: number; pa: number } | undefined {
    const pa = this.pt.entryAddress(va, 1, false);
    if (pa < 0) return undefined;
    return { lo: this.mem.read32(pa), hi: this.mem.read32(pa + 4), pa };
  }

  /**
   * The PDE of `va` when it is a 2 MiB leaf holding a frame (PS with P, or PROT_NONE), else
   * undefined. SDM Vol. 3A §4.5 (Table 4-17): a PDE with PS=1 maps a 2 MiB page.
   */
  hugePde(va: number): { lo: number; hi: number; pa: number } | undefined {
    const pa = this.pt.entryAddress(va, 2, false);
    if (pa < 0) return undefined;
    const lo = this.mem.read32(pa);
    if ((lo & PTE_PS) === 0 || !pteHasFrame(lo)) return undefined;
    return { lo, hi: this.mem.read32(pa + 4), pa };
  }

  /**
   * The 4 KiB frame behind `va` and its leaf's low flags, whether a PTE or a 2 MiB PDE maps it
   * (for software walks: access_process_vm, the Dune module); undefined when nothing holds a frame.
   */
  frameAt(va: number): { frame: number; lo: number; huge: boolean } | undefined {
    const h = this.hugePde(va);
    if (h !== undefined) {
      const base = PageTables.entryFrame(h.lo, h.hi);
      const frame = base - (base % LARGE_PAGE_SIZE) + (va % LARGE_PAGE_SIZE) - (va % PAGE_SIZE);
      return { frame, lo: h.lo, huge: true };
    }
    const l = this.pte(va);
    if (l === undefined || !pteHasFrame(l.lo)) return undefined;
    return { frame: PageTables.entryFrame(l.lo, l.hi), lo: l.lo, huge: false };
  }

  /** Writes a 2 MiB leaf (PS=1) for `vma` at the 2 MiB-aligned `va` (the PDE must be empty). */
  mapHuge(va: number, frame: number, vma: Vma): void {
    const f = AddressSpace.pteFlags(vma.prot, true);
    const e = this.pt.entryAddress(va, 2, true);
    this.mem.write64(e, ((frame % 0x1_0000_0000) | f.lo | PTE_PS) >>> 0, (Math.floor(frame / 0x1_0000_0000) | f.hi) >>> 0);
  }

  /**
   * split_huge_pmd: the 2 MiB leaf over `va` becomes a page table of 512 PTEs mapping the same
   * frames with the same flags (A and D kept), so 4 KiB operations can follow. The translation
   * does not change, but secondary MMUs (Dune's EPT) are told so they drop their 2 MiB leaf.
   * Returns false when no 2 MiB leaf is there.
   */
  splitHuge(va: number): boolean {
    const h = this.hugePde(va);
    if (h === undefined) return false;
    const base = PageTables.entryFrame(h.lo, h.hi);
    const block = va - (va % LARGE_PAGE_SIZE);
    const table = this.frames.alloc();
    this.pt.tables++;
    const flags = h.lo & 0xfff & ~PTE_PS; // bit 12 of a PDE leaf is PAT; the model never sets it
    for (let i = 0; i < 512; i++) {
      const f = base + i * PAGE_SIZE;
      this.mem.write64(table + i * 8, ((f % 0x1_0000_0000) | flags) >>> 0, (Math.floor(f / 0x1_0000_0000) | (h.hi & ~0xfffff)) >>> 0);
    }
    this.mem.write64(h.pa, (table | PTE_P | PTE_W | PTE_U) >>> 0, Math.floor(table / 0x1_0000_0000));
    this.notify(block, block + LARGE_PAGE_SIZE);
    return true;
  }

  /** Splits the 2 MiB leaves that [start, end) only partly covers. */
  private splitPartial(start: number, end: number): void {
    for (const a of [start, end - 1]) {
      const block = a - (a % LARGE_PAGE_SIZE);
      if (block < start || block + LARGE_PAGE_SIZE > end) this.splitHuge(a);
    }
  }

  /**
   * Calls `fn` whenever a PTE in [start, end) changes or goes — a munmap, an mprotect, the exit or
   * exec that destroys this address space — as a driver that pins a user buffer for DMA
   * registers an mmu_notifier to stop the device first.
   */
  onRangeChange(start: number, end: number, fn: () => void): void {
    this.notifiers.push((s, e) => {
      if (s < end && start < e) fn();
    });
  }

  notify(start: number, end: number): void {
    for (const n of this.notifiers) n(start, end);
  }

  /** Unmaps the pages of [start, end): drops PTEs and frame references. Returns pages (and page tables) dropped. */
  zapRange(start: number, end: number): number {
    let n = 0;
    this.splitPartial(start, end);
    for (let va = start; va < end; va += PAGE_SIZE) {
      if (va === start || va % LARGE_PAGE_SIZE === 0) {
        const next = this.nextPopulated(va, end);
        if (next !== va) {
          va = next - PAGE_SIZE;
          continue;
        }
      }
      if (va % LARGE_PAGE_SIZE === 0) {
        // A whole 2 MiB leaf goes at once: its 512 frames are dropped one by one (each has its count).
        const h = this.hugePde(va);
        if (h !== undefined) {
          const base = PageTables.entryFrame(h.lo, h.hi);
          this.mem.write64(h.pa, 0, 0);
          for (let i = 0; i < 512; i++) this.frames.put(base + i * PAGE_SIZE);
          n += 512;
          va += LARGE_PAGE_SIZE - PAGE_SIZE;
          continue;
        }
      }
      const l = this.pte(va);
      if (l === undefined || !pteHasFrame(l.lo)) continue;
      const frame = PageTables.entryFrame(l.lo, l.hi);
      this.mem.write64(l.pa, 0, 0);
      this.frames.put(frame);
      n++;
    }
    // free_pgtables: a page table whose whole 2 MiB lies in the range is empty now and goes (so a
    // 2 MiB page can take its PDE later). The callers flush the TLB, paging-structure caches included.
    for (let b = Math.ceil(start / LARGE_PAGE_SIZE) * LARGE_PAGE_SIZE; b + LARGE_PAGE_SIZE <= end; b += LARGE_PAGE_SIZE) {
      const nb = this.nextPopulated(b, end);
      if (nb !== b) {
        b = nb - LARGE_PAGE_SIZE;
        continue;
      }
      const pde = this.pt.entryAddress(b, 2, false);
      if (pde < 0) continue;
      const lo = this.mem.read32(pde);
      if ((lo & PTE_P) === 0 || (lo & PTE_PS) !== 0) continue;
      const table = PageTables.entryFrame(lo, this.mem.read32(pde + 4));
      let empty = true;
      for (let i = 0; i < 512 && empty; i++) empty = this.mem.read32(table + i * 8) === 0 && this.mem.read32(table + i * 8 + 4) === 0;
      if (!empty) continue;
      this.mem.write64(pde, 0, 0);
      this.frames.put(table);
      this.pt.tables--;
      n++; // counted, so that the caller's flush empties the paging-structure caches that point at it
    }
    if (n > 0) this.notify(start, end);
    return n;
  }

  /** Rewrites the protection of present PTEs in [start, end) (change_protection). */
  changeProtection(start: number, end: number, vma: Vma): number {
    let n = 0;
    this.splitPartial(start, end);
    for (let va = start; va < end; va += PAGE_SIZE) {
      if (va === start || va % LARGE_PAGE_SIZE === 0) {
        const next = this.nextPopulated(va, end);
        if (next !== va) {
          va = next - PAGE_SIZE;
          continue;
        }
      }
      if (va % LARGE_PAGE_SIZE === 0) {
        const h = this.hugePde(va);
        if (h !== undefined) {
          // A 2 MiB leaf is never shared copy-on-write (fork splits it), so it stays writable.
          const frame = PageTables.entryFrame(h.lo, h.hi);
          const f = AddressSpace.pteFlags(vma.prot, true);
          const keep = h.lo & (PTE_A | PTE_D);
          this.mem.write64(h.pa, ((frame % 0x1_0000_0000) | f.lo | keep | PTE_PS) >>> 0, (Math.floor(frame / 0x1_0000_0000) | f.hi) >>> 0);
          n++;
          va += LARGE_PAGE_SIZE - PAGE_SIZE;
          continue;
        }
      }
      const l = this.pte(va);
      if (l === undefined || !pteHasFrame(l.lo)) continue;
      const frame = PageTables.entryFrame(l.lo, l.hi);
      // A shared (COW) frame stays read-only until the write fault copies it.
      const exclusive = this.frames.refCount(frame) === 1;
      const f = AddressSpace.pteFlags(vma.prot, exclusive);
      const keep = l.lo & (PTE_A | PTE_D);
      this.mem.write64(l.pa, ((frame % 0x1_0000_0000) | f.lo | keep) >>> 0, (Math.floor(frame / 0x1_0000_0000) | f.hi) >>> 0);
      n++;
    }
    this.notify(start, end);
    return n;
  }

  /**
   * The first address at or above `va` (`end` at most) whose 2 MiB block has a present page
   * directory entry. The range walkers skip an empty PML4E (512 GiB), PDPTE (1 GiB) or PDE (2 MiB)
   * at once, as Linux's zap_p4d_range / zap_pud_range / zap_pmd_range skip pXd_none entries: a
   * range as large as the address space costs what its mapped part costs, not one step per page.
   */
  private nextPopulated(va: number, end: number): number {
    while (va < end) {
      const pdpte = this.pt.entryAddress(va, 3, false);
      let skip = 0;
      if (pdpte < 0) skip = PML4E_SPAN; // no PML4E (or a leaf above): nothing below it
      else if ((this.mem.read32(pdpte) & PTE_P) === 0) skip = PDPTE_SPAN;
      else if ((this.mem.read32(pdpte) & PTE_PS) === 0) {
        const pde = this.pt.entryAddress(va, 2, false);
        if (pde >= 0 && (this.mem.read32(pde) & PTE_P) === 0 && this.mem.read32(pde) === 0 && this.mem.read32(pde + 4) === 0) skip = LARGE_PAGE_SIZE;
      }
      if (skip === 0) return va;
      va = (Math.floor(va / skip) + 1) * skip;
    }
    return end;
  }

  /** Frees every user page and page table (exit_mmap). */
  destroy(): void {
    for (const v of this.vmas.list) this.zapRange(v.start, v.end);
    this.freeTables(this.pt.root, 4);
  }

  private freeTables(table: number, level: number): void {
    const limit = level === 4 ? 256 : 512; // never free the shared kernel half
    if (level > 1) {
      for (let i = 0; i < limit; i++) {
        const lo = this.mem.read32(table + i * 8);
        const hi = this.mem.read32(table + i * 8 + 4);
        if ((lo & PTE_P) !== 0 && (lo & 0x80) === 0) this.freeTables(PageTables.entryFrame(lo, hi), level - 1);
      }
    }
    this.frames.put(table);
  }
}
