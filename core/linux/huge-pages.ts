import { LARGE_PAGE_SIZE, PAGE_SIZE, PTE_P } from '../vtx/arch.js';
import type { Cpu } from '../vtx/cpu.js';
import { OutOfMemoryError } from '../vtx/frame-allocator.js';
import type { AddressSpace } from './address-space.js';
import type { Kernel } from './kernel.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED } from './linux-abi.js';
import type { Vma } from './vma.js';

/**
 * 2 MiB pages in the Linux model (SDM Vol. 3A §4.5: a PDE with PS=1 maps a 2 MiB page; one TLB
 * entry covers it, §4.10.2). Two ways in:
 *
 * - **MAP_HUGETLB** (hugetlbfs semantics, mm/hugetlb.c): the length is rounded up to 2 MiB, the
 *   range is 2 MiB aligned, mmap fails with ENOMEM when the frame allocator cannot give that many
 *   contiguous, aligned 2 MiB frames (a reservation check: the model does not keep a reserved
 *   pool, the frames are taken at the first touch). munmap and mprotect must be 2 MiB aligned in
 *   address and length (EINVAL otherwise, as mmap(2) says), mremap is EINVAL. `Vma.huge = 'hugetlb'`.
 * - **libhugetlbfs-like backing** (`AddressSpace.hugeMmap`, `dunesim exec --huge-pages`): an
 *   anonymous private mmap of at least 2 MiB, without MAP_FIXED or a hint, is placed on a 2 MiB
 *   boundary, its length rounded up to whole 2 MiB pages (libhugetlbfs hands out whole huge
 *   pages), and backed by 2 MiB pages — without the program asking, as libhugetlbfs does for
 *   malloc's large allocations. `Vma.huge = 'auto'`: the VMA keeps 4 KiB semantics, so a partial
 *   munmap / mprotect / madvise splits the 2 MiB leaf into 512 PTEs first (split_huge_pmd), as
 *   transparent huge pages do. The heap (brk) is not backed: musl's malloc takes large blocks
 *   with mmap, and those are the ones that matter.
 *
 * Either way a not-present fault in a 2 MiB block that lies wholly inside the VMA, with no page
 * table under its PDE, takes 512 contiguous frames aligned to 2 MiB and writes one PS=1 PDE.
 * fork splits the parent's 2 MiB leaves before sharing the pages copy-on-write (a simplification:
 * Linux shares the huge page itself).
 */
export type HugeKind = '' | 'hugetlb' | 'auto';

export const HPAGE = LARGE_PAGE_SIZE;
const FRAMES_PER_HPAGE = HPAGE / PAGE_SIZE;

export const hugeUp = (n: number): number => Math.ceil(n / HPAGE) * HPAGE;

/** How an mmap call is backed: 2 MiB pages by request (hugetlb), by the process's option (auto), or not. */
export function hugeKindOf(mm: AddressSpace, addr: number, len: number, flags: number): HugeKind {
  if ((flags & MAP_HUGETLB) !== 0) return 'hugetlb';
  if (!mm.hugeMmap || len < HPAGE || addr !== 0) return '';
  if ((flags & (MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED | MAP_FIXED)) !== (MAP_ANONYMOUS | MAP_PRIVATE)) return '';
  return 'auto';
}

/** Whether `count` 2 MiB pages could be allocated now (the hugetlb reservation check). */
export function canReserve(k: Kernel, count: number): boolean {
  return k.machine.frames.canAllocContiguous(count * FRAMES_PER_HPAGE, FRAMES_PER_HPAGE);
}

/** A hugetlb VMA that [start, end) cuts inside a 2 MiB page: munmap / mprotect refuse it (EINVAL). */
export function cutsHugetlb(mm: AddressSpace, start: number, end: number): boolean {
  if (start % HPAGE === 0 && end % HPAGE === 0) return false;
  return mm.vmas.list.some((v) => v.huge === 'hugetlb' && v.start < end && start < v.end);
}

/** Splits every 2 MiB leaf in [start, end) (before code that works on 4 KiB PTEs: fork, mremap). */
export function splitHugeRange(mm: AddressSpace, start: number, end: number): void {
  for (let b = start - (start % HPAGE); b < end; b += HPAGE) mm.splitHuge(b);
}

/**
 * The 2 MiB part of handle_mm_fault (hugetlb_fault / do_huge_pmd_anonymous_page). Returns 0 when
 * the fault is resolved with a 2 MiB leaf (new, spurious, or a PROT_NONE one made accessible), -1
 * when the 4 KiB path must handle it (the block sticks out of the VMA, a page table is already
 * there, or no aligned 2 MiB of frames is left for an 'auto' VMA), or a SIGBUS/SIGSEGV code.
 */
export function hugeFault(k: Kernel, cpu: Cpu | undefined, mm: AddressSpace, vma: Vma, addr: number): number {
  const block = addr - (addr % HPAGE);
  const h = mm.hugePde(addr);
  if (h !== undefined) {
    // Present: spurious (a stale TLB entry; permissions were checked on the VMA, and a 2 MiB
    // leaf is never copy-on-write). PROT_NONE whose VMA now allows access: rewrite the flags.
    if ((h.lo & PTE_P) === 0) mm.changeProtection(block, block + HPAGE, vma);
    return 0;
  }
  if (block < vma.start || block + HPAGE > vma.end) return -1;
  const pde = mm.pt.entryAddress(block, 2, false);
  if (pde >= 0 && (mm.mem.read32(pde) & PTE_P) !== 0) return -1; // 4 KiB pages are already there
  let frame: number;
  try {
    frame = k.machine.frames.allocContiguous(FRAMES_PER_HPAGE, FRAMES_PER_HPAGE);
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e;
    if (vma.huge === 'hugetlb') throw e; // no page in the pool: the OOM path (SIGKILL) of the caller
    return -1;
  }
  mm.mapHuge(block, frame, vma);
  k.machine.stats.v[hugeLeafSlot(k)]++;
  // clear_huge_page: the 4 KiB path's allocation and zeroing, once per 4 KiB of the page (the
  // model has no separate zeroing cost; the per-page path is what one 4 KiB page costs).
  if (cpu) cpu.cycles += FRAMES_PER_HPAGE * k.costs.pageAllocPath;
  return 0;
}

/** The counter of 2 MiB leaves written into process page tables. */
export function hugeLeafSlot(k: Kernel): number {
  return k.machine.stats.counter('linux.hugeLeaves', 'count', '2 MiB leaves (PS=1 PDEs) written into process page tables by the fault path');
}
