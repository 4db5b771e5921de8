import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { ElfError } from '../../core/linux/elf/elf-file.js';
import { readElfBinary } from '../../core/linux/elf/read-elf-binary.js';
import { GUEST_BIN, ExecResult, System, vmExitCount } from '../../core/system/index.js';
import { PolicyLoader } from './policy-loader.js';
import { PtraceLauncher } from './ptrace-launcher.js';
import { SandboxLauncher } from './sandbox-launcher.js';

/**
 * `dunesim run sandbox/compare [--program NAME | --elf PATH] [--policy FILE]`: one static binary
 * three ways on the same machine model and profile — as a plain Linux process, as a Linux process
 * under a ptrace supervisor enforcing the policy (`--mode ptrace`), and in the Dune sandbox under
 * the same policy. The sandboxed run's output is shown; the figures set the costs side by side and
 * name the mechanisms that make the difference (ptrace stops and the supervisor's system calls;
 * VM exits, references per page walk).
 */
@injectable()
export class CompareApplication implements Application {
  readonly plugin = 'sandbox';
  readonly id = 'compare';
  readonly description = 'a static binary as a Linux process, under a ptrace supervisor and in the sandbox: cycles, overhead, mechanisms';
  readonly options = {
    program: 'a guest program of examples/guest/bin (default sieve)',
    elf: 'any static x86-64 binary instead',
    policy: 'sandbox policy file, for the ptrace supervisor and the sandbox (default: the null policy)',
  };

  constructor(
    @inject(System) private readonly system: System,
    @inject(PolicyLoader) private readonly policies: PolicyLoader,
  ) {}

  run(ctx: RunContext): RunResult {
    const { program, elf, policy } = ctx.options;
    if (program !== undefined && elf !== undefined) throw new UsageError('give --program or --elf, not both');
    const path = elf ?? join(GUEST_BIN, program ?? 'sieve');
    if (!existsSync(path)) throw new UsageError(elf !== undefined ? `--elf ${elf}: no such file` : `--program ${program}: no such guest program in ${GUEST_BIN}`);
    // A directory, a FIFO or a file that is not a static x86-64 ELF is refused before the three
    // runs, as exec refuses it (one line, status 2), not as a stack trace from the first run.
    try {
      readElfBinary(path);
    } catch (e) {
      if (e instanceof ElfError) throw new UsageError(`${elf !== undefined ? '--elf' : '--program'} ${elf ?? program ?? 'sieve'}: ${e.message}`);
      throw e;
    }
    const pol = this.policies.load(policy);
    const launcher = new SandboxLauncher(pol);
    const common = { profile: ctx.profile, memory: 512 << 20 };
    const linux = this.system.exec(path, [], { ...common, mode: 'linux', console: () => {}, report: () => {} });
    // The supervisor's reports would repeat the sandbox's (the same policy decides alike).
    const tracer = new PtraceLauncher(pol);
    const ptrace = this.system.exec(path, [], { ...common, mode: 'ptrace', launcher: tracer, console: () => {}, report: () => {} });
    const sandbox = this.system.exec(path, [], {
      ...common,
      mode: 'sandbox',
      launcher,
      console: (_fd, data) => ctx.out.write(data),
    });
    const lc = linux.stats.cycles as number;
    const sc = sandbox.stats.cycles as number;
    const pc = ptrace.stats.cycles as number;
    const sup = tracer.supervisor!.counts;
    return {
      exitCode: sandbox.exitCode,
      figures: {
        'linux.cycles': lc,
        'ptrace.cycles': pc,
        'sandbox.cycles': sc,
        'ptrace overhead %': (pc / lc - 1) * 100,
        'overhead %': (sc / lc - 1) * 100,
        'linux.exitStatus': linux.exitCode,
        'ptrace.exitStatus': ptrace.exitCode,
        'sandbox.exitStatus': sandbox.exitCode,
        'ptrace.intercepted': sup.intercepted,
        'ptrace.denied': sup.denied,
        'ptrace.stops': sup.stops,
        'ptrace.peeks': sup.peeks,
        'ptrace.supervisorSyscalls': sup.supervisorSyscalls,
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
