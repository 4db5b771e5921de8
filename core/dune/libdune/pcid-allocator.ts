import { CR3_PCID_MASK } from '../../vtx/arch.js';

/**
 * Process-context identifiers for the page-table roots of one process (SDM Vol. 3A §4.10.1):
 * 12 bits in CR3, so 4095 tags besides PCID 0, which stays reserved for the root dune_enter
 * loads (pgroot) — handing it to a second root would let the two share TLB entries.
 */
export class PcidAllocator {
  /** Next never-used PCID, then the free list. */
  private next = 1;
  private readonly free: number[] = [];
  private readonly used = new Set<number>();

  constructor(parent?: PcidAllocator) {
    if (parent !== undefined) {
      this.next = parent.next;
      this.free.push(...parent.free);
      for (const p of parent.used) this.used.add(p);
    }
  }

  /** A PCID no other root holds; throws when all 4095 are taken. */
  alloc(): number {
    let p = this.free.pop();
    if (p === undefined) {
      if (this.next > CR3_PCID_MASK) throw new Error(`libdune: out of PCIDs (all ${CR3_PCID_MASK} in use)`);
      p = this.next++;
    }
    this.used.add(p);
    return p;
  }

  /** Gives `pcid` back. The caller flushes its TLB entries before another root gets it. */
  release(pcid: number): void {
    if (!this.used.delete(pcid)) throw new Error(`libdune: PCID ${pcid} is not allocated`);
    this.free.push(pcid);
  }

  isAllocated(pcid: number): boolean {
    return this.used.has(pcid);
  }
}
