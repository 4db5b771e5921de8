import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { appelDune, appelLinux, getpid, pageFault, pageWalk, ptraceDune, ptraceLinux } from './dune-micro-workloads.js';

/** Dune Tables 2 and 3 (papers.md §1.4). */
const PAPER = {
  getpid: { linux: 138, dune: 895, source: 'Dune Table 2' },
  'page-fault': { linux: 2687, dune: 5093, source: 'Dune Table 2' },
  'page-walk': { linux: 35.8, dune: 86.4, source: 'Dune Table 2' },
  ptrace: { linux: 27317, dune: 1091, source: 'Dune Table 3' },
  trap: { linux: 2821, dune: 587, source: 'Dune Table 3' },
  appel1: { linux: 701413, dune: 94496, source: 'Dune Table 3' },
  appel2: { linux: 684909, dune: 94854, source: 'Dune Table 3' },
  'ptrace-sysemu': { linux: 13592, source: 'Dune §6.2 (PTRACE_SYSEMU, intercept without forwarding)' },
  'syscall-trap': { dune: 180, source: 'Dune §6.2 (hardware syscall trap, no forwarding)' },
} as const;

/**
 * `dunesim bench dune-micro`: the microbenchmarks of Dune Tables 2 and 3, each run as a Linux
 * process and as a Dune process on the same machine model (bench/bench_linux.c and
 * bench/bench_dune.c). Hardware primitives come from Table 2 and documented latencies, Linux
 * kernel paths from the Linux columns; every Dune figure is a prediction of the same primitives.
 */
@injectable()
export class DuneMicroSuite implements BenchSuite {
  readonly id = 'dune-micro';
  readonly description = 'Dune Tables 2 and 3: getpid, page fault, page walk, ptrace, trap, appel1, appel2 (Linux vs Dune)';
  readonly steps = 8;

  run(ctx: BenchContext): BenchResult {
    const p = ctx.profile;
    const rows: BenchRow[] = [];
    const row = (id: keyof typeof PAPER, linux: { cycles: number; counts: Record<string, number> } | undefined, dune: { cycles: number; counts: Record<string, number> } | undefined, description: string): void => {
      const counts: Record<string, number> = {};
      for (const [k, v] of Object.entries(linux?.counts ?? {})) counts[`linux.${k}`] = v;
      for (const [k, v] of Object.entries(dune?.counts ?? {})) counts[`dune.${k}`] = v;
      rows.push({ id, unit: 'cycles', description, linux: linux?.cycles, dune: dune?.cycles, paper: { ...PAPER[id] }, counts });
    };
    row('getpid', getpid(p, false), getpid(p, true), 'getpid round trip: SYSCALL (Linux) vs VMCALL (Dune)');
    ctx.progress('getpid');
    row('page-fault', pageFault(p, false), pageFault(p, true), 'fault in a fresh anonymous page through the kernel');
    ctx.progress('page-fault');
    row('page-walk', pageWalk(p, false), pageWalk(p, true), 'page-walk cycles per memory reference, random over 2^16 pages');
    ctx.progress('page-walk');
    row('ptrace', ptraceLinux(p, false), ptraceDune(p), 'getpid intercepted and forwarded: ptrace (Linux) vs ring-3 trap + VMCALL (Dune)');
    ctx.progress('ptrace');
    row('ptrace-sysemu', ptraceLinux(p, true), undefined, 'getpid intercepted without forwarding (PTRACE_SYSEMU)');
    row('syscall-trap', undefined, ptraceDune(p, 2000, false), 'ring-3 SYSCALL trapped by libDune in ring 0 and returned, no forwarding');
    ctx.progress('ptrace-sysemu');
    const al = appelLinux(p);
    ctx.progress('appel linux');
    const ad = appelDune(p);
    ctx.progress('appel dune');
    row('trap', al.trap, ad.trap, 'fault to handler entry: SIGSEGV (Linux) vs hardware #PF in ring 0 (Dune)');
    row('appel1', al.appel1, ad.appel1, 'TRAP+PROT1+UNPROT, cycles per 100-page pass');
    row('appel2', al.appel2, ad.appel2, 'PROTN+TRAP+UNPROT, cycles per 100-page pass');
    ctx.progress('done');
    return { suite: this.id, profile: p, rows };
  }
}
