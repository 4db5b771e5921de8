import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { injectable } from 'inversify';
import { BenchContext, BenchResult, BenchRow, BenchSuite } from '../../bench/bench-suite.js';
import { loadProfile } from '../../vtx/cost-model.js';
import { execElf } from '../../system/exec-elf.js';
import { GUEST_BIN } from '../../system/guest-programs.js';
import type { ExecResult } from '../../system/run-elf.js';

/** Pages each side of a context-switch row reads between two switches (lmbench lat_ctx -s). */
export const CTXSW_PAGES = 16;

/** One measured workload of examples/guest/threadbench: its arguments after N, the machine, the sizes. */
interface Workload {
  id: string;
  description: string;
  /** threadbench MODE. */
  mode: string;
  /** Arguments after N. */
  extra: string[];
  cpus: number;
  pcid?: boolean;
  /** Operations per unit of N (a round trip of futex-wake and ctxsw is two wake-ups / switches). */
  perN: number;
  /** The two values of N; the row is the difference of the runs over the difference of the operations. */
  n: readonly [number, number];
  /** Dune Table 5 (papers.md §1.7), Linux row, in µs (converted to cycles at the profile's clock). */
  paperUs?: number;
}

const TABLE5 = 'Dune Table 5, fork (Linux) row';

export const THREADS_WORKLOADS: readonly Workload[] = [
  {
    id: 'create:pthread', mode: 'create-pthread', extra: [], cpus: 1, perN: 1, n: [20, 60],
    description: 'pthread_create + pthread_join of a thread that returns at once (clone with CLONE_VM|CLONE_THREAD…, a mmap\'d stack, futex join)',
  },
  {
    id: 'create:fork', mode: 'create-fork', extra: [], cpus: 1, perN: 1, n: [20, 60], paperUs: 81,
    description: 'fork + _exit in the child + waitpid (copy-on-write page tables of a small static program; the paper forks a larger one)',
  },
  {
    id: 'create:vfork-exec', mode: 'create-vfork-exec', extra: [], cpus: 1, perN: 1, n: [20, 60],
    description: 'vfork + execve of the same program ("exit") + waitpid: no page-table copy, a fresh image',
  },
  {
    id: 'futex-wake:same-cpu', mode: 'futex-wake', extra: ['0', '0'], cpus: 2, perN: 2, n: [100, 300],
    description: 'a token handed between two threads on one CPU through FUTEX_WAKE / FUTEX_WAIT: per hand-off (a wake and a thread switch)',
  },
  {
    id: 'futex-wake:cross-cpu', mode: 'futex-wake', extra: ['0', '1'], cpus: 2, perN: 2, n: [100, 300],
    description: 'the same between two threads pinned to CPUs 0 and 1: per hand-off (a wake, the reschedule IPI, an idle CPU resuming)',
  },
  {
    id: 'shootdown:1cpu', mode: 'shootdown', extra: ['0'], cpus: 1, perN: 1, n: [40, 120],
    description: 'mprotect of one page of a threaded process, nobody else running it: the local flush only',
  },
  {
    id: 'shootdown:2cpus', mode: 'shootdown', extra: ['1'], cpus: 2, perN: 1, n: [40, 120],
    description: 'the same with a thread of the process spinning on 1 other CPU: one call-function IPI per change',
  },
  {
    id: 'shootdown:4cpus', mode: 'shootdown', extra: ['3'], cpus: 4, perN: 1, n: [40, 120],
    description: 'the same with threads spinning on 3 other CPUs: the IPIs go out together, the initiator waits once',
  },
  {
    id: 'ctxsw:thread', mode: 'ctxsw-thread', extra: [String(CTXSW_PAGES)], cpus: 1, perN: 2, n: [100, 300],
    description: `switch between two threads of one process on one CPU (futex hand-off, ${CTXSW_PAGES} pages read per turn): no CR3 load`,
  },
  {
    id: 'ctxsw:process', mode: 'ctxsw-process', extra: [String(CTXSW_PAGES)], cpus: 1, perN: 2, n: [100, 300], paperUs: 0.49,
    description: `switch between two processes on one CPU (futex in a shared page, ${CTXSW_PAGES} pages read per turn): CR3 load and TLB flush (Linux 3.2)`,
  },
  {
    id: 'ctxsw:thread+pcid', mode: 'ctxsw-thread', extra: [String(CTXSW_PAGES)], cpus: 1, pcid: true, perN: 2, n: [100, 300],
    description: 'ctxsw:thread with PCIDs (Linux 4.14+): unchanged, threads share the address space anyway',
  },
  {
    id: 'ctxsw:process+pcid', mode: 'ctxsw-process', extra: [String(CTXSW_PAGES)], cpus: 1, pcid: true, perN: 2, n: [100, 300],
    description: 'ctxsw:process with PCIDs (Linux 4.14+): CR3 bit 63 set, each process finds its TLB entries still there',
  },
];

/** The mechanism counts of a run that explain a row, by the names the row reports them under. */
function mechanisms(r: ExecResult): Record<string, number> {
  const s = r.stats as { syscalls: number; tlb: { misses: number }; scheduler: Record<string, number> };
  const sch = s.scheduler;
  return {
    contextSwitches: sch['contextSwitches']!,
    ipis: sch['ipis']!,
    wakeIpis: sch['wakeIpis']!,
    tlbShootdowns: sch['tlbShootdowns']!,
    cr3Loads: sch['mmSwitches']!,
    cr3LoadsNoFlush: sch['mmSwitchesNoFlush']!,
    tlbFlushes: sch['tlbFlushes']!,
    tlbMisses: s.tlb.misses,
    futexCalls: sch['futexCalls']!,
    syscalls: s.syscalls,
  };
}

/** Runs examples/guest/threadbench MODE N EXTRA… as a Linux process; throws unless it exits 0. */
export function runThreadbench(profile: string, w: Workload, n: number): ExecResult {
  const path = join(GUEST_BIN, 'threadbench');
  if (!existsSync(path)) throw new Error(`guest program ${path} is missing`);
  // The guest's root is the binaries' directory, so that the vfork child can exec /threadbench.
  const r = execElf(path, [w.mode, String(n), ...w.extra], {
    mode: 'linux', profile, memory: 256 << 20, cpus: w.cpus, pcid: w.pcid, root: GUEST_BIN, argv0: '/threadbench', envp: [],
    console: () => {}, report: () => {},
  });
  if (r.exitCode !== 0) throw new Error(`threadbench ${w.mode} ${n} exited with ${r.exitCode}`);
  return r;
}

/** One row: two runs, their difference per operation (cycles and every count). */
export function measureWorkload(profile: string, w: Workload): BenchRow {
  const [n1, n2] = w.n;
  const a = runThreadbench(profile, w, n1);
  const b = runThreadbench(profile, w, n2);
  const ops = (n2 - n1) * w.perN;
  const ma = mechanisms(a);
  const mb = mechanisms(b);
  const counts: Record<string, number> = {};
  for (const k of Object.keys(ma)) counts[k] = round2((mb[k]! - ma[k]!) / ops);
  const cycles = ((b.stats.cycles as number) - (a.stats.cycles as number)) / ops;
  const clockHz = loadProfile(profile).clockHz;
  return {
    id: w.id,
    unit: 'cycles',
    description: w.description,
    linux: cycles,
    ...(w.paperUs !== undefined ? { paper: { linux: Math.round(w.paperUs * clockHz / 1e4) / 100, source: `${TABLE5} (${w.paperUs} µs)` } } : {}),
    counts,
    note: `${w.cpus} CPU${w.cpus > 1 ? 's' : ''}${w.pcid ? ', PCID' : ''}; per operation, from runs of N = ${n1} and ${n2}`,
  };
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * `dunesim bench threads`: thread and process creation, futex wake-ups on one CPU and across
 * two, TLB shootdowns by CPU count, and context switches between threads and between processes
 * with and without PCIDs. Every row is the Linux model running examples/guest/threadbench (a
 * musl C program) twice with different repetition counts: the cycles and mechanism counts per
 * operation are the difference, so start-up and exit cancel out. Where the Dune paper gives a
 * Linux figure (Table 5's fork row) it stands beside the model's.
 */
@injectable()
export class ThreadsBenchSuite implements BenchSuite {
  readonly id = 'threads';
  readonly description = 'pthread create vs fork vs vfork+exec, futex wake-ups on one and across CPUs, TLB shootdowns on 1/2/4 CPUs, thread vs process context switches with and without PCID';
  readonly steps = THREADS_WORKLOADS.length;

  run(ctx: BenchContext): BenchResult {
    const rows: BenchRow[] = [];
    for (const w of THREADS_WORKLOADS) {
      rows.push(measureWorkload(ctx.profile, w));
      ctx.progress(w.id);
    }
    return {
      suite: this.id,
      profile: ctx.profile,
      rows,
      meta: { program: 'examples/guest/threadbench', kernel: 'Linux model (3.2 scheduler and TLB flushing; PCID rows switch_mm as 4.14)', ctxswPages: CTXSW_PAGES },
    };
  }
}
