import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../core/framework/plugin-manifest.js';
import type { ExecOptions } from '../../core/system/system.js';
import type { ExecResult } from '../../core/system/run-elf.js';
import { parseRows } from '../../core/dune/bench/micro-programs.js';

/** plugins/boehm-gc/programs: the Table 6 workloads, linked with lib/libgc.a (committed binaries). */
export const GC_PROGRAM_BIN = join(ROOT, 'plugins', 'boehm-gc', 'programs', 'bin');

export const GC_WORKLOADS = ['gcbench', 'linkedlist', 'hashmap', 'xml', 'xml10'] as const;
export type GcWorkload = (typeof GC_WORKLOADS)[number];

/** The collector's dirty-page layers (lib/gc.h), by their GC_VARIANT names. */
export const GC_VARIANTS = ['normal', 'dune', 'dune-tlb', 'dune-dirty'] as const;
export type GcVariant = (typeof GC_VARIANTS)[number];

/** The `gc NAME VALUE` statistics GC_print_stats prints. */
export const GC_STAT_NAMES = [
  'collections', 'full_collections', 'bytes_allocated', 'heap_size', 'dirty_pages', 'faults',
  'protect_calls', 'tlb_flushes', 'tlb_invlpg', 'verify_checks', 'verify_failures',
] as const;
export type GcStats = Record<(typeof GC_STAT_NAMES)[number], number>;

export interface GcRun {
  checksum: string;
  /** TSC cycles of the work, from after GC_init to the end (the program's own measurement). */
  cycles: number;
  gc: GcStats;
  stats: ExecResult['stats'];
  output: string;
  stderr: string;
}

/** A program that failed, or printed what workload.h's report does not allow. */
export class GcProgramError extends Error {}

export interface GcRunOptions {
  scale?: number;
  verify?: boolean;
  /** Extra environment (the tests' fault-injection switches). */
  env?: Record<string, string>;
  /** Bytes reserved for the heap (GC_MAXIMUM_HEAP_SIZE). */
  maxHeap?: number;
}

type Exec = (path: string, args: string[], opts: ExecOptions) => ExecResult;

/** Parses a workload's report (programs/workload.h). */
export function parseGcReport(text: string, program: string): { checksum: string; cycles: number; gc: GcStats } {
  let checksum: string | undefined;
  let cycles: number | undefined;
  const gc: Partial<GcStats> = {};
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    if (parts[0] === 'result' && parts.length === 2 && /^[0-9]+$/.test(parts[1]!)) checksum = parts[1];
    else if (parts[0] === 'cycles' && parts.length === 2 && /^[0-9]+$/.test(parts[1]!)) cycles = Number(parts[1]);
    else if (parts[0] === 'gc' && parts.length === 3 && (GC_STAT_NAMES as readonly string[]).includes(parts[1]!)) {
      gc[parts[1] as keyof GcStats] = Number(parts[2]);
    }
  }
  const missing = GC_STAT_NAMES.filter((n) => gc[n] === undefined || Number.isNaN(gc[n]));
  if (checksum === undefined || cycles === undefined || missing.length > 0) {
    throw new GcProgramError(`${program}: incomplete report (no ${[checksum === undefined ? 'result' : '', cycles === undefined ? 'cycles' : '', ...missing].filter(Boolean).join(', ')}):\n${text}`);
  }
  return { checksum, cycles, gc: gc as GcStats };
}

/**
 * Runs one workload under one GC_VARIANT on a fresh one-CPU machine of `profile`, as a Linux
 * process on a kernel with the Dune module loaded: the Dune variants enter Dune themselves from
 * GC_init (libDune for C, precise mode). A non-zero exit is an error carrying the output.
 */
export function runGcProgram(exec: Exec, profile: string, workload: GcWorkload, variant: GcVariant, opts: GcRunOptions = {}): GcRun {
  const program = workload === 'xml10' ? 'xml' : workload;
  const path = join(GC_PROGRAM_BIN, program);
  if (!existsSync(path)) throw new GcProgramError(`${path} is missing: build it with make -C plugins/boehm-gc/programs`);
  const args: string[] = [];
  if (workload === 'xml10') args.push('-files', '10');
  if (opts.scale !== undefined) args.push(String(opts.scale));
  // The same environment size under every variant: the stack then starts at the same address, so
  // the conservative scan of the stack sees the same words and the collections are the same.
  const envp = [`GC_VARIANT=${variant}`, `GC_PAD=${'x'.repeat(12 - variant.length)}`];
  if (opts.verify) envp.push('GC_VERIFY=1');
  if (opts.maxHeap !== undefined) envp.push(`GC_MAXIMUM_HEAP_SIZE=${opts.maxHeap}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) envp.push(`${k}=${v}`);
  let out = '';
  let err = '';
  const dec = new TextDecoder();
  const r = exec(path, args, {
    mode: 'linux', profile, memory: 1024 << 20, argv0: program, envp,
    console: (fd, data) => {
      if (fd === 1) out += dec.decode(data);
      else err += dec.decode(data);
    },
    report: (line) => {
      err += line;
    },
  });
  if (r.exitCode !== 0) throw new GcProgramError(`${program} ${args.join(' ')} (GC_VARIANT=${variant}) exited with ${r.exitCode}:\n${out}${err}`);
  return { ...parseGcReport(out, program), stats: r.stats, output: out, stderr: err };
}

/** The rows `programs/bin/appel linux|dune` prints (Appel & Li's primitives), cycles per operation. */
export function runAppel(exec: Exec, profile: string, mode: 'linux' | 'dune', n: number): { rows: Map<string, { cycles: number; ops: number }>; output: string } {
  const path = join(GC_PROGRAM_BIN, 'appel');
  if (!existsSync(path)) throw new GcProgramError(`${path} is missing: build it with make -C plugins/boehm-gc/programs`);
  let out = '';
  const dec = new TextDecoder();
  const r = exec(path, [mode, '-n', String(n)], {
    mode: 'linux', profile, memory: 512 << 20, argv0: 'appel', envp: [],
    console: (_fd, data) => {
      out += dec.decode(data);
    },
    report: (line) => {
      out += line;
    },
  });
  if (r.exitCode !== 0) throw new GcProgramError(`appel ${mode} -n ${n} exited with ${r.exitCode}:\n${out}`);
  return { rows: parseRows(out, `appel ${mode}`), output: out };
}
