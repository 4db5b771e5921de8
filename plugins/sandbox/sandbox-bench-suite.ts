import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../core/bench/bench-suite.js';
import { CPU_BOUND_PROGRAMS, GUEST_BIN, ExecResult, System, vmExitCount } from '../../core/system/index.js';
import { PolicyLoader } from './policy-loader.js';
import { policyCostRow } from './policy-cost-row.js';
import { haveAb, httpdRows } from './httpd-rows.js';
import { LARGE_PAGE_STEPS, largePageRows } from './large-page-rows.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/** Dune Figure 3: the sandbox (null policy) on SPEC2000 is 2.93 % slower than Linux on average (papers.md §1.5). */
const PAPER_FIG3_MEAN = 2.93;
/** Dune Table 3, ptrace row: getpid intercepted and forwarded, ptrace vs Dune (papers.md §1.4). */
const PAPER_INTERPOSE = { linux: 27_317, dune: 1_091 };
/** getpid calls of examples/guest/syscalls for the interposition row. */
const INTERPOSE_CALLS = 2000;

/**
 * `dunesim bench sandbox`: the Figure 3 analogue. Each CPU-bound guest program runs as a plain
 * Linux process and in the sandbox under the null policy, on the same cost profile; the overhead
 * comes only from the mechanisms the sandbox adds (2-D walks through the EPT on every TLB miss,
 * EPT violations while the EPT fills lazily, the ring-0 runtime's system-call path and its VMCALL).
 * The guest programs are not SPEC2000, so only the mean sits beside the paper.
 */
@injectable()
export class SandboxBenchSuite implements BenchSuite {
  readonly id = 'sandbox';
  readonly description = 'the sandbox versus Linux: Figure 3 (CPU-bound programs, 4 KiB and 2 MiB pages), Table 3 ptrace row, a restricting policy three ways, Table 4 (httpd under ab)';
  readonly steps = CPU_BOUND_PROGRAMS.length + 2 + (haveAb() ? 4 : 0) + LARGE_PAGE_STEPS;

  constructor(
    @inject(System) private readonly system: System,
    @inject(PolicyLoader) private readonly policies: PolicyLoader,
  ) {}

  run(ctx: BenchContext): BenchResult {
    const fig3 = this.fig3Rows(ctx);
    const rows: BenchRow[] = [SandboxBenchSuite.meanRow(fig3), ...fig3];
    rows.push(...largePageRows(ctx, this.system, this.policies)); // Figure 3's w/ LGPG columns (large-page-rows.ts)
    rows.push(this.interposition(ctx));
    ctx.progress('interposition');
    rows.push(policyCostRow(ctx, this.system, this.policies)); // a non-null policy three ways (policy-cost-row.ts)
    ctx.progress('policy');
    // Table 4: the httpd under Apache's ab over real loopback TCP (httpd-rows.ts); needs ab.
    if (haveAb()) rows.push(...httpdRows(ctx.profile, this.system, this.policies, (step) => ctx.progress(step)));
    else process.stderr.write('dunesim: bench sandbox: ab (Debian package apache2-utils) is not installed; the Table 4 rows are left out\n');
    // The dune column of this suite is the sandbox (a Dune process); tables and charts say so.
    return { suite: this.id, profile: ctx.profile, rows, columns: { dune: 'sandbox' }, meta: { policy: 'null', programs: CPU_BOUND_PROGRAMS.map(([n]) => n) } };
  }

  /** Figure 3 with 4 KiB pages: every CPU-bound program both ways. */
  fig3Rows(ctx: BenchContext): BenchRow[] {
    return CPU_BOUND_PROGRAMS.map(([name, args]) => {
      const row = this.fig3Row(ctx, name, args);
      ctx.progress(name);
      return row;
    });
  }

  /** The mean slowdown over the Figure 3 rows, beside the paper's. */
  static meanRow(fig3: readonly BenchRow[]): BenchRow {
    const sum = fig3.reduce((a, row) => a + (row.dune! / row.linux! - 1) * 100, 0);
    return {
      id: 'fig3:mean-overhead',
      unit: '%',
      description: 'mean slowdown of the sandbox versus Linux (paper: SPEC2000, null policy)',
      dune: sum / fig3.length,
      paper: { dune: PAPER_FIG3_MEAN, source: 'Dune §6.3.1, Figure 3' },
    };
  }

  /** One program of Figure 3: a plain Linux process and the sandbox (null policy), whole runs. */
  fig3Row(ctx: BenchContext, name: string, args: readonly string[]): BenchRow {
    const path = join(GUEST_BIN, name);
    if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
    const common = { profile: ctx.profile, memory: 512 << 20, console: () => {} };
    const linux = checked(name, 'linux', this.system.exec(path, [...args], { ...common, mode: 'linux' }));
    const launcher = new SandboxLauncher(this.policies.load(undefined));
    const sandbox = checked(name, 'sandbox', this.system.exec(path, [...args], { ...common, mode: 'sandbox', launcher }));
    const lc = linux.stats.cycles as number;
    const sc = sandbox.stats.cycles as number;
    const overhead = (sc / lc - 1) * 100;
    const m = { ...mechanisms('linux', linux), ...mechanisms('sandbox', sandbox) };
    return {
      id: `fig3:${name}`,
      unit: 'cycles',
      description: `${name}: whole run, overhead ${overhead.toFixed(2)} %, TLB misses ${m['linux.tlbMisses']} / ${m['sandbox.tlbMisses']}, 2-D walks ${m['sandbox.walks2dSharePct']} % of the sandbox's`,
      linux: lc,
      dune: sc,
      counts: m,
    };
  }

  /**
   * Cycles per system call seen by the program: examples/guest/syscalls with N getpids minus with
   * none, divided by N. Linux's way of interposing is a ptrace supervisor (the program's parent,
   * PTRACE_SYSCALL: two stops and four context switches per call); the sandbox's is a ring-3
   * SYSCALL trapped in ring 0 without an exit, checked, and forwarded with one VMCALL — the two
   * columns of the paper's ptrace row. The plain call is a count, for scale.
   */
  interposition(ctx: BenchContext): BenchRow {
    const path = join(GUEST_BIN, 'syscalls');
    if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
    const common = { profile: ctx.profile, memory: 512 << 20, console: () => {} };
    const perCall = (mode: 'linux' | 'sandbox', extra: string[]): { cycles: number; exits: number } => {
      const at = (n: number): ExecResult => {
        const launcher = mode === 'sandbox' ? new SandboxLauncher(this.policies.load(undefined)) : undefined;
        return checked('syscalls', mode, this.system.exec(path, [String(n), ...extra], { ...common, mode, launcher }));
      };
      const base = at(0);
      const full = at(INTERPOSE_CALLS);
      return {
        cycles: ((full.stats.cycles as number) - (base.stats.cycles as number)) / INTERPOSE_CALLS,
        exits: (vmExitCount(full) - vmExitCount(base)) / INTERPOSE_CALLS,
      };
    };
    const plain = perCall('linux', []);
    const ptrace = perCall('linux', ['ptrace']);
    const sandbox = perCall('sandbox', []);
    return {
      id: 'interpose:getpid',
      unit: 'cycles',
      description: 'one intercepted and forwarded getpid: Linux with a ptrace supervisor, the sandbox in ring 0 with VMCALL',
      linux: ptrace.cycles,
      dune: sandbox.cycles,
      paper: { ...PAPER_INTERPOSE, source: 'Dune §6.2, Table 3 (ptrace)' },
      columns: { linux: 'ptrace' },
      counts: { plainCallCycles: plain.cycles, 'sandbox.vmExitsPerCall': sandbox.exits },
    };
  }
}

function checked(name: string, mode: string, r: ExecResult): ExecResult {
  if (r.exitCode !== 0) throw new Error(`${name} exited with ${r.exitCode} under --mode ${mode}`);
  return r;
}

/** TLB misses, page walks and the memory references they made (2-D walks make many more), VM exits. */
function mechanisms(prefix: string, r: ExecResult): Record<string, number> {
  const s = r.stats as { tlb: { misses: number }; pageWalks: number; pageWalks2d: number; walkReferences: number; syscalls: number };
  return {
    [`${prefix}.tlbMisses`]: s.tlb.misses,
    [`${prefix}.pageWalks`]: s.pageWalks,
    [`${prefix}.walks2dSharePct`]: s.pageWalks > 0 ? Math.round((s.pageWalks2d / s.pageWalks) * 1e4) / 100 : 0,
    [`${prefix}.walkReferences`]: s.walkReferences,
    [`${prefix}.vmExits`]: vmExitCount(r),
    [`${prefix}.syscalls`]: s.syscalls,
  };
}
