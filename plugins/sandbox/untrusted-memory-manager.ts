import { PAGE_SIZE, PTE_P, PTE_PS } from '../../core/vtx/arch.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { LibDune } from '../../core/dune/libdune.js';
import { PERM_R, PERM_U, PERM_W, PERM_X } from '../../core/dune/dune-abi.js';
import {
  EINVAL, ENOMEM, EPERM, MREMAP_FIXED, MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED, NR,
  PROT_EXEC, PROT_READ, PROT_WRITE,
} from '../../core/linux/linux-abi.js';
import type { Process } from '../../core/linux/task.js';
import { CheckedCall } from './checked-call.js';
import { RegionSet } from './region-set.js';
import { HandlerAction, RuntimeCalls } from './runtime-calls.js';
import { UntrustedWindows } from './untrusted-windows.js';
import { MIRROR_COSTS } from './sandbox-cost-constants.js';

const TWO_32 = 0x1_0000_0000;
const LARGE = 0x20_0000;
const MAP_FIXED_NOREPLACE = 0x10_0000;
const pageUp = (x: number): number => Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
const pageDown = (x: number): number => x - (x % PAGE_SIZE);
const largeUp = (x: number): number => Math.ceil(x / LARGE) * LARGE;
const hex = (x: number): string => '0x' + x.toString(16);


/**
 * The untrusted memory manager (the sandbox's umm.c): brk, mmap, munmap, mprotect, mremap and
 * madvise are made by the kernel (a VMCALL each), and what they did to the process's VMAs is then
 * mirrored into the guest page table with PTE_U, so that ring 3 can use the memory — the kernel
 * maps host memory, but ring 3 sees only what the guest page table gives it. Every range must be
 * the program's: a call that would map over, unmap or re-protect runtime memory is refused with
 * -EPERM, and the memory limit (heap plus mappings) is enforced here, where the sizes are known.
 */
export class UntrustedMemoryManager {
  private readonly maps = new RegionSet();
  /** The mappings made with 2 MiB pages (largePages): a munmap of one is rounded up to 2 MiB. */
  private readonly large = new RegionSet();
  private brkStart = 0;
  private brkCur = 0;
  /** Guest page-table entries written or cleared (for stats). */
  mirrored = 0;

  constructor(
    private readonly lib: LibDune,
    private readonly process: Process,
    private readonly windows: UntrustedWindows,
    private readonly calls: RuntimeCalls,
    private readonly memoryLimit: number | undefined,
    /**
     * Large pages (the paper's "w/ LGPG"): an anonymous private mmap of at least 2 MiB without a
     * hint is asked of the kernel with MAP_HUGETLB (falling back to 4 KiB pages on ENOMEM, as
     * libhugetlbfs does) and mirrored into the guest page table as 2 MiB leaves (PERM_BIG).
     */
    private readonly largePages = false,
  ) {}

  /** Bytes the memory limit counts: the heap above its start and every mapping. */
  get used(): number {
    return this.maps.total + pageUp(this.brkCur) - pageUp(this.brkStart);
  }

  /**
   * At the start (guest ring 0, before the first jump to ring 3): every VMA inside the untrusted
   * windows — the ELF segments, the stack — gets its pages with U and the VMA's permissions.
   */
  mapInitial(cpu: Cpu): void {
    const mm = this.process.mm;
    this.brkStart = mm.startBrk;
    this.brkCur = mm.brk;
    for (const v of mm.vmas.list) {
      if (this.windows.contains(v.start, v.end - v.start)) this.map(cpu, v.start, v.end, v.prot, v.huge !== '');
    }
    this.lib.flushTlb(cpu);
  }

  handle(cpu: Cpu, tf: number, call: CheckedCall): HandlerAction {
    const [a0, a1, a2, a3, a4] = call.args as [number, number, number, number, number, number];
    switch (call.nr) {
      case NR.brk:
        return this.brk(cpu, tf, call, a0);
      case NR.mmap:
        return this.mmap(cpu, tf, call);
      case NR.munmap: {
        // free() of a large-page mapping passes the length it asked for: the kernel wants whole 2 MiB pages.
        const len = this.large.contains(a0) && a0 % LARGE === 0 ? largeUp(a1) : a1;
        return this.range(cpu, tf, call, a0, len, () => {
          this.maps.remove(a0, a0 + pageUp(len));
          this.large.remove(a0, a0 + pageUp(len));
        }, true, len !== a1 ? [a0, len] : undefined);
      }
      case NR.mprotect:
        return this.range(cpu, tf, call, a0, a1, () => {});
      case NR.madvise:
        // MADV_DONTNEED and friends change host pages only; the EPT follows (MMU notifiers).
        return this.range(cpu, tf, call, a0, a1, () => {}, false);
      case NR.mremap:
        return this.mremap(cpu, tf, call, a0, a1, a2, a3, a4);
      default:
        throw new Error(`sandbox: ${call.spec.name} is not a memory call`);
    }
  }

  private overLimit(grow: number): boolean {
    return this.memoryLimit !== undefined && grow > 0 && this.used + grow > this.memoryLimit;
  }

  private limitRule(grow: number): string {
    return `limits.memory ${this.memoryLimit} bytes (${this.used} in use, ${grow} more asked)`;
  }

  private brk(cpu: Cpu, tf: number, call: CheckedCall, addr: number): HandlerAction {
    const cur = this.brkCur;
    if (addr > cur) {
      // A failed brk returns the old break, as Linux does; malloc then falls back to mmap.
      if (addr > this.windows.list[0]!.end) {
        return this.calls.deny(cpu, tf, call, `the heap would grow into runtime memory (the ELF window ends at ${hex(this.windows.list[0]!.end)})`, ENOMEM, cur);
      }
      const grow = pageUp(addr) - pageUp(cur);
      if (this.overLimit(grow)) {
        return this.calls.deny(cpu, tf, call, this.limitRule(grow), ENOMEM, cur);
      }
    }
    return this.calls.kernel(cpu, tf, NR.brk, [addr], (c, r) => {
      if (r !== cur && r > 0) {
        this.mirror(c, pageUp(Math.min(r, cur)), pageUp(Math.max(r, cur)));
        this.brkCur = r;
      }
      this.calls.finish(c, tf, r);
    });
  }

  private mmap(cpu: Cpu, tf: number, call: CheckedCall): HandlerAction {
    const args = [...call.args];
    const [addr, len, , flags] = args as [number, number, number, number];
    if (len <= 0) return this.calls.kernel(cpu, tf, NR.mmap, args, (c, r) => this.calls.finish(c, tf, r)); // -EINVAL from the kernel
    const anonPrivate = (flags & (MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED | MAP_FIXED | MAP_FIXED_NOREPLACE)) === (MAP_ANONYMOUS | MAP_PRIVATE);
    if (this.largePages && anonPrivate && addr === 0 && len >= LARGE && (flags & MAP_HUGETLB) === 0) {
      const big = [...args];
      big[3] = flags | MAP_HUGETLB;
      const size = largeUp(len);
      if (this.overLimit(size)) return this.calls.deny(cpu, tf, call, this.limitRule(size), ENOMEM);
      return this.calls.kernel(cpu, tf, NR.mmap, big, (c, r) => {
        if (r === -ENOMEM) {
          this.mmapSmall(c, tf, call, args); // no 2 MiB frames left: 4 KiB pages
          return;
        }
        if (r >= 0 || r <= -4096) this.large.add(r, r + size);
        this.mapped(c, tf, r, size);
      });
    }
    return this.mmapSmall(cpu, tf, call, args);
  }

  private mmapSmall(cpu: Cpu, tf: number, call: CheckedCall, args: number[]): HandlerAction {
    const [addr, len, , flags] = args as [number, number, number, number];
    const size = pageUp(len);
    if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) {
      if (!this.windows.contains(addr, size)) return this.calls.deny(cpu, tf, call, `[${hex(addr)}, +${size}) is not the program's memory: mmap over the runtime`, EPERM);
    } else if (addr !== 0 && !this.windows.contains(addr, size)) {
      args[0] = 0; // a hint outside the windows is dropped: the kernel picks the place
    }
    if (this.overLimit(size)) return this.calls.deny(cpu, tf, call, this.limitRule(size), ENOMEM);
    return this.calls.kernel(cpu, tf, NR.mmap, args, (c, r) => this.mapped(c, tf, r, size));
  }

  /** After the kernel's mmap: check the place, mirror, return. */
  private mapped(c: Cpu, tf: number, r: number, size: number): void {
    if (r < 0 && r > -4096) {
      this.calls.finish(c, tf, r);
      return;
    }
    if (!this.windows.contains(r, size)) {
      // The kernel found room only outside the windows: take it back.
      this.large.remove(r, r + size);
      this.calls.kernel(c, tf, NR.munmap, [r, size], (c2) => this.calls.finish(c2, tf, -ENOMEM));
      return;
    }
    this.maps.add(r, r + size);
    if (!this.tryMirror(c, r, r + size)) {
      this.maps.remove(r, r + size);
      this.large.remove(r, r + size);
      this.calls.kernel(c, tf, NR.munmap, [r, size], (c2) => this.calls.finish(c2, tf, -ENOMEM));
      return;
    }
    this.calls.finish(c, tf, r);
  }

  /** munmap, mprotect, madvise: a range of the program's, then the kernel, then the mirror. */
  private range(cpu: Cpu, tf: number, call: CheckedCall, addr: number, len: number, after: () => void, mirror = true, args: readonly number[] = call.args): HandlerAction {
    // A size_t of 2^63 or more (negative here) wraps around: never a range of the program's.
    if (len < 0 || (len > 0 && !this.windows.contains(addr, pageUp(len)))) {
      return this.calls.deny(cpu, tf, call, `[${hex(addr)}, +${len}) is not the program's memory: ${call.spec.name} of runtime memory`, EPERM);
    }
    return this.calls.kernel(cpu, tf, call.nr, args, (c, r) => {
      if (r === 0 && len > 0) {
        after();
        if (mirror) this.mirror(c, pageDown(addr), addr + pageUp(len));
      }
      this.calls.finish(c, tf, r);
    });
  }

  private mremap(cpu: Cpu, tf: number, call: CheckedCall, old: number, oldLen: number, newLen: number, flags: number, newAddr: number): HandlerAction {
    if (oldLen < 0 || newLen <= 0) return this.calls.finish(cpu, tf, -EINVAL);
    const oldSize = pageUp(oldLen);
    const newSize = pageUp(newLen);
    if (!this.windows.contains(old, Math.max(oldSize, 1))) return this.calls.deny(cpu, tf, call, `[${hex(old)}, +${oldLen}) is not the program's memory: mremap of runtime memory`, EPERM);
    if ((flags & MREMAP_FIXED) !== 0 && !this.windows.contains(newAddr, newSize)) {
      return this.calls.deny(cpu, tf, call, `[${hex(newAddr)}, +${newLen}) is not the program's memory: mremap over the runtime`, EPERM);
    }
    if (this.overLimit(newSize - oldSize)) return this.calls.deny(cpu, tf, call, this.limitRule(newSize - oldSize), ENOMEM);
    return this.calls.kernel(cpu, tf, NR.mremap, call.args, (c, r) => {
      if (r < 0 && r > -4096) {
        this.calls.finish(c, tf, r);
        return;
      }
      if (!this.windows.contains(r, newSize)) {
        this.calls.kernel(c, tf, NR.munmap, [r, newSize], (c2) => this.calls.finish(c2, tf, -ENOMEM));
        return;
      }
      this.maps.remove(old, old + oldSize);
      this.maps.add(r, r + newSize);
      this.mirror(c, old, old + oldSize);
      if (!this.tryMirror(c, r, r + newSize)) {
        this.maps.remove(r, r + newSize);
        this.calls.kernel(c, tf, NR.munmap, [r, newSize], (c2) => this.calls.finish(c2, tf, -ENOMEM));
        return;
      }
      this.calls.finish(c, tf, r);
    });
  }

  /** mirror, reporting libDune's page pool running dry as false (the caller undoes the mapping). */
  private tryMirror(cpu: Cpu, start: number, end: number): boolean {
    try {
      this.mirror(cpu, start, end);
      return true;
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes('page pool exhausted')) throw e;
      this.mirror(cpu, start, end, true);
      return false;
    }
  }

  /**
   * Makes the guest page table say what the process's VMAs say over [start, end): the pages of
   * a VMA with U and its permissions, every other page absent. A VMA the runtime does not own
   * cannot be inside the windows, so nothing here ever gives ring 3 the runtime's memory.
   */
  mirror(cpu: Cpu, start: number, end: number, clearOnly = false): void {
    const vmas = this.process.mm.vmas;
    let stale = false;
    for (let va = start; va < end; ) {
      const v = clearOnly ? undefined : vmas.find(va);
      if (v === undefined) {
        const next = clearOnly ? end : Math.min(end, vmas.list.find((x) => x.start > va)?.start ?? end);
        stale = this.clear(cpu, va, next) || stale;
        va = next;
        continue;
      }
      const stop = Math.min(end, v.end);
      stale = this.map(cpu, va, stop, v.prot, v.huge !== '') || stale;
      va = stop;
    }
    if (stale) this.lib.flushTlb(cpu);
  }

  /**
   * Maps [start, stop) to its guest-physical pages with U and `prot`; true if a present entry
   * changed. With `large` (a VMA of 2 MiB host pages), each whole, aligned 2 MiB block gets one
   * 2 MiB leaf (PERM_BIG); elsewhere a 2 MiB leaf in the way is split first.
   */
  private map(cpu: Cpu, start: number, stop: number, prot: number, large = false): boolean {
    if ((prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) return this.clear(cpu, start, stop);
    const lib = this.lib;
    const perm = PERM_U | PERM_R | ((prot & PROT_WRITE) !== 0 ? PERM_W : 0) | ((prot & PROT_EXEC) !== 0 ? PERM_X : 0);
    const bits = LibDune.ptePerm(perm);
    const ins = cpu.costs.instruction;
    let stale = false;
    for (let va = start; va < stop; ) {
      const chunkEnd = Math.min(stop, va - (va % LARGE) + LARGE);
      const gpa0 = lib.layout.hvaToGpa(va);
      if (large && va % LARGE === 0 && chunkEnd === va + LARGE && gpa0 % LARGE === 0) {
        const pde = lib.vmLookupLevel(lib.pgroot, va, 2, false);
        if (pde >= 0 && (lib.readEntry(pde) & PTE_P) !== 0) stale = true;
        lib.vmMapBig(lib.pgroot, va, gpa0, perm);
        this.mirrored++;
        cpu.charge((MIRROR_COSTS.perTable + MIRROR_COSTS.perEntry) * ins);
        va = chunkEnd;
        continue;
      }
      if (this.largePages && lib.vmSplitBig(lib.pgroot, va)) {
        cpu.charge((MIRROR_COSTS.perTable + 512 * MIRROR_COSTS.perEntry) * ins);
        stale = true;
      }
      // One walk per page table, then its entries in a row (as dune_vm_map_phys does).
      let e = lib.vmLookup(lib.pgroot, va, true);
      cpu.charge(MIRROR_COSTS.perTable * ins);
      for (; va < chunkEnd; va += PAGE_SIZE, e += 8) {
        const gpa = lib.layout.hvaToGpa(va);
        const old = lib.readEntry(e);
        if ((old & PTE_P) !== 0) stale = true;
        lib.writeEntry(e, ((gpa % TWO_32) | bits.lo) >>> 0, (Math.floor(gpa / TWO_32) | bits.hi) >>> 0);
        this.mirrored++;
        cpu.charge(MIRROR_COSTS.perEntry * ins);
      }
    }
    return stale;
  }

  /** Clears the entries of [start, stop); true if one was present. */
  private clear(cpu: Cpu, start: number, stop: number): boolean {
    const lib = this.lib;
    const ins = cpu.costs.instruction;
    let stale = false;
    for (let va = start; va < stop; ) {
      const chunkEnd = Math.min(stop, va - (va % LARGE) + LARGE);
      // A 2 MiB leaf: cleared whole when the block is, else split first.
      const pde = this.largePages ? lib.vmLookupLevel(lib.pgroot, va, 2, false) : -1;
      if (pde >= 0 && (lib.readEntry(pde) & (PTE_P | PTE_PS)) === (PTE_P | PTE_PS)) {
        stale = true;
        if (va % LARGE === 0 && chunkEnd === va + LARGE) {
          lib.writeEntry(pde, 0, 0);
          this.mirrored++;
          cpu.charge((MIRROR_COSTS.perTable + MIRROR_COSTS.perEntry) * ins);
          va = chunkEnd;
          continue;
        }
        lib.vmSplitBig(lib.pgroot, va);
        cpu.charge((MIRROR_COSTS.perTable + 512 * MIRROR_COSTS.perEntry) * ins);
      }
      let e = lib.vmLookup(lib.pgroot, va, false);
      cpu.charge(MIRROR_COSTS.perTable * ins);
      if (e < 0) {
        va = chunkEnd; // no page table here: nothing mapped
        continue;
      }
      for (; va < chunkEnd; va += PAGE_SIZE, e += 8) {
        const old = lib.readEntry(e);
        if (old === 0) continue;
        if ((old & PTE_P) !== 0) stale = true;
        lib.writeEntry(e, 0, 0);
        this.mirrored++;
        cpu.charge(MIRROR_COSTS.perEntry * ins);
      }
    }
    return stale;
  }
}
