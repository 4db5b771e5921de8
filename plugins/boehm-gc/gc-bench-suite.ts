import { inject, injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite, PaperFigure } from '../../core/bench/bench-suite.js';
import { loadProfile } from '../../core/vtx/cost-model.js';
import { System } from '../../core/system/index.js';
import { GcRun, GcVariant, GcWorkload, runAppel, runGcProgram } from './gc-program.js';

/** Dune Table 6, execution time in ms (papers.md §1.8): Normal, and each Dune variant. */
const PAPER_MS: Record<'gcbench' | 'linkedlist' | 'hashmap' | 'xml', Record<'normal' | 'dune' | 'dune-tlb' | 'dune-dirty', number>> = {
  gcbench: { normal: 1224, dune: 1176, 'dune-tlb': 933, 'dune-dirty': 888 },
  linkedlist: { normal: 15983, dune: 16884, 'dune-tlb': 14234, 'dune-dirty': 11760 },
  hashmap: { normal: 14160, dune: 13715, 'dune-tlb': 11124, 'dune-dirty': 8391 },
  xml: { normal: 6663, dune: 7930, 'dune-tlb': 7474, 'dune-dirty': 6675 },
};

/**
 * The scale each workload runs at (the programs' defaults; docs/boehm-gc.md gives the factor
 * against the paper). xml10 is ten documents of 256 KiB, the paper's ten-file run made smaller.
 */
export const BENCH_SCALES: Record<GcWorkload, number> = { gcbench: 4, linkedlist: 1024, hashmap: 2048, xml: 1024, xml10: 256 };

const DUNE_VARIANTS = ['dune', 'dune-tlb', 'dune-dirty'] as const;

/** Appel & Li's primitives (programs/appel.c), operations per row. */
const APPEL_OPS = 1000;
const APPEL_ROWS: Record<string, { description: string; paper: PaperFigure }> = {
  trap: { description: 'TRAP: a store to a write-protected page, to the handler\'s first instruction (SIGSEGV vs ring-0 #PF)', paper: { linux: 2821, dune: 587, source: 'Dune Table 3 (trap)' } },
  prot1: { description: 'PROT1: write access taken from one page (mprotect vs PTE_W cleared + INVLPG)', paper: { source: 'Appel & Li Table 1 times 1991 machines in µs: no comparable figure' } },
  protn: { description: 'PROTN: write access taken from 100 pages in one call, per page (mprotect vs dune_vm_mprotect)', paper: { source: 'Appel & Li Table 1: no comparable figure' } },
  unprot: { description: 'UNPROT: write access given back to one page (mprotect vs PTE_W set + INVLPG)', paper: { source: 'Appel & Li Table 1: no comparable figure' } },
  dirty: { description: 'DIRTY: 10 of 100 pages written, the dirty list read and reset, per call (PROTN+TRAP+UNPROT vs dune_vm_harvest_dirty)', paper: { source: 'Appel & Li §2: no figure' } },
  map2: { description: 'MAP2: a page mapped read-only at a second address, read, unmapped (mremap of a shared mapping vs dune_vm_map_phys)', paper: { source: 'Appel & Li Table 1: no comparable figure' } },
};

const DESCRIPTION: Record<GcWorkload, string> = {
  gcbench: 'GCBench (Boehm\'s tree benchmark), depths reduced by 4',
  linkedlist: 'LinkedList: 32 lists of k x 1024 integers, each summed',
  hashmap: 'HashMap: open addressing, 10 rounds of 2048 keys updated 15 times',
  xml: 'XML: a 1 MiB publication-records document parsed to a tree, publications per author',
  xml10: 'XML: ten 256 KiB documents one after the other (the paper\'s ten-file run)',
};

/** What the row's counts hold: the collector's statistics of the Dune variant and of the Normal run. */
function counts(normal: GcRun, dune: GcRun): Record<string, number> {
  const c: Record<string, number> = {};
  for (const [k, v] of Object.entries(dune.gc)) if (!k.startsWith('verify')) c[k] = v;
  c['normal.faults'] = normal.gc.faults;
  c['normal.protect_calls'] = normal.gc.protect_calls;
  c['normal.collections'] = normal.gc.collections;
  return c;
}

/**
 * `dunesim bench boehm-gc`: Dune Table 6. Each workload of plugins/boehm-gc/programs runs once
 * per dirty-page layer of the collector (lib/gc.h) on a fresh machine: `linux` is the Normal run
 * (an ordinary process, mprotect and SIGSEGV), `dune` the variant's (the same binary entering
 * Dune from GC_init). Times are the programs' own TSC intervals at the profile's clock. The claim
 * under test is the ratio variant / Normal; every Dune figure is a prediction of the profile's
 * primitives, nothing is fitted to it. Every run must print the same result as the Normal run.
 */
@injectable()
export class GcBenchSuite implements BenchSuite {
  readonly id = 'boehm-gc';
  readonly description = 'Dune Table 6: a conservative collector\'s dirty-page tracking by mprotect+SIGSEGV vs Dune (page-table protection, INVLPG, dirty bits) on GCBench, LinkedList, HashMap, XML';
  readonly steps = 5 * 4 + 2;

  constructor(@inject(System) private readonly system: System) {}

  run(ctx: BenchContext): BenchResult {
    const exec = this.system.exec.bind(this.system);
    const hz = loadProfile(ctx.profile).clockHz;
    const ms = (cycles: number): number => Math.round((cycles / hz) * 1e6) / 1e3;
    const rows: BenchRow[] = [];
    for (const w of ['gcbench', 'linkedlist', 'hashmap', 'xml', 'xml10'] as const) {
      const run = (v: GcVariant): GcRun => {
        const r = runGcProgram(exec, ctx.profile, w, v, { scale: BENCH_SCALES[w] });
        ctx.progress(`${w}:${v}`);
        return r;
      };
      const normal = run('normal');
      for (const v of DUNE_VARIANTS) {
        const dune = run(v);
        if (dune.checksum !== normal.checksum) {
          throw new Error(`boehm-gc: ${w} printed ${dune.checksum} under ${v} but ${normal.checksum} under normal`);
        }
        const paper: PaperFigure = w === 'xml10'
          ? { source: 'Dune §6.3.3: ten 150 MB files, dirty-bit version 12.8 % faster than Normal (no times given)' }
          : { linux: PAPER_MS[w].normal, dune: PAPER_MS[w][v], source: 'Dune Table 6' };
        const ratio = dune.cycles / normal.cycles;
        rows.push({
          id: `${w}:${v}`,
          unit: 'ms',
          description: DESCRIPTION[w],
          linux: ms(normal.cycles),
          dune: ms(dune.cycles),
          paper,
          counts: counts(normal, dune),
          note: `${v}/normal ${ratio.toFixed(3)}${paper.linux !== undefined ? ` (paper ${(paper.dune! / paper.linux).toFixed(3)})` : ''}; allocated ${(normal.gc.bytes_allocated / 2 ** 20).toFixed(1)} MiB, heap ${(normal.gc.heap_size / 2 ** 20).toFixed(1)} MiB`,
        });
      }
    }
    rows.push(...this.appelRows(ctx));
    return {
      suite: this.id,
      profile: ctx.profile,
      rows,
      columns: { linux: 'normal / linux', dune: 'variant / dune' },
      meta: { programs: 'plugins/boehm-gc/programs/bin', scales: BENCH_SCALES, timing: 'TSC cycles from after GC_init to the end of the work, at the profile clock' },
    };
  }

  /** Appel & Li's primitives, the collector's building blocks, as a Linux process and inside Dune. */
  private appelRows(ctx: BenchContext): BenchRow[] {
    const exec = this.system.exec.bind(this.system);
    const linux = runAppel(exec, ctx.profile, 'linux', APPEL_OPS);
    ctx.progress('appel linux');
    const dune = runAppel(exec, ctx.profile, 'dune', APPEL_OPS);
    ctx.progress('appel dune');
    return Object.entries(APPEL_ROWS).map(([id, r]) => {
      const l = linux.rows.get(id);
      const d = dune.rows.get(id);
      const row: BenchRow = { id: `appel:${id}`, unit: 'cycles', description: r.description, linux: l?.cycles, dune: d?.cycles, paper: r.paper, columns: { linux: 'linux', dune: 'dune' } };
      if (l === undefined) row.note = 'no Linux figure: the Linux model refuses mremap with an old size of 0 (the second mapping of a shared page)';
      return row;
    });
  }
}
