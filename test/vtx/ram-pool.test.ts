import { describe, expect, it } from 'vitest';
import { execElf } from '../../core/system/exec-elf.js';
import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { Machine } from '../../core/vtx/machine.js';
import { RAM_POOL, RamPool } from '../../core/vtx/ram-pool.js';
import { GUEST_BIN } from '../../core/system/guest-programs.js';

describe('RamPool: buffers of finished machines, zeroed as far as they were used', () => {
  it('hands a buffer back only for the same size, zeroed below its dirty mark', () => {
    const pool = new RamPool(2, 1 << 20);
    const b = new ArrayBuffer(64 * 1024);
    const u8 = new Uint8Array(b);
    u8.fill(0xaa, 0, 8192);
    pool.give(b, 8192);
    expect(pool.take(32 * 1024)).toBeUndefined();
    const again = pool.take(64 * 1024)!;
    expect(again).toBe(b);
    expect(u8.every((x) => x === 0)).toBe(true);
    expect(pool.take(64 * 1024)).toBeUndefined(); // taken once
    expect(pool.reused).toBe(1);
  });

  it('keeps at most `capacity` buffers, none used beyond `maxDirty`, and each once', () => {
    const pool = new RamPool(2, 4096);
    const [a, b, c] = [new ArrayBuffer(8192), new ArrayBuffer(8192), new ArrayBuffer(8192)];
    pool.give(a, 4096);
    pool.give(a, 4096);
    expect(pool.size).toBe(1);
    pool.give(b, 8192); // used beyond maxDirty: left to the collector
    expect(pool.size).toBe(1);
    pool.give(b, 0);
    pool.give(c, 0);
    expect(pool.size).toBe(2); // a went first
    expect(pool.take(8192)).toBe(b);
    expect(pool.take(8192)).toBe(c);
  });
});

describe('a machine\'s RAM goes back to the pool when its run ends', () => {
  const MEM = 64 << 20;

  /**
   * Runs `name` and checks, as its machine is released, that nothing above the frame allocator's
   * high-water mark was written (the invariant the allocator's unzeroed first use and the pool's
   * partial zeroing rest on).
   */
  function run(name: string, mode: 'linux' | 'dune'): { cycles: number; instructions: number; stdout: string; above: number; atStart: number } {
    let above = -1;
    let atStart = -1;
    const nonZero = (u32: Uint32Array, from: number): number => {
      let n = 0;
      for (let i = from; i < u32.length; i++) if (u32[i] !== 0) n++;
      return n;
    };
    const observe = (m: Machine): void => {
      atStart = nonZero(m.mem.u32, 0); // as built: all zero, new buffer or reused
      const release = m.release.bind(m);
      m.release = () => {
        above = nonZero(m.mem.u32, (m.frames.highWater * PAGE_SIZE) >>> 2);
        release();
      };
    };
    Machine.observers.add(observe);
    let stdout = '';
    try {
      const r = execElf(`${GUEST_BIN}/${name}`, [], { mode, profile: 'dune-e3-1230v2', memory: MEM, console: (s) => { stdout += s; } });
      expect(r.exitCode).toBe(0);
      return { cycles: r.stats.cycles as number, instructions: r.stats.instructions as number, stdout, above, atStart };
    } finally {
      Machine.observers.delete(observe);
    }
  }

  for (const mode of ['linux', 'dune'] as const) {
    it(`${mode}: nothing above the high-water frame is written, and a run on a reused buffer gives the same figures`, () => {
      RAM_POOL.clear();
      const reused = RAM_POOL.reused;
      const first = run('malloc', mode); // a new buffer
      expect(first.above).toBe(0);
      expect(RAM_POOL.size).toBe(1);
      const hello = run('hello', mode); // malloc's buffer, zeroed
      expect(hello.above).toBe(0);
      expect(hello.atStart).toBe(0);
      const again = run('malloc', mode); // hello's
      expect(RAM_POOL.reused - reused).toBe(2);
      expect(again).toEqual(first); // atStart 0 for both
    });
  }
});
