import type { DsmRun } from './dsm-cluster.js';
import { totalStat } from './dsm-cluster.js';

/** The programs `dunesim run dsm/<program>` runs, and the arguments the bench gives them. */
export const DSM_PROGRAMS = ['jacobi', 'matmul', 'mergesort', 'falseshare'] as const;
export type DsmProgram = (typeof DSM_PROGRAMS)[number];

export const BENCH_ARGS: Record<DsmProgram, string[]> = {
  jacobi: ['1024', '4'],      // 1024 rows of 1024 cells (a page a row), 4 iterations
  matmul: ['192'],            // 192 x 192 integers, 32 x 32 blocks
  mergesort: ['131072'],      // 128 pages of integers
  falseshare: ['2000'],       // 2000 additions split among the nodes
};

export const DESCRIPTION: Record<DsmProgram, string> = {
  jacobi: 'Jacobi relaxation, 1024 x 1024 integer grid (a page per row), 4 iterations',
  matmul: 'blocked matrix multiply, 192 x 192 integers',
  mergesort: 'parallel merge sort of 131072 integers (local sorts, then a merge tree)',
  falseshare: 'false sharing: 2000 additions to per-node counters on one page',
};

/** A run's coherence traffic and faults, summed over the nodes, and per fault. */
export function traffic(r: DsmRun): Record<string, number> {
  const faults = totalStat(r, 'read_faults') + totalStat(r, 'write_faults');
  const msgs = totalStat(r, 'coherence_msgs');
  const bytes = totalStat(r, 'coherence_bytes');
  return {
    readFaults: totalStat(r, 'read_faults'),
    writeFaults: totalStat(r, 'write_faults'),
    pagesSent: totalStat(r, 'pages_sent'),
    invalidations: totalStat(r, 'invalidations_sent'),
    coherenceMsgs: msgs,
    coherenceBytes: bytes,
    msgsPerFault: faults > 0 ? round(msgs / faults, 3) : 0,
    bytesPerFault: faults > 0 ? Math.round(bytes / faults) : 0,
    allMsgs: totalStat(r, 'msgs_sent'),
    frames: r.frames,
  };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
