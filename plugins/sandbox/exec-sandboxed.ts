import { ExecOptions, ExecResult, execElf } from '../../core/cli/exec-command.js';
import { NULL_POLICY, SandboxPolicy } from './sandbox-policy.js';
import { SandboxLauncher } from './sandbox-launcher.js';

export interface SandboxedResult extends ExecResult {
  /** The run's launcher: its reporter's events, the runtime's counts, the watchdog. */
  launcher: SandboxLauncher;
}

/** execElf in sandbox mode with a policy (for tests and scripts; the CLI goes through SandboxExecMode). */
export function execSandboxed(path: string, args: string[], opts: Omit<ExecOptions, 'mode' | 'launcher'> & { policy?: SandboxPolicy }): SandboxedResult {
  const launcher = new SandboxLauncher(opts.policy ?? NULL_POLICY);
  const r = execElf(path, args, { ...opts, mode: 'sandbox', launcher });
  return { ...r, launcher };
}
