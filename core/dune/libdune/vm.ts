import { CR3_NOFLUSH_HI, CR3_PCID_MASK, PAGE_SIZE, PTE_ADDR_HI, PTE_ADDR_LO, PTE_D, PTE_NX_HI, PTE_P, PTE_PS, PTE_U, PTE_W } from '../../vtx/arch.js';
import type { Cpu } from '../../vtx/cpu.js';
import type { Stats } from '../../stats.js';
import { PERM_BIG, PERM_COW, PERM_R, PERM_U, PERM_UC, PERM_W, PERM_X } from '../dune-abi.js';
import type { GuestAccess } from './guest-access.js';
import { BIG, type PagePool } from './page-pool.js';
import { PcidAllocator } from './pcid-allocator.js';

const TWO_32 = 0x1_0000_0000;
/** Bytes one entry maps at each level (1 = PTE … 4 = PML4E). */
const SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;
/** The canonical address space as signed numbers: [-2^47, 2^47) (SDM Vol. 1 §3.3.7.1). */
export const VA_START = -(2 ** 47);
export const VA_END = 2 ** 47;

/** dune_vm_page_walk's callback: the entry's address, the first address it maps, its level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
export type PageWalkCb = (ptep: number, va: number, level: number) => boolean | void;

/**
 * libDune's page-table manager (vm.c) on guest page tables in guest memory: every entry it
 * reads or writes is a memory access through GuestAccess (once inside Dune, a guest access with
 * its TLB and A/D behaviour). Table pages come from the pool, so a table's address is its
 * physical address. Also the TLB and CR3 side: flushes, load_cr3, and several roots per
 * process, each switched to with a PCID of its own.
 */
export class Vm {
  /** PCIDs for the process's roots (PCID 0 is pgroot's). */
  readonly pcids: PcidAllocator;
  /** The PCID each root was last switched to with (switchRoot), to flush the right context. */
  private readonly rootPcid = new Map<number, number>();
  private readonly sv: Float64Array;
  private readonly sLargeLeaves: number;

  constructor(private readonly mem: GuestAccess, private readonly pool: PagePool, stats: Stats, parent?: Vm) {
    this.sv = stats.v;
    this.sLargeLeaves = stats.counter('libdune.largeLeaves', 'count', '2 MiB leaves (PS=1 PDEs) written into guest page tables by libDune (PERM_BIG)');
    this.pcids = new PcidAllocator(parent?.pcids);
    if (parent !== undefined) for (const [r, p] of parent.rootPcid) this.rootPcid.set(r, p);
  }

  /** get_pte_perm: PERM_* to PTE bits (as lo, hi). */
  static ptePerm(perm: number): { lo: number; hi: number } {
    let lo = 0;
    let hi = 0;
    if (perm & PERM_R) lo |= PTE_P;
    if (perm & PERM_W) lo |= PTE_W;
    if (!(perm & PERM_X)) hi |= PTE_NX_HI;
    if (perm & PERM_U) lo |= PTE_U;
    if (perm & PERM_UC) lo |= 0x10;
    if (perm & PERM_COW) lo |= 0x200;
    if (perm & PERM_BIG) lo |= PTE_PS;
    return { lo, hi };
  }

  /** Physical address bits 51:12 of an entry given as halves. */
  static frameOf(lo: number, hi: number): number {
    return ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
  }

  /**
   * dune_vm_lookup: the address of the PTE for `va` (4-level walk from `root`), creating missing
   * tables from the pool when `create`; -1 when absent. Stops at a 2 MiB or 1 GiB leaf.
   */
  vmLookup(root: number, va: number, create: boolean): number {
    return this.vmLookupLevel(root, va, 1, create);
  }

  /**
   * The entry for `va` at `level` (1 = PTE, 2 = PDE for a 2 MiB leaf), creating missing tables when
   * `create`; stops early at a larger leaf on the way; -1 when absent.
   */
  vmLookupLevel(root: number, va: number, level: number, create: boolean): number {
    const m = this.mem;
    let table = root;
    for (let l = 4, shift = 39; ; l--, shift -= 9) {
      const e = table + (Math.floor(va / 2 ** shift) & 511) * 8;
      if (l === level) return e;
      const lo = m.readEntry(e);
      const hi = m.entHi;
      if ((lo & PTE_P) === 0) {
        if (!create) return -1;
        const t = this.pool.pageAlloc();
        m.writeEntry(e, (t % TWO_32) + (PTE_P | PTE_W | PTE_U), Math.floor(t / TWO_32));
        table = t;
        continue;
      }
      if ((lo & PTE_PS) !== 0) return e;
      table = Vm.frameOf(lo, hi);
    }
  }

  /**
   * Writes a 2 MiB leaf (PS=1 PDE, SDM Vol. 3A §4.5 Table 4-17) for `va` → `pa` with `perm`; a
   * page table that was under the PDE (4 KiB leaves mapped before) is dropped, as the real
   * __dune_vm_page_walk with CREATE_BIG replaces it. The caller flushes the TLB.
   */
  vmMapBig(root: number, va: number, pa: number, perm: number): void {
    if (va % BIG !== 0 || pa % BIG !== 0) throw new Error(`libdune: PERM_BIG mapping of 0x${va.toString(16)} → 0x${pa.toString(16)} is not 2 MiB aligned`);
    const e = this.vmLookupLevel(root, va, 2, true);
    const old = this.mem.readEntry(e);
    if ((old & PTE_P) !== 0 && (old & PTE_PS) === 0) {
      const t = Vm.frameOf(old, this.mem.entHi);
      if (this.pool.isFromPool(t)) this.pool.pagePut(t);
    }
    this.setPte(e, pa, perm | PERM_BIG);
    this.sv[this.sLargeLeaves]++;
  }

  /**
   * Replaces the 2 MiB leaf over `va` with a pool page table of 512 4 KiB leaves with the same
   * flags and frames (so part of the page can change). False when no 2 MiB leaf is there.
   * The translation is unchanged; the caller flushes the TLB when it changes one.
   */
  vmSplitBig(root: number, va: number): boolean {
    const m = this.mem;
    const e = this.vmLookupLevel(root, va, 2, false);
    if (e < 0) return false;
    const lo = m.readEntry(e);
    const hi = m.entHi;
    if ((lo & PTE_P) === 0 || (lo & PTE_PS) === 0) return false;
    const base = Vm.frameOf(lo, hi);
    const t = this.pool.pageAlloc();
    const flags = lo & 0xfff & ~PTE_PS;
    for (let i = 0; i < 512; i++) {
      const f = base + i * PAGE_SIZE;
      m.writeEntry(t + i * 8, ((f % TWO_32) | flags) >>> 0, (Math.floor(f / TWO_32) | (hi & ~0xfffff)) >>> 0);
    }
    m.writeEntry(e, (t % TWO_32) + (PTE_P | PTE_W | PTE_U), Math.floor(t / TWO_32));
    return true;
  }

  /** Writes the PTE for `pa` with PERM bits at entry address `e`. */
  private setPte(e: number, pa: number, perm: number): void {
    const p = Vm.ptePerm(perm);
    this.mem.writeEntry(e, ((pa % TWO_32) | p.lo) >>> 0, (Math.floor(pa / TWO_32) | p.hi) >>> 0);
  }

  /** dune_vm_map_phys: [va, va+len) → [pa, pa+len) with `perm` (4 KiB pages; 2 MiB with PERM_BIG). */
  vmMapPhys(root: number, va: number, len: number, pa: number, perm: number): void {
    if ((perm & PERM_BIG) !== 0) {
      for (let off = 0; off < len; off += BIG) this.vmMapBig(root, va + off, pa + off, perm);
      return;
    }
    let table = -1;
    let tableBase = NaN;
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const a = va + off;
      const base = a - (a % 0x20_0000);
      if (base !== tableBase) {
        table = this.vmLookup(root, a, true) - (Math.floor(a / 4096) & 511) * 8;
        tableBase = base;
      }
      this.setPte(table + (Math.floor(a / 4096) & 511) * 8, pa + off, perm);
    }
  }

  /** dune_vm_map_pages: a fresh pool page at every page of [va, va+len). */
  vmMapPages(root: number, va: number, len: number, perm: number): number {
    if ((perm & ~PERM_R) !== 0 && (perm & PERM_R) === 0) return -22;
    if ((perm & PERM_BIG) !== 0) {
      // 2 MiB leaves over 512 contiguous pool pages each.
      if (va % BIG !== 0) return -22;
      for (let off = 0; off < len; off += BIG) this.vmMapBig(root, va + off, this.pool.pageAllocBig(), perm);
      return 0;
    }
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const e = this.vmLookup(root, va + off, true);
      this.setPte(e, this.pool.pageAlloc(), perm);
    }
    return 0;
  }

  /** dune_vm_mprotect: rewrite the flags of existing leaves, then flush the whole TLB. */
  vmMprotect(cpu: Cpu, root: number, va: number, len: number, perm: number): number {
    if ((perm & PERM_W) && !(perm & PERM_R)) return -22;
    const m = this.mem;
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const e = this.vmLookup(root, va + off, false);
      if (e < 0) continue;
      const lo = m.readEntry(e);
      const hi = m.entHi;
      if (lo === 0 && hi === 0) continue;
      if ((lo & PTE_PS) !== 0) {
        // A 2 MiB leaf keeps its size; the rest of its page needs no other entry.
        this.setPte(e, Vm.frameOf(lo, hi), perm | PERM_BIG);
        off = Math.max(off, (va + off) - ((va + off) % BIG) + BIG - va - PAGE_SIZE);
        continue;
      }
      this.setPte(e, Vm.frameOf(lo, hi), perm);
    }
    this.flushTlb(cpu);
    return 0;
  }

  /** dune_vm_unmap: clear leaves, drop pool references, flush the TLB. */
  vmUnmap(cpu: Cpu, root: number, va: number, len: number): void {
    const m = this.mem;
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const e = this.vmLookup(root, va + off, false);
      if (e < 0) continue;
      const lo = m.readEntry(e);
      if ((lo & PTE_P) === 0) continue;
      const f = Vm.frameOf(lo, m.entHi);
      m.writeEntry(e, 0, 0);
      if ((lo & PTE_PS) !== 0) {
        // A 2 MiB leaf goes whole (with its 512 pool pages, if they are the pool's).
        const base = f - (f % BIG);
        if (this.pool.isFromPool(base)) for (let pa = base; pa < base + BIG; pa += PAGE_SIZE) this.pool.pagePut(pa);
        off = Math.max(off, (va + off) - ((va + off) % BIG) + BIG - va - PAGE_SIZE);
        continue;
      }
      if (this.pool.isFromPool(f)) this.pool.pagePut(f);
    }
    this.flushTlb(cpu);
  }

  /**
   * dune_vm_page_walk: calls `cb(ptep, va, level)` for every present leaf in [start, end), in
   * address order; stops when `cb` returns true. Addresses are signed: the upper half of the
   * address space (PML4 slots 256–511) is [-2^47, 0), as VA_START..VA_END covers in real libDune.
   */
  vmPageWalk(root: number, start: number, end: number, cb: PageWalkCb): void {
    const m = this.mem;
    const walk = (table: number, level: number, base: number, first: number, count: number): boolean => {
      const span = SPAN[level]!;
      for (let k = 0; k < count; k++) {
        const i = (first + k) & 511;
        // PML4 slots 256–511 map the sign-extended upper half.
        const va = level === 4 && i >= 256 ? (i - 512) * span : base + i * span;
        if (va + span <= start || va >= end) continue;
        const e = table + i * 8;
        const lo = m.readEntry(e);
        const hi = m.entHi;
        if ((lo & PTE_P) === 0) continue;
        if (level === 1 || (lo & PTE_PS) !== 0) {
          if (cb(e, va, level) === true) return true;
        } else if (walk(Vm.frameOf(lo, hi), level - 1, va, 0, 512)) {
          return true;
        }
      }
      return false;
    };
    // Upper half first: address order over signed addresses.
    walk(root, 4, 0, 256, 512);
  }

  /**
   * dune_vm_clone: a new root with every leaf of `root` copied verbatim at its own level — a
   * 2 MiB or 1 GiB leaf stays one entry of that size — over the whole canonical address space,
   * upper half included (where the SYSCALL trampoline lives). Pool pages under a leaf get one
   * more reference each. Tables are not shared: changing a mapping in one root leaves the other.
   */
  vmClone(root: number): number {
    const m = this.mem;
    const newRoot = this.pool.pageAlloc();
    this.vmPageWalk(root, VA_START, VA_END, (ptep, va, level) => {
      const lo = m.readEntry(ptep);
      const hi = m.entHi;
      m.writeEntry(this.vmLookupLevel(newRoot, va, level, true), lo, hi);
      this.forEachPoolPage(Vm.frameOf(lo, hi), SPAN[level]!, (pa) => this.pool.pageGet(pa));
    });
    return newRoot;
  }

  /**
   * dune_vm_free: drops the references of every leaf's pool pages and gives the root's tables
   * back to the pool. The root must not be loaded in CR3 of the calling CPU.
   */
  vmFree(cpu: Cpu | undefined, root: number): void {
    if (cpu !== undefined && cpu.cr3 - (cpu.cr3 % PAGE_SIZE) === root) throw new Error(`libdune: dune_vm_free of the root in CR3 (0x${root.toString(16)})`);
    const m = this.mem;
    const free = (table: number, level: number): void => {
      for (let i = 0; i < 512; i++) {
        const lo = m.readEntry(table + i * 8);
        const hi = m.entHi;
        if ((lo & PTE_P) === 0) continue;
        const f = Vm.frameOf(lo, hi);
        if (level === 1 || (lo & PTE_PS) !== 0) this.forEachPoolPage(f, SPAN[level]!, (pa) => this.pool.pagePut(pa));
        else free(f, level - 1);
      }
      this.pool.pagePut(table);
    };
    free(root, 4);
    this.rootPcid.delete(root);
  }

  /** Calls `f` for each pool page of the `span` bytes at `pa`. */
  private forEachPoolPage(pa: number, span: number, f: (pa: number) => void): void {
    if (!this.pool.isFromPool(pa)) return;
    for (let p = pa; p < pa + span && this.pool.isFromPool(p); p += PAGE_SIZE) f(p);
  }

  /**
   * Dirty-page harvest (what Wedge's recycling and a GC's write barrier need): walks [start, end)
   * of `root`, returns the address of every leaf whose D bit is set (a 2 MiB leaf by its first
   * address) and clears D. A TLB entry cached dirty does not set D again after software clears
   * it (SDM Vol. 3A §4.8), so the TLB entries of `root` must go: once, after the walk, not per
   * page, and only when a D bit was cleared. That is a CR3 reload when `root` is loaded, else
   * INVPCID of the PCID it was switched to with, else INVPCID of every non-global context.
   */
  vmHarvestDirty(cpu: Cpu, root: number, start: number, end: number): number[] {
    const m = this.mem;
    const dirty: number[] = [];
    this.vmPageWalk(root, start, end, (ptep, va) => {
      const lo = m.readEntry(ptep);
      if ((lo & PTE_D) === 0) return;
      m.writeEntry(ptep, (lo & ~PTE_D) >>> 0, m.entHi);
      dirty.push(va);
    });
    // Nothing cleared, nothing cached dirty that the next harvest could miss.
    if (dirty.length === 0) return dirty;
    const pcid = this.rootPcid.get(root);
    if (cpu.cr3 - (cpu.cr3 % PAGE_SIZE) === root) this.flushTlb(cpu);
    else if (pcid !== undefined) cpu.invpcid(1, pcid, 0);
    else cpu.invpcid(3, 0, 0);
    return dirty;
  }

  // -----------------------------------------------------------------------------------------
  // TLB and CR3 (guest ring 0 code: real INVLPG, INVPCID and MOV CR3).

  flushTlbOne(cpu: Cpu, va: number): void {
    cpu.invlpg(va);
  }

  flushTlb(cpu: Cpu): void {
    cpu.loadCr3(cpu.cr3);
  }

  /** load_cr3 with a PCID in bits 11:0 and CR3_NOFLUSH (bit 63) as `noFlush`. */
  loadCr3(cpu: Cpu, root: number, pcid = 0, noFlush = false): void {
    cpu.writeCr(3, (root + pcid) >>> 0, (Math.floor(root / TWO_32) | (noFlush ? CR3_NOFLUSH_HI : 0)) >>> 0);
  }

  /**
   * Runs on another page-table root: MOV CR3 with `pcid` in bits 11:0 and, with `noFlush`,
   * CR3_NOFLUSH — the TLB keeps the entries tagged with `pcid` from the last time this root ran
   * (and every other PCID's); without it the CPU drops `pcid`'s entries. `pcid` is 0 (pgroot's)
   * or one from pcidAlloc.
   */
  switchRoot(cpu: Cpu, root: number, pcid: number, noFlush: boolean): void {
    if (root % PAGE_SIZE !== 0 || !this.pool.isFromPool(root)) throw new Error(`libdune: switchRoot to 0x${root.toString(16)}, not a page-table root from the pool`);
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > CR3_PCID_MASK) throw new Error(`libdune: PCID ${pcid} outside 0..${CR3_PCID_MASK}`);
    if (pcid !== 0 && !this.pcids.isAllocated(pcid)) throw new Error(`libdune: PCID ${pcid} was not allocated (pcidAlloc)`);
    this.rootPcid.set(root, pcid);
    this.loadCr3(cpu, root, pcid, noFlush);
  }

  /** A PCID for a root of this process (1..4095; 0 is pgroot's). Throws when none is left. */
  pcidAlloc(): number {
    return this.pcids.alloc();
  }

  /**
   * Gives `pcid` back, dropping its TLB entries first (INVPCID single context) so that the next
   * root tagged with it cannot hit a translation of the last one.
   */
  pcidFree(cpu: Cpu, pcid: number): void {
    if (!this.pcids.isAllocated(pcid)) throw new Error(`libdune: PCID ${pcid} is not allocated`);
    if ((cpu.cr3 & CR3_PCID_MASK) === pcid) throw new Error(`libdune: PCID ${pcid} is the one in CR3`);
    cpu.invpcid(1, pcid, 0);
    this.pcids.release(pcid);
    for (const [r, p] of this.rootPcid) if (p === pcid) this.rootPcid.delete(r);
  }
}
