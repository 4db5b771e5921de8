import { ExecResult, RunOptions, runElf } from '../../core/system/index.js';
import { NULL_POLICY, SandboxPolicy } from './sandbox-policy.js';
import { PtraceLauncher } from './ptrace-launcher.js';

export interface PtracedResult extends ExecResult {
  /** The run's launcher: its reporter's events, the supervisor's counts, the watchdog. */
  launcher: PtraceLauncher;
}

/** runElf in ptrace mode with a policy (for tests and scripts; the CLI goes through PtraceExecMode). */
export function execPtraced(path: string, args: string[], opts: RunOptions & { policy?: SandboxPolicy }): PtracedResult {
  const launcher = new PtraceLauncher(opts.policy ?? NULL_POLICY);
  const r = runElf(path, args, { ...opts, mode: 'ptrace', launcher });
  return { ...r, launcher };
}
