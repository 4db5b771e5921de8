import { ExecOptions, ExecResult, execElf } from '../../core/cli/exec-command.js';
import { NULL_POLICY, SandboxPolicy } from './sandbox-policy.js';
import { PtraceLauncher } from './ptrace-launcher.js';

export interface PtracedResult extends ExecResult {
  /** The run's launcher: its reporter's events, the supervisor's counts, the watchdog. */
  launcher: PtraceLauncher;
}

/** execElf in ptrace mode with a policy (for tests and scripts; the CLI goes through PtraceExecMode). */
export function execPtraced(path: string, args: string[], opts: Omit<ExecOptions, 'mode' | 'launcher'> & { policy?: SandboxPolicy }): PtracedResult {
  const launcher = new PtraceLauncher(opts.policy ?? NULL_POLICY);
  const r = execElf(path, args, { ...opts, mode: 'ptrace', launcher });
  return { ...r, launcher };
}
