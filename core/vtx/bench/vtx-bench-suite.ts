import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { PTE_P, PTE_U, PTE_W } from '../arch.js';
import { LongModeBoot } from '../boot.js';
import { Machine } from '../machine.js';
import { VmxHarness } from '../vmx-harness.js';

/** Wall-clock seconds each measurement runs for (after a warm-up). */
const MEASURE_SECONDS = 0.5;

/** Deterministic pseudo-random sequence (xorshift32), so every run measures the same pattern. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Calls `body(n)` with growing n until it takes MEASURE_SECONDS; returns operations per second. */
function measure(body: (n: number) => number): { perSecond: number; sink: number } {
  let n = 1 << 14;
  let sink = body(n); // warm-up (JIT)
  for (;;) {
    const t0 = performance.now();
    sink += body(n);
    const dt = (performance.now() - t0) / 1000;
    if (dt >= MEASURE_SECONDS) return { perSecond: n / dt, sink };
    n = Math.min(n * 2, 1 << 30);
  }
}

/**
 * `dunesim bench vtx`: the speed of the machine model itself — the limit of a raw typed-array
 * read, reads through a TLB hit, and cold 1-D and 2-D page walks. These are simulator figures
 * (operations per wall-clock second), not modelled cycles.
 */
@injectable()
export class VtxBenchSuite implements BenchSuite {
  readonly id = 'vtx';
  /** Its figures are the host's speed: another suite beside it would slow them. */
  readonly exclusive = true;
  readonly description = 'speed of the machine model: raw reads, TLB-hit reads, cold 4-level and 2-D walks';
  readonly steps = 4;

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    const PAGES = 64;
    const ADDRS = 4096;
    const rnd = xorshift(12345);
    // The same access pattern for the raw and the TLB-hit reads: 8-byte aligned offsets in 64 pages.
    const pageOf = new Int32Array(ADDRS);
    const offOf = new Int32Array(ADDRS);
    for (let i = 0; i < ADDRS; i++) {
      pageOf[i] = rnd() % PAGES;
      offOf[i] = (rnd() % 512) * 8;
    }

    // One machine for both read measurements: 64 user pages, warmed into the TLB.
    const m = new Machine({ memory: 16 << 20, profile: ctx.profile });
    const boot = new LongModeBoot(m);
    const cpu = m.cpus[0]!;
    const base = 0x40_0000_0000;
    const frameOf: number[] = [];
    for (let p = 0; p < PAGES; p++) frameOf.push(boot.userPage(base + p * 4096, PTE_P | PTE_W | PTE_U));
    const mmu = cpu.mmu;
    for (let p = 0; p < PAGES; p++) mmu.read64(base + p * 4096);

    // raw-read: straight from the machine's physical-memory typed array, at the physical
    // addresses the TLB-hit loop below reaches — the same data, the same address list (doubles),
    // two 32-bit loads per 8-byte read, no translation. The limit of any emulated access.
    {
      const u32 = m.mem.u32;
      const pas = new Float64Array(ADDRS);
      for (let i = 0; i < ADDRS; i++) pas[i] = frameOf[pageOf[i]!]! + offOf[i]!;
      const r = measure((n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const k = pas[i & (ADDRS - 1)]! >>> 2;
          s = (s + u32[k]! + u32[k + 1]!) | 0;
        }
        return s;
      });
      rows.push({ id: 'raw-read', unit: 'M reads/s', value: r.perSecond / 1e6, description: '8-byte reads straight from the physical-memory Uint32Array' });
      ctx.progress('raw-read');
    }

    // tlb-hit-read: the same reads by linear address through the MMU, every page TLB-resident.
    {
      const vas = new Float64Array(ADDRS);
      for (let i = 0; i < ADDRS; i++) vas[i] = base + pageOf[i]! * 4096 + offOf[i]!;
      const missesBefore = m.stats.get('cpu0.tlb.misses');
      const r = measure((n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          s = (s + mmu.read64(vas[i & (ADDRS - 1)]!) + mmu.hi) | 0;
        }
        return s;
      });
      const misses = m.stats.get('cpu0.tlb.misses') - missesBefore;
      rows.push({
        id: 'tlb-hit-read', unit: 'M reads/s', value: r.perSecond / 1e6,
        description: `8-byte reads through the MMU, random over ${PAGES} TLB-resident pages`,
        counts: { tlbMissesDuringRun: misses },
      });
      const raw = rows[0]!.value!;
      rows.push({ id: 'tlb-hit-read/raw-read', unit: 'ratio', value: (r.perSecond / 1e6) / raw, note: 'target ≥ 0.33' });
      ctx.progress('tlb-hit-read');
    }

    // walk-4level and walk-2d: random pages out of 2^16 mapped ones, so nearly every access
    // misses the 512-entry TLB and walks.
    const WALK_PAGES = 1 << 16;
    const vbase = 0x80_0000_0000;
    const order = new Float64Array(1 << 16);
    const rw = xorshift(777);
    for (let i = 0; i < order.length; i++) order[i] = vbase + (rw() % WALK_PAGES) * 4096;
    const walkBench = (twoD: boolean): BenchRow => {
      // Cold walks: without paging-structure caches every walk starts at the root.
      const m = new Machine({ memory: 64 << 20, profile: ctx.profile, pagingStructureCaches: false });
      const boot = new LongModeBoot(m);
      const cpu = m.cpus[0]!;
      const frame = m.frames.alloc();
      for (let p = 0; p < WALK_PAGES; p++) boot.pt.map(vbase + p * 4096, frame, PTE_P | PTE_W);
      if (twoD) {
        const h = new VmxHarness(boot, cpu, { vpid: 1 });
        h.setup();
        h.launch(boot.pt.root, 0, boot.kernelStackTop, 0);
        cpu.step(); // executes VMLAUNCH: the CPU is now in the guest, with the EPT active
        if (!cpu.vmx.nonRoot) throw new Error('vtx bench: VMLAUNCH failed');
      }
      const mmu = cpu.mmu;
      const walks0 = m.stats.get('cpu0.mmu.walks');
      const refs0 = m.stats.get('cpu0.mmu.walkRefs');
      let total = 0;
      const r = measure((n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + mmu.read32(order[i & 0xffff]!)) | 0;
        total += n;
        return s;
      });
      const walks = m.stats.get('cpu0.mmu.walks') - walks0;
      const refs = m.stats.get('cpu0.mmu.walkRefs') - refs0;
      const walksPerSecond = r.perSecond * (walks / total);
      return {
        id: twoD ? 'walk-2d' : 'walk-4level', unit: 'M walks/s', value: walksPerSecond / 1e6,
        description: twoD ? 'cold two-dimensional walks (guest paging under EPT)' : 'cold 4-level walks',
        counts: { missRate: walks / total, refsPerWalk: refs / walks },
      };
    };
    rows.push(walkBench(false));
    ctx.progress('walk-4level');
    rows.push(walkBench(true));
    ctx.progress('walk-2d');
    return {
      suite: 'vtx', profile: ctx.profile, rows,
      meta: { node: process.version, measureSeconds: MEASURE_SECONDS, note: 'simulator speed (wall clock), not modelled cycles' },
    };
  }
}
