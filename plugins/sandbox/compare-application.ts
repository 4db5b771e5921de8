import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { GUEST_BIN } from '../../core/cli/exec-bench-suite.js';
import { execElf, ExecResult, vmExitCount } from '../../core/cli/exec-command.js';
import { PolicyLoader } from './policy-loader.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/**
 * `dunesim run sandbox/compare [--program NAME | --elf PATH] [--policy FILE]`: one static binary
 * as a plain Linux process and in the sandbox, on the same machine model and profile. The
 * sandboxed run's output is shown; the figures set its cost beside Linux's and name the
 * mechanisms that make the difference (VM exits, references per page walk).
 */
@injectable()
export class CompareApplication implements Application {
  readonly plugin = 'sandbox';
  readonly id = 'compare';
  readonly description = 'a static binary as a Linux process and in the sandbox: cycles, overhead, mechanisms';
  readonly options = {
    program: 'a guest program of examples/guest/bin (default sieve)',
    elf: 'any static x86-64 binary instead',
    policy: 'sandbox policy file (default: the null policy)',
  };

  constructor(@inject(PolicyLoader) private readonly policies: PolicyLoader) {}

  run(ctx: RunContext): RunResult {
    const { program, elf, policy } = ctx.options;
    if (program !== undefined && elf !== undefined) throw new UsageError('give --program or --elf, not both');
    const path = elf ?? join(GUEST_BIN, program ?? 'sieve');
    if (!existsSync(path)) throw new UsageError(elf !== undefined ? `--elf ${elf}: no such file` : `--program ${program}: no such guest program in ${GUEST_BIN}`);
    const launcher = new SandboxLauncher(this.policies.load(policy));
    const common = { profile: ctx.profile, memory: 512 << 20 };
    const linux = execElf(path, [], { ...common, mode: 'linux', console: () => {}, report: () => {} });
    const sandbox = execElf(path, [], {
      ...common,
      mode: 'sandbox',
      launcher,
      console: (_fd, data) => ctx.out.write(data),
    });
    const lc = linux.stats.cycles as number;
    const sc = sandbox.stats.cycles as number;
    return {
      exitCode: sandbox.exitCode,
      figures: {
        'linux.cycles': lc,
        'sandbox.cycles': sc,
        'overhead %': (sc / lc - 1) * 100,
        'linux.exitStatus': linux.exitCode,
        'sandbox.exitStatus': sandbox.exitCode,
        'sandbox.vmExits': vmExitCount(sandbox),
        'linux.refsPerWalk': refsPerWalk(linux),
        'sandbox.refsPerWalk': refsPerWalk(sandbox),
        syscalls: sandbox.stats.syscalls as number,
      },
    };
  }
}

function refsPerWalk(r: ExecResult): number {
  const walks = r.stats.pageWalks as number;
  return walks === 0 ? 0 : (r.stats.walkReferences as number) / walks;
}
