/**
 * Scaffolding for the Dune tests: a machine with the Linux model and the Dune module, and Dune
 * processes written as chains of natives (CodeBuilder) — dune_init + dune_enter, then guest
 * ring-0 code, as core/dune/bench/dune-micro-workloads.ts builds them.
 *
 * A native is one instruction: a system call (SYSCALL in Linux mode, VMCALL in the guest) is its
 * last action and the result is in RAX at the next native. An EPT violation is resolved in place
 * (the native goes on), but a guest #PF abandons the native and runs it again after the handler's
 * IRET, so natives that may fault do their memory accesses before recording anything. JS closure
 * variables are shared by every process running the same code (after fork): per-process values
 * live in registers.
 */
import { CodeBuilder } from '../../core/vtx/code-builder.js';
import { Cpu, RAX } from '../../core/vtx/cpu.js';
import { Machine } from '../../core/vtx/machine.js';
import { NATIVE_STUB_LENGTH } from '../../core/vtx/native-code.js';
import { Kernel } from '../../core/linux/kernel.js';
import { STACK_TOP } from '../../core/linux/linux-abi.js';
import { Process } from '../../core/linux/task.js';
import { TraceEvent } from '../../core/tracer.js';
import { DuneModule } from '../../core/dune/dune-module.js';
import { LibDune } from '../../core/dune/libdune.js';

export const STUB = NATIVE_STUB_LENGTH;
/** Scratch memory inside the 8 MiB stack VMA (and the Dune stack window), far below RSP. */
export const SCRATCH = STACK_TOP - 0x10_0000;
/** A guest-only region for libDune's page-table API (pool pages; no host mapping of its own). */
export const GUEST_VA = 0x4000_0000_0000;

export interface Rig {
  m: Machine;
  k: Kernel;
  dune: DuneModule;
  /** What processes wrote to fds 1 and 2, in order. */
  out: Array<{ fd: number; text: string }>;
  stat(name: string): number;
  run(): void;
  /** The Dune module's 'leave <DUNE_RET>' trace events, as [ret name, status]. */
  leaves(): Array<[string, number]>;
}

export function rig(opts: { memory?: number; cpus?: number } = {}): Rig {
  const m = new Machine({ memory: opts.memory ?? 256 << 20, cpus: opts.cpus ?? 1 });
  const k = new Kernel(m);
  const dune = new DuneModule(k);
  const out: Rig['out'] = [];
  k.console = (fd, d) => out.push({ fd, text: new TextDecoder().decode(d) });
  m.tracer.enabled = true;
  return {
    m, k, dune, out,
    stat: (name) => m.stats.get(name),
    run: () => {
      k.start();
      k.run(1e11);
    },
    leaves: () => m.tracer.all()
      .filter((e: TraceEvent) => e.cat === 'dune' && e.name.startsWith('leave '))
      .map((e) => [e.name.slice(6), (e.args as { status: number }).status]),
  };
}

export interface DuneProc {
  p: Process;
  lib: LibDune;
  code: CodeBuilder;
}

/**
 * A Dune process: 'main' runs dune_init (full or precise), then the `host` natives (Linux mode,
 * ring 3), then dune_enter; `body` starts at the label 'guest' in guest ring 0.
 */
export function duneProcess(
  r: Rig,
  name: string,
  body: (c: CodeBuilder, lib: LibDune, p: Process) => void,
  opts: { full?: boolean; poolPages?: number; host?: (c: CodeBuilder, lib: LibDune) => void } = {},
): DuneProc {
  let lib!: LibDune;
  let code!: CodeBuilder;
  const p = r.k.spawn(name, (c, proc) => {
    code = c;
    lib = new LibDune(r.k, proc, { poolPages: opts.poolPages });
    c.op('main', (cpu) => lib.init(cpu, opts.full ?? true), 1);
    opts.host?.(c, lib);
    lib.emitEnter(c, 'dune_enter', 'guest');
    body(c, lib, proc);
    return 'main';
  });
  return { p, lib, code };
}

/** RAX as a signed number (a system call's result). */
export function rax(cpu: Cpu): number {
  return cpu.reg(RAX);
}

/** The vendor string of CPUID leaf 0 from EBX, EDX, ECX. */
export function vendor(ebx: number, edx: number, ecx: number): string {
  const s = (v: number): string => String.fromCharCode(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  return s(ebx) + s(edx) + s(ecx);
}
