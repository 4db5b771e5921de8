import { inject, injectable } from 'inversify';
import { ExecLauncher, ExecMode } from '../../core/framework/exec-mode.js';
import { HUGE_PAGES_OPTION } from '../../core/system/linux-exec-mode.js';
import { PolicyLoader } from './policy-loader.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/** `dunesim exec --mode sandbox [--policy FILE] -- ELF [ARGS…]`. */
@injectable()
export class SandboxExecMode implements ExecMode {
  readonly id = 'sandbox';
  readonly description = 'the Dune sandbox: the binary in guest ring 3 under a system-call policy';
  readonly options = [
    { flags: '--policy <file>', name: 'policy', description: 'sandbox policy (JSON, plugins/sandbox/POLICY.md; default: the null policy)' },
    // Large mmaps with 2 MiB pages in the host, the EPT and the guest page table.
    HUGE_PAGES_OPTION,
  ];

  constructor(@inject(PolicyLoader) private readonly policies: PolicyLoader) {}

  prepare(options: Readonly<Record<string, unknown>>): ExecLauncher {
    const file = options['policy'];
    return new SandboxLauncher(this.policies.load(typeof file === 'string' ? file : undefined), { largePages: options['hugePages'] === true });
  }
}
