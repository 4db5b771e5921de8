import { LinuxExecMode, System } from '../../core/system/index.js';
import { DEFAULT_PROFILE } from '../../core/vtx/cost-model.js';
import { runWedgeProgram, type WedgeRun } from '../../plugins/wedge/wedge-programs.js';

export const system = new System([new LinuxExecMode()]);

/** A Wedge program on dunesim (linux mode: the Dune module is there for the dune implementation). */
export function wedge(name: string, args: string[]): WedgeRun {
  return runWedgeProgram(system, DEFAULT_PROFILE, name, args);
}
