import { PAGE_SIZE, PTE_P, PTE_PCD, PTE_PWT, PTE_W } from '../vtx/arch.js';
import type { Kernel } from './kernel.js';

/** VMALLOC_START of x86-64 Linux with 4-level paging, 0xffffc90000000000 (as a signed number). */
export const VMALLOC_START = -0x3700_0000_0000;
/** VMALLOC_END: the vmalloc area is 32 TiB. */
const VMALLOC_END = VMALLOC_START + 0x2000_0000_0000;

const cursors = new WeakMap<Kernel, number>();

/**
 * ioremap_nocache: maps `size` bytes of device memory at physical `pa` into the vmalloc area,
 * uncached (PCD | PWT), in the kernel's page tables; returns the linear address. Every address
 * space shares the kernel half by copying its PML4 entries when it is made (pgd_alloc), so an
 * entry the mapping creates now is copied into the live address spaces too (sync_global_pgds).
 * Each mapping is followed by an unmapped guard page, as vmalloc leaves one.
 */
export function ioremap(k: Kernel, pa: number, size: number): number {
  if (!Number.isSafeInteger(pa) || pa < 0 || pa % PAGE_SIZE !== 0) throw new RangeError(`ioremap: physical address ${pa} is not page aligned`);
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`ioremap: size ${size}`);
  if (pa < k.machine.mem.size) throw new RangeError(`ioremap: 0x${pa.toString(16)} is RAM, not device memory`);
  const pages = Math.ceil(size / PAGE_SIZE);
  const va = cursors.get(k) ?? VMALLOC_START;
  if (va + (pages + 1) * PAGE_SIZE > VMALLOC_END) throw new RangeError('ioremap: vmalloc area exhausted');
  cursors.set(k, va + (pages + 1) * PAGE_SIZE);
  const pt = k.boot.pt;
  for (let i = 0; i < pages; i++) pt.map(va + i * PAGE_SIZE, pa + i * PAGE_SIZE, PTE_P | PTE_W | PTE_PCD | PTE_PWT);
  syncKernelPml4(k, va, pages * PAGE_SIZE);
  return va;
}

/** Copies the kernel's PML4 entries for [va, va + len) into every live address space. */
function syncKernelPml4(k: Kernel, va: number, len: number): void {
  const mem = k.machine.mem;
  const root = k.boot.pt.root;
  const first = Math.floor(va / 2 ** 39) & 511;
  const last = Math.floor((va + len - 1) / 2 ** 39) & 511;
  for (const p of k.processes.values()) {
    if (p.zombie) continue; // its page tables are gone (exit_mmap)
    const cr3 = p.mm.cr3;
    for (let i = first; i <= last; i++) {
      mem.write64(cr3 + i * 8, mem.read32(root + i * 8), mem.read32(root + i * 8 + 4));
    }
  }
}
