import { PAGE_SIZE, PTE_A, PTE_D, PTE_NX_HI, PTE_P, PTE_U, PTE_W } from '../vtx/arch.js';
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

  notify(start: number, end: number): void {
    for (const n of this.notifiers) n(start, end);
  }

  /** Unmaps the pages of [start, end): drops PTEs and frame references. Returns pages dropped. */
  zapRange(start: number, end: number): number {
    let n = 0;
    for (let va = start; va < end; va += PAGE_SIZE) {
      const l = this.pte(va);
      if (l === undefined || !pteHasFrame(l.lo)) continue;
      const frame = PageTables.entryFrame(l.lo, l.hi);
      this.mem.write64(l.pa, 0, 0);
      this.frames.put(frame);
      n++;
    }
    if (n > 0) this.notify(start, end);
    return n;
  }

  /** Rewrites the protection of present PTEs in [start, end) (change_protection). */
  changeProtection(start: number, end: number, vma: Vma): number {
    let n = 0;
    for (let va = start; va < end; va += PAGE_SIZE) {
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
