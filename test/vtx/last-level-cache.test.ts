/**
 * The last-level cache proxy: a set-associative cache with LRU replacement within a set, misses
 * charged to the CPU that touches, and Intel DDIO (inbound DMA writes allocate into a limited
 * number of ways; without DDIO they invalidate the cached copy).
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../core/vtx/machine.js';
import { LastLevelCache, LlcGeometry } from '../../core/vtx/last-level-cache.js';
import { Stats } from '../../core/stats.js';
import { ConfigError } from '../../core/config-error.js';
import { loadProfile } from '../../core/vtx/cost-model.js';

/** 4 sets × 4 ways of 64-byte lines. */
const SMALL: LlcGeometry = { bytes: 1024, ways: 4, lineBytes: 64, missNs: 100, ddioWays: 1, source: 'test' };

function cache(g: Partial<LlcGeometry> = {}): { llc: LastLevelCache; cpu: { cycles: number } } {
  const llc = new LastLevelCache({ ...SMALL, ...g }, 1e9, new Stats());
  return { llc, cpu: { cycles: 0 } };
}

/** Byte address of the k-th line (from line 0 up) that the cache's index puts in `set`. */
const probe = new LastLevelCache(SMALL, 1e9, new Stats());
function inSet(set: number, k: number): number {
  for (let line = 0, seen = 0; ; line++) if (probe.setOf(line) === set && seen++ === k) return line * 64;
}

describe('LastLevelCache', () => {
  it('a first touch misses and costs the miss latency; a second hits and costs nothing', () => {
    const { llc, cpu } = cache();
    expect(llc.touch(cpu as never, 0x1000, 8)).toBe(1);
    expect(cpu.cycles).toBe(100); // 100 ns at 1 GHz
    expect(llc.touch(cpu as never, 0x1008, 8)).toBe(0);
    expect(cpu.cycles).toBe(100);
    expect([llc.hits, llc.misses]).toEqual([1, 1]);
  });

  it('an access spanning lines looks up each line', () => {
    const { llc, cpu } = cache();
    expect(llc.touch(cpu as never, 60, 8)).toBe(2); // bytes 60..67: lines 0 and 1
    expect(llc.touch(cpu as never, 0, 128)).toBe(0);
  });

  it('a set holds `ways` lines; the fifth evicts the least recently used', () => {
    const { llc, cpu } = cache();
    for (let k = 0; k < 4; k++) llc.touch(cpu as never, inSet(1, k), 1);
    llc.touch(cpu as never, inSet(1, 0), 1); // line 0 becomes the most recent; line 1 is now LRU
    llc.touch(cpu as never, inSet(1, 4), 1);
    expect(llc.contains(inSet(1, 1))).toBe(false);
    for (const k of [0, 2, 3, 4]) expect(llc.contains(inSet(1, k))).toBe(true);
    // Other sets are untouched by set 1's traffic.
    llc.touch(cpu as never, inSet(2, 0), 1);
    expect(llc.contains(inSet(1, 0))).toBe(true);
  });

  it('a cyclic working set one line larger than a set misses every time under LRU; one that fits hits', () => {
    const { llc, cpu } = cache();
    for (let round = 0; round < 3; round++) for (let k = 0; k < 5; k++) llc.touch(cpu as never, inSet(0, k), 1);
    expect(llc.hits).toBe(0);
    const fit = cache();
    for (let round = 0; round < 3; round++) for (let k = 0; k < 4; k++) fit.llc.touch(fit.cpu as never, inSet(0, k), 1);
    expect([fit.llc.misses, fit.llc.hits]).toEqual([4, 8]);
  });

  it('DDIO: a DMA write allocates, so the CPU then hits; it fills only the DDIO ways', () => {
    const { llc, cpu } = cache({ ddioWays: 1 });
    llc.dmaWrite(inSet(3, 0), 64);
    expect(llc.touch(cpu as never, inSet(3, 0), 64)).toBe(0);
    // CPU lines in the other ways survive any number of DMA writes to the set: DMA recycles its one way.
    for (let k = 1; k < 4; k++) llc.touch(cpu as never, inSet(3, k), 1);
    for (let k = 4; k < 20; k++) llc.dmaWrite(inSet(3, k), 64);
    for (let k = 1; k < 4; k++) expect(llc.contains(inSet(3, k))).toBe(true);
    expect(llc.contains(inSet(3, 19))).toBe(true);
    expect(llc.contains(inSet(3, 18))).toBe(false);
  });

  it('without DDIO a DMA write invalidates the cached line, and the CPU misses on it', () => {
    const { llc, cpu } = cache({ ddioWays: 0 });
    llc.touch(cpu as never, 0x2000, 64);
    llc.dmaWrite(0x2000, 64);
    expect(llc.touch(cpu as never, 0x2000, 64)).toBe(1);
  });

  it('the index spreads the same offset of many pages over every set (a hash, as the slice selection is)', () => {
    const g = { ...SMALL, bytes: 64 * 1024, ways: 4 }; // 256 sets
    const llc = new LastLevelCache(g, 1e9, new Stats());
    const sets = new Set<number>();
    for (let page = 0; page < 256; page++) sets.add(llc.setOf(page * 64 + 5)); // line 5 of 256 pages
    expect(sets.size).toBeGreaterThan(128);
  });

  it('the same accesses give the same misses and cycles', () => {
    const run = (): [number, number] => {
      const { llc, cpu } = cache();
      let x = 12345;
      for (let i = 0; i < 2000; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        if (i % 7 === 0) llc.dmaWrite((x % 64) * 64, 64);
        else llc.touch(cpu as never, (x % 64) * 64, 4);
      }
      return [llc.misses, cpu.cycles];
    };
    expect(run()).toEqual(run());
  });

  it('the machine builds it from the profile, or from its configuration; a bad geometry is refused', () => {
    const m = new Machine({ memory: 1 << 20 });
    const p = loadProfile();
    expect(m.llc?.sets).toBe(p.llc!.bytes / (p.llc!.ways * p.llc!.lineBytes));
    expect(new Machine({ memory: 1 << 20, llc: null }).llc).toBeUndefined();
    expect(() => new Machine({ memory: 1 << 20, llc: { ...SMALL, ways: 3 } })).toThrow(ConfigError);
    expect(() => new Machine({ memory: 1 << 20, llc: { ...SMALL, ddioWays: 5 } })).toThrow(/ddioWays/);
  });
});
