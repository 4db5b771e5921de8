import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite, PaperFigure } from '../../bench/bench-suite.js';
import { appelDune, appelLinux, getpid, Measurement, pageFault, pageWalk, ptraceDune, ptraceLinux } from './dune-micro-workloads.js';
import { hasProgram, measureProgramRows, MicroProgram, ROW_SIZINGS } from './micro-programs.js';

/** Dune Tables 2 and 3 (papers.md §1.4); vm-lookup has no published figure. */
const PAPER: Record<string, PaperFigure> = {
  getpid: { linux: 138, dune: 895, source: 'Dune Table 2' },
  'page-fault': { linux: 2687, dune: 5093, source: 'Dune Table 2' },
  'page-walk': { linux: 35.8, dune: 86.4, source: 'Dune Table 2' },
  ptrace: { linux: 27317, dune: 1091, source: 'Dune Table 3' },
  'ptrace-sysemu': { linux: 13592, source: 'Dune §6.2 (PTRACE_SYSEMU, intercept without forwarding)' },
  'syscall-trap': { dune: 180, source: 'Dune §6.2 (hardware syscall trap, no forwarding)' },
  'vm-lookup': { source: 'none (the page-table walk inside the Appel handlers)' },
  trap: { linux: 2821, dune: 587, source: 'Dune Table 3' },
  appel1: { linux: 701413, dune: 94496, source: 'Dune Table 3' },
  appel2: { linux: 684909, dune: 94854, source: 'Dune Table 3' },
};

const ROW_IDS = ['getpid', 'page-fault', 'page-walk', 'ptrace', 'ptrace-sysemu', 'syscall-trap', 'vm-lookup', 'trap', 'appel1', 'appel2'] as const;
type RowId = (typeof ROW_IDS)[number];

const DESCRIPTION: Record<RowId, string> = {
  getpid: 'getpid round trip: SYSCALL (Linux) vs VMCALL (Dune)',
  'page-fault': 'first write to a page of a fresh anonymous mapping, faulted in through the kernel',
  'page-walk': 'what a TLB miss adds to a read: random reads over 2^16 pages less the same reads over 16 (counts per read of the three passes)',
  ptrace: 'getpid intercepted and forwarded: ptrace (Linux) vs ring-3 SYSCALL trapped in ring 0 + VMCALL (Dune)',
  'ptrace-sysemu': 'getpid intercepted without forwarding (PTRACE_SYSEMU)',
  'syscall-trap': 'ring-3 SYSCALL trapped by libDune in ring 0 and returned, no forwarding',
  'vm-lookup': 'libDune\'s software page walk: dune_vm_lookup of a mapped page, as each Appel handler calls it',
  trap: 'write to a protected page to the handler\'s first instruction: SIGSEGV (Linux) vs hardware #PF in ring 0 (Dune)',
  appel1: 'TRAP+PROT1+UNPROT, cycles per 100-page pass',
  appel2: 'PROTN+TRAP+UNPROT, cycles per 100-page pass',
};

/** The rows each C program prints (bench/micro/bench_linux.c and bench_dune.c), by the sizing that runs them. */
const PROGRAM_SIZINGS: Record<MicroProgram, readonly string[]> = {
  bench_linux: ['getpid', 'page-fault', 'page-walk', 'ptrace', 'ptrace-sysemu', 'appel1', 'appel2'],
  bench_dune: ['getpid', 'page-fault', 'page-walk', 'ptrace', 'syscall-trap', 'vm-lookup', 'appel1', 'appel2'],
};

/** The TypeScript workloads (dune-micro-workloads.ts), each row both ways where it has both. */
function workloads(p: string, progress: (label: string) => void): Map<RowId, { linux?: Measurement; dune?: Measurement }> {
  const w = new Map<RowId, { linux?: Measurement; dune?: Measurement }>();
  w.set('getpid', { linux: getpid(p, false), dune: getpid(p, true) });
  w.set('page-fault', { linux: pageFault(p, false), dune: pageFault(p, true) });
  w.set('page-walk', { linux: pageWalk(p, false), dune: pageWalk(p, true) });
  w.set('ptrace', { linux: ptraceLinux(p, false), dune: ptraceDune(p) });
  w.set('ptrace-sysemu', { linux: ptraceLinux(p, true) });
  w.set('syscall-trap', { dune: ptraceDune(p, 2000, false) });
  const al = appelLinux(p);
  const ad = appelDune(p);
  w.set('trap', { linux: al.trap, dune: ad.trap });
  w.set('appel1', { linux: al.appel1, dune: ad.appel1 });
  w.set('appel2', { linux: al.appel2, dune: ad.appel2 });
  progress('TypeScript workloads');
  return w;
}

/**
 * `dunesim bench dune-micro`: the microbenchmarks of Dune Tables 2 and 3. The model's figures are
 * what the C programs of bench/micro measure with RDTSC on the machine model — bench_linux as an
 * ordinary process, bench_dune inside Dune through libDune for C — and the TypeScript workloads of
 * dune-micro-workloads.ts, which build the same paths from native ops, stand beside them as a
 * cross-check. Hardware primitives come from Table 2 and documented latencies, Linux kernel paths
 * from the Linux columns; every Dune figure is a prediction of the same primitives
 * (docs/bench/dune-micro.md explains each row).
 */
@injectable()
export class DuneMicroSuite implements BenchSuite {
  readonly id = 'dune-micro';
  readonly description = 'Dune Tables 2 and 3: getpid, page fault, page walk, ptrace, trap, appel1, appel2 (Linux vs Dune), measured by C programs with RDTSC';
  readonly steps = PROGRAM_SIZINGS.bench_linux.length + PROGRAM_SIZINGS.bench_dune.length + 1;

  run(ctx: BenchContext): BenchResult {
    const p = ctx.profile;
    const measured: Record<MicroProgram, Map<string, Measurement>> = { bench_linux: new Map(), bench_dune: new Map() };
    for (const program of ['bench_linux', 'bench_dune'] as const) {
      const present = hasProgram(program);
      for (const sizing of PROGRAM_SIZINGS[program]) {
        if (present) for (const [id, m] of measureProgramRows(p, program, ROW_SIZINGS[sizing]!)) measured[program].set(id, m);
        ctx.progress(`${program} ${sizing}${present ? '' : ' (not built)'}`);
      }
    }
    const ts = workloads(p, ctx.progress);
    const rows: BenchRow[] = [];
    for (const id of ROW_IDS) {
      const linux = measured.bench_linux.get(id);
      const dune = measured.bench_dune.get(id);
      const check = ts.get(id) ?? {};
      const counts: Record<string, number> = {};
      for (const [k, v] of Object.entries(linux?.counts ?? {})) counts[`linux.${k}`] = v;
      for (const [k, v] of Object.entries(dune?.counts ?? {})) counts[`dune.${k}`] = v;
      // Where the two differ by more than 2 %, docs/bench/dune-micro.md says why (the note stays
      // free for what explains the figure itself).
      const crossCheck: PaperFigure | undefined = check.linux !== undefined || check.dune !== undefined
        ? { linux: check.linux?.cycles, dune: check.dune?.cycles, source: 'core/dune/bench/dune-micro-workloads.ts' }
        : undefined;
      const row: BenchRow = { id, unit: 'cycles', description: DESCRIPTION[id], linux: linux?.cycles, dune: dune?.cycles, paper: { ...PAPER[id] }, ...(crossCheck ? { crossCheck } : {}), ...(Object.keys(counts).length > 0 ? { counts } : {}) };
      if (id === 'trap') row.note = 'timed inside the appel1 passes, from before each faulting write to the handler\'s first instructions: its mechanism counts are appel1\'s';
      // Without bench_dune's binary the Dune column is the workload's, and says so.
      if (dune === undefined && check.dune !== undefined) {
        row.dune = check.dune.cycles;
        row.note = 'Dune column from the TypeScript workload: bench/micro/bin/bench_dune is not built';
      }
      rows.push(row);
    }
    return {
      suite: this.id,
      profile: p,
      rows,
      meta: { programs: 'bench/micro/bin/bench_linux, bench/micro/bin/bench_dune', crossCheck: 'core/dune/bench/dune-micro-workloads.ts' },
    };
  }
}
