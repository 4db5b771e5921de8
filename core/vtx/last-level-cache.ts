import { injectable } from 'inversify';
import { ConfigError } from '../config-error.js';
import type { Stats } from '../stats.js';
import type { Cpu } from './cpu.js';

/** The shape of a last-level cache and what a miss costs (a profile's `llc`, each field sourced). */
export interface LlcGeometry {
  /** Capacity in bytes. */
  readonly bytes: number;
  /** Associativity: lines per set. */
  readonly ways: number;
  readonly lineBytes: number;
  /** What a load that misses the LLC waits for DRAM, in nanoseconds (charged in full: no overlap of misses is modelled). */
  readonly missNs: number;
  /**
   * Intel Data Direct I/O: how many ways of each set a device's DMA write may allocate into (0: no
   * DDIO, a DMA write invalidates the lines it overwrites and the CPU's next read of them misses).
   */
  readonly ddioWays: number;
  readonly source: string;
}

/** Checks a geometry; a bad one is refused with the field named. */
export function validateLlcGeometry(g: Record<string, unknown>, where: string): LlcGeometry {
  const fail = (m: string): never => {
    throw new ConfigError(`${where}: ${m}`);
  };
  for (const f of ['bytes', 'ways', 'lineBytes'] as const) {
    const v = g[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(`field 'llc.${f}' must be a positive whole number`);
  }
  const line = g.lineBytes as number;
  if ((line & (line - 1)) !== 0) fail(`field 'llc.lineBytes' must be a power of two`);
  if ((g.bytes as number) % (line * (g.ways as number)) !== 0) fail(`field 'llc.bytes' must be a whole number of sets (ways × lineBytes)`);
  if (typeof g.missNs !== 'number' || !(g.missNs >= 0) || !Number.isFinite(g.missNs)) fail(`field 'llc.missNs' must be a non-negative number`);
  const d = g.ddioWays;
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > (g.ways as number)) fail(`field 'llc.ddioWays' must be a whole number from 0 to llc.ways`);
  if (typeof g.source !== 'string' || g.source.trim() === '') fail(`field 'llc.source' is missing`);
  return g as unknown as LlcGeometry;
}

/**
 * A last-level cache as a cost proxy: set-associative, true LRU within a set, indexed by a hash of
 * the physical line number. Intel's LLC since Sandy Bridge picks a slice by a hash of most
 * physical address bits ("complex addressing", Maurice et al., RAID 2015), so lines at the same
 * offset in many pages — the same field of many slab objects — spread over the whole cache; a plain
 * modulo index would pile them into a few sets and thrash far below the capacity. It holds no data — only which lines are present — and only
 * the accesses that callers route through it are looked up: the network stack's per-connection
 * state, descriptor rings and packet buffers (docs/network.md). A miss is charged to the CPU that
 * touched the line; a device's DMA write allocates into the DDIO ways, or invalidates without DDIO.
 */
@injectable()
export class LastLevelCache {
  readonly sets: number;
  readonly ways: number;
  readonly lineBytes: number;
  /** Cycles a miss costs at the machine's clock. */
  readonly missCycles: number;
  readonly ddioWays: number;
  /** Line number held by each way (set-major), NaN when empty. */
  private readonly tag: Float64Array;
  /** Last use of each way, by a counter that every access advances: the smallest is the LRU way. */
  private readonly used: Float64Array;
  private clock = 0;
  private readonly v: Float64Array;
  private readonly sHits: number;
  private readonly sMisses: number;
  private readonly sDmaAllocs: number;
  private readonly sDmaInvalidations: number;

  constructor(readonly geometry: LlcGeometry, clockHz: number, stats: Stats) {
    this.ways = geometry.ways;
    this.lineBytes = geometry.lineBytes;
    this.sets = geometry.bytes / (geometry.lineBytes * geometry.ways);
    this.missCycles = Math.round((geometry.missNs * clockHz) / 1e9);
    this.ddioWays = geometry.ddioWays;
    this.tag = new Float64Array(this.sets * this.ways).fill(NaN);
    this.used = new Float64Array(this.sets * this.ways);
    this.v = stats.v;
    this.sHits = stats.counter('llc.hits', 'lines', 'last-level-cache proxy: CPU touches of a line that was present');
    this.sMisses = stats.counter('llc.misses', 'lines', 'last-level-cache proxy: CPU touches of a line that was not present (each charged llc.missNs)');
    this.sDmaAllocs = stats.counter('llc.dmaAllocations', 'lines', 'last-level-cache proxy: lines a DMA write allocated into the DDIO ways');
    this.sDmaInvalidations = stats.counter('llc.dmaInvalidations', 'lines', 'last-level-cache proxy: present lines a DMA write invalidated (no DDIO)');
  }

  get hits(): number {
    return this.v[this.sHits]!;
  }

  get misses(): number {
    return this.v[this.sMisses]!;
  }

  /**
   * The CPU reads or writes `bytes` at physical address `pa`: each line is looked up, a missing
   * one is filled (evicting its set's LRU line) and its miss latency charged to `cpu`. Returns the
   * number of misses.
   */
  touch(cpu: Cpu, pa: number, bytes: number): number {
    const m = this.access(pa, bytes);
    if (m !== 0) cpu.cycles += m * this.missCycles;
    return m;
  }

  /** The lookups of `touch` without charging anyone (for a caller that charges the returned misses itself). */
  access(pa: number, bytes: number): number {
    const L = this.lineBytes;
    const last = Math.floor((pa + bytes - 1) / L);
    let misses = 0;
    for (let line = Math.floor(pa / L); line <= last; line++) {
      if (!this.lookup(line, this.ways, true)) misses++;
    }
    this.v[this.sHits] += last - Math.floor(pa / L) + 1 - misses;
    this.v[this.sMisses] += misses;
    return misses;
  }

  /**
   * A device writes `bytes` at `pa` (inbound DMA). With DDIO a present line is updated in place and
   * a missing one allocated in the LRU of the set's first `ddioWays` ways, so the CPU then hits;
   * without it the write goes to memory and invalidates the cached copy.
   */
  dmaWrite(pa: number, bytes: number): void {
    const L = this.lineBytes;
    const last = Math.floor((pa + bytes - 1) / L);
    for (let line = Math.floor(pa / L); line <= last; line++) {
      if (this.ddioWays > 0) {
        if (!this.lookup(line, this.ddioWays, true)) this.v[this.sDmaAllocs]++;
      } else if (this.invalidate(line)) this.v[this.sDmaInvalidations]++;
    }
  }

  /** Whether the line holding `pa` is present (no LRU update): for tests and inspection. */
  contains(pa: number): boolean {
    const line = Math.floor(pa / this.lineBytes);
    const base = this.setOf(line) * this.ways;
    for (let w = 0; w < this.ways; w++) if (this.tag[base + w] === line) return true;
    return false;
  }

  /** The set of line number `line`: a 32-bit integer mix (murmur3's finaliser) of its bits. */
  setOf(line: number): number {
    let h = (line | 0) ^ Math.imul((line / 4294967296) | 0, 0x27d4eb2f);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) % this.sets;
  }

  /** Empties the cache (counters are kept). */
  flush(): void {
    this.tag.fill(NaN);
    this.used.fill(0);
  }

  /**
   * Looks `line` up in its set; on a hit it becomes the most recently used. On a miss, when
   * `fill`, it replaces the LRU line among the set's first `fillWays` ways. Returns whether it hit.
   */
  private lookup(line: number, fillWays: number, fill: boolean): boolean {
    const base = this.setOf(line) * this.ways;
    const now = ++this.clock;
    const tag = this.tag;
    for (let w = 0; w < this.ways; w++) {
      if (tag[base + w] === line) {
        this.used[base + w] = now;
        return true;
      }
    }
    if (!fill) return false;
    let victim = base;
    let oldest = Infinity;
    for (let w = 0; w < fillWays; w++) {
      const i = base + w;
      // An empty way is used first (NaN tag: its `used` is 0 or stale, so prefer it outright).
      if (tag[i] !== tag[i]) {
        victim = i;
        break;
      }
      if (this.used[i]! < oldest) {
        oldest = this.used[i]!;
        victim = i;
      }
    }
    tag[victim] = line;
    this.used[victim] = now;
    return false;
  }

  private invalidate(line: number): boolean {
    const base = this.setOf(line) * this.ways;
    for (let w = 0; w < this.ways; w++) {
      if (this.tag[base + w] === line) {
        this.tag[base + w] = NaN;
        return true;
      }
    }
    return false;
  }
}
