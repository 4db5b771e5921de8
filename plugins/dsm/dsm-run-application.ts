import { injectable } from 'inversify';
import { Application, RunContext, RunResult } from '../../core/framework/application.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { DSM_MANAGERS, DSM_MODES, DsmManager, DsmMode, runDsmCluster } from './dsm-cluster.js';
import { BENCH_ARGS, DsmProgram, round, traffic } from './dsm-programs.js';

/**
 * `dunesim run dsm/<program> [--nodes N] [--manager central|distributed] [--mode linux|dune]
 * [--args "A B"]`: one DSM program on N simulated nodes; prints its time, whether its result
 * equals the single-node one, and the coherence traffic. A node's failure report (a lost message,
 * a crashed node) is printed and the exit status is non-zero.
 */
@injectable()
export abstract class DsmRunApplication implements Application {
  readonly plugin = 'dsm';
  abstract readonly id: DsmProgram;
  readonly options = {
    nodes: 'number of nodes, 1 to 16 (default 2)',
    manager: `page ownership: ${DSM_MANAGERS.join(' or ')} (default central)`,
    mode: `fault path: ${DSM_MODES.join(' or ')} (default linux)`,
    args: 'the program\'s own arguments, space-separated (default the bench\'s)',
  };

  get description(): string {
    return `DSM program ${this.id} on simulated nodes (time, verification, coherence traffic)`;
  }

  run(ctx: RunContext): RunResult {
    const { nodes = '2', manager = 'central', mode = 'linux', args } = ctx.options;
    if (!/^[0-9]+$/.test(nodes) || Number(nodes) < 1 || Number(nodes) > 16) throw new UsageError(`--nodes ${nodes}: a whole number from 1 to 16`);
    if (!(DSM_MANAGERS as readonly string[]).includes(manager)) throw new UsageError(`--manager ${manager}: ${DSM_MANAGERS.join(' or ')}`);
    if (!(DSM_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode ${mode}: ${DSM_MODES.join(' or ')}`);
    const argv = args === undefined ? BENCH_ARGS[this.id] : args.trim().split(/\s+/);
    if (argv.some((a) => !/^[0-9]+$/.test(a))) throw new UsageError(`--args ${args}: whole numbers`);
    const r = runDsmCluster({ profile: ctx.profile, program: this.id, args: argv, nodes: Number(nodes), mode: mode as DsmMode, manager: manager as DsmManager });
    const failed = r.nodes.filter((n) => n.exitStatus !== 0);
    for (const [i, n] of r.nodes.entries()) if (n.stderr !== '') ctx.out.write(`node ${i}: ${n.stderr}`);
    if (failed.length > 0 || !r.verified) {
      ctx.out.write(`${this.id} on ${nodes} nodes failed (${r.end.reason})\n`);
      return { exitCode: 1, figures: {} };
    }
    const ms = (r.cycles / r.clockHz) * 1e3;
    const t = traffic(r);
    ctx.out.write(`${this.id} on ${nodes} nodes (${mode}, ${manager} manager): ${ms.toFixed(3)} ms, result ${r.result} verified against one node\n`);
    ctx.out.write(`faults ${t.readFaults} read + ${t.writeFaults} write, ${t.coherenceMsgs} coherence messages (${t.msgsPerFault} per fault), ${t.coherenceBytes} bytes\n`);
    return { exitCode: 0, figures: { ms: round(ms, 3), cycles: r.cycles, ...t } };
  }
}

/** `dunesim run dsm/jacobi`. */
@injectable()
export class JacobiApplication extends DsmRunApplication {
  readonly id = 'jacobi';
}

/** `dunesim run dsm/matmul`. */
@injectable()
export class MatmulApplication extends DsmRunApplication {
  readonly id = 'matmul';
}

/** `dunesim run dsm/mergesort`. */
@injectable()
export class MergesortApplication extends DsmRunApplication {
  readonly id = 'mergesort';
}

/** `dunesim run dsm/falseshare`. */
@injectable()
export class FalseshareApplication extends DsmRunApplication {
  readonly id = 'falseshare';
}
