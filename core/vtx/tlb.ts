/**
 * The translation lookaside buffer: a real, set-associative cache of translations that can go
 * stale. Entries are tagged by a context number `ctx = eptId << 28 | vpid << 12 | pcid`
 * (SDM Vol. 3C §29.4: linear mappings by VPID and PCID, combined mappings also by the EPT root),
 * so PCID and VPID switches keep other contexts' entries.
 *
 * An entry caches the permissions the access may use, folded into one byte (`ACC_*` bits). Write
 * permission is cached only once the leaf's D bit is known to be set, so the first write through
 * a read-filled entry misses and the walker sets D; after that, writes hit and never touch the
 * PTE again — which is why software that clears D must flush (the GC and Wedge depend on it).
 *
 * Two arrays of sets: one for 4 KiB pages and one for 2 MiB pages (1 GiB leaves are cached as
 * 2 MiB fragments, which SDM §4.10.2.3 permits). Entry data are typed arrays, no objects.
 */

/** Access-permission bits of an entry: what access kinds in which mode the entry allows. */
export const ACC_READ_SUP = 1 << 0;
export const ACC_WRITE_SUP = 1 << 1;
export const ACC_EXEC_SUP = 1 << 2;
export const ACC_READ_USER = 1 << 3;
export const ACC_WRITE_USER = 1 << 4;
export const ACC_EXEC_USER = 1 << 5;

export const enum AccessKind {
  Read = 0,
  Write = 1,
  Execute = 2,
}

/** The permission bit an access needs: kind 0..2, shifted by 3 for CPL 3. */
export function accessBit(kind: AccessKind, user: boolean): number {
  return 1 << (kind + (user ? 3 : 0));
}

export class TlbArray {
  readonly entries: number;
  readonly ways: number;
  readonly setMask: number;
  /** Virtual page number at this array's page size (va / pageSize); NaN when invalid. */
  readonly vpn: Float64Array;
  /** Context tag; -1 when invalid. */
  readonly ctx: Int32Array;
  readonly perm: Uint8Array;
  readonly global: Uint8Array;
  /** Host-physical address of the page's first byte. */
  readonly host: Float64Array;
  /** Round-robin replacement pointer per set. */
  private readonly victim: Uint8Array;
  valid = 0;

  constructor(entries: number, ways: number, readonly pageShift: number) {
    this.entries = entries;
    this.ways = ways;
    const sets = entries / ways;
    this.setMask = sets - 1;
    this.vpn = new Float64Array(entries).fill(NaN);
    this.ctx = new Int32Array(entries).fill(-1);
    this.perm = new Uint8Array(entries);
    this.global = new Uint8Array(entries);
    this.host = new Float64Array(entries);
    this.victim = new Uint8Array(sets);
  }

  /** Index of the first way of the set that `vpn` maps to. Hashing the VPID spreads guests. */
  setBase(vpn: number, ctx: number): number {
    return ((vpn ^ ((ctx >>> 12) * 0x9e5)) & this.setMask) * this.ways;
  }

  /** The slot holding (vpn, ctx), or -1. */
  find(vpn: number, ctx: number): number {
    const base = this.setBase(vpn, ctx);
    for (let i = base, end = base + this.ways; i < end; i++) {
      if (this.vpn[i] === vpn && this.ctx[i] === ctx) return i;
    }
    return -1;
  }

  /** Page number of the entry the last `insert` evicted. */
  evictedVpn = NaN;

  /** Fills an entry; returns true when a valid entry of another page was evicted. */
  insert(vpn: number, ctx: number, perm: number, host: number, global: boolean): boolean {
    const base = this.setBase(vpn, ctx);
    let slot = -1;
    let evicted = false;
    for (let i = base, end = base + this.ways; i < end; i++) {
      if (this.vpn[i] === vpn && this.ctx[i] === ctx) {
        // Refilled in place (e.g. re-walked to set D): the old translation goes.
        slot = i;
        this.evictedVpn = vpn;
        evicted = true;
        break;
      }
      if (slot < 0 && this.ctx[i] === -1) slot = i;
    }
    if (slot < 0) {
      const set = base / this.ways;
      slot = base + this.victim[set]!;
      this.victim[set] = (this.victim[set]! + 1) % this.ways;
      this.evictedVpn = this.vpn[slot]!;
      evicted = true;
    } else if (this.ctx[slot] === -1) {
      this.valid++;
    }
    this.vpn[slot] = vpn;
    this.ctx[slot] = ctx;
    this.perm[slot] = perm;
    this.host[slot] = host;
    this.global[slot] = global ? 1 : 0;
    return evicted;
  }

  invalidateSlot(i: number): void {
    if (this.ctx[i] !== -1) {
      this.ctx[i] = -1;
      this.vpn[i] = NaN;
      this.valid--;
    }
  }

  /**
   * Invalidates entries for one page: those of `ctx`, and global ones of the same VPID/EPT
   * context whatever their PCID (INVLPG semantics, SDM §4.10.4.1).
   */
  invalidatePage(vpn: number, ctx: number): number {
    let n = 0;
    const noPcid = ctx & ~0xfff;
    // Entries of other PCIDs live in sets chosen by the same VPID hash, so one set holds them all.
    const base = this.setBase(vpn, ctx);
    for (let i = base, end = base + this.ways; i < end; i++) {
      if (this.vpn[i] !== vpn) continue;
      const c = this.ctx[i]!;
      if (c === ctx || (this.global[i] === 1 && (c & ~0xfff) === noPcid)) {
        this.invalidateSlot(i);
        n++;
      }
    }
    return n;
  }

  /** Invalidates every entry for which `match(ctx, global)` holds; returns how many. */
  invalidateWhere(match: (ctx: number, global: boolean) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) {
      const c = this.ctx[i]!;
      if (c !== -1 && match(c, this.global[i] === 1)) {
        this.invalidateSlot(i);
        n++;
      }
    }
    return n;
  }
}
