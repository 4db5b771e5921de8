import {
  EPT_MT_SHIFT, EPT_MT_WB, EPT_PS, EPT_R, EPT_W, EPT_X, PTE_ADDR_HI, PTE_ADDR_LO, PTE_P, PTE_PS, PTE_U, PTE_W,
} from './arch.js';
import { FrameAllocator } from './frame-allocator.js';
import { PhysicalMemory } from './physical-memory.js';

const TWO_32 = 0x1_0000_0000;

/**
 * Software that writes x86-64 page tables (or EPT tables) as bytes in emulated physical memory —
 * what a kernel's page-table code does. The hardware side (walks, A/D, TLB) is the MMU; this
 * class only edits entries. Tables are 4 KiB frames from the frame allocator.
 *
 * Flags are given as the low and high 32 bits of the entry (`lo`, `hi`); intermediate entries
 * are created permissive (x86: P|W|U; EPT: R|W|X) so the leaf decides.
 */
export class PageTables {
  readonly root: number;
  /** Tables allocated, including the root. */
  tables = 1;

  constructor(
    readonly mem: PhysicalMemory,
    readonly frames: FrameAllocator,
    /** EPT format instead of x86 paging. */
    readonly ept = false,
    root?: number,
  ) {
    this.root = root ?? frames.alloc();
  }

  private get tableFlags(): number {
    return this.ept ? EPT_R | EPT_W | EPT_X : PTE_P | PTE_W | PTE_U;
  }

  private present(lo: number): boolean {
    return this.ept ? (lo & 7) !== 0 : (lo & PTE_P) !== 0;
  }

  private isLeaf(lo: number, level: number): boolean {
    return level === 1 || (lo & (this.ept ? EPT_PS : PTE_PS)) !== 0;
  }

  static entryFrame(lo: number, hi: number): number {
    return ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
  }

  /**
   * Physical address of the entry for `va` at `level` (1 = PTE … 4 = PML4E), creating missing
   * tables on the way when `create`; -1 if a table is missing or a large leaf is in the way.
   */
  entryAddress(va: number, level: number, create: boolean): number {
    let table = this.root;
    for (let l = 4, shift = 39; ; l--, shift -= 9) {
      const entry = table + (Math.floor(va / 2 ** shift) & 511) * 8;
      if (l === level) return entry;
      const lo = this.mem.read32(entry);
      const hi = this.mem.read32(entry + 4);
      if (!this.present(lo)) {
        if (!create) return -1;
        const t = this.frames.alloc();
        this.tables++;
        this.mem.write64(entry, (t | this.tableFlags) >>> 0, Math.floor(t / TWO_32));
        table = t;
        continue;
      }
      if (this.isLeaf(lo, l)) return -1;
      table = PageTables.entryFrame(lo, hi);
    }
  }

  /** Maps one page of `size` (4 KiB, 2 MiB or 1 GiB) at `va` to `pa` with entry flags lo/hi. */
  map(va: number, pa: number, flagsLo: number, flagsHi = 0, size = 4096): void {
    const level = size === 4096 ? 1 : size === 0x20_0000 ? 2 : size === 0x4000_0000 ? 3 : -1;
    if (level < 0) throw new Error(`page size ${size} is not 4 KiB, 2 MiB or 1 GiB`);
    if (va % size !== 0 || pa % size !== 0) throw new Error(`map: va 0x${va.toString(16)} / pa 0x${pa.toString(16)} not aligned to ${size}`);
    const entry = this.entryAddress(va, level, true);
    if (entry < 0) throw new Error(`map: a large page already covers 0x${va.toString(16)}`);
    const ps = level > 1 ? (this.ept ? EPT_PS : PTE_PS) : 0;
    this.mem.write64(entry, ((pa % TWO_32) | flagsLo | ps) >>> 0, (Math.floor(pa / TWO_32) | flagsHi) >>> 0);
  }

  /** Maps [va, va+len) to [pa, pa+len) in 4 KiB pages. */
  mapRange(va: number, pa: number, len: number, flagsLo: number, flagsHi = 0): void {
    for (let off = 0; off < len; off += 4096) this.map(va + off, pa + off, flagsLo, flagsHi);
  }

  /** The leaf entry for `va` as { lo, hi, pa } (pa = entry address), or undefined. */
  leaf(va: number): { lo: number; hi: number; pa: number; level: number } | undefined {
    let table = this.root;
    for (let l = 4, shift = 39; l >= 1; l--, shift -= 9) {
      const entry = table + (Math.floor(va / 2 ** shift) & 511) * 8;
      const lo = this.mem.read32(entry);
      const hi = this.mem.read32(entry + 4);
      if (!this.present(lo)) return undefined;
      if (this.isLeaf(lo, l)) return { lo, hi, pa: entry, level: l };
      table = PageTables.entryFrame(lo, hi);
    }
    return undefined;
  }

  /**
   * How many entries a software walk for `va` reads (the memory references of a kernel's own
   * walk, such as get_user_pages_fast's): one per level down to the leaf, or to the first
   * entry that is not present.
   */
  walkRefs(va: number): number {
    let table = this.root;
    let refs = 0;
    for (let l = 4, shift = 39; l >= 1; l--, shift -= 9) {
      const entry = table + (Math.floor(va / 2 ** shift) & 511) * 8;
      const lo = this.mem.read32(entry);
      refs++;
      if (!this.present(lo) || this.isLeaf(lo, l)) return refs;
      table = PageTables.entryFrame(lo, this.mem.read32(entry + 4));
    }
    return refs;
  }

  /** Rewrites the low half of the leaf entry for `va` (flags live there). */
  setLeafLo(va: number, f: (lo: number) => number): void {
    const l = this.leaf(va);
    if (l === undefined) throw new Error(`no mapping for 0x${va.toString(16)}`);
    this.mem.write32(l.pa, f(l.lo) >>> 0);
  }

  unmap(va: number): void {
    const l = this.leaf(va);
    if (l !== undefined) this.mem.write64(l.pa, 0, 0);
  }
}

/** Leaf flags of an EPT entry: permissions plus write-back memory type. */
export function eptLeafFlags(perm: number): number {
  return (perm & 7) | (EPT_MT_WB << EPT_MT_SHIFT);
}
