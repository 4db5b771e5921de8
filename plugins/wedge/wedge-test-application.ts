import { inject, injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { System, vmExitCount } from '../../core/system/index.js';
import { STHREAD_IMPLS, WEDGE_ATTACKS, runWedgeProgram } from './wedge-programs.js';

/**
 * `dunesim run wedge/test [--impl dune|fork|pthread] [--attack NAME]`: Wedge's test program
 * (plugins/wedge/programs/wedgetest.c) under one implementation of sthreads. Without --attack it
 * runs the functional tests; with one, an sthread breaks its policy that way and the master
 * carries on. The library's ring-0 reports go to stderr, the program's lines to stdout.
 */
@injectable()
export class WedgeTestApplication implements Application {
  readonly plugin = 'wedge';
  readonly id = 'test';
  readonly description = "Wedge's sthread test program: isolation of globals, stack recycling, tags, fd and system-call grants, a pipe, a callgate; or one policy violation";
  readonly options = {
    impl: 'dune (default: guest ring 3 under per-sthread page tables), fork (processes) or pthread (no isolation)',
    attack: `one violation instead of the tests: ${WEDGE_ATTACKS.join(', ')}`,
  };

  constructor(@inject(System) private readonly system: System) {}

  run(ctx: RunContext): RunResult {
    const impl = ctx.options.impl ?? 'dune';
    if (!(STHREAD_IMPLS as readonly string[]).includes(impl)) throw new UsageError(`--impl must be one of ${STHREAD_IMPLS.join(', ')}, got '${impl}'`);
    const attack = ctx.options.attack;
    if (attack !== undefined && !(WEDGE_ATTACKS as readonly string[]).includes(attack)) {
      throw new UsageError(`--attack must be one of ${WEDGE_ATTACKS.join(', ')}, got '${attack}'`);
    }
    const r = runWedgeProgram(this.system, ctx.profile, 'wedgetest', ['-v', '--impl', impl, ...(attack ? [attack] : [])]);
    ctx.out.write(r.out);
    process.stderr.write(r.err);
    const s = r.result.stats as { cycles: number; instructions: number; syscalls: number };
    return { exitCode: r.exitCode, figures: { cycles: s.cycles, instructions: s.instructions, syscalls: s.syscalls, vmExits: vmExitCount(r.result) } };
  }
}
