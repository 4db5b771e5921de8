import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../framework/plugin-manifest.js';
import { execElf } from '../../system/exec-elf.js';
import type { ExecResult } from '../../system/run-elf.js';
import { Measurement } from './dune-micro-workloads.js';

/** bench/micro: the C programs of Dune Tables 2 and 3 and their committed binaries. */
export const MICRO_DIR = join(ROOT, 'bench', 'micro');
export const MICRO_BIN = join(MICRO_DIR, 'bin');

/** The two programs: bench_linux runs as an ordinary process, bench_dune enters Dune itself through /dev/dune. */
export type MicroProgram = 'bench_linux' | 'bench_dune';

/** One `row NAME CYCLES OPERATIONS` line of a program's output (bench/micro/bench.h). */
export interface ProgramRow {
  cycles: number;
  ops: number;
}

/** Thrown when a program fails or prints what bench.h's format does not allow. */
export class MicroProgramError extends Error {}

const ROW = /^row ([a-z0-9-]+) (-?[0-9]+(?:\.[0-9]+)?) ([0-9]+)$/;

/** The rows of a program's standard output; a line starting with `row ` that does not parse is an error. */
export function parseRows(text: string, program = 'program'): Map<string, ProgramRow> {
  const rows = new Map<string, ProgramRow>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('row ')) continue;
    const m = ROW.exec(line);
    if (m === null) throw new MicroProgramError(`${program}: malformed row line '${line}'`);
    const ops = Number(m[3]);
    if (ops === 0) throw new MicroProgramError(`${program}: row ${m[1]} over 0 operations`);
    if (rows.has(m[1]!)) throw new MicroProgramError(`${program}: row ${m[1]} printed twice`);
    rows.set(m[1]!, { cycles: Number(m[2]), ops });
  }
  return rows;
}

export interface ProgramRun {
  rows: Map<string, ProgramRow>;
  stats: ExecResult['stats'];
  output: string;
}

/** Whether the committed binary of `program` is there (bench_dune needs libDune for C to build). */
export function hasProgram(program: MicroProgram): boolean {
  return existsSync(join(MICRO_BIN, program));
}

/**
 * Runs bench/micro/bin/PROGRAM ARGS on a one-CPU machine of `profile` as an ordinary Linux
 * process and returns the rows it printed and the run's statistics. The kernel has the Dune
 * module loaded (/dev/dune), as the paper's machine had for both programs: bench_dune enters Dune
 * itself, as real libDune does.
 * A non-zero exit is an error carrying the program's output.
 */
export function runMicroProgram(profile: string, program: MicroProgram, args: readonly string[]): ProgramRun {
  const path = join(MICRO_BIN, program);
  if (!existsSync(path)) throw new MicroProgramError(`${path} is missing: build it with make -C bench/micro`);
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const r = execElf(path, [...args], {
    mode: 'linux', profile, memory: 1024 << 20, argv0: program, envp: [],
    console: (_fd, data) => chunks.push(decoder.decode(data)), report: (line) => chunks.push(line),
  });
  const output = chunks.join('');
  if (r.exitCode !== 0) throw new MicroProgramError(`${program} ${args.join(' ')} exited with ${r.exitCode}:\n${output}`);
  return { rows: parseRows(output, program), stats: r.stats, output };
}

/** The counters of a run that explain a row, by the names the rows report them under. */
export function mechanismCounts(stats: ExecResult['stats']): Record<string, number> {
  const s = stats as {
    instructions: number; syscalls: number; pageFaults: number; exceptions: number; walkReferences: number;
    tlb: { misses: number }; vmExits: Record<string, number>; scheduler: { contextSwitches: number };
  };
  let exits = 0;
  for (const v of Object.values(s.vmExits)) exits += v;
  return {
    instructions: s.instructions,
    syscalls: s.syscalls,
    exceptions: s.exceptions,
    pageFaults: s.pageFaults,
    contextSwitches: s.scheduler.contextSwitches,
    tlbMisses: s.tlb.misses,
    walkRefs: s.walkReferences,
    vmExits: exits,
    vmcallExits: s.vmExits['Vmcall'] ?? 0,
    eptViolationExits: s.vmExits['EptViolation'] ?? 0,
  };
}

/**
 * How a program's rows are sized: the option that scales them, and two sizes. The larger is the
 * paper's (bench.h's defaults), and its printed figure is the row's; the counts per operation are
 * the difference of the two runs, so that start-up, exit and the other rows' set-up cancel.
 */
export interface RowSizing {
  /** The rows one run prints, the first the one the counts belong to (trap is timed inside appel1's passes). */
  rows: readonly string[];
  option: '-n' | '-p' | '-w';
  sizes: readonly [number, number];
}

export const ROW_SIZINGS: Readonly<Record<string, RowSizing>> = {
  getpid: { rows: ['getpid'], option: '-n', sizes: [5000, 10000] },
  'page-fault': { rows: ['page-fault'], option: '-n', sizes: [5000, 10000] },
  'page-walk': { rows: ['page-walk'], option: '-w', sizes: [50000, 100000] },
  ptrace: { rows: ['ptrace'], option: '-n', sizes: [5000, 10000] },
  'ptrace-sysemu': { rows: ['ptrace-sysemu'], option: '-n', sizes: [5000, 10000] },
  'syscall-trap': { rows: ['syscall-trap'], option: '-n', sizes: [5000, 10000] },
  'vm-lookup': { rows: ['vm-lookup'], option: '-n', sizes: [5000, 10000] },
  appel1: { rows: ['appel1', 'trap'], option: '-p', sizes: [50, 100] },
  appel2: { rows: ['appel2'], option: '-p', sizes: [50, 100] },
};

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * Measures the rows of one sizing with `program`: the figure each row prints in the larger run,
 * and the mechanism counts per operation of the first row named (the others share its run).
 * `scale` divides both sizes (tests run the programs small).
 */
export function measureProgramRows(profile: string, program: MicroProgram, sizing: RowSizing, scale = 1): Map<string, Measurement> {
  const [a, b] = sizing.sizes.map((s) => Math.max(2, Math.round(s / scale))) as [number, number];
  const small = runMicroProgram(profile, program, [sizing.option, String(a), ...sizing.rows]);
  const large = runMicroProgram(profile, program, [sizing.option, String(b), ...sizing.rows]);
  const out = new Map<string, Measurement>();
  const ma = mechanismCounts(small.stats);
  const mb = mechanismCounts(large.stats);
  for (const [i, id] of sizing.rows.entries()) {
    const rs = small.rows.get(id);
    const rl = large.rows.get(id);
    if (rs === undefined || rl === undefined) throw new MicroProgramError(`${program} printed no row ${id}:\n${large.output}`);
    const counts: Record<string, number> = {};
    if (i === 0 && rl.ops > rs.ops) {
      for (const k of Object.keys(ma)) {
        const d = round2((mb[k]! - ma[k]!) / (rl.ops - rs.ops));
        if (d !== 0) counts[k] = d;
      }
    }
    out.set(id, { cycles: rl.cycles, counts });
  }
  return out;
}
