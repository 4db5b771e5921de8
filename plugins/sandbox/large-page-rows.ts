import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BenchContext, BenchRow } from '../../core/bench/bench-suite.js';
import { GUEST_BIN, ExecResult, System, vmExitCount } from '../../core/system/index.js';
import { loadProfile } from '../../core/vtx/cost-model.js';
import { PolicyLoader } from './policy-loader.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/**
 * Figure 3's large-page columns (papers.md §1.5): "With 2 MB large pages, both in the EPT and in
 * the user page table, large mmap allocations are intercepted and backed by large pages. This is
 * compared against Linux using libhugetlbfs identically." Means over SPEC2000, % versus plain
 * Linux: sandbox w/ LGPG −3.82, Linux w/ LGPG −3.71 ("within 0.1 %").
 */
export const PAPER_LGPG = { linux: -3.71, dune: -3.82 };

/**
 * The programs and sizes of the large-page rows. Large pages only matter for memory that is in
 * large mmaps (musl's malloc takes a block of 128 KiB or more with mmap; the runs intercept those
 * of 2 MiB or more) and whose working set outgrows the TLB's reach with 4 KiB pages (512 entries,
 * 2 MiB). The sieve gets an 8 MB table (7.6 MiB: TLB misses on every sweep, the mcf of our set);
 * crc32 keeps its 4 MiB buffer (read sequentially: compulsory misses and EPT fills only); matmul
 * (576 KiB of matrices) and qsort (40 KB) have no large mmap at their sizes, like the SPEC programs
 * whose bars do not move — bigger inputs would cost minutes of emulation (matmul is cubic).
 */
export const LGPG_PROGRAMS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['sieve', ['8000000']],
  ['crc32', []],
  ['matmul', []],
  ['qsort', []],
];

type Config = 'linux' | 'linuxLgpg' | 'sandbox' | 'sandboxLgpg';
const CONFIGS: readonly Config[] = ['linux', 'linuxLgpg', 'sandbox', 'sandboxLgpg'];

/** Steps the rows report through ctx.progress (one per program). */
export const LARGE_PAGE_STEPS = LGPG_PROGRAMS.length;

/**
 * TLB misses, walks and the share of them that are two-dimensional (guest paging under EPT: up to
 * 24 references each, SDM Vol. 3C §29.3 / Bhargava et al.), the cycles of all walk references,
 * and the 2 MiB leaves written into the host page table, the EPT and the guest page table.
 */
export function walkCounts(prefix: string, r: ExecResult, walkRefCycles: number): Record<string, number> {
  const s = r.stats as {
    cycles: number; tlb: { misses: number }; pageWalks: number; pageWalks2d: number; walkReferences: number;
    largeLeaves: { host: number; ept: number; guest: number };
  };
  const pct = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 1e4) / 100 : 0);
  return {
    [`${prefix}.tlbMisses`]: s.tlb.misses,
    [`${prefix}.walks2dSharePct`]: pct(s.pageWalks2d, s.pageWalks),
    [`${prefix}.refsPerWalk`]: s.pageWalks > 0 ? Math.round((s.walkReferences / s.pageWalks) * 100) / 100 : 0,
    [`${prefix}.walkCyclesPct`]: pct(s.walkReferences * walkRefCycles, s.cycles),
    [`${prefix}.largeLeaves.host`]: s.largeLeaves.host,
    [`${prefix}.largeLeaves.ept`]: s.largeLeaves.ept,
    [`${prefix}.largeLeaves.guest`]: s.largeLeaves.guest,
  };
}

/** Cycles of one page-walk memory reference on `profile` (for the walk-cycle share). */
export function walkRefCycles(profile: string): number {
  const c = (loadProfile(profile) as unknown as { constants: Record<string, { value: number }> }).constants;
  return c['walkRef']?.value ?? 0;
}

/**
 * The fig3-lgpg rows: each program four times on the same profile — Linux, Linux with the
 * libhugetlbfs-like backing (`exec --huge-pages`: large anonymous mmaps on 2 MiB pages), the
 * sandbox (null policy), and the sandbox with large pages (the runtime asks the kernel for
 * MAP_HUGETLB and mirrors 2 MiB leaves into the guest page table; the Dune module maps 2 MiB EPT
 * leaves for 2 MiB host pages). The row's columns are the two large-page runs as % versus plain
 * Linux, the paper's convention; the counts hold every run's cycles and mechanisms.
 */
export function largePageRows(ctx: BenchContext, system: System, policies: PolicyLoader, programs: ReadonlyArray<readonly [string, readonly string[]]> = LGPG_PROGRAMS): BenchRow[] {
  const rows: BenchRow[] = [];
  const refCycles = walkRefCycles(ctx.profile);
  let sumLinux = 0;
  let sumSandbox = 0;
  let sumPlain = 0;
  for (const [name, args] of programs) {
    const path = join(GUEST_BIN, name);
    if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
    const runs = {} as Record<Config, ExecResult>;
    for (const cfg of CONFIGS) {
      const sandbox = cfg === 'sandbox' || cfg === 'sandboxLgpg';
      const large = cfg === 'linuxLgpg' || cfg === 'sandboxLgpg';
      const launcher = sandbox ? new SandboxLauncher(policies.load(undefined), { largePages: large }) : undefined;
      const r = system.exec(path, [...args], {
        profile: ctx.profile, memory: 512 << 20, console: () => {},
        mode: sandbox ? 'sandbox' : 'linux', launcher, hugePages: !sandbox && large,
      });
      if (r.exitCode !== 0) throw new Error(`${name} ${args.join(' ')} exited with ${r.exitCode} (${cfg})`);
      runs[cfg] = r;
    }
    const cycles = (c: Config): number => runs[c].stats.cycles as number;
    const vsLinux = (c: Config): number => (cycles(c) / cycles('linux') - 1) * 100;
    const misses = (c: Config): number => (runs[c].stats.tlb as { misses: number }).misses;
    const lg = vsLinux('linuxLgpg');
    const sg = vsLinux('sandboxLgpg');
    const plain = vsLinux('sandbox');
    sumLinux += lg;
    sumSandbox += sg;
    sumPlain += plain;
    const counts: Record<string, number> = {};
    for (const c of CONFIGS) {
      counts[`${c}.cycles`] = cycles(c);
      Object.assign(counts, walkCounts(c, runs[c], refCycles));
      if (c.startsWith('sandbox')) counts[`${c}.vmExits`] = vmExitCount(runs[c]);
    }
    counts['sandbox.vsLinuxPct'] = round2(plain);
    counts['gapPp'] = round2(sg - lg);
    rows.push({
      id: `fig3-lgpg:${name}`,
      unit: '% vs Linux',
      description: `${[name, ...args].join(' ')}: sandbox ${fmt(plain)} %, sandbox w/ LGPG ${fmt(sg)} %, Linux w/ LGPG ${fmt(lg)} % (vs Linux, 4 KiB pages); ` +
        `TLB misses ${misses('linux')} → ${misses('linuxLgpg')} (Linux), ${misses('sandbox')} → ${misses('sandboxLgpg')} (sandbox)`,
      linux: round2(lg),
      dune: round2(sg),
      counts,
    });
    ctx.progress(`${name} (large pages)`);
  }
  const n = programs.length;
  rows.unshift(
    {
      id: 'fig3-lgpg:mean',
      unit: '% vs Linux',
      description: `mean over the programs, % versus Linux with 4 KiB pages: Linux w/ LGPG (linux column), sandbox w/ LGPG (dune column); the sandbox with 4 KiB pages: ${fmt(sumPlain / n)} %`,
      linux: round2(sumLinux / n),
      dune: round2(sumSandbox / n),
      paper: { ...PAPER_LGPG, source: 'Dune §6.3.1, Figure 3 (SPEC2000 means, w/ LGPG)' },
    },
    {
      id: 'fig3-lgpg:mean-gap',
      unit: 'pp',
      description: 'sandbox w/ LGPG minus Linux w/ LGPG, mean (paper: "within 0.1 %")',
      dune: round2((sumSandbox - sumLinux) / n),
      paper: { dune: Math.round((PAPER_LGPG.dune - PAPER_LGPG.linux) * 100) / 100, source: 'Dune §6.3.1, Figure 3 means' },
    },
  );
  return rows;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
const fmt = (x: number): string => (x >= 0 ? '+' : '') + x.toFixed(2);
