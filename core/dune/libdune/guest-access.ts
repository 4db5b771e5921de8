import { PAGE_SIZE } from '../../vtx/arch.js';
import type { Cpu } from '../../vtx/cpu.js';
import type { Kernel } from '../../linux/kernel.js';
import type { Process } from '../../linux/task.js';

const TWO_32 = 0x1_0000_0000;

/**
 * How libDune reaches its own memory (page tables, the pool, trap frames): before dune_enter the
 * process is in Linux mode and dune_init writes through the host page table (host-side); once
 * inside Dune every access is a guest access through the calling CPU's MMU — EPT-translated,
 * with A/D bits and the TLB, and charged like any guest load or store.
 */
export class GuestAccess {
  /**
   * The CPU whose guest code calls libDune now, or undefined for host-side access. With threads
   * on several CPUs that is the caller's, not the last one to enter (an access through another
   * CPU's MMU would use that CPU's CR3, EPT and TLB).
   */
  cpu: Cpu | undefined;
  /** High half of the last entry read with readEntry (PTEs use bit 63: not a JS number). */
  entHi = 0;
  /** Host frames of pool pages, for the host-side writes of dune_init. */
  private readonly hostFrame = new Map<number, number>();

  constructor(readonly kernel: Kernel, readonly process: Process) {
    // The host frames are a cache of the process's page table: when the kernel changes those
    // PTEs (fork write-protects every page for copy-on-write, munmap, a COW copy), the entries
    // go, so the next host-side access faults the page in again (a write copies a shared page)
    // instead of reading a stale frame or writing one the child still shares.
    process.mm.notifiers.push((start, end) => {
      for (const page of this.hostFrame.keys()) if (page >= start && page < end) this.hostFrame.delete(page);
    });
  }

  /** Reads a 64-bit page-table entry; returns the low half, leaves the high half in entHi. */
  readEntry(va: number): number {
    const c = this.cpu;
    if (c !== undefined) {
      const lo = c.mmu.read64(va);
      this.entHi = c.mmu.hi;
      return lo;
    }
    const mem = this.kernel.machine.mem;
    const pa = this.hostPa(va);
    this.entHi = mem.read32(pa + 4);
    return mem.read32(pa);
  }

  writeEntry(va: number, lo: number, hi: number): void {
    const c = this.cpu;
    if (c !== undefined) return c.mmu.write64(va, lo >>> 0, hi >>> 0);
    this.kernel.machine.mem.write64(this.hostPa(va), lo >>> 0, hi >>> 0);
  }

  read64(va: number): number {
    const c = this.cpu;
    if (c !== undefined) return c.mmu.read64Number(va);
    const pa = this.hostPa(va);
    return (this.kernel.machine.mem.read32(pa + 4) | 0) * TWO_32 + this.kernel.machine.mem.read32(pa);
  }

  write64(va: number, v: number): void {
    const c = this.cpu;
    if (c !== undefined) return c.mmu.write64Number(va, v);
    this.kernel.machine.mem.write64Number(this.hostPa(va), v);
  }

  /** Host-physical address of a pool byte (host side, before entry): faults the page in. */
  hostPa(va: number): number {
    const page = va - (va % PAGE_SIZE);
    let f = this.hostFrame.get(page);
    if (f === undefined) {
      const r = this.kernel.faultIn(undefined, this.process.mm, page, true, false, false);
      if (r !== 0) throw new Error(`libdune: pool page 0x${page.toString(16)} cannot be faulted in (${r})`);
      f = this.process.mm.frameAt(page)!.frame; // a PTE or a 2 MiB PDE
      this.hostFrame.set(page, f);
    }
    return f + (va % PAGE_SIZE);
  }

  /** Runs `f` with host-side memory access (the calling thread is in Linux mode). */
  hostSide<T>(f: () => T): T {
    const c = this.cpu;
    this.cpu = undefined;
    try {
      return f();
    } finally {
      this.cpu = c;
    }
  }
}
