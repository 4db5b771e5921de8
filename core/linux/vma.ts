import type { HugeKind } from './huge-pages.js';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from './linux-abi.js';

/** A virtual memory area (mm/mmap.c's vm_area_struct): [start, end) with protection and flags. */
export class Vma {
  /** Backed by 2 MiB pages: 'hugetlb' (MAP_HUGETLB) or 'auto' (libhugetlbfs-like); huge-pages.ts. */
  huge: HugeKind = '';
  /**
   * For a private file mapping (an ELF image mapped by execve): fills a new frame with the file's
   * bytes for the page at `va` when it is first touched, as filemap_fault reads the page cache
   * (the model copies at once instead of sharing the cached page until a write). Undefined: an
   * anonymous page, zero-filled.
   */
  fill: ((frame: number, va: number) => void) | undefined;

  constructor(
    public start: number,
    public end: number,
    public prot: number,
    /** MAP_* flags it was created with (MAP_SHARED, MAP_ANONYMOUS, MAP_GROWSDOWN …). */
    public flags: number,
    /** What it is, for /proc/self/maps-style listings: '[heap]', '[stack]', a path, or ''. */
    public name = '',
  ) {}

  get readable(): boolean {
    return (this.prot & PROT_READ) !== 0;
  }

  get writable(): boolean {
    return (this.prot & PROT_WRITE) !== 0;
  }

  get executable(): boolean {
    return (this.prot & PROT_EXEC) !== 0;
  }

  contains(va: number): boolean {
    return va >= this.start && va < this.end;
  }

  clone(): Vma {
    const v = new Vma(this.start, this.end, this.prot, this.flags, this.name);
    v.huge = this.huge;
    v.fill = this.fill;
    return v;
  }
}

/**
 * The sorted, non-overlapping list of a process's VMAs, with the split/merge operations mmap,
 * munmap and mprotect need. A sorted array and binary search: processes have tens of VMAs.
 */
export class VmaList {
  readonly list: Vma[] = [];

  find(va: number): Vma | undefined {
    const l = this.list;
    let lo = 0;
    let hi = l.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = l[mid]!;
      if (va < v.start) hi = mid - 1;
      else if (va >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /** Whether any VMA intersects [start, end). */
  overlaps(start: number, end: number): boolean {
    return this.list.some((v) => v.start < end && start < v.end);
  }

  insert(v: Vma): void {
    let i = 0;
    while (i < this.list.length && this.list[i]!.start < v.start) i++;
    this.list.splice(i, 0, v);
  }

  /** Splits VMAs so that `start` and `end` fall on VMA boundaries; returns the VMAs inside. */
  carve(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    const next: Vma[] = [];
    for (const v of this.list) {
      if (v.end <= start || v.start >= end) {
        next.push(v);
        continue;
      }
      if (v.start < start) {
        const left = v.clone();
        left.end = start;
        next.push(left);
      }
      const mid = v.clone();
      mid.start = Math.max(v.start, start);
      mid.end = Math.min(v.end, end);
      next.push(mid);
      out.push(mid);
      if (v.end > end) {
        const right = v.clone();
        right.start = end;
        next.push(right);
      }
    }
    this.list.length = 0;
    this.list.push(...next);
    return out;
  }

  remove(start: number, end: number): Vma[] {
    const inside = this.carve(start, end);
    const keep = this.list.filter((v) => !inside.includes(v));
    this.list.length = 0;
    this.list.push(...keep);
    return inside;
  }

  /**
   * Lowest gap of `len` bytes below `top` (top-down allocation, as mm/mmap.c does), starting on a
   * multiple of `align` (2 MiB for huge pages, as hugetlb_get_unmapped_area asks).
   */
  findGapBelow(top: number, len: number, floor: number, align = 1): number {
    const down = (x: number): number => x - (((x % align) + align) % align);
    let candidate = down(top - len);
    for (let i = this.list.length - 1; i >= 0; i--) {
      const v = this.list[i]!;
      if (v.start >= candidate + len) continue;
      if (v.end <= candidate) break;
      candidate = down(v.start - len);
    }
    return candidate >= floor ? candidate : -1;
  }
}
