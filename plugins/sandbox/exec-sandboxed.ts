import { ExecResult, RunOptions, runElf } from '../../core/system/index.js';
import { NULL_POLICY, SandboxPolicy } from './sandbox-policy.js';
import { SandboxLauncher } from './sandbox-launcher.js';

export interface SandboxedResult extends ExecResult {
  /** The run's launcher: its reporter's events, the runtime's counts, the watchdog. */
  launcher: SandboxLauncher;
}

/** runElf in sandbox mode with a policy (for tests and scripts; the CLI goes through SandboxExecMode). */
export function execSandboxed(path: string, args: string[], opts: RunOptions & { policy?: SandboxPolicy }): SandboxedResult {
  const launcher = new SandboxLauncher(opts.policy ?? NULL_POLICY);
  const r = runElf(path, args, { ...opts, mode: 'sandbox', launcher });
  return { ...r, launcher };
}
