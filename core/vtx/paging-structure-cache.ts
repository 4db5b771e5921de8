/**
 * Paging-structure caches (SDM Vol. 3A §4.10.3, and for EPT Vol. 3C §29.4): small caches of the
 * upper levels of a walk. An entry for level L maps an address prefix (the bits a level-L table
 * entry translates) to the physical address of the next table, with the access rights gathered
 * so far — so a walk that hits the PDE cache reads only the PTE. Under EPT the guest caches hold
 * host-physical table addresses ("combined" entries), which skips the EPT translations of the
 * guest tables above as well.
 *
 * Levels 4, 3, 2 (PML4E, PDPTE, PDE); each fully associative with round-robin replacement.
 * Entries are tagged by the same context number as the TLB.
 */
export class PagingStructureCache {
  private readonly prefix: Float64Array[] = [];
  private readonly ctx: Int32Array[] = [];
  /** Physical address of the next table (host-physical under EPT: a combined entry). */
  readonly table: Float64Array[] = [];
  /** Guest-physical address of the next table (equal to `table` without EPT). */
  readonly gtable: Float64Array[] = [];
  readonly flags: Int32Array[] = [];
  private readonly next: number[] = [0, 0, 0, 0, 0];
  readonly sizes: number[];

  constructor(sizes: { pml4: number; pdpt: number; pd: number }) {
    this.sizes = [0, 0, sizes.pd, sizes.pdpt, sizes.pml4];
    for (let level = 0; level <= 4; level++) {
      const n = this.sizes[level]!;
      this.prefix.push(new Float64Array(n).fill(NaN));
      this.ctx.push(new Int32Array(n).fill(-1));
      this.table.push(new Float64Array(n));
      this.gtable.push(new Float64Array(n));
      this.flags.push(new Int32Array(n));
    }
  }

  get enabled(): boolean {
    return this.sizes[2]! + this.sizes[3]! + this.sizes[4]! > 0;
  }

  /** Slot of (level, prefix, ctx), or -1. */
  find(level: number, prefix: number, ctx: number): number {
    const p = this.prefix[level]!;
    const c = this.ctx[level]!;
    for (let i = 0; i < p.length; i++) if (p[i] === prefix && c[i] === ctx) return i;
    return -1;
  }

  insert(level: number, prefix: number, ctx: number, table: number, gtable: number, flags: number): void {
    const n = this.sizes[level]!;
    if (n === 0) return;
    let slot = this.find(level, prefix, ctx);
    if (slot < 0) {
      slot = this.next[level]!;
      this.next[level] = (slot + 1) % n;
    }
    this.prefix[level]![slot] = prefix;
    this.ctx[level]![slot] = ctx;
    this.table[level]![slot] = table;
    this.gtable[level]![slot] = gtable;
    this.flags[level]![slot] = flags;
  }

  /** Drops the entries a walk of one address would use: (level, prefix) for levels 2–4, one context. */
  invalidatePrefixes(p2: number, p3: number, p4: number, ctx: number): void {
    const prefixes = [0, 0, p2, p3, p4];
    for (let level = 2; level <= 4; level++) {
      const s = this.find(level, prefixes[level]!, ctx);
      if (s >= 0) {
        this.ctx[level]![s] = -1;
        this.prefix[level]![s] = NaN;
      }
    }
  }

  /** Drops every entry whose context matches. */
  invalidateWhere(match: (ctx: number) => boolean): void {
    for (let level = 2; level <= 4; level++) {
      const c = this.ctx[level]!;
      for (let i = 0; i < c.length; i++) {
        if (c[i] !== -1 && match(c[i]!)) {
          c[i] = -1;
          this.prefix[level]![i] = NaN;
        }
      }
    }
  }
}
