import { installInterpreter, jitByDefault } from '../vtx/interp/interpreter.js';
import { Machine } from '../vtx/machine.js';
import type { ProfileFile } from '../vtx/cost-model.js';
import type { LlcGeometry } from '../vtx/last-level-cache.js';

export interface MachineOptions {
  /** A cost profile name (core/vtx/profiles), a path to one, or a loaded profile (calibration scripts pass modified copies). */
  profile: string | ProfileFile;
  /** Bytes of physical memory. */
  memory: number;
  /** CPUs (default 1). */
  cpus?: number;
  /** Model the paging-structure caches the profile describes (default true). */
  pagingStructureCaches?: boolean;
  /** Record the machine's events for a Chrome Trace Event file (`--trace`). */
  trace?: boolean;
  /** Translate hot guest blocks to JavaScript (core/vtx/jit); default on unless DUNESIM_JIT=0 or --no-jit. Figures are the same either way. */
  jit?: boolean;
  /** The last-level cache proxy's geometry in place of the profile's (null: none). */
  llc?: LlcGeometry | null;
}

/**
 * A machine that can run guest code: physical memory, CPUs with their MMUs and TLBs on the cost
 * profile, and the x86-64 interpreter on every CPU, so that real machine code runs beside the
 * natives (TypeScript at guest addresses). Everything that runs guest code builds its machine here.
 */
export function buildMachine(o: MachineOptions): Machine {
  const m = new Machine({
    memory: o.memory, profile: o.profile, cpus: o.cpus ?? 1,
    ...(o.pagingStructureCaches !== undefined ? { pagingStructureCaches: o.pagingStructureCaches } : {}),
    ...(o.llc !== undefined ? { llc: o.llc } : {}),
  });
  installInterpreter(m, o.jit ?? jitByDefault());
  if (o.trace === true) m.tracer.enabled = true;
  return m;
}
