import { PAGE_SIZE } from '../../vtx/arch.js';
import type { GuestAccess } from './guest-access.js';

/** libdune's page pool base. HEAD puts it at 8 GiB; with the paper's 4 GB identity window it must lie below 4 GiB. */
export const PAGEBASE = 0xc000_0000;
/** A 2 MiB page (PERM_BIG). */
export const BIG = 0x20_0000;

/**
 * libDune's page pool (page.c): pages at PAGEBASE, mapped PA == VA in the guest (the identity
 * window), refcounted so that dune_vm_clone can share them and dune_vm_unmap give them back.
 * Page-table pages come from here, which is what lets the walks use a table's address as is.
 */
export class PagePool {
  next = PAGEBASE;
  private readonly free: number[] = [];
  private readonly refs = new Map<number, number>();

  /** `parent`: fork — the child's memory is a copy of the parent's, and the pool's state with it. */
  constructor(private readonly mem: GuestAccess, readonly limit: number, parent?: PagePool) {
    if (parent !== undefined) {
      this.next = parent.next;
      this.free.push(...parent.free);
      for (const [pa, n] of parent.refs) this.refs.set(pa, n);
    }
  }

  /** dune_page_alloc: a zeroed page with one reference. */
  pageAlloc(): number {
    const pa = this.free.pop() ?? this.next;
    if (pa === this.next) {
      if (this.next >= this.limit) throw new Error('libdune: page pool exhausted');
      this.next += PAGE_SIZE;
    }
    this.refs.set(pa, 1);
    for (let o = 0; o < PAGE_SIZE; o += 8) this.mem.write64(pa + o, 0);
    return pa;
  }

  /** Pool pages not handed out yet (free list and the untouched rest). */
  pagesLeft(): number {
    return this.free.length + (this.limit - this.next) / PAGE_SIZE;
  }

  /** 512 contiguous pool pages on a 2 MiB boundary (for dune_vm_map_pages with PERM_BIG). */
  pageAllocBig(): number {
    const start = Math.ceil(this.next / BIG) * BIG;
    if (start + BIG > this.limit) throw new Error('libdune: page pool exhausted');
    for (let pa = this.next; pa < start; pa += PAGE_SIZE) this.free.push(pa);
    this.next = start + BIG;
    for (let pa = start; pa < start + BIG; pa += PAGE_SIZE) {
      this.refs.set(pa, 1);
      for (let o = 0; o < PAGE_SIZE; o += 8) this.mem.write64(pa + o, 0);
    }
    return start;
  }

  /**
   * dune_page_get. A pool page nobody allocated (the identity window maps the whole pool, so
   * dune_vm_clone meets them) takes no reference: counting it would hand it out twice later,
   * once from the free list and once from `next`.
   */
  pageGet(pa: number): void {
    const r = this.refs.get(pa);
    if (r !== undefined) this.refs.set(pa, r + 1);
  }

  /** dune_page_put: the page is free again when the last reference goes; a free page stays as it is. */
  pagePut(pa: number): void {
    const r = this.refs.get(pa);
    if (r === undefined) return;
    if (r <= 1) {
      this.refs.delete(pa);
      this.free.push(pa);
    } else {
      this.refs.set(pa, r - 1);
    }
  }

  /** The references a page holds (0 when free). */
  refsOf(pa: number): number {
    return this.refs.get(pa) ?? 0;
  }

  /** dune_page_isfrompool. */
  isFromPool(pa: number): boolean {
    return pa >= PAGEBASE && pa < this.limit;
  }
}
