import {
  CANONICAL_LIMIT,
  CR0_PG, CR0_WP, CR4_PCIDE, CR4_PGE, CR4_SMEP, EFER_NXE, EPT_A, EPT_D, EPT_PS, EPT_QUAL_EXECUTABLE, EPT_QUAL_FETCH,
  EPT_QUAL_GLA_TRANSLATED, EPT_QUAL_GLA_VALID, EPT_QUAL_READ, EPT_QUAL_READABLE, EPT_QUAL_WRITABLE,
  EPT_QUAL_WRITE, EPT_R, EPT_W, EPT_X, FEC_I, FEC_P, FEC_RSV, FEC_U, FEC_W, PTE_A, PTE_ADDR_HI,
  PTE_ADDR_LO, PTE_D, PTE_G, PTE_NX_HI, PTE_P, PTE_PS, PTE_U, PTE_W, Vector,
} from './arch.js';
import { CpuFault } from './cpu-fault.js';
import { PagingStructureCache } from './paging-structure-cache.js';
import { PhysicalMemory } from './physical-memory.js';
import { Stats } from '../stats.js';
import {
  ACC_EXEC_SUP, ACC_EXEC_USER, ACC_READ_SUP, ACC_READ_USER, ACC_WRITE_SUP, ACC_WRITE_USER,
  AccessKind, TlbArray, accessBit,
} from './tlb.js';

const TWO_32 = 0x1_0000_0000;
const LARGE_SHIFT = 21;
const LARGE = 1 << LARGE_SHIFT;
const L0_SIZE = 256;
/** 2^shift for the shifts a walk uses (a table: `2 ** x` with a variable x is a pow call). */
const SCALE: number[] = [];
for (let i = 0; i <= 48; i++) SCALE.push(2 ** i);
const L0_MASK = L0_SIZE - 1;

/** What the MMU needs from its CPU: paging registers, the VMX context, the clock. */
export interface MmuHost {
  cr0: number;
  cr4: number;
  efer: number;
  /** CR3 without the PCID bits: the physical (or guest-physical) address of the PML4. */
  cr3Base: number;
  cycles: number;
  /** VMX non-root operation with the "enable EPT" control set. */
  eptActive: boolean;
  /** Host-physical address of the EPT PML4 (from the EPTP). */
  eptRoot: number;
  /** EPTP bit 6: the processor sets EPT accessed and dirty flags. */
  eptAd: boolean;
  readonly fault: CpuFault;
  /** Small id of the current EPT root (tags combined and EPT paging-structure-cache entries). */
  eptId: number;
  /** Called on an EPT violation; returns when the VMM resumed the guest (or throws VmxStop). */
  eptViolation(qualification: number, gpa: number, gla: number, glaValid: boolean): void;
  /** Called on an EPT misconfiguration; returns when the VMM resumed the guest. */
  eptMisconfig(gpa: number): void;
}

export interface MmuConfig {
  entries4k: number;
  ways4k: number;
  entriesLarge: number;
  waysLarge: number;
  /** MAXPHYADDR: physical-address width (36 on the Dune paper's Xeon E3-1230 v2). */
  physBits: number;
  /** Cycles per page-walk memory reference. */
  walkRef: number;
  /** Cycles of a load from, and of a store to, a physical address outside RAM (a device register). */
  mmioRead?: number;
  mmioWrite?: number;
  /** Entries of the paging-structure caches (0 disables them); EPT gets caches of the same size. */
  psc?: { pml4: number; pdpt: number; pd: number };
}

/** Result of a side-effect-free walk, for debuggers, tests and traces. */
export interface WalkInfo {
  ok: boolean;
  /** Host-physical address (after EPT when active), or -1. */
  pa: number;
  /** Page size of the guest leaf, in bytes. */
  pageSize: number;
  /** Raw leaf entry halves. */
  leafLo: number;
  leafHi: number;
  /** Physical address of the leaf entry. */
  leafPa: number;
  level: number;
}

/**
 * The memory-management unit of one CPU: x86-64 4-level paging (SDM Vol. 3A ch. 4), the TLB, and
 * the EPT second dimension (SDM Vol. 3C ch. 29) when the CPU runs a guest.
 *
 * Hot path: an access first checks a one-entry cache per access kind (the last TLB entry used,
 * valid only for the current mode and context), then the set-associative TLB, then walks. Every
 * page-walk memory reference is counted and charged `walkRef` cycles; A and D bits are written
 * into the page-table bytes in emulated memory by the walker.
 *
 * 64-bit values travel as two 32-bit halves: `read64` returns the low half and leaves the high
 * half in `hi`.
 */
export class Mmu {
  readonly tlb: TlbArray;
  readonly tlbLarge: TlbArray;
  /** Paging-structure caches of linear (or, under EPT, combined) walks, and of EPT walks. */
  readonly psc: PagingStructureCache;
  readonly eptPsc: PagingStructureCache;
  /** High half of the last 64-bit read. */
  hi = 0;
  /** Current TLB context tag (eptId << 28 | vpid << 12 | pcid). */
  ctx = 0;
  /** CPL 3: accesses are user-mode accesses. */
  user = false;
  /**
   * Frames holding decoded instructions (set by the interpreter's code cache, one flag per 4 KiB
   * frame): writes to them skip the L0 cache and call `onCodeWrite` with the host address.
   */
  codeFrames: Uint8Array | null = null;
  onCodeWrite: ((pa: number) => void) | null = null;

  /**
   * The hit path: a direct-mapped cache in front of the set-associative TLB, one table per access
   * kind and mode, indexed by bits 12.. of the address and tagged by the page's linear address.
   * It only ever holds translations the TLB holds for the current context (entries leave it when
   * they leave the TLB, and it is cleared on a context switch), so it changes speed, never what
   * the model translates.
   */
  // Entries [0, L0_SIZE) serve supervisor accesses, [L0_SIZE, 2·L0_SIZE) user accesses; `l0Mode`
  // selects the half. The arrays are never reassigned, so the block translator (core/vtx/jit)
  // binds them once and inlines the hit test; only the MMU writes them.
  readonly rTag = new Float64Array(2 * L0_SIZE).fill(NaN);
  readonly wTag = new Float64Array(2 * L0_SIZE).fill(NaN);
  readonly xTag = new Float64Array(2 * L0_SIZE).fill(NaN);
  /** Host page of each entry as a 32-bit word index (host address / 4). */
  readonly rHostW = new Int32Array(2 * L0_SIZE);
  readonly wHostW = new Int32Array(2 * L0_SIZE);
  readonly xHostW = new Int32Array(2 * L0_SIZE);
  /** 0 (supervisor) or L0_SIZE (user): the half of the L0 tables the current mode uses. Read-only outside. */
  l0Mode = 0;

  private readonly u32: Uint32Array;
  private readonly u16: Uint16Array;
  private readonly dv: DataView;
  private readonly u8: Uint8Array;
  private readonly sv: Float64Array;
  /** Mask of reserved physical-address bits in the high half of an entry (bits 51:MAXPHYADDR). */
  private readonly rsvdHi: number;

  // Counter slots.
  private readonly sHits: number;
  private readonly sMisses: number;
  private readonly sWalks: number;
  private readonly sWalks2d: number;
  private readonly sRefs: number;
  private readonly sGuestRefs: number;
  private readonly sEptRefs: number;
  private readonly sFlushes: number;
  private readonly sInvalidated: number;
  private readonly sEptViolations: number;
  private readonly sPageFaults: number;
  private readonly sPscHits: number;

  /** Table indices of the address being walked, by level (1..4): scratch, no allocation. */
  private readonly walkIdx = new Int32Array(5);
  private readonly walkPrefix = new Float64Array(5);
  private readonly eptPrefix = new Float64Array(5);
  private readonly eptIdx = new Int32Array(5);

  // Output of eptTranslate.
  private eptPerm = 0;
  private eptLeafShift = 12;
  private eptDirty = true;

  private walkRefCost: number;
  private readonly mmioReadCost: number;
  private readonly mmioWriteCost: number;
  private readonly sMmio: number;

  constructor(
    readonly mem: PhysicalMemory,
    readonly host: MmuHost,
    readonly config: MmuConfig,
    stats: Stats,
    readonly name: string,
  ) {
    this.tlb = new TlbArray(config.entries4k, config.ways4k, 12);
    const pscSizes = config.psc ?? { pml4: 0, pdpt: 0, pd: 0 };
    this.psc = new PagingStructureCache(pscSizes);
    this.eptPsc = new PagingStructureCache(pscSizes);
    this.tlbLarge = new TlbArray(config.entriesLarge, config.waysLarge, LARGE_SHIFT);
    this.u32 = mem.u32;
    this.u16 = mem.u16;
    this.dv = mem.dv;
    this.u8 = mem.u8;
    this.sv = stats.v;
    this.walkRefCost = config.walkRef;
    this.mmioReadCost = config.mmioRead ?? 0;
    this.mmioWriteCost = config.mmioWrite ?? 0;
    const bits = config.physBits;
    if (!(bits >= 32 && bits <= 52)) throw new Error(`physBits ${bits} outside 32..52`);
    this.rsvdHi = (0xfffff & ~((1 << (bits - 32)) - 1)) >>> 0;
    const c = (n: string, d: string, unit = 'count'): number => stats.counter(`${name}.${n}`, unit, d);
    // Accesses served by the L0 hit cache are not counted (a counter there costs ~15% of the hit
    // path, measured with `dunesim bench vtx`); tlb.hits counts the TLB look-ups behind it.
    this.sHits = c('tlb.hits', 'accesses that missed the L0 hit cache and hit the set-associative TLB');
    this.sMisses = c('tlb.misses', 'memory accesses that missed the TLB and walked');
    this.sWalks = c('mmu.walks', 'page walks (1-D and 2-D)');
    this.sWalks2d = c('mmu.walks2d', 'two-dimensional walks (guest paging under EPT)');
    this.sRefs = c('mmu.walkRefs', 'memory references made by page walks, both dimensions');
    this.sGuestRefs = c('mmu.guestRefs', 'references to guest (or native) paging-structure entries');
    this.sEptRefs = c('mmu.eptRefs', 'references to EPT paging-structure entries');
    this.sFlushes = c('tlb.flushes', 'TLB invalidation operations (CR3 writes, INVLPG, INVPCID, INVVPID, INVEPT, VM transitions)');
    this.sInvalidated = c('tlb.invalidated', 'TLB entries removed by invalidations');
    this.sEptViolations = c('mmu.eptViolations', 'EPT violations raised');
    this.sPageFaults = c('mmu.pageFaults', 'page faults (#PF) raised by translation');
    this.sMmio = c('mmu.mmioAccesses', 'loads and stores that reached a physical address outside RAM (device registers, or nobody)');
    this.sPscHits = c('mmu.pscHits', 'walks that started below the root thanks to a paging-structure-cache hit (both dimensions)');
  }

  /** Refreshes the per-reference walk cost (after a profile change). */
  setWalkRefCost(cycles: number): void {
    this.walkRefCost = cycles;
  }

  // ---------------------------------------------------------------------------------------
  // Context: the CPU tells the MMU when CPL, CR3/PCID or the VMX context change.

  setMode(user: boolean, ctx: number): void {
    if (ctx !== this.ctx) {
      this.ctx = ctx;
      this.resetMicro();
    }
    if (user !== this.user) {
      this.user = user;
      this.l0Mode = user ? L0_SIZE : 0;
    }
  }

  /** Empties the hit-path cache (context switch, flushes). */
  resetMicro(): void {
    this.rTag.fill(NaN);
    this.wTag.fill(NaN);
    this.xTag.fill(NaN);
  }

  /**
   * Drops the hit-path entries of one 4 KiB page (it left the TLB). Runs on nearly every TLB miss
   * once the TLB is full: written out per table, with no array to iterate (no allocation).
   */
  private dropL0Page(page: number): void {
    const k = (page >>> 12) & L0_MASK;
    const u = k + L0_SIZE;
    const r = this.rTag;
    const w = this.wTag;
    const x = this.xTag;
    if (r[k] === page) r[k] = NaN;
    if (r[u] === page) r[u] = NaN;
    if (w[k] === page) w[k] = NaN;
    if (w[u] === page) w[u] = NaN;
    if (x[k] === page) x[k] = NaN;
    if (x[u] === page) x[u] = NaN;
  }

  /**
   * Drops the hit-path entries of every 4 KiB page in the 2 MiB block at `base` (a large TLB entry
   * left the TLB), instead of emptying the whole L0: the entries of other pages stay valid.
   */
  private dropL0Large(base: number): void {
    const end = base + LARGE;
    for (const t of this.l0Tags) {
      for (let k = 0; k < 2 * L0_SIZE; k++) {
        const tag = t[k]!;
        if (tag >= base && tag < end) t[k] = NaN;
      }
    }
  }

  /** The three tag tables, for loops off the hit path. */
  private readonly l0Tags: readonly Float64Array[] = [this.rTag, this.wTag, this.xTag];

  /**
   * A frame now holds decoded instructions: stores to it must take the slow path (SMC
   * detection), so the write entries that point into it go; reads and fetches may stay.
   */
  dropL0WritesTo(frame: number): void {
    const w = this.wTag;
    const hw = this.wHostW;
    const first = frame * 1024; // host address / 4 of the frame's first word
    for (let k = 0; k < 2 * L0_SIZE; k++) {
      if (w[k] === w[k] && hw[k]! >= first && hw[k]! < first + 1024) w[k] = NaN; // w[k] === w[k]: not NaN
    }
  }

  // ---------------------------------------------------------------------------------------
  // Data accesses (linear addresses as signed numbers in [-2^47, 2^47)).

  // Each access: the fast path is a hit in the L0 cache with a naturally aligned operand (which
  // cannot cross a page); everything else — misses, unaligned and page-crossing operands — takes
  // the slow path beside it, which goes through PhysicalMemory's bounds-checked accessors (a
  // guest page table may point past RAM: reads there return all ones, writes are dropped).

  read8(va: number): number {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.rTag[k] === va - off) return this.u8[this.rHostW[k]! * 4 + off]!;
    return this.mem.read8(this.translate(va, AccessKind.Read));
  }

  read16(va: number): number {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.rTag[k] === va - off && (off & 1) === 0) return this.u16[this.rHostW[k]! * 2 + (off >>> 1)]!;
    if (off > 0xffe) return this.readSplit(va, 2);
    return this.mem.read16(this.translate(va, AccessKind.Read));
  }

  read32(va: number): number {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.rTag[k] === va - off && (off & 3) === 0) return this.u32[this.rHostW[k]! + (off >>> 2)]!;
    if (off > 0xffc) return this.readSplit(va, 4);
    return this.mem.read32(this.translate(va, AccessKind.Read));
  }

  /** Reads 8 bytes; returns the low half, leaves the high half in `hi`. */
  read64(va: number): number {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.rTag[k] === va - off && (off & 7) === 0) {
      const j = this.rHostW[k]! + (off >>> 2);
      this.hi = this.u32[j + 1]!;
      return this.u32[j]!;
    }
    return this.read64Slow(va, off);
  }

  private read64Slow(va: number, off: number): number {
    if (off > 0xff8) {
      this.translate(va + 7, AccessKind.Read); // fault on the second page before using the first
      const lo = this.readSplit(va, 4);
      this.hi = this.readSplit(va + 4, 4);
      return lo;
    }
    const pa = this.translate(va, AccessKind.Read);
    const lo = this.mem.read64(pa);
    this.hi = this.mem.hi;
    return lo;
  }

  /** An 8-byte value that is an address or a count (|v| < 2^53), as a signed number. */
  read64Number(va: number): number {
    const lo = this.read64(va);
    return (this.hi | 0) * TWO_32 + lo;
  }

  write8(va: number, v: number): void {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.wTag[k] === va - off) this.u8[this.wHostW[k]! * 4 + off] = v;
    else this.mem.write8(this.translate(va, AccessKind.Write), v);
  }

  write16(va: number, v: number): void {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.wTag[k] === va - off && (off & 1) === 0) this.u16[this.wHostW[k]! * 2 + (off >>> 1)] = v;
    else if (off > 0xffe) this.writeSplit(va, v, 2);
    else this.mem.write16(this.translate(va, AccessKind.Write), v);
  }

  write32(va: number, v: number): void {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.wTag[k] === va - off && (off & 3) === 0) this.u32[this.wHostW[k]! + (off >>> 2)] = v;
    else if (off > 0xffc) this.writeSplit(va, v, 4);
    else this.mem.write32(this.translate(va, AccessKind.Write), v);
  }

  write64(va: number, lo: number, hi: number): void {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    if (this.wTag[k] === va - off && (off & 7) === 0) {
      const j = this.wHostW[k]! + (off >>> 2);
      this.u32[j] = lo;
      this.u32[j + 1] = hi;
      return;
    }
    this.write64Slow(va, off, lo, hi);
  }

  private write64Slow(va: number, off: number, lo: number, hi: number): void {
    if (off > 0xff8) {
      // Both pages must be writable before either half is stored (no partial write on a fault).
      this.translate(va, AccessKind.Write);
      this.translate(va + 7, AccessKind.Write);
      this.writeSplit(va, lo, 4);
      this.writeSplit(va + 4, hi, 4);
      return;
    }
    const pa = this.translate(va, AccessKind.Write);
    this.mem.write64(pa, lo, hi);
  }

  write64Number(va: number, v: number): void {
    this.write64(va, v >>> 0, Math.floor(v / TWO_32) >>> 0);
  }

  /** Host-physical address of an instruction byte, checked for execute permission. */
  fetchAddress(va: number): number {
    const off = va & 0xfff;
    const k = ((va >>> 12) & L0_MASK) + this.l0Mode;
    return this.xTag[k] === va - off ? this.xHostW[k]! * 4 + off : this.translate(va, AccessKind.Execute);
  }

  private readSplit(va: number, size: number): number {
    // Check both pages first so a fault on the second leaves no trace of the first.
    this.translate(va + size - 1, AccessKind.Read);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.mem.read8(this.translate(va + i, AccessKind.Read));
    return v >>> 0;
  }

  private writeSplit(va: number, v: number, size: number): void {
    this.translate(va, AccessKind.Write);
    this.translate(va + size - 1, AccessKind.Write);
    for (let i = 0; i < size; i++) {
      this.mem.write8(this.translate(va + i, AccessKind.Write), (v >>> (8 * i)) & 0xff);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Translation.

  /**
   * Translates a linear address for an access of `kind` in the current mode; returns the host
   * physical address. Raises #GP(0) for a non-canonical address and #PF on a paging fault; EPT
   * violations go to the VMM (synchronously) and the translation is retried after it resumes.
   */
  translate(va: number, kind: AccessKind): number {
    const pa = this.translateAs(va, kind, this.user);
    // Self-modifying code: writes to frames with decoded instructions (never in L0) are reported.
    if (kind === AccessKind.Write && this.codeFrames !== null && this.codeFrames[pa >>> 12] === 1) this.onCodeWrite!(pa);
    // Outside RAM is a device's register (never cached in L0, so every access comes here): the
    // core waits for a non-posted PCIe read, and UC stores leave it one at a time.
    if (pa >= this.mem.size && kind !== AccessKind.Execute) {
      this.sv[this.sMmio]++;
      this.host.cycles += kind === AccessKind.Write ? this.mmioWriteCost : this.mmioReadCost;
    }
    return pa;
  }

  /** As `translate`, for an implicit supervisor access (IDT, GDT, TSS) when `user` is false. */
  translateAs(va: number, kind: AccessKind, user: boolean): number {
    const off = va & 0xfff;
    const page = va - off;
    const vpn = page / 4096;
    const need = accessBit(kind, user);
    const ctx = this.ctx;
    const t = this.tlb;
    let slot = t.find(vpn, ctx);
    if (slot >= 0 && (t.perm[slot]! & need) !== 0) {
      this.sv[this.sHits]++;
      const hostPage = t.host[slot]!;
      this.fillL0(kind, user, page, hostPage);
      return hostPage + off;
    }
    const L = this.tlbLarge;
    const lvpn = Math.floor(va / LARGE);
    slot = L.find(lvpn, ctx);
    if (slot >= 0 && (L.perm[slot]! & need) !== 0) {
      this.sv[this.sHits]++;
      const hostPage = L.host[slot]! + (page - lvpn * LARGE);
      this.fillL0(kind, user, page, hostPage);
      return hostPage + off;
    }
    this.sv[this.sMisses]++;
    const pa = this.walk(va, kind, user);
    this.fillL0(kind, user, page, pa - off);
    return pa;
  }

  private fillL0(kind: AccessKind, user: boolean, page: number, hostPage: number): void {
    // Host pages outside RAM (unclaimed bus cycles) are never cached: the slow path handles them.
    if (hostPage < 0 || hostPage + 4096 > this.mem.size) return;
    // Nor are writes to frames holding decoded instructions (they must reach `onCodeWrite`).
    if (kind === AccessKind.Write && this.codeFrames !== null && this.codeFrames[hostPage >>> 12] === 1) return;
    const k = ((page >>> 12) & L0_MASK) + (user ? L0_SIZE : 0);
    const w = hostPage / 4;
    if (kind === AccessKind.Execute) {
      this.xTag[k] = page;
      this.xHostW[k] = w;
      return;
    }
    // A writable entry is readable too.
    this.rTag[k] = page;
    this.rHostW[k] = w;
    if (kind === AccessKind.Write) {
      this.wTag[k] = page;
      this.wHostW[k] = w;
    }
  }


  private raisePf(va: number, errorCode: number): never {
    this.sv[this.sPageFaults]++;
    // A #PF invalidates the TLB entries for the faulting page number, and the paging-structure-
    // cache entries a walk of that address would use (SDM Vol. 3A §4.10.4.1), so neither a stale
    // entry nor a cached upper level outlives the fault: the retried access walks from the root.
    const n = this.tlb.invalidatePage((va - (va & 0xfff)) / 4096, this.ctx) + this.tlbLarge.invalidatePage(Math.floor(va / LARGE), this.ctx);
    if (n > 0) {
      this.sv[this.sInvalidated] += n;
      this.resetMicro();
    }
    if (this.psc.enabled) {
      const vLo = va >>> 0;
      const vHi = (va - vLo) / TWO_32;
      this.psc.invalidatePrefixes(vHi * 2048 + (vLo >>> 21), vHi * 4 + (vLo >>> 30), Math.floor(vHi / 128), this.ctx);
    }
    throw this.host.fault.set(Vector.PageFault, errorCode, true, va);
  }

  private raiseGp0(): never {
    throw this.host.fault.set(Vector.GeneralProtection, 0, true);
  }

  /**
   * The page walk (SDM Vol. 3A §4.5): four levels from CR3, accumulating R/W, U/S and XD,
   * stopping at a PS leaf; then the permission check (§4.6), A on every entry used and D on the
   * leaf for writes (§4.8), and a TLB fill. Under EPT every guest-physical address — of each
   * paging-structure entry and of the final page — is translated through the EPT first.
   */
  private walk(va: number, kind: AccessKind, user: boolean): number {
    const h = this.host;
    if (va >= CANONICAL_LIMIT || va < -CANONICAL_LIMIT) this.raiseGp0();
    if ((h.cr0 & CR0_PG) === 0) {
      // Paging off: linear == physical (only before long mode is enabled).
      return va;
    }
    const ept = h.eptActive;
    const sv = this.sv;
    sv[this.sWalks]++;
    if (ept) sv[this.sWalks2d]++;
    const nxe = (h.efer & EFER_NXE) !== 0;
    const isWrite = kind === AccessKind.Write;
    const isFetch = kind === AccessKind.Execute;
    const userBit = user ? FEC_U : 0;
    const fecBase = userBit | (isWrite ? FEC_W : 0) | (isFetch && nxe ? FEC_I : 0);
    const rsvdHi = this.rsvdHi | (nxe ? 0 : PTE_NX_HI);

    let table = h.cr3Base;
    // Table indices from the two 32-bit halves of the linear address.
    const vLo = va >>> 0;
    const vHi = (va - vLo) / TWO_32;
    let w = true;
    let u = true;
    let nx = false;
    let leafLo = 0;
    let leafHi = 0;
    let leafEntryHpa = 0;
    let leafEntryGpa = 0;
    let leafEntryEptW = true;
    let level = 4;
    const ix = this.walkIdx;
    ix[4] = (vHi >>> 7) & 511;
    ix[3] = ((vHi << 2) | (vLo >>> 30)) & 511;
    ix[2] = (vLo >>> 21) & 511;
    ix[1] = (vLo >>> 12) & 511;
    const u32 = this.u32;
    const memSize = this.mem.size;
    // Paging-structure caches: start at the lowest level whose table is cached (§4.10.3.2).
    const psc = this.psc;
    const ctx = this.ctx;
    const pfx = this.walkPrefix;
    pfx[2] = vHi * 2048 + (vLo >>> 21);
    pfx[3] = vHi * 4 + (vLo >>> 30);
    pfx[4] = Math.floor(vHi / 128);
    let tableHpa = ept ? -1 : table; // host-physical address of `table`, when known
    let tableEptW = true;
    if (psc.enabled) {
      for (let l = 2; l <= 4; l++) {
        const s = psc.find(l, pfx[l]!, ctx);
        if (s < 0) continue;
        const f = psc.flags[l]![s]!;
        table = psc.gtable[l]![s]!;
        tableHpa = psc.table[l]![s]!;
        w = (f & 1) !== 0;
        u = (f & 2) !== 0;
        nx = (f & 4) !== 0;
        level = l - 1;
        sv[this.sPscHits]++;
        break;
      }
    }
    for (;;) {
      const entryGpa = table + ix[level]! * 8;
      let entryHpa = entryGpa;
      let entryEptW = true;
      if (tableHpa >= 0) {
        entryHpa = tableHpa + ix[level]! * 8; // the table's host address is known (1-D, or a combined PSC entry)
        entryEptW = tableEptW;
      } else if (ept) {
        entryHpa = this.eptTranslate(entryGpa, AccessKind.Read, va, false);
        entryEptW = (this.eptPerm & EPT_W) !== 0;
      }
      sv[this.sRefs]++;
      sv[this.sGuestRefs]++;
      h.cycles += this.walkRefCost;
      const inRam = entryHpa < memSize;
      const lo = inRam ? u32[entryHpa >>> 2]! : 0xffff_ffff;
      const hi = inRam ? u32[(entryHpa >>> 2) + 1]! : 0xffff_ffff;
      if ((lo & PTE_P) === 0) this.raisePf(va, fecBase);
      const ps = (lo & PTE_PS) !== 0 && level > 1;
      let rsvd = (hi & rsvdHi) !== 0;
      if (level === 4 && (lo & PTE_PS) !== 0) rsvd = true;
      if (ps && level === 3 && (lo & 0x3fff_e000) !== 0) rsvd = true; // bits 29:13 of a 1 GiB leaf
      if (ps && level === 2 && (lo & 0x001f_e000) !== 0) rsvd = true; // bits 20:13 of a 2 MiB leaf
      if (rsvd) this.raisePf(va, fecBase | FEC_P | FEC_RSV);
      w &&= (lo & PTE_W) !== 0;
      u &&= (lo & PTE_U) !== 0;
      if (nxe && (hi & PTE_NX_HI) !== 0) nx = true;
      if (level === 1 || ps) {
        leafLo = lo;
        leafHi = hi;
        leafEntryHpa = entryHpa;
        leafEntryGpa = entryGpa;
        leafEntryEptW = entryEptW;
        break;
      }
      // Accessed flag on a non-leaf entry used by the walk (§4.8); under EPT it is a write.
      // EPT must allow the write; if it does not, the write's own translation raises the violation.
      if ((lo & PTE_A) === 0) {
        const hpaW = entryEptW ? entryHpa : this.eptTranslate(entryGpa, AccessKind.Write, va, false);
        this.mem.write32(hpaW, lo | PTE_A);
      }
      table = ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
      tableHpa = ept ? -1 : table;
      if (psc.enabled) {
        // Cache this level; under EPT the next table's host address comes from its translation.
        if (ept) {
          // Translate the next entry itself, so an EPT violation reports that entry's address.
          const nextIdx = ix[level - 1]! * 8;
          tableHpa = this.eptTranslate(table + nextIdx, AccessKind.Read, va, false) - nextIdx;
          tableEptW = (this.eptPerm & EPT_W) !== 0;
        }
        psc.insert(level, pfx[level]!, ctx, tableHpa, table, (w ? 1 : 0) | (u ? 2 : 0) | (nx ? 4 : 0));
      }
      level--;
    }

    // Permission check (§4.6). Supervisor data accesses to user pages are allowed (the modelled
    // CPU has no SMAP); with CR4.SMEP a supervisor fetch from a user page faults (§4.6.1).
    const wp = (h.cr0 & CR0_WP) !== 0;
    const smep = (h.cr4 & CR4_SMEP) !== 0;
    let allowed: boolean;
    if (kind === AccessKind.Read) allowed = !user || u;
    else if (isWrite) allowed = user ? u && w : w || !wp;
    else allowed = !nx && (user ? u : !(smep && u));
    if (!allowed) this.raisePf(va, fecBase | FEC_P);

    // The final physical address: leaf frame + offset within the page.
    const pageShift = level === 1 ? 12 : level === 2 ? 21 : 30;
    // (Bit masks on the 32-bit halves: page sizes are at most 2^30, and `%` on doubles is fmod.)
    const offMask = (1 << pageShift) - 1;
    const frame = ((leafLo & PTE_ADDR_LO & ~offMask) >>> 0) + (leafHi & PTE_ADDR_HI) * TWO_32;
    const gpa = frame + (vLo & offMask);

    let hpa = gpa;
    let eptPerm = EPT_R | EPT_W | EPT_X;
    let effShift = pageShift;
    let eptDirty = true;
    if (ept) {
      hpa = this.eptTranslate(gpa, kind, va, true);
      eptPerm = this.eptPerm;
      eptDirty = this.eptDirty;
      if (this.eptLeafShift < effShift) effShift = this.eptLeafShift;
    }

    // A on the leaf, D on a write (§4.8). Under EPT, these are writes to guest-physical memory.
    const newLo = leafLo | PTE_A | (isWrite ? PTE_D : 0);
    if (newLo !== leafLo) {
      const entryHpaW = leafEntryEptW ? leafEntryHpa : this.eptTranslate(leafEntryGpa, AccessKind.Write, va, false);
      this.mem.write32(entryHpaW, newLo);
    }
    const dirty = (newLo & PTE_D) !== 0 && eptDirty;

    // Fold the permissions into the TLB entry. Write permission needs a known-dirty leaf.
    let perm = 0;
    if (eptPerm & EPT_R) {
      perm |= ACC_READ_SUP;
      if (u) perm |= ACC_READ_USER;
    }
    if ((eptPerm & EPT_W) && dirty) {
      if (w || !wp) perm |= ACC_WRITE_SUP;
      if (u && w) perm |= ACC_WRITE_USER;
    }
    if ((eptPerm & EPT_X) && !nx) {
      if (!(smep && u)) perm |= ACC_EXEC_SUP;
      if (u) perm |= ACC_EXEC_USER;
    }
    // G is honoured only with CR4.PGE=1 (SDM Vol. 3A §4.10.2.4).
    const global = (leafLo & PTE_G) !== 0 && (h.cr4 & CR4_PGE) !== 0;
    const off = va & 0xfff;
    if (effShift >= LARGE_SHIFT) {
      const lvpn = Math.floor(va / LARGE);
      if (this.tlbLarge.insert(lvpn, this.ctx, perm, hpa - (va - lvpn * LARGE), global)) this.dropL0Large(this.tlbLarge.evictedVpn * LARGE);
    } else if (this.tlb.insert((va - off) / 4096, this.ctx, perm, hpa - off, global)) {
      this.dropL0Page(this.tlb.evictedVpn * 4096);
    }
    return hpa;
  }

  /**
   * Translates a guest-physical address through the EPT (SDM Vol. 3C §29.3.2). `final` says
   * whether it is the translation of the linear address itself (qualification bit 8) or of a
   * guest paging-structure entry. On a violation the VMM runs and the walk is retried.
   */
  private eptTranslate(gpa: number, kind: AccessKind, gla: number, final: boolean): number {
    const h = this.host;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 64) {
        throw new Error(`EPT violation at guest-physical 0x${gpa.toString(16)} not resolved after 64 VM exits`);
      }
      let table = h.eptRoot;
      let permAnd = EPT_R | EPT_W | EPT_X;
      let misconfig = false;
      // Table indices from the two 32-bit halves of the guest-physical address.
      const gLo = gpa >>> 0;
      const gHi = (gpa - gLo) / TWO_32;
      let refs = 0;
      const ix = this.eptIdx;
      ix[4] = (gHi >>> 7) & 511;
      ix[3] = ((gHi << 2) | (gLo >>> 30)) & 511;
      ix[2] = (gLo >>> 21) & 511;
      ix[1] = (gLo >>> 12) & 511;
      const u32 = this.u32;
      const memSize = this.mem.size;
      let startLevel = 4;
      const epsc = this.eptPsc;
      const eptId = h.eptId;
      const pfx = this.eptPrefix;
      pfx[2] = gHi * 2048 + (gLo >>> 21);
      pfx[3] = gHi * 4 + (gLo >>> 30);
      pfx[4] = Math.floor(gHi / 128);
      if (epsc.enabled) {
        for (let l = 2; l <= 4; l++) {
          const s = epsc.find(l, pfx[l]!, eptId);
          if (s < 0) continue;
          table = epsc.table[l]![s]!;
          permAnd = epsc.flags[l]![s]!;
          startLevel = l - 1;
          this.sv[this.sPscHits]++;
          break;
        }
      }
      for (let level = startLevel; level >= 1; level--) {
        const entryPa = table + ix[level]! * 8;
        refs++;
        // Entries are 8-byte aligned; an address outside RAM reads as all ones.
        const inRam = entryPa < memSize;
        const lo = inRam ? u32[entryPa >>> 2]! : 0xffff_ffff;
        const hi = inRam ? u32[(entryPa >>> 2) + 1]! : 0xffff_ffff;
        const rwx = lo & 7;
        if (rwx === 0) {
          permAnd = 0;
          break;
        }
        // Write-only or write+execute without read is a misconfiguration (§29.3.3.1), as are
        // reserved physical-address bits, and a leaf memory type of 2, 3 or 7.
        const ps = (lo & EPT_PS) !== 0 && (level === 2 || level === 3);
        const leaf = level === 1 || ps;
        const mt = (lo >>> 3) & 7;
        if (
          ((rwx & EPT_R) === 0 && (rwx & EPT_W) !== 0) ||
          (hi & this.rsvdHi) !== 0 ||
          (leaf && (mt === 2 || mt === 3 || mt === 7)) ||
          (level === 4 && (lo & EPT_PS) !== 0)
        ) {
          misconfig = true;
          break;
        }
        permAnd &= rwx;
        if (h.eptAd && (lo & EPT_A) === 0 && !leaf) this.mem.write32(entryPa, lo | EPT_A);
        if (leaf) {
          const needBit = kind === AccessKind.Read ? EPT_R : kind === AccessKind.Write ? EPT_W : EPT_X;
          if ((permAnd & needBit) === 0) break;
          const leafShift = level === 1 ? 12 : level === 2 ? 21 : 30;
          const offMask = (1 << leafShift) - 1;
          const base = ((lo & PTE_ADDR_LO & ~offMask) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
          let dirty = true;
          if (h.eptAd) {
            const upd = lo | EPT_A | (kind === AccessKind.Write ? EPT_D : 0);
            if (upd !== lo) this.mem.write32(entryPa, upd);
            dirty = (upd & EPT_D) !== 0;
          }
          this.eptPerm = permAnd;
          this.eptLeafShift = leafShift;
          this.eptDirty = dirty;
          this.chargeEptRefs(refs);
          return base + (gLo & offMask);
        }
        table = ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
        if (epsc.enabled) epsc.insert(level, pfx[level]!, eptId, table, table, permAnd);
      }
      this.chargeEptRefs(refs);
      if (misconfig) {
        h.eptMisconfig(gpa);
        continue;
      }
      // Report a violation with the exit qualification of SDM Vol. 3C Table 28-7.
      this.sv[this.sEptViolations]++;
      let qual = kind === AccessKind.Read ? EPT_QUAL_READ : kind === AccessKind.Write ? EPT_QUAL_WRITE : EPT_QUAL_FETCH;
      if (permAnd & EPT_R) qual |= EPT_QUAL_READABLE;
      if (permAnd & EPT_W) qual |= EPT_QUAL_WRITABLE;
      if (permAnd & EPT_X) qual |= EPT_QUAL_EXECUTABLE;
      qual |= EPT_QUAL_GLA_VALID;
      if (final) qual |= EPT_QUAL_GLA_TRANSLATED;
      h.eptViolation(qual, gpa, gla, true);
      // The VMM resumed us: retry from the EPT root (it may have filled the entry).
    }
  }


  // ---------------------------------------------------------------------------------------
  // Invalidation (SDM Vol. 3A §4.10.4, Vol. 3C §29.4.3).

  private chargeEptRefs(refs: number): void {
    const sv = this.sv;
    sv[this.sRefs] += refs;
    sv[this.sEptRefs] += refs;
    this.host.cycles += refs * this.walkRefCost;
  }

  private counted(n: number): void {
    this.sv[this.sFlushes]++;
    this.sv[this.sInvalidated] += n;
    this.resetMicro();
  }

  /** INVLPG: the page's entries for the current PCID and its global entries (§4.10.4.1). */
  invlpg(va: number): void {
    // INVLPG also empties the paging-structure caches of the current PCID (§4.10.4.1).
    const cur = this.ctx;
    this.psc.invalidateWhere((c) => c === cur);
    const off = va & 0xfff;
    const n = this.tlb.invalidatePage((va - off) / 4096, this.ctx);
    const nLarge = this.tlbLarge.invalidatePage(Math.floor(va / LARGE), this.ctx);
    this.sv[this.sFlushes]++;
    this.sv[this.sInvalidated] += n + nLarge;
    if (nLarge > 0) this.resetMicro();
    else this.dropL0Page(va - off);
  }

  /** Non-global entries of one PCID in the current VPID/EPT context (MOV CR3, INVPCID type 1). */
  flushPcid(pcid: number, keepGlobal = true): void {
    const tag = (this.ctx & ~0xfff) | pcid;
    const m = (c: number, g: boolean): boolean => c === tag && !(keepGlobal && g);
    this.psc.invalidateWhere((c) => c === tag);
    this.counted(this.tlb.invalidateWhere(m) + this.tlbLarge.invalidateWhere(m));
  }

  /** INVPCID type 0: one page of one PCID (global entries excepted, §4.10.4.1). */
  flushPcidPage(pcid: number, va: number): void {
    const tag = (this.ctx & ~0xfff) | pcid;
    this.psc.invalidateWhere((c) => c === tag);
    const off = va & 0xfff;
    const vpn = (va - off) / 4096;
    const lvpn = Math.floor(va / LARGE);
    let n = 0;
    for (const [t, p] of [[this.tlb, vpn], [this.tlbLarge, lvpn]] as const) {
      const base = t.setBase(p, tag);
      for (let i = base; i < base + t.ways; i++) {
        if (t.vpn[i] === p && t.ctx[i] === tag && t.global[i] === 0) {
          t.invalidateSlot(i);
          n++;
        }
      }
    }
    this.counted(n);
  }

  /** Every entry of the current VPID/EPT context, all PCIDs (INVPCID types 2 and 3). */
  flushAllPcids(keepGlobal: boolean): void {
    const vctx = this.ctx & ~0xfff;
    const m = (c: number, g: boolean): boolean => (c & ~0xfff) === vctx && !(keepGlobal && g);
    this.psc.invalidateWhere((c) => (c & ~0xfff) === vctx);
    this.counted(this.tlb.invalidateWhere(m) + this.tlbLarge.invalidateWhere(m));
  }

  /** Every entry tagged with a VPID (INVVPID single-context; VM transitions without VPID). */
  flushVpid(vpid: number, keepGlobal = false): void {
    const m = (c: number, g: boolean): boolean => ((c >>> 12) & 0xffff) === vpid && !(keepGlobal && g);
    this.psc.invalidateWhere((c) => ((c >>> 12) & 0xffff) === vpid);
    this.counted(this.tlb.invalidateWhere(m) + this.tlbLarge.invalidateWhere(m));
  }

  /** One page of one VPID (INVVPID individual-address). */
  flushVpidPage(vpid: number, va: number): void {
    this.psc.invalidateWhere((c) => ((c >>> 12) & 0xffff) === vpid);
    const off = va & 0xfff;
    const vpn = (va - off) / 4096;
    const lvpn = Math.floor(va / LARGE);
    const m1 = (t: TlbArray, p: number): number => {
      let n = 0;
      for (let i = 0; i < t.entries; i++) {
        if (t.vpn[i] === p && ((t.ctx[i]! >>> 12) & 0xffff) === vpid) {
          t.invalidateSlot(i);
          n++;
        }
      }
      return n;
    };
    this.counted(m1(this.tlb, vpn) + m1(this.tlbLarge, lvpn));
  }

  /** Combined mappings of one EPT context (INVEPT single-context). */
  flushEptContext(eptId: number): void {
    const m = (c: number): boolean => c >>> 28 === eptId;
    this.psc.invalidateWhere(m);
    this.eptPsc.invalidateWhere((c) => c === eptId);
    this.counted(this.tlb.invalidateWhere(m) + this.tlbLarge.invalidateWhere(m));
  }

  /** Everything (INVVPID all-context, INVEPT global, CR4 paging-mode changes). */
  flushAll(): void {
    const m = (): boolean => true;
    this.psc.invalidateWhere(m);
    this.eptPsc.invalidateWhere(m);
    this.counted(this.tlb.invalidateWhere(m) + this.tlbLarge.invalidateWhere(m));
  }

  /** Every entry whose context is derived from EPT (INVEPT global). */
  flushAllEpt(): void {
    const m = (c: number): boolean => c >>> 28 !== 0;
    this.psc.invalidateWhere(m);
    this.eptPsc.invalidateWhere(() => true);
    this.counted(this.tlb.invalidateWhere(m) + this.tlbLarge.invalidateWhere(m));
  }

  // ---------------------------------------------------------------------------------------
  // Side-effect-free walk for debuggers and tests (no A/D, no TLB fill, no counters, no cycles).

  debugWalk(va: number): WalkInfo {
    const h = this.host;
    const none: WalkInfo = { ok: false, pa: -1, pageSize: 0, leafLo: 0, leafHi: 0, leafPa: -1, level: 0 };
    const toHost = (gpa: number): number => (h.eptActive ? this.debugEpt(gpa) : gpa);
    let table = h.cr3Base;
    for (let level = 4, shift = 39; level >= 1; level--, shift -= 9) {
      const entry = toHost(table + (Math.floor(va / SCALE[shift]!) & 511) * 8);
      if (entry < 0) return none;
      const lo = this.mem.read32(entry);
      const hi = this.mem.read32(entry + 4);
      if ((lo & PTE_P) === 0) return { ...none, leafLo: lo, leafHi: hi, leafPa: entry, level };
      const frame = ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
      if (level === 1 || ((lo & PTE_PS) !== 0 && level <= 3)) {
        const size = 2 ** shift;
        const gpa = frame - (frame % size) + (va - Math.floor(va / size) * size);
        const pa = toHost(gpa);
        return { ok: pa >= 0, pa, pageSize: size, leafLo: lo, leafHi: hi, leafPa: entry, level };
      }
      table = frame;
    }
    return none;
  }

  private debugEpt(gpa: number): number {
    let table = this.host.eptRoot;
    for (let level = 4, shift = 39; level >= 1; level--, shift -= 9) {
      const entry = table + (Math.floor(gpa / SCALE[shift]!) & 511) * 8;
      const lo = this.mem.read32(entry);
      const hi = this.mem.read32(entry + 4);
      if ((lo & 7) === 0) return -1;
      const frame = ((lo & PTE_ADDR_LO) >>> 0) + (hi & PTE_ADDR_HI) * TWO_32;
      if (level === 1 || ((lo & EPT_PS) !== 0 && level <= 3)) {
        const size = 2 ** shift;
        return frame - (frame % size) + (gpa % size);
      }
      table = frame;
    }
    return -1;
  }
}

export { AccessKind };
export const PCIDE = CR4_PCIDE;
