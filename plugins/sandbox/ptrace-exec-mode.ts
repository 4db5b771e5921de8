import { inject, injectable } from 'inversify';
import { ExecLauncher, ExecMode } from '../../core/framework/exec-mode.js';
import { PolicyLoader } from './policy-loader.js';
import { PtraceLauncher } from './ptrace-launcher.js';

/** `dunesim exec --mode ptrace [--policy FILE] -- ELF [ARGS…]`: the same policies, the Linux way. */
@injectable()
export class PtraceExecMode implements ExecMode {
  readonly id = 'ptrace';
  readonly description = 'a plain Linux process under a ptrace supervisor (PTRACE_SYSCALL) enforcing a sandbox policy';
  readonly options = [{ flags: '--policy <file>', name: 'policy', description: 'sandbox policy (JSON, plugins/sandbox/POLICY.md; default: the null policy)' }];

  constructor(@inject(PolicyLoader) private readonly policies: PolicyLoader) {}

  prepare(options: Readonly<Record<string, unknown>>): ExecLauncher {
    const file = options['policy'];
    return new PtraceLauncher(this.policies.load(typeof file === 'string' ? file : undefined));
  }
}
