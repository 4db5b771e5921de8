import type { Mmu } from '../mmu.js';
import type { PhysicalMemory } from '../physical-memory.js';
import type { Insn } from './insn.js';

type Page = Array<Insn | null>;

/**
 * Decoded instructions cached per physical code page (blink's OpCache, v86's TLB_HAS_CODE), shared
 * by every CPU on the same physical memory: `page[offset]` is the instruction decoded at that byte
 * (instructions that cross a page are not cached).
 *
 * Invalidation keeps self-modifying code exact:
 * - guest stores: a frame with cached instructions is flagged in `codeFrames`; the MMUs never put
 *   such a frame in their L0 write cache, so every store to it reaches `onWrite`, which drops the
 *   instructions overlapping the written bytes;
 * - host writes: `PhysicalMemory.writeBytes` and `zero` (loaders, the frame allocator re-zeroing a
 *   recycled frame) are wrapped to drop the instructions of the frames they touch. Other direct
 *   writes that may hit code (typed-array stores into `mem.u8`, e.g. ptrace POKETEXT or a
 *   copy_to_user into a code page) must call `invalidateCode(mem, pa, len)`.
 */
export class CodeCache {
  /** One flag per 4 KiB frame: 1 when the frame has cached instructions. */
  readonly codeFrames: Uint8Array;
  /**
   * The decoded pages, in chunks of CHUNK_FRAMES frames created on first use: one array slot per
   * frame of a 512 MiB machine would cost milliseconds at every machine start.
   */
  private readonly chunks: Array<Array<Page | null> | undefined>;
  private readonly counts: Int32Array;
  private readonly mmus: Mmu[] = [];
  /**
   * One generation number per frame, bumped whenever instructions of the frame are dropped: a
   * translated block (core/vtx/jit) records the generation of its frame and is stale once it moved.
   */
  readonly generation: Int32Array;
  /** Stores to code frames reported by the MMU (bound once). */
  readonly onWrite: (pa: number) => void;
  /** Statistics: instructions decoded and cached, and instructions dropped by writes. */
  decoded = 0;
  invalidated = 0;

  private static readonly byMemory = new WeakMap<PhysicalMemory, CodeCache>();

  /** The cache of a physical memory (created on first use, shared by its CPUs). */
  static of(mem: PhysicalMemory): CodeCache {
    let c = CodeCache.byMemory.get(mem);
    if (c === undefined) {
      c = new CodeCache(mem);
      CodeCache.byMemory.set(mem, c);
    }
    return c;
  }

  private constructor(mem: PhysicalMemory) {
    this.codeFrames = new Uint8Array(mem.frames + 1);
    this.chunks = new Array<Array<Page | null> | undefined>(Math.ceil(mem.frames / CHUNK_FRAMES)).fill(undefined);
    this.counts = new Int32Array(mem.frames);
    this.generation = new Int32Array(mem.frames);
    this.onWrite = (pa: number): void => this.invalidateAround(pa);
    // Host-side bulk writes (ELF loading, frame recycling, kernel copies) must not leave stale
    // instructions: PhysicalMemory reports them.
    mem.hostWriteHook = (pa: number, len: number): void => this.invalidate(pa, len);
  }

  /** Makes an MMU report stores to code frames. */
  attach(mmu: Mmu): void {
    if (this.mmus.includes(mmu)) return;
    mmu.codeFrames = this.codeFrames;
    mmu.onCodeWrite = this.onWrite;
    this.mmus.push(mmu);
  }

  /** The instruction cached at host-physical `pa`, or null. */
  lookup(pa: number): Insn | null {
    const p = this.page(pa >>> 12);
    return p === null ? null : p[pa & 0xfff]!;
  }

  /** The page array of `frame` (hot path: the run loop indexes it itself). */
  page(frame: number): Page | null {
    const c = this.chunks[frame >>> CHUNK_SHIFT];
    return c === undefined ? null : c[frame & (CHUNK_FRAMES - 1)]!;
  }

  private setPage(frame: number, p: Page | null): void {
    const k = frame >>> CHUNK_SHIFT;
    let c = this.chunks[k];
    if (c === undefined) {
      if (p === null) return;
      c = new Array<Page | null>(CHUNK_FRAMES).fill(null);
      this.chunks[k] = c;
    }
    c[frame & (CHUNK_FRAMES - 1)] = p;
  }

  insert(pa: number, insn: Insn): void {
    const f = pa >>> 12;
    let p = this.page(f);
    if (p === null) {
      p = new Array<Insn | null>(4096).fill(null);
      this.setPage(f, p);
      this.codeFrames[f] = 1;
      // Stores to this frame must now take the slow path: every MMU drops its L0 write entries
      // into it (only those: the rest of the hit cache stays warm).
      for (let i = 0; i < this.mmus.length; i++) this.mmus[i]!.dropL0WritesTo(f);
    }
    const off = pa & 0xfff;
    if (p[off] === null) this.counts[f]!++;
    p[off] = insn;
    this.decoded++;
  }

  /** A store of up to 8 bytes at `pa`: drops the instructions that overlap it. */
  private invalidateAround(pa: number): void {
    const f = pa >>> 12;
    const off = pa & 0xfff;
    this.dropRange(f, off < 14 ? 0 : off - 14, Math.min(4095, off + 7), off, off + 8);
  }

  /** Drops cached instructions overlapping host-physical [pa, pa + len). */
  invalidate(pa: number, len: number): void {
    if (len <= 0) return;
    const end = pa + len;
    for (let f = Math.floor(pa / 4096); f * 4096 < end && f < this.counts.length; f++) {
      if (this.codeFrames[f] !== 1) continue;
      const base = f * 4096;
      const from = Math.max(pa, base) - base;
      const to = Math.min(end, base + 4096) - base; // exclusive
      if (from === 0 && to === 4096) this.dropPage(f);
      else this.dropRange(f, Math.max(0, from - 14), to - 1, from, to);
    }
  }

  /** Drops every cached instruction. */
  flush(): void {
    for (let f = 0; f < this.counts.length; f++) if (this.page(f) !== null) this.dropPage(f);
  }

  private dropPage(f: number): void {
    this.invalidated += this.counts[f]!;
    this.generation[f]!++;
    // Cleared in place too: a run loop may hold the array of the page it executes.
    this.page(f)?.fill(null);
    this.setPage(f, null);
    this.counts[f] = 0;
    this.codeFrames[f] = 0;
  }

  /** Drops instructions starting in [first, last] that overlap bytes [wFrom, wTo). */
  private dropRange(f: number, first: number, last: number, wFrom: number, wTo: number): void {
    const p = this.page(f);
    if (p === null) return;
    let n = 0;
    for (let o = first; o <= last; o++) {
      const insn = p[o];
      if (insn !== null && insn !== undefined && o < wTo && o + insn.len > wFrom) {
        p[o] = null;
        n++;
      }
    }
    if (n === 0) return;
    this.invalidated += n;
    this.generation[f]!++;
    const left = (this.counts[f] = this.counts[f]! - n);
    if (left === 0) this.dropPage(f);
  }
}

/** Frames per chunk of the code cache's page table (2 MiB of memory). */
const CHUNK_SHIFT = 9;
const CHUNK_FRAMES = 1 << CHUNK_SHIFT;

/** Drops decoded instructions overlapping host-physical [pa, pa + len) after a direct write. */
export function invalidateCode(mem: PhysicalMemory, pa: number, len: number): void {
  CodeCache.of(mem).invalidate(pa, len);
}
