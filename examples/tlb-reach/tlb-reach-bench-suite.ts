import { inject, injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { TlbSweep } from './tlb-sweep.js';

/** Region sizes in 4 KiB pages: within the 4 KiB TLB's reach, within the 2 MiB TLB's, beyond both. */
const REGIONS = [256, 4096, 32768];
const STRIDE = 64;

function mib(pages: number): string {
  return `${(pages * 4096) / (1 << 20)} MiB`;
}

/**
 * `dunesim bench tlb-reach`: 4 KiB against 2 MiB pages for a few region sizes. Both columns are
 * the same kind of process, so there is no linux/dune pair and no paper figure: the rows are
 * `value` rows, the walk rates first and the cycle costs after (the chart puts each unit on one
 * axis, so the two page sizes of a region sit side by side).
 */
@injectable()
export class TlbReachBenchSuite implements BenchSuite {
  readonly id = 'tlb-reach';
  readonly description = 'example plugin: TLB reach of 4 KiB vs 2 MiB pages over growing regions';
  readonly steps = REGIONS.length * 2;

  constructor(@inject(TlbSweep) private readonly sweep: TlbSweep) {}

  run(ctx: BenchContext): BenchResult {
    const walks: BenchRow[] = [];
    const cycles: BenchRow[] = [];
    for (const pages of REGIONS) {
      for (const large of [false, true]) {
        const r = this.sweep.run({ pages, large, stride: STRIDE, passes: 2, profile: ctx.profile });
        const id = `${mib(pages)} · ${large ? '2 MiB' : '4 KiB'} pages`;
        const counts = { tlbMisses: r.tlbMisses, walks: r.walks, refsPerWalk: r.walks > 0 ? r.walkRefs / r.walks : 0 };
        // A series per page size over the region size: the report draws it as a line chart.
        const series = { name: large ? '2 MiB pages' : '4 KiB pages', x: (pages * 4096) / (1 << 20), xUnit: 'region (MiB)' };
        walks.push({ id, unit: 'walks / 1000 accesses', value: (1000 * r.walks) / r.accesses, counts, series });
        cycles.push({ id, unit: 'cycles / access', value: r.cycles / r.accesses, series });
        ctx.progress(id);
      }
    }
    return {
      suite: this.id, profile: ctx.profile, rows: [...walks, ...cycles],
      meta: { stride: STRIDE, passes: 2, note: 'sequential sweep at CPL 3 after one warm-up pass; cycles include the 4-instruction loop' },
    };
  }
}
